"""Polygon tool: click vertices or drag freehand; close on the first vertex or Enter.

Shift held on the first vertex while a polygon is selected draws a *hole* in that polygon.
Backspace removes the last vertex, Escape cancels. Coordinates are image pixels.
"""

from __future__ import annotations

from app.core.commands import Put
from app.core.shapes import Polygon
from app.tools.base import Mod, PointerEvent
from app.tools.pathdraw import PathTool, Point


class PolygonTool(PathTool):
    name = "polygon"
    label = "Polygon"
    shortcut = "P"
    tooltip = ("Click vertices or drag freehand; click the first vertex or press Enter to "
               "close. Shift+first click on a selected polygon draws a hole (P)")
    closed = True
    min_points = 3
    key_help = (("Click, or drag", "add vertices, or draw freehand"),
                ("Click the first vertex, Enter, N", "close the polygon"),
                ("Shift+first click", "draw a hole in the selected polygon"),
                ("Backspace", "remove the last vertex"), ("Esc", "cancel the polygon"))

    def __init__(self, state) -> None:
        super().__init__(state)
        self.hole_of: str | None = None

    def cancel(self) -> None:
        super().cancel()
        self.hole_of = None

    def begin(self, press: PointerEvent) -> bool:
        self.hole_of = None
        if press.modifiers & Mod.SHIFT:
            target = [a for a in self.state.selected(self.surface) if isinstance(a.shape, Polygon)]
            if len(target) == 1 and not self.state.is_locked(target[0]):
                self.hole_of = target[0].id
                self.message("Drawing a hole; close it on its first vertex or press Enter.")
                return True
        return self.state.allows("polygon")

    def shape_of(self, points: list[Point]) -> Polygon:
        return Polygon(tuple(points))

    def commit(self, points: list[Point]) -> None:
        if self.hole_of is not None:
            self._add_hole(self.hole_of, points)
            return
        ann = self.state.add_drawn(Polygon(tuple(points)), "Draw polygon", self.pointer_place, self.surface)
        if ann is not None:
            self.state.select_drawn((ann.id,))

    def _add_hole(self, target_id: str, points: list[Point]) -> None:
        doc, media = self.state.doc, self.pointer_place
        before = self.state.annotation(target_id, self.surface) if doc and media else None
        if before is None:
            return
        shape = before.shape
        after = doc.edited(before, shape=Polygon(shape.exterior, shape.holes + (tuple(points),)))
        self.state.execute(Put((after,), label="Add hole"), self.surface)

    def path_color(self) -> str:
        if self.hole_of is not None:
            return "#ffffff"
        return self.color()
