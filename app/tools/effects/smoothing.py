"""Smoothing (3D Slicer's Smoothing effect) of one segment: median (removes extrusions and fills
small holes), opening (removes extrusions smaller than the kernel), closing (fills holes and
gaps smaller than the kernel), Gaussian (blurs the outline, threshold at half). Kernel sizes are
in mm and become voxels per axis by Slicer's rule (:func:`~app.tools.effects.morphology.
kernel_radius`), so the kernel is round in millimetres on anisotropic voxels. Median uses a box
kernel (as VTK's median and SimpleITK's BinaryMedian); opening and closing a ball (ellipsoid in
voxels), as SimpleITK's BinaryMorphologicalOpening/Closing with ``sitkBall``."""

from __future__ import annotations

import numpy as np

from app.tools.effects.morphology import kernel_radius, to_image

MEDIAN, OPENING, CLOSING, GAUSSIAN = "median", "opening", "closing", "gaussian"


def reach(method: str, size_mm: float, spacing: tuple[float, float, float]
          ) -> tuple[int, int, int]:
    """How many voxels (k, j, i) beyond the segment a result may reach or look, each side."""
    if method == GAUSSIAN:
        r = [int(np.ceil(4 * size_mm / s)) + 1 for s in spacing]
    else:
        r = [2 * v + 1 for v in kernel_radius(size_mm, spacing)]
    return (r[2], r[1], r[0])


def smooth(mask: np.ndarray, method: str, size_mm: float,
           spacing: tuple[float, float, float]) -> np.ndarray:
    """``mask`` smoothed by ``method`` with a kernel ``size_mm`` wide (Gaussian: standard
    deviation ``size_mm``), on voxels of ``spacing`` (si, sj, sk) mm. Pure; a new bool array."""
    import SimpleITK as sitk

    img = to_image(mask, spacing)
    radius = [int(r) for r in kernel_radius(size_mm, spacing)]
    if method == MEDIAN:
        out = sitk.BinaryMedian(img, radius=radius, foregroundValue=1,
                               backgroundValue=0)
    elif method == OPENING:
        out = sitk.BinaryMorphologicalOpening(img, kernelRadius=radius,
                                              kernelType=sitk.sitkBall, backgroundValue=0,
                                              foregroundValue=1)
    elif method == CLOSING:
        out = sitk.BinaryMorphologicalClosing(img, kernelRadius=radius,
                                              kernelType=sitk.sitkBall, foregroundValue=1,
                                              safeBorder=True)
    elif method == GAUSSIAN:
        blurred = sitk.SmoothingRecursiveGaussian(sitk.Cast(img, sitk.sitkFloat32),
                                                  float(size_mm))
        return sitk.GetArrayFromImage(blurred) >= 0.5
    else:
        raise ValueError(f"unknown smoothing method {method!r}")
    return sitk.GetArrayFromImage(out).astype(bool)
