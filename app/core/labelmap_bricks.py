"""Label-map voxels, read and written brick by brick through a bounded cache.

A label map is stored as compressed bricks (:mod:`app.core.labelmap`); a read decompresses only
the bricks its box touches, keeping them in a :class:`~app.core.labelmap.BrickCache` bounded in
bytes, and a write patches those bricks and stores them again (or deletes those left all
background) inside the caller's transaction. The document owns the label maps' descriptions
(:class:`~app.core.labelmap.LabelMapInfo`); this module only moves their voxels.
"""

from __future__ import annotations

import numpy as np

from app.core.changes import Change, ChangeKind
from app.core.errors import RefusedEdit
from app.core.labelmap import (BRICK, BrickCache, BrickKey, LabelMapInfo, Mode, Region,
                               apply_mode, brick_shape, bricks_of, pack_brick, unpack_brick)
from app.core.store import Store


class LabelMapBricks:
    """The voxels of a project's label maps; ``cache_bytes`` bounds the decompressed bricks kept
    in memory."""

    def __init__(self, store: Store, cache_bytes: int) -> None:
        self._store = store
        self.cache = BrickCache(cache_bytes)

    def drop(self, labelmap_id: str | None = None) -> None:
        """Forget the cached bricks of one label map (None: of all)."""
        self.cache.drop(labelmap_id)

    # ---------------------------------------------------------------- reading
    def _brick(self, info: LabelMapInfo, key: BrickKey) -> np.ndarray | None:
        found, brick = self.cache.get(info.id, key)
        if not found:
            blob = self._store.load_brick(info.id, key)
            brick = None if blob is None else unpack_brick(blob, info, key)
            self.cache.put(info.id, key, brick)
        return brick

    def region(self, info: LabelMapInfo, start: tuple[int, int, int],
               shape: tuple[int, int, int]) -> np.ndarray:
        """A new array with the voxels of the box at ``start`` (k, j, i) of ``shape`` (zeros
        where never painted); :class:`RefusedEdit` when the box leaves the label map."""
        region = Region(tuple(start), tuple(shape))  # type: ignore[arg-type]
        if not region.inside(info.shape):
            raise RefusedEdit(f"The box {list(start)}+{list(shape)} lies outside label map "
                              f"{info.name!r} ({'x'.join(map(str, info.shape))} voxels).")
        out = np.zeros(region.shape, info.dtype)
        for key in bricks_of(region):
            brick = self._brick(info, key)
            if brick is None:
                continue
            dst, src = _overlap(region, key, brick.shape)
            out[dst] = brick[src]
        return out

    def values_present(self, info: LabelMapInfo, values: set[int]) -> bool:
        """Whether any stored voxel of the label map holds one of ``values``."""
        for key, blob in self._store.load_bricks(info.id).items():
            if np.isin(unpack_brick(blob, info, key), list(values)).any():
                return True
        return False

    # ---------------------------------------------------------------- writing
    def modify(self, info: LabelMapInfo, start: tuple[int, int, int], modifier: np.ndarray,
               mode: Mode, value: int, where: np.ndarray | None = None
               ) -> tuple[tuple[int, int, int], np.ndarray, int, list[Change]]:
        """Apply ``modifier`` with ``mode`` and segment ``value`` to the box at ``start``
        (see :class:`~app.core.commands.ModifyLabelMap`). Reads the old voxels itself; returns
        the start and old values of the changed voxels' bounding box (for undo), how many
        voxels changed, and the changes."""
        if mode is not Mode.ERASE or value:
            if info.segment(value) is None:
                raise RefusedEdit(f"Label map {info.name!r} has no segment with value {value}; "
                                  "add the segment first.")
        old = self.region(info, start, modifier.shape)  # checks the box
        new = apply_mode(old, modifier, mode, value, where)
        changed = old != new
        box = Region.around(changed)
        if box is None:
            return tuple(start), old[:0, :0, :0], 0, []  # type: ignore[return-value]
        at = tuple(s + b for s, b in zip(start, box.start))
        self._write_region(info, Region(at, box.shape), new[box.slices])  # type: ignore[arg-type]
        return at, old[box.slices].copy(), int(changed.sum()), [  # type: ignore[return-value]
            Change(ChangeKind.LABELMAP, frozenset({info.media_id}), (info.id,),
                   {"start": at, "shape": box.shape})]

    def write(self, info: LabelMapInfo, start: tuple[int, int, int], values: np.ndarray
              ) -> tuple[np.ndarray, list[Change]]:
        """Set the box at ``start`` to ``values`` (undo/redo of a modify); returns the old
        values there and the changes."""
        old = self.region(info, start, values.shape)
        if values.dtype != np.dtype(info.dtype):
            raise RefusedEdit(f"Voxel values for {info.name!r} must be {info.dtype}.")
        self._write_region(info, Region(tuple(start), values.shape), values)  # type: ignore
        return old, [Change(ChangeKind.LABELMAP, frozenset({info.media_id}), (info.id,),
                            {"start": tuple(start), "shape": values.shape})]

    def take(self, info: LabelMapInfo) -> dict[BrickKey, bytes]:
        """Delete a label map with its bricks from the store; returns the stored bricks (for
        the undo of the removal)."""
        bricks = self._store.load_bricks(info.id)
        self._store.delete_labelmap(info.id)
        self.cache.drop(info.id)
        return bricks

    def restore(self, labelmap_id: str, bricks: dict[BrickKey, bytes]) -> None:
        """Put a removed label map's stored bricks back (undo of its removal)."""
        self._store.put_bricks(labelmap_id, dict(bricks))
        self.cache.drop(labelmap_id)

    def _write_region(self, info: LabelMapInfo, region: Region, values: np.ndarray) -> None:
        """Patch every brick the region touches and store those bricks (compressed, or
        deleted when all background). Inside the caller's transaction."""
        out: dict[BrickKey, bytes | None] = {}
        patched: dict[BrickKey, np.ndarray | None] = {}
        for key in bricks_of(region):
            brick = self._brick(info, key)
            shape = brick_shape(info, key)
            brick = np.zeros(shape, info.dtype) if brick is None else brick.copy()
            dst, src = _overlap(region, key, shape)
            brick[src] = values[dst]
            if brick.any():
                out[key] = pack_brick(brick)
                patched[key] = brick
            else:
                out[key] = None
                patched[key] = None
        self._store.put_bricks(info.id, out)
        for key, brick in patched.items():
            self.cache.put(info.id, key, brick)


def _overlap(region: Region, key: BrickKey, brick_shape: tuple[int, ...]
             ) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices of the region array and of brick ``key`` that cover the same voxels."""
    dst, src = [], []
    for s, n, b, size in zip(region.start, region.shape, key, brick_shape):
        lo = max(s, b * BRICK)
        hi = min(s + n, b * BRICK + size)
        dst.append(slice(lo - s, hi - s))
        src.append(slice(lo - b * BRICK, hi - b * BRICK))
    return tuple(dst), tuple(src)
