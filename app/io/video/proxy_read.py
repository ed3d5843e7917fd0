"""Reading a prepared display proxy: frame N as RGB uint8 at the proxy size, fast.

A jump reads the few encoded pictures from frame N's keyframe to N out of its chunk file
(``pread``, no container) and decodes them (at most ``KEYINT`` small pictures); stepping
forward feeds the next picture to the decoder already open; the pictures decoded on the way
stay in a small LRU, so stepping back within a keyframe interval is a cache hit.

Proxy frame N is source frame N, displayed orientation, scaled by :attr:`ProxyReader.scale`
(proxy px per source px): a point (x, y) of the source is (x * sx, y * sy) here.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import BadInputError, VellumError
from app.io.video.proxy_build import planes_to_rgb
from app.io.video.proxy_store import (Manifest, UseLock, chunk_path, complete_chunks,
                                      load_manifest, proxy_folder, read_chunk_header)

CACHE_FRAMES = 16  # decoded RGB pictures kept (two keyframe intervals)


class _Chunk:
    """One open chunk file: its header and descriptor."""

    def __init__(self, k: int, f: Any, header: dict[str, Any], payload: int) -> None:
        self.k, self.f, self.header, self.payload = k, f, header, payload
        self.offsets: list[int] = header["offsets"]
        self.keys: list[int] = header["keys"]
        self.missing = set(header["missing"])

    def packets(self, a: int, b: int) -> list[bytes]:
        """Encoded pictures ``a..b-1`` of the chunk."""
        start, end = self.offsets[a], self.offsets[b]
        data = os.pread(self.f.fileno(), end - start, self.payload + start)
        if len(data) != end - start:
            raise OSError("chunk file cut short")
        return [data[self.offsets[i] - start:self.offsets[i + 1] - start] for i in range(a, b)]

    def key_before(self, i: int) -> int:
        return self.keys[bisect.bisect_right(self.keys, i) - 1]

    def close(self) -> None:
        try:
            self.f.close()
        except OSError:
            pass


class ProxyReader:
    """Frames of a prepared proxy by source frame index. One worker thread at a time may
    call it (calls are serialised by a lock). Use as a context manager or :meth:`close`."""

    def __init__(self, path: Path, folder: Path, manifest: Manifest) -> None:
        self.path, self.folder, self.manifest = Path(path), folder, manifest
        self._use = UseLock(folder)
        self._lock = threading.RLock()
        self._ready: set[int] = complete_chunks(folder, manifest)
        self._chunk: _Chunk | None = None
        self._decoder: Any = None
        self._next = -1  # frame index the open decoder would output next (-1: none)
        self._cache: OrderedDict[int, tuple[bool, np.ndarray]] = OrderedDict()
        self._closed = False
        self._missing = set(manifest.missing)
        self.decoded = 0  # pictures decoded (tests count work with it)
        self.seeks = 0

    # ----------------------------------------------------------------- description
    @property
    def frame_count(self) -> int:
        return self.manifest.frame_count

    @property
    def size(self) -> tuple[int, int]:
        """Proxy picture (width, height) in px."""
        return self.manifest.width, self.manifest.height

    @property
    def source_size(self) -> tuple[int, int]:
        """Displayed source (width, height) in px."""
        return self.manifest.source_width, self.manifest.source_height

    @property
    def scale(self) -> float:
        """Proxy px per source px, horizontally (see :attr:`scale_xy` for both axes; they
        differ by at most the rounding to even sizes)."""
        return self.manifest.width / self.manifest.source_width

    @property
    def scale_xy(self) -> tuple[float, float]:
        m = self.manifest
        return m.width / m.source_width, m.height / m.source_height

    @property
    def complete(self) -> bool:
        """Every chunk is on disk."""
        return len(self._refresh()) == self.manifest.chunk_count

    @property
    def missing(self) -> list[int]:
        """Frames the build could not decode (never ready)."""
        return list(self.manifest.missing)

    # ----------------------------------------------------------------- readiness
    def _refresh(self) -> set[int]:
        if len(self._ready) < self.manifest.chunk_count:
            self._ready = complete_chunks(self.folder, self.manifest)
        return self._ready

    def ready(self, n: int) -> bool:
        """Frame ``n``'s chunk is complete (and the build could decode the frame)."""
        if not 0 <= n < self.frame_count:
            return False
        k = n // self.manifest.chunk_frames
        if k not in self._ready and k not in self._refresh():
            return False
        return n not in self._missing and not (
            self._chunk is not None and self._chunk.k == k and n in self._chunk.missing)

    def nearest_ready(self, n: int) -> int | None:
        """The ready frame nearest to ``n`` (``n`` itself when ready; on a tie the earlier),
        or None when no frame is ready."""
        n = min(max(int(n), 0), self.frame_count - 1)
        ready = sorted(self._refresh())
        if not ready:
            return None
        C = self.manifest.chunk_frames
        best: int | None = None
        for k in ready:
            lo, hi = k * C, k * C + self.manifest.frames_in(k) - 1
            m = min(max(n, lo), hi)
            for cand in _outward(m, lo, hi):
                if cand not in self._missing:
                    if best is None or abs(cand - n) < abs(best - n) or (
                            abs(cand - n) == abs(best - n) and cand < best):
                        best = cand
                    break
        return best

    # ----------------------------------------------------------------- frames
    def frame(self, n: int) -> np.ndarray:
        """Proxy picture of source frame ``n``: a read-only ``(h, w, 3)`` RGB uint8 array
        (:attr:`size`). :class:`VellumError` when that frame is not prepared."""
        with self._lock:
            if self._closed:
                raise VellumError(f"The proxy of {self.path} has been closed.", self.path)
            try:
                i = int(n)
            except (TypeError, ValueError):
                raise VellumError(f"{n!r} is not a frame number of {self.path}.",
                                  self.path) from None
            if i != n or not 0 <= i < self.frame_count:
                raise VellumError(f"Frame {n} is outside {self.path}, which has frames 0 to "
                                  f"{self.frame_count - 1}.", self.path)
            hit = self._cached(i)
            if hit is not None:
                return hit
            if i in self._missing:
                raise VellumError(f"Frame {i} of {self.path} could not be decoded when its "
                                  f"proxy was prepared.", self.path)
            if not self.ready(i):
                raise VellumError(f"Frame {i} of {self.path} is not prepared yet; run `vellum "
                                  f"video prepare` on it.", self.path)
            try:
                return self._decode(i)
            except (OSError, ValueError) as exc:
                self._drop_chunk()
                raise BadInputError(f"The prepared proxy of {self.path} cannot be read at "
                                    f"frame {i} ({exc}); prepare it again.", self.path) from exc

    def _open_chunk(self, k: int) -> _Chunk:
        if self._chunk is not None and self._chunk.k == k:
            return self._chunk
        self._drop_chunk()
        f = open(chunk_path(self.folder, k), "rb")
        got = read_chunk_header(f, self.manifest.fingerprint, k, self.manifest)
        if got is None:
            f.close()
            raise ValueError(f"chunk {k} is damaged")
        self._chunk = _Chunk(k, f, *got)
        return self._chunk

    def _drop_chunk(self) -> None:
        if self._chunk is not None:
            self._chunk.close()
        self._chunk, self._decoder, self._next = None, None, -1

    def _decode(self, n: int) -> np.ndarray:
        import av

        C = self.manifest.chunk_frames
        k, i = divmod(n, C)
        chunk = self._open_chunk(k)
        if i in chunk.missing:
            raise VellumError(f"Frame {n} of {self.path} could not be decoded when its proxy "
                              f"was prepared.", self.path)
        key = chunk.key_before(i)
        base = k * C
        if self._decoder is None or not (base + key <= self._next <= n):
            self.seeks += 1
            if self._decoder is None:
                self._decoder = av.CodecContext.create(self.manifest.codec, "r")
            else:
                self._decoder.flush_buffers()
            start = key
        else:
            start = self._next - base
        for j, data in enumerate(chunk.packets(start, i + 1), start):
            try:
                pics = self._decoder.decode(av.Packet(data))
            except av.error.FFmpegError as exc:
                self._decoder, self._next = None, -1
                raise ValueError(f"picture {base + j} does not decode: {exc}") from exc
            if len(pics) != 1:
                self._decoder, self._next = None, -1
                raise ValueError(f"picture {base + j} gave {len(pics)} pictures")
            self.decoded += 1
            self._next = base + j + 1
            self._keep(base + j, False, pics[0].to_ndarray())  # (3, h, w) Y, Cb, Cr
        out = self._cached(n)
        assert out is not None
        return out

    def _keep(self, n: int, is_rgb: bool, value: np.ndarray) -> None:
        self._cache[n] = (is_rgb, value)
        self._cache.move_to_end(n)
        while len(self._cache) > CACHE_FRAMES:
            self._cache.popitem(last=False)

    def _cached(self, n: int) -> np.ndarray | None:
        """Frame n from the cache as RGB (converted on first use), or None."""
        hit = self._cache.get(n)
        if hit is None:
            return None
        is_rgb, value = hit
        if not is_rgb:
            value = planes_to_rgb(value)
            value.flags.writeable = False
            self._keep(n, True, value)
        else:
            self._cache.move_to_end(n)
        return value

    def clear_cache(self) -> None:
        """Forget decoded pictures and the decoder position (the next frame is a fresh jump;
        benchmarks use it)."""
        with self._lock:
            self._cache.clear()
            self._decoder, self._next = None, -1

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._drop_chunk()
            self._cache.clear()
            self._use.release()

    def __enter__(self) -> ProxyReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        w, h = self.size
        return f"ProxyReader({str(self.path)!r}, {self.frame_count} frames, {w}x{h})"


def _outward(m: int, lo: int, hi: int) -> Any:
    """m, m-1, m+1, m-2, m+2, ... within [lo, hi]."""
    yield m
    for d in range(1, hi - lo + 1):
        if m - d >= lo:
            yield m - d
        if m + d <= hi:
            yield m + d


def _fingerprint(path: Path) -> str:
    from app.core.media import fingerprint
    from app.io.video.decoding import require_video_file

    require_video_file(path)
    try:
        return fingerprint(path)
    except FileNotFoundError:
        raise BadInputError(f"{path} does not exist.", path) from None
    except OSError as exc:
        raise BadInputError(f"{path} cannot be read ({exc.strerror}).", path) from exc


def current_manifest(path: Path) -> tuple[Manifest | None, Path]:
    """The manifest of ``path``'s proxy when it matches the file as it is now (same content
    fingerprint, same frame count as its frame index), and the proxy folder."""
    from app.io.video.store import index_file
    from app.io.video.index import FrameIndex

    fp = _fingerprint(path)
    folder = proxy_folder(fp)
    m = load_manifest(folder, fp)
    if m is None:
        return None, folder
    index = FrameIndex.load(index_file(fp), fp)  # the cached index, when there is one
    if index is not None and index.frame_count != m.frame_count:
        return None, folder
    return m, folder


def open_proxy(path: str | Path, partial: bool = True) -> ProxyReader | None:
    """The proxy of ``path`` for reading, or None when it is not prepared (no complete chunk;
    with ``partial=False``: not every chunk) or was made for other content (stale).
    :class:`VellumError` for a path that is no readable file."""
    path = Path(path)
    m, folder = current_manifest(path)
    if m is None:
        return None
    have = complete_chunks(folder, m)
    if not have or (not partial and len(have) < m.chunk_count):
        return None
    return ProxyReader(path, folder, m)
