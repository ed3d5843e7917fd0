"""Polyline tool: click vertices (or drag freehand); Enter or double click finishes.

Backspace removes the last vertex, Escape cancels. Coordinates are image pixels.
"""

from __future__ import annotations

from app.core.shapes import Polyline
from app.tools.pathdraw import PathTool, Point


class PolylineTool(PathTool):
    name = "polyline"
    label = "Polyline"
    shortcut = "L"
    tooltip = "Click vertices or drag freehand; Enter or double click finishes (L)"
    closed = False
    min_points = 2
    key_help = (("Click, or drag", "add vertices, or draw freehand"),
                ("Enter, N, double click", "finish the polyline"),
                ("Backspace", "remove the last vertex"), ("Esc", "cancel the polyline"))

    def shape_of(self, points: list[Point]) -> Polyline:
        return Polyline(tuple(points))

    def commit(self, points: list[Point]) -> None:
        ann = self.state.add_drawn(Polyline(tuple(points)), "Draw polyline", self.pointer_place, self.surface)
        if ann is not None:
            self.state.select_drawn((ann.id,))
