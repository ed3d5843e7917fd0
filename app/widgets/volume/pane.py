"""One pane of a volume: a title bar (pane name, slice, oblique note) over a real
:class:`~app.widgets.canvas.Canvas` on the window's editor state and tools with its own
:class:`~app.tools.volume_surface.SliceSurface`, showing one slice through the
volume plane source, the label maps under the annotations and the crosshair, orientation
letters and notes over everything.

Mouse and wheel, as 3D Slicer and ITK-SNAP do (the pane takes these before the canvas):
wheel = next / previous slice, Ctrl+wheel = zoom at the pointer (the canvas's own wheel),
right-drag = window/level (right widens, down raises the level), Shift+move = the crosshair
follows the pointer; a double click on the title maximises the pane (and back). Ctrl+0 fits
the active pane (View ▸ Fit), Ctrl+1 shows it at 100 %.

Smooth reformats (on by default; the title bar's context menu switches them for every pane): a
picture whose pixels are not square in mm (a coronal or sagittal pane of 5 mm slices) is drawn
from its linear resampling (:func:`app.io.planes.smooth_plane`, a :class:`ResampledPyramid`
over the picture's own size), as Slicer and ITK-SNAP draw reformats. Display only: the pane's
source - what tools, the status bar and exports read - keeps the voxels, and label maps are
drawn voxel for voxel (:mod:`app.widgets.volume.layers`), never interpolated.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import (QColor, QContextMenuEvent, QFontMetricsF, QMouseEvent, QPainter, QPen,
                           QWheelEvent)
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QVBoxLayout, QWidget

from app.io.planes import VolumeSliceSource
from app.tools.state import EditorState
from app.tools.volume_cursor import PANE_COLOURS
from app.tools.volume_surface import SliceSurface
from app.widgets.canvas import Canvas
from app.widgets.canvas_input import key_event
from app.widgets.labels import draw_label, label_font
from app.widgets.tiles import TILE, ImagePyramid
from app.widgets.view import View

CROSSHAIR_GAP = 10  # screen px left open around the crosshair's centre
MARK_COLOUR = "#d62728"  # a slice without its own image (damaged or missing file)
PANE_HELP = ("Double-click to maximise this pane (and back). Wheel: slices, Ctrl+wheel: zoom, "
             "right-drag: window/level, Shift+move: crosshair")
DRAG_SLOP = 2  # screen px a right press may move before it counts as a drag


SMOOTH_TEXT = "Smooth reformats"


class _Smoothing(QObject):
    """The one "Smooth reformats" setting of every pane (on by default): intensity pictures
    whose pixels are not square in mm (a coronal pane of 5 mm slices) are drawn linearly
    interpolated; label maps are always drawn voxel for voxel."""

    changed = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        self.on = True

    def set(self, on: bool) -> None:
        if bool(on) != self.on:
            self.on = bool(on)
            self.changed.emit(self.on)


SMOOTHING = _Smoothing()


def set_smooth_reformats(on: bool) -> None:
    """Turn smooth reformats on or off in every pane (redrawn at once)."""
    SMOOTHING.set(on)


class _SliceKeys:
    """Which keys step a pane's slices (Edit ▸ Preferences… ▸ Slice keys, saved by
    :mod:`app.io.preferences`): ``"vellum"`` - Up/Down (Shift: 10) and F/D, the window's; or
    ``"slicer"`` - 3D Slicer's: Left/Right too (Shift: 10) and B (back), while Up/Down and F
    step as before. A key the active tool claims (the select tool's arrow nudge of a selected
    shape) stays the tool's; with "slicer", B steps back instead of choosing the brush."""

    STEPS = {"Left": -1, "Right": 1, "B": -1}

    def __init__(self) -> None:
        self.scheme = "vellum"

    def steps(self, e) -> int:
        """Slices the key event ``e`` steps with the scheme now (0: not a slice key here)."""
        if self.scheme != "slicer":
            return 0
        mods = e.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        name = {Qt.Key.Key_Left: "Left", Qt.Key.Key_Right: "Right", Qt.Key.Key_B: "B"}.get(
            Qt.Key(e.key()))
        if name is None:
            return 0
        if mods == Qt.KeyboardModifier.NoModifier:
            return self.STEPS[name]
        if mods == Qt.KeyboardModifier.ShiftModifier and name != "B":
            return 10 * self.STEPS[name]
        return 0


SLICE_KEYS = _SliceKeys()


def set_slice_keys(scheme: str) -> None:
    """``"vellum"`` or ``"slicer"`` (anything else reads as "vellum") for every pane."""
    SLICE_KEYS.scheme = scheme if scheme == "slicer" else "vellum"


class ResampledPyramid(ImagePyramid):
    """A pyramid whose level 0 is a finer, display-only resampling of the picture (see
    :func:`app.io.planes.smooth_plane`) drawn over the picture's own ``width`` x ``height``:
    picture coordinates stay the volume's voxels. Levels are chosen by the level's own pixels
    (about square in mm, so one per screen pixel at the pane's smaller scale)."""

    def __init__(self, fine, width: int, height: int, mapping) -> None:
        super().__init__(fine, scalar=True, mapping=mapping)
        self.width, self.height = int(width), int(height)

    def max_level(self) -> int:
        h, w = self._levels[0].shape[:2]
        return max(0, int(math.ceil(math.log2(max(w, h, 1) / TILE))))

    def level_for(self, zoom: float) -> int:
        if zoom >= 1.0:
            return 0
        return min(int(math.floor(math.log2(1.0 / zoom) + 1e-9)), self.max_level())


class PaneTitle(QLabel):
    """The title bar; a double click asks to maximise the pane, its context menu holds the
    "Smooth reformats" switch."""

    double_clicked = Signal()

    def mouseDoubleClickEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        self.double_clicked.emit()
        e.accept()

    def contextMenuEvent(self, e: QContextMenuEvent) -> None:  # noqa: N802
        menu = QMenu(self)
        act = menu.addAction(SMOOTH_TEXT)
        act.setCheckable(True)
        act.setChecked(SMOOTHING.on)
        act.setToolTip("Draw reformatted planes of thick slices linearly interpolated "
                       "(display only; label maps and values stay voxel for voxel)")
        act.toggled.connect(set_smooth_reformats)
        menu.exec(e.globalPos())


class SlicePane(QWidget):
    """A pane showing array axis ``axis`` of a volume (named ``pane`` in patient space)."""

    activated = Signal(object)  # the pane (pointer entered or pressed)
    slices_scrolled = Signal(object, int)  # the pane, wheel notches (+ forward)
    window_dragged = Signal(object, float, float, bool)  # the pane, dx, dy, finished
    crosshair_moved = Signal(object, float, float)  # the pane, picture x, y
    pointer_left = Signal(object)  # the pane (the pointer went off its picture)
    maximise = Signal(object)

    def __init__(self, pane: str, axis: str, state: EditorState, surface: SliceSurface,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pane, self.axis, self.state, self.surface = pane, axis, state, surface
        self.source: VolumeSliceSource | None = None
        self.cross: tuple[float, float] | None = None  # crosshair on the picture (px)
        self.cross_colours: tuple[str, str] = ("#ffffff", "#ffffff")  # lines x=c, y=c
        self.notes: list[str] = []  # drawn at the bottom left (e.g. "oblique 12°")
        self.mark = ""  # what is wrong with the slice shown (a damaged file): drawn in red
        self.title = PaneTitle()
        self.title.setObjectName(f"pane_title_{pane}")
        self.title.setToolTip(PANE_HELP)
        self._title_style(PANE_COLOURS[pane], "#111")
        self.canvas = Canvas(state, surface=surface)
        self.canvas.setObjectName(f"pane_canvas_{pane}")
        self.canvas.setMinimumSize(120, 100)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(1, 1, 1, 1)
        lay.setSpacing(0)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        lay.addLayout(head)
        lay.addWidget(self.canvas, 1)
        self.title.double_clicked.connect(lambda: self.maximise.emit(self))
        self._right: tuple[float, float] | None = None
        self._right_moved = False
        self._wheel_rest = 0
        self._kept: tuple[float, tuple[float, float]] | None = None  # see keep_view
        self.canvas.installEventFilter(self)
        self.canvas.add_layer(self._decorate, above=True)
        self.set_title("")
        self._mapping = None
        SMOOTHING.changed.connect(self._smoothing_changed)  # let go with the pane

    # ------------------------------------------------------------------ showing
    def set_title(self, text: str) -> None:
        self.title.setText(f"{self.pane.capitalize()}  {text}".rstrip())

    def _title_style(self, background: str, colour: str) -> None:
        self.title.setStyleSheet(f"QLabel {{ background: {background}; color: {colour}; "
                                 "padding: 1px 6px; font-weight: bold; }")

    def set_mark(self, text: str) -> None:
        """Mark the slice shown as holding no image of its own (``text`` says why, e.g.
        "slice k=12: damaged file IM12.dcm"): a red title bar and the words over the
        picture; "" clears the mark."""
        if text == self.mark:
            return
        self.mark = text
        if text:
            self._title_style(MARK_COLOUR, "#ffffff")
        else:
            self._title_style(PANE_COLOURS[self.pane], "#111")
        self.title.setToolTip(text or PANE_HELP)
        self.canvas.update()

    def show_source(self, source: VolumeSliceSource, mapping) -> None:
        """Show ``source`` through ``mapping`` (window/level); with smooth reformats on, a
        picture of non-square pixels is drawn from its linear resampling (display only: the
        canvas's source, what tools and the status bar read, is ``source`` itself)."""
        self.source, self._mapping = source, mapping
        fine = source.display_pixels() if SMOOTHING.on else None
        if fine is None:
            self.canvas.show_source(source, mapping=mapping)
        else:
            w, h = source.size
            self.canvas.show_source(source, ResampledPyramid(fine, w, h, mapping))

    def _smoothing_changed(self, _on: bool) -> None:
        if self.source is not None:
            mapping = self.canvas.pyramid.mapping if self.canvas.pyramid else self._mapping
            self.show_source(self.source, mapping)

    # ------------------------------------------------------------------ zoom
    def fit(self) -> None:
        """The whole slice in the pane, centred (Ctrl+0)."""
        self._kept = None
        self.canvas.fit()

    def actual_size(self) -> None:
        """One screen pixel per display unit (Ctrl+1)."""
        self._kept = None
        self.canvas.zoom_1to1()

    def zoomed(self) -> tuple[float, tuple[float, float]] | None:
        """(zoom, picture point at the pane's middle) when the user zoomed or panned, None
        while the pane fits its slice."""
        if self._kept is not None:
            return self._kept
        if self.canvas.showing() != "image" or self.canvas.auto_fitted():
            return None
        return (self.canvas.zoom(), self.canvas.center())

    def keep_view(self, zoom: float, center: tuple[float, float]) -> None:
        """Show the slice at ``zoom`` (screen px per display unit) with picture point
        ``center`` at the pane's middle, and keep it so while the pane settles its size
        (a reopened volume's layout), until the user's next press, wheel or key on it."""
        self._kept = (float(zoom), (float(center[0]), float(center[1])))
        self._apply_kept()

    def _apply_kept(self) -> None:
        if self._kept is None or self.canvas.showing() != "image":
            return
        zoom, (cx, cy) = self._kept
        self.canvas.set_view(zoom, 0.0, 0.0)
        wx, wy = self.canvas.image_to_widget(cx, cy)
        self.canvas.set_view(zoom, self.canvas.width() / 2 - wx, self.canvas.height() / 2 - wy)

    # ------------------------------------------------------------------ input
    def eventFilter(self, obj: QObject, e: QEvent) -> bool:  # noqa: N802
        t = e.type()
        if t == QEvent.Type.Resize and self._kept is not None:
            self._apply_kept()  # the canvas has its new size already
        elif t in (QEvent.Type.MouseButtonPress, QEvent.Type.Wheel, QEvent.Type.KeyPress):
            self._kept = None  # the user takes over from the view kept
        if t in (QEvent.Type.Enter, QEvent.Type.MouseButtonPress, QEvent.Type.FocusIn):
            self.activated.emit(self)
        if t == QEvent.Type.Leave:
            self.pointer_left.emit(self)
        if t == QEvent.Type.Wheel:
            return self._wheel(e)  # type: ignore[arg-type]
        if t in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            steps = SLICE_KEYS.steps(e)
            tool = self.canvas.tool
            if steps and not (tool is not None and tool.claims(key_event(e))):
                e.accept()  # before the window's shortcut for the key (B: the brush)
                if t == QEvent.Type.KeyPress:
                    self.slices_scrolled.emit(self, steps)
                return True
        if t == QEvent.Type.MouseButtonPress and e.button() == Qt.MouseButton.RightButton:
            self._right = (e.position().x(), e.position().y())
            self._right_moved = False
            return True
        if t == QEvent.Type.MouseMove and self._right is not None:
            dx, dy = e.position().x() - self._right[0], e.position().y() - self._right[1]
            if self._right_moved or abs(dx) + abs(dy) > DRAG_SLOP:
                self._right_moved = True
                self.window_dragged.emit(self, dx, dy, False)
            return True
        if t == QEvent.Type.MouseButtonRelease and e.button() == Qt.MouseButton.RightButton:
            if self._right is not None and self._right_moved:
                dx, dy = e.position().x() - self._right[0], e.position().y() - self._right[1]
                self.window_dragged.emit(self, dx, dy, True)
            self._right = None
            return True
        if (t == QEvent.Type.MouseMove and e.buttons() == Qt.MouseButton.NoButton
                and e.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            x, y = self.canvas.widget_to_image(e.position().x(), e.position().y())
            self.crosshair_moved.emit(self, x, y)
        return False

    def _wheel(self, e: QWheelEvent) -> bool:
        if e.modifiers() & Qt.KeyboardModifier.ControlModifier:
            return False  # the canvas zooms at the pointer
        delta = e.angleDelta().y() or e.angleDelta().x()
        self._wheel_rest += delta
        steps = int(self._wheel_rest / 120)
        if steps:
            self._wheel_rest -= steps * 120
            self.slices_scrolled.emit(self, steps)
        e.accept()
        return True

    # ------------------------------------------------------------------ decorations
    def _decorate(self, painter: QPainter, view: View) -> None:
        if self.source is None:
            return
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if self.cross is not None:
            self._draw_cross(painter, view)
        self._draw_letters(painter, view)
        painter.restore()

    def _draw_cross(self, painter: QPainter, view: View) -> None:
        w, h = self.source.size
        cx, cy = self.cross
        centre = QPointF(*view.to_widget(cx, cy))
        for (p0, p1), colour in ((((cx, 0.0), (cx, float(h))), self.cross_colours[0]),
                                 (((0.0, cy), (float(w), cy)), self.cross_colours[1])):
            a, b = QPointF(*view.to_widget(*p0)), QPointF(*view.to_widget(*p1))
            pen = QPen(QColor(colour), 1.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            for start, end in ((a, centre), (b, centre)):
                d = end - start
                n = max((d.x() ** 2 + d.y() ** 2) ** 0.5, 1e-6)
                if n > CROSSHAIR_GAP:
                    painter.drawLine(start, end - d * (CROSSHAIR_GAP / n))

    def _draw_letters(self, painter: QPainter, view: View) -> None:
        left, right, top, bottom = self.source.orientation.letters
        w, h = view.width, view.height
        metrics = QFontMetricsF(label_font(painter.font().family()))
        plate = QColor("#d0d0d0")

        def width(text: str) -> float:
            return metrics.horizontalAdvance(text)

        mid = h / 2 + metrics.ascent() / 2
        for text, pos in ((left, QPointF(8, mid)), (right, QPointF(w - width(right) - 6, mid)),
                          (top, QPointF(w / 2 - width(top) / 2, metrics.ascent() + 6)),
                          (bottom, QPointF(w / 2 - width(bottom) / 2, h - metrics.descent() - 5))):
            if text:
                draw_label(painter, pos, text, plate)
        if self.mark:  # "slice k=3:" over "damaged file NAME", under the top letter
            y = 2 * metrics.ascent() + 18
            for line in self.mark.replace(": ", ":\n", 1).splitlines():
                r = draw_label(painter, QPointF(8, y), line, QColor(MARK_COLOUR))
                y += r.height() + 3
        y = h - metrics.descent() - 5
        for note in reversed(self.notes):
            r = draw_label(painter, QPointF(8, y), note, QColor("#ffb347"))
            y -= r.height() + 3
