"""Overlay items that draw a shape (for tools previewing a moved or edited annotation)."""

from __future__ import annotations

from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape
from app.tools.base import OverlayItem, OverlayKind


def shape_overlay(shape: Shape, color: str, width: float = 2.0, fill_alpha: float = 0.2,
                  dashed: bool = False) -> list[OverlayItem]:
    """Outline (and light fill) of ``shape`` in image coordinates; masks show their box."""
    if isinstance(shape, Box):
        return [OverlayItem(OverlayKind.RECT,
                            ((shape.x, shape.y), (shape.x + shape.w, shape.y + shape.h)),
                            color, width, dashed, fill_alpha)]
    if isinstance(shape, RotatedBox):
        return [OverlayItem(OverlayKind.POLYGON, shape.corners(), color, width, dashed, fill_alpha)]
    if isinstance(shape, Polygon):
        return [OverlayItem(OverlayKind.POLYGON, shape.exterior, color, width, dashed,
                            fill_alpha)] + [
            OverlayItem(OverlayKind.POLYGON, h, color, width, dashed) for h in shape.holes]
    if isinstance(shape, Polyline):
        return [OverlayItem(OverlayKind.POLYLINE, shape.points, color, width, dashed)]
    if isinstance(shape, Keypoints):
        pts = tuple((x, y) for x, y, v in shape.points if v)
        return [OverlayItem(OverlayKind.POINTS, pts, color, point_size=8.0)] if pts else []
    if isinstance(shape, Mask):
        x, y, w, h = shape.bbox()
        return [OverlayItem(OverlayKind.RECT, ((x, y), (x + w, y + h)), color, width, True)]
    return []
