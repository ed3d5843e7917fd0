"""COCO run-length encoding in pure numpy, bit-identical with pycocotools (the polygon
rasteriser that shares its toggle arithmetic is :mod:`app.core.polygon_raster`).

Conventions (see ``CONVENTIONS.md``, "Images and frames"):

* A mask is a boolean ``H x W`` array; ``mask[r, c]`` is the pixel in row ``r``, column ``c``.
  Any non-zero value of a non-boolean input counts as foreground.
* An RLE lists run lengths over the mask flattened in **column-major** (Fortran) order, i.e.
  pixel ``(r, c)`` has flat index ``c * H + r``. The **first run counts zeros** (it is ``0`` when
  the first pixel is set) and runs then alternate zeros / ones.
* ``Rle.counts`` is the *compressed* COCO string of pycocotools' ``rleToString``: each run, from
  the fourth on stored as the difference to the run two before, written little-endian in 5-bit
  groups (ASCII 48..111, bit 0x20 = "more groups follow", bit 0x10 of the last group = sign).
  Counts are kept canonical: every run after the first is positive, exactly what
  ``pycocotools.mask.encode`` produces, so equal masks give equal ``Rle`` values.

Everything is vectorised with numpy: no Python loop runs per pixel, per run or per polygon edge
(the only loops go over the few 5-bit digit positions, over cache-sized chunks of a mask when
encoding and over mask rows when decoding, each step a whole-array operation).
"""

from __future__ import annotations

import functools

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Rle",
    "area",
    "bbox",
    "counts_to_string",
    "decode",
    "encode",
    "string_to_counts",
    "union",
]

_I64 = np.int64


# --------------------------------------------------------------------------------------------
# The Rle value


@dataclass(frozen=True, repr=False)
class Rle:
    """A binary mask of ``height x width`` pixels as a canonical COCO compressed RLE."""

    height: int
    width: int
    counts: str

    def __post_init__(self) -> None:
        for name in ("height", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"An RLE {name} must be a non-negative integer, got {value!r}.")
            object.__setattr__(self, name, int(value))
        if not isinstance(self.counts, str):
            raise ValueError("RLE counts must be a COCO compressed counts string.")

    def __repr__(self) -> str:
        shown = self.counts if len(self.counts) <= 24 else self.counts[:21] + "..."
        return f"Rle(height={self.height}, width={self.width}, counts={shown!r})"

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the mask."""
        return (self.height, self.width)

    def to_coco(self) -> dict[str, Any]:
        """The COCO ``segmentation`` object: ``{"size": [h, w], "counts": "<string>"}``."""
        return {"size": [self.height, self.width], "counts": self.counts}

    @classmethod
    def from_coco(cls, obj: Mapping[str, Any]) -> Rle:
        """Read a COCO RLE dict, compressed (``str``/``bytes`` counts) or uncompressed (int list).

        Raises ``ValueError`` when the size is not two non-negative integers, when a count is
        negative or the string is malformed, or when the counts do not add up to ``h * w``.
        Non-canonical counts (zero-length runs in the middle) are normalised.
        """
        if not isinstance(obj, Mapping) or "size" not in obj or "counts" not in obj:
            raise ValueError("A COCO RLE must be an object with 'size' and 'counts'.")
        size = obj["size"]
        if (
            isinstance(size, (str, bytes))
            or not isinstance(size, Sequence | np.ndarray)
            or len(size) != 2
            or not all(_is_int(v) and v >= 0 for v in size)
        ):
            raise ValueError(
                "A COCO RLE 'size' must be two non-negative integers [height, width], "
                f"got {size!r}."
            )
        h, w = int(size[0]), int(size[1])
        raw = obj["counts"]
        if isinstance(raw, (str, bytes, bytearray)):
            counts = string_to_counts(raw)
        else:
            counts = _int_array(raw)
        return cls(h, w, counts_to_string(_counts_from_toggles(_toggles(counts, h, w), h * w)))


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _int_array(raw: object) -> NDArray[np.int64]:
    """Uncompressed COCO counts as a 1-D int64 array, or ``ValueError``."""
    try:
        arr = np.asarray(raw)
    except (TypeError, ValueError) as exc:  # ragged nesting and the like
        raise ValueError("A COCO RLE's 'counts' must be a string or a list of integers.") from exc
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError("A COCO RLE's 'counts' must be a string or a list of integers.")
    return arr.astype(_I64, copy=False)


def _segments(sizes: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """For groups of the given sizes: each item's group and its index inside the group."""
    group = np.repeat(np.arange(sizes.size, dtype=_I64), sizes)
    offset = np.cumsum(sizes) - sizes
    return group, np.arange(group.size, dtype=_I64) - offset[group]


# --------------------------------------------------------------------------------------------
# Counts <-> compressed string


def counts_to_string(counts: NDArray[np.integer] | Sequence[int]) -> str:
    """Compress run lengths into the COCO counts string (pycocotools' ``rleToString``)."""
    c = np.asarray(counts, dtype=_I64).reshape(-1)
    if c.size == 0:
        return ""
    if c.min() < 0:
        raise ValueError("Run lengths cannot be negative.")
    x = c.copy()
    x[3:] -= c[1:-2]  # from the 4th run on, store the difference to the run two before
    mag = x ^ (x >> 63)  # two's complement magnitude: ~x for negative x
    wide = np.flatnonzero(mag >= 16)  # values that need more than one 5-bit group
    chars = x.astype(np.uint8) & 0x1F
    chars += 48
    if wide.size == 0:
        return chars.tobytes().decode("ascii")
    # groups after the first: bit_length(mag) // 5 leaves room for the sign bit in the last
    extra = np.frexp(mag[wide].astype(np.float64))[1].astype(_I64) // 5
    if 4 * wide.size < x.size:  # few wide values: insert their extra groups
        chars[wide] += 0x20  # "more groups follow"
        value, k = _segments(extra)
        g = k + 1
        digits = ((x[wide][value] >> (5 * g)).astype(np.uint8) & 0x1F) + 48
        digits[g < extra[value]] += 0x20
        out = np.insert(chars, np.repeat(wide + 1, extra), digits)
        return out.tobytes().decode("ascii")
    # many wide values: write group g of every value that has one, for g = 0, 1, ...
    ndig = np.ones(x.size, dtype=_I64)
    ndig[wide] += extra
    start = np.cumsum(ndig)
    out = np.empty(int(start[-1]), dtype=np.uint8)
    start -= ndig
    chars[wide] += 0x20
    out[start] = chars
    for g in range(1, int(ndig.max())):
        sel = np.flatnonzero(ndig > g)
        digits = ((x[sel] >> (5 * g)).astype(np.uint8) & 0x1F) + 48
        digits[ndig[sel] > g + 1] += 0x20
        out[start[sel] + g] = digits
    return out.tobytes().decode("ascii")


_SHORT = 64  # counts strings up to this length are decoded in Python (numpy costs ~40 us)


def _short_string_to_counts(raw: bytes) -> list[int]:
    """:func:`string_to_counts` of a short string, as pycocotools' loop does it."""
    out: list[int] = []
    p, n = 0, len(raw)
    while p < n:
        x = k = 0
        more = True
        while more:
            if p >= n:
                raise ValueError("A COCO RLE counts string ends in the middle of a number.")
            c = raw[p] - 48
            if not 0 <= c <= 63:
                raise ValueError(
                    "A COCO RLE counts string may only contain the characters '0' to 'o'.")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    return out


def string_to_counts(s: str | bytes) -> NDArray[np.int64]:
    """Expand a COCO counts string into run lengths (pycocotools' ``rleFrString``).

    Raises ``ValueError`` for characters outside ``'0'..'o'`` or a truncated last value.
    """
    try:
        raw = s.encode("ascii") if isinstance(s, str) else bytes(s)
    except UnicodeEncodeError as exc:
        raise ValueError("A COCO RLE counts string may only contain ASCII characters.") from exc
    if len(raw) <= _SHORT:
        try:
            return np.array(_short_string_to_counts(raw), dtype=_I64)
        except OverflowError:  # a value beyond int64: as the array path computes it
            pass
    d = np.frombuffer(raw, dtype=np.uint8) - np.uint8(48)  # characters below '0' wrap high
    if d.size == 0:
        return np.zeros(0, dtype=_I64)
    if d.max() > 63:
        raise ValueError("A COCO RLE counts string may only contain the characters '0' to 'o'.")
    more = d >= 32  # bit 0x20: another (more significant) 5-bit group follows
    cont = np.flatnonzero(more)
    if cont.size and cont[-1] == d.size - 1:
        raise ValueError("A COCO RLE counts string ends in the middle of a number.")
    # every value's last group is a signed 5-bit number (bit 0x10 is the sign)
    top = d if cont.size == 0 else d[~more]
    x = ((top << 3).view(np.int8) >> 3).astype(_I64)
    if cont.size == 0:
        pass
    elif 4 * cont.size < d.size:  # few multi-group values: fold in their lower groups
        value = cont - np.arange(cont.size)  # the value each continued character belongs to
        first = np.flatnonzero(np.diff(value, prepend=-1))
        ndig = np.diff(first, append=cont.size)  # lower groups per multi-group value
        g = np.arange(cont.size) - np.repeat(first, ndig)
        low = np.add.reduceat((d[cont] & 0x1F).astype(_I64) << (5 * g), first)
        value = value[first]
        x[value] = (x[value] << (5 * ndig)) | low
    else:  # many: gather group g of every value that has one, for g = 0, 1, ...
        last = np.flatnonzero(~more)
        first = np.empty_like(last)
        first[0] = 0
        first[1:] = last[:-1] + 1
        ndig = last - first  # lower groups per value
        x <<= 5 * ndig
        for g in range(int(ndig.max())):
            sel = np.flatnonzero(ndig > g)
            x[sel] |= (d[first[sel] + g] & 0x1F).astype(_I64) << (5 * g)
    # undo the delta coding: run i (i >= 3) was stored minus run i - 2
    np.cumsum(x[2::2], out=x[2::2])
    np.cumsum(x[1::2], out=x[1::2])
    return x


# --------------------------------------------------------------------------------------------
# Internal representation: flip positions
#
# A mask is fully described by the ascending, distinct column-major indices in [0, h*w) where
# its value flips, starting from 0 before the first pixel: the cumulative sums of its runs.

_CHUNK = 1 << 19  # mask bytes compared per step, so that the work stays in the CPU cache


def _parity_reduce(pos: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Ascending distinct positions in ``[0, n)`` that occur an odd number of times in ``pos``."""
    values, times = np.unique(pos, return_counts=True)
    values = values[(times & 1) == 1]
    return values[values < n]


def _toggles(counts: NDArray[np.int64], h: int, w: int) -> NDArray[np.int64]:
    """Flip positions of run lengths of an ``h x w`` mask; ``ValueError`` when they do not fit.

    Zero-length runs after the first are allowed (pycocotools accepts them): they cancel out.
    """
    n = h * w
    if counts.size == 0:
        if n:
            raise ValueError(f"A COCO RLE has no runs, but its size {h}x{w} has {n} pixels.")
        return np.zeros(0, dtype=_I64)
    canonical = counts[0] >= 0 and (counts.size == 1 or counts[1:].min() > 0)
    if not canonical and counts.min() < 0:
        raise ValueError("A COCO RLE has a negative run length in 'counts'.")
    ends = np.cumsum(counts)
    if int(ends[-1]) != n:
        raise ValueError(
            f"A COCO RLE's run lengths add up to {int(ends[-1])} pixels, "
            f"but its size {h}x{w} has {n}."
        )
    return ends[:-1] if canonical else _parity_reduce(ends[:-1], n)


def _counts_from_toggles(toggles: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Canonical run lengths from flip positions."""
    out = np.empty(toggles.size + 1, dtype=_I64)
    out[:-1] = toggles
    out[-1] = n
    out[1:] -= toggles
    return out


def _rle_toggles(rle: Rle) -> NDArray[np.int64]:
    counts = rle.counts
    return _toggles(_counts_of(counts) if isinstance(counts, str) else string_to_counts(counts),
                    rle.height, rle.width)


def _union_toggles(toggle_sets: Sequence[NDArray[np.int64]], n: int) -> NDArray[np.int64]:
    """Flip positions of the union (logical OR) of masks given by their flip positions."""
    starts_l, ends_l = [], []
    for t in toggle_sets:
        if t.size % 2:
            t = np.append(t, n)  # the last run of ones reaches the end
        starts_l.append(t[0::2])
        ends_l.append(t[1::2])
    return _merge_intervals(np.concatenate(starts_l), np.concatenate(ends_l), n)


def _merge_intervals(
    starts: NDArray[np.int64], ends: NDArray[np.int64], n: int
) -> NDArray[np.int64]:
    """Flip positions of the union of half-open intervals ``[starts[i], ends[i])`` in [0, n]."""
    keep = starts < ends
    if not keep.all():
        starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return starts
    # events 2*position (+1 for an end): at one position every start comes before every end,
    # so touching intervals join; the union flips where the number of open intervals leaves 0
    # (at a start) or returns to it (at an end)
    events = np.empty(2 * starts.size, dtype=_I64)
    np.left_shift(starts, 1, out=events[: starts.size])
    np.left_shift(ends, 1, out=events[starts.size :])
    events[starts.size :] += 1
    events.sort()
    step = events & 1
    is_start = step == 0
    step *= -2
    step += 1
    depth = np.cumsum(step)
    flips = events[(depth == 0) | ((depth == 1) & is_start)] >> 1
    return flips[:-1] if flips[-1] >= n else flips


def _differences(
    a: NDArray[np.bool_], b: NDArray[np.bool_], limit: int | None = None
) -> NDArray[np.int64] | None:
    """Ascending indices where 1-D ``a`` and ``b`` differ; ``None`` once more than ``limit``."""
    n = a.size
    if n <= _CHUNK:
        idx = np.flatnonzero(a != b)
        return None if limit is not None and idx.size > limit else idx
    buf = np.empty(_CHUNK, dtype=bool)
    parts: list[NDArray[np.int64]] = []
    found = 0
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        idx = np.flatnonzero(np.not_equal(a[lo:hi], b[lo:hi], out=buf[: hi - lo]))
        if idx.size:
            idx += lo
            parts.append(idx)
            found += idx.size
            if limit is not None and found > limit:
                return None
    return np.concatenate(parts) if parts else np.zeros(0, dtype=_I64)


def _toggles_from_mask(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Column-major flip positions of a 2-D boolean mask, in whatever memory order it has."""
    h, w = mask.shape
    if not mask.flags.f_contiguous:
        m = np.ascontiguousarray(mask)
        flat = m.reshape(-1)
        # flips inside a column: pixel (r, c) differs from (r - 1, c); found row by row
        idx = _differences(flat[w:], flat[:-w], limit=flat.size // 8)
        if idx is not None:
            above, col = np.divmod(idx, w)
            pos = col * h + above + 1
            # flips at a column's top: pixel (0, c) differs from the one before, (h - 1, c - 1)
            before = np.empty(w, dtype=bool)
            before[0] = False
            before[1:] = m[-1, :-1]
            top = np.flatnonzero(m[0] != before) * h
            pos = np.concatenate((pos, top))
            pos.sort()
            return pos
        # very many flips: sorting them costs more than copying the mask to column order
        mask = np.asfortranarray(m)
    seq = mask.T.reshape(-1)  # a view: Fortran memory is the column-major sequence
    pos = _differences(seq[1:], seq[:-1])
    assert pos is not None
    pos += 1
    return np.concatenate(([0], pos)) if seq[0] else pos


def _mask_from_toggles(toggles: NDArray[np.int64], h: int, w: int) -> NDArray[np.bool_]:
    """C-contiguous ``h x w`` mask from flip positions."""
    out = np.zeros((h, w), dtype=np.uint8)
    if toggles.size == 0:
        return out.view(bool)
    col, row = np.divmod(toggles, h)
    out[row, col] = 1
    # every column starts with the parity of the flips in all earlier columns
    before = np.searchsorted(col, np.arange(w, dtype=_I64), side="left")
    start = (before & 1).astype(np.uint8)
    c_lo, c_hi = int(col[0]), int(col[-1])
    if toggles.size % 2:
        c_hi = w - 1  # the last run of ones reaches the end of the image
    if start.any():
        out[0] ^= start
        r_lo = 0
    else:
        r_lo = int(row.min())
    r_hi = int(row.max())
    block = out[:, c_lo : c_hi + 1]
    if r_hi > r_lo:
        if block.shape[1] < 64:  # narrow: one C-level accumulate beats a loop over rows
            seg = block[r_lo : r_hi + 1]
            np.bitwise_xor.accumulate(seg, axis=0, out=seg)
        else:  # prefix XOR down the columns, one vectorised row at a time
            xor = np.bitwise_xor
            prev = block[r_lo]
            for r in range(r_lo + 1, r_hi + 1):
                cur = block[r]
                xor(prev, cur, out=cur)
                prev = cur
    if r_hi + 1 < h:
        block[r_hi + 1 :] = block[r_hi]
    return out.view(bool)


# --------------------------------------------------------------------------------------------
# Public mask operations


def encode(mask: NDArray[Any]) -> Rle:
    """Run-length encode a 2-D mask (bool, or any dtype where non-zero is foreground)."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"A mask must be a 2-D array, got shape {m.shape}.")
    if m.dtype != np.bool_:
        m = m != 0
    h, w = m.shape
    n = h * w
    if n == 0:
        return Rle(h, w, "0")
    return Rle(h, w, counts_to_string(_counts_from_toggles(_toggles_from_mask(m), n)))


def decode(rle: Rle) -> NDArray[np.bool_]:
    """The ``height x width`` boolean mask of an RLE, C-contiguous.

    Raises ``ValueError`` when the counts do not cover the mask exactly.
    """
    toggles = _rle_toggles(rle)
    if rle.height * rle.width == 0:
        return np.zeros((rle.height, rle.width), dtype=bool)
    return _mask_from_toggles(toggles, rle.height, rle.width)


@functools.lru_cache(maxsize=64)
def _counts_of(counts: str) -> NDArray[np.int64]:
    """Decoded run lengths of a counts string, kept for the few masks in use (area and box of
    one mask read them twice); read-only."""
    out = string_to_counts(counts)
    out.flags.writeable = False
    return out


def area(rle: Rle) -> int:
    """Number of foreground pixels."""
    return int(_counts_of(rle.counts)[1::2].sum())


def bbox(rle: Rle) -> tuple[float, float, float, float]:
    """Tight box ``(x, y, w, h)`` around the foreground, as ``pycocotools.mask.toBbox``.

    An RLE without foreground gives ``(0, 0, 0, 0)``. As in pycocotools, a run of ones that
    continues from one column into the next makes the box span the full image height.
    """
    h = rle.height
    toggles = _rle_toggles(rle)
    if toggles.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    if toggles.size % 2:
        toggles = np.append(toggles, rle.height * rle.width)
    x_start, y_start = np.divmod(toggles[0::2], h)
    x_end, y_end = np.divmod(toggles[1::2] - 1, h)
    xs, xe = int(x_start.min()), int(x_end.max())
    if bool((x_start < x_end).any()):
        ys, ye = 0, h - 1
    else:
        ys, ye = int(y_start.min()), int(y_end.max())
    return (float(xs), float(ys), float(xe - xs + 1), float(ye - ys + 1))


def union(rles: Sequence[Rle]) -> Rle:
    """Logical OR of RLEs of one size (``pycocotools.mask.merge`` with ``intersect=False``)."""
    rles = list(rles)
    if not rles:
        raise ValueError("The union of no masks is undefined: give at least one RLE.")
    h, w = rles[0].height, rles[0].width
    if any((r.height, r.width) != (h, w) for r in rles):
        raise ValueError("Only masks of the same size can be combined.")
    n = h * w
    sets = [_rle_toggles(r) for r in rles]
    toggles = sets[0] if len(sets) == 1 else _union_toggles(sets, n)
    return Rle(h, w, counts_to_string(_counts_from_toggles(toggles, n)))
