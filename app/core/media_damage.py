"""Damaged media, found without decoding them: a NIfTI header's promises checked against the
file (cut short, impossible dimensions), and the damage notes a volume item keeps from the
day it was added (a DICOM slice cut short), for ``vellum validate`` and the window.

Standard library only (``struct``, ``gzip``): the reader checks a NIfTI file here before
nibabel opens it, and :mod:`app.core.validate` checks it again later.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where a media item keeps what was found damaged when it was added.
FOREIGN_KEY = "vellum"
DAMAGED = "damaged"

# NIfTI datatype code -> bytes per voxel (nifti1.h / nifti2.h)
_VOXEL_BYTES = {1: 0.125, 2: 1, 4: 2, 8: 4, 16: 4, 32: 8, 64: 8, 128: 3, 256: 1, 512: 2,
                768: 4, 1024: 8, 1280: 8, 1536: 16, 1792: 16, 2048: 32, 2304: 4}
_GZIP_CHUNK = 1 << 16


@dataclass(frozen=True)
class NiftiHeader:
    """The fields of a NIfTI-1/2 header that say where the voxels are and how many."""

    version: int
    dims: tuple[int, ...]  # dim[1..dim[0]]
    datatype: int
    vox_offset: int
    pixdim: tuple[float, ...]  # pixdim[0..7]
    qform_code: int
    sform_code: int

    @property
    def data_bytes(self) -> int:
        """Bytes of voxel data the header promises."""
        return math.ceil(math.prod(self.dims) * _VOXEL_BYTES[self.datatype])

    @property
    def end(self) -> int:
        """Offset (in the uncompressed file) where the voxel data ends."""
        return self.vox_offset + self.data_bytes


class BadNiftiHeader(ValueError):
    """A header that cannot describe a volume; ``str()`` is a phrase ("its header says ...")."""


def is_nifti_name(path: str | Path) -> bool:
    return str(path).lower().endswith((".nii", ".nii.gz"))


def _gzipped(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def parse_header(raw: bytes) -> NiftiHeader:
    """The header at the start of ``raw`` (the first 540 uncompressed bytes of a file, or
    fewer); :class:`BadNiftiHeader` when it is cut short or impossible."""
    if len(raw) < 4:
        raise BadNiftiHeader("it ends before its header")
    for order in "<>":
        size = struct.unpack(order + "i", raw[:4])[0]
        if size in (348, 540):
            break
    else:
        raise BadNiftiHeader("its header does not start with a NIfTI header size (348 or 540)")
    if len(raw) < size:
        raise BadNiftiHeader(f"it ends inside its {size}-byte header")
    if size == 348:
        dim = struct.unpack_from(order + "8h", raw, 40)
        datatype = struct.unpack_from(order + "h", raw, 70)[0]
        pixdim = struct.unpack_from(order + "8f", raw, 76)
        offset = struct.unpack_from(order + "f", raw, 108)[0]
        qcode, scode = struct.unpack_from(order + "2h", raw, 252)
        quatern = struct.unpack_from(order + "3f", raw, 256)
        version, floor = 1, 352
    else:
        datatype = struct.unpack_from(order + "h", raw, 12)[0]
        dim = struct.unpack_from(order + "8q", raw, 16)
        pixdim = struct.unpack_from(order + "8d", raw, 104)
        offset = struct.unpack_from(order + "q", raw, 168)[0]
        qcode, scode = struct.unpack_from(order + "2i", raw, 344)
        quatern = struct.unpack_from(order + "3d", raw, 352)
        version, floor = 2, 544
    if not 1 <= dim[0] <= 7:
        raise BadNiftiHeader(f"its header says it has {dim[0]} dimensions (dim[0] must be "
                             "1 to 7)")
    dims = tuple(int(d) for d in dim[1:dim[0] + 1])
    bad = next((n for n, d in enumerate(dims, 1) if d < 1), None)
    if bad is not None:
        raise BadNiftiHeader(f"its header gives dimension {bad} a size of {dims[bad - 1]} "
                             "(sizes must be 1 or more)")
    if datatype not in _VOXEL_BYTES:
        raise BadNiftiHeader(f"its header names voxel type {datatype}, which NIfTI does not "
                             "define")
    if not math.isfinite(offset) or offset < 0:
        raise BadNiftiHeader(f"its header puts the voxels at byte {offset}")
    space = [p for n, p in enumerate(pixdim[1:4], 1) if n <= len(dims)]
    if scode <= 0 and not all(math.isfinite(p) for p in space):
        raise BadNiftiHeader("its header gives a voxel size that is not a number (pixdim)")
    if scode <= 0 < qcode and not quaternion_ok(quatern, version):
        raise BadNiftiHeader("its header's orientation (qform quaternion quatern_b/c/d) is "
                             "not a rotation")
    return NiftiHeader(version, dims, int(datatype), max(int(offset), floor),
                       tuple(float(p) for p in pixdim), int(qcode), int(scode))


def quaternion_ok(bcd: tuple[float, float, float], version: int = 1) -> bool:
    """Whether a NIfTI qform's ``(quatern_b, quatern_c, quatern_d)`` can be completed to a
    unit quaternion (b^2+c^2+d^2 <= 1, within nibabel's tolerance for the stored precision);
    NaN passes here and is refused later as an affine that is not a number."""
    eps = 3 * (1.1920929e-07 if version == 1 else 2.220446049250313e-16)
    try:
        w2 = 1.0 - sum(float(v) * float(v) for v in bcd)
    except OverflowError:
        return False
    return not w2 < 0 or abs(w2) < eps


def read_header(path: str | Path) -> NiftiHeader:
    """The header of NIfTI file ``path`` (``.nii`` or ``.nii.gz``). Raises
    :class:`BadNiftiHeader` (cut short, impossible) or :class:`OSError`."""
    p = Path(path)
    if _gzipped(p):
        try:
            with gzip.open(p, "rb") as f:
                raw = f.read(540)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise BadNiftiHeader(f"its compressed data is damaged or cut short before the end "
                                 f"of its header ({exc})") from None
    else:
        with open(p, "rb") as f:
            raw = f.read(540)
    return parse_header(raw)


def _gzip_length(path: Path) -> int:
    """Uncompressed length of a whole gzip file; :class:`BadNiftiHeader` when its stream
    is cut short or damaged (read in chunks: memory stays small)."""
    total = 0
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(_GZIP_CHUNK):
                total += len(chunk)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BadNiftiHeader(f"its compressed data stops after about {total} bytes "
                             f"({str(exc).rstrip('.')})") from None
    return total


def nifti_damage(path: str | Path) -> str | None:
    """What is wrong with NIfTI file ``path``, as a phrase that follows its name ("is cut
    short: ..."), or None when it holds every voxel its header promises. A ``.nii`` is
    checked by its size; a ``.nii.gz`` by the length its gzip trailer records, decompressed
    in full only when that disagrees."""
    p = Path(path)
    try:
        header = read_header(p)
    except BadNiftiHeader as exc:
        return f"is not a usable NIfTI file: {exc}"
    size = p.stat().st_size
    if not _gzipped(p):
        if size < header.end:
            return (f"is cut short: its header promises {header.data_bytes} bytes of voxels "
                    f"from byte {header.vox_offset}, but the file holds {size} bytes")
        return None
    with open(p, "rb") as f:
        f.seek(max(0, size - 4))
        trailer = f.read(4)
    if len(trailer) == 4 and int.from_bytes(trailer, "little") == header.end % 2**32:
        return None
    try:
        total = _gzip_length(p)
    except BadNiftiHeader as exc:
        return (f"is cut short: its header promises {header.data_bytes} bytes of voxels from "
                f"byte {header.vox_offset}, but {exc}")
    if total < header.end:
        return (f"is cut short: its header promises {header.data_bytes} bytes of voxels from "
                f"byte {header.vox_offset}, but it uncompresses to {total} bytes")
    return None


# ---------------------------------------------------------------------- damage notes
def damage_notes(foreign: Mapping[str, Any]) -> list[str]:
    """The damage sentences a media item's ``foreign`` fields keep (empty when none)."""
    own = foreign.get(FOREIGN_KEY)
    notes = own.get(DAMAGED) if isinstance(own, Mapping) else None
    return [str(n) for n in notes] if isinstance(notes, list) else []


def with_damage(foreign: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """``foreign`` with the damage sentences ``notes`` recorded (unchanged when none)."""
    out = dict(foreign)
    if notes:
        own = dict(out.get(FOREIGN_KEY) or {})
        own[DAMAGED] = list(notes)
        out[FOREIGN_KEY] = own
    return out


def volume_damage(path: Path, foreign: Mapping[str, Any], unchanged: Any) -> list[str]:
    """Problems to report for a volume at ``path``: a NIfTI file is checked again here; a
    DICOM series reports the notes kept when it was added, while its files are those it was
    added from (``unchanged()`` says so; called only when there are notes)."""
    if path.is_file() and is_nifti_name(path):
        why = nifti_damage(path)
        return [f"Media file {path} {why}."] if why else []
    notes = damage_notes(foreign)
    if not notes or not unchanged():
        return []
    return [f"Media file {path} is damaged: {n.rstrip('.')}." for n in notes]
