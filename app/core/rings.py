"""Compact, immutable point sequences for shapes: :class:`Ring` (``(x, y)`` pairs) and
:class:`Triples` (``(x, y, v)`` keypoints).

A polygon of a COCO file held as Python tuples of floats costs ~110 bytes a point (8x its JSON
text); packed here as little-endian float64 it costs 16 (17 with a visibility byte). They behave
as tuples of tuples do where shapes were used before: ``len``, indexing (a point is a tuple),
iteration, slicing (a tuple), ``==`` with a tuple or list of points, ``hash`` consistent with
that ``==``, ``+`` (a tuple), and ``numpy.asarray(ring)`` gives an ``(n, 2)`` float64 array
without a Python loop. Coordinates are stored exactly (no rounding); ``-0.0`` is stored as 0.0.
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

_PAIR = struct.Struct("<2d")
_TRIPLE = struct.Struct("<2dB")
_TRIPLE_DTYPE = np.dtype([("x", "<f8"), ("y", "<f8"), ("v", "u1")])


class _Packed(Sequence):
    """Shared behaviour: points packed in one ``bytes`` object with a fixed record size."""

    __slots__ = ("_b",)
    _struct: struct.Struct = _PAIR

    def __len__(self) -> int:
        return len(self._b) // self._struct.size

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return tuple(self)[i]
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("point index out of range")
        return self._struct.unpack_from(self._b, i * self._struct.size)

    def __iter__(self) -> Iterator[tuple]:
        return self._struct.iter_unpack(self._b)

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            return self._b == other._b  # type: ignore[attr-defined]
        if isinstance(other, (tuple, list, _Packed)):
            return len(other) == len(self) and all(
                tuple(p) == tuple(q) for p, q in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __add__(self, other: Any) -> tuple:
        return tuple(self) + tuple(other)

    def __radd__(self, other: Any) -> tuple:
        return tuple(other) + tuple(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({tuple(self)!r})"

    def __reduce__(self) -> tuple:
        return (_from_bytes, (type(self), self._b))

    @property
    def nbytes(self) -> int:
        return len(self._b)


def _small_pairs(points: Any) -> bytes | None:
    """Packed float64 of a short list of ``[x, y]`` number pairs (``-0.0`` as 0.0), or None
    for anything else (left to numpy). Saves numpy's fixed cost on the store's polygons."""
    if type(points) not in (list, tuple) or len(points) > 256:
        return None
    for p in points:
        if type(p) not in (list, tuple) or len(p) != 2:
            return None
    try:
        return array("d", [v + 0.0 for p in points for v in p]).tobytes()
    except (TypeError, ValueError, OverflowError):
        return None


def _from_bytes(cls: type, data: bytes) -> Any:
    obj = object.__new__(cls)
    object.__setattr__(obj, "_b", bytes(data))
    return obj


class Ring(_Packed):
    """Points ``(x, y)`` in continuous pixel coordinates (see :mod:`app.core.shapes`)."""

    __slots__ = ()
    _struct = _PAIR

    def __new__(cls, points: Any = ()) -> Ring:
        if isinstance(points, Ring):
            return points
        if isinstance(points, Triples):
            a = points.xy
        elif (small := _small_pairs(points)) is not None:
            return _from_bytes(cls, small)
        else:
            try:
                a = np.asarray(points, dtype=np.float64)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"points must be (x, y) number pairs ({exc})") from None
            if a.size == 0:
                a = a.reshape(0, 2)
            if a.ndim != 2 or a.shape[1] < 2:
                raise ValueError("points must be (x, y) number pairs")
            a = a[:, :2]
        return _from_bytes(cls, np.ascontiguousarray(a + 0.0).tobytes())

    @classmethod
    def from_flat(cls, coords: Any) -> Ring:
        """From COCO's flat ``[x0, y0, x1, y1, ...]`` (an even count of numbers)."""
        a = np.asarray(coords, dtype=np.float64)
        if a.ndim != 1 or a.size % 2:
            raise ValueError("a flat point list needs an even count of numbers")
        return _from_bytes(cls, (a + 0.0).tobytes())

    @property
    def array(self) -> np.ndarray:
        """Read-only ``(n, 2)`` float64 view."""
        return np.frombuffer(self._b, np.float64).reshape(-1, 2)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.array
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def coords(self) -> memoryview:
        """The flat ``x0, y0, x1, y1, ...`` as a read-only float64 memoryview (no copy)."""
        return memoryview(self._b).cast("d")

    def flat(self) -> list[float]:
        """COCO's flat ``[x0, y0, x1, y1, ...]``."""
        return np.frombuffer(self._b, np.float64).tolist()

    def tolist(self) -> list[list[float]]:
        return self.array.tolist()

    def finite(self) -> bool:
        if len(self._b) <= 16 * 256:
            return all(map(math.isfinite, self.coords()))
        return bool(np.isfinite(self.array).all())


class Triples(_Packed):
    """Keypoints ``(x, y, v)``: float coordinates and an integer visibility 0..255."""

    __slots__ = ()
    _struct = _TRIPLE

    def __new__(cls, points: Any = ()) -> Triples:
        if isinstance(points, Triples):
            return points
        rows = list(points)
        a = np.zeros(len(rows), _TRIPLE_DTYPE)
        try:
            for n, p in enumerate(rows):
                a[n] = (float(p[0]), float(p[1]), int(p[2]))
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            raise ValueError(f"keypoints must be (x, y, v) triples ({exc})") from None
        a["x"] += 0.0
        a["y"] += 0.0
        return _from_bytes(cls, a.tobytes())

    @classmethod
    def from_flat(cls, coords: Any, offset: float = 0.0) -> Triples:
        """From COCO's flat ``[x0, y0, v0, x1, ...]``; ``offset`` is added to x and y of points
        with v > 0 (COCO's integer indices to continuous coordinates: 0.5)."""
        f = np.asarray(coords, dtype=np.float64)
        if f.ndim != 1 or f.size % 3:
            raise ValueError("a flat keypoint list needs x, y, v triples")
        f = f.reshape(-1, 3)
        v = f[:, 2]
        if not np.all((v == 0) | (v == 1) | (v == 2)):
            raise ValueError("keypoint visibility must be 0, 1 or 2")
        a = np.zeros(len(f), _TRIPLE_DTYPE)
        shift = np.where(v > 0, offset, 0.0)
        a["x"] = f[:, 0] + shift + 0.0
        a["y"] = f[:, 1] + shift + 0.0
        a["v"] = v.astype(np.uint8)
        return _from_bytes(cls, a.tobytes())

    @property
    def table(self) -> np.ndarray:
        """Read-only structured view with fields ``x``, ``y`` (float64) and ``v`` (uint8)."""
        return np.frombuffer(self._b, _TRIPLE_DTYPE)

    @property
    def xy(self) -> np.ndarray:
        t = self.table
        return np.stack([t["x"], t["y"]], axis=1) if len(t) else np.zeros((0, 2))

    def tolist(self) -> list[list[Any]]:
        return [[x, y, v] for x, y, v in self]

    def finite(self) -> bool:
        t = self.table
        return bool(np.isfinite(t["x"]).all() and np.isfinite(t["y"]).all())


def as_rings(rings: Sequence[Any]) -> tuple[Ring, ...]:
    return tuple(Ring(r) for r in rings)
