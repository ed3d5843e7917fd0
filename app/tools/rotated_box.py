"""Rotated box tool: draw one edge (drag, or click its two ends), then move the pointer to
set the height and click. The first edge fixes the angle (degrees, clockwise on screen).

Escape cancels, Backspace steps back. Coordinates are image pixels.
"""

from __future__ import annotations

import math

from app.core.shapes import RotatedBox
from app.tools.base import (Button, ClickTool, EventType, Gesture, KeyEvent, OverlayItem,
                            OverlayKind, PointerEvent)
from app.tools.box import crosshair
from app.tools.geometry import MIN_SCREEN, too_small
from app.tools.handles import Handles

Point = tuple[float, float]


def box_from(p0: Point, p1: Point, q: Point) -> RotatedBox:
    """Rotated box with edge p0-p1 and the opposite edge through q's perpendicular offset."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    w = math.hypot(dx, dy)
    a = math.atan2(dy, dx)
    ux, uy = (dx / w, dy / w) if w else (1.0, 0.0)
    vx, vy = -uy, ux
    d = (q[0] - p0[0]) * vx + (q[1] - p0[1]) * vy
    cx = (p0[0] + p1[0]) / 2 + vx * d / 2
    cy = (p0[1] + p1[1]) / 2 + vy * d / 2
    return RotatedBox(cx, cy, w, abs(d), math.degrees(a))


class RotatedBoxTool(Handles, ClickTool):
    name = "rotated_box"
    label = "Rotated box"
    shortcut = "T"
    tooltip = "Draw one edge (drag or two clicks), then click to set the height (T)"
    keys = frozenset({"Escape", "Backspace"})
    draws = True
    key_help = (("Drag, or two clicks", "the first edge (sets the angle)"),
                ("Click", "the height"), ("Backspace", "step back"),
                ("Esc", "cancel the box being drawn"))

    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT:
            return None
        self._scale = press.scale
        if not self.points:
            resize = self.grab_handle(press)
            if resize is not None:
                return resize
            if not self.state.allows("rotated_box"):
                return None
        return self._click(press)

    def hover(self, e: PointerEvent) -> None:
        self._scale = e.scale

    def editing_ids(self) -> frozenset[str]:
        return self.resizing_ids()

    def _click(self, press: PointerEvent) -> Gesture:
        p = self.clamp(*press.pos)
        if len(self.points) == 2:
            self._commit(box_from(self.points[0], self.points[1], p), press.scale)
            return
        self.points.append(p)
        e = yield
        while e.type is EventType.MOVE:
            e = yield
        if len(self.points) == 1 and math.dist(p, e.pos) * e.scale >= MIN_SCREEN:
            self.points.append(self.clamp(*e.pos))  # the edge was dragged out
        elif len(self.points) == 2 and math.dist(*self.points) * e.scale < MIN_SCREEN:
            self.points.pop()  # second click on the first: not an edge yet

    def _commit(self, box: RotatedBox, scale: float) -> None:
        self.points = []
        reason = too_small(box, scale)
        if reason:
            self.message(reason)
            return
        ann = self.state.add_drawn(box, "Draw rotated box", self.pointer_place, self.surface)
        if ann is not None:
            self.state.select_drawn((ann.id,))

    def key(self, e: KeyEvent) -> bool:
        if e.key == "Backspace" and self.points:
            self.points.pop()
            return True
        if e.key == "Escape" and self.busy:
            self.cancel()
            return True
        return False

    def overlay(self) -> list[OverlayItem]:
        color = self.color()
        cur = self.hover_pos
        items = crosshair(self)
        if self._resizing is not None:
            items.append(OverlayItem(OverlayKind.POLYGON, self._resizing[1].corners(),
                                     self.state.class_color(self._resizing[0]), 2.5,
                                     fill_alpha=0.3))
        if not self.points or cur is None:
            return items + (self.handle_overlay(self._scale) if not self.points else [])
        if len(self.points) == 1:
            return items + [OverlayItem(OverlayKind.POLYLINE, (self.points[0], cur), color,
                                        width=2.0),
                            OverlayItem(OverlayKind.POINTS, (self.points[0],), color)]
        box = box_from(self.points[0], self.points[1], cur)
        return items + [OverlayItem(OverlayKind.POLYGON, box.corners(), color, dashed=True,
                                    fill_alpha=0.15),
                        OverlayItem(OverlayKind.POLYLINE, tuple(self.points), color, width=2.5)]
