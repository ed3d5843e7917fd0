"""Segment anything on the canvas: clicks and a box become a mask from a segmentation model.

Left click adds a point on the object, right click (or Ctrl+click) a point off it, a left drag
draws the box around it (a new box replaces the old one). After every change the model's
answer is previewed in the class colour with the prompts drawn over it; Enter accepts it into
the active class, Escape drops the prompts, Backspace removes the last one. Accepted, it
becomes a mask (RLE) or polygon annotation (the options bar chooses) whose ``source`` is the
model id and whose ``score`` is the model's predicted IoU, through ``state.add_drawn`` (a video's
surface makes a track keyframe of it); on a volume slice it is painted into the label map the
surface names (``surface.labelmap(place)``) as one undoable label-map edit. The same on
images, video frames and volume slices: the pixels come from ``surface.picture(place)`` (a plane
source; scalar slices are windowed to 8-bit as shown, else by percentiles).

The tool is Qt-free and never runs a model: it asks a
:class:`~app.tools.sam_protocol.SamEngine` (the window's runs the encoder and decoder on a
worker thread and answers on the UI thread, see ``app.widgets.sam_engine``). Answers to
superseded prompts are dropped. Coordinates are continuous picture pixels of the place
(CONVENTIONS.md); boxes ``(x, y, w, h)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.places import Place
from app.core.shapes import Box, Mask, Polygon
from app.tools.base import (Button, EventType, Gesture, KeyEvent, Mod, Option, OptionKind,
                            OverlayItem, OverlayKind, PointerEvent, Tool)
from app.tools.sam_protocol import (SamAnswer, SamChoice, SamEngine, SamModel, SamPicture,
                                   SamRequest, WindowMemo, fingerprint_of,
                                   sam_picture, slice_picture, window_of)

DRAG_PX = 4.0  # screen px a press must move to draw a box instead of placing a point
OUTPUTS = (("mask", "Mask"), ("polygon", "Polygon"))
POSITIVE, NEGATIVE = "#3ee07a", "#ff4d4d"
PREVIEW_ALPHA = 0.45


@dataclass(frozen=True)
class Prompt:
    """A point (``label`` 1 or 0) or, with ``box`` set, a box."""

    x: float = 0.0
    y: float = 0.0
    label: int = 1
    box: tuple[float, float, float, float] | None = None


@dataclass
class Accepted:
    """The last mask accepted (what propagation starts from)."""

    place: Place
    mask: np.ndarray
    score: float
    source: str
    box: tuple[float, float, float, float] | None
    ids: tuple[str, ...] = ()
    labelmap_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def as_polygon(mask: np.ndarray) -> Polygon | None:
    """One polygon (holes kept, further pieces as parts) covering ``mask``."""
    from app.inference.masks import mask_to_polygons

    polys = mask_to_polygons(mask)
    if not polys:
        return None
    return Polygon(polys[0].exterior, tuple(h for p in polys for h in p.holes),
                   tuple(p.exterior for p in polys[1:]))


# ---------------------------------------------------------------------- options
def _model_choices(tool: SamTool) -> list[tuple[str | None, str]]:
    engine = tool.get_engine()
    models = engine.models() if engine is not None else []
    return [(m.id, m.name + (" (box prompts)" if m.needs_box else "")) for m in models] or [
        (None, "No model installed")]


SAM_MODEL = Option(OptionKind.CHOICE, "Model",
                   "The segmentation model the tool asks (Tools ▸ Models… imports more)",
                   field="sam_model", choices=_model_choices,
                   get=lambda tool: tool.model().id if tool.model() else None,
                   put=lambda tool, value: tool.choose(model_id=value), only_active=True)
SAM_OUTPUT = Option(OptionKind.CHOICE, "Output",
                    "What Enter adds: a mask (every pixel) or a polygon (simplified, holes "
                    "kept); volume slices always paint the label map", field="sam_output",
                    choices=lambda tool: list(OUTPUTS), get=lambda tool: tool.choice.output,
                    put=lambda tool, value: tool.choose(output=value), only_active=True)
SAM_PROPAGATE = Option(OptionKind.ACTION, "Propagate…",
                       "Carry the mask up and down the volume, or forward/backward along the "
                       "video", run=lambda tool: tool.request("propagate"), only_active=True)
SAM_MODELS = Option(OptionKind.ACTION, "Models…",
                    "Installed models, where they run, importing more",
                    run=lambda tool: tool.request("models"), only_active=True)
SAM_NOTE = Option(OptionKind.NOTE, "", "Where the model runs and how long the last answer took",
                  field="sam_note", text=lambda tool: tool.note, only_active=True)


# ---------------------------------------------------------------------- the tool
class SamTool(Tool):
    name = "sam"
    label = "Segment anything"
    shortcut = "W"
    tooltip = "Click the object, right-click beside it, or drag a box; Enter accepts (W)"
    draws = True
    keys = frozenset({"Escape", "Return", "Enter", "Backspace"})
    key_help = (("Click", "add a point on the object"),
                ("Right-click, Ctrl+click", "add a point off the object"),
                ("Drag", "draw a box around the object (replaces the box)"),
                ("Enter", "accept the mask into the active class"),
                ("Backspace", "remove the last prompt"),
                ("Esc", "drop the prompts"))
    options = (SAM_MODEL, SAM_OUTPUT, SAM_PROPAGATE, SAM_MODELS, SAM_NOTE)

    def __init__(self, state: Any, engine: SamEngine | None = None) -> None:
        super().__init__(state)
        self.cursor = "cross"
        self.engine = engine
        self.prompts: list[Prompt] = []
        self.place: Place | None = None  # where the prompts are
        self.answer: SamAnswer | None = None
        self.pending: int | None = None  # serial of the request awaiting its answer
        self.accepted: Accepted | None = None
        self._serial = 0
        self._drag: Box | None = None
        self._picture: SamPicture | None = None
        self._prepared: tuple[Place, str] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.on_active: Callable[[bool], None] | None = None  # the options bar listens
        self._accept_when_ready = False  # Enter pressed while the answer was on its way
        self.windows = WindowMemo()  # the last volume's percentile window
        self.choice = SamChoice()  # model and output (the options bar writes it: choose)
        self.on_choice: Callable[[SamChoice], None] | None = None  # the window remembers it
        self.requests: dict[str, Callable[[], None]] = {}  # "propagate", "models": the window's
        self.note = ""  # where the model runs and the last answer's time (the options bar)

    # ------------------------------------------------------------------ engine and model
    def get_engine(self) -> SamEngine | None:
        """The engine the window gave this tool (None: segment anything is off)."""
        return self.engine

    def choose(self, **changes: Any) -> None:
        """Change the model (``model_id``) or the output (``output``: 'mask' | 'polygon')."""
        for name, value in changes.items():
            if value is not None:
                setattr(self.choice, name, value)
        if self.on_choice is not None:
            self.on_choice(self.choice)

    def request(self, name: str) -> None:
        """Ask the window for ``name`` ('propagate', 'models')."""
        fn = self.requests.get(name)
        if fn is None:
            self.message(f"{name.capitalize()} is not available here.")
        else:
            fn()

    def model(self) -> SamModel | None:
        """The chosen model (the first installed when none is chosen or it is gone)."""
        engine = self.get_engine()
        models = engine.models() if engine is not None else []
        return next((m for m in models if m.id == self.choice.model_id), None) or (
            models[0] if models else None)

    @property
    def box(self) -> tuple[float, float, float, float] | None:
        return next((p.box for p in reversed(self.prompts) if p.box is not None), None)

    @property
    def points(self) -> list[Prompt]:
        return [p for p in self.prompts if p.box is None]

    @property
    def busy(self) -> bool:
        return bool(self.prompts) or self._gesture is not None

    # ------------------------------------------------------------------ lifecycle
    def activate(self) -> None:
        self._unsubscribe = self.state.subscribe(self._on_state)
        if self.on_active is not None:
            self.on_active(True)
        if self.pointer_place is not None:
            self.prepare(self.pointer_place)

    def deactivate(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.on_active is not None:
            self.on_active(False)
        super().deactivate()

    def _on_state(self, name: str) -> None:
        if name == "place" and self.place is not None and \
                self.place != self.state.place_on(self.surface):
            self.cancel()  # another item, frame or slice: the prompts belong to this one

    def cancel(self) -> None:
        super().cancel()
        self.prompts, self.answer, self.pending, self._drag = [], None, None, None
        self._accept_when_ready = False
        self.place, self._picture = None, None
        self._serial += 1  # answers still on their way are dropped

    # ------------------------------------------------------------------ pointer
    def hover(self, e: PointerEvent) -> None:
        if e.place is not None and (self._prepared is None or self._prepared[0] != e.place):
            self.prepare(e.place)

    def prepare(self, place: Place) -> None:
        """Start encoding ``place`` (and the next pictures) so the first click is fast."""
        engine, model = self.get_engine(), self.model()
        if engine is None or model is None or self._prepared == (place, model.id):
            return
        picture = self._picture_at(place)
        if picture is None:
            return
        self._prepared = (place, model.id)
        engine.prepare(model.id, picture)
        ahead = self._ahead(place)
        if ahead:
            engine.prefetch(model.id, ahead)

    def gesture(self, press: PointerEvent) -> Gesture | None:
        place = self.pointer_place
        if press.button not in (Button.LEFT, Button.RIGHT) or place is None:
            return None
        w, h = self.image_size
        if not (0 <= press.x <= w and 0 <= press.y <= h):
            return None
        if self.place is not None and place != self.place:
            self.cancel()
        return self._prompt(press, place)

    def _prompt(self, press: PointerEvent, place: Place) -> Gesture:
        x0, y0 = press.pos
        positive = press.button is Button.LEFT and not press.modifiers & Mod.CTRL
        far = False
        e = yield
        try:
            while e.type is EventType.MOVE:
                far = far or math.hypot(e.x - x0, e.y - y0) * e.scale >= DRAG_PX
                if positive and far:
                    self._drag = Box.from_corners(x0, y0, *self.clamp(*e.pos))
                e = yield
        finally:
            self._drag = None
        if positive and far:
            box = Box.from_corners(x0, y0, *self.clamp(*e.pos))
            if min(box.w, box.h) * e.scale < DRAG_PX:
                return
            self.add(Prompt(box=(box.x, box.y, box.w, box.h)), place)
        else:
            self.add(Prompt(x0, y0, 1 if positive else 0), place)

    def add(self, prompt: Prompt, place: Place) -> None:
        """Add a prompt at ``place`` and ask the model (tests and scripts may call it)."""
        if self.place != place:
            self.cancel()
        self.place = place
        self.prompts.append(prompt)
        noted = getattr(self.get_engine(), "prompted", None)
        if callable(noted):
            noted(self)  # the window's engine remembers it: Propagate starts from it
        self.ask()

    # ------------------------------------------------------------------ asking the model
    def ask(self) -> None:
        """Send the current prompts to the engine (or say why not)."""
        self._serial += 1
        self.pending = None
        self._accept_when_ready = False
        if not self.prompts or self.place is None:
            self.answer = None
            return
        engine, model = self.get_engine(), self.model()
        if engine is None or model is None:
            self.answer = None
            self.message("No segmentation model is installed: import one with Tools ▸ "
                         "Models… (from a file, a folder or a .vellum-models archive).")
            return
        if model.needs_box and self.box is None:
            self.answer = None
            self.message(f"{model.name} was trained with boxes: drag a box around the object "
                         "(clicks then refine it).")
            return
        picture = self._picture if self._picture is not None and (
            self._picture.place == self.place) else self._picture_at(self.place)
        if picture is None:
            self.message("The picture is not shown yet; try again in a moment.")
            return
        self._picture = picture
        pts = self.points
        request = SamRequest(self._serial, f"sam-tool-{id(self)}", model.id, picture, self.box,
                             tuple((p.x, p.y) for p in pts), tuple(p.label for p in pts),
                             multimask=self.box is None and len(pts) == 1)
        self.pending = self._serial
        engine.predict(request, self._answered)

    def _answered(self, answer: SamAnswer) -> None:
        if answer.serial != self._serial:
            return  # the prompts changed meanwhile: a newer answer is coming
        self.pending = None
        if answer.error:
            self.answer = None
            self.message(answer.error)
        elif answer.mask is None or not answer.mask.any():
            self.answer = None
            self.message(f"{answer.source} found nothing there; add a point or redraw the box.")
        else:
            self.answer = answer
        if self._accept_when_ready:
            self._accept_when_ready = False
            if self.answer is not None:
                self.accept()
        engine = self.get_engine()
        if engine is not None:
            engine.repaint(self)

    def _picture_at(self, place: Place) -> SamPicture | None:
        source = self.surface.picture(place)
        return sam_picture(self.state, place, source, self.windows) if source is not None \
            else None

    def _ahead(self, place: Place) -> list[SamPicture]:
        """The next pictures the user will likely segment: the next two images, or the slices
        either side of this one."""
        doc = self.state.doc
        if doc is None:
            return []
        if place.is_slice:
            source = self.surface.picture(place)
            volume = getattr(source, "volume", None)
            if volume is None:
                return []
            axis = "kji".index(place.axis)  # type: ignore[arg-type]
            window = window_of(source, self.windows)
            fingerprint = fingerprint_of(self.state, place)
            return [slice_picture(place.at_slice(place.axis, i),  # type: ignore[arg-type]
                                  lambda i=i: np.take(volume, i, axis=axis), window, fingerprint)
                    for i in (place.index + 1, place.index - 1)  # type: ignore[operator]
                    if 0 <= i < volume.shape[axis]]
        if place.is_frame:
            return []  # frames come from the video mode's decoder
        from app.core.media import MediaKind
        from app.io.images import read_image

        items = doc.media()
        ids = [m.id for m in items]
        if place.media_id not in ids:
            return []
        nxt = [m for m in items[ids.index(place.media_id) + 1:] if m.kind is MediaKind.IMAGE][:2]
        return [SamPicture(Place(m.id), lambda p=doc.media_path(m): read_image(p),
                           m.fingerprint or None) for m in nxt]

    # ------------------------------------------------------------------ keys
    def wants_key(self, e: KeyEvent) -> bool:
        return self.busy and e.key in self.keys

    def key(self, e: KeyEvent) -> bool:
        if not self.busy:
            return False
        if e.key in ("Return", "Enter"):
            self.accept()
            return True
        if e.key == "Backspace":
            self.prompts.pop()
            if self.prompts:
                self.ask()
            else:
                self.cancel()
            return True
        return super().key(e)

    def finish_shape(self) -> bool:
        return self.accept()

    # ------------------------------------------------------------------ accepting
    def accept(self) -> bool:
        """Write the previewed mask into the active class (once it arrives, when the model is
        still answering); False when there is nothing to accept."""
        answer, place = self.answer, self.place
        if self.pending is not None:
            self._accept_when_ready = True  # accepted as soon as the answer arrives
            self.message("Segmenting… the mask is accepted as soon as it is ready.")
            return True
        if answer is None or place is None or answer.mask is None:
            self.message("Nothing to accept yet: click the object or drag a box around it.")
            return False
        label = f"Segment with {answer.source}"
        score = min(max(float(answer.score), 0.0), 1.0)
        target = self.surface.labelmap(place) if place.is_slice else None
        accepted = Accepted(place, answer.mask, score, answer.source, self.box)
        if target is not None:
            from app.tools.paint import labelmap_command

            if not self.state.execute(labelmap_command(target, place, answer.mask, False, label),
                                      self.surface):
                return False
            accepted.labelmap_id = target.labelmap_id
        else:
            ann = self._add_annotation(answer.mask, label, place, answer.source, score)
            if ann is None:
                return False
            accepted.ids = (ann.id,)
            self.state.select_drawn((ann.id,))
        self.accepted = accepted
        self.cancel()
        return True

    def _add_annotation(self, mask: np.ndarray, label: str, place: Place, source: str,
                        score: float) -> Any:
        if self.choice.output == "polygon":
            if not self.state.allows("polygon"):
                return None
            shape = as_polygon(mask)
            if shape is None:
                self.message("The mask is too small to become a polygon.")
                return None
        else:
            if not self.state.allows("mask"):
                return None
            from app.core.rle import encode
            from app.tools.geometry import MASKS

            buf = np.ascontiguousarray(mask, dtype=bool)
            rle = encode(buf)
            cached = buf.view(np.uint8).copy()
            cached.flags.writeable = False
            MASKS.put(rle, cached)
            shape = Mask(rle)
        return self.state.add_drawn(shape, label, place, self.surface, source=source,
                                    score=score)

    # ------------------------------------------------------------------ drawing
    def overlay(self) -> list[OverlayItem]:
        items: list[OverlayItem] = []
        color = self._color()
        if self.answer is not None and self.answer.mask is not None:
            items.append(OverlayItem(OverlayKind.MASK, color=color, fill_alpha=PREVIEW_ALPHA,
                                     mask=self.answer.mask))
        box = self._drag or (Box(*self.box) if self.box else None)
        if box is not None:
            items.append(OverlayItem(OverlayKind.RECT,
                                     ((box.x, box.y), (box.x + box.w, box.y + box.h)),
                                     color, 2.0, dashed=True))
        for label, tint in ((1, POSITIVE), (0, NEGATIVE)):
            pts = tuple((p.x, p.y) for p in self.points if p.label == label)
            if pts:
                items.append(OverlayItem(OverlayKind.POINTS, pts, tint, width=1.5, point_size=10.0))
        where = (box.x, box.y) if box is not None else (
            (self.points[-1].x, self.points[-1].y) if self.points else None)
        if where is not None:
            text = ("Segmenting…" if self.pending is not None else
                    f"{self.answer.source} · IoU {self.answer.score:.2f} · Enter accepts"
                    if self.answer is not None else "")
            if text:
                items.append(OverlayItem(OverlayKind.TEXT, (where,), color, text=text))
        return items

    def _color(self) -> str:
        place = self.place or self.pointer_place
        if place is not None and place.is_slice:
            target = self.surface.labelmap(place, create=False)
            if target is not None:
                return target.color
        return self.color()
