"""The 2D canvas: shows one place's picture with its annotations and feeds the active tool.

What it shows comes from a plane source (:mod:`app.io.planes`): a photo, a video frame or a
volume slice, with its physical pixel size and display orientation. Layers, bottom to top: the
picture (level-of-detail tiles, nearest-neighbour at zoom >= 1 so pixels stay crisp; the
display mapping - brightness/contrast or window/level - applied to tiles, never to the data),
extra layers a mode adds (a label map's segments), the annotations (cached in a widget-sized
image, redrawn only when the document, the selection or the view changes), the tool overlay
and decorations (crosshair, orientation letters). Wheel zooms at the cursor; Space+drag or
middle-drag pans.

Coordinates: :class:`~app.widgets.view.View` (``widget = image * zoom + offset`` for a photo).
A mouse event at widget pixel (i, j) is taken at that pixel's centre (i + 0.5, j + 0.5), so a
click at 1:1 on image pixel (c, r) gives image point (c + 0.5, r + 0.5) as CONVENTIONS.md asks.
Every pointer event carries the place it happened on, so several canvases (the panes of a
volume) can edit at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEvent, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (QColor, QFont, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent,
                           QWheelEvent)
from PySide6.QtWidgets import QWidget

from app.core.document import Change, ChangeKind
from app.tools.base import EventType, PointerEvent, Tool
from app.tools.state import EditorState
from app.tools.surface import Surface
from app.widgets.canvas_input import CURSORS, button, buttons, key_event, modifiers
from app.widgets.canvas_render import AnnotationLayer, LayerStyle, View, draw_overlay
from app.widgets.canvas_labels import CanvasLabels
from app.io.planes import DisplayMapping, Orientation, PlaneSource
from app.widgets.tiles import ImagePyramid

Layer = Callable[[QPainter, View], None]  # draws in widget coordinates through the view

MIN_ZOOM, MAX_ZOOM = 1 / 256, 64.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch (120 units)
REFINE_MS = 120  # after a pan/zoom gesture pauses this long, annotations are redrawn exactly
BACKGROUND = QColor("#2b2b2b")
_LAYER_FIELDS = {"doc", "place", "selection", "hidden", "hidden_classes", "image_size"}


class Canvas(QWidget):
    """Image + annotations + tool overlay; see the module doc."""

    cursor_moved = Signal(float, float)
    zoom_changed = Signal(float)
    status_message = Signal(str)
    tool_changed = Signal(str)  # the new tool's name ('' for none): panes of a mode follow it

    def __init__(self, state: EditorState, parent: QWidget | None = None,
                 surface: Surface | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._surface = surface  # None: the window's (state.surface, a mode may swap it)
        self._tool: Tool | None = None
        self._owns_tool = True
        self._pyramid: ImagePyramid | None = None
        self._source: PlaneSource | None = None
        self._aspect = (1.0, 1.0)  # display units per picture pixel along x, y
        self._orientation = Orientation()
        self._under: list[Layer] = []  # drawn between the picture and the annotations
        self._over: list[Layer] = []  # drawn on top of everything
        self._error: str | None = None
        self._zoom, self._ox, self._oy = 1.0, 0.0, 0.0
        self._auto_fit = True
        self._adjust = (0.0, 0.0)
        self._layer = AnnotationLayer()
        self._style = LayerStyle()
        self._layer_image: QImage | None = None
        self._layer_buf: np.ndarray | None = None  # the memory _layer_image wraps
        self._base_image: QImage | None = None
        self._base_key: tuple | None = None
        self._serial = 0  # bumped by show_image / show_error
        self._wheel_clock = QElapsedTimer()
        self._refine = QTimer(self, singleShot=True, interval=REFINE_MS)
        self._refine.timeout.connect(self._end_gesture)
        self._layer_key: tuple | None = None
        self._layer_dirty = True
        self._space = False
        self._pan_from: tuple[float, float, float, float] | None = None
        self.labels = CanvasLabels(state, lambda: self.surface)
        self._doc = None
        # a plain dict (not self) is captured by the destroyed handler: it outlives the widget
        self._subs: dict[str, object] = {"doc": lambda: None}
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setMinimumSize(200, 150)
        self._subs["state"] = state.subscribe(self._on_state)
        self._watch_doc()
        self.destroyed.connect(lambda *_, subs=self._subs: [f() for f in subs.values()])

    # ------------------------------------------------------------------ public API
    def show_image(self, image: np.ndarray | ImagePyramid | None) -> None:
        """Show ``image`` (H x W x 3 RGB uint8, or a pyramid of one prebuilt off the UI
        thread; None clears) and set ``state.image_size``: a photo or video frame, square
        pixels, no reorientation."""
        self._source = None
        self.surface.source = None  # the window names the photo's picture (or a mode)
        self._set_picture(image if image is None or isinstance(image, ImagePyramid)
                          else ImagePyramid(image), (1.0, 1.0), Orientation())

    def show_source(self, source: PlaneSource, pyramid: ImagePyramid | None = None,
                    mapping: DisplayMapping | None = None) -> None:
        """Show a plane source's picture with its pixel size and orientation (``pyramid``:
        prebuilt off the UI thread; ``mapping``: window/level for a scalar picture)."""
        self._source = source
        self.surface.source = source
        if pyramid is None:
            pyramid = ImagePyramid(source.pixels(), scalar=source.is_scalar, mapping=mapping)
        elif mapping is not None:
            pyramid.set_mapping(mapping)
        px, py = source.pixel_size
        small = min(px, py)
        self._set_picture(pyramid, (px / small, py / small), source.orientation)

    def _set_picture(self, pyramid: ImagePyramid | None, aspect: tuple[float, float],
                     orientation: Orientation) -> None:
        self._error = None
        self._serial += 1
        if (aspect, orientation) != (self._aspect, self._orientation):
            self._auto_fit = True
        self._aspect, self._orientation = aspect, orientation
        self._pyramid = pyramid
        if pyramid is not None:
            if not pyramid.scalar:
                pyramid.set_adjust(*self._adjust)
            size = (pyramid.width, pyramid.height)
            if self.state.size_on(self.surface) != size:
                self._auto_fit = True
            if self._surface is not None:
                self._surface.image_size = size
            else:
                self.state.set(image_size=size)
        if self._auto_fit:
            self.fit()
        self._invalidate()

    @property
    def source(self) -> PlaneSource | None:
        """The plane source shown (None for a plain picture)."""
        return self._source

    @property
    def pyramid(self) -> ImagePyramid | None:
        return self._pyramid

    def set_mapping(self, mapping: DisplayMapping) -> None:
        """Window/level (or any display mapping) of the shown picture: tiles are remade, the
        pyramid is kept."""
        if self._pyramid is not None:
            self._pyramid.set_mapping(mapping)
            self._serial += 1
            self.update()

    def add_layer(self, layer: Layer, above: bool = False) -> Callable[[], None]:
        """Draw ``layer(painter, view)`` under the annotations (a label map) or, with
        ``above``, over everything (crosshair, orientation letters). Returns a remover."""
        where = self._over if above else self._under
        where.append(layer)
        self.update()
        return lambda: (layer in where and where.remove(layer), self.update())  # type: ignore

    def refresh_layers(self) -> None:
        """Redraw after what an added layer shows changed."""
        self.update()

    def show_error(self, message: str) -> None:
        """Draw ``message`` centred in place of the image."""
        self._pyramid = None
        self._serial += 1
        self._error = message
        self._invalidate()

    def showing(self) -> str | None:
        """'image' when a picture is shown, 'message' when a message stands in for it, None
        while nothing is (a picture still loading)."""
        if self._error is not None:
            return "message"
        return "image" if self._pyramid is not None else None

    def message(self) -> str | None:
        """The message shown in place of the picture, if any."""
        return self._error

    def reset_view(self) -> None:
        """Forget zoom and pan: the next picture is fitted to the window."""
        self._auto_fit = True
        self.labels.left()
        self.fit()
        self.update()

    def auto_fitted(self) -> bool:
        """Whether the view is the automatic fit (the user has not zoomed or panned)."""
        return self._auto_fit

    def center(self) -> tuple[float, float]:
        """The image point at the middle of the widget (continuous image px)."""
        return self.widget_to_image(self.width() / 2, self.height() / 2)

    def zoom_to(self, x0: float, y0: float, x1: float, y1: float, margin: float = 0.15) -> None:
        """Zoom and pan so the image rectangle (x0, y0)-(x1, y1) fills the view, with
        ``margin`` of its size around it (at most 8 screen px per image px)."""
        u, v = self._view().extent(max(x1 - x0, 1.0), max(y1 - y0, 1.0))
        z = min(self.width() / (u * (1 + 2 * margin)), self.height() / (v * (1 + 2 * margin)))
        z = min(max(z, MIN_ZOOM), 8.0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        view = self._view().placed(z, 0, 0, 1, 1)
        wx, wy = view.to_widget(cx, cy)
        self._set_view(z, view.ox + self.width() / 2 - wx, view.oy + self.height() / 2 - wy)

    def detach(self) -> None:
        """Stop following the state and the document (a pane whose volume was closed)."""
        for name in list(self._subs):
            self._subs[name]()
            self._subs[name] = lambda: None
        self._doc = None

    @property
    def surface(self) -> Surface:
        """What this canvas shows, handed to tools on each pointer event."""
        return self._surface if self._surface is not None else self.state.surface

    def set_tool(self, tool: Tool | None, owner: bool = True) -> None:
        """Give pointer and keys to ``tool``. ``owner``: this canvas (de)activates it; a
        volume pane shows the window's tool, which the window's canvas owns."""
        if tool is self._tool:
            return
        if self._tool is not None and self._owns_tool:
            self._tool.deactivate()
        self._tool, self._owns_tool = tool, owner
        if tool is not None and owner:
            tool.activate()
        self._sync_cursor()
        self.update()
        self.tool_changed.emit(tool.name if tool is not None else "")

    @property
    def tool(self) -> Tool | None:
        return self._tool

    def zoom(self) -> float:
        """Screen pixels per display unit (per image pixel for a photo; per smallest voxel
        side for a volume slice)."""
        return self._zoom

    def fit(self) -> None:
        """Zoom so the whole picture fits, centred."""
        w, h = self.state.size_on(self.surface)
        if w <= 0 or h <= 0:
            return
        u, v = self._view().extent(w, h)
        z = min(self.width() / u, self.height() / v) * 0.98
        view = self._view().placed(z, (self.width() - u * z) / 2, (self.height() - v * z) / 2,
                                   w, h)
        self._set_view(z, view.ox, view.oy)
        self._auto_fit = True

    def zoom_1to1(self) -> None:
        """One image pixel per screen pixel, keeping the widget centre's image point."""
        self.zoom_at(1.0, self.width() / 2, self.height() / 2)

    def zoom_at(self, zoom: float, wx: float, wy: float) -> None:
        """Set the zoom keeping the image point under widget point (wx, wy) in place."""
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        view = self._view().zoomed_at(zoom, wx, wy)
        self._set_view(zoom, view.ox, view.oy)

    def set_view(self, zoom: float, offset_x: float, offset_y: float) -> None:
        """Set zoom (screen px per image px) and the widget position of the image origin."""
        self._set_view(zoom, offset_x, offset_y)

    def set_display_adjust(self, brightness: float, contrast: float) -> None:
        """Display-only brightness and contrast, each in -1..1 (0 = unchanged)."""
        self._adjust = (float(brightness), float(contrast))
        if self._pyramid is not None:
            self._pyramid.set_adjust(*self._adjust)
        self.update()

    def layer_style(self) -> LayerStyle:
        """How annotations are shown (fill opacity, outlines only); display only."""
        return self._style

    def set_layer_style(self, fill_opacity: float | None = None,
                        outlines_only: bool | None = None) -> None:
        """Change the fill opacity (0..1) and/or outlines-only mode of annotations."""
        style = LayerStyle(
            self._style.fill_opacity if fill_opacity is None else min(max(fill_opacity, 0.0), 1.0),
            self._style.outlines_only if outlines_only is None else bool(outlines_only))
        if style != self._style:
            self._style = style
            self._invalidate()

    def image_to_widget(self, x: float, y: float) -> tuple[float, float]:
        """Continuous image px -> continuous widget px."""
        return self._view().to_widget(x, y)

    def widget_to_image(self, x: float, y: float) -> tuple[float, float]:
        """Continuous widget px -> continuous image px."""
        return self._view().to_image(x, y)

    # ------------------------------------------------------------------ view
    def view(self) -> View:
        """The current picture -> widget mapping."""
        return self._view()

    def _view(self) -> View:
        o = self._orientation
        return View(self._zoom, self._ox, self._oy, self.width(), self.height(),
                    self._aspect[0], self._aspect[1], o.transpose, o.flip_x, o.flip_y)

    def _set_view(self, zoom: float, ox: float, oy: float) -> None:
        changed_zoom = zoom != self._zoom
        self._zoom, self._ox, self._oy = zoom, ox, oy
        self._auto_fit = False
        self.update()
        if changed_zoom:
            self.zoom_changed.emit(zoom)

    def resizeEvent(self, event) -> None:  # noqa: N802
        if self._auto_fit:
            self.fit()
        super().resizeEvent(event)

    # ------------------------------------------------------------------ model events
    def _watch_doc(self) -> None:
        if self.state.doc is self._doc:
            return
        self._subs["doc"]()
        self._doc = self.state.doc
        self._subs["doc"] = self._doc.subscribe(self._on_changes) if self._doc else (
            lambda: None)

    def _on_state(self, name: str) -> None:
        if name == "doc":
            self._watch_doc()
        if name == "status":
            self.status_message.emit(self.state.status)
            return
        if name in _LAYER_FIELDS:
            self._invalidate()
        else:
            self.update()

    def _on_changes(self, changes: list[Change]) -> None:
        place = self.state.place_on(self.surface)
        media = place.media_id if place is not None else None
        if any(c.kind in (ChangeKind.SCHEMA, ChangeKind.RESET) or media in c.media_ids
               for c in changes):
            self._invalidate()

    def _invalidate(self) -> None:
        self._layer_dirty = True
        self.update()

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        try:
            self.render_frame(painter)
        finally:
            painter.end()

    def render_frame(self, painter: QPainter) -> None:
        """Draw one frame: image (cached per view), annotation layer (cached), tool overlay."""
        view = self._view()
        painter.drawImage(0, 0, self._base(view))
        if self._error is None:
            for layer in list(self._under):
                layer(painter, view)
            self._draw_layer(painter, view)
            tool = self._tool if self._tool is not None and \
                self._tool.surface is self.surface else None  # a pane shows its own only
            if tool is not None:
                draw_overlay(painter, tool.overlay(), view, self._style)
            self.labels.draw(painter, view, tool, self._pyramid is not None)
            for layer in list(self._over):
                layer(painter, view)

    def _base(self, view: View) -> QImage:
        """Background + image (or error message) for ``view``, re-rendered when it changes."""
        dpr = self.devicePixelRatioF()
        key = (view, self._serial, self._adjust, self._error, dpr,
               self._pyramid.mapping if self._pyramid is not None else None)
        if self._base_image is None or key != self._base_key:
            img = QImage(max(1, int(view.width * dpr)), max(1, int(view.height * dpr)),
                         QImage.Format.Format_RGB32)
            img.setDevicePixelRatio(dpr)
            img.fill(BACKGROUND)
            p = QPainter(img)
            try:
                if self._error is not None:
                    self._draw_message(p, self._error)
                else:
                    self._draw_image(p, view)
            finally:
                p.end()
            self._base_image, self._base_key = img, key
        return self._base_image

    def _draw_image(self, painter: QPainter, view: View) -> None:
        pyr = self._pyramid
        if pyr is None:
            return
        vis = view.visible(pyr.width, pyr.height)
        if vis is None:
            return
        n = pyr.level_for(view.scale)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                              n > 0 or view.scale < 1)
        painter.save()
        painter.setWorldTransform(view.transform(), True)  # tiles drawn in picture pixels
        for tile, (sx, sy, sw, sh), (ix, iy, iw, ih) in pyr.visible_tiles(n, *vis):
            painter.drawImage(QRectF(ix, iy, iw, ih), tile, QRectF(sx, sy, sw, sh))
        painter.restore()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)

    def _draw_layer(self, painter: QPainter, view: View) -> None:
        """The annotation layer: cached; during a pan or zoom gesture the last one is shown
        moved with the view, and redrawn once the gesture pauses (REFINE_MS)."""
        doc = self.state.doc
        if doc is None or self.state.place_on(self.surface) is None:
            return
        excluded = self._tool.editing_ids() if self._tool is not None and \
            self._tool.surface is self.surface else frozenset()
        key = (view, excluded, self.devicePixelRatioF())
        fresh = not self._layer_dirty and key == self._layer_key and self._layer_image is not None
        if not fresh and self._interacting() and not self._layer_dirty and (
                self._layer_image is not None and self._layer_key[1:] == key[1:]):
            old: View = self._layer_key[0]
            s = view.zoom / old.zoom
            painter.save()
            painter.translate(view.ox - old.ox * s, view.oy - old.oy * s)
            painter.scale(s, s)
            painter.drawImage(0, 0, self._layer_image)
            painter.restore()
            self._refine.start()
            return
        if not fresh:
            self._layer_image, self._layer_buf = self.render_annotations(view, excluded)
            self._layer_key, self._layer_dirty = key, False
        painter.drawImage(0, 0, self._layer_image)

    def _interacting(self) -> bool:
        return self._pan_from is not None or self._wheel_clock.isValid() and (
            self._wheel_clock.elapsed() < REFINE_MS)

    def render_annotations(self, view: View, excluded: frozenset[str] = frozenset()
                           ) -> tuple[QImage, np.ndarray]:
        """The annotation layer for ``view``: a transparent widget-sized image and its buffer."""
        anns = [a for a in self.state.visible_annotations(self.surface)
                if a.id not in excluded]
        out = self._layer.render(anns, self.state.doc.schema, frozenset(self.state.selection),
                                 view, self.state.size_on(self.surface),
                                 self.devicePixelRatioF(),
                                 self._style)
        if len(self._layer._rings) > 2 * len(anns) + 1000:
            self._layer.prune(a.id for a in anns)
        return out

    def _draw_message(self, painter: QPainter, text: str) -> None:
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        painter.setFont(font)
        painter.setPen(QColor("#e0e0e0"))
        r = self.rect().adjusted(40, 40, -40, -40)
        painter.drawText(r, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)

    # ------------------------------------------------------------------ pointer
    def _pointer(self, e: QMouseEvent, kind: EventType) -> PointerEvent:
        p = e.position()
        half = 0.5 / self.devicePixelRatioF()  # centre of the device pixel under the pointer
        x, y = self.widget_to_image(p.x() + half, p.y() + half)
        surface = self.surface
        place = self._source.place if self._source is not None else \
            self.state.place_on(surface)
        return PointerEvent(kind, x, y, button(e.button()), buttons(e.buttons()),
                            modifiers(e.modifiers()), self._view().scale, place, surface)

    def _sync_cursor(self) -> None:
        if self._pan_from is not None:
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space:
            shape = Qt.CursorShape.OpenHandCursor
        else:
            shape = CURSORS.get(self._tool.cursor if self._tool else "arrow",
                                 Qt.CursorShape.ArrowCursor)
        if self.cursor().shape() != shape:
            self.setCursor(shape)

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if e.button() == Qt.MouseButton.MiddleButton or (
                e.button() == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = (e.position().x(), e.position().y(), self._ox, self._oy)
        elif self._tool is not None and self._pyramid is not None:
            if self._tool.draws and not self._tool.busy and \
                    not self.state.can_draw(self.surface):
                return  # can_draw said why in the status bar
            self._tool.press(self._pointer(e, EventType.PRESS))
        self._after_input()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        self.labels.pointer_at = (e.position().x(), e.position().y())
        if self._pan_from is not None:
            x0, y0, ox, oy = self._pan_from
            self._set_view(self._zoom, ox + e.position().x() - x0, oy + e.position().y() - y0)
            return
        pe = self._pointer(e, EventType.MOVE)
        self.cursor_moved.emit(pe.x, pe.y)
        if self._pyramid is not None:
            self.labels.find_keypoint(pe)
        if self._tool is not None and self._pyramid is not None:
            self._tool.move(pe)
        self._after_input()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None and e.button() in (Qt.MouseButton.MiddleButton,
                                                         Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._refine.start()
        elif self._tool is not None and self._pyramid is not None:
            self._tool.release(self._pointer(e, EventType.RELEASE))
        self._after_input()

    def mouseDoubleClickEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is None and not self._space and self._tool is not None and (
                self._pyramid is not None):
            self._tool.double_click(self._pointer(e, EventType.DOUBLE))
        self._after_input()

    def wheelEvent(self, e: QWheelEvent) -> None:  # noqa: N802
        delta = e.angleDelta().y() or e.angleDelta().x()
        if not delta:
            return
        p = e.position()
        self.zoom_at(self._zoom * WHEEL_STEP ** (delta / 120.0), p.x(), p.y())
        self._wheel_clock.start()
        self._refine.start()
        e.accept()

    def _end_gesture(self) -> None:
        if self._interacting():
            self._refine.start()
        else:
            self.update()

    def leaveEvent(self, e: QEvent) -> None:  # noqa: N802
        self.labels.left()
        if self._tool is not None and self._tool.surface is self.surface:
            self._tool.leave()
        self.update()
        super().leaveEvent(e)

    def _after_input(self) -> None:
        self._sync_cursor()
        self.update()

    # ------------------------------------------------------------------ keys
    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ShortcutOverride:
            ke = key_event(e)  # type: ignore[arg-type]
            if ke.key == "Space" or (self._tool is not None and self._tool.claims(ke)):
                e.accept()
                return True
        return super().event(e)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802, A002
        """Tab belongs to the tools (the select tool cycles through shapes): the canvas never
        hands the keyboard to a panel's text field (whose next key would be typed there)."""
        return False

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802
        if e.key() == Qt.Key.Key_Space:
            if not e.isAutoRepeat():
                self._space = True
                self._sync_cursor()
            e.accept()
            return
        if self._tool is not None and self._tool.handle_key(key_event(e)):
            e.accept()
            self._after_input()
            return
        e.ignore()
        super().keyPressEvent(e)

    def keyReleaseEvent(self, e: QKeyEvent) -> None:  # noqa: N802
        if e.key() == Qt.Key.Key_Space and not e.isAutoRepeat():
            self._space = False
            self._sync_cursor()
        super().keyReleaseEvent(e)

    def focusOutEvent(self, e) -> None:  # noqa: N802
        self._space = False
        self._pan_from = None
        self._sync_cursor()
        super().focusOutEvent(e)

