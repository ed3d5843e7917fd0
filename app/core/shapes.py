"""Geometry of 2D annotations, in continuous pixel coordinates.

Origin at the top-left corner of the top-left pixel; ``(x, y)`` = (column, row); pixel (c, r)
covers [c, c+1) x [r, r+1). Shapes are immutable values: editing one makes a new one.
Each shape serialises to a small JSON dict with a ``"type"`` key (see :func:`shape_from_json`).
Vertex lists are packed :class:`~app.core.rings.Ring` / :class:`~app.core.rings.Triples`
sequences (16-17 bytes a point; they read like tuples of tuples). Shapes use ``__slots__``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Union

import numpy as np

from app.core.rings import Ring, Triples
from app.core.rle import Rle, bbox as rle_bbox

Point = tuple[float, float]
BBox = tuple[float, float, float, float]  # x, y, w, h


def _ring(points: Any, *, minimum: int, what: str) -> Ring:
    try:
        ring = Ring(points)
    except ValueError as exc:
        raise ValueError(f"a {what} has malformed points ({exc})") from None
    if len(ring) < minimum:
        raise ValueError(f"a {what} needs at least {minimum} points, got {len(ring)}")
    if not ring.finite():
        raise ValueError(f"a {what} has a point that is not a finite number")
    return ring


def _check_box(box: Box | RotatedBox, what: str, value: str, values: tuple[float, ...]) -> None:
    """Every one of a box's ``values`` is a finite number, and its size (``w``, ``h``) is not
    negative; else ``ValueError`` saying so of the ``what`` (a box, a rotated box)."""
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"a {what} has a {value} that is not a finite number")
    if box.w < 0 or box.h < 0:
        raise ValueError(f"a {what} cannot have a negative width or height")


def _points_bbox(points: Any) -> BBox:
    if isinstance(points, Ring) and 0 < len(points) <= 256:  # small: no numpy call overhead
        v = points.coords()
        xs, ys = v[0::2], v[1::2]
        x0, y0 = min(xs), min(ys)
        return (x0, y0, max(xs) - x0, max(ys) - y0)
    a = np.asarray(points, dtype=np.float64)
    if a.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    lo, hi = a[:, :2].min(axis=0), a[:, :2].max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))


def _union_bbox(boxes: list[BBox]) -> BBox:
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return (0.0, 0.0, 0.0, 0.0)
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


def _points_json(kind: str, points: Ring | Triples, **more: Any) -> dict[str, Any]:
    """The JSON of a shape made of points: its type and points, then each of ``more`` that
    is not empty (absent from the dict otherwise)."""
    out: dict[str, Any] = {"type": kind, "points": points.tolist()}
    out.update((key, value) for key, value in more.items() if value)
    return out


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box: top-left ``(x, y)``, width ``w`` and height ``h`` in pixels (COCO bbox)."""

    x: float
    y: float
    w: float
    h: float
    kind: ClassVar[str] = "box"

    def __post_init__(self) -> None:
        _check_box(self, "box", "coordinate", (self.x, self.y, self.w, self.h))

    @classmethod
    def from_corners(cls, x0: float, y0: float, x1: float, y1: float) -> Box:
        """Box spanning two opposite corners given in any order."""
        return cls(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))

    def bbox(self) -> BBox:
        return (self.x, self.y, self.w, self.h)

    def corners(self) -> tuple[Point, ...]:
        """Corners clockwise on screen from the top-left."""
        x, y, w, h = self.x, self.y, self.w, self.h
        return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))

    def translated(self, dx: float, dy: float) -> Box:
        return Box(self.x + dx, self.y + dy, self.w, self.h)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "bbox": [self.x, self.y, self.w, self.h]}


@dataclass(frozen=True, slots=True)
class RotatedBox:
    """Box of size ``w`` x ``h`` centred on ``(cx, cy)``, turned ``angle`` degrees clockwise on
    screen (y points down) about its centre."""

    cx: float
    cy: float
    w: float
    h: float
    angle: float
    kind: ClassVar[str] = "rotated_box"

    def __post_init__(self) -> None:
        _check_box(self, "rotated box", "value", (self.cx, self.cy, self.w, self.h, self.angle))

    def corners(self) -> tuple[Point, ...]:
        """Corners in order: top-left, top-right, bottom-right, bottom-left of the unrotated box."""
        a = math.radians(self.angle)
        ca, sa = math.cos(a), math.sin(a)
        out = []
        for ux, uy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
            px, py = ux * self.w, uy * self.h
            out.append((self.cx + px * ca - py * sa, self.cy + px * sa + py * ca))
        return tuple(out)

    def bbox(self) -> BBox:
        return _points_bbox(self.corners())

    def translated(self, dx: float, dy: float) -> RotatedBox:
        return RotatedBox(self.cx + dx, self.cy + dy, self.w, self.h, self.angle)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "center": [self.cx, self.cy], "size": [self.w, self.h],
                "angle": self.angle}


@dataclass(frozen=True, slots=True)
class Polygon:
    """Closed polygon: an exterior ring, optional hole rings, and optional further outer rings
    (``parts``) of the same object: COCO's multi-part polygon (an object seen in several pieces,
    e.g. a car behind a pole). Rings list their vertices once (not repeated at the end). Its
    pixels are the union of the exterior and the parts (each filled as pycocotools fills a
    polygon) minus the union of the holes."""

    exterior: Ring
    holes: tuple[Ring, ...] = ()
    parts: tuple[Ring, ...] = ()
    kind: ClassVar[str] = "polygon"

    def __post_init__(self) -> None:
        object.__setattr__(self, "exterior", _ring(self.exterior, minimum=3, what="polygon"))
        object.__setattr__(self, "holes", tuple(
            _ring(h, minimum=3, what="polygon hole") for h in self.holes))
        object.__setattr__(self, "parts", tuple(
            _ring(p, minimum=3, what="polygon part") for p in self.parts))

    @property
    def outer(self) -> tuple[Ring, ...]:
        """The outer rings: the exterior, then the parts."""
        return (self.exterior, *self.parts)

    def bbox(self) -> BBox:
        if not self.parts:
            return _points_bbox(self.exterior)
        return _union_bbox([_points_bbox(r) for r in self.outer])

    def translated(self, dx: float, dy: float) -> Polygon:
        move = lambda ring: np.asarray(ring) + (dx, dy)  # noqa: E731
        return Polygon(move(self.exterior), tuple(move(h) for h in self.holes),
                       tuple(move(p) for p in self.parts))

    def to_json(self) -> dict[str, Any]:
        return _points_json(self.kind, self.exterior, holes=[h.tolist() for h in self.holes],
                            parts=[p.tolist() for p in self.parts])


@dataclass(frozen=True, slots=True)
class Polyline:
    """Open path through two or more vertices."""

    points: Ring
    kind: ClassVar[str] = "polyline"

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", _ring(self.points, minimum=2, what="polyline"))

    def bbox(self) -> BBox:
        return _points_bbox(self.points)

    def translated(self, dx: float, dy: float) -> Polyline:
        return Polyline(np.asarray(self.points) + (dx, dy))

    def to_json(self) -> dict[str, Any]:
        return _points_json(self.kind, self.points)


@dataclass(frozen=True, slots=True)
class Keypoints:
    """Named points of a class's skeleton, in skeleton order: ``(x, y, v)`` with COCO visibility
    v = 0 (not labelled), 1 (labelled, occluded), 2 (labelled, visible). Coordinates of
    labelled points are continuous (a point on pixel (c, r)'s centre is (c+0.5, r+0.5)); those
    of unlabelled points (v = 0) are not positions: they are kept exactly as the source wrote
    them (COCO writes 0, 0) and never moved or shifted.

    A keypoint set may carry the object it belongs to, as a COCO person does: ``box`` (its
    bounding box) and ``region`` (its outline: a :class:`Polygon`, multi-part allowed, or a
    :class:`Mask`). Editing the points keeps them (``with_points``); moving the whole shape
    moves them too. Without them, the object's box is the box of the labelled points.
    """

    points: Triples
    box: Box | None = None
    region: Polygon | Mask | None = None
    kind: ClassVar[str] = "keypoints"

    def __post_init__(self) -> None:
        try:
            pts = Triples(self.points)
        except ValueError as exc:
            raise ValueError(f"malformed keypoints ({exc})") from None
        bad = [v for _, _, v in pts if v not in (0, 1, 2)]
        if bad:
            raise ValueError(f"keypoint visibility must be 0, 1 or 2, got {bad[0]}")
        if not pts.finite():
            raise ValueError("a keypoint has a coordinate that is not a finite number")
        object.__setattr__(self, "points", pts)
        if self.box is not None and not isinstance(self.box, Box):
            raise ValueError("a keypoint set's box must be a Box")
        if self.region is not None and not isinstance(self.region, (Polygon, Mask)):
            raise ValueError("a keypoint set's region must be a polygon or a mask")

    @property
    def labelled(self) -> int:
        """Number of points with visibility > 0 (COCO ``num_keypoints``)."""
        return int(np.count_nonzero(self.points.table["v"]))

    def points_bbox(self) -> BBox:
        """Box of the labelled points (v > 0)."""
        return _points_bbox([(x, y) for x, y, v in self.points if v])

    def object_bbox(self) -> BBox:
        """The object's box, as COCO's ``bbox``: ``box``, else the region's, else the labelled
        points'."""
        if self.box is not None:
            return self.box.bbox()
        if self.region is not None:
            return self.region.bbox()
        return self.points_bbox()

    def bbox(self) -> BBox:
        """Extent of everything the shape shows: labelled points, box and region."""
        if self.box is None and self.region is None:
            return self.points_bbox()
        parts = [self.box.bbox() if self.box else None,
                 self.region.bbox() if self.region else None]
        if self.labelled:
            parts.append(self.points_bbox())
        return _union_bbox(parts)

    def with_points(self, points: Any) -> Keypoints:
        """The same object with new points (box and region kept)."""
        return replace(self, points=Triples(points))

    def translated(self, dx: float, dy: float) -> Keypoints:
        return Keypoints(tuple((x + dx, y + dy, v) if v else (x, y, v) for x, y, v in self.points),
                         self.box.translated(dx, dy) if self.box else None,
                         self.region.translated(dx, dy) if self.region else None)

    def to_json(self) -> dict[str, Any]:
        return _points_json(self.kind, self.points,
                            box=list(self.box.bbox()) if self.box is not None else None,
                            region=self.region.to_json() if self.region is not None else None)


@dataclass(frozen=True, slots=True)
class Mask:
    """Per-pixel mask over the media's full height x width, stored as COCO compressed RLE."""

    rle: Rle
    kind: ClassVar[str] = "mask"

    def bbox(self) -> BBox:
        return tuple(float(v) for v in rle_bbox(self.rle))  # type: ignore[return-value]

    def translated(self, dx: float, dy: float) -> Mask:
        import numpy as np

        from app.core.rle import decode, encode

        m = decode(self.rle)
        out = np.zeros_like(m)
        ix, iy = int(round(dx)), int(round(dy))
        h, w = m.shape
        src = m[max(0, -iy):h - max(0, iy), max(0, -ix):w - max(0, ix)]
        out[max(0, iy):max(0, iy) + src.shape[0], max(0, ix):max(0, ix) + src.shape[1]] = src
        return Mask(encode(out))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "size": [self.rle.height, self.rle.width],
                "counts": self.rle.counts}


@dataclass(frozen=True, slots=True)
class Tag:
    """A classification of a whole image, frame or volume: no geometry."""

    kind: ClassVar[str] = "tag"

    def bbox(self) -> BBox:
        return (0.0, 0.0, 0.0, 0.0)

    def translated(self, dx: float, dy: float) -> Tag:
        return self

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind}


@dataclass(frozen=True, slots=True)
class Event:
    """A label over the frame range ``start..end`` (0-based, presentation order, inclusive)."""

    start: int
    end: int
    kind: ClassVar[str] = "event"

    def __post_init__(self) -> None:
        if int(self.start) < 0 or int(self.end) < int(self.start):
            raise ValueError(f"an event needs 0 <= start <= end, got {self.start}..{self.end}")
        object.__setattr__(self, "start", int(self.start))
        object.__setattr__(self, "end", int(self.end))

    def bbox(self) -> BBox:
        return (0.0, 0.0, 0.0, 0.0)

    def translated(self, dx: float, dy: float) -> Event:
        return self

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "start": self.start, "end": self.end}


Shape = Union[Box, RotatedBox, Polygon, Polyline, Keypoints, Mask, Tag, Event]
SHAPE_KINDS: tuple[str, ...] = ("box", "rotated_box", "polygon", "polyline", "keypoints",
                                "mask", "tag", "event")
GEOMETRIC_KINDS: tuple[str, ...] = SHAPE_KINDS[:6]


def shape_from_json(obj: dict[str, Any], trusted: bool = False) -> Shape:
    """Inverse of ``shape.to_json()``; raises ``ValueError`` on a malformed dict.
    ``trusted`` (the project store reading what it wrote): a mask's counts string is taken
    as it is, canonical already, instead of being decoded and re-encoded to check it."""
    if not isinstance(obj, dict):
        raise ValueError("a shape must be a JSON object")
    kind = obj.get("type")
    try:
        if kind == "box":
            x, y, w, h = obj["bbox"]
            return Box(float(x), float(y), float(w), float(h))
        if kind == "rotated_box":
            (cx, cy), (w, h) = obj["center"], obj["size"]
            return RotatedBox(float(cx), float(cy), float(w), float(h), float(obj["angle"]))
        if kind == "polygon":
            return Polygon(obj["points"], tuple(obj.get("holes") or ()),
                           tuple(obj.get("parts") or ()))
        if kind == "polyline":
            return Polyline(obj["points"])
        if kind == "keypoints":
            box = obj.get("box")
            region = obj.get("region")
            region_shape = shape_from_json(region, trusted) if region is not None else None
            if region_shape is not None and not isinstance(region_shape, (Polygon, Mask)):
                raise ValueError("a keypoint set's region must be a polygon or a mask")
            return Keypoints(obj["points"], Box(*map(float, box)) if box is not None else None,
                             region_shape)
        if kind == "mask":
            h, w = obj["size"]
            if trusted and isinstance(obj["counts"], str):
                return Mask(Rle(int(h), int(w), obj["counts"]))
            return Mask(Rle.from_coco({"size": [h, w], "counts": obj["counts"]}))
        if kind == "tag":
            return Tag()
        if kind == "event":
            return Event(int(obj["start"]), int(obj["end"]))
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"malformed {kind} shape ({exc!r})") from exc
    raise ValueError(f"unknown shape type {kind!r}")
