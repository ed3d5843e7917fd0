"""Building a display proxy: every frame of the exact reader, scaled down and re-encoded in
short independent H.264 chunks (see :mod:`app.io.video.proxy_store` for the layout).

Frames come from :meth:`VideoReader.frames` (edit lists, rotation, VFR, open GOP handled
there), so proxy frame N is source frame N by construction. Each picture is scaled with
``cv2.INTER_AREA`` to the proxy size (longest side at most :data:`MAX_SIDE` px, never larger
than the source, even width and height) and encoded as H.264 4:4:4 (libx264, no B-frames, a
keyframe every :data:`KEYINT` frames, so a jump decodes at most ``KEYINT`` small pictures).
4:4:4 because 4:2:0 at the proxy size halves the chroma detail the scaled source still has
(measured: 28-30 dB against the scaled source on grainy 1080p, 37-41 dB with 4:4:4). Colour
goes RGB <-> full-range BT.601 YCbCr (JFIF, as OpenCV's ``COLOR_RGB2YCrCb`` computes it; the
stream is tagged so), converted by OpenCV on both sides: 1-1.5 ms a 720p picture where
swscale's YUV 4:4:4 path takes 3.5 ms, and 53 dB for the conversion round trip.

A build resumes: complete chunks are kept (a chunk is renamed into place only when whole),
the others are built. ``should_stop()`` is asked between frames; ``progress(done, total)``
counts frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from app.core.errors import BadInputError, VellumError
from app.io.video.proxy_store import (Manifest, UseLock, chunk_path, complete_chunks, evict,
                                      folder_bytes, load_manifest, proxy_folder, touch_used,
                                      read_chunk_header, try_build_lock, write_chunk)

MAX_SIDE = 1280  # px, the longest side of a proxy picture
CHUNK_FRAMES = 256
KEYINT = 8
PROGRESS_EVERY = 8  # frames between progress calls within a chunk
ENCODER = {"name": "libx264", "pix_fmt": "yuv444p", "preset": "veryfast", "crf": 21,
           "keyint": KEYINT, "bframes": 0, "scale": "cv2.INTER_AREA",
           "colour": "bt601-full-cv2"}
COLOR_RANGE_FULL, COLORSPACE_BT601 = 2, 5  # AVCOL_RANGE_JPEG, AVCOL_SPC_BT470BG


def rgb_to_planes(rgb: Any) -> Any:
    """RGB uint8 (h, w, 3) -> (3, h, w) Y, Cb, Cr planes, full-range BT.601 (JFIF)."""
    import cv2
    import numpy as np

    y, cr, cb = cv2.split(cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb))
    return np.stack([y, cb, cr])


def planes_to_rgb(planes: Any) -> Any:
    """The inverse of :func:`rgb_to_planes`: (3, h, w) Y, Cb, Cr -> RGB uint8 (h, w, 3)."""
    import cv2

    return cv2.cvtColor(cv2.merge([planes[0], planes[2], planes[1]]), cv2.COLOR_YCrCb2RGB)


@dataclass
class ProxyInfo:
    """The outcome of :func:`build_proxy`. Sizes in px, ``bytes`` on disk, ``seconds`` of
    this call; ``chunks_built`` counts chunks encoded by this call (resumed ones are not)."""

    path: str
    folder: str
    frame_count: int
    done_frames: int
    width: int
    height: int
    source_width: int
    source_height: int
    chunk_count: int
    chunks_built: int
    bytes: int
    seconds: float
    complete: bool
    stopped: bool = False
    missing: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def proxy_size(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """Proxy size for a ``width`` x ``height`` displayed source: the longest side at most
    ``max_side`` px, never upscaled, both even (at least 2)."""
    s = min(1.0, max_side / max(width, height, 1))

    def even(v: float, cap: int) -> int:
        e = max(2, int(v / 2 + 0.5) * 2)
        return e - 2 if e > cap and e > 2 else e

    return even(width * s, width), even(height * s, height)


def _encoder(width: int, height: int) -> Any:
    import av

    cc = av.CodecContext.create(ENCODER["name"], "w")
    cc.width, cc.height, cc.pix_fmt = width, height, ENCODER["pix_fmt"]
    cc.time_base = Fraction(1, 30)
    cc.color_range, cc.colorspace = COLOR_RANGE_FULL, COLORSPACE_BT601
    k = ENCODER["keyint"]
    cc.options = {"preset": ENCODER["preset"], "crf": str(ENCODER["crf"]),
                  "x264-params": f"keyint={k}:min-keyint={k}:scenecut=0:bframes=0:"
                                 "repeat-headers=1:rc-lookahead=0:sync-lookahead=0:log=-1"}
    cc.open()
    return cc


class _ChunkEncoder:
    """Encodes one chunk: one packet per frame, in order."""

    def __init__(self, width: int, height: int) -> None:
        self.cc = _encoder(width, height)
        self.packets: list[bytes] = []
        self.keys: list[int] = []
        self.count = 0

    def _take(self, packets: Any) -> None:
        for p in packets:
            if p.is_keyframe:
                self.keys.append(len(self.packets))
            self.packets.append(bytes(p))

    def add(self, rgb: Any) -> None:
        import av

        f = av.VideoFrame.from_ndarray(rgb_to_planes(rgb), format=ENCODER["pix_fmt"])
        f.color_range, f.colorspace = COLOR_RANGE_FULL, COLORSPACE_BT601
        f.pts = self.count
        self.count += 1
        self._take(self.cc.encode(f))

    def finish(self) -> tuple[list[bytes], list[int]]:
        self._take(self.cc.encode(None))
        self.cc = None
        if len(self.packets) != self.count:
            raise VellumError(f"The proxy encoder gave {len(self.packets)} pictures for "
                              f"{self.count} frames.")
        return self.packets, self.keys


def build_proxy(path: str | Path, should_stop: Callable[[], bool] | None = None,
                progress: Callable[..., None] | None = None) -> ProxyInfo:
    """Build (or resume) the display proxy of ``path``; see the module docstring. Returns
    what is on disk now (``complete`` False when stopped). :class:`VellumError` in one
    sentence for a file that cannot be read, another process building the same proxy, or a
    proxy that does not fit ``$VELLUM_PROXY_MB``."""
    from app.core.media import fingerprint
    from app.io.video import open_video
    from app.io.video.decoding import require_video_file

    t0 = time.perf_counter()
    path = Path(path)
    require_video_file(path)
    with open_video(path, cache_bytes=64 << 20) as reader:
        try:
            fp = fingerprint(path)
        except OSError as exc:
            raise BadInputError(f"{path} cannot be read ({exc.strerror}).", path) from exc
        g = reader.geometry
        w, h = proxy_size(g.width, g.height)
        want = Manifest(fingerprint=fp, frame_count=reader.frame_count, width=w, height=h,
                        source_width=g.width, source_height=g.height,
                        chunk_frames=CHUNK_FRAMES, codec="h264", encoder=dict(ENCODER))
        folder = proxy_folder(fp)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock = try_build_lock(folder)
        except OSError as exc:
            raise VellumError(f"Cannot prepare {path}: the cache folder {folder} cannot be "
                              f"written ({exc.strerror}).", path) from exc
        if lock is None:
            raise VellumError(f"{path} is being prepared by another Vellum process; wait for "
                              f"it to finish.", path)
        use = UseLock(folder)
        try:
            return _build(reader, path, folder, want, should_stop, progress, t0)
        finally:
            use.release()
            lock.close()


def _fresh_folder(folder: Path, want: Manifest) -> Manifest:
    """The manifest to build under: the one on disk when it is the same recipe, else a new
    one (chunks of an older recipe or of damaged files are removed)."""
    have = load_manifest(folder, want.fingerprint)
    for p in folder.iterdir():
        if p.name.startswith(".chunk-") and p.name.endswith(".tmp"):
            p.unlink(missing_ok=True)  # a chunk cut short by a crash: never complete
    if have is not None and have.same_recipe(want):
        for k in complete_chunks(folder, have):  # a chunk damaged on disk is built again
            try:
                with open(chunk_path(folder, k), "rb") as f:
                    whole = read_chunk_header(f, have.fingerprint, k, have) is not None
            except OSError:
                whole = False
            if not whole:
                chunk_path(folder, k).unlink(missing_ok=True)
        return have
    for p in folder.iterdir():
        if p.name.startswith("chunk-") or p.name == "manifest.json":
            p.unlink(missing_ok=True)
    want.save(folder)
    return want


def _build(reader: Any, path: Path, folder: Path, want: Manifest,
           should_stop: Callable[[], bool] | None, progress: Callable[..., None] | None,
           t0: float) -> ProxyInfo:
    m = _fresh_folder(folder, want)
    done_chunks = complete_chunks(folder, m)
    todo = [k for k in range(m.chunk_count) if k not in done_chunks]
    done = sum(m.frames_in(k) for k in done_chunks)
    missing = set(m.missing)
    if progress is not None:
        progress(done, m.frame_count)
    built = 0
    stopped = False
    over = 0
    for run in _runs(todo):
        status = _build_run(reader, path, folder, m, run, should_stop, progress, done,
                            missing)
        built += status["built"]
        done += status["frames"]
        if status["stopped"] or status["over"]:
            stopped, over = True, status["over"]
            break
    complete = not stopped and len(complete_chunks(folder, m)) == m.chunk_count
    if complete and (not m.complete or sorted(missing) != m.missing):
        m.complete, m.missing = True, sorted(missing)
        m.save(folder)
    touch_used(folder)
    if over:
        raise VellumError(f"The proxy of {path} does not fit the proxy budget "
                          f"(VELLUM_PROXY_MB={_budget_mb()}); {done} of {m.frame_count} frames "
                          f"are prepared. Raise VELLUM_PROXY_MB to prepare the rest.", path)
    return ProxyInfo(path=str(path), folder=str(folder), frame_count=m.frame_count,
                     done_frames=done, width=m.width, height=m.height,
                     source_width=m.source_width, source_height=m.source_height,
                     chunk_count=m.chunk_count, chunks_built=built,
                     bytes=folder_bytes(folder), seconds=time.perf_counter() - t0,
                     complete=complete, stopped=stopped, missing=sorted(missing))


def _budget_mb() -> int:
    from app.io.video.proxy_store import budget_bytes

    return budget_bytes() >> 20


def _runs(ks: list[int]) -> list[list[int]]:
    """Consecutive runs of chunk numbers."""
    out: list[list[int]] = []
    for k in ks:
        if out and out[-1][-1] == k - 1:
            out[-1].append(k)
        else:
            out.append([k])
    return out


def _build_run(reader: Any, path: Path, folder: Path, m: Manifest, run: list[int],
               should_stop: Callable[[], bool] | None, progress: Callable[..., None] | None,
               done: int, missing: set[int]) -> dict[str, Any]:
    """Encode chunks ``run`` (consecutive) from one sequential pass of the reader. A frame
    the pass cannot decode is tried on its own; failing that it is recorded as missing (its
    slot holds the picture before it) and the pass restarts after it."""
    import cv2
    import numpy as np

    C = m.chunk_frames
    first, stop = run[0] * C, min((run[-1] + 1) * C, m.frame_count)
    status = {"built": 0, "frames": 0, "stopped": False, "over": 0}
    n = first
    enc: _ChunkEncoder | None = None
    chunk_missing: list[int] = []
    last: Any = None
    frames: Any = None
    try:
        while n < stop:
            if should_stop is not None and should_stop():
                status["stopped"] = True
                return status
            if frames is None:
                frames = reader.frames(n, stop)
            try:
                got = next(frames, None)
            except VellumError:
                got = None
            if got is None or got[0] != n:
                frames.close()
                frames = None
                if reader.frame_count != m.frame_count:
                    raise VellumError(f"The frames of {path} were renumbered while it was "
                                      f"prepared; prepare it again.", path)
                rgb = _one_frame(reader, n)
            else:
                rgb = got[1]
            if enc is None:
                enc, chunk_missing = _ChunkEncoder(m.width, m.height), []
            if rgb is None:
                chunk_missing.append(n)
                rgb = last if last is not None else np.zeros((m.height, m.width, 3), np.uint8)
            else:
                if rgb.shape[1] != m.width or rgb.shape[0] != m.height:
                    rgb = cv2.resize(rgb, (m.width, m.height), interpolation=cv2.INTER_AREA)
                last = rgb
            enc.add(np.ascontiguousarray(rgb))
            n += 1
            if progress is not None and n % PROGRESS_EVERY == 0 and n % C:
                progress(done + status["frames"] + n % C, m.frame_count)
            if n % C == 0 or n == stop:
                k = (n - 1) // C
                packets, keys = enc.finish()
                enc = None
                header = {"first": k * C, "count": len(packets), "keys": keys,
                          "missing": chunk_missing, "codec": m.codec, "width": m.width,
                          "height": m.height, "fingerprint": m.fingerprint}
                over = evict(sum(len(p) for p in packets) + 4096, keep=folder)
                if over:
                    status["over"] = over
                    return status
                write_chunk(folder, k, header, packets)
                missing.update(chunk_missing)
                status["built"] += 1
                status["frames"] += len(packets)
                if progress is not None:
                    progress(done + status["frames"], m.frame_count)
        return status
    finally:
        if frames is not None:
            frames.close()


def _one_frame(reader: Any, n: int) -> Any:
    """Frame n decoded on its own; None when it cannot be decoded."""
    try:
        return reader.frame(n)
    except VellumError:
        return None
