"""Text the canvas draws over everything (screen-size labels on dark plates): the image's tags
at the top left, the name of the keypoint under the pointer, the active class next to the
pointer while a drawing tool is on (so the annotator sees what the next shape will be), and
each measurement's figures beside it (mm from the picture's geometry, :mod:`app.tools.measure`)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QFontMetricsF, QPainter

from app.core.shapes import Tag
from app.tools.base import PointerEvent, Tool
from app.tools.geometry import keypoint_at
from app.tools.measure import kind_of, label_text, measure_annotation
from app.tools.state import EditorState
from app.tools.surface import Surface
from app.widgets.labels import LABEL_PX, draw_label, label_font
from app.widgets.view import View

CLASS_LABEL_OFFSET = (16, 34)  # widget px from the pointer to the active-class label
KEYPOINT_TOLERANCE = 8.0  # screen px: hovering this close to a keypoint names it


class CanvasLabels:
    """What the labels need to know: where the pointer is and which keypoint it is over."""

    def __init__(self, state: EditorState, surface: Callable[[], Surface]) -> None:
        self.state = state
        self._surface = surface  # the canvas's surface (what it shows)
        self.pointer_at: tuple[float, float] | None = None  # widget px, None when outside
        self.keypoint: tuple[float, float, str, str] | None = None  # image x, y, name, colour
        self._measured: dict[tuple, str] = {}  # (id, modified, place) -> a measurement's text

    def left(self) -> None:
        """The pointer left the canvas (or the view was reset)."""
        self.pointer_at = self.keypoint = None

    def find_keypoint(self, pe: PointerEvent) -> None:
        """Note the labelled keypoint within KEYPOINT_TOLERANCE screen px of the pointer."""
        doc = self.state.doc
        self.keypoint = None
        if doc is None:
            return
        names = {c.id: c.skeleton.points for c in doc.schema.classes if c.skeleton}
        if not names:
            return
        found = keypoint_at(self.state.visible_annotations(self._surface()), names, pe.x, pe.y,
                            pe.tolerance(KEYPOINT_TOLERANCE))
        if found is not None:
            a, i = found
            x, y, v = a.shape.points[i]
            name = names[a.class_id][i] if i < len(names[a.class_id]) else f"point {i + 1}"
            self.keypoint = (x, y, name + (" (occluded)" if v == 1 else ""),
                             self.state.class_color(a.class_id))

    def draw(self, painter: QPainter, view: View, tool: Tool | None, picture: bool) -> None:
        """Draw the labels (painter in widget px) for ``view``."""
        doc, surface = self.state.doc, self._surface()
        if doc is None or self.state.place_on(surface) is None:
            return
        painter.resetTransform()
        y = 24.0
        for a in self.state.visible_annotations(surface):
            if isinstance(a.shape, Tag):
                cls = doc.schema.class_by_id(a.class_id)
                values = ", ".join(str(v) for v in a.attributes.values() if v not in ("", None))
                text = (cls.name if cls else "(no class)") + (f": {values}" if values else "")
                plate = draw_label(painter, QPointF(14, y), "Tag · " + text,
                                   QColor(self.state.class_color(a.class_id)))
                y += plate.height() + 4
        self._draw_measurements(painter, view, surface)
        if self.keypoint is not None and not (tool and tool.busy):
            x, yk, name, color = self.keypoint
            wx, wy = view.to_widget(x, yk)
            draw_label(painter, QPointF(wx + 10, wy - 10), name, QColor(color))
        if self.pointer_at is not None and tool is not None and tool.draws and picture:
            cls = self.state.active_class()
            text = f"{cls.name}  [{cls.hotkey}]" if cls and cls.hotkey else (
                cls.name if cls else "no class: press 1-9")
            px, py = self.pointer_at
            draw_label(painter, QPointF(px + CLASS_LABEL_OFFSET[0], py + CLASS_LABEL_OFFSET[1]),
                       text, QColor(cls.color if cls else "#c8c8c8"))

    def _draw_measurements(self, painter: QPainter, view: View, surface: Surface) -> None:
        """Each visible measurement's figures, right of its right-most point on screen."""
        place = self.state.place_on(surface)
        for a in self.state.visible_annotations(surface):
            kind = kind_of(a)
            if kind is None or place is None:
                continue
            key = (a.id, a.modified, a.shape.bbox(), place)
            text = self._measured.get(key)
            if text is None:
                values = measure_annotation(a, surface.picture(place))
                text = label_text(kind, values) if values is not None else ""
                if len(self._measured) > 512:
                    self._measured.clear()
                self._measured[key] = text
            if not text:
                continue
            pts = [view.to_widget(x, y) for x, y in (
                a.shape.exterior if kind == "ellipse" else a.shape.points)]
            wx, wy = max(pts, key=lambda p: p[0])
            metrics = QFontMetricsF(label_font(painter.font().family(), LABEL_PX))
            lines = text.split("\n")
            width = max(metrics.horizontalAdvance(t) for t in lines) + 24
            # right of the right-most point, kept inside the view (narrow panes)
            wx = min(max(wx, 0.0), painter.device().width() - width - 10)
            color = QColor(self.state.class_color(a.class_id))
            for line in lines:
                plate = draw_label(painter, QPointF(wx + 10, wy + 4), line, color)
                wy += plate.height() + 2
