"""Polygon rasterisation in pure numpy, bit-identical with pycocotools' ``rleFrPoly``.

Polygon vertices are in continuous pixel coordinates (``CONVENTIONS.md``): ``x`` = column,
``y`` = row, pixel ``(c, r)`` covers ``[c, c+1) x [r, r+1)``. Each polygon is a flat
``[x0, y0, x1, y1, ...]`` list as in a COCO ``segmentation``. Many polygons are handled in one
batch of whole-array operations: :func:`polygon_areas` gives the pixel area of each of many
polygons in one pass, and :func:`polygon_rle` the RLE of their union, without any mask. The
run arithmetic (toggle positions) is shared with the RLE codec in :mod:`app.core.rle`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.rle import (
    Rle,
    _counts_from_toggles,
    counts_to_string,
    _I64,
    _is_int,
    _mask_from_toggles,
    _merge_intervals,
    _segments,
    _union_toggles,
)

__all__ = ["polygon_areas", "polygon_rle", "rasterize_polygon_with_holes", "rasterize_polygons"]

_SCALE = 5.0  # rleFrPoly's upsampling factor


# --------------------------------------------------------------------------------------------
# Polygons
#
# pycocotools' rleFrPoly scales the vertices by 5, rounds them with (int)(5*v + .5), walks every
# edge in unit steps along its major axis (rounding the minor coordinate the same way), and keeps
# a "y-boundary point" wherever that walk moves between upsampled columns 5c+2 and 5c+3, i.e.
# across the centre of pixel column c; the point's row is ceil of the smaller upsampled y mapped
# back to pixels, clamped to [0, h]. The points, as column-major indices, are sorted and turned
# into runs; coinciding points cancel in pairs, and points at index h*w (below the last pixel)
# are ignored. Below, only the steps that cross a pixel-centre column are evaluated, with the
# very same floating-point expressions, so results are identical.
#
# Many polygons are handled in one batch of numpy operations. Each edge closes onto the first
# vertex of its own polygon, so no walk runs from one polygon into the next. The edges and their
# crossings are worked out for ~_BATCH_EDGES edges of whole polygons at a time, so that the
# temporaries stay in the CPU cache; a crossing of the p-th polygon of such a batch gets the key
# p * (h*w + 1) + index, and one sort puts each polygon's points in a block of its own.

_BATCH_EDGES = 1 << 13


def _walk(start: NDArray[Any], slope: NDArray[Any], t: NDArray[Any]) -> NDArray[np.int64]:
    """rleFrPoly's rounded minor coordinate: C's ``(int)(start + slope*t + .5)``."""
    return (start + slope * t + 0.5).astype(_I64)


def _column_span(
    lo: NDArray[np.int64], hi: NDArray[np.int64], w: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """First pixel column whose centre lies in upsampled [lo, hi), and how many do."""
    first = np.maximum(-((2 - lo) // 5), 0)  # smallest c >= 0 with 5c + 2 >= lo
    last = np.minimum((hi - 3) // 5, w - 1)  # largest c < w with 5c + 3 <= hi
    return first, np.maximum(last - first + 1, 0)


@dataclass
class _XEdges:
    """Edges walked along x (``|dx| >= |dy|``, ``dx != 0``) that cross a pixel-centre column."""

    owner: NDArray[np.int64]  # polygon of each edge
    count: NDArray[np.int64]  # columns crossed, the first being ``first``
    first: NDArray[np.int64]
    t0: NDArray[np.float64]  # step of the crossing's lower point in column ``first``; +5 a column
    slope: NDArray[np.float64]
    ys: NDArray[np.float64]


@dataclass
class _YEdges:
    """Edges walked along y (``|dy| > |dx|``) that cross a pixel-centre column."""

    owner: NDArray[np.int64]
    count: NDArray[np.int64]
    first: NDArray[np.int64]
    above: NDArray[np.float64]  # 5c + 3 for c = ``first``; past 5c+2 means xs + s*t + .5 >= it
    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    dy: NDArray[np.float64]
    slope: NDArray[np.float64]
    falling: NDArray[np.bool_]
    inv: NDArray[np.float64]  # for the estimate of the crossing step: 1 / slope
    q0: NDArray[np.float64]  # (-0.5 - xs) / slope, a hair more when falling


def _x_edges(
    x0: NDArray[np.int64], y0: NDArray[np.int64], x1: NDArray[np.int64], y1: NDArray[np.int64],
    owner: NDArray[np.int64], w: int,
) -> _XEdges:
    swap = x0 > x1  # walk from the smaller x, as the C code does after its flip
    xs, xe = np.where(swap, x1, x0), np.where(swap, x0, x1)
    ys, ye = np.where(swap, y1, y0), np.where(swap, y0, y1)
    slope = (ye - ys) / (xe - xs)
    first, count = _column_span(xs, xe, w)
    keep = np.flatnonzero(count)
    xs, ys, slope, first = xs[keep], ys[keep], slope[keep], first[keep]
    # the crossing of column c is the step from x = 5c+2 to 5c+3; rounding is monotone in t,
    # so the smaller y of the two points is at the first step when rising, the second falling
    t0 = (5 * first + 2 - xs + (slope < 0)).astype(np.float64)
    return _XEdges(owner[keep], count[keep], first, t0, slope, ys.astype(np.float64))


def _y_edges(
    x0: NDArray[np.int64], y0: NDArray[np.int64], x1: NDArray[np.int64], y1: NDArray[np.int64],
    owner: NDArray[np.int64], w: int,
) -> _YEdges:
    swap = y0 > y1  # walk from the smaller y
    xs, xe = np.where(swap, x1, x0), np.where(swap, x0, x1)
    ys, ye = np.where(swap, y1, y0), np.where(swap, y0, y1)
    dy = ye - ys
    slope = (xe - xs) / dy
    u_start, u_end = _walk(xs, slope, 0), _walk(xs, slope, dy)
    first, count = _column_span(np.minimum(u_start, u_end), np.maximum(u_start, u_end), w)
    keep = np.flatnonzero(count)  # a crossing needs x to move: slope != 0 from here on
    xs, ys, dy, slope, first = xs[keep], ys[keep], dy[keep], slope[keep], first[keep]
    falling = slope < 0
    inv = 1.0 / slope
    q0 = (-0.5 - xs) * inv + np.where(falling, 1e-6, 0.0)
    return _YEdges(
        owner[keep], count[keep], first, (5 * first + 3).astype(np.float64),
        xs.astype(np.float64), ys.astype(np.float64), dy.astype(np.float64), slope, falling,
        inv, q0,
    )


def _starts(count: NDArray[np.int64]) -> tuple[NDArray[np.int64], int]:
    """Where each edge's crossings start in its batch, and how many there are in all."""
    ends = np.cumsum(count)
    return ends - count, int(ends[-1]) if ends.size else 0


def _past(
    xs: NDArray[np.float64], slope: NDArray[np.float64], t: NDArray[np.float64],
    above: NDArray[np.float64], falling: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Whether step ``t`` of a steep edge lies beyond column 5c+2, with C's rounding."""
    v = slope * t
    v += xs
    v += 0.5  # (int)(xs + s*t + .5) > 5c+2  <=>  xs + s*t + .5 >= 5c+3 (both sides positive)
    past = v >= above
    past ^= falling
    return past


def _y_steps(e: _YEdges, five: NDArray[np.float64]) -> NDArray[np.float64]:
    """For the crossings of steep edges: the step whose point is past column 5c+2.

    Rounded x moves monotonically along the edge, so the crossing of column c is at the first
    step ``t`` past it (the point before it is at 5c+2). The step is estimated in closed form
    and confirmed with the exact C expression at ``t - 1`` and ``t``; the rare misses (ties
    decided by floating-point rounding) are found exactly by bisection over the edge.
    """
    count = e.count
    start, total = _starts(count)
    above = np.repeat(e.above - 5.0 * start, count)
    above += five[:total]
    xs = np.repeat(e.xs, count)
    slope = np.repeat(e.slope, count)
    falling = np.repeat(e.falling, count)
    t = np.repeat(e.inv, count)
    t *= above
    t += np.repeat(e.q0, count)
    np.ceil(t, out=t)
    t -= 1.0
    miss = _past(xs, slope, t, above, falling)
    t += 1.0
    miss |= ~_past(xs, slope, t, above, falling)
    bad = np.flatnonzero(miss)
    if bad.size:  # past(0) is False and past(dy) True on every edge that crosses a column
        edge = np.searchsorted(start + count, bad, side="right")
        low = np.zeros(bad.size)
        high = e.dy[edge]
        xs, slope, above, falling = xs[bad], slope[bad], above[bad], falling[bad]
        while True:
            open_ = np.flatnonzero(high - low > 1)
            if open_.size == 0:
                break
            mid = np.floor((low[open_] + high[open_]) * 0.5)
            p = _past(xs[open_], slope[open_], mid, above[open_], falling[open_])
            high[open_[p]] = mid[p]
            low[open_[~p]] = mid[~p]
        t[bad] = high
    return t


def _clamped_rows(r: NDArray[np.int64], h: int) -> NDArray[np.int64]:
    """rleFrPoly's pixel row of upsampled y ``r - 2``: ceil(clip((y + .5)/5 - .5, 0, h)).

    For an integer y that is ``clip(floor((y + 2) / 5), 0, h)``; ``r`` is overwritten.
    """
    r //= 5
    np.clip(r, 0, h, out=r)
    return r


def _batch_keys(
    xe: _XEdges, ye: _YEdges, h: int, w: int,
    ramp: tuple[NDArray[np.int64], NDArray[np.float64]],
) -> NDArray[np.int64]:
    """Sorted keys ``owner * (h*w + 1) + index`` of the crossings of the given edges."""
    stride = h * w + 1
    index, five = ramp
    parts = []
    if xe.count.size:
        start, total = _starts(xe.count)
        t = np.repeat(xe.t0 - 5.0 * start, xe.count)
        t += five[:total]
        v = np.repeat(xe.slope, xe.count)
        v *= t
        v += np.repeat(xe.ys, xe.count)
        v += 0.5
        key = v.astype(_I64)  # C's (int): truncation toward zero
        key += 2  # upsampled y of the point, + 2
        key = _clamped_rows(key, h)
        key += np.repeat(xe.owner * stride + (xe.first - start) * h, xe.count)
        key += index[:total] * h
        parts.append(key)
    if ye.count.size:
        start, total = _starts(ye.count)
        t = _y_steps(ye, five)
        t += np.repeat(ye.ys + 1.0, ye.count)  # upsampled y of the point, + 2
        key = _clamped_rows(t.astype(_I64), h)
        key += np.repeat(ye.owner * stride + (ye.first - start) * h, ye.count)
        key += index[:total] * h
        parts.append(key)
    keys = np.concatenate(parts) if len(parts) == 2 else parts[0] if parts else np.zeros(0, _I64)
    keys.sort()
    return keys


_BAD_POLYGON = "A polygon must be a flat list of numbers [x0, y0, x1, y1, ...]."


def _scaled_polygons(
    polygons: Sequence[Sequence[float]],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """All polygons' coordinates concatenated as ``5*v + .5``, and each one's count; validated."""
    polys = polygons if isinstance(polygons, (list, tuple)) else list(polygons)
    if any(isinstance(p, (str, bytes)) for p in polys):
        raise ValueError(_BAD_POLYGON)
    try:  # fast path: flat lists of numbers
        sizes = np.fromiter(map(len, polys), dtype=_I64, count=len(polys))
        xy = np.fromiter(chain.from_iterable(polys), dtype=np.float64, count=int(sizes.sum()))
    except (TypeError, ValueError):  # arrays, nested pairs, or garbage: one by one
        arrays = []
        for p in polys:
            try:
                arrays.append(np.asarray(p, dtype=np.float64).reshape(-1))
            except (TypeError, ValueError) as exc:  # ragged nesting, non-numbers
                raise ValueError(_BAD_POLYGON) from exc
        sizes = np.array([a.size for a in arrays], dtype=_I64)
        xy = np.concatenate(arrays) if arrays else np.zeros(0)  # a copy: scaled in place below
    if (sizes % 2).any():
        raise ValueError("A polygon needs an even count of coordinates [x0, y0, x1, y1, ...].")
    if not np.isfinite(xy).all():
        raise ValueError("A polygon coordinate is not a finite number.")
    xy *= _SCALE
    xy += 0.5
    if xy.size and np.abs(xy).max() >= 2**31:
        raise ValueError("A polygon coordinate is too far outside any image to rasterise.")
    return xy, sizes


def _polygon_batches(
    polygons: Sequence[Sequence[float]], h: int, w: int
) -> Iterator[tuple[int, int, NDArray[np.int64]]]:
    """Validate the polygons, then yield ``(p0, p1, keys)`` per batch of polygons ``p0:p1``.

    ``keys`` are the sorted ``(p - p0) * (h*w + 1) + index`` of every y-boundary point of
    polygon ``p``, coinciding points all kept (they are neighbours, so they cancel in pairs in
    any alternating sum); ``index`` is in ``[0, h*w]``. Nothing is yielded when ``h*w == 0``.
    """
    xy, sizes = _scaled_polygons(polygons)
    n = h * w
    count = sizes.size
    if n == 0 or count == 0:
        return
    x0 = xy[0::2].astype(_I64)  # C's (int)(5*v + .5): truncation toward zero
    y0 = xy[1::2].astype(_I64)
    nv = sizes // 2
    first_vertex = np.zeros(count + 1, dtype=_I64)
    np.cumsum(nv, out=first_vertex[1:])
    # batches of whole polygons with about _BATCH_EDGES edges (a polygon with more is a batch
    # of its own), and few enough polygons that the keys stay below 2**62
    most = max(1, (1 << 62) // (n + 1))
    if first_vertex[-1] <= _BATCH_EDGES and count <= most:
        cuts = np.array([0, count])
    else:
        cuts = np.flatnonzero(np.diff(first_vertex[:-1] // _BATCH_EDGES)) + 1
        if most < count:
            cuts = np.union1d(cuts, np.arange(0, count, most, dtype=_I64))
        cuts = np.concatenate(([0], cuts[cuts > 0], [count]))
    ramp = (np.zeros(0, dtype=_I64), np.zeros(0))
    for b in range(cuts.size - 1):
        p0, p1 = int(cuts[b]), int(cuts[b + 1])
        v0, v1 = int(first_vertex[p0]), int(first_vertex[p1])
        sizes_b = nv[p0:p1]
        owner = np.repeat(np.arange(p1 - p0, dtype=_I64), sizes_b)  # each vertex's polygon
        # edge i runs from vertex i to vertex i + 1, the last of a polygon back to its first
        nxt = np.arange(v0 + 1, v1 + 1, dtype=_I64)
        last = first_vertex[p0 + 1 : p1 + 1] - 1
        used = sizes_b > 0
        nxt[last[used] - v0] = first_vertex[p0:p1][used]
        xa, ya = x0[v0:v1], y0[v0:v1]
        xb, yb = x0[nxt], y0[nxt]
        dx, dy = np.abs(xb - xa), np.abs(yb - ya)
        on_x = np.flatnonzero((dx >= dy) & (dx > 0))  # zero-length edges cross nothing
        on_y = np.flatnonzero(dy > dx)
        xe = _x_edges(xa[on_x], ya[on_x], xb[on_x], yb[on_x], owner[on_x], w)
        ye = _y_edges(xa[on_y], ya[on_y], xb[on_y], yb[on_y], owner[on_y], w)
        total = int(xe.count.sum()) + int(ye.count.sum())
        if total > ramp[0].size:
            index = np.arange(max(total, 2 * ramp[0].size), dtype=_I64)
            ramp = (index, 5.0 * index)
        yield p0, p1, _batch_keys(xe, ye, h, w, ramp)


def _areas_of_keys(keys: NDArray[np.int64], count: int, n: int) -> NDArray[np.int64]:
    """Areas of ``count`` polygons from their sorted keys (see :func:`_polygon_batches`).

    In each polygon's block, the area is the sum of (odd - even) point indices, plus ``n`` when
    the block has an odd length. Taken as one cumulative sum of the keys with alternating signs.
    """
    stride = n + 1
    bounds = np.searchsorted(keys, np.arange(count + 1, dtype=_I64) * stride)
    signed = keys.copy()
    signed[0::2] *= -1  # the block of polygon p starts at bounds[p]: flip when that is odd
    total = np.zeros(keys.size + 1, dtype=_I64)
    np.cumsum(signed, out=total[1:])
    lo, hi = bounds[:-1], bounds[1:]
    sums = total[hi] - total[lo]
    np.negative(sums, out=sums, where=(lo & 1) == 1)
    odd = (hi - lo) & 1
    # an odd block has one more subtracted key than added: its offset p * stride, undone here
    return sums + odd * (np.arange(count, dtype=_I64) * stride + n)


def _runs_of_keys(
    keys: NDArray[np.int64], count: int, n: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Runs of ones ``[start, end)`` of each polygon of a batch, from its sorted keys.

    A point at index ``n`` flips nothing: it only ever closes a run at ``n`` or opens an empty
    run ``[n, n)``, so it is left in.
    """
    if keys.size == 0:
        return keys, keys
    new = np.empty(keys.size, dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    first = np.flatnonzero(new)
    keys = keys[first[(np.diff(first, append=keys.size) & 1) == 1]]  # parity-reduce
    stride = n + 1
    bounds = np.searchsorted(keys, np.arange(count + 1, dtype=_I64) * stride)
    owner = np.repeat(np.arange(count, dtype=_I64), np.diff(bounds))
    local = keys - owner * stride
    opens = np.flatnonzero(((np.arange(local.size, dtype=_I64) ^ bounds[owner]) & 1) == 0)
    closes = opens + 1
    ends = np.full(opens.size, n, dtype=_I64)
    closed = closes < bounds[owner[opens] + 1]  # else the run of ones reaches the end
    ends[closed] = local[closes[closed]]
    return local[opens], ends


def _polygons_union_toggles(
    polygons: Sequence[Sequence[float]], h: int, w: int
) -> NDArray[np.int64]:
    """Column-major flip positions of the union of polygons; validates them."""
    n = h * w
    sets = []
    for p0, p1, keys in _polygon_batches(polygons, h, w):
        starts, ends = _runs_of_keys(keys, p1 - p0, n)
        if p1 - p0 == 1:  # the runs of one polygon are disjoint and sorted already
            if starts.size and starts[-1] >= n:
                starts, ends = starts[:-1], ends[:-1]  # the empty run [n, n)
            toggles = np.empty(2 * starts.size, dtype=_I64)
            toggles[0::2], toggles[1::2] = starts, ends
            sets.append(toggles[:-1] if toggles.size and toggles[-1] >= n else toggles)
        else:
            sets.append(_merge_intervals(starts, ends, n))
    if not sets:
        return np.zeros(0, dtype=_I64)
    return sets[0] if len(sets) == 1 else _union_toggles(sets, n)


def _polygon_toggles(poly: Sequence[float] | NDArray[Any], h: int, w: int) -> NDArray[np.int64]:
    """Column-major flip positions of one polygon, as pycocotools' ``rleFrPoly``."""
    return _polygons_union_toggles([poly], h, w)


def _y_major_points(
    x0: NDArray[np.int64], y0: NDArray[np.int64], x1: NDArray[np.int64], y1: NDArray[np.int64],
    w: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(column, smaller upsampled y) of each crossing on edges stepping along y (``dy > dx``)."""
    e = _y_edges(x0, y0, x1, y1, np.zeros(x0.size, dtype=_I64), w)
    start, total = _starts(e.count)
    index = np.arange(total, dtype=_I64)
    t = _y_steps(e, 5.0 * index)
    col = np.repeat(e.first - start, e.count) + index
    return col, (np.repeat(e.ys, e.count) + t - 1).astype(_I64)


def _y_major_points_dense(
    xs: NDArray[np.int64], ys: NDArray[np.int64], dy: NDArray[np.int64],
    slope: NDArray[np.float64], w: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Reference for :func:`_y_major_points`: every unit step of y evaluated, walked from ys."""
    edge, t = _segments(dy + 1)
    u = _walk(xs[edge], slope[edge], t)
    j = np.flatnonzero((u[1:] != u[:-1]) & (edge[1:] == edge[:-1]))  # never across edges
    u_low = np.minimum(u[j], u[j + 1])
    keep = (u_low % 5 == 2) & (u_low >= 2) & (u_low <= 5 * (w - 1) + 2)
    j = j[keep]
    return (u_low[keep] - 2) // 5, ys[edge[j]] + t[j]


def _check_size(height: int, width: int) -> tuple[int, int]:
    if not (_is_int(height) and _is_int(width)) or height < 0 or width < 0:
        raise ValueError(f"An image size must be two non-negative integers, got {height}x{width}.")
    return int(height), int(width)


def polygon_areas(
    polygons: Sequence[Sequence[float]], height: int, width: int
) -> NDArray[np.int64]:
    """Pixel area of each polygon on its own, in one batch, without building any mask.

    ``out[i]`` equals pycocotools' ``mask.area(mask.frPyObjects([polygons[i]], h, w))[0]``,
    i.e. ``rasterize_polygons([polygons[i]], h, w).sum()`` (every entry is a polygon: a
    4-number list is not read as a box). All polygons' edges are walked together, batch by
    batch; each polygon's boundary points are keyed apart and sorted once, and its area is the
    sum of its (odd - even) flip positions. Raises ``ValueError`` as :func:`rasterize_polygons`.
    """
    h, w = _check_size(height, width)
    n = h * w
    polygons = polygons if isinstance(polygons, (list, tuple)) else list(polygons)
    out = np.zeros(len(polygons), dtype=_I64)
    for p0, p1, keys in _polygon_batches(polygons, h, w):
        out[p0:p1] = _areas_of_keys(keys, p1 - p0, n)
    return out


def polygon_rle(polygons: Sequence[Sequence[float]], height: int, width: int) -> Rle:
    """RLE of the union of polygons, ``mask.merge(mask.frPyObjects(polygons, h, w))``.

    Computed from the polygons' flip positions without building the mask (same rules and
    errors as :func:`rasterize_polygons`; no polygons give an empty mask).
    """
    h, w = _check_size(height, width)
    n = h * w
    toggles = _polygons_union_toggles(polygons, h, w)
    if n == 0:
        return Rle(h, w, "0")
    return Rle(h, w, counts_to_string(_counts_from_toggles(toggles, n)))


def rasterize_polygons(
    polygons: Sequence[Sequence[float]], height: int, width: int
) -> NDArray[np.bool_]:
    """Union of polygons as an ``height x width`` boolean mask, pixel for pixel as pycocotools.

    Equals ``mask.decode(mask.merge(mask.frPyObjects(polygons, h, w)))``: each polygon is
    scaled by 5, its vertices rounded with C's ``(int)(5*v + .5)`` (truncation toward zero),
    its boundary walked in unit steps, and a pixel is inside when its centre has an odd number
    of boundary crossings above it in its column (even-odd rule within a polygon, union across
    polygons). Polygons with fewer than 3 vertices give no pixels. One pycocotools quirk is not
    copied: ``frPyObjects`` reads a list whose first entry has exactly 4 numbers as boxes;
    here every entry is a polygon. Raises ``ValueError`` for an odd number of coordinates, a
    non-finite coordinate, or one beyond C ``int`` range after scaling (|v| >= 2**31 / 5).
    """
    h, w = _check_size(height, width)
    toggles = _polygons_union_toggles(polygons, h, w)
    if h * w == 0 or toggles.size == 0:
        return np.zeros((h, w), dtype=bool)
    return _mask_from_toggles(toggles, h, w)


def rasterize_polygon_with_holes(
    exterior: Sequence[float],
    holes: Sequence[Sequence[float]],
    height: int,
    width: int,
) -> NDArray[np.bool_]:
    """``rasterize_polygons([exterior]) AND NOT rasterize_polygons(holes)``.

    Each hole removes exactly the pixels pycocotools would fill for it as a polygon of its
    own, so a COCO-style "outline minus holes" shape never depends on winding direction.
    """
    mask = rasterize_polygons([exterior], height, width)
    if len(holes):
        mask &= ~rasterize_polygons(holes, height, width)
    return mask
