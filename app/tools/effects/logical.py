"""Logical operators (3D Slicer's Logical operators effect): the edited segment A with another
segment B - copy (A becomes B), union (A or B), intersect (A and B), subtract (A and not B),
invert (not A, over the whole volume), clear (empty). In a label map each voxel holds one
segment, so copy and union move B's voxels into A."""

from __future__ import annotations

import numpy as np

COPY, UNION, INTERSECT, SUBTRACT, INVERT, CLEAR = (
    "copy", "union", "intersect", "subtract", "invert", "clear")
NEEDS_OTHER = frozenset({COPY, UNION, INTERSECT, SUBTRACT})


def combine(op: str, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """The new A (bool, the shape of ``a``) of operator ``op`` on ``a`` and ``b``."""
    a = a.astype(bool)
    if op in NEEDS_OTHER:
        if b is None:
            raise ValueError(f"{op} needs another segment")
        b = b.astype(bool)
    if op == COPY:
        return b.copy()  # type: ignore[union-attr]
    if op == UNION:
        return a | b
    if op == INTERSECT:
        return a & b
    if op == SUBTRACT:
        return a & ~b  # type: ignore[operator]
    if op == INVERT:
        return ~a
    if op == CLEAR:
        return np.zeros_like(a)
    raise ValueError(f"unknown logical operator {op!r}")
