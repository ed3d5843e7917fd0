"""The Effects tool: 3D Slicer's Segment Editor effects (islands, smoothing, margin, hollow,
logical operators, scissors) on the active segment of a volume's label map, chosen in the
options bar and run with its Apply button (scissors: by dragging an outline on a pane).

One tool rather than one per effect: the effects share their parameters (a size in mm, the
segment area, the other segment) and none takes a pointer gesture, so, as in Slicer's Segment
Editor, one entry in the toolbar and an effect chooser keep the toolbar to the tools that draw.
The intensity range is the segment editor's "only where value in" (shared with the brush and
fill); the segment area says which segments' voxels an effect may change. Each Apply is one
undo step (see :mod:`app.tools.effects.apply`); the work runs off the UI thread where the view
allows.

Preview (as Slicer's margin and smoothing effects offer): the would-be segment is computed
without writing anything and its outline is drawn on the panes of that volume (dashed in the
tool's overlay, on whichever slice a pane shows), until Apply, another choice in the bar, a
cancel (Escape) or an edit of the label map.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.core.changes import ChangeKind
from app.core.places import Place
from app.tools.base import (Button, EventType, Gesture, Option, OptionKind, OverlayItem,
                            OverlayKind, PointerEvent, Tool)
from app.tools.effects.apply import (EFFECT_TEXT, EFFECTS, EVERYWHERE, OUTSIDE, EffectParams,
                                     command, compute, prepare)

SIZES_MM = (0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 50.0)
MIN_VOXELS = (10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000)


def _segments(tool: EffectsTool) -> list[tuple[int, str]]:
    info = tool.labelmap_info()
    return [] if info is None else [(s.value, s.name) for s in
                                    sorted(info.segments, key=lambda s: s.value)]


def _areas(tool: EffectsTool) -> list[tuple[str, str]]:
    return ([(EVERYWHERE, "Everywhere"), (OUTSIDE, "Outside other segments")]
            + [(f"inside:{v}", f"Inside {name}") for v, name in _segments(tool)])


EFFECT = Option(OptionKind.CHOICE, "Effect", "Which Segment Editor effect Apply runs on the "
                "active segment", field="effect_kind", choices=lambda tool: list(EFFECTS),
                get=lambda tool: tool.params.effect,
                put=lambda tool, v: tool.choose(effect=v), only_active=True)
SIZE = Option(OptionKind.CHOICE, "Size", "Kernel size (smoothing), margin, shell thickness, "
              "or Gaussian sigma, in mm (round in mm on anisotropic voxels)",
              field="effect_mm", choices=lambda tool: [(v, f"{v:g} mm") for v in SIZES_MM],
              get=lambda tool: tool.params.size_mm,
              put=lambda tool, v: tool.choose(size_mm=float(v)), only_active=True)
MIN_SIZE = Option(OptionKind.CHOICE, "Minimum island", "Islands with fewer voxels are removed "
                  "(remove small, split)", field="effect_min_voxels",
                  choices=lambda tool: [(v, f"{v:,} voxels") for v in MIN_VOXELS],
                  get=lambda tool: tool.params.min_voxels,
                  put=lambda tool, v: tool.choose(min_voxels=int(v)), only_active=True)
OTHER = Option(OptionKind.CHOICE, "Other segment", "Segment B of the logical operators",
               field="effect_other", choices=_segments, get=lambda tool: tool.params.other,
               put=lambda tool, v: tool.choose(other=int(v)), only_active=True)
AREA = Option(OptionKind.CHOICE, "Editable area", "Which voxels the effect may change: any, "
              "background (and the segment's own), or one segment's (and the segment's own); "
              "the \"only where value in\" range applies too", field="effect_area",
              choices=_areas, get=lambda tool: tool.params.area,
              put=lambda tool, v: tool.choose(area=str(v)), only_active=True)
DEPTH = Option(OptionKind.CHOICE, "Scissors depth", "How far the scissors' outline cuts: "
               "through every slice along the pane's axis, or only the slice drawn on",
               field="effect_depth",
               choices=lambda tool: [(True, "Through the volume"), (False, "This slice only")],
               get=lambda tool: tool.params.through,
               put=lambda tool, v: tool.choose(through=bool(v)), only_active=True)
PREVIEW = Option(OptionKind.ACTION, "Preview", "Show the chosen effect's result as an outline "
                 "on the panes without changing anything (Apply writes it)",
                 run=lambda tool: tool.preview(), only_active=True)
PREVIEW_COLOUR = "#ffff00"
APPLY = Option(OptionKind.ACTION, "Apply", "Run the chosen effect on the active segment (one "
               "undo step)", run=lambda tool: tool.apply(), only_active=True)


class EffectsTool(Tool):
    """Apply a Segment Editor effect to the active segment of the volume under the pointer."""

    name = "effects"
    label = "Effects"
    shortcut = "X"
    tooltip = ("Segment Editor effects on the active segment: islands, smoothing, margin, "
               "hollow, logical operators, scissors; choose one and press Apply, or for scissors "
               "drag an outline on a pane (X)")
    options = (EFFECT, SIZE, MIN_SIZE, OTHER, AREA, DEPTH, APPLY, PREVIEW)  # Apply first: in
    # a narrow window the bar's overflow takes Preview before it

    def __init__(self, state) -> None:
        super().__init__(state)
        self.params = EffectParams()
        self.cursor = "cross"
        self.outline: list[tuple[float, float]] = []  # the scissors' outline being drawn
        self.previewed: Preview | None = None  # the would-be result shown (see preview)
        self._unwatch = None  # stops watching the document for the preview

    # ------------------------------------------------------------------ options
    def choose(self, **changes) -> None:
        """Change the effect's parameters (fields of :class:`EffectParams`); a preview
        shown goes (it was of the old choice)."""
        self.params = replace(self.params, **changes)
        self.clear_preview()

    def _slice_place(self) -> Place | None:
        place = self.pointer_place
        if place is None or not place.is_slice:
            place = self.state.place
        return place if place is not None and place.is_slice else None

    def target(self):
        """The label map and active segment of the volume under the pointer (None: none)."""
        place = self._slice_place()
        return None if place is None else self.surface.labelmap(place, create=False)

    def labelmap_info(self):
        doc = self.state.doc
        if doc is None:
            return None
        target = self.target()
        if target is not None:
            return doc.stored_labelmap(target.labelmap_id)
        place = self._slice_place()
        maps = [] if place is None else sorted(doc.labelmaps(place.media_id),
                                                key=lambda i: i.created)
        return maps[0] if maps else None

    def gesture(self, press: PointerEvent) -> Gesture | None:
        """Scissors: press, drag the outline round, release to cut. Other effects: the
        pointer only says which volume (Apply runs them)."""
        place = self.pointer_place
        if (self.params.family != "scissors" or press.button is not Button.LEFT
                or place is None or not place.is_slice):
            return None
        return self._draw(press, place)

    def _draw(self, press: PointerEvent, place: Place) -> Gesture:
        self.outline = [press.pos]
        try:
            e = yield
            while e.type is EventType.MOVE:
                if e.pos != self.outline[-1]:
                    self.outline.append(e.pos)
                e = yield
            if e.pos != self.outline[-1]:
                self.outline.append(e.pos)
            if len(self.outline) < 3:
                self.message("Scissors: drag an outline round the part to cut.")
                return
            saved = self.params
            self.params = replace(saved, outline=tuple(self.outline),
                                  plane=(str(place.axis), int(place.index)))
            try:
                self.apply()
            finally:
                self.params = saved
        finally:
            self.outline = []

    def cancel(self) -> None:
        super().cancel()
        self.outline = []
        self.clear_preview()

    def deactivate(self) -> None:
        self.clear_preview()
        super().deactivate()

    def key(self, e) -> bool:
        if e.key == "Escape" and self.previewed is not None and not self.busy:
            self.clear_preview()
            self.message("Preview cleared (nothing was changed).")
            return True
        return super().key(e)

    def wants_key(self, e) -> bool:
        if e.key == "Escape" and self.previewed is not None:
            return True
        return super().wants_key(e)

    def overlay(self) -> list[OverlayItem]:
        items = []
        place = self.pointer_place
        if self.previewed is not None and place is not None and place.is_slice:
            mask = self.previewed.outline(place)
            if mask is not None:
                items.append(OverlayItem(OverlayKind.MASK, color=PREVIEW_COLOUR, mask=mask))
        if len(self.outline) >= 2:
            items.append(OverlayItem(OverlayKind.POLYLINE,
                                     tuple(self.outline + self.outline[:1]),
                                     color=self.color(), dashed=True))
        return items

    # ------------------------------------------------------------------ running
    def preview(self) -> bool:
        """Compute the chosen effect and show its result's outline without writing (True when
        it started); scissors have no preview (their outline is the preview)."""
        if self.params.family == "scissors":
            self.message("Scissors: drag the outline on a pane; it is the preview.")
            return False
        return self.apply(write=False)

    def clear_preview(self) -> None:
        """Take the preview away (nothing was written for it)."""
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        self.previewed = None

    def _show_preview(self, doc, prepared, result, media_id: str, shape) -> None:
        self.clear_preview()
        old = prepared.labels == prepared.value
        shown = result.new if result.where is None else np.where(result.where, result.new, old)
        self.previewed = Preview(media_id, prepared.labelmap_id, tuple(prepared.start), shown,
                                 tuple(int(n) for n in shape))
        watched = prepared.labelmap_id

        def edited(changes) -> None:  # the label map changed: the preview is stale
            if any(c.kind == ChangeKind.RESET or watched in c.ids for c in changes):
                self.clear_preview()

        self._unwatch = doc.subscribe(edited)

    def apply(self, write: bool = True) -> bool:
        """Run the chosen effect (True when it started); ``write=False``: only preview it."""
        self.clear_preview()
        doc = self.state.doc
        target = self.target()
        brush = getattr(target, "brush", None)
        if doc is None or target is None or not hasattr(brush, "geometry"):
            self.message("Effects edit a volume's segments: point at a volume pane, then "
                         "press Apply.")
            return False
        if not target.value:
            self.message("Choose a segment to edit first.")
            return False
        params = replace(self.params, intensity=brush.settings.intensity)
        spacing = tuple(float(s) for s in brush.geometry.spacing)
        prepared = prepare(doc, target.labelmap_id, target.value, params, spacing,
                           brush.volume)
        if isinstance(prepared, str):
            self.message(prepared)
            return False
        text = EFFECT_TEXT.get(params.effect, params.effect)
        surface = self.surface
        place = self._slice_place()

        def done(result) -> None:  # a second Apply meanwhile: the later one finds it stale
            now = doc.labelmap_region(prepared.labelmap_id, prepared.start,
                                      prepared.labels.shape)
            if not np.array_equal(now, prepared.labels):
                self.message(f"{text}: the segment changed while it ran; press "
                             f"{'Apply' if write else 'Preview'} again.")
                return
            if not write:
                self._show_preview(doc, prepared, result, place.media_id,
                                   brush.geometry.shape)
                self.message(f"{text}: preview (yellow outline); Apply writes it.")
                return
            cmd, words = command(prepared, result, doc.labelmap_info(prepared.labelmap_id))
            if cmd is not None:
                self.state.execute(cmd, surface)
            self.message(words)

        self.message(f"{text}{'' if write else ' (preview)'}…")
        surface.run_off_ui(text, lambda: compute(prepared), done)
        return True


@dataclass(frozen=True, eq=False)
class Preview:
    """An effect's would-be segment: ``mask`` (bool, [k, j, i]) over the box at ``start``
    (voxels k, j, i) of label map ``labelmap_id`` of volume ``media_id``; nothing of it is in
    the document."""

    media_id: str
    labelmap_id: str
    start: tuple[int, int, int]
    mask: np.ndarray
    volume_shape: tuple[int, int, int]  # the label map's (k, j, i) voxels

    def outline(self, place: Place) -> np.ndarray | None:
        """The border pixels of the mask on ``place``'s picture (a bool H x W array over the
        whole picture, see :mod:`app.core.places`), None when it has none there."""
        if place.media_id != self.media_id or place.axis not in ("i", "j", "k"):
            return None
        from scipy import ndimage

        dim = "kji".index(place.axis)
        local = int(place.index) - self.start[dim]
        if not 0 <= local < self.mask.shape[dim]:
            return None
        plane = np.take(self.mask, local, axis=dim)
        if not plane.any():
            return None
        edge = plane & ~ndimage.binary_erosion(plane, border_value=0)
        shape = tuple(n for d, n in enumerate(self.volume_shape) if d != dim)
        rows, cols = [s for d, s in enumerate(self.start) if d != dim]
        out = np.zeros(shape, bool)
        out[rows:rows + edge.shape[0], cols:cols + edge.shape[1]] = edge
        return out


TOOL = EffectsTool
