"""Crosshair tool (ITK-SNAP's crosshair mode, key C): a click or drag on a volume pane moves
the linked crosshair there, so the other panes show the slices through that point.

The tool is Qt-free: it hands the picture point (continuous px) and the place it happened on to
the volume mode's hook, ``set_crosshair_hook(state, fn)`` with ``fn(place, x, y)``. On a photo
(no hook) it only shows a crosshair at the pointer.
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.places import Place
from app.tools.base import Button, EventType, Gesture, OverlayItem, OverlayKind, PointerEvent, Tool

CrosshairHook = Callable[[Place, float, float], None]
_HOOK = "volume_crosshair_hook"


def set_crosshair_hook(state, fn: CrosshairHook | None) -> None:
    """Let ``state``'s crosshair tool move a volume mode's crosshair (None: unhook)."""
    object.__setattr__(state, _HOOK, fn)


def crosshair_hook(state) -> CrosshairHook | None:
    return getattr(state, _HOOK, None)


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
        hook = crosshair_hook(self.state)
        place = e.place or self.state.place
        if hook is not None and place is not None and place.is_slice:
            hook(place, e.x, e.y)

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
        if crosshair_hook(self.state) is None and self.hover_pos is not None:
            return [OverlayItem(OverlayKind.CROSSHAIR, (self.hover_pos,), "#ffffff", width=1.0)]
        return []
