"""Scissors (3D Slicer's Scissors effect): an outline drawn on a slice, extruded through the
volume along that slice's axis (or kept to the one slice), erases the segment inside or outside
it, or fills the segment inside or outside it.

The outline is a polygon in the slice's picture coordinates (continuous pixels, pixel (c, r)
covers [c, c+1) x [r, r+1)), rasterised pixel for pixel as pycocotools does
(:func:`app.core.polygon_raster.rasterize_polygons`), so a voxel is inside when its centre is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.core.places import PICTURE_AXES
from app.core.polygon_raster import rasterize_polygons

ERASE_INSIDE, ERASE_OUTSIDE, FILL_INSIDE, FILL_OUTSIDE = (
    "erase_inside", "erase_outside", "fill_inside", "fill_outside")
AXES = "kji"


def outline_mask(outline: Sequence[tuple[float, float]], axis: str,
                 shape: tuple[int, int, int]) -> np.ndarray:
    """The pixels inside ``outline`` on a slice along ``axis`` of a volume of ``shape``
    (k, j, i): a bool picture (rows, cols)."""
    rows, cols = PICTURE_AXES[axis]
    h, w = shape[AXES.index(rows)], shape[AXES.index(cols)]
    flat = [float(v) for p in outline for v in p]
    return rasterize_polygons([flat], h, w)


def extruded(picture: np.ndarray, axis: str, index: int, through: bool,
             start: tuple[int, int, int], shape: tuple[int, int, int]) -> np.ndarray:
    """The outline's ``picture`` mask extruded along ``axis`` over the box at ``start`` of
    ``shape`` (k, j, i): every slice when ``through``, else only slice ``index``."""
    rows, cols = PICTURE_AXES[axis]
    a, r, c = AXES.index(axis), AXES.index(rows), AXES.index(cols)
    sub = picture[start[r]:start[r] + shape[r], start[c]:start[c] + shape[c]]
    out = np.zeros(shape, bool)
    view = np.moveaxis(out, (a, r, c), (0, 1, 2))
    if through:
        view[:] = sub[None]
    elif start[a] <= index < start[a] + shape[a]:
        view[index - start[a]] = sub
    return out


def picture_box(picture: np.ndarray, axis: str, index: int, through: bool,
                shape: tuple[int, int, int]):
    """The box (start, stop) in (k, j, i) of the extruded outline (None when empty)."""
    rows_any = np.flatnonzero(picture.any(axis=1))
    if not rows_any.size:
        return None
    cols_any = np.flatnonzero(picture.any(axis=0))
    rows, cols = PICTURE_AXES[axis]
    lo = {rows: int(rows_any[0]), cols: int(cols_any[0]),
          axis: 0 if through else index}
    hi = {rows: int(rows_any[-1]) + 1, cols: int(cols_any[-1]) + 1,
          axis: shape[AXES.index(axis)] if through else index + 1}
    return tuple(lo[x] for x in AXES), tuple(hi[x] for x in AXES)


def cut(a: np.ndarray, inside: np.ndarray, op: str, within: np.ndarray | None = None
        ) -> np.ndarray:
    """The segment ``a`` after the scissors ``op`` with the extruded outline ``inside``;
    ``within``: the voxels the cut acts on (the slice drawn on, when it does not go through
    the volume; None: all)."""
    if op == ERASE_INSIDE:
        new = a & ~inside
    elif op == ERASE_OUTSIDE:
        new = a & inside
    elif op == FILL_INSIDE:
        new = a | inside
    elif op == FILL_OUTSIDE:
        new = a | ~inside
    else:
        raise ValueError(f"unknown scissors operation {op!r}")
    return new if within is None else np.where(within, new, a)
