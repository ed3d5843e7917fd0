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


class FrameFeed:
    """One decode at a time, newest request wins (see the module doc). ``shown(n, rgb,
    pyramid)`` and ``failed(n, exc)`` are called on the UI thread."""

    def __init__(self, jobs: Jobs, shown: Callable[[int, np.ndarray, ImagePyramid], None],
                 failed: Callable[[int, Exception], None]) -> None:
        self.jobs, self._shown, self._failed = jobs, shown, failed
        self.reader: Any = None
        self.token = 0
        self.want: int | None = None
        self.inflight: int | None = None
        self.streaming = False  # playing: every decoded frame is shown, then the newest wanted

    def attach(self, reader: Any) -> None:
        """Decode from ``reader`` from now on (None: nothing is decoded)."""
        self.token += 1
        self.reader, self.want, self.inflight = reader, None, None

    @property
    def busy(self) -> bool:
        return self.inflight is not None

    def request(self, n: int) -> None:
        self.want = n
        if self.inflight is None and self.reader is not None:
            self._start(n)

    def settle(self) -> None:
        """Forget what was asked for and not shown yet (pause)."""
        self.want = None

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
        if n == want or self.streaming:
            if n == want:
                self.want = None
            if exc is None:
                self._shown(n, *result)
            else:
                self._failed(n, exc)
        if self.want is not None and self.want != n and self.reader is not None:
            self._start(self.want)


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
