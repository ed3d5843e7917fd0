"""Hit testing and vertex editing of shapes, in continuous image pixels (Qt-free).

Tolerances are in image pixels (a tool divides its screen tolerance by the view scale).
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from collections import OrderedDict
from collections.abc import Sequence
import numpy as np

from app.core.annotations import Annotation
from app.core.rle import Rle, decode
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape

Point = tuple[float, float]


# --------------------------------------------------------------------------- decoded masks
class MaskCache:
    """Decoded masks keyed by their RLE value (LRU: at most ``limit`` masks and ``budget``
    bytes, the newest always kept), shared by the canvas and the paint tools so an
    8000 x 8000 mask is decoded once, not per frame or per stroke."""

    def __init__(self, limit: int = 24, budget: int = 512 << 20) -> None:
        self._items: OrderedDict[tuple[int, int, str], np.ndarray] = OrderedDict()
        self.limit = limit
        self.budget = budget
        self._bytes = 0
        self._spare: np.ndarray | None = None  # an evicted array nobody else holds

    def working_copy(self, src: np.ndarray | None, height: int, width: int) -> np.ndarray:
        """A writeable uint8 H x W array holding ``src`` (zeros when None), in the memory of
        an evicted mask when one of that size is free: a brush press then costs one copy,
        not a fresh 64 MB allocation (the first touch of fresh pages is the slow part)."""
        spare, self._spare = self._spare, None
        if spare is None or spare.shape != (height, width):
            return np.zeros((height, width), np.uint8) if src is None else src.copy()
        if src is None:
            spare.fill(0)
        else:
            np.copyto(spare, src)
        return spare

    def get(self, rle: Rle) -> np.ndarray:
        """The H x W uint8 (0/1) array of ``rle`` (read-only; copy before editing)."""
        key = (rle.height, rle.width, rle.counts)
        arr = self._items.get(key)
        if arr is None:
            arr = decode(rle).view(np.uint8)
            arr.flags.writeable = False
            self.put(rle, arr)
        else:
            self._items.move_to_end(key)
        return arr

    def put(self, rle: Rle, arr: np.ndarray) -> None:
        """Remember that ``rle`` decodes to ``arr`` (uint8 0/1, not modified afterwards)."""
        key = (rle.height, rle.width, rle.counts)
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._items[key] = arr
        self._bytes += arr.nbytes
        while len(self._items) > 1 and (len(self._items) > self.limit
                                        or self._bytes > self.budget):
            old = self._items.popitem(last=False)[1]
            self._bytes -= old.nbytes
            self._recycle(old)

    def _recycle(self, arr: np.ndarray) -> None:
        if sys.getrefcount(arr) > 3 or arr.dtype != np.uint8:  # still used elsewhere
            return
        try:
            arr.flags.writeable = True
        except ValueError:
            return
        self._spare = arr


MASKS = MaskCache()


# --------------------------------------------------------------------------- primitives
def segment_distance(px: float, py: float, a: Point, b: Point) -> tuple[float, float]:
    """Distance from (px, py) to segment a-b, and the parameter t in [0, 1] of the nearest
    point on it."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    n2 = dx * dx + dy * dy
    t = 0.0 if n2 == 0 else min(1.0, max(0.0, ((px - ax) * dx + (py - ay) * dy) / n2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy), t


def in_ring(x: float, y: float, ring: Sequence[Point]) -> bool:
    """Even-odd point-in-polygon test."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def near_path(x: float, y: float, pts: Sequence[Point], tol: float, closed: bool) -> bool:
    n = len(pts)
    last = n if closed else n - 1
    return any(segment_distance(x, y, pts[i], pts[(i + 1) % n])[0] <= tol for i in range(last))


def outline(shape: Shape) -> list[Point]:
    """The closed outline of a box, rotated box or polygon exterior."""
    if isinstance(shape, (Box, RotatedBox)):
        return list(shape.corners())
    if isinstance(shape, Polygon):
        return list(shape.exterior)
    return []


# --------------------------------------------------------------------------- hit testing
_BBOXES: dict[int, tuple[Shape, tuple[float, float, float, float]]] = {}


def cached_bbox(shape: Shape) -> tuple[float, float, float, float]:
    """``shape.bbox()``, remembered per shape object (shapes are immutable)."""
    hit_ = _BBOXES.get(id(shape))
    if hit_ is not None and hit_[0] is shape:
        return hit_[1]
    if len(_BBOXES) > 200_000:
        _BBOXES.clear()
    box = shape.bbox()
    _BBOXES[id(shape)] = (shape, box)
    return box


def hit(shape: Shape, x: float, y: float, tol: float) -> bool:
    """Whether image point (x, y) lies on ``shape`` (inside, or within ``tol`` of its outline)."""
    bx, by, bw, bh = cached_bbox(shape)
    if x < bx - tol or y < by - tol or x > bx + bw + tol or y > by + bh + tol:
        return False
    if isinstance(shape, (Box, RotatedBox)):
        ring = outline(shape)
        return in_ring(x, y, ring) or near_path(x, y, ring, tol, True)
    if isinstance(shape, Polygon):
        if near_path(x, y, shape.exterior, tol, True):
            return True
        return in_ring(x, y, shape.exterior) and not any(in_ring(x, y, h) for h in shape.holes)
    if isinstance(shape, Polyline):
        return near_path(x, y, shape.points, tol, False)
    if isinstance(shape, Keypoints):
        return any(v and math.hypot(px - x, py - y) <= tol for px, py, v in shape.points)
    if isinstance(shape, Mask):
        c, r = int(math.floor(x)), int(math.floor(y))
        if 0 <= r < shape.rle.height and 0 <= c < shape.rle.width:
            return bool(MASKS.get(shape.rle)[r, c])
    return False


def topmost_at(anns: Sequence[Annotation], x: float, y: float, tol: float,
               prefer: Sequence[str] = ()) -> Annotation | None:
    """The annotation drawn on top at (x, y); ids in ``prefer`` (the selection) win ties."""
    hits = [a for a in anns if hit(a.shape, x, y, tol)]
    if not hits:
        return None
    preferred = [a for a in hits if a.id in prefer]
    return (preferred or hits)[-1]


def in_rect(shape: Shape, x0: float, y0: float, x1: float, y1: float) -> bool:
    """Whether the shape's bounding box lies inside the rectangle."""
    bx, by, bw, bh = cached_bbox(shape)
    return bw + bh > 0 and bx >= x0 and by >= y0 and bx + bw <= x1 and by + bh <= y1


# --------------------------------------------------------------------------- vertices
# A vertex is addressed by (ring, index): ring 0 = polygon exterior / polyline / keypoints,
# ring k >= 1 = polygon hole k-1.
VertexRef = tuple[int, int]


def rings(shape: Shape) -> list[list[Point]]:
    """Editable vertex rings of a shape (empty for shapes without free vertices)."""
    if isinstance(shape, Polygon):  # exterior, then holes, then the other outer parts
        return ([list(shape.exterior)] + [list(h) for h in shape.holes]
                + [list(p) for p in shape.parts])
    if isinstance(shape, Polyline):
        return [list(shape.points)]
    if isinstance(shape, Keypoints):
        return [[(p[0], p[1]) for p in shape.points]]
    return []


def nearest_vertex(shape: Shape, x: float, y: float, tol: float) -> VertexRef | None:
    best, ref = tol, None
    skip = {i for i, p in enumerate(shape.points) if not p[2]} if isinstance(
        shape, Keypoints) else set()
    for k, ring in enumerate(rings(shape)):
        for i, (px, py) in enumerate(ring):
            d = math.hypot(px - x, py - y)
            if d <= best and not (k == 0 and i in skip):
                best, ref = d, (k, i)
    return ref


def nearest_edge(shape: Shape, x: float, y: float, tol: float) -> tuple[VertexRef, Point] | None:
    """Edge within ``tol`` as (ref of its first vertex, nearest point on it)."""
    if not isinstance(shape, (Polygon, Polyline)):
        return None
    best, out = tol, None
    for k, ring in enumerate(rings(shape)):
        n = len(ring)
        for i in range(n if isinstance(shape, Polygon) else n - 1):
            a, b = ring[i], ring[(i + 1) % n]
            d, t = segment_distance(x, y, a, b)
            if d <= best:
                best = d
                out = ((k, i), (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
    return out


def _rebuild(shape: Shape, new_rings: list[list[Point]], dropped: int | None = None) -> Shape:
    """The shape with its rings replaced (as :func:`rings` lists them); ``dropped`` is the
    index of a ring that was removed."""
    if isinstance(shape, Polygon):
        n_holes = len(shape.holes) - (dropped is not None and 1 <= dropped <= len(shape.holes))
        rest = [tuple(r) for r in new_rings[1:]]
        return replace(shape, exterior=tuple(new_rings[0]), holes=tuple(rest[:n_holes]),
                       parts=tuple(rest[n_holes:]))
    if isinstance(shape, Polyline):
        return Polyline(tuple(new_rings[0]))
    raise TypeError(f"cannot rebuild {shape.kind}")


def move_vertex(shape: Shape, ref: VertexRef, p: Point) -> Shape:
    k, i = ref
    if isinstance(shape, Keypoints):
        pts = list(shape.points)
        pts[i] = (p[0], p[1], pts[i][2] or 2)
        return shape.with_points(tuple(pts))
    rs = rings(shape)
    rs[k][i] = p
    return _rebuild(shape, rs)


def insert_vertex(shape: Shape, after: VertexRef, p: Point) -> tuple[Shape, VertexRef]:
    """Insert ``p`` after vertex ``after``; returns the new shape and the new vertex's ref."""
    k, i = after
    rs = rings(shape)
    rs[k].insert(i + 1, p)
    return _rebuild(shape, rs), (k, i + 1)


def delete_vertex(shape: Shape, ref: VertexRef) -> Shape | None:
    """Shape without that vertex; a hole that would fall below 3 vertices is dropped. None
    when the shape itself would become invalid (the caller may then delete it)."""
    k, i = ref
    if isinstance(shape, Keypoints):
        pts = list(shape.points)
        pts[i] = (pts[i][0], pts[i][1], 0)  # not labelled; coordinates kept as they were
        return shape.with_points(tuple(pts))
    rs = rings(shape)
    del rs[k][i]
    minimum = 3 if isinstance(shape, Polygon) else 2
    if len(rs[k]) < minimum:
        if k == 0:
            return None
        del rs[k]
        return _rebuild(shape, rs, dropped=k)
    return _rebuild(shape, rs)



# --------------------------------------------------------------------------- degenerate shapes
MIN_SCREEN = 3.0  # screen px: a new shape thinner than this on screen is a stray gesture
MIN_IMAGE = 3.0  # image px: a new shape that fits in a square this size is no object


def ring_area(ring: Sequence[Point]) -> float:
    """Area (image px², unsigned, shoelace) enclosed by a closed ring."""
    n = len(ring)
    s = 0.0
    for i in range(n):
        x0, y0 = ring[i]
        x1, y1 = ring[(i + 1) % n]
        s += x0 * y1 - x1 * y0
    return abs(s) / 2.0


def too_small(shape: Shape, scale: float) -> str | None:
    """Why a new ``shape`` drawn at ``scale`` (screen px per image px) is too small to keep,
    or None. One rule for every tool, so that a stray click or a press-and-drag of a few
    pixels never leaves a sliver behind: a box, rotated box or polygon needs an area, at
    least :data:`MIN_SCREEN` screen pixels each way (and a polygon MIN_SCREEN² screen px² of
    area), and must not fit within :data:`MIN_IMAGE` x MIN_IMAGE image pixels; nor may a
    polyline. (Zoom in to draw thin objects; an object under 3 px is a box's job.)"""
    s = max(scale, 1e-9)
    name = shape.kind.replace("_", " ")
    small = (f"Too small: the {name} is under {MIN_IMAGE:.0f} pixels; it was not added "
             "(zoom in to draw small objects).")
    if isinstance(shape, (Box, RotatedBox, Polygon)):
        if isinstance(shape, Polygon):
            area = ring_area(shape.exterior)
            _, _, w, h = shape.bbox()
        else:
            w, h = shape.w, shape.h
            area = w * h
        if area <= 0:
            return f"The {name} has no area (its points are in a line); it was not added."
        if min(w, h) * s < MIN_SCREEN or max(w, h) < MIN_IMAGE or (
                isinstance(shape, Polygon) and area * s * s < MIN_SCREEN ** 2):
            return small
        return None
    if isinstance(shape, Polyline):  # its extent: a wiggle within 3 px is a twitch
        _, _, w, h = shape.bbox()
        if max(w, h) * s < MIN_SCREEN or max(w, h) < MIN_IMAGE:
            return small.replace("under", "shorter than")
    return None


# --------------------------------------------------------------------------- keypoint names
def keypoint_at(anns: Sequence[Annotation], names: dict[str | None, tuple[str, ...]],
                x: float, y: float, tol: float) -> tuple[Annotation, int] | None:
    """The labelled keypoint nearest (x, y) within ``tol`` image px, topmost shape first, as
    (annotation, point index); ``names`` maps class ids to their skeleton's point names."""
    best: tuple[float, Annotation, int] | None = None
    for a in reversed(anns):
        if not isinstance(a.shape, Keypoints) or a.class_id not in names:
            continue
        for i, (px, py, v) in enumerate(a.shape.points):
            d = math.hypot(px - x, py - y)
            if v and d <= tol and (best is None or d < best[0]):
                best = (d, a, i)
        if best is not None:
            return best[1], best[2]
    return None


# --------------------------------------------------------------------------- clipping
def clip_ring(ring: Sequence[Point], w: float, h: float) -> list[Point]:
    """The part of a closed ring inside [0, w] x [0, h] (Sutherland-Hodgman; image px)."""
    pts = list(ring)
    for axis, limit, keep_below in ((0, 0.0, False), (0, w, True), (1, 0.0, False),
                                    (1, h, True)):
        if not pts:
            break
        out: list[Point] = []
        inside = (lambda p: p[axis] <= limit) if keep_below else (lambda p: p[axis] >= limit)
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            if inside(cur) != inside(prev):
                t = (limit - prev[axis]) / (cur[axis] - prev[axis])
                q = (prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1]))
                out.append((limit, q[1]) if axis == 0 else (q[0], limit))
            if inside(cur):
                out.append(cur)
        pts = out
    return pts


def inside_image(shape: Shape, w: float, h: float) -> bool:
    """Whether the shape's bounding box lies within [0, w] x [0, h]."""
    x, y, bw, bh = shape.bbox()
    return x >= 0 and y >= 0 and x + bw <= w and y + bh <= h


def clipped_to_image(shape: Shape, w: float, h: float) -> Shape | None:
    """``shape`` cut to the image [0, w] x [0, h] (image px): unchanged when inside; a box or
    polygon keeps its part inside; keypoints outside become not labelled; a rotated box or a
    polyline that sticks out is not cut (None), nor is anything with nothing left inside."""
    if inside_image(shape, w, h):
        return shape
    if isinstance(shape, Box):
        x0, y0 = max(shape.x, 0.0), max(shape.y, 0.0)
        x1, y1 = min(shape.x + shape.w, float(w)), min(shape.y + shape.h, float(h))
        return Box(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None
    if isinstance(shape, Polygon):
        outer = clip_ring(shape.exterior, w, h)
        if len(outer) < 3 or ring_area(outer) == 0:
            return None
        holes = [r for r in (clip_ring(hole, w, h) for hole in shape.holes)
                 if len(r) >= 3 and ring_area(r) > 0]
        parts = [r for r in (clip_ring(part, w, h) for part in shape.parts)
                 if len(r) >= 3 and ring_area(r) > 0]
        return Polygon(tuple(outer), tuple(tuple(r) for r in holes),
                       tuple(tuple(r) for r in parts))
    if isinstance(shape, Keypoints):
        pts = tuple((x, y, v) if v and 0 <= x <= w and 0 <= y <= h else (0.0, 0.0, 0)
                    for x, y, v in shape.points)
        return shape.with_points(pts) if any(v for _, _, v in pts) else None
    return None
