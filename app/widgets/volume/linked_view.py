"""A second series linked to the volume shown (issue 20 item 5): the smallest design that gives
fusion, a linked crosshair and label maps shown across.

- **Linked row**: under the three panes of volume A, a row of three read-only panes shows
  volume B (its own grid, its own window/level, radiological orientation) on the slice of B
  nearest the crosshair along each of B's pane axes; B's crosshair is drawn at the same world
  point. A click on a B pane moves the one crosshair there (A follows to its nearest slices), a
  wheel notch steps B one of *its* slices (A follows in world coordinates).
- **Label maps across**: A's label maps are drawn on B's panes resampled nearest-neighbour
  through world coordinates (:func:`app.io.volume.linked.resample_plane`, read brick-box by
  brick-box), redrawn after every edit.
- **Fusion**: B's intensities resampled linearly onto each A pane's picture, through B's
  window and a colour map (hot or grey) at an opacity, drawn over A's picture and label maps
  (a layer of each A pane's canvas; outside B it is transparent).

Painting stays on A (the volume whose tools are live); B is linked for reading. Everything
goes through LPS world coordinates and ``voxel_to_world`` (``../shared/CONVENTIONS.md``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton,
                               QVBoxLayout, QWidget)

from app.core.document import ChangeKind
from app.core.geometry import PANES
from app.core.media import MediaItem
from app.core.places import Place
from app.io.planes import VolumeSliceSource, WindowLevel
from app.io.volume import Volume
from app.io.volume.linked import FrameLink, array_reader, nearest_slices, resample_plane
from app.tools.volume_cursor import PANE_COLOURS, Crosshair
from app.widgets.labelmap_layer import colour_table
from app.widgets.view import View

COLOUR_MAPS = ("hot", "grey")
FUSION_OFF = "off"


def colour_lut(name: str) -> np.ndarray:
    """256 x 3 uint8 RGB of colour map ``name`` ("hot": black-red-yellow-white, "grey")."""
    t = np.linspace(0.0, 1.0, 256)
    if name == "hot":
        rgb = np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1),
                        np.clip(3 * t - 2, 0, 1)], axis=1)
    else:
        rgb = np.stack([t, t, t], axis=1)
    return np.round(rgb * 255).astype(np.uint8)


def fusion_pixels(values: np.ndarray, window: WindowLevel, cmap: str,
                  opacity: float) -> np.ndarray:
    """Premultiplied ARGB32 (uint32, rows x cols) of resampled intensities (NaN = outside the
    second series: transparent) through ``window`` and colour map ``cmap`` at ``opacity``."""
    ok = np.isfinite(values)
    index = window.apply(np.where(ok, values, window.low)).astype(np.intp)
    rgb = colour_lut(cmap)[index].astype(np.float32) * float(opacity)
    a = np.where(ok, round(255 * float(opacity)), 0).astype(np.uint32)
    rgb[~ok] = 0
    r, g, b = (np.rint(rgb[..., n]).astype(np.uint32) for n in range(3))
    return np.ascontiguousarray((a << 24) | (r << 16) | (g << 8) | b)


def _argb_over(base_rgb: np.ndarray, argb: np.ndarray) -> np.ndarray:
    """``base_rgb`` (uint8 H x W x 3) with premultiplied ARGB32 ``argb`` drawn over it."""
    a = ((argb >> 24) & 255).astype(np.float32)[..., None] / 255.0
    over = np.stack([(argb >> 16) & 255, (argb >> 8) & 255, argb & 255], axis=-1).astype(
        np.float32)
    return np.clip(base_rgb * (1 - a) + over, 0, 255).astype(np.uint8)


def _argb_over_argb(under: np.ndarray, over: np.ndarray) -> np.ndarray:
    """Premultiplied ARGB32 ``over`` composited on ``under`` (both uint32 H x W)."""
    a = ((over >> 24) & 255).astype(np.float32)[..., None] / 255.0
    def split(x):
        return np.stack([(x >> s) & 255 for s in (24, 16, 8, 0)], axis=-1).astype(np.float32)
    out = np.rint(split(over) + split(under) * (1 - a)).clip(0, 255).astype(np.uint32)
    return np.ascontiguousarray((out[..., 0] << 24) | (out[..., 1] << 16) | (out[..., 2] << 8)
                                | out[..., 3])


class LinkedPane(QWidget):
    """One read-only pane of the linked series: the picture fitted with its aspect in mm,
    radiological flips (:class:`~app.io.planes.Orientation`), the crosshair, A's label maps
    resampled on it."""

    clicked = Signal(object, float, float)  # the pane, picture x, y
    scrolled = Signal(object, int)  # the pane, wheel notches

    def __init__(self, pane: str, axis: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pane, self.axis = pane, axis
        self.setObjectName(f"linked_pane_{pane}")
        self.setMinimumSize(120, 100)
        self.source: VolumeSliceSource | None = None
        self.rgb: np.ndarray | None = None  # the picture as drawn (picture order, RGB)
        self.cross: tuple[float, float] | None = None
        self.title = ""
        self._wheel_rest = 0
        self._image: QImage | None = None
        self._buf: np.ndarray | None = None

    # ------------------------------------------------------------------ picture <-> screen
    def _display(self) -> tuple[float, float, float, float, float, float]:
        """(display width, height in px, scale, left, top, title height) of the fitted picture."""
        w, h = self.source.size
        px, py = self.source.pixel_size
        o = self.source.orientation
        dw, dh, sx, sy = (h, w, py, px) if o.transpose else (w, h, px, py)
        top = 16.0
        avail_w, avail_h = max(self.width(), 1), max(self.height() - top, 1)
        scale = min(avail_w / (dw * sx), avail_h / (dh * sy))
        left = (avail_w - dw * sx * scale) / 2
        y0 = top + (avail_h - dh * sy * scale) / 2
        return dw, dh, scale, left, y0, top

    def to_widget(self, x: float, y: float) -> tuple[float, float]:
        """Widget position of picture point (x, y)."""
        o = self.source.orientation
        dw, dh, scale, left, top, _ = self._display()
        dx, dy = (y, x) if o.transpose else (x, y)
        if o.flip_x:
            dx = dw - dx
        if o.flip_y:
            dy = dh - dy
        px, py = self.source.pixel_size
        sx, sy = (py, px) if o.transpose else (px, py)
        return (left + dx * sx * scale, top + dy * sy * scale)

    def to_picture(self, wx: float, wy: float) -> tuple[float, float]:
        """Picture point under widget position (wx, wy)."""
        o = self.source.orientation
        dw, dh, scale, left, top, _ = self._display()
        px, py = self.source.pixel_size
        sx, sy = (py, px) if o.transpose else (px, py)
        dx, dy = (wx - left) / (sx * scale), (wy - top) / (sy * scale)
        if o.flip_x:
            dx = dw - dx
        if o.flip_y:
            dy = dh - dy
        return (dy, dx) if o.transpose else (dx, dy)

    # ------------------------------------------------------------------ showing
    def show_picture(self, source: VolumeSliceSource, rgb: np.ndarray,
                     cross: tuple[float, float], title: str) -> None:
        """Show ``rgb`` (picture order, uint8 H x W x 3) of ``source`` with the crosshair."""
        self.source, self.rgb, self.cross, self.title = source, rgb, cross, title
        o = source.orientation
        d = rgb.transpose(1, 0, 2) if o.transpose else rgb
        if o.flip_x:
            d = d[:, ::-1]
        if o.flip_y:
            d = d[::-1]
        h, w = d.shape[:2]
        argb = np.empty((h, w), np.uint32)
        argb[:] = (0xFF << 24) | (d[..., 0].astype(np.uint32) << 16) | (
            d[..., 1].astype(np.uint32) << 8) | d[..., 2].astype(np.uint32)
        self._buf = argb
        self._image = QImage(argb.data, w, h, w * 4, QImage.Format.Format_ARGB32_Premultiplied)
        self.update()

    def set_cross(self, cross: tuple[float, float]) -> None:
        """Move the crosshair only (the slice shown is unchanged)."""
        self.cross = cross
        self.update()

    def paintEvent(self, _e) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#000"))
        p.fillRect(QRectF(0, 0, self.width(), 16), QColor(PANE_COLOURS[self.pane]))
        p.setPen(QColor("#111"))
        p.drawText(QRectF(6, 0, self.width() - 6, 16), Qt.AlignmentFlag.AlignVCenter,
                   f"{self.pane.capitalize()} (linked)  {self.title}")
        if self.source is None or self._image is None:
            p.end()
            return
        dw, dh, scale, left, top, _ = self._display()
        o = self.source.orientation
        px, py = self.source.pixel_size
        sx, sy = (py, px) if o.transpose else (px, py)
        p.drawImage(QRectF(left, top, dw * sx * scale, dh * sy * scale), self._image)
        if self.cross is not None:
            cx, cy = self.to_widget(*self.cross)
            pen = QPen(QColor("#ffff00"), 1.0)
            p.setPen(pen)
            p.drawLine(QPointF(cx, top), QPointF(cx, top + dh * sy * scale))
            p.drawLine(QPointF(left, cy), QPointF(left + dw * sx * scale, cy))
        lft, rgt, tp, bot = self.source.orientation.letters  # patient letters at the edges
        p.setPen(QColor("#d0d0d0"))
        w, h = float(self.width()), float(self.height())
        for text, rect, align in (
                (lft, QRectF(4, top, 40, h - top), Qt.AlignmentFlag.AlignLeft),
                (rgt, QRectF(w - 44, top, 40, h - top), Qt.AlignmentFlag.AlignRight),
                (tp, QRectF(0, top + 2, w, 20), Qt.AlignmentFlag.AlignTop),
                (bot, QRectF(0, h - 22, w, 20), Qt.AlignmentFlag.AlignBottom)):
            if text:
                p.drawText(rect, align | (Qt.AlignmentFlag.AlignVCenter if rect.width() < 50
                                          else Qt.AlignmentFlag.AlignHCenter), text)
        p.end()

    # ------------------------------------------------------------------ input
    def mousePressEvent(self, e) -> None:  # noqa: N802
        if self.source is None or e.button() != Qt.MouseButton.LeftButton:
            return
        x, y = self.to_picture(e.position().x(), e.position().y())
        w, h = self.source.size
        if 0 <= x < w and 0 <= y < h:
            self.clicked.emit(self, x, y)
        e.accept()

    def wheelEvent(self, e: QWheelEvent) -> None:  # noqa: N802
        delta = e.angleDelta().y() or e.angleDelta().x()
        self._wheel_rest += delta
        steps = int(self._wheel_rest / 120)
        if steps:
            self._wheel_rest -= steps * 120
            self.scrolled.emit(self, steps)
        e.accept()


class FusionLayer:
    """A canvas layer of one A pane: B's intensities resampled linearly onto the pane's
    picture, coloured (see :func:`fusion_pixels`); cached per place and style."""

    def __init__(self, link: SeriesLink, pane: str) -> None:
        self.link, self.pane = link, pane
        self._key: tuple | None = None
        self._image: QImage | None = None
        self._buf: np.ndarray | None = None

    def values(self) -> np.ndarray | None:
        """B's intensities on the A pane's picture (NaN outside B), or None."""
        src = self.link.session.panes[self.pane].source
        if src is None:
            return None
        b = self.link.volume
        return resample_plane(array_reader(b.array), b.geometry, src.geometry, src.axis,
                              src.index, order=1, fill=np.nan)

    def labels(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """B's own label maps on the A pane's picture (nearest), with their colours."""
        src = self.link.session.panes[self.pane].source
        if src is None:
            return []
        return self.link.labels_of(self.link.item.id, self.link.geometry, src.geometry,
                                   src.axis, src.index)

    def image(self) -> QImage | None:
        link = self.link
        src = link.session.panes[self.pane].source
        fused = link.cmap != FUSION_OFF and link.opacity > 0
        if src is None:
            return None
        key = (src.place, link.cmap, link.opacity, link.window, link._b_labels_version)
        if key == self._key:
            return self._image
        self._key = key
        self._image = self._buf = None
        labels = [(v, t) for v, t in self.labels() if v.any()]
        if not fused and not labels:
            return None
        w, h = src.size
        self._buf = (fusion_pixels(self.values(), link.window, link.cmap, link.opacity)
                     if fused else np.zeros((h, w), np.uint32))
        for values, table in labels:  # B's segments over the fusion
            self._buf = _argb_over_argb(self._buf, table[np.minimum(values, len(table) - 1)])
        h, w = self._buf.shape
        self._image = QImage(self._buf.data, w, h, w * 4,
                             QImage.Format.Format_ARGB32_Premultiplied)
        return self._image

    def __call__(self, painter: QPainter, view: View) -> None:
        img = self.image()
        if img is None:
            return
        painter.save()
        painter.setWorldTransform(view.transform(), True)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(QRectF(0, 0, img.width(), img.height()), img)
        painter.restore()


class LinkedRow(QWidget):
    """The linked series' bar (its name and how it is linked, fusion colour map and opacity,
    Unlink) over its three panes."""

    def __init__(self, panes: dict[str, LinkedPane], text: str) -> None:
        super().__init__()
        self.setObjectName("linked_row")
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        self.label = QLabel(text)
        self.label.setObjectName("linked_text")
        self.label.setToolTip(text)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.label, 1)
        bar.addWidget(QLabel("Fusion"))
        self.cmap = QComboBox()
        self.cmap.setObjectName("fusion_cmap")
        self.cmap.addItems([*COLOUR_MAPS, FUSION_OFF])
        self.cmap.setToolTip("Colour map of the linked series drawn over the panes above")
        bar.addWidget(self.cmap)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("fusion_opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(40)
        self.opacity.setFixedWidth(110)
        self.opacity.setToolTip("Opacity of the fusion overlay")
        bar.addWidget(self.opacity)
        self.unlink = QToolButton()
        self.unlink.setObjectName("unlink")
        self.unlink.setText("Unlink")
        bar.addWidget(self.unlink)
        grid = QHBoxLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        for name in PANES:
            grid.addWidget(panes[name], 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(bar)
        lay.addLayout(grid, 1)


class SeriesLink(QObject):
    """Volume B (``item``, ``volume``) linked to the session of volume A (see the module doc).
    ``window`` is B's window/level (its own default)."""

    closed = Signal()

    def __init__(self, session, item: MediaItem, volume: Volume, link: FrameLink,
                 window: WindowLevel) -> None:
        super().__init__()
        self.session, self.item, self.volume, self.link = session, item, volume, link
        self.window = window
        self.cmap, self.opacity = COLOUR_MAPS[0], 0.4
        self.geometry = volume.geometry
        self.cross = Crosshair(self.geometry)  # B's crosshair: A's world point, B's slices
        self.axes = {name: p.axis for name, p in self.geometry.panes().items()}
        self.panes = {name: LinkedPane(name, self.axes[name]) for name in PANES}
        for pane in self.panes.values():
            pane.clicked.connect(self._clicked)
            pane.scrolled.connect(self._scrolled)
        self.row = LinkedRow(self.panes, f"<b>{item.name}</b> linked: {link.sentence}")
        self.row.cmap.currentTextChanged.connect(self.set_colour_map)
        self.row.opacity.valueChanged.connect(lambda v: self.set_opacity(v / 100.0))
        self.row.unlink.clicked.connect(self.closed.emit)
        self.layers = {name: FusionLayer(self, name) for name in PANES}
        self._removers = [session.panes[n].canvas.add_layer(layer)
                          for n, layer in self.layers.items()]
        self._shown: dict[str, tuple] = {}  # pane -> (slice, labels version) drawn
        self._labels_version = 0  # bumped by any label-map edit (B's panes redraw)
        self._b_labels_version = 0  # bumped by edits of B's own label maps (A's overlay)
        session.moved.connect(self.follow)
        self._unsubscribe = session.host.state.doc.subscribe(self._doc_changed)
        self.follow()
        self._refresh_a()

    # ------------------------------------------------------------------ following A
    def slices(self) -> dict[str, int]:
        """B's slice along each array axis nearest the crosshair (clipped to B)."""
        return nearest_slices(self.geometry, self.session.crosshair.world)

    def follow(self) -> None:
        """B's panes to the slices nearest the crosshair (a pane whose slice and labels are
        unchanged only moves its crosshair)."""
        world = self.session.crosshair.world
        self.cross.move_to(world)
        slices = self.slices()
        for name, pane in self.panes.items():
            axis = pane.axis
            key = (slices[axis], self._labels_version)
            if self._shown.get(name) == key and pane.source is not None:
                x, y, _ = pane.source.point_of(world)
                pane.set_cross((x, y))
                continue
            self._shown[name] = key
            place = Place(self.item.id, axis=axis, index=slices[axis])
            source = VolumeSliceSource(place, self.volume.array, self.geometry)
            x, y, _ = source.point_of(world)
            n = self.geometry.axis_size(axis)
            tilt = self.geometry.panes()[name]
            pane.show_picture(source, self.picture(source), (x, y),
                              f"slice {axis}={slices[axis]} (0–{n - 1})"
                              + (f"  ·  oblique {tilt.angle_deg:.1f}°" if tilt.oblique else ""))

    def labels_of(self, media_id: str, geometry, target, axis: str, index: int
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The label maps of volume ``media_id`` (on ``geometry``) resampled nearest onto
        slice ``index`` along ``axis`` of ``target``: (values, colour table) per label map,
        read box by box from the project (never a whole label map)."""
        doc = self.session.host.state.doc
        a = self.session
        out = []
        for info in doc.labelmaps(media_id):
            def read(start, shape, lm=info.id):
                return doc.labelmap_region(lm, start, shape)
            values = resample_plane(read, geometry, target, axis, index, order=0)
            out.append((values, colour_table(info.segments, a.opacity,
                                              a.hidden_values.get(info.id, frozenset()))))
        return out

    def labels_on(self, source: VolumeSliceSource) -> list[tuple[np.ndarray, np.ndarray]]:
        """A's label maps on B's picture ``source``: (label values resampled nearest,
        colour table) per label map."""
        a = self.session
        return self.labels_of(a.item.id, a.geometry, self.geometry, source.axis, source.index)

    def picture(self, source: VolumeSliceSource) -> np.ndarray:
        """B's slice through B's window as RGB, A's label maps drawn over it."""
        grey = self.window.apply(source.pixels())
        rgb = np.repeat(grey[..., None], 3, axis=2)
        for values, table in self.labels_on(source):
            if values.any():
                top = len(table) - 1
                rgb = _argb_over(rgb, table[np.minimum(values, top)])
        return rgb

    # ------------------------------------------------------------------ moving from B
    def _clicked(self, pane: LinkedPane, x: float, y: float) -> None:
        """The one crosshair to the world point under the click on B (A follows)."""
        world = pane.source.to_world(x, y)
        self.session.crosshair.move_to(world)
        self.session.show_slices()

    def _scrolled(self, pane: LinkedPane, steps: int) -> None:
        """B one of its own slices per notch along that pane's axis; A follows in world."""
        self.cross.move_to(self.session.crosshair.world)
        self.cross.set_index(pane.axis, nearest_slices(self.geometry,
                                                       self.session.crosshair.world)[pane.axis])
        self.cross.step(pane.axis, pane.pane, steps)
        self.session.crosshair.move_to(self.cross.world)
        self.session.show_slices()

    # ------------------------------------------------------------------ style
    def set_colour_map(self, name: str) -> None:
        self.cmap = name
        self._refresh_a()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = max(0.0, min(1.0, float(opacity)))
        self._refresh_a()

    def _refresh_a(self) -> None:
        for name in PANES:
            self.session.panes[name].canvas.refresh_layers()

    def _doc_changed(self, changes) -> None:
        if any(c.kind in (ChangeKind.LABELMAP, ChangeKind.RESET) for c in changes):
            self._labels_version += 1
            self.follow()
            if any(c.kind == ChangeKind.RESET or self.item.id in c.media_ids
                   or {i.id for i in self.session.host.state.doc.labelmaps(self.item.id)}
                   & set(c.ids) for c in changes):
                self._b_labels_version += 1
                self._refresh_a()

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        try:
            self.session.moved.disconnect(self.follow)
        except (RuntimeError, TypeError):
            pass
        self._unsubscribe()
        for remove in self._removers:
            remove()
        self._removers = []
        if not self.session.closed:
            self._refresh_a()
        self.row.setParent(None)
        self.row.deleteLater()
