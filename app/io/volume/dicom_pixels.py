"""Decoding a planned DICOM series into one preallocated ``[k, j, i]`` array, slice by
slice, in real units (value = stored * RescaleSlope + RescaleIntercept; Hounsfield units for
CT). Peak memory is the output array plus one file's pixels.

Compressed transfer syntaxes are decoded by pydicom's plugins: GDCM (python-gdcm) for JPEG
baseline/extended/lossless and JPEG-LS, pylibjpeg-openjpeg (or GDCM) for JPEG 2000,
pylibjpeg-rle (or pydicom) for RLE; deflate and big endian are pydicom's own.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.core.errors import BadInputError
from app.io.volume.model import FrameRef, SeriesInfo, Volume

_INT_TYPES = (np.uint8, np.int16, np.uint16, np.int32)


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


def _read_file(path: Path, indices: list[int], multi: bool) -> list[np.ndarray]:
    """Decoded frames ``indices`` of ``path`` (stored values, before rescale)."""
    import pydicom
    from pydicom.pixels import iter_pixels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if not multi:
                return [pydicom.dcmread(path, force=True).pixel_array]
            try:
                return list(iter_pixels(str(path), indices=indices))
            except Exception:  # e.g. a file without preamble: read it whole instead
                return list(iter_pixels(pydicom.dcmread(path, force=True), indices=indices))
        except Exception as exc:  # no plugin would, or could, decode it
            if not _jpeg_extended_12bit(path):
                raise
            try:
                return _gdcm_frames(path, indices)
            except Exception:
                raise exc from None


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
    """Put ``raw * slope + intercept`` into ``out[k]``; returns ``out`` (widened if a value
    does not fit) and the slice's lowest value."""
    if out.dtype.kind == "f":
        np.multiply(raw, f.slope, out=out[k], casting="unsafe")
        out[k] += out.dtype.type(f.intercept)
        return out, float(out[k].min())
    value = raw
    if f.slope != 1 or f.intercept != 0 or raw.dtype != out.dtype:
        value = raw.astype(np.int64) * int(f.slope) + int(f.intercept)
    info = np.iinfo(out.dtype)
    lo, hi = int(value.min()), int(value.max())
    if lo < info.min or hi > info.max:
        wider = next((t for t in _INT_TYPES if np.iinfo(t).min <= min(lo, info.min)
                      and max(hi, info.max) <= np.iinfo(t).max), np.int64)
        out = out.astype(wider)
    out[k] = value
    return out, float(lo)


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
    for path, items in by_file.items():
        items.sort(key=lambda kf: kf[1].index)
        try:
            arrays = _read_file(path, [f.index for _, f in items], path in multi)
            if len(arrays) != len(items) or any(a.shape != (rows, cols) for a in arrays):
                raise ValueError(f"decoded {len(arrays)} frame(s) of shape "
                                 f"{arrays[0].shape if arrays else ()}, expected "
                                 f"{len(items)} of {(rows, cols)}")
        except Exception as exc:  # decoders raise many kinds for damaged data
            reason = _reason(exc)
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
