"""A tool added in one file (ARCHITECTURE.md, "How to add a tool"): drag a box, get the
ellipse inscribed in it as a polygon (CVAT and COCO keep ellipses as polygons). Named in
``$VELLUM_TOOLS`` it appears in the window's toolbar and Tools menu and draws on a photo, a
video frame (as a track, through the video's surface) and every pane of a volume (at that
pane's slice), with no other file touched: it only uses the tool interface and the surface
its pointer events come from. Coordinates: continuous picture pixels (CONVENTIONS.md).
"""

from __future__ import annotations

import math

from app.core.shapes import Polygon
from app.tools.base import Button, EventType, Gesture, OverlayItem, OverlayKind, PointerEvent, Tool

SIDES = 32  # vertices of the polygon standing for the ellipse


def ellipse(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    """The ellipse inscribed in the box with corners (x0, y0), (x1, y1), as SIDES points."""
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2
    return tuple((cx + rx * math.cos(2 * math.pi * n / SIDES),
                  cy + ry * math.sin(2 * math.pi * n / SIDES)) for n in range(SIDES))


class EllipseTool(Tool):
    name = "ellipse"
    label = "Ellipse"
    tooltip = "Drag a box: the ellipse inside it becomes a polygon"
    draws = True
    key_help = (("Drag", "draw the ellipse inscribed in the dragged box"),)

    def __init__(self, state) -> None:
        super().__init__(state)
        self.cursor = "cross"
        self._preview: tuple[tuple[float, float], ...] = ()

    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT or not self.state.allows("polygon"):
            return None
        return self._draw(press)

    def _draw(self, press: PointerEvent) -> Gesture:
        x0, y0 = self.clamp(*press.pos)
        e = yield
        try:
            while e.type is EventType.MOVE:
                self._preview = ellipse(x0, y0, *self.clamp(*e.pos))
                e = yield
        finally:
            self._preview = ()
        x1, y1 = self.clamp(*e.pos)
        if min(abs(x1 - x0), abs(y1 - y0)) * e.scale < 3:
            return  # a click, not a drag
        ann = self.state.add_drawn(Polygon(ellipse(x0, y0, x1, y1)), "Draw ellipse",
                                   self.pointer_place, self.surface)
        if ann is not None:
            self.state.select_drawn((ann.id,))

    def overlay(self) -> list[OverlayItem]:
        if not self._preview:
            return []
        return [OverlayItem(OverlayKind.POLYGON, self._preview, self.color(), dashed=True,
                            fill_alpha=0.15)]


TOOL = EllipseTool
