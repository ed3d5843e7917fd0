"""Linked series (Qt-free): two volumes of one frame of reference shown together.

Everything goes through patient LPS world coordinates (mm) and the one formula
:meth:`~app.core.geometry.VolumeGeometry.voxel_to_world` (and its inverse), so two grids of
any spacing and direction (1 mm and 5 mm, one oblique) agree on where a point is:

- :func:`frame_link` decides whether two volumes may be linked: the same DICOM
  FrameOfReferenceUID when both have one (:func:`frame_of_reference_uid` reads it from the
  series' first file), else world boxes that overlap - then the link is only *assumed*
  (NIfTI files carry no frame of reference) and says so.
- :func:`nearest_voxel` / :func:`nearest_slices`: the voxel (and the slice along each array
  axis) of a world point, rounded as ITK's ``TransformPhysicalPointToIndex`` rounds (half up).
- :func:`resample_plane`: the values of volume B on the picture pixels of one slice of
  volume A - nearest for label maps, linear for intensities - as SimpleITK's
  ``ResampleImageFilter`` gives them with the exact geometries (a point outside B's buffer,
  continuous index outside ``[-0.5, n - 0.5)``, gets ``fill``). B is read through a
  ``read(start, shape)`` callable over the bounding box of the voxels needed only, so a label
  map stored in bricks is never read whole.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.geometry import VolumeGeometry
from app.core.places import PICTURE_AXES

Reader = Callable[[tuple[int, int, int], tuple[int, int, int]], np.ndarray]
MAX_HEADERS = 64  # files a frame-of-reference look-up may open before it gives up


@dataclass(frozen=True)
class FrameLink:
    """Whether two volumes share a frame of reference: ``how`` is "dicom" (equal
    FrameOfReferenceUIDs), "assumed" (no UID on one side; their world boxes overlap) or ""
    (not linkable; ``sentence`` says why)."""

    how: str
    sentence: str

    @property
    def linked(self) -> bool:
        return bool(self.how)


def array_reader(array: np.ndarray) -> Reader:
    """A :data:`Reader` over an in-memory ``[k, j, i]`` array (a view, no copy)."""
    def read(start: tuple[int, int, int], shape: tuple[int, int, int]) -> np.ndarray:
        return array[tuple(slice(s, s + n) for s, n in zip(start, shape))]
    return read


# ------------------------------------------------------------------ frame of reference
def frame_of_reference_uid(path: str | Path, series_uid: str = "") -> str:
    """The DICOM FrameOfReferenceUID of series ``series_uid`` (``UID``, ``UID#2`` or
    ``UID#part2``) under ``path`` (a file or a folder), read from the first of its files
    whose header names that series; "" for NIfTI, for files without one, or when none of the
    first :data:`MAX_HEADERS` files is of the series."""
    from app.io.volume.nifti import is_nifti

    p = Path(path)
    if p.is_file() and is_nifti(p):
        return ""
    try:
        import pydicom
    except ImportError:  # pragma: no cover - pydicom is a dependency
        return ""
    if p.is_dir():
        from app.io.volume.dicom_headers import walk

        files = walk(p)
    else:
        files = [p]
    want = series_uid.split("#", 1)[0]
    for f in files[:MAX_HEADERS]:
        if is_nifti(f):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(f, stop_before_pixels=True, force=True,
                                     specific_tags=["SeriesInstanceUID", "FrameOfReferenceUID"])
        except Exception:  # noqa: BLE001 - an unreadable file is simply not the one
            continue
        if want and str(ds.get("SeriesInstanceUID", "")) != want:
            continue
        return str(ds.get("FrameOfReferenceUID", "") or "")
    return ""


def world_box(geometry: VolumeGeometry) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) LPS corners (mm) of the axis-aligned box around the volume's voxels (their
    outer faces: continuous index -0.5 .. n - 0.5 on each axis)."""
    k, j, i = geometry.shape
    corners = np.array([(a, b, c) for a in (-0.5, i - 0.5) for b in (-0.5, j - 0.5)
                        for c in (-0.5, k - 0.5)])
    w = geometry.voxel_to_world(corners)
    return w.min(axis=0), w.max(axis=0)


def overlap_mm(a: VolumeGeometry, b: VolumeGeometry) -> np.ndarray:
    """Length (mm) of the overlap of the two world boxes along x, y, z (0 where apart)."""
    lo_a, hi_a = world_box(a)
    lo_b, hi_b = world_box(b)
    return np.maximum(0.0, np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b))


def frame_link(a: VolumeGeometry, b: VolumeGeometry, uid_a: str = "", uid_b: str = "",
               name_b: str = "the other series") -> FrameLink:
    """Whether volume B (called ``name_b`` in sentences) may be linked to volume A (see
    :class:`FrameLink`)."""
    if uid_a and uid_b:
        if uid_a == uid_b:
            return FrameLink("dicom", f"{name_b} shares this series' DICOM frame of reference.")
        return FrameLink("", f"{name_b} is in another DICOM frame of reference (another "
                             "study or position); it is not linked.")
    if np.all(overlap_mm(a, b) > 0):
        return FrameLink("assumed", f"{name_b} overlaps this series in patient space; one "
                                    "frame of reference is assumed (no DICOM frame of "
                                    "reference on both).")
    return FrameLink("", f"{name_b} does not overlap this series in patient space; it is "
                         "not linked.")


# ------------------------------------------------------------------ points
def nearest_voxel(geometry: VolumeGeometry, world: Any) -> tuple[int, int, int]:
    """Voxel index ``(i, j, k)`` nearest LPS point ``world`` (mm), rounded half up as ITK's
    ``TransformPhysicalPointToIndex``; not clipped (may lie outside the volume)."""
    c = geometry.world_to_voxel(np.asarray(world, float))
    i, j, k = (int(v) for v in np.floor(c + 0.5))
    return (i, j, k)


def inside(geometry: VolumeGeometry, world: Any) -> bool:
    """True when LPS ``world`` lies within the volume's voxels (continuous index in
    ``[-0.5, n - 0.5)`` on each axis)."""
    c = geometry.world_to_voxel(np.asarray(world, float))
    n = np.array([geometry.axis_size(a) for a in "ijk"], float)
    return bool(np.all(c >= -0.5) and np.all(c < n - 0.5))


def nearest_slices(geometry: VolumeGeometry, world: Any) -> dict[str, int]:
    """The slice along each array axis (``"k"``, ``"j"``, ``"i"``) nearest LPS ``world``,
    clipped to the volume (what a linked pane shows)."""
    ijk = nearest_voxel(geometry, world)
    return {a: int(min(max(ijk["ijk".index(a)], 0), geometry.axis_size(a) - 1)) for a in "ijk"}


def plane_points(geometry: VolumeGeometry, axis: str, index: int) -> np.ndarray:
    """LPS position (mm) of the centre of every picture pixel of slice ``index`` along
    ``axis`` (rows x cols x 3, the picture's own order: k ``[j, i]``, j ``[k, i]``,
    i ``[k, j]``)."""
    rows, cols = PICTURE_AXES[axis]
    nr, nc = geometry.axis_size(rows), geometry.axis_size(cols)
    r, c = np.meshgrid(np.arange(nr, dtype=float), np.arange(nc, dtype=float), indexing="ij")
    ijk = np.empty((nr, nc, 3))
    ijk[..., "ijk".index(axis)] = float(index)
    ijk[..., "ijk".index(rows)] = r
    ijk[..., "ijk".index(cols)] = c
    return geometry.voxel_to_world(ijk)


# ------------------------------------------------------------------ resampling
def sample(read: Reader, geometry: VolumeGeometry, world: np.ndarray, order: int,
           fill: float = 0.0, dtype: Any = None) -> np.ndarray:
    """Values of the volume (``geometry``, read through ``read``) at LPS points ``world``
    (``(..., 3)`` mm): ``order`` 0 = nearest (half up, as ITK), 1 = linear (neighbours
    clamped at the border, as ITK's LinearInterpolateImageFunction); ``fill`` outside the
    buffer. ``dtype``: the result's (default: the volume's for nearest, float32 for linear)."""
    pts = np.asarray(world, float)
    c = geometry.world_to_voxel(pts.reshape(-1, 3))  # (N, 3) as i, j, k
    return _at_index(read, geometry, c, order, fill, dtype).reshape(pts.shape[:-1])


def _at_index(read: Reader, geometry: VolumeGeometry, c: np.ndarray, order: int,
              fill: float, dtype: Any) -> np.ndarray:
    """:func:`sample` at continuous indices ``c`` ((N, 3) as i, j, k) of the volume."""
    n = np.array([geometry.axis_size(a) for a in "ijk"])
    ok = np.all((c >= -0.5) & (c < n - 0.5), axis=1)
    out_dtype = dtype
    if not ok.any():
        probe = read((0, 0, 0), (1, 1, 1))
        out_dtype = out_dtype or (probe.dtype if order == 0 else np.float32)
        return np.full(len(c), fill, dtype=out_dtype)
    ci = c[ok]
    if order == 0:
        idx = np.floor(ci + 0.5).astype(np.int64)
        np.clip(idx, 0, n - 1, out=idx)
        lo, hi = idx.min(axis=0), idx.max(axis=0)
        box = read((int(lo[2]), int(lo[1]), int(lo[0])),
                   (int(hi[2] - lo[2] + 1), int(hi[1] - lo[1] + 1), int(hi[0] - lo[0] + 1)))
        idx -= lo
        values = box[idx[:, 2], idx[:, 1], idx[:, 0]]
        out_dtype = out_dtype or box.dtype
    else:
        base = np.floor(ci)
        frac = ci - base
        base = base.astype(np.int64)
        i0 = np.clip(base, 0, n - 1)
        i1 = np.clip(base + 1, 0, n - 1)
        lo, hi = i0.min(axis=0), i1.max(axis=0)
        box = read((int(lo[2]), int(lo[1]), int(lo[0])),
                   (int(hi[2] - lo[2] + 1), int(hi[1] - lo[1] + 1), int(hi[0] - lo[0] + 1)))
        a0, a1 = i0 - lo, i1 - lo
        values = np.zeros(len(ci), np.float64)
        for di in (0, 1):
            wi = frac[:, 0] if di else 1 - frac[:, 0]
            ii = a1[:, 0] if di else a0[:, 0]
            for dj in (0, 1):
                wij = wi * (frac[:, 1] if dj else 1 - frac[:, 1])
                jj = a1[:, 1] if dj else a0[:, 1]
                for dk in (0, 1):
                    kk = a1[:, 2] if dk else a0[:, 2]
                    values += wij * (frac[:, 2] if dk else 1 - frac[:, 2]) * box[kk, jj, ii]
        out_dtype = out_dtype or np.float32
    out = np.full(len(c), fill, dtype=out_dtype)
    out[ok] = values
    return out


def resample_plane(read: Reader, source: VolumeGeometry, target: VolumeGeometry, axis: str,
                   index: int, order: int, fill: float = 0.0, dtype: Any = None) -> np.ndarray:
    """Volume ``source`` (read through ``read``) on the picture of slice ``index`` along
    ``axis`` of volume ``target``: one value per picture pixel (rows x cols, the picture's
    order), sampled at the pixel centre's world position (see :func:`sample`; order 0 for
    label maps, 1 for intensities). The same points as ``plane_points`` gives, mapped in one
    affine step: source index = inverse(source affine) @ target affine @ target index."""
    rows, cols = PICTURE_AXES[axis]
    nr, nc = target.axis_size(rows), target.axis_size(cols)
    m = np.linalg.inv(source.affine_lps()) @ target.affine_lps()  # target ijk -> source ijk
    col = {a: m[:3, "ijk".index(a)] for a in "ijk"}
    start = m[:3, 3] + float(index) * col[axis]
    c = (start[None, None, :] + np.arange(nr, dtype=float)[:, None, None] * col[rows]
         + np.arange(nc, dtype=float)[None, :, None] * col[cols]).reshape(-1, 3)
    return _at_index(read, source, c, order, fill, dtype).reshape(nr, nc)
