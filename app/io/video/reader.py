"""``VideoReader``: frame N of a video as RGB uint8 in display orientation, fast.

* The frame index is built once per file content (:mod:`app.io.video.build`) and kept in the
  user cache folder keyed by :func:`app.core.media.fingerprint`, so reopening is instant.
* ``frame(n)`` decodes from the nearest usable keyframe at or before n (exact seek, see
  :mod:`app.io.video.session`) and keeps decoded frames in a byte-bounded LRU
  (``cache_bytes``, default 1 GiB or ``$VELLUM_FRAME_CACHE_MB``): the frames decoded on the
  way to n (up to half the cap) stay as decoder frames, so stepping back is a colour
  conversion, not a decode.
* ``prefetch(n, direction)`` (also implied by stepping ``frame(n±1)``) decodes ahead on a
  background thread; a foreground request always takes the decoder first.
* ``frames(...)`` iterates sequentially with a decoder of its own (export, tracking).

Thread-safe: any thread may call ``frame``; one decoder is shared under a lock.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import BadInputError, VellumError
from app.core.geometry import VideoGeometry
from app.io.video.build import build_index
from app.io.video.store import index_file, load_index, save_index
from app.io.video.cache import FrameCache
from app.io.video.convert import apply_transform, detach, frame_bytes, to_rgb
from app.io.video.index import NOFRAME, FrameIndex
from app.io.video.report import VideoReport, geometry_of, report_of
from app.io.video.session import DecodeSession, IndexMismatch

DEFAULT_CACHE_BYTES = 1 << 30
CACHE_ENV = "VELLUM_FRAME_CACHE_MB"  # the decoded-frame cache of each open video, in MiB


def default_cache_bytes() -> int:
    """The frame cache cap in bytes, read when a reader opens: ``$VELLUM_FRAME_CACHE_MB`` MiB
    (a whole number from 16), else the size saved in the preferences (the window's Edit ▸
    Preferences…, :func:`app.io.preferences.frame_cache_mb`), else
    :data:`DEFAULT_CACHE_BYTES` (1 GiB). A value that is no such number is ignored."""
    import os

    from app.io.preferences import frame_cache_mb

    raw = os.environ.get(CACHE_ENV, "").strip()
    if raw.isdigit() and int(raw) >= 16:
        return int(raw) << 20
    saved = frame_cache_mb()
    return saved << 20 if saved is not None else DEFAULT_CACHE_BYTES


AHEAD = 6  # frames converted ahead of a stepping or playing position
DECODER_FRAMES = 28  # pictures a decoder holds at most (16 references, threads, reordering)
BEHIND = 24  # frames kept decoded behind a position when stepping backwards
KEEP_BACK = 32  # frames before a jump target kept (prefetching backwards keeps more)


class VideoReader:
    """Frames of one video by index. Use as a context manager (or call :meth:`close`)."""

    def __init__(self, path: str | Path, cache_bytes: int | None = None,
                 verify: str = "auto", use_index_cache: bool = True,
                 progress: Any = None) -> None:
        self.path = Path(path)
        cache_bytes = default_cache_bytes() if cache_bytes is None else cache_bytes
        self._use_cache = use_index_cache
        self._index, self._fp = load_index(self.path, verify, use_index_cache, progress)
        self.cache_bytes = int(cache_bytes)
        self._cache = FrameCache(cache_bytes)
        self._lock = threading.RLock()
        self._session: DecodeSession | None = None
        self._urgent = 0
        self._urgent_lock = threading.Lock()
        self._hint: tuple[int, int] | None = None
        self._hint_serial = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._last = -2
        self._extra_errors: list[str] = []
        self._error_packets: set[int] = set()
        self._refresh()

    # ----------------------------------------------------------------- description
    def _refresh(self) -> None:
        ix = self._index
        self._geometry = geometry_of(ix)
        self._timestamps = ix.timestamps()
        self._timestamps.flags.writeable = False
        self._keyframes = ix.keyframes()
        self._keyframes.flags.writeable = False
        self._transform = str(ix.meta.get("transform", "none"))
        # The decoder's own pictures (references, frames in flight) count against the cap.
        yuv = max(int(ix.meta["coded_width"]) * int(ix.meta["coded_height"]) * 3 // 2, 1)
        if int(ix.meta.get("bit_depth", 8)) > 8:
            yuv *= 2
        working = min(self.cache_bytes // 2, DECODER_FRAMES * yuv)
        self._cache.cap_bytes = max(self.cache_bytes - working, 0)
        self._keep_back = max(8, int(self._cache.cap_bytes // 2 // yuv))

    @property
    def geometry(self) -> VideoGeometry:
        return self._geometry

    @property
    def frame_count(self) -> int:
        return self._index.frame_count

    @property
    def timestamps(self) -> np.ndarray:
        """Seconds from the first displayed frame, per frame index (read-only float64)."""
        return self._timestamps

    @property
    def keyframes(self) -> np.ndarray:
        """Per frame index: a keyframe (random access point) of the stream (read-only)."""
        return self._keyframes

    @property
    def index(self) -> FrameIndex:
        return self._index

    @property
    def report(self) -> VideoReport:
        r = report_of(str(self.path), self._index, self._geometry)
        if self._extra_errors:
            r.decode_errors = r.decode_errors + self._extra_errors
        return r

    @property
    def cache(self) -> FrameCache:
        return self._cache

    # ----------------------------------------------------------------- frames
    def _check(self, n: Any) -> int:
        try:
            i = int(n)
        except (TypeError, ValueError):
            raise VellumError(f"{n!r} is not a frame number of {self.path}.", self.path) from None
        if i != n or not 0 <= i < self.frame_count:
            raise VellumError(f"Frame {n} is outside {self.path}, which has frames 0 to "
                              f"{self.frame_count - 1}.", self.path)
        return i

    def _display(self, f: Any) -> np.ndarray:
        rgb = apply_transform(to_rgb(f), self._transform)
        rgb.flags.writeable = False
        return rgb

    def _rgb_from_cache(self, n: int) -> np.ndarray | None:
        hit = self._cache.get(n)
        if hit is None:
            return None
        kind, value = hit
        if kind == "rgb":
            return value
        rgb = self._display(value)
        self._cache.put(n, "rgb", rgb, rgb.nbytes)
        return rgb

    def frame(self, n: int) -> np.ndarray:
        """Frame ``n`` as a read-only ``(H, W, 3)`` RGB uint8 array, display orientation."""
        if self._closed:
            raise VellumError(f"{self.path} has been closed.", self.path)
        n = self._check(n)
        step = n - self._last
        self._last = n
        rgb = self._rgb_from_cache(n)
        if rgb is None:
            with self._urgent_lock:  # the prefetcher lets go of the decoder at once
                self._urgent += 1
            with self._lock:
                with self._urgent_lock:
                    self._urgent -= 1
                rgb = self._rgb_from_cache(n)
                raw = None if rgb is not None else self._decode(n)
            if rgb is None:
                rgb = self._display(raw)
                self._cache.put(n, "rgb", rgb, rgb.nbytes)
        if step in (1, -1):
            self.prefetch(n, step)
        return rgb

    def _session_for(self) -> DecodeSession:
        if self._session is None:
            self._session = DecodeSession(self.path, self._index)
        return self._session

    def _decode(self, n: int, should_stop: Any = None, keep_back: int | None = None) -> Any:
        """Decode frame n through the shared session (lock held); the ``keep_back`` frames
        decoded just before it (and any released after it) go to the cache. Returns the
        decoder frame, or None when stopped early."""
        for attempt in range(2):
            got: list[Any] = []
            keep_from = n - min(self._keep_back, KEEP_BACK if keep_back is None else keep_back)

            def sink(m: int, f: Any) -> None:
                if m == n:
                    got.append(f)
                if m >= keep_from and self._cache.peek(m) is None:
                    kept = detach(f)
                    self._cache.put(m, "yuv", kept, frame_bytes(kept))

            session = self._session_for()
            try:
                done = session.decode_to(n, sink, should_stop)
                self._collect(session)
                if not done:
                    return None
                return got[0]
            except IndexMismatch as exc:
                self._collect(session)
                if attempt or not self._recover(str(exc)):
                    raise BadInputError(f"Frame {n} of {self.path} cannot be decoded ({exc}).",
                                        self.path) from exc
                n = self._check(n)
        raise AssertionError("unreachable")

    def _collect(self, session: DecodeSession) -> None:
        """Decode errors met while reading that the index does not know yet."""
        ix = self._index
        for k, reason in session.errors:
            known = ix.verified and 0 <= k < len(ix.pkt_flags) and ix.pkt_flags[k] & NOFRAME
            if not known and k not in self._error_packets:
                self._error_packets.add(k)
                self._extra_errors.append(f"Packet {k} could not be decoded: {reason}.")
        session.errors.clear()
        if self._index.meta.get("changed") and self._use_cache:
            save_index(self._index, index_file(self._fp))

    def _recover(self, why: str) -> bool:
        """The decoder disagreed with the index: rebuild a demux-only index by decoding; for
        an index that was decoded already, fall back to counting frames from the start of the
        file (codecs such as packed-B-frame MPEG-4 in AVI). False when nothing is left."""
        with self._lock:
            if not self._index.verified:
                return self._reindex(why)
            if self._index.meta.get("sequential_only"):
                return False
            self._index.meta["sequential_only"] = True
            self._index.meta["reindexed"] = ("Pictures cannot be matched to packets in this "
                                             "file; every frame is decoded from the start "
                                             f"(slow seeking) ({why}).")
            if self._use_cache:
                save_index(self._index, index_file(self._fp))
            if self._session is not None:
                self._session.close()
                self._session = None
            self._cache.clear()
            return True

    def _reindex(self, why: str) -> bool:
        """The decoder disagreed with a demux-only index: rebuild it by decoding everything.
        Frame numbers may change; the cache is emptied. False when already decoded."""
        with self._lock:
            if self._index.verified:
                return False
            old = self._index.frame_count
            index = build_index(self.path, self._fp, verify="always")
            index.meta["reindexed"] = (f"The frame index was rebuilt by decoding every frame "
                                       f"after the decoder disagreed with the container ({why}); "
                                       f"{index.frame_count} frames (the container suggested "
                                       f"{old}).")
            index.meta["auto_checked"] = True
            if self._use_cache:
                save_index(index, index_file(self._fp))
            if self._session is not None:
                self._session.close()
                self._session = None
            self._index = index
            self._cache.clear()
            self._refresh()
            return True

    def frames(self, start: int = 0, stop: int | None = None, step: int = 1
               ) -> Iterator[tuple[int, np.ndarray]]:
        """Frames ``start, start+step, ...`` below ``stop`` (default: the end) as ``(n, rgb)``,
        decoded sequentially by a decoder of this iterator's own (the cache is left alone)."""
        stop = self.frame_count if stop is None else min(int(stop), self.frame_count)
        if step < 1:
            raise VellumError(f"The frame step must be 1 or more, not {step}.", self.path)
        n = max(int(start), 0)
        session = DecodeSession(self.path, self._index)
        ahead: dict[int, Any] = {}  # wanted frames the decoder released before they were due
        try:
            while n < stop:
                frame = ahead.pop(n, None)
                if frame is None:
                    first = n

                    def sink(m: int, f: Any) -> None:
                        if first <= m < stop and (m - first) % step == 0:
                            ahead[m] = f

                    try:
                        session.decode_to(n, sink)
                    except IndexMismatch as exc:
                        session.close()
                        ahead.clear()
                        if not self._recover(str(exc)):
                            raise BadInputError(f"Frame {n} of {self.path} cannot be decoded "
                                                f"({exc}).", self.path) from exc
                        stop = min(stop, self.frame_count)
                        session = DecodeSession(self.path, self._index)
                        continue
                    frame = ahead.pop(n)
                yield n, self._display(frame)
                n += step
        finally:
            session.close()

    # ----------------------------------------------------------------- prefetch
    def prefetch(self, n: int, direction: int = 1) -> None:
        """Hint: frames after (direction +1) or before (-1) ``n`` will be wanted soon."""
        if self._closed or not 0 <= n < self.frame_count:
            return
        self._hint = (int(n), 1 if direction >= 0 else -1)
        self._hint_serial += 1
        if self._thread is None:
            self._thread = threading.Thread(target=_prefetch_main, args=(weakref.ref(self),),
                                            daemon=True,
                                            name=f"vellum-prefetch-{self.path.name}")
            self._thread.start()
        self._wake.set()

    def _prefetch_round(self) -> None:
        """Work through the latest hint (stops early when a newer one arrives)."""
        self._wake.clear()
        hint, serial = self._hint, self._hint_serial
        if hint is None or self._closed:
            return
        n, d = hint
        for i in range(1, (AHEAD if d > 0 else BEHIND) + 1):
            m = n + d * i
            if self._closed or serial != self._hint_serial or not 0 <= m < self.frame_count:
                break
            try:
                self._prefetch_one(m, convert=i <= AHEAD, serial=serial)
            except Exception:  # a bad frame is reported when asked for in the foreground
                break

    def _prefetch_one(self, m: int, convert: bool, serial: int) -> None:
        kind = self._cache.peek(m)
        if kind == "rgb" or (kind == "yuv" and not convert):
            return
        if kind is None:
            while self._urgent and not self._closed:
                time.sleep(0.0005)

            def stop() -> bool:
                return bool(self._urgent) or self._closed or serial != self._hint_serial

            with self._lock:
                if self._cache.peek(m) is None:
                    if self._decode(m, stop, self._keep_back) is None \
                            and self._cache.peek(m) is None:
                        return
        if convert:
            self._rgb_from_cache(m)

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
        self._cache.clear()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        g = self._geometry
        return f"VideoReader({str(self.path)!r}, {g.frame_count} frames, {g.width}x{g.height})"


def _prefetch_main(ref: weakref.ref) -> None:
    """The prefetch thread: holds its reader only while working, so a reader nobody keeps
    is collected (and this thread ends) even when it was never closed."""
    while True:
        reader = ref()
        if reader is None or reader._closed:
            return
        wake = reader._wake
        del reader
        wake.wait(0.5)
        reader = ref()
        if reader is None or reader._closed:
            return
        reader._prefetch_round()
        del reader


def open_video(path: str | Path, cache_bytes: int | None = None,
               verify: str = "auto", progress: Any = None) -> VideoReader:
    """Open a video for frame-accurate reading; :class:`BadInputError` or
    :class:`UnsupportedFormatError` (one sentence naming the file) when it cannot be read.

    ``cache_bytes`` caps the decoded-frame cache (None: :func:`default_cache_bytes`, 1 GiB or
    ``$VELLUM_FRAME_CACHE_MB``). ``verify`` decides how the index is built
    the first time (then it is cached): ``"needed"`` demuxes only, decoding what demuxing
    cannot tell; ``"auto"`` (default) also decodes every frame once when that is quick
    (about a thousand million pixels: ~500 frames of 1080p), which finds damage that hides
    from the demuxer; ``"always"`` decodes every frame. ``progress(done, total)`` is called
    while building."""
    return VideoReader(path, cache_bytes=cache_bytes, verify=verify, progress=progress)
