"""Resize handles of boxes and rotated boxes, shared by the select tool and the box tools (a
just-drawn box can be adjusted at once, without switching tools). Image pixels throughout.
"""

from __future__ import annotations

import math

from app.core.annotations import Annotation
from app.core.commands import Put
from app.core.shapes import Box, RotatedBox, Shape
from app.tools.base import EventType, Gesture, Mod, OverlayItem, OverlayKind, PointerEvent, Tool

Point = tuple[float, float]
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


class Handles:
    """Mixin for a :class:`Tool`: the one selected, visible, unlocked box or rotated box shows
    its handles, and a press on one resizes (or turns) it as one command."""

    _resizing: tuple[str | None, Shape] | None = None  # (class id, preview shape)
    _resizing_id: str | None = None
    _scale = 1.0  # screen px per image px of the last event (the handles' size)

    def grab_handle(self: Tool, press: PointerEvent) -> Gesture | None:  # type: ignore[misc]
        """The resize gesture when ``press`` is on a handle of the selected box, else None
        (the press's scale is noted: handles keep their screen size)."""
        self._scale = press.scale
        handle = self.handle_at(press)
        return self.resize(press, *handle) if handle is not None else None

    def resizing_ids(self) -> frozenset[str]:
        """The box being resized (the view leaves its stored shape out meanwhile)."""
        return frozenset({self._resizing_id}) if self._resizing_id else frozenset()

    def handle_target(self: Tool) -> Annotation | None:  # type: ignore[misc]
        sel = self.state.selected_visible(self.surface)
        if len(sel) != 1 or self.state.is_locked(sel[0]):
            return None
        return sel[0] if isinstance(sel[0].shape, (Box, RotatedBox)) else None

    def handle_at(self, e: PointerEvent) -> tuple[Annotation, int] | None:
        ann = self.handle_target()
        if ann is None:
            return None
        for i, (hx, hy) in enumerate(box_handles(ann.shape, e.scale)):
            if math.hypot(hx - e.x, hy - e.y) <= e.tolerance():
                return ann, i
        return None

    def resize(self: Tool, press: PointerEvent, ann: Annotation, handle: int  # type: ignore[misc]
               ) -> Gesture:
        self._resizing_id = ann.id
        e = yield
        try:
            while e.type is EventType.MOVE:
                shape = resized(ann.shape, handle, self.clamp(*e.pos),
                                bool(e.modifiers & Mod.SHIFT))
                self._resizing = (ann.class_id, shape)
                e = yield
        finally:
            self._resizing, self._resizing_id = None, None
        if math.dist(press.pos, e.pos) * e.scale < 1.0:
            return
        shape = resized(ann.shape, handle, self.clamp(*e.pos), bool(e.modifiers & Mod.SHIFT))
        if min(shape.w, shape.h) <= 0:
            self.message("A box needs a width and a height.")
            return
        label = "Rotate box" if isinstance(shape, RotatedBox) and handle == 4 else "Resize box"
        self.state.execute(Put((self.state.doc.edited(ann, shape=shape),), label=label), self.surface)

    def handle_overlay(self: Tool, scale: float) -> list[OverlayItem]:  # type: ignore[misc]
        """The handles of :meth:`handle_target` (following a resize in progress)."""
        ann = self.handle_target()
        if ann is None:
            return []
        shape = self._resizing[1] if self._resizing and self._resizing_id == ann.id \
            else ann.shape
        handles = box_handles(shape, scale)
        items: list[OverlayItem] = []
        if isinstance(shape, RotatedBox):
            c = shape.corners()
            top = ((c[0][0] + c[1][0]) / 2, (c[0][1] + c[1][1]) / 2)
            items.append(OverlayItem(OverlayKind.POLYLINE, (top, handles[4]), "#ffffff", 1.0))
        items.append(OverlayItem(OverlayKind.POINTS, tuple(handles), "#ffffff", width=1.0,
                                 point_size=8.0))
        return items
