"""Crosshair tool (ITK-SNAP's crosshair mode, key C): a click or drag on a volume pane moves
the linked crosshair there, so the other panes show the slices through that point.

Qt-free: it hands the picture point (continuous px) and its place to the surface under the
pointer (:meth:`~app.tools.surface.Surface.move_crosshair`); on a photo or a video frame (no
crosshair there) it only shows a crosshair at the pointer.
"""

from __future__ import annotations

from app.tools.base import Button, EventType, Gesture, OverlayItem, OverlayKind, PointerEvent, Tool


class CrosshairTool(Tool):
    name = "crosshair"
    label = "Crosshair"
    shortcut = "C"
    tooltip = "Click or drag on a volume pane to move the linked crosshair there (C)"
    key_help = (("Click, drag", "move the crosshair: the other panes follow"),)

    def __init__(self, state) -> None:
        super().__init__(state)
        self.cursor = "cross"

    def _send(self, e: PointerEvent) -> None:
        place = self.pointer_place
        if place is not None and place.is_slice:
            self.surface.move_crosshair(place, e.x, e.y)

    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT:
            return None
        self._send(press)
        e = yield
        while e.type is EventType.MOVE:
            self._send(e)
            e = yield
        self._send(e)

    def overlay(self) -> list[OverlayItem]:
        place = self.pointer_place
        if self.hover_pos is not None and (place is None or not place.is_slice):
            return [OverlayItem(OverlayKind.CROSSHAIR, (self.hover_pos,), "#ffffff", width=1.0)]
        return []
