"""Box tool: press at one corner, drag to the opposite one, release (image pixels).

A crosshair follows the pointer so the first corner can be put exactly on the object's edge;
the box just drawn stays selected with its handles, which can be dragged at once.
"""

from __future__ import annotations

from app.core.shapes import Box
from app.tools.base import Button, EventType, Gesture, OverlayItem, OverlayKind, PointerEvent, Tool
from app.tools.geometry import MIN_SCREEN, too_small
from app.tools.handles import Handles


def crosshair(tool: Tool) -> list[OverlayItem]:
    """Full-width and full-height lines through the pointer (drawn across the whole view)."""
    if tool.hover_pos is None:
        return []
    return [OverlayItem(OverlayKind.CROSSHAIR, (tool.hover_pos,), "#ffffff", width=1.0)]


class BoxTool(Handles, Tool):
    name = "box"
    label = "Box"
    shortcut = "R"
    tooltip = "Drag from corner to corner to draw an axis-aligned box (R)"
    draws = True
    key_help = (("Drag", "draw a box from corner to corner"),
                ("Drag a handle", "resize the box just drawn"))

    def __init__(self, state) -> None:
        super().__init__(state)
        self.cursor = "cross"
        self._preview: Box | None = None

    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT:
            return None
        return self.grab_handle(press) or (
            self._draw(press) if self.state.allows("box") else None)

    def hover(self, e: PointerEvent) -> None:
        self._scale = e.scale
        self.cursor = "size_all" if self.handle_at(e) else "cross"

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
        reason = too_small(box, e.scale)
        if reason:
            if max(box.w, box.h) * e.scale >= MIN_SCREEN:  # a stray click needs no word
                self.message(reason)
            return
        ann = self.state.add_drawn(box, "Draw box", self.pointer_place, self.surface)
        if ann is not None:
            self.state.select_drawn((ann.id,))

    def editing_ids(self) -> frozenset[str]:
        return self.resizing_ids()

    def overlay(self) -> list[OverlayItem]:
        items = crosshair(self)
        if self._resizing is not None:
            b = self._resizing[1]
            items.append(OverlayItem(OverlayKind.RECT, ((b.x, b.y), (b.x + b.w, b.y + b.h)),
                                     self.state.class_color(self._resizing[0]), 2.5,
                                     fill_alpha=0.3))
        if self._preview is not None:
            b = self._preview
            items.append(OverlayItem(OverlayKind.RECT, ((b.x, b.y), (b.x + b.w, b.y + b.h)),
                                     self.color(), dashed=True, fill_alpha=0.15))
        else:
            items += self.handle_overlay(self._scale)
        return items
