"""Painting masks with a round brush, shared by the brush and eraser tools.

One stroke (press, drag, release) is one undo step: stamps go into a working copy of the mask at
image resolution (pixel (c, r) is painted when its centre (c+0.5, r+0.5) lies within the brush
radius of the stroke's path), and the result is committed once, at release, as one command:
a ``Put`` of the new or changed mask, a ``Remove`` of a mask erased to nothing, or, on a volume
slice, one ``ModifyLabelMap`` of the label map (:mod:`app.core.commands`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Protocol

import cv2
import numpy as np

from app.core.annotations import Annotation
from app.core.commands import Command, ModifyLabelMap, Put, Remove
from app.core.labelmap import Mode
from app.core.places import Place
from app.core.raster import rasterize
from app.core.rle import area, encode
from app.core.shapes import Box, Mask, Polygon, RotatedBox
from app.tools.base import (Button, EventType, Gesture, KeyEvent, Option, OptionKind, OverlayItem,
                            OverlayKind, PointerEvent, Tool)
from app.tools.geometry import MASKS, topmost_at
from app.tools.state import EditorState

RADIUS_STEP = 1.25  # [ and ] divide / multiply the radius by this
MASK_ALPHA = 0.45
BRUSH_SIZE = Option(OptionKind.SIZE, "Brush size",
                    "Brush radius in image pixels ([ and ] change it too)", field="brush_radius",
                    minimum=1, maximum=1000, slider_max=500)
PAINT_INSIDE = Option(OptionKind.TOGGLE, "Only inside the selected object",
                      "Paint and erase only within the selected polygon, box or mask",
                      field="paint_inside")


def stamp_segment(buf: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
                  radius: float, value: int, clip: np.ndarray | None = None) -> bool:
    """Paint ``value`` into ``buf`` (uint8 H x W) on every pixel whose centre lies within
    ``radius`` image px of segment p0-p1 (a capsule: the union of brush circles along it).
    ``clip`` (uint8/bool H x W) limits painting to its non-zero pixels. True if any changed."""
    h, w = buf.shape
    r = max(radius, 0.5)
    x0 = max(int(math.floor(min(p0[0], p1[0]) - r)), 0)
    x1 = min(int(math.ceil(max(p0[0], p1[0]) + r)) + 1, w)
    y0 = max(int(math.floor(min(p0[1], p1[1]) - r)), 0)
    y1 = min(int(math.ceil(max(p0[1], p1[1]) + r)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return False
    cx = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    cy = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    n2 = dx * dx + dy * dy
    if n2 > 0:
        t = np.clip(((cx - p0[0]) * dx + (cy - p0[1]) * dy) / n2, 0.0, 1.0)
        d2 = (cx - p0[0] - t * dx) ** 2 + (cy - p0[1] - t * dy) ** 2
    else:
        d2 = (cx - p0[0]) ** 2 + (cy - p0[1]) ** 2
    inside = d2 <= r * r
    # the pixel under each end is always painted, however small the brush
    for px, py in (p0, p1):
        c, rr = int(math.floor(px)), int(math.floor(py))
        if x0 <= c < x1 and y0 <= rr < y1:
            inside[rr - y0, c - x0] = True
    if clip is not None:
        inside &= clip[y0:y1, x0:x1].astype(bool)
    region = buf[y0:y1, x0:x1]
    changed = bool((region[inside] != value).any())
    region[inside] = value
    return changed


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` (H x W) with every background region not connected to the border filled
    (4-connectivity of background), as uint8 0/1."""
    m = (np.asarray(mask) != 0).astype(np.uint8)
    bg = np.pad(1 - m, 1, constant_values=1)
    flood = np.zeros((bg.shape[0] + 2, bg.shape[1] + 2), np.uint8)
    cv2.floodFill(bg, flood, (0, 0), 0, flags=4)
    return m | bg[1:-1, 1:-1]


def fill_selected_holes(state: EditorState) -> bool:
    """Fill the holes of the selected mask(s) as one undo step; True if anything changed."""
    before, after = [], []
    for a in state.selected():
        if isinstance(a.shape, Mask) and not state.is_locked(a):
            cur = MASKS.get(a.shape.rle)
            filled = fill_holes(cur)
            if not np.array_equal(filled, cur):
                rle = encode(filled)
                filled.flags.writeable = False
                MASKS.put(rle, filled)
                before.append(a)
                after.append(state.doc.edited(a, shape=Mask(rle)))
    if not before:
        state.message("The selected masks have no holes to fill.")
        return False
    return state.execute(Put(tuple(after), label="Fill holes"))


def region_of(a: Annotation, h: int, w: int) -> np.ndarray | None:
    """Pixels of a polygon, box, rotated box or mask as an H x W uint8 array (else None)."""
    if isinstance(a.shape, Mask):
        m = MASKS.get(a.shape.rle)
        return m if m.shape == (h, w) else None
    if isinstance(a.shape, (Polygon, Box, RotatedBox)):
        return rasterize(a.shape, h, w).view(np.uint8)
    return None


class SliceBrush(Protocol):
    """A volume mode's own brush for label-map strokes (e.g. a disc or sphere sized in mm,
    constrained to an intensity range): ``stamp`` paints the stroke's footprint on the slice
    picture (the preview, 0/1 uint8 H x W), ``command`` makes the edit of the whole stroke
    (``path``: the pointer positions in picture px, ``buf``: the stamped footprint)."""

    def stamp(self, buf: np.ndarray, place: Place, p0: tuple[float, float],
              p1: tuple[float, float]) -> None: ...

    def command(self, target: LabelMapPaint, place: Place, path: list[tuple[float, float]],
                buf: np.ndarray, erase: bool, label: str) -> Command | None: ...


@dataclass(frozen=True)
class LabelMapPaint:
    """Where a brush stroke on a volume slice goes: label map ``labelmap_id``, segment
    ``value`` (drawn in ``color``); ``where``: the slice's "paint only where" mask (e.g. an
    intensity range), or None; ``brush``: the mode's :class:`SliceBrush` (None: a disc of
    ``state.brush_radius`` picture px). A volume's surface provides it
    (:meth:`~app.tools.surface.Surface.labelmap`)."""

    labelmap_id: str
    value: int
    color: str = "#3cb44b"
    where: np.ndarray | None = None
    brush: SliceBrush | None = None


def labelmap_command(target: LabelMapPaint, place: Place, stroke: np.ndarray, erase: bool,
                     label: str) -> ModifyLabelMap:
    """The label-map edit of a 2D stroke (the slice's picture, non-zero = painted) at a
    volume place: the stroke becomes a one-voxel-thick modifier along the place's axis."""
    a = "kji".index(place.axis)  # type: ignore[arg-type]
    start = [0, 0, 0]
    start[a] = int(place.index)  # type: ignore[arg-type]
    modifier = np.expand_dims(stroke.astype(bool), a)
    where = None if target.where is None else np.expand_dims(target.where.astype(bool), a)
    return ModifyLabelMap(target.labelmap_id, tuple(start), modifier,  # type: ignore[arg-type]
                          Mode.ERASE if erase else Mode.ADD, target.value, where, label=label)


class PaintTool(Tool):
    """Base of the brush (``erase = False``) and eraser (``erase = True``)."""

    erase: ClassVar[bool] = False
    keys = frozenset({"Escape", "BracketLeft", "BracketRight"})
    options = (BRUSH_SIZE, PAINT_INSIDE)

    def __init__(self, state: EditorState) -> None:
        super().__init__(state)
        self.cursor = "cross"
        self._buf: np.ndarray | None = None
        self._target: Annotation | None = None
        self._color = "#ffffff"
        self._clip_id: str | None = None

    # ------------------------------------------------------------------ choosing what to paint
    def target(self, press: PointerEvent) -> Annotation | None:
        """The existing mask this stroke edits (None: the brush starts a new one)."""
        raise NotImplementedError

    def clip(self, target: Annotation | None) -> np.ndarray | None:
        """With 'paint only inside the selected object' on: that object's pixels."""
        if not self.state.paint_inside:
            return None
        w, h = self.image_size
        others = [a for a in self.state.selected(self.surface) if target is None or a.id != target.id]
        for a in others:
            region = region_of(a, h, w)
            if region is not None:
                self._clip_id = a.id
                return region
        return None

    # ------------------------------------------------------------------ the stroke
    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT:
            return None
        w, h = self.image_size
        if w <= 0 or h <= 0 or self.pointer_place is None:
            return None
        lm = self.labelmap_target(press)
        if lm is not None:
            return self._labelmap_stroke(press, lm, w, h)
        target = self.target(press)
        if target is None and (self.erase or not self.state.allows("mask")):
            return None
        if target is not None and self.state.is_locked(target):
            self.message("That mask is locked.")
            return None
        self._clip_id = None
        return self._stroke(press, target, self.clip(target), w, h)

    def labelmap_target(self, press: PointerEvent) -> LabelMapPaint | None:
        """On a volume slice, the label map and segment the stroke paints (else None: the
        surface paints mask annotations); the eraser never makes a segment."""
        place = self.pointer_place
        if place is None or not place.is_slice:
            return None
        return self.surface.labelmap(place, create=not self.erase)

    def _labelmap_stroke(self, press: PointerEvent, lm: LabelMapPaint, w: int, h: int
                         ) -> Gesture:
        """A stroke on a volume slice: painted in a working buffer, then one
        ``ModifyLabelMap`` (undo per stroke, only the changed voxels kept)."""
        buf = np.zeros((h, w), np.uint8)
        place = self.pointer_place
        self._buf, self._target, self._color = buf, None, lm.color
        radius = self.radius()

        def stamp(p0: tuple[float, float], p1: tuple[float, float]) -> None:
            if lm.brush is not None:
                lm.brush.stamp(buf, place, p0, p1)
            else:
                stamp_segment(buf, p0, p1, radius, 1, None)

        last = press.pos
        path = [last]
        stamp(last, last)
        e = yield
        try:
            while e.type is EventType.MOVE:
                stamp(last, e.pos)
                last = e.pos
                path.append(last)
                e = yield
            stamp(last, e.pos)
            path.append(e.pos)
        finally:
            self._buf = None
        label = "Erase" if self.erase else "Paint"
        if lm.brush is not None:
            command = lm.brush.command(lm, place, path, buf, self.erase, label)
            if command is not None:
                self.state.execute(command, self.surface)
        elif buf.any():
            self.state.execute(labelmap_command(lm, place, buf, self.erase, label), self.surface)

    def _stroke(self, press: PointerEvent, target: Annotation | None,
                clip: np.ndarray | None, w: int, h: int) -> Gesture:
        if target is not None:
            buf = MASKS.working_copy(MASKS.get(target.shape.rle), h, w)
            self._color = self.state.class_color(target.class_id)
        else:
            buf = MASKS.working_copy(None, h, w)
            self._color = self.color()
        self._buf, self._target = buf, target
        value = 0 if self.erase else 1
        radius = self.radius()
        last = press.pos
        changed = stamp_segment(buf, last, last, radius, value, clip)
        e = yield
        try:
            while e.type is EventType.MOVE:
                changed |= stamp_segment(buf, last, e.pos, radius, value, clip)
                last = e.pos
                e = yield
            changed |= stamp_segment(buf, last, e.pos, radius, value, clip)
        finally:
            self._buf, self._target = None, None
        if changed:
            self._commit(target, buf)

    def _commit(self, target: Annotation | None, buf: np.ndarray) -> None:
        """One encode of the stroke's mask, no other pass over it: ``buf`` holds only 0 and
        1, so its bool view encodes without a full-size temporary, and the decoded array is
        handed to the mask cache so nothing decodes it again."""
        buf.flags.writeable = False
        rle = encode(buf.view(bool))
        if area(rle) == 0:
            if target is not None:
                self.state.execute(Remove((target,), label="Erase mask"), self.surface)
            return
        MASKS.put(rle, buf)
        if target is None:
            ann = self.state.add_drawn(Mask(rle), "Paint mask", self.pointer_place, self.surface)
            if ann is not None:
                # keep the clipping object selected so the next stroke stays inside it
                keep = (self._clip_id,) if self._clip_id else ()
                self.state.select_drawn(keep + (ann.id,))
        else:
            label = "Erase" if self.erase else "Paint"
            self.state.execute(Put((self.state.doc.edited(target, shape=Mask(rle)),), label=label), self.surface)

    # ------------------------------------------------------------------ keys
    def radius(self) -> float:
        """The brush radius in picture px of the tool's surface: ``state.brush_radius``,
        which on a volume counts voxels of ``state.brush_mm`` mm, over the surface's pixel."""
        r, mm, per = self.state.brush_radius, self.state.brush_mm, self.surface.mm_per_px
        return r * mm / per if mm > 0 and per > 0 else r

    def resize_brush(self, factor: float) -> None:
        self.state.set(brush_radius=self.state.brush_radius * factor)
        mm = self.state.brush_mm
        self.message(f"Brush radius {self.state.brush_radius * mm:.1f} mm" if mm > 0
                     else f"Brush radius {self.state.brush_radius:.1f} px")

    def key(self, e: KeyEvent) -> bool:
        if e.key == "BracketLeft" and e.plain:
            self.resize_brush(1 / RADIUS_STEP)
            return True
        if e.key == "BracketRight" and e.plain:
            self.resize_brush(RADIUS_STEP)
            return True
        return super().key(e)

    # ------------------------------------------------------------------ drawing
    def editing_ids(self) -> frozenset[str]:
        return frozenset({self._target.id}) if self._target is not None else frozenset()

    def overlay(self) -> list[OverlayItem]:
        items: list[OverlayItem] = []
        if self._buf is not None:
            items.append(OverlayItem(OverlayKind.MASK, color=self._color, fill_alpha=MASK_ALPHA,
                                     mask=self._buf))
        if self.hover_pos is not None:
            items.append(OverlayItem(OverlayKind.CIRCLE, (self.hover_pos,), "#ffffff",
                                     radius=self.radius(), width=1.0,
                                     dashed=self.erase))
        return items


def mask_under(state: EditorState, press: PointerEvent) -> Annotation | None:
    """The selected mask if exactly one is selected; else the topmost visible mask with a pixel
    under the pointer; else the topmost one whose box lies within the brush radius."""
    sel = [a for a in state.selected() if isinstance(a.shape, Mask)]
    if len(sel) == 1:
        return sel[0]
    masks = [a for a in state.visible_annotations() if isinstance(a.shape, Mask)]
    found = topmost_at(masks, press.x, press.y, 0.0)
    if found is not None:
        return found
    r = state.brush_radius
    for a in reversed(masks):
        x, y, w, h = a.shape.bbox()
        if x - r <= press.x <= x + w + r and y - r <= press.y <= y + h + r:
            return a
    return None
