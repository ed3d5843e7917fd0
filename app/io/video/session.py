"""One open demuxer + decoder walking a video forward: exact seek to frame N.

To reach frame N the session starts at the latest usable keyframe at or before N (in decode
order, and shown at or before N, so the leading pictures of an open GOP are decoded from the
GOP before), positions the demuxer exactly on that packet (seek, then verify which packet came
and skip forward without decoding), then decodes forward. Every decoded picture is identified
by the packet it came from (the packet's pts is replaced by its index before decoding; decoders
pass pts through untouched), never by its timestamp, and pictures shown before
the starting keyframe are dropped (they may lack references). When the target never comes out
the keyframe is marked unusable and an earlier one is tried, down to the start of the file.

Not thread-safe: :class:`~app.io.video.reader.VideoReader` serialises access.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.io.video.decoding import _reason, open_container, packets, video_stream
from app.io.video.index import NOPTS, FrameIndex

Sink = Callable[[int, Any], None]


class IndexMismatch(Exception):
    """The decoder disagrees with the frame index (it must be rebuilt by decoding)."""


class DecodeSession:
    """Decode frames of one video by index. ``sink(n, av_frame)`` receives every frame that
    is decoded on the way, in presentation order."""

    def __init__(self, path: Path, index: FrameIndex, thread_type: str | None = None) -> None:
        self.path, self.index = path, index
        self.thread_type = thread_type or str(index.meta.get("threads") or "AUTO")
        self._container: Any = None
        self._stream: Any = None
        self._cc: Any = None
        self._iter: Any = None
        self._pending: Any = None
        self._run = False
        self._from_start = False
        self._run_key = 0
        self._run_disp = 0
        self._next = 0  # index of the next packet to feed
        self._last_out = -1
        self._last_pkt = -1
        self._repeat = 0
        self._eof = False
        self.errors: list[tuple[int, str]] = []
        # A codec whose pictures cannot be told apart by packet (packed B-frames): frames are
        # counted as they come out, always decoding from the start.
        self.sequential = bool(index.meta.get("sequential_only")) and index.verified
        self._count = 0
        self.seeks = 0
        self.decoded = 0

    # ----------------------------------------------------------------- lifecycle
    def _open(self) -> None:
        self.close()
        self._container = open_container(self.path)
        self._stream = video_stream(self._container, self.path)
        self._cc = self._stream.codec_context
        self._cc.thread_type = self.thread_type

    def close(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
        self._container = self._stream = self._cc = self._iter = self._pending = None
        self._run = False

    # ----------------------------------------------------------------- positioning
    def _packets(self) -> Any:
        return packets(self._container, self._stream)

    def _rewind(self) -> None:
        """Reopen: the demuxer's next packet is packet 0, the decoder is fresh."""
        self._open()
        self._iter = self._packets()
        self._pending = None
        self._next = 0

    def _seek(self, k: int) -> bool:
        """Seek so that the next packet fed is packet ``k``; False when the demuxer cannot."""
        import av

        ix = self.index
        target = int(ix.pkt_pts[k]) if ix.pkt_pts[k] != NOPTS else int(ix.pkt_dts[k])
        if target == NOPTS:
            return False
        step = max(int(1.0 / float(ix.time_base)), 1)
        for _ in range(5):
            try:
                self._container.seek(target, stream=self._stream, backward=True,
                                     any_frame=False)
            except (av.error.FFmpegError, OverflowError, ValueError):
                return False
            self._cc.flush_buffers()
            self._iter = self._packets()
            try:
                first = next(self._iter)
            except (StopIteration, av.error.FFmpegError):
                return False
            at = ix.locate(first.pts, first.dts, first.pos)
            if at is not None and at <= k:
                self._pending, self._next = first, at
                return self._skip_to(k)
            target -= step
            step *= 2
        return False

    def _skip_to(self, k: int) -> bool:
        """Read (without decoding) until the pending packet is packet ``k``."""
        import av

        while self._next < k:
            try:
                p = next(self._iter)
            except (StopIteration, av.error.FFmpegError):
                return False
            at = self.index.locate(p.pts, p.dts, p.pos, hint=self._next + 1)
            if at is None:
                return False
            self._pending, self._next = p, at
        return self._next == k and self._pending is not None

    def _start_run(self, k: int) -> None:
        self.seeks += 1
        self._eof = False
        self._last_out, self._last_pkt, self._repeat = -1, -1, 0
        self._count = 0
        ok = False
        if k > 0 or self._container is not None:
            if self._container is None:
                self._open()
            ok = self._seek(k)
        if not ok:
            self._rewind()
            if k > 0 and not self._skip_first(k):
                raise IndexMismatch(f"packet {k} was not found again in {self.path}")
        self._run, self._run_key = True, k
        self._from_start = k == 0
        self._run_disp = 0 if k == 0 else int(
            self.index.key_disp[self.index.key_pkts.searchsorted(k)])

    def _skip_first(self, k: int) -> bool:
        import av

        try:
            self._pending = next(self._iter)
        except (StopIteration, av.error.FFmpegError):
            return False
        self._next = 0
        return self._skip_to(k)

    # ----------------------------------------------------------------- decoding
    def _feed(self) -> list[tuple[int, Any]]:
        """Feed one packet (or drain at the end); the frames it released, accepted ones only."""
        import av

        p = self._pending
        self._pending = None
        if p is None:
            try:
                p = next(self._iter)
            except StopIteration:
                p = None
            except av.error.FFmpegError as exc:  # demuxer gave up: treat as the end
                self.errors.append((self._next, _reason(exc)))
                p = None
            if p is not None:
                at = self.index.locate(p.pts, p.dts, p.pos, hint=self._next)
                if at is None:
                    raise IndexMismatch(f"a packet of {self.path} is not in its index")
                self._next = at
        if p is None:
            self._eof = True
            try:
                frames = self._cc.decode(None)
            except av.error.FFmpegError:
                frames = []
            return self._accept(frames)
        k = self._next
        p.pts = k  # the decoder hands it back on the picture: names the packet
        self._next = k + 1
        try:
            frames = self._cc.decode(p)
        except av.error.FFmpegError as exc:
            self.errors.append((k, _reason(exc)))
            frames = []
        return self._accept(frames)

    def _accept(self, frames: list[Any]) -> list[tuple[int, Any]]:
        ix = self.index
        out = []
        for f in frames:
            self.decoded += 1
            if self.sequential:
                n, self._count = self._count, self._count + 1
                if n < ix.frame_count:
                    self._last_out = n
                    out.append((n, f))
                continue
            k = f.pts
            if k is None or not 0 <= k < len(ix.pkt_pts):
                continue
            if k == self._last_pkt:
                self._repeat += 1
            else:
                self._last_pkt, self._repeat = k, 0
            n = int(ix.pkt_frame[k])
            if n < 0:
                continue  # discarded by an edit list or known to show nothing
            n += self._repeat
            if n >= ix.frame_count or int(ix.frame_pkt[n]) != k:
                continue
            if not self._from_start and n < self._run_disp:
                continue  # a leading picture of the starting keyframe: references missing
            if n <= self._last_out:
                raise IndexMismatch(f"frame {n} of {self.path} came out after frame "
                                    f"{self._last_out}")
            self._last_out = n
            out.append((n, f))
        return out

    def reachable(self, n: int) -> bool:
        """Frame n comes out by decoding on from here at no more cost than a fresh seek."""
        if not self._run or self._eof or n <= self._last_out:
            return False
        if self.sequential:
            return self._from_start
        if not self._from_start and n < self._run_disp:
            return False
        return self.index.start_packet(n) <= self._next

    def decode_to(self, n: int, sink: Sink, should_stop: Callable[[], bool] | None = None
                  ) -> bool:
        """Decode until frame ``n`` has gone to ``sink``; False when ``should_stop()`` said so
        first (the position is kept, a later call resumes). Raises :class:`IndexMismatch`."""
        if not self.reachable(n):
            self._start_run(0 if self.sequential else self.index.start_packet(n))
        while True:
            if should_stop is not None and should_stop():
                return False
            if self._eof:
                self._missing(n)
                continue
            got = False
            for m, f in self._feed():
                sink(m, f)
                got = got or m == n
            if got:
                return True
            if self._last_out > n:
                self._missing(n)

    def _missing(self, n: int) -> None:
        """Frame n did not come out of this run: try from an earlier keyframe."""
        if self._from_start:
            raise IndexMismatch(f"frame {n} of {self.path} was not decoded")
        self.index.mark_bad_key(self._run_key)
        self._start_run(self.index.start_packet(n))
