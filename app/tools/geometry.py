"""Hit testing and vertex editing of shapes, in continuous image pixels (Qt-free).

Tolerances are in image pixels (a tool divides its screen tolerance by the view scale).
"""

from __future__ import annotations

import math
import sys
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
    if isinstance(shape, Polygon):
        return [list(shape.exterior)] + [list(h) for h in shape.holes]
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


def _rebuild(shape: Shape, new_rings: list[list[Point]]) -> Shape:
    if isinstance(shape, Polygon):
        return Polygon(tuple(new_rings[0]), tuple(tuple(r) for r in new_rings[1:]))
    if isinstance(shape, Polyline):
        return Polyline(tuple(new_rings[0]))
    raise TypeError(f"cannot rebuild {shape.kind}")


def move_vertex(shape: Shape, ref: VertexRef, p: Point) -> Shape:
    k, i = ref
    if isinstance(shape, Keypoints):
        pts = list(shape.points)
        pts[i] = (p[0], p[1], pts[i][2] or 2)
        return Keypoints(tuple(pts))
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
        pts[i] = (0.0, 0.0, 0)
        return Keypoints(tuple(pts))
    rs = rings(shape)
    del rs[k][i]
    minimum = 3 if isinstance(shape, Polygon) else 2
    if len(rs[k]) < minimum:
        if k == 0:
            return None
        del rs[k]
    return _rebuild(shape, rs)

