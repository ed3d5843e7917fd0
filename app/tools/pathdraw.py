"""Shared drawing of vertex paths for the polygon and polyline tools (image pixels).

Click to add vertices; press and drag to add them freehand; Backspace removes the last one;
Escape cancels; Enter or a double click finishes. A subclass says whether its path closes.
"""

from __future__ import annotations

import math
from typing import ClassVar

from app.tools.base import (Button, ClickTool, EventType, Gesture, KeyEvent, OverlayItem,
                            OverlayKind, PointerEvent)
from app.tools.geometry import too_small

FREEHAND_START = 4.0  # screen px the pointer must travel with the button down to go freehand
FREEHAND_STEP = 3.0  # screen px between freehand vertices

Point = tuple[float, float]


class PathTool(ClickTool):
    """Base of :class:`PolygonTool` and :class:`PolylineTool`."""

    closed: ClassVar[bool] = True
    min_points: ClassVar[int] = 3
    keys = frozenset({"Escape", "Return", "Enter", "Backspace"})
    draws = True

    def __init__(self, state) -> None:
        super().__init__(state)
        self._scale = 1.0

    def _near_first(self, e: PointerEvent) -> bool:
        if not self.closed or len(self.points) < self.min_points:
            return False
        x0, y0 = self.points[0]
        return math.hypot(e.x - x0, e.y - y0) <= e.tolerance()

    # ------------------------------------------------------------------ gesture
    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT:
            return None
        if self._near_first(press):
            self.finish()
            return None
        if not self.points and not self.begin(press):
            return None
        return self._add(press)

    def _add(self, press: PointerEvent) -> Gesture:
        started_empty = not self.points
        self.points.append(self.clamp(*press.pos))
        freehand = False
        e = yield
        while e.type is EventType.MOVE:
            self._scale = e.scale
            if not freehand and math.dist(press.pos, e.pos) * e.scale >= FREEHAND_START:
                freehand = True
            if freehand and math.dist(self.points[-1], e.pos) * e.scale >= FREEHAND_STEP:
                self.points.append(self.clamp(*e.pos))
            e = yield
        if freehand and started_empty:
            if len(self.points) >= self.min_points:
                self.finish()  # one freehand stroke from nothing is a whole shape
            else:
                self.cancel()  # a twitch of a few pixels is not the start of a shape

    def double_click(self, e: PointerEvent) -> None:
        if len(self.points) >= self.min_points:
            self.finish()
        else:
            self.press(e)

    def hover(self, e: PointerEvent) -> None:
        self._scale = e.scale

    def key(self, e: KeyEvent) -> bool:
        if e.key == "Escape" and self.busy:
            self.cancel()
            return True
        if e.key in ("Return", "Enter") and self.points:
            if len(self.points) >= self.min_points:
                self.finish()
            else:
                self.message(f"A {self.name} needs at least {self.min_points} points.")
            return True
        if e.key == "Backspace" and self.points:
            self.points.pop()
            return True
        return False

    # ------------------------------------------------------------------ subclass hooks
    def begin(self, press: PointerEvent) -> bool:
        """First vertex is about to be placed; False refuses to start."""
        return self.state.allows(self.name)

    def commit(self, points: list[Point]) -> None:
        """Turn the finished vertex list into a command."""
        raise NotImplementedError

    def shape_of(self, points: list[Point]):  # noqa: ANN201
        """The shape the vertices make (checked for size before :meth:`commit`)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Commit the path (if long enough and not degenerate) and start afresh."""
        points = _dedupe(self.points)
        try:
            if len(points) < self.min_points:
                self.message(f"A {self.name} needs at least {self.min_points} distinct points.")
            elif reason := too_small(self.shape_of(points), self._scale):
                self.message(reason)
            else:
                self.commit(points)
        finally:
            self.cancel()

    def finish_shape(self) -> bool:
        if not self.points:
            return False
        self.finish()
        return True

    # ------------------------------------------------------------------ drawing
    def path_color(self) -> str:
        return self.color()

    def overlay(self) -> list[OverlayItem]:
        if not self.points:
            return []
        color = self.path_color()
        pts = tuple(self.points)
        items = [OverlayItem(OverlayKind.POLYLINE, pts, color, width=2.0)]
        if self.hover_pos is not None and self._gesture is None:
            items.append(OverlayItem(OverlayKind.POLYLINE, (pts[-1], self.hover_pos), color,
                                     dashed=True))
            if self.closed and len(pts) >= 2:
                items.append(OverlayItem(OverlayKind.POLYLINE, (self.hover_pos, pts[0]), color,
                                         dashed=True, width=1.0))
        items.append(OverlayItem(OverlayKind.POINTS, pts, color, point_size=6.0))
        if self.closed and len(pts) >= self.min_points:
            near = self.hover_pos is not None and math.dist(
                self.hover_pos, pts[0]) * self._scale <= 8.0
            items.append(OverlayItem(OverlayKind.POINTS, pts[:1], "#ffffff", point_size=12.0 if near
                                     else 9.0, hollow=True, width=2.0))
        return items


def _dedupe(points: list[Point]) -> list[Point]:
    """Drop consecutive repeated vertices (and a closing vertex equal to the first)."""
    out: list[Point] = []
    for p in points:
        if not out or math.dist(out[-1], p) > 1e-9:
            out.append(p)
    while len(out) > 1 and math.dist(out[0], out[-1]) <= 1e-9:
        out.pop()
    return out
