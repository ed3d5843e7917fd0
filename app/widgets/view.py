"""The canvas view mapping and the display style of annotations (both Qt-free values).

The view maps continuous image pixels to widget pixels: ``widget = image * zoom + offset``, so
image pixel (c, r), which covers [c, c+1) x [r, r+1), covers
[ox + c*zoom, ox + (c+1)*zoom) x [oy + r*zoom, oy + (r+1)*zoom) on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QTransform

DEFAULT_FILL_OPACITY = 0.35
SELECTED_BOOST = 0.25  # a selected shape's fill is this much more opaque


@dataclass(frozen=True)
class View:
    """Zoom (screen px per image px), offset of the image origin (widget px), widget size."""

    zoom: float
    ox: float
    oy: float
    width: int
    height: int

    def to_widget(self, x: float, y: float) -> tuple[float, float]:
        return (x * self.zoom + self.ox, y * self.zoom + self.oy)

    def to_image(self, wx: float, wy: float) -> tuple[float, float]:
        return ((wx - self.ox) / self.zoom, (wy - self.oy) / self.zoom)

    def transform(self) -> QTransform:
        """Image px -> widget px as a QTransform (for QPainter)."""
        return QTransform(self.zoom, 0.0, 0.0, self.zoom, self.ox, self.oy)

    def visible(self, img_w: int, img_h: int) -> tuple[float, float, float, float] | None:
        """The part of the image [0, w) x [0, h) on screen, as (x0, y0, x1, y1) image px."""
        x0, y0 = self.to_image(0, 0)
        x1, y1 = self.to_image(self.width, self.height)
        x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(img_w)), min(y1, float(img_h))
        return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None

    def scaled(self, dpr: float) -> View:
        """The same view in device pixels (``dpr`` device pixels per widget pixel)."""
        if dpr == 1.0:
            return self
        return View(self.zoom * dpr, self.ox * dpr, self.oy * dpr,
                    max(1, int(self.width * dpr)), max(1, int(self.height * dpr)))


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
