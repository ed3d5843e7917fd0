"""Box tool: press at one corner, drag to the opposite one, release (image pixels)."""

from __future__ import annotations

from app.core.commands import Put
from app.core.shapes import Box
from app.tools.base import Button, EventType, Gesture, OverlayItem, PointerEvent, Tool

MIN_SCREEN_SIZE = 3.0  # screen pixels: smaller drags are treated as stray clicks


class BoxTool(Tool):
    name = "box"
    label = "Box"
    shortcut = "R"
    tooltip = "Drag from corner to corner to draw an axis-aligned box (R)"

    def __init__(self, state) -> None:
        super().__init__(state)
        self.cursor = "cross"
        self._preview: Box | None = None

    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT or not self.state.allows("box"):
            return None
        return self._draw(press)

    def _draw(self, press: PointerEvent) -> Gesture:
        x0, y0 = self.clamp(*press.pos)
        e = yield
        try:
            while e.type is EventType.MOVE:
                self._preview = Box.from_corners(x0, y0, *self.clamp(*e.pos))
                e = yield
        finally:
            self._preview = None
        box = Box.from_corners(x0, y0, *self.clamp(*e.pos))
        if min(box.w, box.h) * e.scale < MIN_SCREEN_SIZE:
            return
        ann = self.state.new_annotation(box)
        if self.state.execute(Put((ann,), label="Draw box")):
            self.state.select((ann.id,))

    def overlay(self) -> list[OverlayItem]:
        if self._preview is None:
            return []
        b = self._preview
        return [OverlayItem("rect", ((b.x, b.y), (b.x + b.w, b.y + b.h)), self.color(),
                            dashed=True, fill_alpha=0.15)]
