"""Hollow (3D Slicer's Hollow effect): replace a segment by a shell of its outline ``mm``
thick, lying inside the old outline, outside it, or centred on it. Distances in millimetres
through the voxel spacing (see :mod:`app.tools.effects.margin`)."""

from __future__ import annotations

import numpy as np

from app.tools.effects.morphology import grow, shrink, voxels_for_mm

INSIDE, OUTSIDE, CENTERED = "inside", "outside", "centered"


def reach(mm: float, where: str, spacing: tuple[float, float, float]) -> tuple[int, int, int]:
    """Voxels (k, j, i) beyond the segment the shell may reach, each side."""
    grow_mm = {INSIDE: 0.0, OUTSIDE: mm, CENTERED: mm / 2}[where]
    return voxels_for_mm(grow_mm, spacing) if grow_mm > 0 else (1, 1, 1)


def hollow(mask: np.ndarray, mm: float, where: str, spacing: tuple[float, float, float]
           ) -> np.ndarray:
    """The shell of ``mask`` ``mm`` thick (``where``: inside, outside or centered on the
    outline); a new bool array."""
    mask = mask.astype(bool)
    if where == INSIDE:
        return mask & ~shrink(mask, mm, spacing)
    if where == OUTSIDE:
        return grow(mask, mm, spacing) & ~mask
    if where == CENTERED:
        return grow(mask, mm / 2, spacing) & ~shrink(mask, mm / 2, spacing)
    raise ValueError(f"unknown hollow side {where!r}")
