"""A label map's segments drawn over a volume slice: one colour per segment value.

The layer reads the plane of the slice the canvas shows (``Document.labelmap_plane``: a view
of the label map's bricks in the picture's own array order), turns it into premultiplied
ARGB through a per-value colour table, and draws it through the canvas's view (nearest
neighbour, so voxels stay crisp whatever the pixel size or orientation). ``outline`` draws
only each segment's edge voxels. It is rebuilt only when the place, the label map's voxels on
it, the segments or the style change.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from app.core.document import Change, ChangeKind, Document
from app.core.places import Place
from app.widgets.view import View


def label_pixels(values: np.ndarray, table: np.ndarray, outline: bool) -> np.ndarray:
    """Premultiplied ARGB32 pixels (uint32, C-contiguous) of a plane of label values through
    ``table`` (values past its end take its last colour); ``outline``: only the voxels on a
    segment's boundary (next to another value, diagonals included, or to the plane's edge)
    are coloured."""
    if outline:
        kernel = np.ones((3, 3), np.uint8)
        v16 = values.astype(np.uint16)
        eroded = cv2.erode(v16, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        dilated = cv2.dilate(v16, kernel)
        values = np.where((eroded != values) | (dilated != values), values, 0)
    top = len(table) - 1
    idx = values if values.max() <= top else np.minimum(values, top)
    return np.ascontiguousarray(table[idx])


def colour_table(segments, opacity: float, hidden: frozenset[int] = frozenset()
                 ) -> np.ndarray:
    """uint32 premultiplied ARGB per label value (0 and hidden segments transparent)."""
    top = max((s.value for s in segments), default=0)
    table = np.zeros(max(top + 1, 256), np.uint32)
    a = max(0.0, min(1.0, opacity))
    for s in segments:
        if s.value in hidden:
            continue
        c = QColor(s.color)
        r, g, b = (round(v * a) for v in (c.red(), c.green(), c.blue()))
        table[s.value] = (round(255 * a) << 24) | (r << 16) | (g << 8) | b
    return table


class LabelMapLayer:
    """Draws label map ``labelmap_id`` at whatever slice ``place()`` returns; add it to a
    canvas with ``canvas.add_layer(layer)``."""

    _offset: tuple[int, int] = (0, 0)  # picture (x, y) of the image's first pixel

    def __init__(self, doc: Document, labelmap_id: str, place: Callable[[], Place | None],
                 on_change: Callable[[], None] | None = None, opacity: float = 0.45,
                 outline: bool = False) -> None:
        self.doc, self.labelmap_id, self.place = doc, labelmap_id, place
        self.opacity, self.outline = opacity, outline
        self.hidden: frozenset[int] = frozenset()
        self._version = 0
        self._key: tuple | None = None
        self._image: QImage | None = None
        self._buf: np.ndarray | None = None
        self._on_change = on_change
        self._unsubscribe = doc.subscribe(self._changed)

    def close(self) -> None:
        self._unsubscribe()

    def set_style(self, opacity: float | None = None, outline: bool | None = None,
                  hidden: frozenset[int] | None = None) -> None:
        if opacity is not None:
            self.opacity = opacity
        if outline is not None:
            self.outline = outline
        if hidden is not None:
            self.hidden = hidden
        self._version += 1

    def _changed(self, changes: list[Change]) -> None:
        if any(c.kind in (ChangeKind.LABELMAP, ChangeKind.RESET) for c in changes):
            self._version += 1
            if self._on_change is not None:
                self._on_change()

    def plane(self) -> np.ndarray | None:
        place = self.place()
        if place is None or not place.is_slice:
            return None
        try:
            return self.doc.labelmap_plane(self.labelmap_id, place.axis, place.index)
        except Exception:  # noqa: BLE001 - a label map removed meanwhile: draw nothing
            return None

    def image(self) -> QImage | None:
        key = (self.place(), self._version)
        if key == self._key:
            return self._image
        self._key = key
        plane = self.plane()
        if plane is None or not plane.any():
            self._image = self._buf = None
            return None
        info = self.doc.labelmap_info(self.labelmap_id)
        table = colour_table(info.segments, self.opacity, self.hidden)
        self._buf = label_pixels(plane, table, self.outline)
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
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        x0, y0 = self._offset
        painter.drawImage(QRectF(x0, y0, img.width(), img.height()), img)
        painter.restore()
