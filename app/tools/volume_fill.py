"""Flood fill of a volume's label map from a clicked voxel: the connected region (faces touching:
4-connected in a slice, 6-connected in 3D) of voxels whose value lies within +/- a tolerance of
the clicked value and, when the brush's "only where value in" range is set, inside that range
too (both rules hold, as the options say) - in the slice, or in 3D up to a voxel limit (a
region that grows past it is refused, never cut). One
:class:`~app.core.commands.ModifyLabelMap` per fill, so one undo step.

Picture coordinates are continuous pixels (pixel (c, r) covers [c, c+1) x [r, r+1)); voxel
indices are ``(k, j, i)`` in numpy order.
"""

from __future__ import annotations

import math
import cv2
import numpy as np

from app.core.commands import Command, ModifyLabelMap
from app.core.labelmap import Mode
from app.core.places import PICTURE_AXES, Place
from app.tools.base import Button, Gesture, Mod, PointerEvent, Tool
from app.tools.volume_brush import VolumeBrush

START_HALF = 24  # half-size (voxels) of the first box a 3D fill looks in; doubled as needed


class FillTooLarge(Exception):
    """The connected region has more voxels than the limit."""


def value_range(value: float, intensity: tuple[float, float] | None, tolerance: float
                ) -> tuple[float, float]:
    """The values a fill accepts (units of the volume, e.g. HU): the clicked ``value`` +/-
    ``tolerance``, narrowed to the ``intensity`` range when one is set. ``lo > hi`` when the
    two do not meet (the clicked value lies outside the range by more than the tolerance)."""
    lo, hi = float(value) - tolerance, float(value) + tolerance
    if intensity is not None:
        lo, hi = max(lo, float(intensity[0])), min(hi, float(intensity[1]))
    return (lo, hi)


def fill_rule(tolerance: float, intensity: tuple[float, float] | None, unit: str = "") -> str:
    """The values a fill takes, in words: "± 50 HU of the clicked value and within
    200..3000 HU" (the range only when "only where value in" is set)."""
    u = f" {unit}" if unit else ""
    text = f"± {tolerance:g}{u} of the clicked value"
    if intensity is not None:
        text += f" and within {intensity[0]:g}..{intensity[1]:g}{u}"
    return text


def flood_2d(picture: np.ndarray, seed: tuple[int, int], lo: float, hi: float) -> np.ndarray:
    """Pixels 4-connected to ``seed`` (row, col) whose value lies in [lo, hi] (bool H x W;
    all False when the seed itself is outside the range)."""
    inside = ((picture >= lo) & (picture <= hi)).astype(np.uint8)
    h, w = inside.shape
    r, c = seed
    out = np.zeros((h, w), bool)
    if not (0 <= r < h and 0 <= c < w) or not inside[r, c]:
        return out
    mask = np.zeros((h + 2, w + 2), np.uint8)
    cv2.floodFill(inside, mask, (int(c), int(r)), 2, 0, 0,
                  4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8))
    return mask[1:-1, 1:-1].astype(bool)


def flood_3d(volume: np.ndarray, seed: tuple[int, int, int], lo: float, hi: float,
             limit: int) -> tuple[tuple[int, int, int], np.ndarray]:
    """Voxels 6-connected to ``seed`` (k, j, i) whose value lies in [lo, hi]: (start of the
    box, bool box). Looks in a box around the seed, doubled while the region reaches an inner
    face of it; raises :class:`FillTooLarge` once the region has more than ``limit`` voxels."""
    import SimpleITK as sitk

    shape = volume.shape
    if not all(0 <= s < n for s, n in zip(seed, shape)):
        return tuple(seed), np.zeros((0, 0, 0), bool)  # type: ignore[return-value]
    v = volume[seed]
    if not lo <= v <= hi:
        return tuple(seed), np.zeros((1, 1, 1), bool)  # type: ignore[return-value]
    half = START_HALF
    while True:
        lo_idx = [max(s - half, 0) for s in seed]
        hi_idx = [min(s + half + 1, n) for s, n in zip(seed, shape)]
        box = tuple(slice(a, b) for a, b in zip(lo_idx, hi_idx))
        sub = volume[box]
        inside = sub >= lo  # one bool box and one more temporary, viewed as uint8 for ITK
        inside &= sub <= hi
        local = [s - a for s, a in zip(seed, lo_idx)]
        image = sitk.GetImageFromArray(inside.view(np.uint8))
        del inside
        marker = sitk.Image(image.GetSize(), sitk.sitkUInt8)
        marker.SetPixel((local[2], local[1], local[0]), 1)
        # the seed's 6-connected component: reconstruction by dilation inside the mask gives
        # ConnectedThreshold's region some 50x faster (run-length, not voxel by voxel)
        grown = sitk.BinaryReconstructionByDilation(marker, image, 0, 1, False)
        del image, marker
        region = sitk.GetArrayFromImage(grown).view(bool)  # 0/1 bytes: a view, no copy
        del grown
        count = int(np.count_nonzero(region))
        if count > limit:
            raise FillTooLarge(count)
        open_faces = []
        for ax in range(3):
            if lo_idx[ax] > 0:
                open_faces.append(np.take(region, 0, axis=ax))
            if hi_idx[ax] < shape[ax]:
                open_faces.append(np.take(region, -1, axis=ax))
        if not any(f.any() for f in open_faces):
            return tuple(lo_idx), region  # type: ignore[return-value]
        del region, open_faces  # not held while the next, larger box is searched
        half *= 2
        if np.prod([min(s + half + 1, n) - max(s - half, 0) for s, n in zip(seed, shape)]) \
                > volume.size // 2:
            half = max(shape)  # past half the volume: search all of it at once


def fill_command(brush: VolumeBrush, target, place: Place, x: float, y: float,
                 erase: bool = False) -> tuple[Command | None, str]:
    """The fill from picture point (x, y) of ``place`` with ``brush``'s settings: (the
    command or None, a sentence saying what it does or why not)."""
    s = brush.settings
    c, r = int(math.floor(x)), int(math.floor(y))
    picture = brush.picture(place)
    h, w = picture.shape
    if not (0 <= r < h and 0 <= c < w):
        return None, "Click inside the picture to fill."
    value = float(picture[r, c])
    lo, hi = value_range(value, s.intensity, s.fill_tolerance)
    if s.intensity is not None and not s.intensity[0] <= value <= s.intensity[1]:
        return None, (f"The clicked value {value:g} lies outside the \"only where value in\" "
                      f"range {s.intensity[0]:g}..{s.intensity[1]:g}; nothing to fill.")
    a = "kji".index(place.axis)  # type: ignore[arg-type]
    if s.fill_3d:
        rows, cols = PICTURE_AXES[place.axis]  # type: ignore[index]
        idx = {place.axis: place.index, rows: r, cols: c}
        seed = (idx["k"], idx["j"], idx["i"])
        try:
            start, mask = flood_3d(brush.volume, seed, lo, hi, s.fill_limit)
        except FillTooLarge:
            return None, (f"The connected region grows past {s.fill_limit:,} voxels; narrow "
                          "the range (or the tolerance) or raise the limit.")
    else:
        mask2 = flood_2d(picture, (r, c), lo, hi)
        rows_any = np.flatnonzero(mask2.any(axis=1))
        if not rows_any.size:
            mask = mask2[None]
            start = (0, 0, 0)
        else:
            cols_any = np.flatnonzero(mask2.any(axis=0))
            r0, r1 = rows_any[0], rows_any[-1] + 1
            c0, c1 = cols_any[0], cols_any[-1] + 1
            mask = np.expand_dims(mask2[r0:r1, c0:c1], a)
            rows, cols = PICTURE_AXES[place.axis]  # type: ignore[index]
            idx = {place.axis: place.index, rows: int(r0), cols: int(c0)}
            start = (idx["k"], idx["j"], idx["i"])
    n = int(np.count_nonzero(mask))
    if not n:
        return None, f"The clicked value lies outside {lo:g}..{hi:g}; nothing to fill."
    label = "Erase fill" if erase else "Fill"
    cmd = ModifyLabelMap(target.labelmap_id, start, mask, Mode.ERASE if erase else Mode.ADD,
                         0 if erase else target.value, None, label=label)
    ml = n * voxel_ml(brush)
    why = (f" (± {s.fill_tolerance:g} of {value:g}, within the range "
           f"{s.intensity[0]:g}..{s.intensity[1]:g})" if s.intensity is not None else "")
    return cmd, f"{label}: {n:,} voxels ({ml:.2f} mL) with values in {lo:g}..{hi:g}{why}."


def voxel_ml(brush: VolumeBrush) -> float:
    """Volume of one voxel in mL (mm^3 / 1000), the direction's skew included."""
    g = brush.geometry
    d = np.asarray(g.direction, float)
    return float(abs(np.linalg.det(d)) * np.prod(g.spacing) / 1000.0)


class FillTool(Tool):
    """Click: flood fill the active segment on a volume slice (Shift+click: erase that
    region). Reaches the volume's brush through the surface's label map
    (:meth:`~app.tools.surface.Surface.labelmap`)."""

    name = "fill"
    label = "Fill"
    shortcut = "U"
    tooltip = ("Flood fill a volume's segment from the clicked voxel: connected voxels within "
               "± the tolerance of its value (and in the \"only where value in\" range when "
               "that is checked), in the slice or in 3D (U)")
    key_help = (("Click", "fill the connected region of similar intensity with the segment"),
                ("Shift+click", "erase that region"))

    def __init__(self, state) -> None:
        super().__init__(state)
        self.cursor = "cross"

    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is not Button.LEFT:
            return None
        place = self.pointer_place
        target = self.surface.labelmap(place) if place is not None and place.is_slice \
            else None
        if target is None or not isinstance(target.brush, VolumeBrush):
            self.message("Fill paints a volume's segments: open a volume (on pictures, use "
                         "the brush).")
            return None
        brush = target.brush
        erase = bool(press.modifiers & Mod.SHIFT)
        x, y = press.x, press.y

        def done(result: tuple[Command | None, str]) -> None:
            cmd, text = result
            if cmd is not None:
                self.state.execute(cmd, self.surface)
            self.message(text)

        if brush.settings.fill_3d:  # a 3D region may take a few 100 ms: off the UI thread
            self.message("Filling in 3D…")
            self.surface.run_off_ui("3D fill", lambda: brush.fill_command(
                target, place, x, y, erase), done)
        else:
            done(brush.fill_command(target, place, x, y, erase))
        return None
