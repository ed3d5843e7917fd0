"""Per-segment voxel counts and volumes (mL) of a label map, kept up to date brick by brick.

Counts are held per brick (:data:`app.core.labelmap.BRICK` voxels a side), so after an edit
only the bricks of its box are counted again - a brush stroke costs a few bricks, not the
volume. The whole label map is read once (only its stored, non-empty bricks). Volume of a voxel
= |det(direction)| x si x sj x sk mm^3; 1 mL = 1000 mm^3.
"""

from __future__ import annotations

import numpy as np

from app.core.geometry import VolumeGeometry
from app.core.labelmap import BrickKey, Region, brick_shape, bricks_of, unpack_brick, BRICK


def voxel_ml(geometry: VolumeGeometry) -> float:
    """Volume of one voxel in mL."""
    d = np.asarray(geometry.direction, float)
    return float(abs(np.linalg.det(d)) * np.prod(geometry.spacing) / 1000.0)


class SegmentStats:
    """Voxel counts per segment value of label map ``labelmap_id`` of ``doc``."""

    def __init__(self, doc, labelmap_id: str) -> None:
        self.doc, self.labelmap_id = doc, labelmap_id
        self._bricks: dict[BrickKey, dict[int, int]] = {}
        self.recount()

    def recount(self) -> None:
        """Count every stored brick again (after an undo of a removal, a reload...)."""
        info = self.doc.labelmap_info(self.labelmap_id)
        self._bricks = {}
        for key, blob in self.doc.store.load_bricks(self.labelmap_id).items():
            self._bricks[tuple(key)] = _histogram(unpack_brick(blob, info, tuple(key)))
        self._bricks = {k: h for k, h in self._bricks.items() if h}

    def update(self, start: tuple[int, int, int], shape: tuple[int, int, int]) -> None:
        """Count again the bricks the box at ``start`` (k, j, i) of ``shape`` touches."""
        info = self.doc.labelmap_info(self.labelmap_id)
        for key in bricks_of(Region(tuple(start), tuple(shape))):  # type: ignore[arg-type]
            lo = tuple(b * BRICK for b in key)
            values = self.doc.labelmap_region(self.labelmap_id, lo, brick_shape(info, key))
            hist = _histogram(values)
            if hist:
                self._bricks[key] = hist
            else:
                self._bricks.pop(key, None)

    def counts(self) -> dict[int, int]:
        """Voxels per segment value (values with none are absent)."""
        out: dict[int, int] = {}
        for hist in self._bricks.values():
            for v, n in hist.items():
                out[v] = out.get(v, 0) + n
        return out

    def box_of(self, value: int) -> Region | None:
        """The brick-aligned box holding every voxel of segment ``value`` (None: unpainted)."""
        keys = [k for k, h in self._bricks.items() if value in h]
        if not keys:
            return None
        info = self.doc.labelmap_info(self.labelmap_id)
        lo = [min(k[a] for k in keys) * BRICK for a in range(3)]
        hi = [min((max(k[a] for k in keys) + 1) * BRICK, info.shape[a]) for a in range(3)]
        return Region(tuple(lo), tuple(h - l for l, h in zip(lo, hi)))  # type: ignore[arg-type]


def _histogram(values: np.ndarray) -> dict[int, int]:
    counts = np.bincount(values.ravel().astype(np.int64, copy=False))
    return {int(v): int(n) for v, n in enumerate(counts) if v and n}
