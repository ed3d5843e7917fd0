"""Assembling a planned DICOM series into one preallocated ``[k, j, i]`` array, slice by
slice, in real units (value = stored * RescaleSlope + RescaleIntercept; Hounsfield units for
CT). Peak memory is the output array plus a few decoded slices (see ``dicom_decode``).
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from app.core.errors import BadInputError
from app.io.volume.dicom_decode import NATIVE, SharedFile, first_plugin, read_frames
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


def _shifted(acquired: np.ndarray, shifts: list[tuple[int, int]], shape: tuple[int, int, int],
             fill: float) -> np.ndarray:
    """A tilted stack on its orthogonal grid: acquired slice k placed at its whole-pixel
    offset ``shifts[k]`` (rows, columns) in a grid of ``shape``; the rest holds ``fill``
    (the volume's lowest value). No value is interpolated."""
    out = np.full(shape, fill, acquired.dtype)
    rows, cols = acquired.shape[1:]
    for k, (b, a) in enumerate(shifts):
        out[k, b:b + rows, a:a + cols] = acquired[k]
    return out


Job = tuple[Path, list[tuple[int, FrameRef]], SharedFile | None]  # file, its (k, frame)s


def _decoded(jobs: list[Job], shape: tuple[int, int], workers: int, plugin: str
             ) -> Iterator[tuple[Job, list[np.ndarray] | Exception]]:
    """Each job with its decoded frames (or the exception), in order. Compressed files are
    decoded by ``workers`` threads; at most 2 x ``workers`` files wait decoded, so memory
    stays one volume plus a few slices."""
    def decode(job: Job) -> list[np.ndarray] | Exception:
        path, items, shared = job
        try:
            arrays = read_frames(path, [f for _, f in items], shared, plugin)
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
    out = np.empty((len(plan), frames[0].rows, frames[0].columns), output_dtype(frames))
    by_file: dict[Path, list[tuple[int, FrameRef]]] = defaultdict(list)
    for k, f in enumerate(plan):
        if f is not None:
            by_file[f.path].append((k, f))
    multi = {p for p, items in by_file.items()
             if len(items) > 1 or any(f.index > 0 or f.stacked for _, f in items)}
    warnings_out = list(info.warnings)
    filled = [k for k, f in enumerate(plan) if f is None]
    marks = {k: "no image: its file is missing or damaged" for k in filled}
    rows, cols = out.shape[1:]
    done, total, first_error, lowest = 0, len(frames), "", np.inf
    jobs = []  # a multi-frame file is decoded a few frames at a time, so memory stays low
    for path, items in by_file.items():
        items.sort(key=lambda kf: kf[1].index)
        starts = range(0, len(items), CHUNK_FRAMES)
        shared = SharedFile(path, len(starts)) if path in multi else None
        jobs.extend((path, items[n:n + CHUNK_FRAMES], shared) for n in starts)
    workers = 1 if frames[0].syntax in NATIVE else min(MAX_WORKERS, os.cpu_count() or 1)
    with warnings.catch_warnings():  # pydicom's warnings on odd values: not for the user
        warnings.simplefilter("ignore")
        plugin = first_plugin(frames[0].syntax, workers)
        for (path, items, _), arrays in _decoded(jobs, (rows, cols), workers, plugin):
            if isinstance(arrays, Exception):
                reason = _reason(arrays)
                first_error = first_error or f"{path}: {reason}"
                ks = [k for k, _ in items]
                filled.extend(ks)
                marks.update((k, f"damaged file {path.name}") for k in ks)
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
    if info.shifts:
        out = _shifted(out, info.shifts, info.geometry.shape, lowest)
    if progress is not None:
        progress(total, total)
    return Volume(out, info.geometry, modality=info.modality, description=info.description,
                  series_uid=info.uid, warnings=warnings_out, volume_index=volume_index,
                  volumes=info.volumes, monochrome1=info.monochrome1, source=info.files[0],
                  marks=dict(sorted(marks.items())))
