"""A project's label maps out to NIfTI and back in (``vellum export nifti`` /
``vellum import nifti``).

Each label map is written on its volume's exact grid (``write_labelmap_nifti``: LPS -> RAS in
the affine, voxel data unchanged) with its segment table beside it (JSON and ITK-SNAP), named
``<volume title>_<label map name>.nii.gz`` (letters, digits, ``-`` and ``_`` only; the volume
title is modality, series number and a hash of the series UID, never the series description
or a patient field: see :func:`export_title`). ``--with-volumes`` also writes each
labelled volume itself in real units. Import reads such a file back onto a volume of the
project, refused in one sentence when its grid does not fit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

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


def export_title(item: MediaItem) -> str:
    """The volume's part of an exported file name: its title, except where that is the DICOM
    series description (projects made before titles were neutral): then modality and a hash
    of the series UID, as new projects title it. Sites type patient names into descriptions."""
    from app.io.volume.model import series_title

    src = item.source
    if src is not None and src.format == "dicom" and (
            not item.title or item.title.strip() == src.description.strip()):
        return safe_name(series_title(src.modality, None, src.series_uid), "volume")
    return safe_name(item.name, "volume")


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
                 progress: Progress | None = None, *, overwrite: bool = False) -> list[Path]:
    """Write every label map of the project under ``out_dir``, all or none (never onto the
    project, its media or a file that exists unless ``overwrite``, see
    :mod:`app.io.outputs`); returns the files written."""
    from app.io.outputs import StagedOutput, prepare_folder, prepare_outputs
    from app.io.volume import load_source, write_labelmap_nifti, write_nifti
    from app.io.volume.labelmap_nifti import sidecar_paths

    out = prepare_folder(out_dir, doc)
    pairs = [(m, info) for m in doc.media() if m.kind is MediaKind.VOLUME
             for info in doc.labelmaps(m.id)]
    if not pairs:
        raise VellumError(f"{doc.path} has no label maps to export.", doc.path)
    used: set[str] = set()

    def unique(stem: str) -> str:
        base, k = stem, 2
        while stem.lower() in used:  # one name per file, on case-blind disks too
            stem, k = f"{base}-{k}", k + 1
        used.add(stem.lower())
        return stem

    plan: list[tuple[MediaItem, LabelMapInfo, Path]] = []
    for item, info in pairs:
        stem = unique(f"{export_title(item)}_{safe_name(info.name, 'labels')}")
        plan.append((item, info, out / f"{stem}.nii.gz"))
    volumes: dict[str, Path] = {}
    for item, _ in pairs if with_volumes else ():
        if item.id not in volumes:
            volumes[item.id] = out / f"{unique(export_title(item))}.nii.gz"
    prepare_outputs([p for *_, t in plan for p in (t, *sidecar_paths(t))]
                    + list(volumes.values()), overwrite=overwrite, doc=doc)
    class_names = {c.id: c.name for c in doc.schema.classes}
    written: list[Path] = []
    with StagedOutput(out) as stage:  # all or none
        for n, (item, info, target) in enumerate(plan):
            if progress:
                progress(n, len(plan), info.name)
            geometry = volume_geometry(doc, item)
            write_labelmap_nifti(stage.path(target), doc.labelmap_volume(info.id), geometry,
                                 info.segments, class_names=class_names,
                                 labelmap_id=info.id, name=info.name)
            written += [target, *sidecar_paths(target)]
            vol_path = volumes.pop(item.id, None)
            if vol_path is not None:
                volume = load_source(doc.media_path(item), item.source, expected=item.volume)
                write_nifti(stage.path(vol_path), volume.array, volume.geometry)
                written.append(vol_path)
    if progress:
        progress(len(plan), len(plan), "")
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
    for seg in segments:  # each segment's box found slab by slab: no full-size mask
        box = Region.around(labels, seg.value)
        if box is None:
            continue
        steps.append(ModifyLabelMap(info.id, box.start, labels[box.slices] == seg.value,
                                    Mode.ADD, seg.value))
    return Batch(tuple(steps), label=f"Import {Path(path).name}")
