"""The arithmetic the Segment Editor effects share (Qt-free, numpy + SimpleITK): boxes around
a segment, kernel radii from millimetres, and distances in millimetres.

Arrays are ``[k, j, i]`` (numpy order); ``spacing`` is ``(si, sj, sk)`` in mm as in
:class:`~app.core.geometry.VolumeGeometry` (i first); a box is ``(start, stop)`` of voxel indices
``(k, j, i)``, stop exclusive. SimpleITK images are made with ``GetImageFromArray`` (x = i).
"""

from __future__ import annotations

import math

import numpy as np

Box = tuple[tuple[int, int, int], tuple[int, int, int]]


def tight_box(mask: np.ndarray) -> Box | None:
    """The smallest box holding every set voxel of ``mask`` (``np.any`` per axis), None when
    none is set."""
    bounds = []
    for ax in range(3):
        other = tuple(a for a in range(3) if a != ax)
        hit = np.flatnonzero(mask.any(axis=other))
        if not hit.size:
            return None
        bounds.append((int(hit[0]), int(hit[-1]) + 1))
    return (tuple(b[0] for b in bounds), tuple(b[1] for b in bounds))  # type: ignore[return-value]


def union_box(a: Box | None, b: Box | None) -> Box | None:
    if a is None or b is None:
        return a or b
    return (tuple(min(x, y) for x, y in zip(a[0], b[0])),  # type: ignore[return-value]
            tuple(max(x, y) for x, y in zip(a[1], b[1])))


def grow_box(box: Box, pad: tuple[int, int, int], shape: tuple[int, int, int]) -> Box:
    """``box`` grown by ``pad`` voxels (k, j, i) each side, cut to the volume ``shape``."""
    start = tuple(max(s - p, 0) for s, p in zip(box[0], pad))
    stop = tuple(min(s + p, n) for s, p, n in zip(box[1], pad, shape))
    return start, stop  # type: ignore[return-value]


def kji_spacing(spacing: tuple[float, float, float]) -> tuple[float, float, float]:
    """``(si, sj, sk)`` as ``(sk, sj, si)``: the spacing of numpy axes 0, 1, 2."""
    return (float(spacing[2]), float(spacing[1]), float(spacing[0]))


def kernel_radius(size_mm: float, spacing: tuple[float, float, float]) -> tuple[int, int, int]:
    """Radius in voxels (i, j, k order, as SimpleITK takes it) of a kernel ``size_mm`` wide:
    3D Slicer's Smoothing rule, an odd kernel of ``round((mm / spacing + 1) / 2) * 2 - 1``
    voxels per axis, radius half of that less one."""
    out = []
    for s in spacing:
        size = int(round((size_mm / s + 1) / 2)) * 2 - 1
        out.append(max(size, 1) // 2)
    return tuple(out)  # type: ignore[return-value]


def voxels_for_mm(mm: float, spacing: tuple[float, float, float]) -> tuple[int, int, int]:
    """How many voxels (k, j, i) ``mm`` millimetres reach along each axis, plus one."""
    return tuple(int(math.ceil(abs(mm) / s)) + 1 for s in kji_spacing(spacing))  # type: ignore


def to_image(mask: np.ndarray, spacing: tuple[float, float, float]):
    """A uint8 SimpleITK image of ``mask`` (``[k, j, i]``) with ``spacing`` (si, sj, sk)."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(mask.astype(np.uint8))
    img.SetSpacing(tuple(float(s) for s in spacing))
    return img


def distance_to(mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """For every voxel, the distance in mm from its centre to the nearest centre of a set voxel
    of ``mask`` (0 on set voxels; +inf everywhere when none is set): SimpleITK's
    SignedMaurerDistanceMap with the image spacing, exact Euclidean."""
    import SimpleITK as sitk

    if not mask.any():
        return np.full(mask.shape, np.inf, np.float32)
    dist = sitk.SignedMaurerDistanceMap(to_image(mask, spacing), insideIsPositive=False,
                                        squaredDistance=False, useImageSpacing=True)
    out = sitk.GetArrayFromImage(dist).astype(np.float32)
    out[mask.astype(bool)] = 0.0
    return out


def grow(mask: np.ndarray, mm: float, spacing: tuple[float, float, float]) -> np.ndarray:
    """Voxels whose centre lies within ``mm`` of a set voxel's centre (the mask itself
    included): a dilation by a ball of ``mm`` in physical space."""
    return distance_to(mask, spacing) <= mm


def shrink(mask: np.ndarray, mm: float, spacing: tuple[float, float, float]) -> np.ndarray:
    """Set voxels farther than ``mm`` from every unset voxel of the array (an erosion by a
    ball of ``mm``: the complement of growing the complement). The array's edge is not
    background."""
    mask = mask.astype(bool)
    return mask & ~grow(~mask, mm, spacing)
