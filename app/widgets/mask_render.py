"""Drawing masks on the canvas: a translucent fill in the class colour plus a crisp contour.

The mask is sampled at the centre of every device pixel it covers on screen (nearest
neighbour, exact: device pixel j shows picture column floor((j + 0.5 - ox) / zx)), so the cost
depends on the view size, never on the mask size, and the edge is pixel-exact at any zoom.
The contour is found at display resolution (the mask minus its erosion), so it is the same
1-3 device pixels wide at every zoom; a thin dark halo just outside it keeps it visible over
image regions of the mask's own colour (a cyan 'sky' over a blue sky).
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage, QPainter

from app.widgets.view import View

CONTOUR_PX = 2  # contour width in screen pixels; selected masks get one more
HALO_ALPHA = 0.55  # opacity of the dark line just outside the contour


@lru_cache(maxsize=16)
def _kernel(n: int) -> np.ndarray:
    return np.ones((2 * n + 1, 2 * n + 1), np.uint8)


def _index(n0: int, n1: int, offset: float, scale: float, size: int) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """Picture indices of device pixels n0..n1-1 along one screen axis (``scale``: signed
    device px per picture px of the picture axis shown there), and which lie inside."""
    idx = np.floor((np.arange(n0, n1, dtype=np.float64) + 0.5 - offset) / scale).astype(np.int64)
    inside = (idx >= 0) & (idx < size)
    return np.clip(idx, 0, max(size - 1, 0)), inside


def sample(mask: np.ndarray, view: View, bbox: tuple[float, float, float, float] | None = None,
           margin: int = 0) -> tuple[int, int, np.ndarray] | None:
    """The mask at device resolution over its visible part: (x0, y0, uint8 0/1 array) where
    (x0, y0) is the device pixel of the array's first element; ``margin`` device pixels are
    added on each side (outside the image they read 0). ``bbox`` (x, y, w, h image px) limits
    the work to where the mask can be non-zero. None when nothing of it is on screen. Works
    for any view: per-axis scale, flips and swapped axes (volume panes)."""
    h, w = mask.shape
    vis = view.visible(w, h)
    if vis is None:
        return None
    x0, y0, x1, y1 = vis
    if bbox is not None:
        bx, by, bw, bh = bbox
        x0, y0 = max(x0, bx), max(y0, by)
        x1, y1 = min(x1, bx + bw), min(y1, by + bh)
        if x0 >= x1 or y0 >= y1:
            return None
    left, top, right, bottom = view.widget_rect(x0, y0, x1, y1)
    j0 = max(math.floor(left), 0) - margin
    j1 = min(math.ceil(right), view.width) + margin
    i0 = max(math.floor(top), 0) - margin
    i1 = min(math.ceil(bottom), view.height) + margin
    if j0 >= j1 or i0 >= i1:
        return None
    if view.transpose:  # screen x shows picture rows, screen y picture columns
        rows, rin = _index(j0, j1, view.ox, view.zy, h)
        cols, cin = _index(i0, i1, view.oy, view.zx, w)
        out = np.ascontiguousarray(mask[rows][:, cols].T)
        cin, rin = rin, cin
    else:
        cols, cin = _index(j0, j1, view.ox, view.zx, w)
        rows, rin = _index(i0, i1, view.oy, view.zy, h)
        out = mask[rows][:, cols]  # two gathers; a column-sliced view would be copied whole
    if out.dtype != np.uint8:
        out = out.astype(np.uint8) if out.dtype == np.bool_ else (out != 0).astype(np.uint8)
    elif out.size and out.max() > 1:
        out = (out != 0).astype(np.uint8)
    if not rin.all():
        out[~rin] = 0
    if not cin.all():
        out[:, ~cin] = 0
    return j0, i0, out


def contour_levels(m: np.ndarray, width: int, halo: int = 1) -> np.ndarray:
    """Per-pixel level of a 0/1 array: 0 outside, 1 fill, 2 contour (the ``width`` innermost
    pixels along every edge), 3 halo (the ``halo`` pixels just outside an edge)."""
    inner = cv2.erode(m, _kernel(min(max(width, 1), 8)), borderType=cv2.BORDER_REPLICATE)
    out = m + (m - inner)  # 1 fill, 2 edge
    if halo > 0:
        outer = cv2.dilate(m, _kernel(min(halo, 4)), borderType=cv2.BORDER_REPLICATE)
        out += 3 * (outer - m)
    return out


def draw_mask(painter: QPainter, mask: np.ndarray, color: str, fill_alpha: float, view: View,
              selected: bool = False, bbox: tuple[float, float, float, float] | None = None,
              dpr: float = 1.0) -> None:
    """Draw an H x W mask (non-zero = inside) through ``view``, whose units must be the
    painter's device pixels (``dpr`` per screen pixel): fill ``color`` at ``fill_alpha`` plus
    an opaque contour."""
    halo = max(1, round(dpr))
    got = sample(mask, view, bbox, margin=halo + 1)  # room for the halo, plus one pixel
    # that the erosion and dilation see past (its value at the border is not trusted)
    if got is None:
        return
    j0, i0, m = got
    if not m.any():
        return
    width = max(1, round((CONTOUR_PX + (1 if selected else 0)) * dpr))
    levels = np.ascontiguousarray(contour_levels(m, width, halo)[1:-1, 1:-1])
    rows, cols = levels.shape
    c = QColor(color)
    fill = QColor(c)
    fill.setAlphaF(max(0.0, min(1.0, fill_alpha)))
    img = QImage(levels.data, cols, rows, levels.strides[0], QImage.Format.Format_Indexed8)
    img.setColorTable([0, fill.rgba(), c.rgba(), QColor(0, 0, 0, round(255 * HALO_ALPHA)).rgba()])
    painter.drawImage(QPointF(j0 + 1, i0 + 1), img)
