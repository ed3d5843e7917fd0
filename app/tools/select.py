"""Select tool: click to select (Shift/Ctrl+click toggles), drag to move, drag on empty space
for a rubber band, drag a handle to resize a box or turn a rotated box.

Keys: Delete/Backspace delete the selection, Escape clears it, arrows nudge by 1 image pixel
(Shift: 10), PageUp/PageDown bring to front / send to back, Tab / Shift+Tab cycle through shapes.
Locked annotations can be selected but not moved, resized or deleted.
"""

from __future__ import annotations

import math

from app.core.annotations import Annotation
from app.core.commands import Put, Remove
from app.core.shapes import Box, Mask, RotatedBox, Shape
from app.tools.base import (Button, EventType, Gesture, KeyEvent, Mod, OverlayItem,
                            PointerEvent, Tool)
from app.tools.geometry import in_rect, topmost_at
from app.tools.preview import shape_overlay

Point = tuple[float, float]
DRAG_START = 3.0  # screen px before a press becomes a drag
ROTATE_HANDLE = 24.0  # screen px from the top edge's middle to the rotation handle
# box handles: which of (x0, y0, x1, y1) each of the 8 handles moves
_BOX_EDGES = ((0, 1), (2, 1), (2, 3), (0, 3), (1,), (2,), (3,), (0,))


def box_handles(shape: Shape, scale: float) -> list[Point]:
    """Handle positions (image px): box 4 corners + 4 edge middles; rotated box 4 corners +
    rotation handle."""
    if isinstance(shape, Box):
        x0, y0, x1, y1 = shape.x, shape.y, shape.x + shape.w, shape.y + shape.h
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (xm, y0), (x1, ym), (xm, y1), (x0, ym)]
    if isinstance(shape, RotatedBox):
        a = math.radians(shape.angle)
        c = shape.corners()
        top = ((c[0][0] + c[1][0]) / 2, (c[0][1] + c[1][1]) / 2)
        d = ROTATE_HANDLE / scale
        return list(c) + [(top[0] + math.sin(a) * d, top[1] - math.cos(a) * d)]
    return []


def resized(shape: Shape, handle: int, p: Point, snap: bool = False) -> Shape:
    """``shape`` with handle ``handle`` dragged to ``p`` (image px)."""
    if isinstance(shape, Box):
        edges = [shape.x, shape.y, shape.x + shape.w, shape.y + shape.h]
        for k in _BOX_EDGES[handle]:
            edges[k] = p[k % 2]
        return Box.from_corners(*edges)
    assert isinstance(shape, RotatedBox)
    if handle == 4:  # rotation handle
        ang = math.degrees(math.atan2(p[1] - shape.cy, p[0] - shape.cx)) + 90.0
        if snap:
            ang = round(ang / 15.0) * 15.0
        return RotatedBox(shape.cx, shape.cy, shape.w, shape.h, (ang + 180.0) % 360.0 - 180.0)
    fixed = shape.corners()[(handle + 2) % 4]
    a = math.radians(shape.angle)
    ux, uy, vx, vy = math.cos(a), math.sin(a), -math.sin(a), math.cos(a)
    dx, dy = p[0] - fixed[0], p[1] - fixed[1]
    du, dv = dx * ux + dy * uy, dx * vx + dy * vy
    return RotatedBox(fixed[0] + (du * ux + dv * vx) / 2, fixed[1] + (du * uy + dv * vy) / 2,
                      abs(du), abs(dv), shape.angle)


def _moved_preview(shape: Shape, dx: float, dy: float) -> Shape:
    """``shape`` moved by (dx, dy) for preview; a mask previews as its moved bounding box."""
    if isinstance(shape, Mask):
        x, y, w, h = shape.bbox()
        return Box(x + dx, y + dy, w, h)
    return shape.translated(dx, dy)


class SelectTool(Tool):
    name = "select"
    label = "Select"
    shortcut = "V"
    tooltip = "Select, move and resize shapes; Delete removes them (V)"
    keys = frozenset({"Escape", "Delete", "Backspace", "Left", "Right", "Up", "Down",
                      "PageUp", "PageDown", "Tab", "Backtab"})

    def __init__(self, state) -> None:
        super().__init__(state)
        self.hovered: str | None = None
        self._moving: list[Annotation] = []
        self._moved: list[tuple[str | None, Shape]] = []  # (class id, preview shape)
        self._band: tuple[Point, Point] | None = None
        self._scale = 1.0

    # ------------------------------------------------------------------ hit tests
    def _handle_at(self, e: PointerEvent) -> tuple[Annotation, int] | None:
        sel = self.state.selected()
        if len(sel) != 1 or sel[0].locked:
            return None
        for i, (hx, hy) in enumerate(box_handles(sel[0].shape, e.scale)):
            if math.hypot(hx - e.x, hy - e.y) <= e.tolerance():
                return sel[0], i
        return None

    def _at(self, e: PointerEvent) -> Annotation | None:
        return topmost_at(self.state.visible_annotations(), e.x, e.y, e.tolerance(4.0),
                          prefer=self.state.selection)

    def hover(self, e: PointerEvent) -> None:
        self._scale = e.scale
        handle = self._handle_at(e)
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
        self._scale = press.scale
        handle = self._handle_at(press)
        if handle is not None:
            return self._resize(press, *handle)
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
        return self._move(press)

    def _move(self, press: PointerEvent) -> Gesture:
        movable = [a for a in self.state.selected() if not a.locked]
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
        self.state.execute(Put(after, label=label))

    def _resize(self, press: PointerEvent, ann: Annotation, handle: int) -> Gesture:
        self._moving = [ann]
        e = yield
        try:
            while e.type is EventType.MOVE:
                shape = resized(ann.shape, handle, self.clamp(*e.pos),
                                bool(e.modifiers & Mod.SHIFT))
                self._moved = [(ann.class_id, shape)]
                e = yield
        finally:
            self._moving, self._moved = [], []
        if math.dist(press.pos, e.pos) * e.scale < 1.0:
            return
        shape = resized(ann.shape, handle, self.clamp(*e.pos), bool(e.modifiers & Mod.SHIFT))
        if min(shape.w, shape.h) <= 0:
            self.message("A box needs a width and a height.")
            return
        label = "Rotate box" if isinstance(shape, RotatedBox) and handle == 4 else "Resize box"
        self.state.execute(Put((self.state.doc.edited(ann, shape=shape),),
                                             label=label))

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
            else [a.id for a in self.state.visible_annotations()
                  if in_rect(a.shape, x0, y0, x1, y1)]
        base = list(self.state.selection) if keep else []
        self.state.select(base + [i for i in inside if i not in base])

    # ------------------------------------------------------------------ keys
    def key(self, e: KeyEvent) -> bool:
        sel = self.state.selected()
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
        editable = [a for a in sel if not a.locked]
        if e.key in ("Delete", "Backspace"):
            if editable:
                self.state.execute(Remove(tuple(editable), label="Delete shape"))
                self.state.select([a.id for a in sel if a.locked])
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
        if e.key in ("PageUp", "PageDown"):
            self._restack(sel, front=e.key == "PageUp")
            return True
        return False

    def wants_key(self, e: KeyEvent) -> bool:
        if e.key in ("Tab", "Backtab"):
            return bool(self.state.annotations())
        return e.key in self.keys and (self.busy or bool(self.state.selection))

    def _cycle(self, step: int) -> bool:
        anns = self.state.visible_annotations()
        if not anns:
            return False
        ids = [a.id for a in anns]
        cur = self.state.selection[-1] if self.state.selection else None
        i = (ids.index(cur) + step) % len(ids) if cur in ids else (0 if step > 0 else -1)
        self.state.select((ids[i],))
        return True

    def _restack(self, sel: list[Annotation], front: bool) -> None:
        zs = [a.z for a in self.state.annotations()]
        ordered = sorted(sel, key=lambda a: a.z)
        if front:
            top = max(zs)
            after = tuple(self.state.doc.edited(a, z=top + 1 + i) for i, a in enumerate(ordered))
        else:
            bottom = min(zs)
            n = len(ordered)
            after = tuple(self.state.doc.edited(a, z=bottom - n + i) for i, a in enumerate(ordered))
        self.state.execute(Put(after,
                                             label="Bring to front" if front else "Send to back"))

    # ------------------------------------------------------------------ drawing
    def editing_ids(self) -> frozenset[str]:
        return frozenset(a.id for a in self._moving if not isinstance(a.shape, Mask))

    def overlay(self) -> list[OverlayItem]:
        items: list[OverlayItem] = []
        color = self.state.class_color
        for class_id, shape in self._moved:
            items += shape_overlay(shape, color(class_id), width=2.5, fill_alpha=0.3)
        if self._band is not None:
            (x0, y0), (x1, y1) = self._band
            items.append(OverlayItem("rect", ((x0, y0), (x1, y1)), "#ffffff", 1.0, True, 0.08))
        if self.hovered and not self._moved and self.hovered not in self.state.selection:
            a = self.state.doc.annotation(self.state.media_id, self.hovered) if (
                self.state.doc and self.state.media_id) else None
            if a is not None:
                items += shape_overlay(a.shape, color(a.class_id), width=2.5, fill_alpha=0.0)
        sel = self.state.selected()
        if len(sel) == 1 and not sel[0].locked:
            shape = self._moved[0][1] if self._moved else sel[0].shape
            handles = box_handles(shape, self._scale)
            if handles:
                if isinstance(shape, RotatedBox):
                    c = shape.corners()
                    top = ((c[0][0] + c[1][0]) / 2, (c[0][1] + c[1][1]) / 2)
                    items.append(OverlayItem("polyline", (top, handles[4]), "#ffffff", 1.0))
                items.append(OverlayItem("points", tuple(handles), "#ffffff", width=1.0,
                                         point_size=8.0))
        return items
