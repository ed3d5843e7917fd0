"""Frames of the shown video, decoded off the UI thread, and playback at the video's own pace.

:class:`FrameFeed` asks the project's one decoder (:class:`app.io.video.VideoReader`, kept
open while the video is shown) for one frame at a time through the window's job pool; the
newest request wins, so stepping quickly never queues stale work. :class:`Playback` plays at
real speed by the frames' own timestamps (variable frame rate included): on each tick it asks
for the frame due now, so when decoding cannot keep up, frames are dropped from the display;
the frame index the annotations are drawn for is always the one whose picture is shown.
Frame indices are 0-based, presentation order; times are seconds from the first displayed
frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer

from app.widgets.jobs import Jobs
from app.widgets.tiles import ImagePyramid

TICK_MS = 4  # how often playback looks at the clock


def decode(reader: Any, n: int, ahead: bool) -> tuple[np.ndarray, ImagePyramid]:
    """Frame ``n`` and its display pyramid (worker thread); ``ahead``: prefetch after it."""
    rgb = reader.frame(n)
    if ahead:
        reader.prefetch(n, 1)
    return rgb, ImagePyramid(rgb).build()


def decode_preview(proxy: Any, n: int, width: int, height: int
                   ) -> tuple[np.ndarray, ImagePyramid]:
    """Frame ``n`` of the video's display proxy (a smaller, frame-exact copy) as a pyramid
    spanning the source's ``width`` x ``height`` pixels (worker thread)."""
    rgb = proxy.frame(n)
    return rgb, ImagePyramid.reduced(rgb, width, height).build()


class FrameFeed:
    """Frames for the shown video (see the module doc); ``shown(n, rgb, pyramid, exact)`` and
    ``failed(n, exc)`` are called on the UI thread.

    Two lanes, one job each at a time: the *exact* lane decodes the source (frames for
    annotating, seconds for a far jump on long-GOP files), the *preview* lane reads the
    video's prepared proxy (``attach(reader, proxy)``: a smaller frame-exact copy, tens of ms
    for any frame). The newest request wins: a frame with a ready proxy chunk shows its preview
    first, then its exact picture once nothing newer is asked for; while playing
    (``streaming``) or dragging the timeline (``scrubbing``) previews are enough, every decoded
    frame is shown as it comes, and the exact picture follows when the motion stops. With no
    proxy the exact lane does everything, as before. ``exact=False`` pictures have no
    pixels for tools: the surface's picture is set with the exact one."""

    def __init__(self, jobs: Jobs, shown: Callable[..., None],
                 failed: Callable[[int, Exception], None]) -> None:
        self.jobs, self._shown, self._failed = jobs, shown, failed
        self.reader: Any = None
        self.proxy: Any = None
        self.size = (0, 0)  # the source frame's (width, height)
        self.token = 0
        self.want: int | None = None
        self.inflight: int | None = None  # exact lane
        self.preview_inflight: int | None = None
        self.last: tuple[int, bool] | None = None  # (frame, exact) of the picture shown last
        self.streaming = False  # playing
        self.scrubbing = False  # a drag on the timeline

    def attach(self, reader: Any, proxy: Any = None) -> None:
        """Decode from ``reader`` (and show previews from ``proxy``) from now on (None:
        nothing is decoded)."""
        self.token += 1
        self.reader, self.want, self.inflight, self.preview_inflight = reader, None, None, None
        self.last = None
        self.proxy = None
        self.set_proxy(proxy)

    def set_proxy(self, proxy: Any) -> None:
        """Use ``proxy`` (its ready chunks) for previews from now on (None: no previews)."""
        self.proxy = proxy
        if self.reader is not None and proxy is not None:
            geo = self.reader.geometry
            self.size = (int(geo.width), int(geo.height))

    @property
    def busy(self) -> bool:
        return self.inflight is not None or self.preview_inflight is not None

    @property
    def moving(self) -> bool:
        return self.streaming or self.scrubbing

    def request(self, n: int) -> None:
        """Show frame ``n`` (again, if it is the one shown)."""
        self.want = n
        if self.last == (n, True):
            self.last = None
        self._pump()

    def settle(self) -> None:
        """Motion stopped (pause): nothing more is asked for, except the exact picture of a
        frame whose preview is shown."""
        last = self.last
        self.want = last[0] if last is not None and not last[1] else None
        self._pump()

    def set_scrubbing(self, on: bool) -> None:
        """A timeline drag began (True) or ended (False: the frame under the pointer is
        shown exactly)."""
        self.scrubbing = bool(on)
        if not on:
            self._pump()

    def _preview_ready(self, n: int) -> bool:
        proxy, reader = self.proxy, self.reader
        if proxy is None or self.size[0] <= 0:
            return False
        try:
            if n in reader.cache:  # decoded already: the exact picture is as fast
                return False
            return bool(proxy.ready(n))
        except Exception:  # noqa: BLE001 - a proxy in trouble only loses its speed-up
            return False

    def _pump(self) -> None:
        """Start what the newest request needs next (see the class doc)."""
        n = self.want
        if n is None or self.reader is None:
            return
        if self.last == (n, True):
            self.want = None
            return
        if self._preview_ready(n) and self.last != (n, False):
            if self.preview_inflight is None:
                self._start_preview(n)
            return
        if self.moving and self.last == (n, False):
            return  # previews suffice while moving
        if self.inflight is None:
            self._start(n)

    def _start_preview(self, n: int) -> None:
        proxy, token, (w, h) = self.proxy, self.token, self.size
        self.preview_inflight = n
        self.jobs.start(f"Preview {n}", lambda job: decode_preview(proxy, n, w, h),
                        on_done=lambda r: self._preview_done(token, n, r, None),
                        on_error=lambda exc: self._preview_done(token, n, None, exc),
                        visible=False)

    def _preview_done(self, token: int, n: int, result: Any, exc: Exception | None) -> None:
        if token != self.token:
            return
        self.preview_inflight = None
        if exc is not None:  # the proxy failed this frame: decode it from the source
            self.proxy = None
        elif n == self.want or self.moving:
            self.last = (n, False)
            self._shown(n, *result, False)
        self._pump()

    def _start(self, n: int) -> None:
        reader, token, ahead = self.reader, self.token, self.streaming
        self.inflight = n
        self.jobs.start(f"Frame {n}", lambda job: decode(reader, n, ahead),
                        on_done=lambda r: self._done(token, n, r, None),
                        on_error=lambda exc: self._done(token, n, None, exc), visible=False)

    def _done(self, token: int, n: int, result: Any, exc: Exception | None) -> None:
        if token != self.token:
            return
        self.inflight = None
        want = self.want
        # while moving, a late exact frame is not shown over a newer preview
        newer_preview = self.last is not None and not self.last[1] and self.last[0] != n
        if n == want or (self.moving and not newer_preview):
            if n == want:
                self.want = None
            if exc is None:
                self.last = (n, True)
                self._shown(n, *result, True)
            else:
                self.last = None
                self._failed(n, exc)
        self._pump()


class Playback(QObject):
    """Plays from the shown frame at real speed (see the module doc). ``frame()`` is the frame
    shown now, ``go(n)`` asks for a frame, ``busy()`` whether one is being decoded."""

    def __init__(self, frame: Callable[[], int], go: Callable[[int], None],
                 busy: Callable[[], bool], changed: Callable[[bool], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._frame, self._go, self._busy, self._changed = frame, go, busy, changed
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.times: np.ndarray = np.zeros(1)
        self.last = 0
        self.speed = 1.0
        self._t0 = 0.0
        self._s0 = 0.0
        self.shown: list[tuple[float, int]] = []  # (clock s, frame) of every frame shown

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def set_video(self, times: np.ndarray, last: int) -> None:
        self.stop()
        self.times = np.asarray(times, np.float64)
        self.last = int(last)

    def start(self) -> None:
        if self.playing or self.last <= 0:
            return
        f = self._frame()
        if f >= self.last:
            f = 0
            self._go(0)
        self._t0 = time.monotonic()
        self._s0 = float(self.times[f]) if f < len(self.times) else 0.0
        self.shown = []
        self.timer.start()
        self._changed(True)

    def stop(self) -> None:
        if self.playing:
            self.timer.stop()
            self._changed(False)

    def toggle(self) -> None:
        self.stop() if self.playing else self.start()

    def set_speed(self, speed: float, now: float | None = None) -> None:
        """Play at ``speed`` times real time (0.25-4); while playing, from where it is now."""
        speed = min(max(float(speed), 0.25), 4.0)
        if self.playing:
            t = time.monotonic() if now is None else now
            self._s0 += (t - self._t0) * self.speed
            self._t0 = t
        self.speed = speed

    def due(self, now: float | None = None) -> int:
        """The frame whose time has come (its timestamp at or before the clock)."""
        t = self._s0 + ((time.monotonic() if now is None else now) - self._t0) * self.speed
        i = int(np.searchsorted(self.times, t + 1e-9, side="right")) - 1
        return min(max(i, 0), self.last)

    def note_shown(self, frame: int) -> None:
        if self.playing:
            self.shown.append((time.monotonic(), frame))
            if frame >= self.last:
                self.stop()

    def _tick(self) -> None:
        target = self.due()
        if target != self._frame() and not self._busy():
            self._go(target)
