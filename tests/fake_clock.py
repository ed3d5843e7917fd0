"""A clock that moves only when a test moves it, for code that reads ``time.monotonic``.

Playback (:class:`app.widgets.video.frames.Playback`) reads ``time.monotonic`` through its
module's ``time``; :func:`install` puts a :class:`FakeClock` there, so a test decides how much
time has passed and asserts exact frame numbers instead of wall-clock durations.
"""

from __future__ import annotations

import threading


class FakeClock:
    """``monotonic()`` returns the time the test set; ``advance`` may be called from any
    thread (a fake decoder that "takes" time)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += float(seconds)


def install(monkeypatch) -> FakeClock:
    """Give the video playback module a fake clock (only that module: key handling keeps the
    real one)."""
    from app.widgets.video import frames

    clock = FakeClock()
    monkeypatch.setattr(frames, "time", clock)
    return clock
