"""What the CVAT reader and writer share: mask run lengths, ellipses, numbers, attributes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.core.schema import AttributeSpec, AttributeType

CVAT = "cvat"  # the key of CVAT's fields in ``foreign``
ELLIPSE_VERTICES = 64
SKIP_ATTRS = {"vellum_id"}

# CVAT input_type <-> Vellum attribute type
INPUT_TYPES = {"checkbox": AttributeType.BOOL, "select": AttributeType.ENUM,
               "radio": AttributeType.ENUM, "number": AttributeType.NUMBER,
               "text": AttributeType.TEXT}
OUTPUT_TYPES = {AttributeType.BOOL: "checkbox", AttributeType.ENUM: "select",
                AttributeType.NUMBER: "number", AttributeType.TEXT: "text"}


def num(v: float) -> str:
    """A coordinate as CVAT reads it: at most 6 decimals, no trailing zeros."""
    v = float(v)
    if not math.isfinite(v):
        raise ValueError("a coordinate is not a finite number")
    s = f"{round(v, 6):.6f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def points_text(points: Any) -> str:
    """``x1,y1;x2,y2;...`` of a ring."""
    return ";".join(f"{num(x)},{num(y)}" for x, y in points)


def parse_points(text: str) -> list[tuple[float, float]]:
    """The inverse of :func:`points_text`; ``ValueError`` when malformed or not finite."""
    out = []
    for pair in text.strip().split(";"):
        xs = pair.split(",")
        if len(xs) != 2:
            raise ValueError(f"{pair!r} is not x,y")
        x, y = float(xs[0]), float(xs[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError("a point is not finite")
        out.append((x, y))
    return out


def ellipse_ring(cx: float, cy: float, rx: float, ry: float, rotation: float,
                 n: int = ELLIPSE_VERTICES) -> list[tuple[float, float]]:
    """``n`` vertices on CVAT's ellipse (centre, radii, ``rotation`` degrees clockwise on
    screen), starting at the end of the x radius, rounded as :func:`num` writes them."""
    a = math.radians(rotation)
    ca, sa = math.cos(a), math.sin(a)
    out = []
    for k in range(n):
        t = 2 * math.pi * k / n
        px, py = rx * math.cos(t), ry * math.sin(t)
        out.append((round(cx + px * ca - py * sa, 6), round(cy + px * sa + py * ca, 6)))
    return out


def mask_to_cvat(mask: np.ndarray) -> tuple[str, int, int, int, int] | None:
    """(rle, left, top, width, height) of a full-picture boolean mask: run lengths over the
    tight pixel box, row-major, background first; None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    crop = mask[top:bottom + 1, left:right + 1].ravel()
    change = np.flatnonzero(np.diff(crop.astype(np.int8))) + 1
    bounds = np.concatenate(([0], change, [crop.size]))
    counts = np.diff(bounds).tolist()
    if crop[0]:
        counts = [0] + counts
    return (", ".join(map(str, counts)), left, top, right - left + 1, bottom - top + 1)


def mask_from_cvat(rle: str, left: int, top: int, width: int, height: int, h: int, w: int
                   ) -> np.ndarray:
    """The full ``h`` x ``w`` mask of CVAT run lengths; ``ValueError`` when they do not fill
    the box exactly or the box leaves the picture."""
    if width <= 0 or height <= 0 or left < 0 or top < 0 or left + width > w or \
            top + height > h:
        raise ValueError(f"the mask box {left},{top} {width}x{height} is not inside the "
                         f"{w}x{h} picture")
    counts = np.array([int(c) for c in rle.replace(" ", "").split(",") if c != ""],
                      dtype=np.int64)
    if counts.size == 0 or (counts < 0).any() or int(counts.sum()) != width * height:
        raise ValueError(f"the mask's run lengths do not add up to its {width}x{height} box")
    values = np.zeros(counts.size, dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    out = np.zeros((h, w), dtype=bool)
    out[top:top + height, left:left + width] = flat.reshape(height, width)
    return out


def spec_from_cvat(name: str, input_type: str, mutable: bool, default: str,
                   values: list[str]) -> AttributeSpec:
    """A Vellum attribute of a CVAT ``<attribute>`` declaration."""
    kind = INPUT_TYPES.get(input_type, AttributeType.TEXT)
    if kind is AttributeType.ENUM:
        return AttributeSpec(name, kind, options=tuple(values), dynamic=mutable,
                             default=default if default in values else None)
    if kind is AttributeType.NUMBER:
        lo = hi = None
        try:
            if len(values) >= 2:
                lo, hi = float(values[0]), float(values[1])
        except ValueError:
            lo = hi = None
        d = value_from_cvat(AttributeSpec(name, kind), default)
        return AttributeSpec(name, kind, dynamic=mutable, minimum=lo, maximum=hi,
                             default=d if isinstance(d, (int, float)) and not isinstance(
                                 d, bool) else None)
    if kind is AttributeType.BOOL:
        return AttributeSpec(name, kind, dynamic=mutable, default=default.lower() == "true")
    return AttributeSpec(name, kind, dynamic=mutable, default=default or None)


def value_from_cvat(spec: AttributeSpec | None, text: str) -> Any:
    """A value as its declared type (text when undeclared or not of that type)."""
    if spec is None:
        return text
    if spec.type is AttributeType.BOOL:
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    if spec.type is AttributeType.NUMBER:
        try:
            v = float(text)
        except ValueError:
            return text
        if not math.isfinite(v):
            return text
        return int(v) if v.is_integer() and "." not in text and "e" not in text.lower() else v
    return text


def value_to_cvat(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(v)
    return str(v)
