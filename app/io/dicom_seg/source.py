"""Which source SOP instance each slice k of a project's DICOM volume was read from.

The project keeps a volume's folder (or file) and its series (:class:`~app.core.media.
VolumeSource`: SeriesInstanceUID, with ``#2``/``#part2`` for a second stack or part). The
series is scanned again as Vellum laid it out (:func:`~app.io.volume.scan_series`), and every
slice is checked before anything is referenced: the scanned grid must be the item's grid,
slice k's file must hold one image whose ImagePositionPatient is the world position of voxel
(0, 0, k) (0.01 mm) and whose ImageOrientationPatient is the grid's i and j axes. A volume
whose slices cannot be mapped 1:1 onto source instances (a tilted stack shifted in-plane onto
a wider grid, a legacy acquired grid, multi-frame files) is refused in one sentence: a SEG
with wrong geometry is worse than none.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import VellumError
from app.core.geometry import VolumeGeometry
from app.core.media import MediaItem

POSITION_MM = 0.01  # a slice's ImagePositionPatient within this of voxel (0, 0, k)
ORIENTATION_TOL = 1e-4  # direction cosines within this of the grid's i and j axes


def base_uid(uid: str) -> str:
    """The SeriesInstanceUID of a project series id (``UID``, ``UID#2``, ``UID#part2``)."""
    return uid.split("#", 1)[0]


@dataclass
class SourceSlices:
    """The source instances of a volume, by slice k (``None``: a plane inserted for a missing
    slice). ``datasets`` are headers (no pixel data) read with pydicom."""

    item: MediaItem
    path: Path
    geometry: VolumeGeometry
    series_uid: str
    datasets: list[Any]
    # one enhanced multi-frame source file: its header, and the 0-based frame of each
    # slice k (None: a plane with no frame); then ``datasets`` holds that header for every
    # slice that has a frame
    multiframe: tuple[Any, list[int | None]] | None = None

    @property
    def uids(self) -> list[str | None]:
        return [str(ds.SOPInstanceUID) if ds is not None else None for ds in self.datasets]

    @property
    def frame_of_reference(self) -> str:
        first = next(ds for ds in self.datasets if ds is not None)
        return str(first.get("FrameOfReferenceUID", "") or "")


def is_dicom_volume(item: MediaItem) -> bool:
    return item.source is not None and item.source.format == "dicom" and \
        bool(item.source.series_uid)


def source_slices(doc: Any, item: MediaItem) -> SourceSlices:
    """Read the source instances of ``item`` (see the module doc); one sentence naming the
    media path when they cannot be mapped 1:1 onto its slices."""
    from app.io.volume import scan_series
    from app.io.volume.project import volume_geometry

    path = doc.media_path(item)
    if not is_dicom_volume(item):
        raise VellumError(f"{item.name} ({path}) was not read from a DICOM series, so it has "
                          "no source instances a DICOM SEG could reference.", path)
    assert item.source is not None
    geometry = volume_geometry(doc, item)
    series = scan_series(path)
    info = next((s for s in series if s.is_image and s.uid == item.source.series_uid), None)
    if info is None or info.geometry is None:
        raise VellumError(f"{path} no longer holds series {item.source.series_uid} of "
                          f"{item.name}, so its source instances cannot be referenced.", path)
    if info.geometry.shape != geometry.shape or not np.allclose(
            info.geometry.affine_lps(), geometry.affine_lps(), atol=1e-3):
        raise VellumError(f"{item.name} ({path}) is on a grid its series no longer gives (an "
                          "earlier release's acquired grid), so its slices cannot be mapped "
                          "1:1 onto source instances; add the series again.", path)
    if info.shifts:
        raise VellumError(f"{item.name} ({path}) is a tilted stack whose slices were shifted "
                          "in-plane onto a wider grid, so its slices cannot be mapped 1:1 onto "
                          "source instances; a DICOM SEG of it is refused rather than written "
                          "with wrong geometry.", path)
    index = item.source.volume_index
    plan = info.plan[index] if index < len(info.plan) else []
    if len(plan) != geometry.shape[0]:
        raise VellumError(f"{item.name} ({path}) has {geometry.shape[0]} slices but its series "
                          f"lays out {len(plan)}, so they cannot be mapped onto source "
                          "instances.", path)
    uid = base_uid(item.source.series_uid)
    refs = [r for r in plan if r is not None]
    if refs and any(r.file_frames != 1 for r in refs):
        return _multiframe(item, path, geometry, uid, plan)
    datasets: list[Any] = []
    for k, ref in enumerate(plan):
        if ref is None:
            datasets.append(None)
            continue
        if ref.stacked:
            raise VellumError(f"{ref.path} holds frames of {item.name} without positions of "
                              "their own; a DICOM SEG is not written for it.", ref.path)
        datasets.append(_checked_header(ref.path, k, uid, geometry))
    if not any(ds is not None for ds in datasets):
        raise VellumError(f"{item.name} ({path}) has no source instance to reference.", path)
    return SourceSlices(item, path, geometry, uid, datasets)


def _checked_header(p: Path, k: int | None, series_uid: str, geometry: VolumeGeometry) -> Any:
    """``p``'s header, checked to be slice ``k`` of the grid (``None``: a multi-frame file,
    whose frames are checked by the caller; then only its series and size)."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(p, stop_before_pixels=True)
        sop = str(ds.SOPInstanceUID)
        series = str(ds.SeriesInstanceUID)
        rows, cols = int(ds.Rows), int(ds.Columns)
        str(ds.FrameOfReferenceUID)
        if k is not None:
            position = np.array([float(v) for v in ds.ImagePositionPatient])
            orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    except Exception as exc:  # noqa: BLE001 - any damage is one sentence
        what = f"slice k={k}" if k is not None else "a file"
        raise VellumError(f"{p} cannot be read again as {what} of its series "
                          f"({' '.join(str(exc).split()) or type(exc).__name__}).", p) from None
    _, j, i = geometry.shape
    if k is None:
        if not sop or series != series_uid or (rows, cols) != (j, i):
            raise VellumError(f"{p} is no longer the file its volume was read from (series "
                              "or size differ).", p)
        return ds
    want = geometry.voxel_to_world((0, 0, k))
    d = np.asarray(geometry.direction)
    if (not sop or series != series_uid or (rows, cols) != (j, i) or position.shape != (3,)
            or orientation.shape != (6,)
            or float(np.max(np.abs(position - want))) > POSITION_MM
            or float(np.max(np.abs(orientation[:3] - d[:, 0]))) > ORIENTATION_TOL
            or float(np.max(np.abs(orientation[3:] - d[:, 1]))) > ORIENTATION_TOL):
        raise VellumError(f"{p} is not where slice k={k} of its volume lies (position, "
                          "orientation, size or series differ), so the slices cannot be "
                          "mapped 1:1 onto source instances.", p)
    return ds


def _multiframe(item: MediaItem, path: Path, geometry: VolumeGeometry, uid: str,
                plan: list[Any]) -> SourceSlices:
    """The slices of a volume read from one enhanced multi-frame file: each slice k's frame,
    its position (per-frame functional groups, as the volume was planned) checked again."""
    files = {r.path for r in plan if r is not None}
    first = next(r for r in plan if r is not None)
    if len(files) != 1 or any(r.stacked for r in plan if r is not None):
        raise VellumError(f"{first.path} and the other files of {item.name} hold several "
                          "frames each, or frames without positions of their own; a DICOM "
                          "SEG is written only for single-frame files or one enhanced "
                          "multi-frame file.", first.path)
    ds = _checked_header(first.path, None, uid, geometry)
    d = np.asarray(geometry.direction)
    index: list[int | None] = []
    for k, ref in enumerate(plan):
        if ref is None:
            index.append(None)
            continue
        if (ref.position is None or ref.orientation is None or float(np.max(np.abs(
                np.asarray(ref.position) - geometry.voxel_to_world((0, 0, k))))) > POSITION_MM
                or float(np.max(np.abs(np.asarray(ref.orientation[:3]) - d[:, 0])))
                > ORIENTATION_TOL
                or float(np.max(np.abs(np.asarray(ref.orientation[3:]) - d[:, 1])))
                > ORIENTATION_TOL):
            raise VellumError(f"Frame {ref.index + 1} of {ref.path} is not where slice k={k} "
                              "of its volume lies, so the slices cannot be mapped 1:1 onto "
                              "source frames.", ref.path)
        index.append(ref.index)
    return SourceSlices(item, path, geometry, uid,
                        [ds if f is not None else None for f in index], (ds, index))
