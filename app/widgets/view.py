"""The canvas view mapping and the display style of annotations (both Qt-free values).

The view maps continuous picture pixels to widget pixels. For a photo it is
``widget = image * zoom + offset``, so image pixel (c, r), which covers [c, c+1) x [r, r+1),
covers [ox + c*zoom, ox + (c+1)*zoom) x [oy + r*zoom, oy + (r+1)*zoom) on screen.

For a volume slice the same map also carries the physical pixel size (``sx``, ``sy``:
display units per picture pixel, so anisotropic voxels keep their aspect) and the display
orientation (a swap of the screen axes and flips, the radiological convention of
:class:`app.io.planes.Orientation`): screen x takes picture x (or y when ``transpose``)
times a signed scale. ``(ox, oy)`` is always the widget position of picture point (0, 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QTransform

DEFAULT_FILL_OPACITY = 0.35
SELECTED_BOOST = 0.25  # a selected shape's fill is this much more opaque


@dataclass(frozen=True)
class View:
    """Zoom (screen px per display unit), offset of the picture origin (widget px), widget
    size; per-axis display units per picture pixel ``sx``, ``sy``; ``transpose`` (screen x
    shows picture y) and screen-axis flips ``flip_x``/``flip_y`` (see the module doc)."""

    zoom: float
    ox: float
    oy: float
    width: int
    height: int
    sx: float = 1.0
    sy: float = 1.0
    transpose: bool = False
    flip_x: bool = False
    flip_y: bool = False

    # ------------------------------------------------------------ the map
    @property
    def zx(self) -> float:
        """Signed screen px per picture px along picture x (onto screen x, or y when
        transposed)."""
        flip = self.flip_y if self.transpose else self.flip_x
        return -self.zoom * self.sx if flip else self.zoom * self.sx

    @property
    def zy(self) -> float:
        flip = self.flip_x if self.transpose else self.flip_y
        return -self.zoom * self.sy if flip else self.zoom * self.sy

    @property
    def scale(self) -> float:
        """Screen px per picture px, the smaller axis (for tolerances)."""
        return self.zoom * min(self.sx, self.sy)

    @property
    def simple(self) -> bool:
        """A photo's view: uniform positive scale, no swap."""
        return not (self.transpose or self.flip_x or self.flip_y) and self.sx == self.sy == 1

    def to_widget(self, x: float, y: float) -> tuple[float, float]:
        if self.transpose:
            return (self.ox + y * self.zy, self.oy + x * self.zx)
        return (self.ox + x * self.zx, self.oy + y * self.zy)

    def to_image(self, wx: float, wy: float) -> tuple[float, float]:
        if self.transpose:
            return ((wy - self.oy) / self.zx, (wx - self.ox) / self.zy)
        return ((wx - self.ox) / self.zx, (wy - self.oy) / self.zy)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Picture points (N x 2, x y) to widget points, vectorised."""
        pts = np.asarray(points, np.float64)
        if self.transpose:
            return np.stack([self.ox + pts[:, 1] * self.zy, self.oy + pts[:, 0] * self.zx], 1)
        return pts * (self.zx, self.zy) + (self.ox, self.oy)

    def transform(self) -> QTransform:
        """Picture px -> widget px as a QTransform (for QPainter)."""
        if self.transpose:
            return QTransform(0.0, self.zx, self.zy, 0.0, self.ox, self.oy)
        return QTransform(self.zx, 0.0, 0.0, self.zy, self.ox, self.oy)

    def visible(self, img_w: int, img_h: int) -> tuple[float, float, float, float] | None:
        """The part of the picture [0, w) x [0, h) on screen, as (x0, y0, x1, y1) picture px."""
        corners = [self.to_image(0, 0), self.to_image(self.width, self.height)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        x0, y0 = max(min(xs), 0.0), max(min(ys), 0.0)
        x1, y1 = min(max(xs), float(img_w)), min(max(ys), float(img_h))
        return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None

    def widget_rect(self, x0: float, y0: float, x1: float, y1: float
                    ) -> tuple[float, float, float, float]:
        """Widget-space bounding box (left, top, right, bottom) of a picture rectangle."""
        a, b = self.to_widget(x0, y0), self.to_widget(x1, y1)
        return (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))

    def scaled(self, dpr: float) -> View:
        """The same view in device pixels (``dpr`` device pixels per widget pixel)."""
        if dpr == 1.0:
            return self
        return View(self.zoom * dpr, self.ox * dpr, self.oy * dpr,
                    max(1, int(self.width * dpr)), max(1, int(self.height * dpr)),
                    self.sx, self.sy, self.transpose, self.flip_x, self.flip_y)

    # ------------------------------------------------------------ making views
    def extent(self, img_w: int, img_h: int) -> tuple[float, float]:
        """Size of the whole picture on screen in display units (at zoom 1)."""
        u, v = img_w * self.sx, img_h * self.sy
        return (v, u) if self.transpose else (u, v)

    def placed(self, zoom: float, left: float, top: float, img_w: int, img_h: int) -> View:
        """This view at ``zoom`` with the picture's on-screen bounding box starting at widget
        (left, top)."""
        base = View(zoom, 0.0, 0.0, self.width, self.height, self.sx, self.sy, self.transpose,
                    self.flip_x, self.flip_y)
        l0, t0, _, _ = base.widget_rect(0, 0, img_w, img_h)
        return View(zoom, left - l0, top - t0, self.width, self.height, self.sx, self.sy,
                    self.transpose, self.flip_x, self.flip_y)

    def zoomed_at(self, zoom: float, wx: float, wy: float) -> View:
        """This view at ``zoom``, keeping the picture point under widget (wx, wy) in place."""
        x, y = self.to_image(wx, wy)
        base = View(zoom, 0.0, 0.0, self.width, self.height, self.sx, self.sy, self.transpose,
                    self.flip_x, self.flip_y)
        px, py = base.to_widget(x, y)
        return View(zoom, wx - px, wy - py, self.width, self.height, self.sx, self.sy,
                    self.transpose, self.flip_x, self.flip_y)


@dataclass(frozen=True)
class LayerStyle:
    """How annotations are shown (display only, never stored in the project):
    ``fill_opacity`` of polygon, box and mask fills in 0..1; ``outlines_only`` hides the fills
    of unselected shapes (selected ones keep a light fill so the selection stays visible)."""

    fill_opacity: float = DEFAULT_FILL_OPACITY
    outlines_only: bool = False

    def fill(self, selected: bool = False) -> float:
        """Fill alpha (0..1) of a shape."""
        base = 0.0 if self.outlines_only else min(max(self.fill_opacity, 0.0), 1.0)
        return min(1.0, base + SELECTED_BOOST) if selected else base
