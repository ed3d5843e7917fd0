"""The voxel grid of one stack of DICOM images: slice order, spacing, origin, direction.

Slices are sorted by their position along the slice normal (row x column direction of
ImageOrientationPatient), never by file name or InstanceNumber. Every voxel of the grid lies
where DICOM puts its pixel (within half a pixel), and every value is a stored pixel's, as the
trusted tools (dcm2niix, Slicer's acquisition-geometry regularisation) make it:

- **Missing slices** (a gap that is a whole number of steps): empty planes are inserted so
  the slices after the gap keep their positions (SimpleITK spreads the gap over the whole
  stack; dcm2niix closes it), with a warning naming the files on each side.
- **Uneven spacing** (a GE head series: 14 slices 4 mm apart, then 14 at 7 mm): the stack is
  split at each spacing change into parts on regular grids of their own (:class:`StackPart`;
  a series of ``n`` parts reads as ``n`` volumes). Averaging the spacing, as SimpleITK does,
  puts slices up to ``12 mm`` from where they were. Past :data:`MAX_PARTS` runs (spacing that
  jitters everywhere) the regular grid from first to last slice is kept, with a warning
  saying how far (mm) slices lie from it.
- **Gantry tilt** (slice origins step along the table, not along the slice normal): the grid
  is made orthogonal, its k axis along the normal, and each slice is shifted in its plane by
  the whole number of pixels nearest to its drift, into a grid wide enough to hold every
  pixel (the rest holds the volume's lowest value): no value is interpolated, and each lies
  within half a pixel of its acquired position, as dcm2niix's ``_Tilt_`` output is corrected.
  A sheared grid has no NIfTI qform, and ITK, Slicer and ITK-SNAP read the qform: nothing
  sheared is ever written.

``regularize=False`` plans the acquired grid as releases before 0.2 did (sheared for a tilt,
averaged spacing), for volumes a project added then (see :func:`app.io.volume.reader.
load_source`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from app.core.geometry import VolumeGeometry
from app.io.volume.model import FrameRef

SAME_POSITION_MM = 0.01  # images closer than this along the normal share a slice position
UNEVEN_MM = 0.01  # a slice further than this from the regular grid is worth a warning
TILT_MM = 0.01  # in-plane drift of the last slice beyond this means a tilted stack
GAP_FRACTION = 0.1  # a gap within 10 % of n whole steps is n-1 missing slices
SPLIT_FRACTION = 0.05  # a gap further than 5 % (and SPLIT_MM) from the run's step splits it
SPLIT_MM = 0.05
MAX_PARTS = 8  # more spacing runs than this: one averaged grid, with a warning


@dataclass
class StackPart:
    """One volume's worth of a stack: its grid, the frame of each slice of each volume
    (``plan[t][k]``; None for an inserted plane), warnings, and for a tilted stack the
    in-plane offset ``(rows, columns)`` at which each acquired slice k sits in the grid
    (``shifts[k]``; empty when slices fill the grid as acquired). ``part`` names it among
    the parts of its stack ("part 2/2 (7 mm)": 7 mm between slices; empty for a whole
    stack)."""

    geometry: VolumeGeometry
    plan: list[list[FrameRef | None]]
    warnings: list[str]
    shifts: list[tuple[int, int]] = field(default_factory=list)
    part: str = ""


def cap(text: str) -> str:
    """``text`` with its first letter in upper case (sentences that open with a label)."""
    return text[:1].upper() + text[1:]


def _unit(v: Sequence[float]) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    n = np.linalg.norm(a)
    if n == 0:
        raise ValueError("a zero-length orientation vector")
    return a / n


def plan_stack(frames: list[FrameRef], label: str, regularize: bool = True
               ) -> list[StackPart]:
    """The parts of one stack (same orientation, size and pixel spacing): one, unless its
    spacing changes (see the module doc). ``label`` names the series in sentences;
    ``regularize=False`` gives the acquired grid of releases before 0.2."""
    sorted_ = _sort(frames, label)
    if isinstance(sorted_, StackPart):
        return [sorted_]
    if not regularize or len(sorted_.reps) < 3:
        return [_acquired_grid(sorted_, label)]
    runs = _spacing_runs(sorted_.depth_of_reps())
    if len(runs) > MAX_PARTS:
        return [_acquired_grid(sorted_, label)]
    parts = []
    for n, (a, b) in enumerate(runs):
        sub = sorted_.slice(a, b)
        part = ""
        if len(runs) > 1:
            gaps = np.diff(sub.depth_of_reps())
            step = f" ({float(np.median(gaps)):.4g} mm)" if len(gaps) else ""
            part = f"part {n + 1}/{len(runs)}{step}"
        parts.append(_regular_grid(sub, label + (f" ({part})" if part else ""), part))
    if len(runs) > 1:
        spans = "; ".join(f"{p.part}: {b - a} slice(s)" for p, (a, b) in zip(parts, runs))
        parts[0].warnings.insert(0, f"In {label}, slice spacing changes along the stack, so "
                                 f"it is read as {len(runs)} volumes, each on its own regular "
                                 f"grid ({spans}); nothing is averaged or resampled.")
    return parts


@dataclass
class _Sorted:
    """A stack's frames sorted by position along the normal, one cluster per position."""

    frames: list[FrameRef]
    clusters: list[list[int]]  # indices into frames, one list per slice position
    volumes: int  # images per position (> 1: a 4D series)
    warnings: list[str]
    spacing_ij: tuple[float, float]  # (si, sj) mm
    row: np.ndarray
    col: np.ndarray
    normal: np.ndarray

    @property
    def reps(self) -> list[FrameRef]:
        return [self.frames[c[0]] for c in self.clusters]

    def positions(self) -> np.ndarray:
        return np.array([f.position for f in self.reps], dtype=float)

    def depth_of_reps(self) -> np.ndarray:
        pos = self.positions()
        return (pos - pos[0]) @ self.normal

    def slice(self, a: int, b: int) -> _Sorted:
        return _Sorted(self.frames, self.clusters[a:b], self.volumes,
                       list(self.warnings) if a == 0 else [], self.spacing_ij, self.row,
                       self.col, self.normal)


def _sort(frames: list[FrameRef], label: str) -> _Sorted | StackPart:
    """Frames sorted into slice positions; a :class:`StackPart` on an identity grid where
    the files give no positions."""
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
        return StackPart(geometry, [list(ordered)], warnings)
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
    return _Sorted(frames, clusters, volumes, warnings, (si, sj), row, col, normal)


def _spacing_runs(depth: np.ndarray) -> list[tuple[int, int]]:
    """``[a, b)`` ranges of slice positions whose gaps along the normal are one regular step
    (or whole multiples of it: missing slices); a new run starts where the step changes."""
    runs: list[tuple[int, int]] = []
    a, step = 0, None
    for g, gap in enumerate(np.diff(depth)):
        if step is None:
            step = gap
            continue
        m = round(gap / step) if step > 0 else 0
        if m >= 1 and abs(gap - m * step) <= max(SPLIT_FRACTION * step, SPLIT_MM):
            continue
        if g == a + 1:  # a run of one gap: its first slice stands alone, the second joins
            runs.append((a, a + 1))  # the slices that follow at the new step
            a, step = a + 1, gap
            continue
        runs.append((a, g + 1))  # slice g ends the run; g + 1 starts the next
        a, step = g + 1, None
    runs.append((a, len(depth)))
    return runs


def _slice_index(st: _Sorted, along: np.ndarray, label: str
                 ) -> tuple[list[int], float, list[str]]:
    """Each position's slice index k (gaps that are whole steps leave planes for missing
    slices), the spacing sk (mm) and warnings, from distances ``along`` the k axis."""
    reps, warnings = st.reps, []
    if len(reps) == 1:
        return [0], reps[0].slice_step or 1.0, warnings
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
    off = float(np.max(np.abs(along - np.asarray(index) * sk)))
    if off > UNEVEN_MM:
        warnings.append(f"In {label}, slice spacing is uneven ({gaps.min():.4g} to "
                        f"{gaps.max():.4g} mm): the volume uses {sk:.6g} mm, so slices lie "
                        f"up to {off:.3g} mm from their true position.")
    return index, sk, warnings


def _slots(st: _Sorted, index: list[int], depth: int) -> list[list[FrameRef | None]]:
    plan: list[list[FrameRef | None]] = []
    for t in range(st.volumes):
        slots: list[FrameRef | None] = [None] * depth
        for c, k in zip(st.clusters, index):
            slots[k] = st.frames[c[t]] if st.volumes > 1 else st.frames[c[0]]
        plan.append(slots)
    return plan


def _acquired_grid(st: _Sorted, label: str) -> StackPart:
    """The grid as acquired (releases before 0.2): k follows the slice origins (sheared for
    a gantry tilt), one spacing from first to last slice."""
    first, warnings = st.reps[0], list(st.warnings)
    pos = st.positions()
    si, sj = st.spacing_ij
    step_dir = st.normal
    tilted = False
    if len(pos) > 1:
        span = pos[-1] - pos[0]
        drift = span - np.dot(span, st.normal) * st.normal
        tilted = bool(np.linalg.norm(drift) > TILT_MM)
        step_dir = _unit(span) if tilted else st.normal
    index, sk, notes = _slice_index(st, (pos - pos[0]) @ step_dir, label)
    warnings += notes
    if tilted:
        deg = math.degrees(math.acos(min(1.0, abs(float(np.dot(step_dir, st.normal))))))
        warnings.append(f"{cap(label)} is tilted by {deg:.2f}° (gantry tilt): the volume keeps "
                        "the acquired grid, its k axis following the slice origins rather "
                        "than the slice normal.")
    shape = (index[-1] + 1, first.rows, first.columns)
    direction = np.column_stack([st.row, st.col, step_dir])
    geometry = VolumeGeometry(shape, (si, sj, sk), tuple(pos[0]), tuple(map(tuple, direction)))
    return StackPart(geometry, _slots(st, index, shape[0]), warnings)


def _regular_grid(st: _Sorted, label: str, part: str = "") -> StackPart:
    """An orthogonal grid (k along the slice normal) holding every pixel of the run within
    half a pixel of its acquired position: a tilted run's slices are shifted in their plane
    by whole pixels (``shifts``), into a grid wide enough for all of them."""
    first, warnings = st.reps[0], list(st.warnings)
    pos = st.positions()
    si, sj = st.spacing_ij
    rel = pos - pos[0]
    along = rel @ st.normal
    index, sk, notes = _slice_index(st, along, label)
    warnings += notes
    drift = rel - np.outer(along, st.normal)  # in-plane offset of each slice origin (mm)
    da = np.rint(drift @ st.row / si).astype(int)  # whole columns
    db = np.rint(drift @ st.col / sj).astype(int)  # whole rows
    origin = pos[0] + da.min() * si * st.row + db.min() * sj * st.col
    shape = (index[-1] + 1, first.rows + int(db.max() - db.min()),
             first.columns + int(da.max() - da.min()))
    shifts: list[tuple[int, int]] = []
    if np.ptp(da) or np.ptp(db):
        tilt = math.degrees(math.atan2(float(np.linalg.norm(drift[-1])), float(along[-1])))
        shifts = [(0, 0)] * shape[0]
        for k, b, a in zip(index, db - db.min(), da - da.min()):
            shifts[k] = (int(b), int(a))
        worst = float(np.max(np.hypot((drift @ st.row - da * si), (drift @ st.col - db * sj))))
        warnings.append(f"{cap(label)} is tilted by {tilt:.2f}° (gantry tilt): it is made "
                        "orthogonal along the slice normal, each slice shifted in its plane "
                        f"by whole pixels (grid {shape[2]}x{shape[1]} instead of "
                        f"{first.columns}x{first.rows}, each pixel within {worst:.3g} mm of "
                        "its acquired position, no value interpolated), as dcm2niix corrects "
                        "a tilt.")
    direction = np.column_stack([st.row, st.col, st.normal])
    geometry = VolumeGeometry(shape, (si, sj, sk), tuple(origin), tuple(map(tuple, direction)))
    return StackPart(geometry, _slots(st, index, shape[0]), warnings, shifts, part)
