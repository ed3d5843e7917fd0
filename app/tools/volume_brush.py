"""Painting a volume's label map in millimetres (3D Slicer's Paint effect): a 2D disc or a 3D
sphere along a stroke, optionally only where the intensity lies in a range (e.g. HU 200-3000).

A stroke is drawn on one slice place (array axis ``a``, index ``n``; picture coordinates are
continuous pixels, pixel (c, r) covers [c, c+1) x [r, r+1)). A voxel is painted when its
centre lies within ``radius_mm`` of the stroke's path, distances measured in mm through the
voxel spacing - so on an anisotropic pane the disc covers an ellipse of pixels and is round on
screen. The sphere also paints the neighbouring slices: on slice ``n + d`` the footprint is the
disc of radius sqrt(r^2 - (d * slice_spacing)^2). The stroke becomes one
:class:`~app.core.commands.ModifyLabelMap` over its bounding box (ADD of the segment, or ERASE
of any segment), with the intensity range as its "paint only where" mask; undo is per stroke.

Axes are treated as orthogonal for distances (a gantry tilt of a few degrees changes a radius by
well under a voxel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.core.commands import Command, ModifyLabelMap
from app.core.geometry import VolumeGeometry
from app.core.labelmap import Mode
from app.core.places import PICTURE_AXES, Place

AXIS_INDEX = {"k": 0, "j": 1, "i": 2}  # numpy position of each array axis
DEFAULT_FILL_LIMIT = 2_000_000  # voxels a 3D flood fill may reach before it is refused


@dataclass
class BrushSettings:
    """What the segment editor's options say (shared by every pane; mutable).
    ``radius_mm``: brush radius; ``sphere``: 3D sphere instead of a 2D disc; ``intensity``:
    paint only where ``lo <= value <= hi`` (the volume's real units, HU for CT), None: anywhere;
    ``fill_3d``, ``fill_tolerance`` (units either side of the clicked value; a fill also keeps
    to ``intensity`` when it is set) and ``fill_limit`` (voxels) for the flood fill."""

    radius_mm: float = 5.0
    sphere: bool = False
    intensity: tuple[float, float] | None = None
    fill_3d: bool = False
    fill_tolerance: float = 50.0
    fill_limit: int = DEFAULT_FILL_LIMIT


def slice_view(volume: np.ndarray, place: Place) -> np.ndarray:
    """The picture of a slice place (k: [j, i], j: [k, i], i: [k, j]) as a view, never a copy."""
    n = place.index
    return {"k": lambda: volume[n], "j": lambda: volume[:, n],
            "i": lambda: volume[:, :, n]}[place.axis]()  # type: ignore[index]


def pixel_size(geometry: VolumeGeometry, axis: str) -> tuple[float, float]:
    """(x, y) size in mm of a picture pixel of slices along ``axis`` (columns, rows)."""
    rows, cols = PICTURE_AXES[axis]
    return (geometry.axis_spacing(cols), geometry.axis_spacing(rows))


def path_distance_mm(shape: tuple[int, int], origin: tuple[int, int],
                     path: list[tuple[float, float]], size: tuple[float, float]
                     ) -> np.ndarray:
    """Distance (mm) from the centre of every pixel of a ``shape`` (rows, cols) window whose
    first pixel is picture pixel ``origin`` (row, col) to the polyline ``path`` (picture px)."""
    rows, cols = shape
    sx, sy = size
    cx = ((np.arange(cols, dtype=np.float32) + origin[1] + 0.5) * sx)[None, :]
    cy = ((np.arange(rows, dtype=np.float32) + origin[0] + 0.5) * sy)[:, None]
    pts = [(float(x) * sx, float(y) * sy) for x, y in path]
    if len(pts) == 1:
        pts = pts * 2
    best = np.full(shape, np.inf, np.float32)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        dx, dy = x1 - x0, y1 - y0
        n2 = dx * dx + dy * dy
        if n2 > 0:
            t = np.clip(((cx - x0) * dx + (cy - y0) * dy) / n2, 0.0, 1.0)
            d2 = (cx - x0 - t * dx) ** 2 + (cy - y0 - t * dy) ** 2
        else:
            d2 = (cx - x0) ** 2 + (cy - y0) ** 2
        np.minimum(best, d2, out=best)
    return np.sqrt(best, out=best)


def path_window(path: list[tuple[float, float]], radius_mm: float, size: tuple[float, float],
                picture: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Picture rows/cols (r0, r1, c0, c1) a stroke of ``radius_mm`` can touch, cut to the
    picture ``(rows, cols)``; None when it lies outside."""
    xs = [p[0] for p in path]
    ys = [p[1] for p in path]
    rx, ry = radius_mm / size[0], radius_mm / size[1]
    c0 = max(int(math.floor(min(xs) - rx)) - 1, 0)
    c1 = min(int(math.ceil(max(xs) + rx)) + 1, picture[1])
    r0 = max(int(math.floor(min(ys) - ry)) - 1, 0)
    r1 = min(int(math.ceil(max(ys) + ry)) + 1, picture[0])
    return (r0, r1, c0, c1) if r0 < r1 and c0 < c1 else None


def footprint(path: list[tuple[float, float]], radius_mm: float, size: tuple[float, float],
              picture: tuple[int, int]) -> tuple[tuple[int, int], np.ndarray] | None:
    """The disc stroke on one slice: ((row, col) of its window, bool window), the pixel under
    each end of the path always included however small the radius; None when outside."""
    win = path_window(path, radius_mm, size, picture)
    if win is None:
        return None
    r0, r1, c0, c1 = win
    hit = path_distance_mm((r1 - r0, c1 - c0), (r0, c0), path, size) <= radius_mm
    for x, y in (path[0], path[-1]):
        c, r = int(math.floor(x)), int(math.floor(y))
        if r0 <= r < r1 and c0 <= c < c1:
            hit[r - r0, c - c0] = True
    return (r0, c0), hit


def intensity_mask(values: np.ndarray, intensity: tuple[float, float] | None
                   ) -> np.ndarray | None:
    """``lo <= values <= hi`` as a bool array (None when no range is set)."""
    if intensity is None:
        return None
    lo, hi = intensity
    return (values >= lo) & (values <= hi)


def _slab(place: Place, d0: int, d1: int, r0: int, r1: int, c0: int, c1: int
          ) -> tuple[tuple[int, int, int], tuple[slice, slice, slice]]:
    """Start (k, j, i) and numpy slices of the box spanning slices n+d0..n+d1-1 and the
    picture window rows r0:r1, cols c0:c1 of ``place``."""
    rows, cols = PICTURE_AXES[place.axis]  # type: ignore[index]
    lo = {place.axis: place.index + d0, rows: r0, cols: c0}
    hi = {place.axis: place.index + d1, rows: r1, cols: c1}
    start = tuple(lo[a] for a in "kji")
    return start, tuple(slice(lo[a], hi[a]) for a in "kji")  # type: ignore[return-value]


class VolumeBrush:
    """The :class:`~app.tools.paint.SliceBrush` of a volume: stamps and commands in mm over
    ``volume`` (``[k, j, i]``, real units) with ``geometry``, as ``settings`` say."""

    def __init__(self, volume: np.ndarray, geometry: VolumeGeometry,
                 settings: BrushSettings) -> None:
        if tuple(volume.shape) != geometry.shape:
            raise ValueError("the volume array does not have its geometry's shape")
        self.volume, self.geometry, self.settings = volume, geometry, settings

    # ------------------------------------------------------------------ reading the volume
    def picture(self, place: Place) -> np.ndarray:
        """The slice's values (a view into the volume)."""
        return slice_view(self.volume, place)

    def radius_px(self, axis: str) -> float:
        """The radius in picture px of the pane's finer pixel side (what its cursor circle
        is drawn with: the view keeps the physical aspect)."""
        return self.settings.radius_mm / min(pixel_size(self.geometry, axis))

    # ------------------------------------------------------------------ SliceBrush
    def stamp(self, buf: np.ndarray, place: Place, p0: tuple[float, float],
              p1: tuple[float, float]) -> None:
        """Paint the disc stroke p0-p1 into ``buf`` (the preview), where the intensity
        range allows."""
        size = pixel_size(self.geometry, place.axis)  # type: ignore[arg-type]
        got = footprint([p0, p1], self.settings.radius_mm, size, buf.shape)
        if got is None:
            return
        (r0, c0), hit = got
        h, w = hit.shape
        allowed = intensity_mask(self.picture(place)[r0:r0 + h, c0:c0 + w],
                                 self.settings.intensity)
        if allowed is not None:
            hit &= allowed
        buf[r0:r0 + h, c0:c0 + w][hit] = 1

    def command(self, target, place: Place, path: list[tuple[float, float]],
                buf: np.ndarray, erase: bool, label: str) -> Command | None:
        """One ModifyLabelMap for the whole stroke (disc: the stamped footprint; sphere: the
        footprint on every slice within the radius); None when it paints nothing."""
        start, modifier = (self.sphere_modifier(place, path) if self.settings.sphere
                           else self.disc_modifier(place, buf))
        if modifier is None or not modifier.any():
            return None
        box = tuple(slice(s, s + n) for s, n in zip(start, modifier.shape))
        where = intensity_mask(self.volume[box], self.settings.intensity)
        return ModifyLabelMap(target.labelmap_id, start, modifier,
                              Mode.ERASE if erase else Mode.ADD, 0 if erase else target.value,
                              where, label=label)

    # ------------------------------------------------------------------ modifiers
    def disc_modifier(self, place: Place, buf: np.ndarray
                      ) -> tuple[tuple[int, int, int], np.ndarray | None]:
        """The stamped footprint, cut to its bounding box, one voxel thick."""
        rows = np.flatnonzero(buf.any(axis=1))
        if not rows.size:
            return (0, 0, 0), None
        cols = np.flatnonzero(buf.any(axis=0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        start, _ = _slab(place, 0, 1, r0, r1, c0, c1)
        mod = np.expand_dims(buf[r0:r1, c0:c1].astype(bool), AXIS_INDEX[place.axis])
        return start, mod

    def sphere_modifier(self, place: Place, path: list[tuple[float, float]]
                        ) -> tuple[tuple[int, int, int], np.ndarray | None]:
        """The voxels within the radius of the path (which lies on the place's slice)."""
        axis = place.axis
        size = pixel_size(self.geometry, axis)  # type: ignore[arg-type]
        r = self.settings.radius_mm
        rows_n, cols_n = (self.geometry.axis_size(a) for a in PICTURE_AXES[axis])  # type: ignore
        win = path_window(path, r, size, (rows_n, cols_n))
        if win is None:
            return (0, 0, 0), None
        r0, r1, c0, c1 = win
        dist = path_distance_mm((r1 - r0, c1 - c0), (r0, c0), path, size)
        step = self.geometry.axis_spacing(axis)  # type: ignore[arg-type]
        reach = int(math.floor(r / step))
        n, depth = place.index, self.geometry.axis_size(axis)  # type: ignore[arg-type]
        d0, d1 = max(-reach, -n), min(reach, depth - 1 - n) + 1
        layers = []
        for d in range(d0, d1):
            rd = math.sqrt(max(r * r - (d * step) ** 2, 0.0))
            layer = dist <= rd
            if d == 0:  # the pixel under each end, however small the brush
                for x, y in (path[0], path[-1]):
                    c, rr = int(math.floor(x)), int(math.floor(y))
                    if r0 <= rr < r1 and c0 <= c < c1:
                        layer[rr - r0, c - c0] = True
            layers.append(layer)
        start, _ = _slab(place, d0, d1, r0, r1, c0, c1)
        return start, np.stack(layers, axis=AXIS_INDEX[axis])  # type: ignore[index]

    # ------------------------------------------------------------------ flood fill
    def fill_command(self, target, place: Place, x: float, y: float,
                     erase: bool = False) -> tuple[Command | None, str]:
        """The flood fill from picture point (x, y) (see :mod:`app.tools.volume_fill`):
        (command or None, a sentence for the status bar)."""
        from app.tools.volume_fill import fill_command

        return fill_command(self, target, place, x, y, erase)
