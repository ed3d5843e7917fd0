"""The timeline of a video: a painted strip (frame ruler, where annotations are, the selected
track's keyframes and where its per-frame attributes change, events, the selected range, the
current frame) and its controls (step, play, next / previous keyframe and in/out-of-view
change of the selected track, jump box, range to event, the import report).

Frames are 0-based indices in presentation order; times are seconds from the first displayed
frame (the frame's own timestamp, never the index divided by a rate).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QBrush, QColor, QMouseEvent, QPainter, QPaintEvent, QPen,
                           QPolygonF)
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QMenu, QSizePolicy,
                               QSpinBox, QToolButton, QVBoxLayout, QWidget)

MARGIN = 10  # px left and right of the frame strip
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)  # playback speeds offered (times real time)
HEIGHT = 72  # px at least; the rows grow with the strip
ATTR_COLOR = "#ffd400"  # the marks of per-frame attribute changes (a triangle over the row)


@dataclass(frozen=True)
class Marker:
    """A stored shape of the selected track: ``kind`` 'key', 'outside' or 'tracked'."""

    frame: int
    kind: str


@dataclass(frozen=True)
class AttrMark:
    """A stored shape of the selected track on which a per-frame attribute changes: ``text``
    says which, to what (the strip's tooltip)."""

    frame: int
    text: str


def attr_marks(changes: Sequence[tuple[int, dict]]) -> list[AttrMark]:
    """The marks of :func:`app.core.track_edits.attribute_keyframes`' ``(frame, values)``."""
    return [AttrMark(f, ", ".join(f"{k} = {v}" for k, v in values.items()))
            for f, values in changes]


@dataclass(frozen=True)
class EventBar:
    """An event over frames ``start..end`` (inclusive) of the video."""

    start: int
    end: int
    color: str
    name: str
    annotation_id: str


def parse_position(text: str, times: Sequence[float] | np.ndarray, frame_count: int
                   ) -> int | None:
    """A frame from what the user typed in the jump box: a frame number (``120``), or a time
    in seconds (``4.5s``), ``m:ss.s`` or ``h:mm:ss.s``: the frame shown at that time (the last
    one whose timestamp is at or before it). None when it is neither."""
    t = text.strip().lower().replace(",", ".")
    if not t:
        return None
    if re.fullmatch(r"\d+", t):
        return min(int(t), frame_count - 1)
    m = re.fullmatch(r"(\d+(?:\.\d*)?)\s*s(?:ec(?:onds?)?)?", t)
    seconds: float | None = float(m.group(1)) if m else None
    if seconds is None and re.fullmatch(r"\d+(?::\d+){1,2}(?:\.\d*)?", t):
        parts = [float(p) for p in t.split(":")]
        seconds = sum(v * 60 ** (len(parts) - 1 - i) for i, v in enumerate(parts))
    if seconds is None or not len(times):
        return None
    i = bisect.bisect_right(list(times), seconds + 1e-9) - 1
    return min(max(i, 0), frame_count - 1)


class TimelineBar(QWidget):
    """The painted strip. Click or drag: go to a frame; Shift+drag (or Shift+click, from the
    current frame): select a frame range; right-click an event: delete it."""

    frame_picked = Signal(int)
    scrubbing = Signal(bool)  # a drag to pick frames began (True) / ended (False)
    range_picked = Signal(int, int)
    delete_event = Signal(str)
    clear_range = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMinimumHeight(HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.frame_count = 1
        self.readable: int | None = None  # frames the decoder can show (None: all)
        self.current = 0
        self.pending: int | None = None
        self.selection: tuple[int, int] | None = None
        self.markers: list[Marker] = []
        self.attr_marks: list[AttrMark] = []
        self.runs: list[tuple[int, int]] = []
        self.track_color = "#ffffff"
        self.density = np.zeros(0, np.int32)
        self.events: list[EventBar] = []
        self._anchor: int | None = None
        self._scrubbing = False

    # ------------------------------------------------------------------ geometry
    def rows(self) -> dict[str, tuple[float, float]]:
        """(top, bottom) px of each row: the ruler, the density strip, the selected track's
        row and the events' row."""
        h = max(self.height(), HEIGHT)
        ruler = 16.0
        rest = h - ruler - 8
        d, t = min(max(rest * 0.16, 7.0), 12.0), min(rest * 0.46, 30.0)
        e = min(rest - d - t, 26.0)
        top = ruler + 3
        out = {"ruler": (0.0, ruler), "density": (top, top + d)}
        top += d + 3
        out["track"] = (top, top + t)
        top += t + 2
        out["events"] = (top, top + e)
        return out

    def _width(self) -> float:
        return max(self.width() - 2 * MARGIN, 1)

    def x_of(self, frame: float) -> float:
        """Widget x of the centre of ``frame``."""
        return MARGIN + (frame + 0.5) * self._width() / max(self.frame_count, 1)

    def frame_at(self, x: float) -> int:
        f = math.floor((x - MARGIN) / self._width() * self.frame_count)
        return min(max(f, 0), self.frame_count - 1)

    def attr_mark_at(self, x: float, y: float) -> AttrMark | None:
        """The attribute mark under widget point (x, y) (the top half of the track's row)."""
        top, bottom = self.rows()["track"]
        if not top - 2 <= y <= (top + bottom) / 2:
            return None
        near = [m for m in self.attr_marks if abs(self.x_of(m.frame) - x) <= 5]
        return min(near, key=lambda m: abs(self.x_of(m.frame) - x)) if near else None

    def _event_at(self, x: float, y: float) -> EventBar | None:
        top, bottom = self.rows()["events"]
        if not top <= y <= bottom:
            return None
        f = self.frame_at(x)
        return next((e for e in self.events if e.start <= f <= e.end), None)

    # ------------------------------------------------------------------ input
    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        f = self.frame_at(e.position().x())
        if e.button() == Qt.MouseButton.RightButton:
            self._menu(e)
            return
        if e.button() != Qt.MouseButton.LeftButton:
            return
        if e.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._anchor, self._shift_from, self._moved = f, self.current, False
            return
        self._scrubbing = True
        self.scrubbing.emit(True)
        self.frame_picked.emit(f)

    _shift_from = 0
    _moved = False

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        f = self.frame_at(e.position().x())
        ev = self._event_at(e.position().x(), e.position().y())
        mark = self.attr_mark_at(e.position().x(), e.position().y())
        self.setToolTip(f"{ev.name}: frames {ev.start}-{ev.end}" if ev else
                        f"frame {mark.frame}: {mark.text}" if mark else f"frame {f}")
        if self._anchor is not None:
            if f != self._anchor:
                self._moved = True
            self.selection = tuple(sorted((self._anchor, f)))  # type: ignore[assignment]
            self.update()
        elif self._scrubbing:
            self.frame_picked.emit(f)

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        f = self.frame_at(e.position().x())
        if self._anchor is not None:
            a = self._anchor if self._moved else self._shift_from
            self._anchor = None
            lo, hi = sorted((a, f))
            self.selection = (lo, hi)
            self.update()
            self.range_picked.emit(lo, hi)
        if self._scrubbing:
            self._scrubbing = False
            self.scrubbing.emit(False)

    def _menu(self, e: QMouseEvent) -> None:
        ev = self._event_at(e.position().x(), e.position().y())
        menu = QMenu(self)
        if ev is not None:
            act = menu.addAction(f"Delete event {ev.name!r} ({ev.start}-{ev.end})")
            act.triggered.connect(lambda: self.delete_event.emit(ev.annotation_id))
        if self.selection is not None:
            menu.addAction("Clear the range", self.clear_range.emit)
        if not menu.isEmpty():
            menu.popup(e.globalPosition().toPoint())

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        try:
            self._paint(p)
        finally:
            p.end()

    def _paint(self, p: QPainter) -> None:
        w = self.width()
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        n = max(self.frame_count, 1)
        step = self.width() / n
        text = pal.text().color()
        faint = QColor(text)
        faint.setAlphaF(0.35)
        # ruler: a tick per "nice" number of frames, labelled
        rows = self.rows()
        top, bottom = rows["ruler"]
        every = _nice_step(n, max(w / 70, 1))
        p.setPen(QPen(faint, 1))
        font = p.font()
        font.setPointSizeF(max(font.pointSizeF() * 0.8, 6))
        p.setFont(font)
        for f in range(0, n, every):
            x = self.x_of(f)
            p.drawLine(QPointF(x, bottom - 5), QPointF(x, bottom))
            p.setPen(QPen(text, 1))
            p.drawText(QPointF(x + 2, bottom - 5), str(f))
            p.setPen(QPen(faint, 1))
        p.drawLine(QPointF(MARGIN, bottom), QPointF(w - MARGIN, bottom))
        # range selection (under everything else)
        if self.selection is not None:
            a, b = self.selection
            sel = QColor("#3d8bfd")
            sel.setAlphaF(0.28)
            x0, x1 = self.x_of(a) - step / 2, self.x_of(b) + step / 2
            p.fillRect(QRectF(x0, 0, max(x1 - x0, 2), self.height()), sel)
            p.setPen(QPen(QColor("#3d8bfd"), 1))
            p.drawLine(QPointF(x0, 0), QPointF(x0, self.height()))
            p.drawLine(QPointF(x1, 0), QPointF(x1, self.height()))
        # density strip: how many objects each frame shows
        top, bottom = rows["density"]
        p.fillRect(QRectF(MARGIN, top, w - 2 * MARGIN, bottom - top), faint.darker(300))
        if len(self.density):
            peak = max(int(self.density.max()), 1)
            cols = max(int(w - 2 * MARGIN), 1)
            bins = np.linspace(0, len(self.density), cols + 1).astype(int)
            for c in range(cols):
                lo, hi = bins[c], max(bins[c + 1], bins[c] + 1)
                v = int(self.density[lo:hi].max()) if lo < len(self.density) else 0
                if v:
                    col = QColor("#f0a030")
                    col.setAlphaF(0.3 + 0.7 * v / peak)
                    p.fillRect(QRectF(MARGIN + c, top, 1, bottom - top), col)
        if self.readable is not None and self.readable < n:  # what the file no longer has
            x0 = self.x_of(self.readable) - step / 2
            gone = QColor("#808080")
            gone.setAlphaF(0.45)
            p.fillRect(QRectF(x0, top, w - MARGIN - x0, bottom - top), QBrush(
                gone, Qt.BrushStyle.BDiagPattern))
        # the selected track: where it is in view, and its stored shapes
        top, bottom = rows["track"]
        mid = (top + bottom) / 2
        tc = QColor(self.track_color)
        run = QColor(tc)
        run.setAlphaF(0.35)
        for a, b in self.runs:
            x0, x1 = self.x_of(a) - step / 2, self.x_of(b) + step / 2
            p.fillRect(QRectF(x0, mid - 3, max(x1 - x0, 1), 6), run)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for m in self.markers:
            x = self.x_of(m.frame)
            r = min(max((bottom - top) / 2 - 1, 4.0), 8.0)
            diamond = QPolygonF([QPointF(x, mid - r), QPointF(x + r, mid), QPointF(x, mid + r),
                                 QPointF(x - r, mid)])
            if m.kind == "outside":
                p.setPen(QPen(tc, 1.5))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawLine(QPointF(x - r, mid - r), QPointF(x + r, mid + r))
                p.drawLine(QPointF(x - r, mid + r), QPointF(x + r, mid - r))
            elif m.kind == "tracked":
                p.setPen(QPen(tc, 1))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawEllipse(QPointF(x, mid), 2.0, 2.0)
            else:
                p.setPen(QPen(QColor("#000000"), 1))
                p.setBrush(tc)
                p.drawPolygon(diamond)
        r = min(max((bottom - top) / 4, 3.0), 5.0)  # where a per-frame attribute changes
        p.setPen(QPen(QColor("#000000"), 1))
        p.setBrush(QColor(ATTR_COLOR))
        for m in self.attr_marks:
            x = self.x_of(m.frame)
            p.drawPolygon(QPolygonF([QPointF(x - r, top), QPointF(x + r, top),
                                     QPointF(x, top + 1.6 * r)]))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        # events
        top, bottom = rows["events"]
        for ev in self.events:
            x0, x1 = self.x_of(ev.start) - step / 2, self.x_of(ev.end) + step / 2
            c = QColor(ev.color)
            fill = QColor(c)
            fill.setAlphaF(0.55)
            rect = QRectF(x0, top, max(x1 - x0, 2), bottom - top)
            p.fillRect(rect, fill)
            p.setPen(QPen(c, 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(rect)
            p.setPen(QPen(QColor("#000000") if c.lightness() > 140 else QColor("#ffffff"), 1))
            p.drawText(rect.adjusted(3, 0, -2, 0), int(Qt.AlignmentFlag.AlignVCenter),
                       f"{ev.name} {ev.start}-{ev.end}")
        # the current frame (and the one being decoded)
        if self.pending is not None and self.pending != self.current:
            x = self.x_of(self.pending)
            p.setPen(QPen(faint, 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        x = self.x_of(self.current)
        cur = QColor("#ff4040")
        p.setPen(QPen(cur, 2))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.setBrush(cur)
        p.drawPolygon(QPolygonF([QPointF(x - 5, 0), QPointF(x + 5, 0), QPointF(x, 6)]))


def _nice_step(frames: int, labels: float) -> int:
    """A round number of frames between ruler labels, for about ``labels`` labels."""
    raw = max(frames / max(labels, 1), 1)
    base = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if base * m >= raw:
            return int(base * m)
    return int(base * 10)


def _button(text: str, tip: str) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    b.setAutoRaise(True)
    return b


class TimelinePanel(QWidget):
    """The strip with its controls (see the module doc); the presenter connects the signals."""

    step_by = Signal(int)
    play_toggled = Signal()
    jump_to = Signal(int)
    make_event = Signal()
    show_report = Signal()
    speed_changed = Signal(float)  # times real time
    keyframe_step = Signal(int)  # +1: next keyframe, -1: previous
    outside_step = Signal(int)  # +1: next frame the track enters / leaves the view, -1: back

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = TimelineBar()
        self.times: np.ndarray = np.zeros(1)
        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout()
        row.setContentsMargins(4, 0, 4, 0)
        row.setSpacing(2)
        self.step = QSpinBox()  # CVAT's configurable step (Shift+F / Shift+D, « and »)
        self.step.setRange(2, 1000)
        self.step.setValue(10)
        self.step.setPrefix("step ")
        self.step.setToolTip("Frames Shift+F / Shift+D and the « » buttons move")
        for key, text, tip, delta in (("back10", "«10", "Step back (Shift+D)", -10),
                                      ("back", "‹", "Previous frame (D)", -1),
                                      ("play", "▶", "Play / pause (Space)", 0),
                                      ("next", "›", "Next frame (F)", 1),
                                      ("next10", "10»", "Step on (Shift+F)", 10)):
            b = _button(text, tip)
            if abs(delta) == 10:
                b.clicked.connect(lambda _=False, s=delta // 10: self.step_by.emit(
                    s * self.step.value()))
            elif delta:
                b.clicked.connect(lambda _=False, d=delta: self.step_by.emit(d))
            else:
                b.clicked.connect(self.play_toggled.emit)
            self.buttons[key] = b
            row.addWidget(b)
        self.step.valueChanged.connect(self._step_changed)
        row.addWidget(self.step)
        for key, text, tip, signal, d in (
                ("key_back", "‹◆", "Previous keyframe of the selected track (,)",
                 self.keyframe_step, -1),
                ("key_next", "◆›", "Next keyframe of the selected track (.)",
                 self.keyframe_step, 1),
                ("out_back", "‹◇", "Previous frame where the selected track enters or leaves "
                 "the view (Alt+,)", self.outside_step, -1),
                ("out_next", "◇›", "Next frame where the selected track enters or leaves the "
                 "view (Alt+.)", self.outside_step, 1)):
            b = _button(text, tip)
            b.clicked.connect(lambda _=False, s=signal, d=d: s.emit(d))
            self.buttons[key] = b
            row.addWidget(b)
        self.speed = QComboBox()
        for value in SPEEDS:
            self.speed.addItem(f"{value:g}×", value)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("Playback speed (times real time)")
        self.speed.currentIndexChanged.connect(
            lambda _i: self.speed_changed.emit(float(self.speed.currentData())))
        row.addWidget(self.speed)
        self.position = QLabel()
        self.position.setMinimumWidth(200)
        row.addWidget(self.position)
        self.jump = QLineEdit()
        self.jump.setPlaceholderText("Frame or time")
        self.jump.setToolTip("A frame number, or a time: 4.5s, 0:04.5 (Ctrl+G)")
        self.jump.setMinimumWidth(120)
        self.jump.setMaximumWidth(190)
        self.jump.returnPressed.connect(self._jump)
        row.addWidget(self.jump)
        self.range_label = QLabel()
        row.addWidget(self.range_label)
        self.event_button = _button("Event", "Make the selected frame range an event of the "
                                    "active class (M); Shift+drag on the timeline selects it")
        self.event_button.clicked.connect(self.make_event.emit)
        row.addWidget(self.event_button)
        row.addStretch(0)
        self.info = QLabel()
        self.info.setObjectName("muted")
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.info.setMinimumWidth(80)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        row.addWidget(self.info, 1)
        self.report_button = _button("Report…", "What the decoder found in this video")
        self.report_button.clicked.connect(self.show_report.emit)
        row.addWidget(self.report_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 2)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(self.bar, 1)
        self.bar.range_picked.connect(lambda a, b: self._show_range())
        self.bar.clear_range.connect(self.clear_range)
        self._show_range()

    def _step_changed(self, n: int) -> None:
        self.buttons["back10"].setText(f"«{n}")
        self.buttons["next10"].setText(f"{n}»")

    def _jump(self) -> None:
        f = parse_position(self.jump.text(), self.times, self.bar.frame_count)
        if f is None:
            self.jump.selectAll()
            return
        self.jump.clear()
        self.jump_to.emit(f)

    # ------------------------------------------------------------------ shown state
    def set_video(self, frame_count: int, times: np.ndarray) -> None:
        self.bar.frame_count = max(int(frame_count), 1)
        self.bar.readable = None
        self.times = np.asarray(times, np.float64)
        self.bar.selection = None
        self._show_range()
        self.bar.update()

    def set_current(self, frame: int, pending: int | None = None) -> None:
        self.bar.current, self.bar.pending = frame, pending
        t = self.times[frame] if 0 <= frame < len(self.times) else None
        last = self.bar.frame_count - 1
        self.position.setText(f"Frame <b>{frame}</b> / {last}"
                              + (f" · {t:.3f} s" if t is not None else ""))
        self.bar.update()

    def set_playing(self, playing: bool) -> None:
        self.buttons["play"].setText("⏸" if playing else "▶")

    def clear_range(self) -> None:
        self.bar.selection = None
        self._show_range()
        self.bar.update()

    def _show_range(self) -> None:
        sel = self.bar.selection
        self.range_label.setText(f"Range {sel[0]}–{sel[1]}" if sel else "")
        self.event_button.setEnabled(sel is not None)
