"""Decoding a planned DICOM series into one preallocated ``[k, j, i]`` array, slice by
slice, in real units (value = stored * RescaleSlope + RescaleIntercept; Hounsfield units for
CT). Peak memory is the output array plus one file's pixels.

Compressed transfer syntaxes are decoded by pydicom's plugins: GDCM (python-gdcm) for JPEG
baseline/extended/lossless and JPEG-LS, pylibjpeg-openjpeg (or GDCM) for JPEG 2000,
pylibjpeg-rle (or pydicom) for RLE; deflate and big endian are pydicom's own.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import BadInputError
from app.io.volume.model import FrameRef, SeriesInfo, Volume

_INT_TYPES = (np.uint8, np.int16, np.uint16, np.int32)
MAX_WORKERS = 4  # threads decoding compressed slices
CHUNK_FRAMES = 16  # frames of a multi-frame file decoded together


def _real_range(frames: list[FrameRef]) -> tuple[float, float]:
    lo, hi = np.inf, -np.inf
    for f in frames:
        bits = max(1, min(f.bits_stored, 32))
        raw = ((-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if f.signed else (0, 2 ** bits - 1))
        ends = (raw[0] * f.slope + f.intercept, raw[1] * f.slope + f.intercept)
        lo, hi = min(lo, *ends), max(hi, *ends)
    return lo, hi


def output_dtype(frames: list[FrameRef]) -> np.dtype:
    """The type that holds every real value: the smallest integer type when slopes and
    intercepts are whole numbers (int16 when the stored bits could overflow it in theory;
    :func:`load_dicom` widens it if a slice really does), else float32."""
    if not all(float(f.slope).is_integer() and float(f.intercept).is_integer() for f in frames):
        return np.dtype(np.float32)
    lo, hi = _real_range(frames)
    for t in _INT_TYPES:
        info = np.iinfo(t)
        if info.min <= lo and hi <= info.max:
            if t is np.int32 and max(f.bits_stored for f in frames) <= 16:
                return np.dtype(np.int16)  # typical CT: 16 stored bits, values in HU fit
            return np.dtype(t)
    return np.dtype(np.float64)


def _gdcm_frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    """Decode with GDCM directly: 12-bit JPEG Extended, which python-gdcm decodes correctly
    but pydicom's GDCM plugin refuses to hand it (and the other plugins are GPL)."""
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(str(path))
    if not reader.Read():
        raise ValueError("GDCM cannot read it either")
    image = reader.GetImage()
    fmt = image.GetPixelFormat()
    types = {gdcm.PixelFormat.UINT8: np.uint8, gdcm.PixelFormat.INT8: np.int8,
             gdcm.PixelFormat.UINT12: np.uint16, gdcm.PixelFormat.INT12: np.int16,
             gdcm.PixelFormat.UINT16: np.uint16, gdcm.PixelFormat.INT16: np.int16,
             gdcm.PixelFormat.UINT32: np.uint32, gdcm.PixelFormat.INT32: np.int32,
             gdcm.PixelFormat.FLOAT32: np.float32, gdcm.PixelFormat.FLOAT64: np.float64}
    dtype = types.get(fmt.GetScalarType())
    if dtype is None or fmt.GetSamplesPerPixel() != 1:
        raise ValueError("GDCM decodes it to an unsupported pixel type")
    cols, rows = image.GetDimension(0), image.GetDimension(1)
    frames = image.GetDimension(2) if image.GetNumberOfDimensions() > 2 else 1
    buffer = image.GetBuffer().encode("utf-8", "surrogateescape")
    data = np.frombuffer(buffer, dtype=dtype).reshape(frames, rows, cols)
    return [data[i].copy() for i in indices]


_NATIVE = {"1.2.840.10008.1.2": False, "1.2.840.10008.1.2.1": True}  # LE syntax: explicit VR?


def _native_frames(path: Path, frames: list[FrameRef]) -> list[np.ndarray] | None:
    """Frames of an uncompressed little-endian file read straight from disk, or None when
    the file is not laid out as expected (then pydicom reads it). The Pixel Data element
    is the file's last: its header sits just before the last ``frames x rows x columns``
    samples. Unused high bits are cleared (or sign-extended), as pydicom does."""
    f = frames[0]
    explicit = _NATIVE.get(f.syntax)
    if explicit is None or f.bits_allocated not in (8, 16, 32):
        return None
    itemsize = f.bits_allocated // 8
    frame_bytes = f.rows * f.columns * itemsize
    length = frame_bytes * f.file_frames
    length += length % 2  # values have even length
    header = 12 if explicit else 8
    try:
        size = path.stat().st_size
        start = size - length
        with open(path, "rb") as fh:
            fh.seek(start - header)
            head = fh.read(header)
            if head[:4] != b"\xe0\x7f\x10\x00" or int.from_bytes(head[-4:], "little") != length:
                return None
            if explicit and head[4:6] not in (b"OW", b"OB"):
                return None
            dtype = np.dtype(f"<{'i' if f.signed else 'u'}{itemsize}")
            out = []
            for fr in frames:
                fh.seek(start + fr.index * frame_bytes)
                data = np.frombuffer(fh.read(frame_bytes), dtype)
                if data.size != f.rows * f.columns:
                    return None
                out.append(_used_bits(data.reshape(f.rows, f.columns), f))
    except OSError:
        return None
    return out


def _used_bits(a: np.ndarray, f: FrameRef) -> np.ndarray:
    """Only the BitsStored low bits of each sample count (higher ones may hold overlays)."""
    unused = f.bits_allocated - f.bits_stored
    if unused <= 0:
        return a
    if f.signed:
        return (a << unused) >> unused  # arithmetic shift: sign-extends
    return a & np.array((1 << f.bits_stored) - 1, a.dtype)


class _SharedFile:
    """A multi-frame file's dataset, parsed once and shared by the jobs decoding its chunks
    (an enhanced header lists every frame: parsing it per chunk costs more than decoding);
    dropped when its last chunk is done."""

    def __init__(self, path: Path, chunks: int) -> None:
        self.path, self._left, self._ds, self._lock = path, chunks, None, threading.Lock()

    def dataset(self) -> Any:
        import pydicom

        with self._lock:
            if self._ds is None:
                self._ds = pydicom.dcmread(self.path, force=True)
            return self._ds

    def release(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left <= 0:
                self._ds = None


def _decode(path: Path, indices: list[int], shared: _SharedFile | None, plugin: str
            ) -> list[np.ndarray]:
    import pydicom
    from pydicom.pixels import iter_pixels, pixel_array

    if shared is None:
        return [pixel_array(pydicom.dcmread(path, force=True), decoding_plugin=plugin)]
    return list(iter_pixels(shared.dataset(), indices=indices, decoding_plugin=plugin))


def _read_file(path: Path, frames: list[FrameRef], shared: _SharedFile | None,
               plugin: str = "") -> list[np.ndarray]:
    """Decoded ``frames`` of ``path`` (stored values, before rescale); ``shared`` holds the
    dataset of a multi-frame file; ``plugin`` is the pydicom decoder to try first."""
    native = _native_frames(path, frames)
    if native is not None:
        return native
    indices = [f.index for f in frames]
    try:
        try:
            return _decode(path, indices, shared, plugin)
        except Exception:
            if not plugin:
                raise
            return _decode(path, indices, shared, "")  # any other plugin
    except Exception:  # no plugin would, or could, decode it
        if not _jpeg_extended_12bit(path):
            raise
        try:
            return _gdcm_frames(path, indices)
        except Exception:
            pass
        raise


def _jpeg_extended_12bit(path: Path) -> bool:
    """Whether ``path`` is 12-bit JPEG Extended with well-formed encapsulated fragments (GDCM
    is called directly only then: on broken encapsulation it aborts the process)."""
    import pydicom
    from pydicom.encaps import generate_fragments
    from pydicom.uid import JPEGExtended12Bit

    try:
        ds = pydicom.dcmread(path, force=True)
        if ds.file_meta.get("TransferSyntaxUID") != JPEGExtended12Bit or \
                int(ds.get("BitsStored", 8)) <= 8:
            return False
        for _ in generate_fragments(ds.PixelData):
            pass
    except Exception:  # unreadable or malformed: not a case for the fallback
        return False
    return True


def _reason(exc: Exception) -> str:
    """The first line of a decoder's complaint, in a user's words where we know better."""
    text = str(exc).strip()
    if "no 'Pixel Data'" in text:
        return "its pixel data is missing or cut short"
    if "end of the data has been reached" in text:
        return "its compressed pixel data is cut short"
    return text.splitlines()[-1].strip() if text else type(exc).__name__


def _store(out: np.ndarray, k: int, raw: np.ndarray, f: FrameRef) -> tuple[np.ndarray, float]:
    """Put ``raw * slope + intercept`` into ``out[k]`` in one pass; returns ``out`` (widened
    first if this slice's values do not fit it) and the slice's lowest real value."""
    if out.dtype.kind == "f":
        np.multiply(raw, f.slope, out=out[k], casting="unsafe")
        out[k] += out.dtype.type(f.intercept)
        return out, float(out[k].min())
    slope, intercept = int(f.slope), int(f.intercept)
    ends = (int(raw.min()) * slope + intercept, int(raw.max()) * slope + intercept)
    lo, hi = min(ends), max(ends)
    info = np.iinfo(out.dtype)
    if lo < info.min or hi > info.max:
        wider = next((t for t in _INT_TYPES if np.iinfo(t).min <= min(lo, info.min)
                      and max(hi, info.max) <= np.iinfo(t).max), np.int64)
        out = out.astype(wider)
    work = np.int64 if max(abs(lo), abs(hi), int(raw.max())) > 2**31 - 1 else np.int32
    if slope == 1:
        np.add(raw, intercept, out=out[k], dtype=work, casting="unsafe")
    else:  # (rare) through a temporary: raw * slope alone may not fit the output type
        value = raw.astype(work)
        value *= slope
        value += intercept
        out[k] = value
    return out, float(lo)


Job = tuple[Path, list[tuple[int, FrameRef]], "_SharedFile | None"]  # file, (k, frame)s


def _plugin(syntax: str, workers: int) -> str:
    """The pydicom decoder to try first: GDCM when several threads decode (it releases the
    GIL, pylibjpeg's OpenJPEG does not), else pydicom's own order."""
    if workers <= 1:
        return ""
    try:
        from pydicom.pixels.decoders.base import get_decoder

        return "gdcm" if "gdcm" in get_decoder(syntax).available_plugins else ""
    except (ImportError, NotImplementedError, ValueError):
        return ""


def _decoded(jobs: list[Job], shape: tuple[int, int], workers: int, plugin: str
             ) -> Iterator[tuple[Job, list[np.ndarray] | Exception]]:
    """Each job with its decoded frames (or the exception), in order. Compressed files are
    decoded by ``workers`` threads; at most 2 x ``workers`` files wait decoded, so memory
    stays one volume plus a few slices."""
    def decode(job: Job) -> list[np.ndarray] | Exception:
        path, items, shared = job
        try:
            arrays = _read_file(path, [f for _, f in items], shared, plugin)
            if len(arrays) != len(items) or any(a.shape != shape for a in arrays):
                raise ValueError(f"decoded {len(arrays)} frame(s) of shape "
                                 f"{arrays[0].shape if arrays else ()}, expected "
                                 f"{len(items)} of {shape}")
            return arrays
        except Exception as exc:  # decoders raise many kinds for damaged data
            return exc
        finally:
            if shared is not None:
                shared.release()

    if workers <= 1:
        for job in jobs:
            yield job, decode(job)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append((job, pool.submit(decode, job)))
            if len(pending) >= 2 * workers:
                done_job, future = pending.popleft()
                yield done_job, future.result()
        while pending:
            done_job, future = pending.popleft()
            yield done_job, future.result()


def load_dicom(info: SeriesInfo, volume_index: int = 0,
               progress: Callable[..., None] | None = None) -> Volume:
    """Decode volume ``volume_index`` of a scanned series. A slice that cannot be decoded
    (or a plane inserted for a missing slice) holds the volume's lowest value and is named in
    the warnings; if no slice decodes, :class:`BadInputError` says why."""
    if not info.is_image or info.geometry is None:
        raise BadInputError(info.warnings[0] if info.warnings else
                            f"{info.files[0]} is not an image series.",
                            info.files[0] if info.files else None)
    if not 0 <= volume_index < info.volumes:
        raise BadInputError(f"{info.files[0]} holds {info.volumes} volume(s); there is no "
                            f"volume {volume_index}.", info.files[0])
    plan = info.plan[volume_index]
    frames = [f for f in plan if f is not None]
    out = np.empty(info.geometry.shape, output_dtype(frames))
    by_file: dict[Path, list[tuple[int, FrameRef]]] = defaultdict(list)
    for k, f in enumerate(plan):
        if f is not None:
            by_file[f.path].append((k, f))
    multi = {p for p, items in by_file.items()
             if len(items) > 1 or any(f.index > 0 or f.stacked for _, f in items)}
    warnings_out = list(info.warnings)
    filled = [k for k, f in enumerate(plan) if f is None]
    rows, cols = info.geometry.shape[1:]
    done, total, first_error, lowest = 0, len(frames), "", np.inf
    jobs = []  # a multi-frame file is decoded a few frames at a time, so memory stays low
    for path, items in by_file.items():
        items.sort(key=lambda kf: kf[1].index)
        starts = range(0, len(items), CHUNK_FRAMES)
        shared = _SharedFile(path, len(starts)) if path in multi else None
        jobs.extend((path, items[n:n + CHUNK_FRAMES], shared) for n in starts)
    workers = 1 if frames[0].syntax in _NATIVE else min(MAX_WORKERS, os.cpu_count() or 1)
    with warnings.catch_warnings():  # pydicom's warnings on odd values: not for the user
        warnings.simplefilter("ignore")
        plugin = _plugin(frames[0].syntax, workers)
        for (path, items, _), arrays in _decoded(jobs, (rows, cols), workers, plugin):
            if isinstance(arrays, Exception):
                reason = _reason(arrays)
                first_error = first_error or f"{path}: {reason}"
                ks = [k for k, _ in items]
                filled.extend(ks)
                where = f"slice k={ks[0]}" if len(ks) == 1 else f"{len(ks)} slices"
                warnings_out.append(f"{path} could not be decoded ({reason}); its {where} "
                                    "holds the volume's lowest value.")
                done += len(items)
                continue
            for (k, f), raw in zip(items, arrays):
                out, low = _store(out, k, raw, f)
                lowest = min(lowest, low)
                done += 1
                if progress is not None:
                    progress(done, total)
    if len(filled) == len(plan):
        raise BadInputError(f"None of the {total} image(s) of {info.description or info.uid} "
                            f"could be decoded ({first_error}).", info.files[0])
    for k in filled:
        out[k] = lowest
    if progress is not None:
        progress(total, total)
    return Volume(out, info.geometry, modality=info.modality, description=info.description,
                  series_uid=info.uid, warnings=warnings_out, volume_index=volume_index,
                  volumes=info.volumes, monochrome1=info.monochrome1, source=info.files[0])
