"""Plane sources: one Qt-free source per media kind that the canvas shows, and display mappings.

A :class:`PlaneSource` gives the raw picture of one :class:`~app.core.places.Place` - RGB
uint8 for photos and video frames, a scalar array in real units (HU for CT) for volume slices -
plus what the view needs to show it right: the physical size of a pixel (mm on volumes, so
anisotropic voxels keep their aspect), the display :class:`Orientation` (the radiological
convention, as flips - and for volumes acquired in another plane, a swap of the two screen
axes - never by reordering data), the world position and value under a pixel.

Picture coordinates are continuous pixels (CONVENTIONS.md): pixel (c, r) covers
[c, c+1) x [r, r+1). On a volume slice along array axis ``a`` the picture is the array with
``a`` fixed (k: ``[j, i]``, j: ``[k, i]``, i: ``[k, j]``; :mod:`app.core.places`), a view into
the volume - no copy per pane.

A :class:`DisplayMapping` turns raw pixels into 8-bit display pixels; the canvas applies it when
it makes tiles, so changing brightness/contrast or window/level never rebuilds the pyramid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from app.core.geometry import VolumeGeometry
from app.core.places import PICTURE_AXES, Place

# Screen directions each pane wants, in patient LPS: (screen right, screen down).
# Radiological convention: patient right on screen left in axial and coronal; superior up in
# coronal and sagittal; anterior on screen left in sagittal; anterior up in axial.
_SCREEN = {"axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
           "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
           "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0))}
_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))  # (negative, positive) along LPS x, y, z
# smooth reformats (smooth_plane): caps on the display-only resampling
SMOOTH_MAX_FACTOR = 16  # at most this many display rows (or columns) per picture pixel
SMOOTH_MAX_PIXELS = 32_000_000  # and at most this many display pixels (128 MB of float32)


# ------------------------------------------------------------------ display mappings
class DisplayMapping(Protocol):
    """Raw pixels (RGB uint8 or scalar) -> display pixels (uint8, same H x W[, 3])."""

    def apply(self, pixels: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class BrightnessContrast:
    """Display brightness and contrast for photos, each in -1..1 (0 = unchanged)."""

    brightness: float = 0.0
    contrast: float = 0.0

    @property
    def identity(self) -> bool:
        return abs(self.brightness) < 1e-6 and abs(self.contrast) < 1e-6

    def lut(self) -> np.ndarray | None:
        """The 256-entry lookup table, or None when the mapping changes nothing."""
        if self.identity:
            return None
        c = min(max(self.contrast, -1.0), 0.99)
        gain = (1.0 + c) / (1.0 - c)
        v = (np.arange(256, dtype=np.float32) - 127.5) * gain + 127.5 + self.brightness * 255.0
        return np.clip(np.rint(v), 0, 255).astype(np.uint8)

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        lut = self.lut()
        if lut is None:
            return pixels if pixels.dtype == np.uint8 else np.clip(pixels, 0, 255).astype(
                np.uint8)
        return lut[pixels]


@dataclass(frozen=True)
class WindowLevel:
    """Window/level for scalar pictures, in the picture's real units (HU for CT): values
    from ``level - width/2`` to ``level + width/2`` span black to white (DICOM's linear
    VOI function, without its half-unit offsets)."""

    width: float
    level: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.width) and math.isfinite(self.level)) or self.width <= 0:
            raise ValueError(f"a window needs a positive width, got {self.width}")

    @property
    def low(self) -> float:
        return self.level - self.width / 2

    @property
    def high(self) -> float:
        return self.level + self.width / 2

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        scale = 255.0 / self.width
        out = (np.asarray(pixels, np.float32) - np.float32(self.low)) * np.float32(scale)
        return np.clip(out, 0, 255, out=out).astype(np.uint8)

    def dragged(self, dx: float, dy: float, per_pixel: float) -> WindowLevel:
        """The window after a right-drag of (dx, dy) screen px (Slicer/ITK-SNAP: right widens,
        down raises the level); ``per_pixel`` = units per screen pixel."""
        return WindowLevel(max(1e-3, self.width + dx * per_pixel), self.level + dy * per_pixel)

    @classmethod
    def auto(cls, values: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0
             ) -> WindowLevel:
        """A window spanning the ``low_pct``..``high_pct`` percentiles (MR, where there is
        no standard scale), sampled on at most ~1 M values."""
        v = np.asarray(values).ravel()
        if v.size > 1_000_000:
            v = v[:: v.size // 1_000_000]
        v = v[np.isfinite(v)] if v.dtype.kind == "f" else v
        if not v.size:
            return cls(1.0, 0.0)
        lo, hi = np.percentile(v, [low_pct, high_pct])
        if hi <= lo:
            hi = lo + 1.0
        return cls(float(hi - lo), float((hi + lo) / 2))


# Standard CT windows (width, level) in HU, as radiology workstations name them.
CT_PRESETS: dict[str, WindowLevel] = {
    "CT soft tissue": WindowLevel(400, 40),
    "CT lung": WindowLevel(1500, -600),
    "CT bone": WindowLevel(1800, 400),
    "CT brain": WindowLevel(80, 40),
}


def default_window(modality: str, values: np.ndarray) -> WindowLevel:
    """Soft tissue for CT; percentiles for everything else (MR, PET, ...)."""
    if modality.upper() == "CT":
        return CT_PRESETS["CT soft tissue"]
    return WindowLevel.auto(values)


# ------------------------------------------------------------------ orientation
@dataclass(frozen=True)
class Orientation:
    """How a picture is laid on the screen: ``transpose`` puts picture rows along screen x
    (a volume acquired in another plane), then ``flip_x`` / ``flip_y`` mirror the screen axes.
    Letters name the patient direction at each screen edge (``""`` off volumes);
    ``oblique_deg`` is how far the slice normal is from its pane's patient axis."""

    transpose: bool = False
    flip_x: bool = False
    flip_y: bool = False
    letters: tuple[str, str, str, str] = ("", "", "", "")  # left, right, top, bottom
    oblique_deg: float = 0.0

    @property
    def oblique(self) -> bool:
        from app.core.geometry import OBLIQUE_DEGREES

        return self.oblique_deg > OBLIQUE_DEGREES


def _letter(v: np.ndarray) -> str:
    """Patient direction of a unit LPS vector: its dominant component (two letters when
    oblique by more than ~22.5 degrees, e.g. 'LA')."""
    order = np.argsort(-np.abs(v))
    out = ""
    for n, comp in enumerate(order[:2]):
        if n and abs(v[comp]) < 0.38:
            break
        out += _LETTERS[comp][int(v[comp] > 0)]
    return out


def volume_orientation(geometry: VolumeGeometry, axis: str) -> tuple[str, Orientation]:
    """The pane that shows slices along ``axis`` and how its picture goes on the screen."""
    pane = next(p.pane for p in geometry.panes().values() if p.axis == axis)
    angle = geometry.panes()[pane].angle_deg
    rows_axis, cols_axis = PICTURE_AXES[axis]
    dc, dr = geometry.axis_direction(cols_axis), geometry.axis_direction(rows_axis)
    right, down = (np.asarray(v) for v in _SCREEN[pane])
    transpose = bool(abs(dr @ right) + abs(dc @ down) > abs(dc @ right) + abs(dr @ down))
    sx, sy = (dr, dc) if transpose else (dc, dr)  # LPS direction of screen +x, +y
    flip_x, flip_y = bool(sx @ right < 0), bool(sy @ down < 0)
    ex = -sx if flip_x else sx
    ey = -sy if flip_y else sy
    letters = (_letter(-ex), _letter(ex), _letter(-ey), _letter(ey))
    return pane, Orientation(transpose, flip_x, flip_y, letters, angle)


# ------------------------------------------------------------------ sources
class PlaneSource(Protocol):
    """What the canvas shows at one place (see the module doc)."""

    place: Place

    @property
    def is_scalar(self) -> bool: ...

    @property
    def size(self) -> tuple[int, int]: ...  # (width, height) in picture pixels

    @property
    def pixel_size(self) -> tuple[float, float]: ...  # (x, y) physical size; 1,1 for photos

    @property
    def orientation(self) -> Orientation: ...

    def pixels(self) -> np.ndarray: ...

    def to_world(self, x: float, y: float) -> np.ndarray | None: ...

    def value_at(self, x: float, y: float) -> Any: ...


@dataclass
class RGBSource:
    """A photo or a decoded video frame: RGB uint8, square pixels, no world position."""

    place: Place
    rgb: np.ndarray
    is_scalar = False
    orientation = Orientation()
    pixel_size = (1.0, 1.0)

    def __post_init__(self) -> None:
        if self.rgb.ndim == 2:
            self.rgb = np.repeat(self.rgb[:, :, None], 3, axis=2)
        if self.rgb.ndim != 3 or self.rgb.shape[2] not in (3, 4) or self.rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 picture, got {self.rgb.dtype} "
                             f"{self.rgb.shape}")
        if self.rgb.shape[2] == 4:
            self.rgb = self.rgb[:, :, :3]

    @property
    def size(self) -> tuple[int, int]:
        return (self.rgb.shape[1], self.rgb.shape[0])

    def pixels(self) -> np.ndarray:
        return self.rgb

    def to_world(self, x: float, y: float) -> np.ndarray | None:
        return None

    def value_at(self, x: float, y: float) -> tuple[int, int, int] | None:
        c, r = int(math.floor(x)), int(math.floor(y))
        if 0 <= r < self.rgb.shape[0] and 0 <= c < self.rgb.shape[1]:
            return tuple(int(v) for v in self.rgb[r, c])  # type: ignore[return-value]
        return None


@dataclass
class VolumeSliceSource:
    """One slice of a volume along an array axis: scalar values in real units, pixels of the
    voxel spacing (mm), radiological orientation, LPS world position of every point."""

    place: Place
    volume: np.ndarray  # the whole volume [k, j, i]; the picture is a view into it
    geometry: VolumeGeometry
    is_scalar = True

    def __post_init__(self) -> None:
        if not self.place.is_slice:
            raise ValueError("a volume slice source needs a slice place (axis and index)")
        if tuple(self.volume.shape) != self.geometry.shape:
            raise ValueError("the volume array does not have its geometry's shape")
        self.pane, self._orientation = volume_orientation(self.geometry, self.place.axis)

    @property
    def axis(self) -> str:
        return self.place.axis  # type: ignore[return-value]

    @property
    def index(self) -> int:
        return self.place.index  # type: ignore[return-value]

    @property
    def orientation(self) -> Orientation:
        return self._orientation

    def pixels(self) -> np.ndarray:
        v = self.volume
        return {"k": lambda: v[self.index], "j": lambda: v[:, self.index],
                "i": lambda: v[:, :, self.index]}[self.axis]()  # views, never copies

    @property
    def size(self) -> tuple[int, int]:
        rows, cols = PICTURE_AXES[self.axis]
        return (self.geometry.axis_size(cols), self.geometry.axis_size(rows))

    @property
    def pixel_size(self) -> tuple[float, float]:
        rows, cols = PICTURE_AXES[self.axis]
        return (self.geometry.axis_spacing(cols), self.geometry.axis_spacing(rows))

    def voxel(self, x: float, y: float) -> tuple[float, float, float]:
        """Continuous voxel index (i, j, k) of picture point (x, y): pixel centres are
        integer indices (x = c + 0.5 -> index c)."""
        rows, cols = PICTURE_AXES[self.axis]
        idx = {self.axis: float(self.index), cols: x - 0.5, rows: y - 0.5}
        return (idx["i"], idx["j"], idx["k"])

    def to_world(self, x: float, y: float) -> np.ndarray:
        """LPS position (mm) of picture point (x, y)."""
        return self.geometry.voxel_to_world(self.voxel(x, y))

    def value_at(self, x: float, y: float) -> float | None:
        c, r = int(math.floor(x)), int(math.floor(y))
        w, h = self.size
        if 0 <= c < w and 0 <= r < h:
            return float(self.pixels()[r, c])
        return None

    def display_pixels(self, max_pixels: int = SMOOTH_MAX_PIXELS) -> np.ndarray | None:
        """The picture resampled for display only, linearly interpolated where a picture pixel
        is longer than wide (a reformat of thick slices), or None when its pixels are about
        square already (the canvas then draws :meth:`pixels` itself). See :func:`smooth_plane`:
        what tools, the status bar and exports read stays :meth:`pixels` and :meth:`value_at`."""
        return smooth_plane(self.pixels(), self.pixel_size, max_pixels)

    def point_of(self, world: Any) -> tuple[float, float, float]:
        """(x, y) on this pane's picture and the slice index of an LPS point (for linked
        crosshairs: the other panes jump to the slice it lies on)."""
        i, j, k = self.geometry.world_to_voxel(world)
        idx = {"i": i, "j": j, "k": k}
        rows, cols = PICTURE_AXES[self.axis]
        return (idx[cols] + 0.5, idx[rows] + 0.5, idx[self.axis])


# ------------------------------------------------------------------ smooth reformats


def smooth_factors(pixel_size: tuple[float, float], shape: tuple[int, int],
                   max_pixels: int = SMOOTH_MAX_PIXELS) -> tuple[int, int]:
    """Display pixels per picture pixel ``(fx, fy)`` that make a picture of ``shape``
    (rows, cols) with physical ``pixel_size`` (x, y; mm) about square: the finer axis keeps
    one, the coarser gets ``ceil(ratio)`` (1 while the ratio is under 1.05), capped by
    :data:`SMOOTH_MAX_FACTOR` and ``max_pixels``."""
    px, py = (float(v) for v in pixel_size)
    small = min(px, py)
    if not (small > 0 and math.isfinite(px) and math.isfinite(py)):
        return (1, 1)
    fx, fy = (min(SMOOTH_MAX_FACTOR, max(1, math.ceil(v / small - 0.05))) for v in (px, py))
    rows, cols = shape
    while fx * fy > 1 and rows * cols * fx * fy > max_pixels:
        fx, fy = max(1, fx // 2), max(1, fy // 2)
    return (fx, fy)


def _upsample(a: np.ndarray, axis: int, f: int) -> np.ndarray:
    """``a`` with ``f`` samples per pixel along ``axis``, linear between pixel centres (the
    sample centres of pixel n are at n + (m + 0.5) / f, m = 0..f-1; values beyond the first
    and last centre are held, as OpenCV's INTER_LINEAR does)."""
    n = a.shape[axis]
    t = (np.arange(n * f, dtype=np.float64) + 0.5) / f - 0.5
    t = np.clip(t, 0.0, n - 1)
    i0 = np.floor(t).astype(np.intp)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (t - i0).astype(np.float32)
    shape = [1, 1]
    shape[axis] = -1
    w = w.reshape(shape)
    lo, hi = np.take(a, i0, axis=axis), np.take(a, i1, axis=axis)
    return lo + (hi - lo) * w


def smooth_plane(pixels: np.ndarray, pixel_size: tuple[float, float],
                 max_pixels: int = SMOOTH_MAX_PIXELS) -> np.ndarray | None:
    """A scalar picture (rows x cols, real units) resampled for display with linear
    interpolation so that its display pixels are about square in mm (float32,
    ``rows*fy x cols*fx``; :func:`smooth_factors`), or None when it needs no resampling.
    Display only: display pixel (m, n) lies at picture point ((n + 0.5) / fx, (m + 0.5) / fy),
    so drawn over the picture's own size it keeps every coordinate; voxel values are never
    changed (intensities only, never a label map)."""
    a = np.asarray(pixels)
    if a.ndim != 2 or not a.size:
        return None
    fx, fy = smooth_factors(pixel_size, a.shape, max_pixels)
    if fx == fy == 1:
        return None
    out = a if a.dtype == np.float32 else a.astype(np.float32)
    if fy > 1:
        out = _upsample(out, 0, fy)
    if fx > 1:
        out = _upsample(out, 1, fx)
    return out


def lps_and_ras(world: np.ndarray) -> str:
    """'L 12.3 P 45.6 S 7.8 mm (RAS -12.3, -45.6, 7.8)' for the status bar."""
    x, y, z = (float(v) for v in world)
    lps = " ".join(f"{_LETTERS[n][int(v >= 0)]} {abs(v):.1f}" for n, v in enumerate((x, y, z)))
    return f"{lps} mm (RAS {-x:.1f}, {-y:.1f}, {z:.1f})"
