"""A project's label maps out to NIfTI and back in (``vellum export nifti`` /
``vellum import nifti``).

Each label map is written on its volume's exact grid (``write_labelmap_nifti``: LPS -> RAS in
the affine, voxel data unchanged) with its segment table beside it (JSON and ITK-SNAP), named
``<volume title>_<label map name>.nii.gz`` (letters, digits, ``-`` and ``_`` only; the volume
title is the series description, never a patient field). ``--with-volumes`` also writes each
labelled volume itself in real units. Import reads such a file back onto a volume of the
project, refused in one sentence when its grid does not fit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.core.commands import Batch, Command, ModifyLabelMap, Put
from app.core.document import Document
from app.core.errors import VellumError
from app.core.geometry import VolumeGeometry
from app.core.labelmap import LabelMapInfo, Mode, Region
from app.core.media import MediaItem, MediaKind

Progress = Callable[..., None]


def safe_name(text: str, fallback: str) -> str:
    """A file-name part made of letters, digits, '-' and '_'."""
    out = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return out[:60] or fallback


def volume_geometry(doc: Document, item: MediaItem) -> VolumeGeometry:
    """The item's grid: the stored one, or read again from its source (projects made
    before volumes had typed geometry)."""
    if item.volume is not None:
        return item.volume
    from app.io.volume import scan_series

    for s in scan_series(doc.media_path(item)):
        if s.is_image and s.geometry is not None and (
                not item.source or not item.source.series_uid or s.uid == item.source.series_uid):
            return s.geometry
    raise VellumError(f"The geometry of {item.name} cannot be read from "
                      f"{doc.media_path(item)}.", doc.media_path(item))


def export_nifti(doc: Document, out_dir: str | Path, with_volumes: bool = False,
                 progress: Progress | None = None) -> list[Path]:
    """Write every label map of the project under ``out_dir``; returns the files written."""
    from app.io.atomic import protected_files, refuse_overwrite
    from app.io.volume import load_source, write_labelmap_nifti, write_nifti

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise VellumError(f"{out} is a file; give a folder to write the label maps into.", out)
    pairs = [(m, info) for m in doc.media() if m.kind is MediaKind.VOLUME
             for info in doc.labelmaps(m.id)]
    if not pairs:
        raise VellumError(f"{doc.path} has no label maps to export.", doc.path)
    protected = protected_files(doc)
    class_names = {c.id: c.name for c in doc.schema.classes}
    written: list[Path] = []
    used: set[str] = set()
    for n, (item, info) in enumerate(pairs):
        if progress:
            progress(n, len(pairs), info.name)
        geometry = volume_geometry(doc, item)
        stem = f"{safe_name(item.name, 'volume')}_{safe_name(info.name, 'labels')}"
        base, k = stem, 2
        while stem in used:
            stem, k = f"{base}-{k}", k + 1
        used.add(stem)
        target = out / f"{stem}.nii.gz"
        refuse_overwrite(target, protected)
        written += write_labelmap_nifti(target, doc.labelmap_volume(info.id), geometry,
                                        info.segments, class_names=class_names,
                                        labelmap_id=info.id, name=info.name)
        if with_volumes:
            vol_path = out / f"{safe_name(item.name, 'volume')}.nii.gz"
            if vol_path not in written:
                refuse_overwrite(vol_path, protected)
                volume = load_source(doc.media_path(item), item.source)
                write_nifti(vol_path, volume.array, volume.geometry)
                written.append(vol_path)
    if progress:
        progress(len(pairs), len(pairs), "")
    return written


def import_labelmap(doc: Document, path: str | Path, item: MediaItem,
                    name: str | None = None) -> Command:
    """The one undoable command that adds label map ``path`` (with its segment table) to
    volume ``item``; refused in one sentence when its grid is not the volume's."""
    from app.io.volume import read_labelmap_nifti

    geometry = volume_geometry(doc, item)
    found = read_labelmap_nifti(path, geometry)
    by_name = {c.name.lower(): c.id for c in doc.schema.classes}
    from dataclasses import replace

    segments = tuple(replace(s, class_id=s.class_id if doc.schema.class_by_id(s.class_id)
                             else by_name.get(s.name.lower())) for s in found.segments)
    k, j, i = geometry.shape
    info = LabelMapInfo(item.id, k, j, i, "uint8" if max(
        (s.value for s in segments), default=0) <= 255 else "uint16",
        name=name or found.name or Path(path).name.split(".")[0], segments=segments)
    steps: list[Command] = [Put((info,), label="Import label map")]
    labels = found.labels
    for seg in segments:
        hit = labels == seg.value
        box = Region.around(hit)
        if box is None:
            continue
        steps.append(ModifyLabelMap(info.id, box.start, np.ascontiguousarray(hit[box.slices]),
                                    Mode.ADD, seg.value))
    return Batch(tuple(steps), label=f"Import {Path(path).name}")
