"""Label maps: a voxel array of segment values sharing its volume's geometry exactly.

A label map is indexed ``[k, j, i]`` (slice, row, column) like its volume; its shape equals the
volume's shape, and it shares the volume's spacing, origin and direction (it has no geometry of
its own). Value 0 is background; every other value is a :class:`Segment` of that label map
(name, colour, value), linked to a class of the project's label schema.

On disk a label map is cut into **bricks** of ``BRICK``\\ :sup:`3` voxels (the last brick along an
axis is smaller), each zlib-compressed in its own row; all-background bricks are absent. So a
stroke in any pane rewrites only the few bricks it touches, whatever the orientation. In memory
the document keeps decompressed bricks in a :class:`BrickCache` bounded in bytes.

Edits go through one entry point, :meth:`app.core.document.Document.modify_labelmap` (the
:class:`~app.core.commands.ModifyLabelMap` command): a region, a modifier array, a mode
(:class:`Mode`) and an optional "paint only where" mask.
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from app.core.identity import new_id, utc_now

DTYPES = ("uint8", "uint16")
BRICK = 32  # voxels per brick edge: an axial, coronal or sagittal plane costs the same
DEFAULT_CACHE_BYTES = 256 << 20
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

BrickKey = tuple[int, int, int]  # brick indices (bk, bj, bi)


class Mode(str, Enum):
    """How a modifier changes a segment (3D Slicer's set / add / remove).

    ``ADD``: voxels where the modifier is set become the segment. ``SET``: inside the region the
    segment becomes exactly the modifier (its other voxels there turn to background). ``ERASE``:
    voxels where the modifier is set and that hold the segment (any segment when the value is
    0) become background."""

    SET = "set"
    ADD = "add"
    ERASE = "erase"


@dataclass(frozen=True)
class Segment:
    """A label-map value (1..65535; 0 is background) with its name, colour and the class of
    the project's label schema it stands for (None: not linked yet). ``codes``: what it is in
    DICOM terms, (segmented property category, segmented property type), each a coded concept
    (code value, coding scheme designator, code meaning), e.g. ("85756007", "SCT", "Tissue");
    None: not coded (a DICOM-SEG export then says Tissue)."""

    value: int
    name: str
    color: str = "#3cb44b"
    class_id: str | None = None
    id: str = field(default_factory=new_id)
    codes: tuple[Code, Code] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not 1 <= int(self.value) <= 65535:
            raise ValueError(f"segment {self.name!r} value must be 1..65535, got {self.value}")
        object.__setattr__(self, "value", int(self.value))
        if not _COLOR.match(self.color):
            raise ValueError(f"segment {self.name!r} colour must look like #rrggbb")
        if self.codes is not None:
            object.__setattr__(self, "codes", coded(self.codes))

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "value": self.value, "name": self.name, "color": self.color,
               "class_id": self.class_id}
        if self.codes is not None:  # absent for an uncoded segment: old files unchanged
            out["codes"] = {"category": list(self.codes[0]), "type": list(self.codes[1])}
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Segment:
        raw = obj.get("codes")
        codes = (raw.get("category"), raw.get("type")) if isinstance(raw, dict) else None
        try:
            codes = coded(codes) if codes is not None else None
        except ValueError:
            codes = None  # a damaged coding is dropped, the segment kept
        return cls(int(obj["value"]), str(obj["name"]), str(obj.get("color", "#3cb44b")),
                   obj.get("class_id"), str(obj.get("id") or new_id()), codes)


Code = tuple[str, str, str]  # (code value, coding scheme designator, code meaning)


def coded(codes: Any) -> tuple[Code, Code]:
    """``codes`` as (category, type) of three non-empty strings each (ValueError if not)."""
    try:
        cat, typ = codes
        out = tuple(tuple(str(v).strip() for v in c) for c in (cat, typ))
    except (TypeError, ValueError):
        raise ValueError("segment codes are (category, type), each (value, scheme, "
                         "meaning)") from None
    if any(len(c) != 3 or not all(c) for c in out):
        raise ValueError("segment codes are (category, type), each (value, scheme, meaning)")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class LabelMapInfo:
    """One label map of a volume: its shape ``(depth k, height j, width i)`` (equal to the
    volume's), value type and segments."""

    media_id: str
    depth: int
    height: int
    width: int
    dtype: str = "uint16"
    name: str = "Segmentation"
    segments: tuple[Segment, ...] = ()
    created: str = field(default_factory=utc_now)
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"label map type must be one of {DTYPES}, got {self.dtype!r}")
        if min(self.depth, self.height, self.width) <= 0:
            raise ValueError("a label map needs a positive size on every axis")
        values = [s.value for s in self.segments]
        if len(values) != len(set(values)):
            raise ValueError(f"two segments of label map {self.name!r} share a value")
        top = np.iinfo(self.dtype).max
        if any(v > top for v in values):
            raise ValueError(f"a segment value does not fit a {self.dtype} label map")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.depth, self.height, self.width)

    def segment(self, value: int) -> Segment | None:
        return next((s for s in self.segments if s.value == value), None)

    def with_segment(self, seg: Segment) -> LabelMapInfo:
        """Add ``seg``, or replace the segment with the same id."""
        from dataclasses import replace

        kept = tuple(s for s in self.segments if s.id != seg.id)
        return replace(self, segments=kept + (seg,))

    def next_value(self) -> int:
        return max((s.value for s in self.segments), default=0) + 1

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "media_id": self.media_id, "name": self.name,
                "shape": list(self.shape), "dtype": self.dtype,
                "segments": [s.to_json() for s in self.segments], "created": self.created}


@dataclass(frozen=True)
class Region:
    """A box of voxels: start ``(k, j, i)`` and the array shape it spans."""

    start: tuple[int, int, int]
    shape: tuple[int, int, int]

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return tuple(slice(s, s + n) for s, n in zip(self.start, self.shape))  # type: ignore

    @property
    def stop(self) -> tuple[int, int, int]:
        return tuple(s + n for s, n in zip(self.start, self.shape))  # type: ignore

    def inside(self, bounds: tuple[int, int, int]) -> bool:
        return all(s >= 0 and s + n <= b for s, n, b in zip(self.start, self.shape, bounds))

    def clipped(self, bounds: tuple[int, int, int]) -> Region:
        lo = tuple(max(0, s) for s in self.start)
        hi = tuple(min(b, s + n) for s, n, b in zip(self.start, self.shape, bounds))
        return Region(lo, tuple(max(0, h - l) for l, h in zip(lo, hi)))  # type: ignore

    @classmethod
    def around(cls, changed: np.ndarray, value: int | None = None) -> Region | None:
        """Smallest region holding every True (non-zero) voxel of a 3-D array, or None;
        with ``value``: every voxel equal to it (a segment of a label array).

        Found by reducing along axes (``np.any``) a slab at a time, never by listing the
        voxels: the extra memory is one plane (j x i bools) and one slab's mask, however many
        voxels are set."""
        if changed.ndim != 3:
            raise ValueError("Region.around needs a 3-D array (k, j, i)")
        if changed.size == 0:
            return None
        plane = np.zeros(changed.shape[1:], bool)  # any along k, one k-slab at a time
        ks = np.empty(changed.shape[0], bool)
        step = max(1, (1 << 20) // max(1, plane.size))  # ~1M voxels (1 MB of bools) a slab
        for k0 in range(0, changed.shape[0], step):
            slab = changed[k0:k0 + step]
            if value is not None:
                slab = slab == value
            ks[k0:k0 + step] = np.any(slab, axis=(1, 2))
            plane |= np.any(slab, axis=0)
        kk = np.flatnonzero(ks)
        if not kk.size:
            return None
        jj = np.flatnonzero(plane.any(axis=1))
        ii = np.flatnonzero(plane.any(axis=0))
        lo = (int(kk[0]), int(jj[0]), int(ii[0]))
        hi = (int(kk[-1]) + 1, int(jj[-1]) + 1, int(ii[-1]) + 1)
        return cls(lo, tuple(h - l for l, h in zip(lo, hi)))  # type: ignore


# ------------------------------------------------------------------ bricks
def brick_shape(info: LabelMapInfo, key: BrickKey) -> tuple[int, int, int]:
    """Voxels of brick ``key`` (edge bricks are cut at the volume's border)."""
    return tuple(min(BRICK, n - b * BRICK) for n, b in zip(info.shape, key))  # type: ignore


def bricks_of(region: Region) -> Iterator[BrickKey]:
    """Keys of the bricks a region touches, in (bk, bj, bi) order."""
    lo = [s // BRICK for s in region.start]
    hi = [(s + n - 1) // BRICK for s, n in zip(region.start, region.shape)]
    if any(n <= 0 for n in region.shape):
        return
    for bk in range(lo[0], hi[0] + 1):
        for bj in range(lo[1], hi[1] + 1):
            for bi in range(lo[2], hi[2] + 1):
                yield (bk, bj, bi)


def brick_count(info: LabelMapInfo) -> tuple[int, int, int]:
    return tuple(-(-n // BRICK) for n in info.shape)  # type: ignore


def pack_brick(array: np.ndarray) -> bytes:
    """Compress one brick for storage (zlib level 1 over C-order little-endian bytes)."""
    le = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return zlib.compress(le.tobytes(), 1)


def unpack_brick(blob: bytes, info: LabelMapInfo, key: BrickKey) -> np.ndarray:
    """Inverse of :func:`pack_brick`; ``ValueError`` if the blob is damaged or the wrong size."""
    try:
        raw = zlib.decompress(blob)
    except zlib.error as exc:
        raise ValueError(f"brick {key} is damaged ({exc})") from exc
    shape = brick_shape(info, key)
    dtype = np.dtype(info.dtype).newbyteorder("<")
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"brick {key} holds {len(raw)} bytes, expected {expected}")
    return np.frombuffer(raw, dtype=dtype).astype(info.dtype).reshape(shape)


class BrickCache:
    """Decompressed bricks, least recently used dropped first once ``max_bytes`` is passed.
    An all-background brick is remembered as ``None`` (costs nothing)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[tuple[str, BrickKey], np.ndarray | None] = OrderedDict()
        self.bytes = 0
        self.peak_bytes = 0

    def get(self, labelmap_id: str, key: BrickKey) -> tuple[bool, np.ndarray | None]:
        """``(found, brick)``; ``brick`` is None for a known all-background brick."""
        k = (labelmap_id, key)
        if k not in self._items:
            return False, None
        self._items.move_to_end(k)
        return True, self._items[k]

    def put(self, labelmap_id: str, key: BrickKey, brick: np.ndarray | None) -> None:
        k = (labelmap_id, key)
        old = self._items.pop(k, None)
        if old is not None:
            self.bytes -= old.nbytes
        if brick is not None:
            brick.flags.writeable = False
            self.bytes += brick.nbytes
        self._items[k] = brick
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            if dropped is not None:
                self.bytes -= dropped.nbytes
        self.peak_bytes = max(self.peak_bytes, self.bytes)

    def discard(self, labelmap_id: str, key: BrickKey) -> None:
        """Forget one brick (it was rewritten and is not worth keeping)."""
        old = self._items.pop((labelmap_id, key), None)
        if old is not None:
            self.bytes -= old.nbytes

    def drop(self, labelmap_id: str | None = None) -> None:
        """Forget one label map's bricks (or all)."""
        if labelmap_id is None:
            self._items.clear()
            self.bytes = 0
            return
        for k in [k for k in self._items if k[0] == labelmap_id]:
            brick = self._items.pop(k)
            if brick is not None:
                self.bytes -= brick.nbytes


def apply_mode(old: np.ndarray, modifier: np.ndarray, mode: Mode, value: int,
               where: np.ndarray | None) -> np.ndarray:
    """New voxel values of a region: ``old`` changed by a boolean ``modifier`` (see
    :class:`Mode`), restricted to ``where`` when given. Pure; returns a new array. Elementwise,
    so applying it brick by brick gives the same voxels as applying it to the whole region;
    its temporaries are bool arrays of the region's shape (no wider copies)."""
    mod = modifier.astype(bool, copy=False)
    only = None if where is None else where.astype(bool, copy=False)
    new = old.copy()
    if mode is Mode.SET:
        clear = old == value  # the segment's voxels outside the modifier turn to background
        paint = mod
        if only is not None:
            clear &= only
            paint = mod & only
        new[clear] = 0
        new[paint] = value
        return new
    if mode is Mode.ADD:
        hit = mod if only is None else mod & only
        new[hit] = value
        return new
    hit = (old == value) if value else (old != 0)
    hit &= mod
    if only is not None:
        hit &= only
    new[hit] = 0
    return new
