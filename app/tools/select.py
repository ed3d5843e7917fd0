"""Select tool: click to select (Shift/Ctrl+click toggles), drag to move, drag on empty space
for a rubber band, drag a handle to resize a box or turn a rotated box.

Keys: Delete/Backspace delete the selection, Escape clears it, arrows nudge by 1 image pixel
(Shift: 10), Tab / Shift+Tab cycle through shapes. (PageUp/PageDown change the image, as
everywhere; the stacking order is Ctrl+] / Ctrl+[ in the window.)
Locked annotations can be selected but not moved, resized or deleted.
"""

from __future__ import annotations

import math

from app.core.annotations import Annotation
from app.core.commands import Put, Remove
from app.core.shapes import Box, Mask, RotatedBox, Shape
from app.tools.base import (Button, EventType, Gesture, KeyEvent, Mod, OverlayItem, OverlayKind,
                            PointerEvent, Tool)
from app.tools.geometry import in_rect, topmost_at
from app.tools.handles import Handles, box_handles, resized
from app.tools.preview import shape_overlay

Point = tuple[float, float]
DRAG_START = 3.0  # screen px before a press becomes a drag
__all__ = ["SelectTool", "box_handles", "resized"]


def _moved_preview(shape: Shape, dx: float, dy: float) -> Shape:
    """``shape`` moved by (dx, dy) for preview; a mask previews as its moved bounding box."""
    if isinstance(shape, Mask):
        x, y, w, h = shape.bbox()
        return Box(x + dx, y + dy, w, h)
    return shape.translated(dx, dy)


class SelectTool(Handles, Tool):
    name = "select"
    label = "Select"
    shortcut = "V"
    tooltip = "Select, move and resize shapes; Delete removes them (V)"
    keys = frozenset({"Escape", "Delete", "Backspace", "Left", "Right", "Up", "Down",
                      "Tab", "Backtab"})
    key_help = (("Click, Shift+click", "select, add to the selection"),
                ("Drag", "move the selection, or a rubber band on empty space"),
                ("Arrows, Shift+arrows", "nudge by 1 or 10 pixels"),
                ("Tab, Shift+Tab", "select the next / previous shape"),
                ("Delete, Backspace", "delete the selection"),
                ("Esc", "clear the selection"))

    def __init__(self, state) -> None:
        super().__init__(state)
        self.hovered: str | None = None
        self._moving: list[Annotation] = []
        self._moved: list[tuple[str | None, Shape]] = []  # (class id, preview shape)
        self._band: tuple[Point, Point] | None = None

    # ------------------------------------------------------------------ hit tests
    def _at(self, e: PointerEvent) -> Annotation | None:
        return topmost_at(self.state.visible_annotations(self.surface), e.x, e.y, e.tolerance(4.0),
                          prefer=self.state.selection)

    def hover(self, e: PointerEvent) -> None:
        self._scale = e.scale
        handle = self.handle_at(e)
        under = None if handle else self._at(e)
        self.hovered = under.id if under else None
        if handle:
            self.cursor = "rotate" if (isinstance(handle[0].shape, RotatedBox) and
                                       handle[1] == 4) else "size_all"
        else:
            self.cursor = "move" if under else "arrow"

    # ------------------------------------------------------------------ gestures
    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT:
            return None
        resize = self.grab_handle(press)
        if resize:
            return resize
        under = self._at(press)
        toggle = bool(press.modifiers & (Mod.SHIFT | Mod.CTRL))
        if under is None:
            return self._rubber_band(press, keep=toggle)
        if toggle:
            sel = [i for i in self.state.selection if i != under.id]
            if under.id not in self.state.selection:
                sel.append(under.id)
            self.state.select(sel)
            return None
        if under.id not in self.state.selection:
            self.state.select((under.id,))
        elif self.state.selection_drawn:
            self.state.select(self.state.selection)  # clicked: now the user's selection
        return self._move(press)

    def _move(self, press: PointerEvent) -> Gesture:
        movable = [a for a in self.state.selected(self.surface) if not self.state.is_locked(a)]
        e = yield
        dragging = False
        try:
            while e.type is EventType.MOVE:
                if not dragging and math.dist(press.pos, e.pos) * e.scale >= DRAG_START:
                    dragging = True
                    self._moving = movable
                if dragging:
                    dx, dy = e.x - press.x, e.y - press.y
                    self._moved = [(a.class_id, _moved_preview(a.shape, dx, dy))
                                   for a in movable]
                e = yield
        finally:
            self._moving, self._moved = [], []
        if not dragging or not movable:
            return
        dx, dy = e.x - press.x, e.y - press.y
        if dx == 0 and dy == 0:
            return
        self._translate(movable, dx, dy, "Move shape")

    def _translate(self, anns: list[Annotation], dx: float, dy: float, label: str) -> None:
        doc = self.state.doc
        after = tuple(doc.edited(a, shape=a.shape.translated(dx, dy)) for a in anns)
        self.state.execute(Put(after, label=label), self.surface)

    def _rubber_band(self, press: PointerEvent, keep: bool) -> Gesture:
        e = yield
        try:
            while e.type is EventType.MOVE:
                self._band = (press.pos, e.pos)
                e = yield
        finally:
            self._band = None
        x0, x1 = sorted((press.x, e.x))
        y0, y1 = sorted((press.y, e.y))
        inside = [] if (x1 - x0) * e.scale < DRAG_START and (y1 - y0) * e.scale < DRAG_START \
            else [a.id for a in self.state.visible_annotations(self.surface)
                  if in_rect(a.shape, x0, y0, x1, y1)]
        base = list(self.state.selection) if keep else []
        self.state.select(base + [i for i in inside if i not in base])

    # ------------------------------------------------------------------ keys
    def key(self, e: KeyEvent) -> bool:
        sel = self.state.selected(self.surface)
        if e.key == "Escape":
            if self.busy:
                self.cancel()
            elif sel:
                self.state.select(())
            else:
                return False
            return True
        if e.key in ("Tab", "Backtab") and not (e.modifiers & Mod.CTRL):
            return self._cycle(-1 if (e.key == "Backtab" or e.modifiers & Mod.SHIFT) else 1)
        if not sel or not e.plain:
            return False
        if self.busy and e.key in ("Delete", "Backspace", "Left", "Right", "Up", "Down"):
            self.cancel_gesture_only()  # an edit during a drag ends the drag first
        editable = [a for a in sel if not self.state.is_locked(a)]
        if e.key in ("Delete", "Backspace"):
            if editable:
                self.state.execute(Remove(tuple(editable), label="Delete shape"), self.surface)
                self.state.select([a.id for a in sel if self.state.is_locked(a)])
            else:
                self.message("The selected shapes are locked.")
            return True
        if e.key in ("Left", "Right", "Up", "Down"):
            step = 10.0 if e.modifiers & Mod.SHIFT else 1.0
            dx = {"Left": -step, "Right": step}.get(e.key, 0.0)
            dy = {"Up": -step, "Down": step}.get(e.key, 0.0)
            movable = [a for a in editable if not isinstance(a.shape, Mask) or step.is_integer()]
            if movable:
                self._translate(movable, dx, dy, "Nudge shape")
            return True
        return False

    def wants_key(self, e: KeyEvent) -> bool:
        if e.key in ("Tab", "Backtab"):
            return bool(self.state.annotations(self.surface))
        return e.key in self.keys and (self.busy or bool(self.state.selection))

    def _cycle(self, step: int) -> bool:
        anns = self.state.visible_annotations(self.surface)
        if not anns:
            return False
        ids = [a.id for a in anns]
        cur = self.state.selection[-1] if self.state.selection else None
        i = (ids.index(cur) + step) % len(ids) if cur in ids else (0 if step > 0 else -1)
        self.state.select((ids[i],))
        return True

    # ------------------------------------------------------------------ drawing
    def editing_ids(self) -> frozenset[str]:
        ids = {a.id for a in self._moving if not isinstance(a.shape, Mask)}
        return frozenset(ids) | self.resizing_ids()

    def overlay(self) -> list[OverlayItem]:
        items: list[OverlayItem] = []
        color = self.state.class_color
        for class_id, shape in self._moved:
            items += shape_overlay(shape, color(class_id), width=2.5, fill_alpha=0.3)
        if self._band is not None:
            (x0, y0), (x1, y1) = self._band
            items.append(OverlayItem(OverlayKind.RECT, ((x0, y0), (x1, y1)), "#ffffff", 1.0, True,
                                     0.08))
        if self.hovered and not self._moved and self.hovered not in self.state.selection:
            a = self.state.annotation(self.hovered, self.surface) if (
                self.state.doc and self.pointer_place) else None
            if a is not None:
                items += shape_overlay(a.shape, color(a.class_id), width=2.5, fill_alpha=0.0)
        if self._resizing is not None:
            items += shape_overlay(self._resizing[1], color(self._resizing[0]), width=2.5,
                                   fill_alpha=0.3)
        if not self._moved:
            items += self.handle_overlay(self._scale)
        return items
