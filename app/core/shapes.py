"""Geometry of 2D annotations, in continuous pixel coordinates.

Origin at the top-left corner of the top-left pixel; ``(x, y)`` = (column, row); pixel (c, r)
covers [c, c+1) x [r, r+1). Shapes are immutable values: editing one makes a new one.
Each shape serialises to a small JSON dict with a ``"type"`` key (see :func:`shape_from_json`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Union

from app.core.rle import Rle, bbox as rle_bbox

Point = tuple[float, float]
Ring = tuple[Point, ...]
BBox = tuple[float, float, float, float]  # x, y, w, h


def _ring(points: Any, *, minimum: int, what: str) -> Ring:
    ring = tuple((float(p[0]), float(p[1])) for p in points)
    if len(ring) < minimum:
        raise ValueError(f"a {what} needs at least {minimum} points, got {len(ring)}")
    for x, y in ring:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"a {what} has a point that is not a finite number")
    return ring


def _points_bbox(points: Any) -> BBox:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    if not xs:
        return (0.0, 0.0, 0.0, 0.0)
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


@dataclass(frozen=True)
class Box:
    """Axis-aligned box: top-left ``(x, y)``, width ``w`` and height ``h`` in pixels (COCO bbox)."""

    x: float
    y: float
    w: float
    h: float
    kind: ClassVar[str] = "box"

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.x, self.y, self.w, self.h)):
            raise ValueError("a box has a coordinate that is not a finite number")
        if self.w < 0 or self.h < 0:
            raise ValueError("a box cannot have a negative width or height")

    @classmethod
    def from_corners(cls, x0: float, y0: float, x1: float, y1: float) -> Box:
        """Box spanning two opposite corners given in any order."""
        return cls(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))

    def bbox(self) -> BBox:
        return (self.x, self.y, self.w, self.h)

    def corners(self) -> Ring:
        """Corners clockwise on screen from the top-left."""
        x, y, w, h = self.x, self.y, self.w, self.h
        return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))

    def translated(self, dx: float, dy: float) -> Box:
        return Box(self.x + dx, self.y + dy, self.w, self.h)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "bbox": [self.x, self.y, self.w, self.h]}


@dataclass(frozen=True)
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
        if not all(math.isfinite(v) for v in (self.cx, self.cy, self.w, self.h, self.angle)):
            raise ValueError("a rotated box has a value that is not a finite number")
        if self.w < 0 or self.h < 0:
            raise ValueError("a rotated box cannot have a negative width or height")

    def corners(self) -> Ring:
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


@dataclass(frozen=True)
class Polygon:
    """Closed polygon: an exterior ring and optional hole rings (vertices, not repeated at end)."""

    exterior: Ring
    holes: tuple[Ring, ...] = ()
    kind: ClassVar[str] = "polygon"

    def __post_init__(self) -> None:
        object.__setattr__(self, "exterior", _ring(self.exterior, minimum=3, what="polygon"))
        object.__setattr__(self, "holes", tuple(
            _ring(h, minimum=3, what="polygon hole") for h in self.holes))

    def bbox(self) -> BBox:
        return _points_bbox(self.exterior)

    def translated(self, dx: float, dy: float) -> Polygon:
        move = lambda ring: tuple((x + dx, y + dy) for x, y in ring)  # noqa: E731
        return Polygon(move(self.exterior), tuple(move(h) for h in self.holes))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "points": [list(p) for p in self.exterior]}
        if self.holes:
            out["holes"] = [[list(p) for p in h] for h in self.holes]
        return out


@dataclass(frozen=True)
class Polyline:
    """Open path through two or more vertices."""

    points: Ring
    kind: ClassVar[str] = "polyline"

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", _ring(self.points, minimum=2, what="polyline"))

    def bbox(self) -> BBox:
        return _points_bbox(self.points)

    def translated(self, dx: float, dy: float) -> Polyline:
        return Polyline(tuple((x + dx, y + dy) for x, y in self.points))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "points": [list(p) for p in self.points]}


@dataclass(frozen=True)
class Keypoints:
    """Named points of a class's skeleton, in skeleton order: ``(x, y, v)`` with COCO visibility
    v = 0 (not labelled; x, y meaningless), 1 (labelled, occluded), 2 (labelled, visible).
    Coordinates are continuous (a point on pixel (c, r)'s centre is (c+0.5, r+0.5))."""

    points: tuple[tuple[float, float, int], ...]
    kind: ClassVar[str] = "keypoints"

    def __post_init__(self) -> None:
        pts = []
        for p in self.points:
            x, y, v = float(p[0]), float(p[1]), int(p[2])
            if v not in (0, 1, 2):
                raise ValueError(f"keypoint visibility must be 0, 1 or 2, got {v}")
            if v and not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError("a keypoint has a coordinate that is not a finite number")
            pts.append((x, y, v) if v else (0.0, 0.0, 0))
        object.__setattr__(self, "points", tuple(pts))

    @property
    def labelled(self) -> int:
        """Number of points with visibility > 0 (COCO ``num_keypoints``)."""
        return sum(1 for p in self.points if p[2] > 0)

    def bbox(self) -> BBox:
        return _points_bbox([p for p in self.points if p[2] > 0])

    def translated(self, dx: float, dy: float) -> Keypoints:
        return Keypoints(tuple((x + dx, y + dy, v) if v else (x, y, v) for x, y, v in self.points))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "points": [list(p) for p in self.points]}


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Tag:
    """A classification of a whole image, frame or volume: no geometry."""

    kind: ClassVar[str] = "tag"

    def bbox(self) -> BBox:
        return (0.0, 0.0, 0.0, 0.0)

    def translated(self, dx: float, dy: float) -> Tag:
        return self

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind}


@dataclass(frozen=True)
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


def shape_from_json(obj: dict[str, Any]) -> Shape:
    """Inverse of ``shape.to_json()``; raises ``ValueError`` on a malformed dict."""
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
            return Polygon(tuple(map(tuple, obj["points"])),
                           tuple(tuple(map(tuple, h)) for h in obj.get("holes", [])))
        if kind == "polyline":
            return Polyline(tuple(map(tuple, obj["points"])))
        if kind == "keypoints":
            return Keypoints(tuple(tuple(p) for p in obj["points"]))  # type: ignore[misc]
        if kind == "mask":
            h, w = obj["size"]
            return Mask(Rle.from_coco({"size": [h, w], "counts": obj["counts"]}))
        if kind == "tag":
            return Tag()
        if kind == "event":
            return Event(int(obj["start"]), int(obj["end"]))
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"malformed {kind} shape ({exc!r})") from exc
    raise ValueError(f"unknown shape type {kind!r}")
