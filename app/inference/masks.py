"""What a model's mask becomes: COCO RLE, simplified polygons with holes, a box; and the one
window/level mapping that turns a volume slice into the 8-bit image an encoder sees.

Polygons are in continuous pixel coordinates (CONVENTIONS.md): ``cv2.findContours`` traces the
centres of boundary pixels, so each traced ring is moved to pixel-centre coordinates (+0.5) and
grown by half a pixel (mitred), which puts straight edges exactly on the pixel edges and keeps
holes as holes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.core import rle as R
from app.core.shapes import Box, Mask, Polygon


def window_to_uint8(values: np.ndarray, width: float, level: float) -> np.ndarray:
    """Window/level to 8-bit: ``round(clip((v - (level - width / 2)) / width * 255, 0, 255))``
    (the same bytes as the reference CT PNGs); ``values`` in real units (HU for CT)."""
    if width <= 0:
        raise ValueError("a window width must be positive")
    low = level - width / 2.0
    scaled = (np.asarray(values, np.float32) - np.float32(low)) * np.float32(255.0 / width)
    return np.round(np.clip(scaled, 0, 255)).astype(np.uint8)


def mask_to_rle(mask: np.ndarray) -> R.Rle:
    """COCO compressed RLE of a boolean ``H x W`` mask (bit-identical with pycocotools)."""
    return R.encode(np.asarray(mask, bool))


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """Tight box ``(x, y, w, h)`` in continuous pixel coordinates, None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1 - cols[0]),
            float(rows[-1] + 1 - rows[0]))


def _grow(points: np.ndarray):
    """A traced ring (pixel-centre coordinates) grown by half a pixel, as shapely geometry."""
    from shapely.geometry import LineString, Point
    from shapely.geometry import Polygon as SPolygon

    if len(points) == 1:
        return Point(points[0]).buffer(0.5, cap_style="square")
    ring = SPolygon(points) if len(points) >= 3 else None
    if ring is None or ring.area < 1e-9:
        return LineString(points).buffer(0.5, cap_style="square", join_style="mitre")
    if not ring.is_valid:
        ring = ring.buffer(0)
    return ring.buffer(0.5, join_style="mitre", mitre_limit=2.0)


def _rings(geom) -> list[Polygon]:
    parts = getattr(geom, "geoms", [geom])
    out = []
    for part in parts:
        if part.is_empty or part.geom_type != "Polygon" or part.area <= 0:
            continue
        exterior = [(float(x), float(y)) for x, y in list(part.exterior.coords)[:-1]]
        holes = tuple(tuple((float(x), float(y)) for x, y in list(h.coords)[:-1])
                      for h in part.interiors if len(h.coords) >= 4)
        if len(exterior) >= 3:
            out.append(Polygon(tuple(exterior), holes))
    return out


def mask_to_polygons(mask: np.ndarray, tolerance: float = 0.7,
                     min_area: float = 1.0) -> list[Polygon]:
    """Simplified polygons (holes kept) covering ``mask``; ``tolerance`` is the Douglas-Peucker
    distance in pixels (``cv2.approxPolyDP``); parts smaller than ``min_area`` px are dropped."""
    m = np.ascontiguousarray(np.asarray(mask, bool).astype(np.uint8))
    if not m.any():
        return []
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]

    def traced(i: int) -> np.ndarray:
        c = contours[i]
        if tolerance > 0 and len(c) > 2:
            c = cv2.approxPolyDP(c, tolerance, True)
        return c.reshape(-1, 2).astype(np.float64) + 0.5

    out: list[Polygon] = []
    for i, (_next, _prev, child, parent) in enumerate(hierarchy):
        if parent != -1:
            continue
        shape = _grow(traced(i))
        j = child
        while j != -1:
            hole = traced(j)
            if len(hole) >= 3:
                from shapely.geometry import Polygon as SPolygon

                inner = SPolygon(hole)
                if inner.is_valid and inner.area > 0:
                    shape = shape.difference(inner.buffer(-0.5, join_style="mitre",
                                                           mitre_limit=2.0))
            j = hierarchy[j][0]
        out += [p for p in _rings(shape) if _area(p) >= min_area]
    return out


def _area(p: Polygon) -> float:
    def ring_area(r) -> float:
        a = np.asarray(r)
        x, y = a[:, 0], a[:, 1]
        return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2
    return ring_area(p.exterior) - sum(ring_area(h) for h in p.holes)


@dataclass(frozen=True)
class SamMask:
    """One answer of a segmentation model: a boolean mask of the media's full ``H x W``, its
    predicted IoU as ``score`` and the model id as ``source``."""

    mask: np.ndarray
    score: float
    source: str

    def rle(self) -> R.Rle:
        return mask_to_rle(self.mask)

    def shape(self) -> Mask:
        """As an ``app.core.shapes.Mask`` (RLE)."""
        return Mask(self.rle())

    def polygons(self, tolerance: float = 0.7) -> list[Polygon]:
        return mask_to_polygons(self.mask, tolerance)

    def box(self) -> Box | None:
        b = mask_box(self.mask)
        return Box(*b) if b else None

    @property
    def empty(self) -> bool:
        return not bool(self.mask.any())
