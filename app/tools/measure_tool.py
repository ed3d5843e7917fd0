"""The Measure tool: ruler, RECIST pair, angle and ellipse ROI, one tool with a choice
(Qt-free). The maths and the stored form are :mod:`app.tools.measure`'s.

Points are clicked, or dragged (a drag from one point to the next places both): a ruler and an
ellipse take 2 points (the ellipse's are the corners of its box), an angle 3 (the vertex
second), RECIST 4 (the long axis, then the short axis, which is made perpendicular to the long
one in world space and crosses it). The finished measurement is one undoable annotation at the
pane's slice (or the photo / frame), with the active class, marked ``measure`` and carrying its
values in mm (px off volumes) as attributes.
"""

from __future__ import annotations

import math
from typing import Any

from app.core.shapes import Polygon, Polyline, Shape
from app.tools.base import (Button, ClickTool, EventType, Gesture, Option, OptionKind,
                            OverlayItem, OverlayKind, PointerEvent)
from app.tools.measure import (KINDS, MEASURE, POINTS, PlaneMap, distance, ellipse_points,
                               label_text, measure, recist_points)

DRAG_PX = 3.0  # screen px: a release this far from its press places a second point
DIGITS = 4  # decimals kept in the stored attribute values (0.1 µm)

KIND = Option(OptionKind.CHOICE, "Measurement", "What the Measure tool draws: a ruler (2 "
              "points), a RECIST long and short axis (4 points), an angle (3 points, vertex "
              "second) or an ellipse ROI with its statistics (drag its box)",
              field="measure_kind", choices=lambda tool: list(KINDS.items()),
              get=lambda tool: tool.kind, put=lambda tool, v: tool.choose(str(v)),
              only_active=True)


class MeasureTool(ClickTool):
    """Measure lengths (mm), RECIST axes, angles and ROI statistics on the picture under the
    pointer; the figures are computed in world space from the picture's own geometry."""

    name = "measure"
    label = "Measure"
    shortcut = "G"
    tooltip = ("Measure: ruler, RECIST long/short axis, angle or ellipse ROI, in mm on a "
               "volume slice (px on photos)")
    draws = True
    options = (KIND,)
    key_help = (("Click / drag", "place the measurement's points (drag: two at once)"),
                ("Escape", "drop the points placed so far"))

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.kind = "ruler"

    def choose(self, kind: str) -> None:
        """Draw ``kind`` measurements from now on (one of :data:`KINDS`)."""
        if kind not in KINDS:
            raise ValueError(f"unknown measurement {kind!r}")
        self.cancel()
        self.kind = kind

    # ------------------------------------------------------------------ pointer
    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT:
            return None
        if not self.points and not self.state.allows(
                "polygon" if self.kind == "ellipse" else "polyline"):
            return None
        return self._place_points(press)

    def _place_points(self, press: PointerEvent) -> Gesture:
        p0 = self.clamp(*press.pos)
        self.points.append(p0)
        if len(self.points) >= POINTS[self.kind]:
            self._commit()
            return
        e = yield
        while e.type is EventType.MOVE:
            e = yield
        p1 = self.clamp(*e.pos)
        if math.hypot(p1[0] - p0[0], p1[1] - p0[1]) * e.scale >= DRAG_PX:
            self.points.append(p1)
            if len(self.points) >= POINTS[self.kind]:
                self._commit()

    def _plane(self) -> tuple[PlaneMap, Any]:
        place = self.pointer_place
        source = self.surface.picture(place) if place is not None else None
        return PlaneMap.of(source), source

    def _shape(self, points: list[tuple[float, float]], plane: PlaneMap) -> Shape | None:
        """The stored shape of ``points`` (all of the kind's points), None when degenerate."""
        if self.kind == "ellipse":
            (x0, y0), (x1, y1) = points
            if abs(x1 - x0) <= 1e-6 or abs(y1 - y0) <= 1e-6:
                return None
            return Polygon(ellipse_points(x0, y0, x1, y1))
        if self.kind == "recist":
            return Polyline(recist_points(*points, plane))
        return Polyline(points)

    def _commit(self) -> None:
        points, self.points = list(self.points), []
        plane, source = self._plane()
        shape = self._shape(points, plane)
        if shape is None:
            self.message("An ellipse needs a box with some width and height.")
            return
        pixels = source.pixels() if (source is not None and self.kind == "ellipse") else None
        values = measure(self.kind, shape, plane, pixels)
        if any(isinstance(v, float) and v == 0.0 for k, v in values.items()
               if k.startswith(("length", "long", "short", "area"))):
            self.message(f"That {KINDS[self.kind].lower()} has no length; nothing was added.")
            return
        cls = self.state.active_class()
        attributes = {**(cls.default_attributes() if cls else {}), MEASURE: self.kind,
                      **{k: round(v, DIGITS) if isinstance(v, float) else v
                         for k, v in values.items()}}
        ann = self.state.add_drawn(shape, f"Measure {KINDS[self.kind].lower()}",
                                   self.pointer_place, self.surface, attributes=attributes)
        if ann is not None:
            self.state.select_drawn((ann.id,))
            self.message(f"{KINDS[self.kind]}: "
                         + label_text(self.kind, values).replace("\n", ", "))

    # ------------------------------------------------------------------ preview
    def overlay(self) -> list[OverlayItem]:
        if not self.points:
            return []
        pts = list(self.points)
        if self.hover_pos is not None and len(pts) < POINTS[self.kind]:
            pts.append(self.clamp(*self.hover_pos))
        color = self.color()
        plane, _ = self._plane()
        items: list[OverlayItem] = []
        text = ""
        if self.kind == "ellipse":
            if len(pts) == 2:
                shape = self._shape(pts, plane)
                if shape is not None:
                    items.append(OverlayItem(OverlayKind.POLYGON, tuple(shape.exterior), color,
                                             dashed=True, fill_alpha=0.15))
                    text = label_text("ellipse", measure("ellipse", shape, plane))
        elif self.kind == "recist":
            if len(pts) >= 2:
                items.append(OverlayItem(OverlayKind.POLYLINE, tuple(pts[:2]), color,
                                         dashed=True))
            if len(pts) == 4:
                full = recist_points(*pts, plane)
                items.append(OverlayItem(OverlayKind.POLYLINE, tuple(full[3:]), color,
                                         dashed=True))
                text = label_text("recist", measure("recist", Polyline(full), plane))
            elif len(pts) >= 2:
                text = f"{distance(pts[0], pts[1], plane):.1f} {plane.unit}"
        elif len(pts) >= 2:
            items.append(OverlayItem(OverlayKind.POLYLINE, tuple(pts), color, dashed=True))
            if len(pts) == POINTS[self.kind]:
                text = label_text(self.kind, measure(self.kind, Polyline(pts), plane))
        items.append(OverlayItem(OverlayKind.POINTS, tuple(self.points), color))
        if text and len(pts) >= 2:
            items.append(OverlayItem(OverlayKind.TEXT, (pts[-1],), color,
                                     text=text.replace("\n", ", ")))
        return items


TOOL = MeasureTool
