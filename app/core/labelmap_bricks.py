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
    def _brick(self, info: LabelMapInfo, key: BrickKey, keep: bool = True
               ) -> np.ndarray | None:
        """Brick ``key`` (None: all background), from the cache or the store; a brick read
        from the store is cached unless ``keep`` is False (a large edit passing through)."""
        found, brick = self.cache.get(info.id, key)
        if not found:
            blob = self._store.load_brick(info.id, key)
            brick = None if blob is None else unpack_brick(blob, info, key)
            if keep or brick is None:  # an absent brick costs nothing to remember
                self.cache.put(info.id, key, brick)
        return brick

    def _small(self, info: LabelMapInfo, region: Region) -> bool:
        """Whether an edit of ``region`` may keep its bricks in the cache (a quarter of it at
        most): a larger one would only push out what the views show."""
        nbytes = int(np.prod(region.shape)) * np.dtype(info.dtype).itemsize
        return nbytes <= self.cache.max_bytes // 4

    def region(self, info: LabelMapInfo, start: tuple[int, int, int],
               shape: tuple[int, int, int]) -> np.ndarray:
        """A new array with the voxels of the box at ``start`` (k, j, i) of ``shape`` (zeros
        where never painted); :class:`RefusedEdit` when the box leaves the label map."""
        return self._read(info, self._checked(info, start, shape))

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
        voxels changed, and the changes.

        Brick by brick, never the whole box at once: a first pass finds the bricks that change
        and the changed voxels' box, a second keeps that box's old values (the undo copy, the
        one array as large as the change) and writes the changed bricks. Extra memory: the
        undo copy plus a few bricks (and the bounded brick cache)."""
        if mode is not Mode.ERASE or value:
            if info.segment(value) is None:
                raise RefusedEdit(f"Label map {info.name!r} has no segment with value {value}; "
                                  "add the segment first.")
        region = self._checked(info, start, modifier.shape)
        keep = self._small(info, region)
        lo, hi = [None] * 3, [None] * 3
        count = 0
        touched: list[BrickKey] = []
        for key in bricks_of(region):
            _, dst, old, new = self._modified(info, region, key, modifier, mode, value, where,
                                              keep)
            diff = old != new
            n = int(np.count_nonzero(diff))
            if not n:
                continue
            box = Region((0, 0, 0), diff.shape) if n == diff.size else Region.around(diff)
            assert box is not None
            count += n
            touched.append(key)
            for a in range(3):
                at = region.start[a] + dst[a].start
                lo[a] = at + box.start[a] if lo[a] is None else min(lo[a], at + box.start[a])
                hi[a] = at + box.stop[a] if hi[a] is None else max(hi[a], at + box.stop[a])
        if not touched:
            return tuple(start), np.zeros((0, 0, 0), info.dtype), 0, []  # type: ignore
        changed = Region(tuple(lo), tuple(h - l for l, h in zip(lo, hi)))  # type: ignore
        before = self._read(info, changed, keep, compact=True)
        self._store_bricks(info, self._changed_bricks(info, region, touched, modifier, mode,
                                                      value, where, keep), keep)
        return changed.start, before, count, [
            Change(ChangeKind.LABELMAP, frozenset({info.media_id}), (info.id,),
                   {"start": changed.start, "shape": changed.shape})]

    def _modified(self, info: LabelMapInfo, region: Region, key: BrickKey,
                  modifier: np.ndarray, mode: Mode, value: int, where: np.ndarray | None,
                  keep: bool = True
                  ) -> tuple[tuple[slice, ...], tuple[slice, ...], np.ndarray, np.ndarray]:
        """For brick ``key``: (its slices, the region's slices, old values, new values) of
        the voxels it shares with the modified region."""
        brick = self._brick(info, key, keep)
        shape = brick_shape(info, key)
        dst, src = _overlap(region, key, shape)
        part = tuple(b.stop - b.start for b in src)
        old = np.zeros(part, info.dtype) if brick is None else brick[src]
        new = apply_mode(old, modifier[dst], mode, value,
                         None if where is None else where[dst])
        return src, dst, old, new

    def _changed_bricks(self, info: LabelMapInfo, region: Region, keys: list[BrickKey],
                        modifier: np.ndarray, mode: Mode, value: int,
                        where: np.ndarray | None, keep: bool):
        """The new voxels of each brick in ``keys`` (whole bricks), one at a time."""
        for key in keys:
            brick = self._brick(info, key, keep)
            src, _, _, new = self._modified(info, region, key, modifier, mode, value, where,
                                            keep)
            whole = np.zeros(brick_shape(info, key), info.dtype) if brick is None \
                else brick.copy()
            whole[src] = new
            yield key, whole

    def _checked(self, info: LabelMapInfo, start: tuple[int, int, int],
                 shape: tuple[int, ...]) -> Region:
        region = Region(tuple(int(v) for v in start), tuple(shape))  # type: ignore[arg-type]
        if len(region.shape) != 3 or not region.inside(info.shape):
            raise RefusedEdit(f"The box {list(start)}+{list(shape)} lies outside label map "
                              f"{info.name!r} ({'x'.join(map(str, info.shape))} voxels).")
        return region

    def _read(self, info: LabelMapInfo, region: Region, keep: bool = True,
              compact: bool = False) -> np.ndarray:
        """A new array with the voxels of ``region`` (inside the label map). ``compact``: when
        every brick there is all background, a read-only zero-stride array of zeros (costs
        nothing; the undo copy of an edit on an empty label map)."""
        if compact and all(self._brick(info, key, keep) is None for key in bricks_of(region)):
            return np.broadcast_to(np.zeros((), info.dtype), region.shape)
        out = np.zeros(region.shape, info.dtype)
        for key in bricks_of(region):
            brick = self._brick(info, key, keep)
            if brick is None:
                continue
            dst, src = _overlap(region, key, brick.shape)
            out[dst] = brick[src]
        return out

    def write(self, info: LabelMapInfo, start: tuple[int, int, int], values: np.ndarray
              ) -> tuple[np.ndarray, list[Change]]:
        """Set the box at ``start`` to ``values`` (undo/redo of a modify); returns the old
        values there and the changes."""
        region = self._checked(info, start, values.shape)
        if values.dtype != np.dtype(info.dtype):
            raise RefusedEdit(f"Voxel values for {info.name!r} must be {info.dtype}.")
        keep = self._small(info, region)
        old = self._read(info, region, keep, compact=True)
        self._write_region(info, region, values, keep)
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

    def _write_region(self, info: LabelMapInfo, region: Region, values: np.ndarray,
                      keep: bool = True) -> None:
        """Patch every brick the region touches and store those bricks (compressed, or
        deleted when all background); bricks whose voxels stay the same are left alone.
        Inside the caller's transaction."""
        def patched():
            for key in bricks_of(region):
                brick = self._brick(info, key, keep)
                shape = brick_shape(info, key)
                dst, src = _overlap(region, key, shape)
                if brick is None:
                    if not values[dst].any():
                        continue
                    brick = np.zeros(shape, info.dtype)
                elif np.array_equal(brick[src], values[dst]):
                    continue
                else:
                    brick = brick.copy()
                brick[src] = values[dst]
                yield key, brick

        self._store_bricks(info, patched(), keep)

    def _store_bricks(self, info: LabelMapInfo, bricks, keep: bool = True) -> None:
        """Store ``(key, whole brick)`` pairs as they come (compressed, or deleted when all
        background) a batch at a time, and cache them (``keep`` False: forget them instead,
        a large edit): memory stays a few bricks whatever the region's size. Inside the
        caller's transaction (a failed command drops the cache)."""
        out: dict[BrickKey, bytes | None] = {}
        for key, brick in bricks:
            kept = brick if brick.any() else None
            out[key] = None if kept is None else pack_brick(kept)
            if keep or kept is None:
                self.cache.put(info.id, key, kept)
            else:
                self.cache.discard(info.id, key)
            if len(out) >= _BATCH:
                self._store.put_bricks(info.id, out)
                out = {}
        if out:
            self._store.put_bricks(info.id, out)


_BATCH = 64  # bricks per store write: a few MB of compressed voxels at most


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
