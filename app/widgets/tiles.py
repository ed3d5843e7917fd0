"""Level-of-detail tiles of a picture, so that a 20000 x 20000 image pans and zooms fluidly.

The picture is RGB uint8 (photos, video frames) or a scalar array in real units (a volume
slice in HU). Level 0 is the picture itself; level L halves level L-1 (area averaging), built
lazily on first use. Each level is cut into square tiles of ``TILE`` level pixels, converted
to QImage on demand through the display mapping (brightness/contrast for photos,
window/level for scalars - applied to the tile, never to the data) and kept in an LRU cache.
Changing the mapping only drops the cached tiles: the levels are never rebuilt
(:data:`LEVEL_BUILDS` counts level computations, for tests). A view draws, for its zoom, the
coarsest level whose pixels are still no larger than a screen pixel, and only the tiles it
can see.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator

import cv2
import numpy as np
from PySide6.QtGui import QImage

from app.io.planes import BrightnessContrast, DisplayMapping, WindowLevel

TILE = 512  # level pixels per tile side
CACHE_TILES = 160  # about 125 MB of RGB tiles
LEVEL_BUILDS = [0]  # how many pyramid levels were computed in this process (tests count them)


def adjust_lut(brightness: float, contrast: float) -> np.ndarray | None:
    """Lookup table for display brightness/contrast in -1..1 (0 = unchanged), or None."""
    return BrightnessContrast(brightness, contrast).lut()


class ImagePyramid:
    """Tiles of ``image`` at power-of-two reductions: H x W x 3 uint8 RGB, H x W uint8 grey
    (shown as RGB), or - with ``scalar=True`` - an H x W array of real values shown through a
    window/level ``mapping``."""

    def __init__(self, image: np.ndarray, scalar: bool = False,
                 mapping: DisplayMapping | None = None) -> None:
        img = np.asarray(image)
        self.scalar = bool(scalar)
        if self.scalar:
            if img.ndim != 2:
                raise ValueError(f"expected a 2D scalar picture, got {img.shape}")
            img = img if img.dtype == np.float32 else img.astype(np.float32)
            mapping = mapping or WindowLevel.auto(img)
        else:
            if img.ndim == 2:
                img = np.repeat(img[:, :, None], 3, axis=2)
            if img.ndim != 3 or img.shape[2] not in (3, 4) or img.dtype != np.uint8:
                raise ValueError(f"expected an RGB uint8 image, got {img.dtype} {img.shape}")
            if img.shape[2] == 4:
                img = img[:, :, :3]
        self.height, self.width = img.shape[:2]
        self._levels: list[np.ndarray] = [img]
        self._tiles: OrderedDict[tuple[int, int, int], tuple[QImage, np.ndarray]] = OrderedDict()
        self._mapping: DisplayMapping = mapping or BrightnessContrast()

    @classmethod
    def reduced(cls, image: np.ndarray, width: int, height: int) -> ImagePyramid:
        """A pyramid of a picture ``width`` x ``height`` pixels of which only ``image``, a
        smaller copy, is at hand (a video proxy frame): drawn stretched over the full size, so
        image coordinates stay the full picture's pixels. Level 0 is that copy."""
        pyr = cls(image)
        pyr.width, pyr.height = int(width), int(height)
        return pyr

    @property
    def image(self) -> np.ndarray:
        """The full-resolution picture (level 0; the smaller copy for :meth:`reduced`)."""
        return self._levels[0]

    def build(self) -> ImagePyramid:
        """Compute every reduced level now (seconds for a 20000 px image: call it on a worker
        thread so the first paint does not block the UI). Returns self."""
        self.level(self.max_level())
        return self

    # ------------------------------------------------------------------ levels
    def levels_built(self) -> int:
        """How many levels exist so far (``max_level() + 1`` once :meth:`build` ran)."""
        return len(self._levels)

    def max_level(self) -> int:
        return max(0, int(math.ceil(math.log2(max(self.width, self.height, 1) / TILE))))

    def level(self, n: int) -> np.ndarray:
        """Level ``n`` as an array (built from level n-1 on first use)."""
        n = min(max(n, 0), self.max_level())
        while len(self._levels) <= n:
            prev = self._levels[-1]
            h, w = prev.shape[:2]
            self._levels.append(cv2.resize(prev, (max(1, (w + 1) // 2), max(1, (h + 1) // 2)),
                                           interpolation=cv2.INTER_AREA))
            LEVEL_BUILDS[0] += 1
        return self._levels[n]

    def level_for(self, zoom: float) -> int:
        """Coarsest level whose pixels are at most one screen pixel at ``zoom`` (screen px
        per image px)."""
        zoom *= self.width / self._levels[0].shape[1]  # a reduced level 0 counts as zoomed
        if zoom >= 1.0:
            return 0
        return min(int(math.floor(math.log2(1.0 / zoom) + 1e-9)), self.max_level())

    def scale_of(self, n: int) -> tuple[float, float]:
        """Image pixels per level-``n`` pixel along x and y."""
        lv = self.level(n)
        return self.width / lv.shape[1], self.height / lv.shape[0]

    # ------------------------------------------------------------------ display adjust
    @property
    def mapping(self) -> DisplayMapping:
        return self._mapping

    def set_mapping(self, mapping: DisplayMapping) -> None:
        """Change how raw pixels become display pixels: drops the cached tiles only."""
        if mapping != self._mapping:
            self._mapping = mapping
            self._tiles.clear()

    def set_adjust(self, brightness: float, contrast: float) -> None:
        """Brightness/contrast of a photo (ignored on scalar pictures: they use window/level)."""
        if not self.scalar:
            self.set_mapping(BrightnessContrast(brightness, contrast))

    # ------------------------------------------------------------------ tiles
    def tile(self, n: int, tx: int, ty: int) -> QImage:
        """Tile (tx, ty) of level ``n`` as a QImage (cached)."""
        key = (n, tx, ty)
        hit = self._tiles.get(key)
        if hit is not None:
            self._tiles.move_to_end(key)
            return hit[0]
        lv = self.level(n)
        part = lv[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE]
        if self.scalar:
            arr = np.ascontiguousarray(self._mapping.apply(part))
            fmt = QImage.Format.Format_Grayscale8
        else:
            lut = self._mapping.lut() if isinstance(self._mapping, BrightnessContrast) else None
            arr = cv2.LUT(part, lut) if lut is not None else np.ascontiguousarray(part)
            fmt = QImage.Format.Format_RGB888
        h, w = arr.shape[:2]
        qimg = QImage(arr.data, w, h, arr.strides[0], fmt)
        self._tiles[key] = (qimg, arr)  # the array must outlive the QImage that wraps it
        while len(self._tiles) > CACHE_TILES:
            self._tiles.popitem(last=False)
        return qimg

    def visible_tiles(self, n: int, x0: float, y0: float, x1: float, y1: float
                      ) -> Iterator[tuple[QImage, tuple[int, int, int, int],
                                          tuple[float, float, float, float]]]:
        """Tiles of level ``n`` meeting the image rectangle [x0, x1) x [y0, y1) (image px).
        Yields (tile, source rect in tile px (x, y, w, h), the same rect in image px)."""
        sx, sy = self.scale_of(n)
        lv = self.level(n)
        lh, lw = lv.shape[:2]
        lx0, ly0 = max(0, int(math.floor(x0 / sx))), max(0, int(math.floor(y0 / sy)))
        lx1, ly1 = min(lw, int(math.ceil(x1 / sx))), min(lh, int(math.ceil(y1 / sy)))
        if lx0 >= lx1 or ly0 >= ly1:
            return
        for ty in range(ly0 // TILE, (ly1 - 1) // TILE + 1):
            for tx in range(lx0 // TILE, (lx1 - 1) // TILE + 1):
                ax0, ay0 = max(lx0, tx * TILE), max(ly0, ty * TILE)
                ax1, ay1 = min(lx1, (tx + 1) * TILE), min(ly1, (ty + 1) * TILE)
                src = (ax0 - tx * TILE, ay0 - ty * TILE, ax1 - ax0, ay1 - ay0)
                yield (self.tile(n, tx, ty), src,
                       (ax0 * sx, ay0 * sy, (ax1 - ax0) * sx, (ay1 - ay0) * sy))
