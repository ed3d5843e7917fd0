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
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

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
    options = (EFFECT, SIZE, MIN_SIZE, OTHER, AREA, DEPTH, APPLY)

    def __init__(self, state) -> None:
        super().__init__(state)
        self.params = EffectParams()
        self.cursor = "cross"
        self.outline: list[tuple[float, float]] = []  # the scissors' outline being drawn

    # ------------------------------------------------------------------ options
    def choose(self, **changes) -> None:
        """Change the effect's parameters (fields of :class:`EffectParams`)."""
        self.params = replace(self.params, **changes)

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

    def overlay(self) -> list[OverlayItem]:
        if len(self.outline) < 2:
            return []
        return [OverlayItem(OverlayKind.POLYLINE, tuple(self.outline + self.outline[:1]),
                            color=self.color(), dashed=True)]

    # ------------------------------------------------------------------ running
    def apply(self) -> bool:
        """Run the chosen effect (True when it started)."""
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

        def done(result) -> None:  # a second Apply meanwhile: the later one finds it stale
            now = doc.labelmap_region(prepared.labelmap_id, prepared.start,
                                      prepared.labels.shape)
            if not np.array_equal(now, prepared.labels):
                self.message(f"{text}: the segment changed while it ran; press Apply again.")
                return
            cmd, words = command(prepared, result, doc.labelmap_info(prepared.labelmap_id))
            if cmd is not None:
                self.state.execute(cmd, surface)
            self.message(words)

        self.message(f"{text}…")
        surface.run_off_ui(text, lambda: compute(prepared), done)
        return True


TOOL = EffectsTool
