"""Fill between slices (3D Slicer's effect of that name): a segment painted on a few slices
along an array axis is interpolated on the empty slices between them, shape-based - each
painted slice becomes a signed distance map (mm, negative inside, through the pixel spacing),
the maps of the two painted slices around a gap are blended linearly, and a voxel is inside
where the blend is negative. Painted slices are kept as they are; voxels of other segments are
never overwritten. The result is one :class:`~app.core.commands.ModifyLabelMap` (one undo).
"""

from __future__ import annotations

import numpy as np

from app.core.commands import Command, ModifyLabelMap
from app.core.labelmap import Mode, Region
from app.tools.volume_brush import AXIS_INDEX, pixel_size


def signed_distance(mask: np.ndarray, size: tuple[float, float]) -> np.ndarray:
    """Signed distance (mm) of each pixel centre of a 2D bool ``mask``: -distance to the
    nearest outside pixel for inside pixels, +distance to the nearest inside pixel for the
    others (``size`` = (x, y) pixel size in mm), so the edge lies halfway between."""
    import SimpleITK as sitk

    def distance_to(m: np.ndarray) -> np.ndarray:
        if not m.any():
            return np.full(m.shape, 1e9, np.float32)
        img = sitk.GetImageFromArray(m.astype(np.uint8))
        img.SetSpacing((float(size[0]), float(size[1])))
        d = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=False,
                                         useImageSpacing=True)
        return sitk.GetArrayFromImage(d).astype(np.float32)

    return np.where(mask, -distance_to(~mask), distance_to(mask)).astype(np.float32)


def painted_slices(stack: np.ndarray) -> np.ndarray:
    """Indices along the first axis of ``stack`` holding any set voxel."""
    return np.flatnonzero(stack.reshape(stack.shape[0], -1).any(axis=1))


def fill_between(stack: np.ndarray, size: tuple[float, float]) -> np.ndarray:
    """``stack`` (bool, slices first) with every empty slice between two painted ones filled
    by shape-based interpolation; painted slices and slices outside the first..last painted
    one are returned unchanged."""
    out = stack.copy()
    painted = painted_slices(stack)
    sdf: dict[int, np.ndarray] = {}
    for a, b in zip(painted, painted[1:]):
        if b - a < 2:
            continue
        for n in (a, b):
            if n not in sdf:
                sdf[n] = signed_distance(stack[n], size)
        for s in range(a + 1, b):
            t = (s - a) / (b - a)
            out[s] = (1 - t) * sdf[a] + t * sdf[b] < 0
    return out


def fill_between_command(doc, labelmap_id: str, value: int, axis: str, geometry,
                         box: Region | None = None) -> tuple[Command | None, str]:
    """The edit that fills segment ``value`` between its painted slices along array
    ``axis`` ('k', 'j' or 'i'), looking only inside ``box`` (default: the whole label map):
    (the command or None, a sentence)."""
    info = doc.labelmap_info(labelmap_id)
    box = box or Region((0, 0, 0), info.shape)
    labels = doc.labelmap_region(labelmap_id, box.start, box.shape)
    a = AXIS_INDEX[axis]
    seg = np.moveaxis(labels == value, a, 0)
    painted = painted_slices(seg)
    seg_name = info.segment(value).name if info.segment(value) else f"value {value}"
    if len(painted) < 2:
        return None, (f"Paint {seg_name!r} on at least two slices along {axis} (with empty "
                      "slices between them) first.")
    if not np.any(np.diff(painted) > 1):
        return None, f"{seg_name!r} has no empty slice between its painted slices along {axis}."
    rows_cols = pixel_size(geometry, axis)
    filled = fill_between(seg, rows_cols)
    new = np.moveaxis(filled & ~seg, 0, a)
    if not new.any():
        return None, f"Nothing to fill between the painted slices of {seg_name!r}."
    cmd = ModifyLabelMap(labelmap_id, box.start, new, Mode.ADD, value, labels == 0,
                         label="Fill between slices")
    gaps = int(sum(max(0, b - a - 1) for a, b in zip(painted, painted[1:])))
    return cmd, (f"Filled {seg_name!r} on {gaps} slice(s) between {len(painted)} painted "
                 f"slices along {axis}.")
