"""The voxel grid of one stack of DICOM images: slice order, spacing, origin, direction.

Slices are sorted by their position along the slice normal (row x column direction of
ImageOrientationPatient), never by file name or InstanceNumber. The grid keeps every slice at
its true position; nothing is resampled:

- **Missing slices** (a gap that is a whole number of steps): empty planes are inserted so
  the slices after the gap keep their positions (SimpleITK spreads the gap over the whole
  stack; dcm2niix closes it), with a warning naming the files on each side.
- **Uneven spacing** that no regular grid fits: the regular spacing from first to last slice
  is used (as SimpleITK does) and the warning says how far (mm) slices lie from it.
- **Gantry tilt** (slice positions step along the table, not along the normal): the k axis
  is the step between slice origins, so the direction matrix is not orthogonal. Every voxel
  keeps the world position DICOM gives it. SimpleITK instead uses the normal with the
  distance between origins (misplacing slice k by k*step*sin(tilt)); dcm2niix writes an
  approximate or untilted affine plus a resampled ``_Tilt`` copy. Exported NIfTI keeps the
  exact sheared affine in the sform (nibabel reads it); the qform holds the nearest rigid one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from app.core.geometry import VolumeGeometry
from app.io.volume.model import FrameRef

SAME_POSITION_MM = 0.01  # images closer than this along the normal share a slice position
UNEVEN_MM = 0.01  # a slice further than this from the regular grid is worth a warning
TILT_MM = 0.01  # in-plane drift of the last slice beyond this means a tilted stack
GAP_FRACTION = 0.1  # a gap within 10 % of n whole steps is n-1 missing slices


def cap(text: str) -> str:
    """``text`` with its first letter in upper case (sentences that open with a label)."""
    return text[:1].upper() + text[1:]


def _unit(v: Sequence[float]) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    n = np.linalg.norm(a)
    if n == 0:
        raise ValueError("a zero-length orientation vector")
    return a / n


def plan_stack(frames: list[FrameRef], label: str
               ) -> tuple[VolumeGeometry, list[list[FrameRef | None]], list[str]]:
    """Geometry, the frame of each slice of each volume (``plan[t][k]``; None for an
    inserted plane) and warnings for one stack (same orientation, size and pixel spacing).
    ``label`` names the series in sentences."""
    warnings: list[str] = []
    first = frames[0]
    if first.pixel_spacing is None:
        warnings.append(f"{cap(label)} has no PixelSpacing: 1 mm pixels are assumed.")
        sj, si = 1.0, 1.0
    else:
        sj, si = first.pixel_spacing
    if any(f.stacked for f in frames):
        warnings.append(f"{first.path} has no per-frame positions: its frames are stacked "
                        f"along the slice normal {first.slice_step or 1.0:g} mm apart.")
    if not all(f.position is not None and f.orientation is not None for f in frames):
        warnings.append(f"{cap(label)} has no ImagePositionPatient/ImageOrientationPatient: its "
                        "voxels are laid out on an identity grid at the origin, not at "
                        "patient positions.")
        ordered = sorted(frames, key=lambda f: (f.order, str(f.path), f.index))
        geometry = VolumeGeometry((len(ordered), first.rows, first.columns),
                                  (si, sj, first.slice_step or 1.0))
        return geometry, [list(ordered)], warnings

    assert first.orientation is not None
    row, col = _unit(first.orientation[:3]), _unit(first.orientation[3:])
    normal = _unit(np.cross(row, col))
    depth = [float(np.dot(f.position, normal)) for f in frames]  # type: ignore[arg-type]
    order = sorted(range(len(frames)), key=lambda n: (depth[n], frames[n].order))
    clusters: list[list[int]] = []
    for n in order:
        if clusters and depth[n] - depth[clusters[-1][0]] <= SAME_POSITION_MM:
            clusters[-1].append(n)
        else:
            clusters.append([n])
    for c in clusters:
        c.sort(key=lambda n: (frames[n].order, str(frames[n].path), frames[n].index))
    counts = {len(c) for c in clusters}
    volumes = counts.pop() if len(counts) == 1 else 1
    if volumes == 1 and any(len(c) > 1 for c in clusters):
        dup = next(c for c in clusters if len(c) > 1)
        shared = sum(1 for c in clusters if len(c) > 1)
        warnings.append(f"In {label}, {shared} slice position(s) hold more than one image "
                        f"(e.g. {frames[dup[0]].path.name} and {frames[dup[1]].path.name}); "
                        "the first by acquisition order is used.")
    reps = [frames[c[0]] for c in clusters]
    pos = np.array([f.position for f in reps], dtype=float)
    if len(reps) == 1:
        step_dir, sk, index = normal, first.slice_step or 1.0, [0]
    else:
        span = pos[-1] - pos[0]
        drift = span - np.dot(span, normal) * normal
        tilted = np.linalg.norm(drift) > TILT_MM
        step_dir = _unit(span) if tilted else normal
        along = (pos - pos[0]) @ step_dir
        gaps = np.diff(along)
        step = float(np.median(gaps))
        mult = np.maximum(1, np.rint(gaps / step)).astype(int)
        whole = np.all(np.abs(gaps - mult * step) <= GAP_FRACTION * step)
        if whole and mult.max() > 1 and mult.sum() - len(gaps) <= len(reps):
            index = [0, *np.cumsum(mult).tolist()]
            for g in np.nonzero(mult > 1)[0]:
                warnings.append(
                    f"In {label}, {mult[g] - 1} slice(s) are missing between "
                    f"{reps[g].path.name} and {reps[g + 1].path.name} ({gaps[g]:.4g} mm apart, "
                    f"{step:.4g} mm expected): empty planes filled with the volume's lowest "
                    "value are inserted so every slice keeps its true position.")
        else:
            index = list(range(len(reps)))
        sk = float(along[-1]) / index[-1]
        expected = pos[0] + np.outer(np.asarray(index) * sk, step_dir)
        off = float(np.max(np.linalg.norm(pos - expected, axis=1)))
        if off > UNEVEN_MM:
            warnings.append(f"In {label}, slice spacing is uneven ({gaps.min():.4g} to "
                            f"{gaps.max():.4g} mm): the volume uses {sk:.6g} mm, so slices lie "
                            f"up to {off:.3g} mm from their true position (nothing is "
                            "resampled).")
        if tilted:
            deg = math.degrees(math.acos(min(1.0, abs(float(np.dot(step_dir, normal))))))
            warnings.append(f"{cap(label)} is tilted by {deg:.2f}° (gantry "
                            "tilt): the volume keeps the acquired grid, its k axis following "
                            "the slice origins rather than the slice normal; nothing is "
                            "resampled.")
    shape = (index[-1] + 1, first.rows, first.columns)
    direction = np.column_stack([row, col, step_dir])
    geometry = VolumeGeometry(shape, (si, sj, sk), tuple(pos[0]), tuple(map(tuple, direction)))
    plan: list[list[FrameRef | None]] = []
    for t in range(volumes):
        slots: list[FrameRef | None] = [None] * shape[0]
        for c, k in zip(clusters, index):
            slots[k] = frames[c[t]] if volumes > 1 else frames[c[0]]
        plan.append(slots)
    return geometry, plan, warnings
