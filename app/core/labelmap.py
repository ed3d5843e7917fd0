"""Label maps: a voxel array of segment values sharing a volume's geometry exactly.

In memory a label map is indexed ``[k, j, i]`` (slice, row, column), like its volume.
On disk it is stored one compressed k-slice per row, so a brush stroke rewrites only the slices
it touched (kilobytes), and an all-background slice is simply absent.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from app.core.identity import new_id, utc_now

DTYPES = ("uint8", "uint16")


@dataclass(frozen=True)
class LabelMapInfo:
    """Metadata of one label map: its shape ``(depth k, height j, width i)`` and value type."""

    media_id: str
    depth: int
    height: int
    width: int
    dtype: str = "uint16"
    name: str = "Segmentation"
    created: str = field(default_factory=utc_now)
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"label map type must be one of {DTYPES}, got {self.dtype!r}")
        if min(self.depth, self.height, self.width) <= 0:
            raise ValueError("a label map needs a positive size on every axis")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.depth, self.height, self.width)

    def slice_shape(self) -> tuple[int, int]:
        return (self.height, self.width)


def pack_slice(array: np.ndarray) -> bytes:
    """Compress one k-slice for storage (zlib over the C-order little-endian bytes)."""
    return zlib.compress(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"),
                                                             copy=False).tobytes(), 1)


def unpack_slice(blob: bytes, info: LabelMapInfo) -> np.ndarray:
    """Inverse of :func:`pack_slice`; raises ``ValueError`` if the blob is the wrong size."""
    raw = zlib.decompress(blob)
    dtype = np.dtype(info.dtype).newbyteorder("<")
    expected = info.height * info.width * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"label-map slice holds {len(raw)} bytes, expected {expected}")
    return np.frombuffer(raw, dtype=dtype).astype(info.dtype).reshape(info.slice_shape())


@dataclass(frozen=True)
class Region:
    """A box of voxels: start ``(k, j, i)`` and the array shape it spans."""

    start: tuple[int, int, int]
    shape: tuple[int, int, int]

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return tuple(slice(s, s + n) for s, n in zip(self.start, self.shape))  # type: ignore

    def clipped(self, bounds: tuple[int, int, int]) -> Region:
        lo = tuple(max(0, s) for s in self.start)
        hi = tuple(min(b, s + n) for s, n, b in zip(self.start, self.shape, bounds))
        return Region(lo, tuple(max(0, h - l) for l, h in zip(lo, hi)))  # type: ignore

    @classmethod
    def around(cls, changed: np.ndarray) -> Region | None:
        """Smallest region holding every True voxel of a 3-D bool array, or None."""
        idx = np.nonzero(changed)
        if not idx[0].size:
            return None
        lo = tuple(int(a.min()) for a in idx)
        hi = tuple(int(a.max()) + 1 for a in idx)
        return cls(lo, tuple(h - l for l, h in zip(lo, hi)))  # type: ignore
