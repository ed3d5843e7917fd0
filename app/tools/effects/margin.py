"""Margin (3D Slicer's Margin effect): grow or shrink a segment by a distance in millimetres,
measured between voxel centres through the voxel spacing (an exact Euclidean distance
transform, SimpleITK's SignedMaurerDistanceMap with the image spacing), so a margin is round in
millimetres on anisotropic voxels rather than a kernel of whole voxels."""

from __future__ import annotations

import numpy as np

from app.tools.effects.morphology import grow, shrink, voxels_for_mm


def reach(mm: float, spacing: tuple[float, float, float]) -> tuple[int, int, int]:
    """Voxels (k, j, i) beyond the segment a margin of ``mm`` may reach, each side."""
    return voxels_for_mm(max(mm, 0.0), spacing) if mm > 0 else (1, 1, 1)


def margin(mask: np.ndarray, mm: float, spacing: tuple[float, float, float]) -> np.ndarray:
    """``mask`` grown by ``mm`` (> 0: every voxel within ``mm`` of the segment) or shrunk by
    ``-mm`` (< 0: the voxels farther than ``-mm`` from the background); a new bool array."""
    if mm > 0:
        return grow(mask, mm, spacing)
    if mm < 0:
        return shrink(mask, -mm, spacing)
    return mask.astype(bool)
