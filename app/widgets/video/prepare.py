"""The shown video's display proxy: opened when there is one, prepared in the background when
far jumps on it would be slow.

A long-GOP file (a camera's: a keyframe every few seconds) pays a whole GOP's decode for each
far jump. :mod:`app.io.video.proxy` keeps a frame-exact smaller copy in the cache folder; the
frame feed shows its frames first (``FrameFeed.set_proxy``) and the exact source frame after.
When the shown video has no complete proxy and is worth one (:func:`worth_preparing`), a
visible, cancellable job prepares it ("Preparing NAME for fast jumps", with progress in the
jobs bar); the video stays usable meanwhile and each prepared chunk helps at once (the feed
reads a partial proxy). A cancelled or interrupted preparation resumes where it stopped the
next time the video is shown. ``$VELLUM_PREPARE_VIDEOS``: ``auto`` (default), ``always`` or
``never``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer

from app.core.errors import VellumError
from app.widgets.jobs import Job, Jobs

LONG_GOP = 48  # frames between keyframes from which far jumps are slow
MIN_FRAMES = 240  # shorter videos decode fast enough from anywhere
POLL_MS = 1000  # how often a running preparation is looked at for a first chunk


def worth_preparing(frame_count: int, keyframes: Any, width: int, height: int) -> bool:
    """Whether far jumps on a video are slow enough to prepare a proxy: its longest GOP is
    over :data:`LONG_GOP` frames (or, at 4K and above, over 12) and it has at least
    :data:`MIN_FRAMES` frames. ``$VELLUM_PREPARE_VIDEOS`` overrides (always / never)."""
    mode = os.environ.get("VELLUM_PREPARE_VIDEOS", "auto").strip().lower()
    if mode in ("never", "0", "off", "no"):
        return False
    if mode in ("always", "1", "on", "yes"):
        return frame_count > 1
    if frame_count < MIN_FRAMES:
        return False
    keys = np.unique(np.asarray(keyframes, np.int64))
    keys = keys[(keys >= 0) & (keys < frame_count)]
    edges = np.concatenate([[0], keys, [frame_count]])
    gop = int(np.diff(edges).max()) if len(edges) > 1 else frame_count
    return gop > (12 if width * height >= 3840 * 2160 else LONG_GOP)


def _open_proxy(path: Path) -> Any:
    from app.io.video.proxy import open_proxy

    return open_proxy(path)


def _build(path: Path, job: Job) -> Any:
    from app.io.video.proxy import build_proxy

    return build_proxy(path, should_stop=lambda: job.cancelled, progress=job.progress)


class ProxyPrep:
    """Finds, prepares and hands the feed the proxy of the video shown (see the module doc).
    ``attach(proxy)`` gives the feed a proxy; ``message(text)`` tells the user; ``owner``
    (a widget that lives as long as the window) owns the polling timer: no Qt object here is
    left for Python's garbage collector, which may run on a worker thread and deadlock
    there with Qt."""

    open_proxy: Callable[[Path], Any] = staticmethod(_open_proxy)

    def __init__(self, jobs: Jobs, attach: Callable[[Any], None],
                 message: Callable[[str], None], owner: QObject) -> None:
        self.jobs, self._attach, self._message = jobs, attach, message
        self.token = 0
        self.path: Path | None = None
        self.name = ""
        self.proxy: Any = None
        self.job: Job | None = None
        self._worth = False
        self.timer = QTimer(owner)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)

    def show(self, reader: Any, name: str) -> None:
        """The window now shows ``reader``'s video (called once it is open)."""
        self.leave()
        self.path, self.name = Path(reader.path), name
        geo = reader.geometry
        self._worth = worth_preparing(int(reader.frame_count), reader.keyframes,
                                      int(geo.width), int(geo.height))
        token, path = self.token, self.path
        self.jobs.start(f"Looking for {name}'s proxy", lambda job: self.open_proxy(path),
                        on_done=lambda proxy: self._found(token, proxy),
                        on_error=lambda exc: self._found(token, None), visible=False)

    def leave(self) -> None:
        """Another video (or none) is shown: a preparation stops (it resumes next time)."""
        self.token += 1
        self.timer.stop()
        if self.job is not None:
            self.job.cancel()
            self.job = None
        self.path, self.proxy = None, None

    @property
    def preparing(self) -> bool:
        return self.job is not None

    def _found(self, token: int, proxy: Any) -> None:
        if token != self.token:
            return
        self._use(proxy)
        if self._worth and (proxy is None or not proxy.complete):
            self._prepare()

    def _use(self, proxy: Any) -> None:
        if proxy is not None:
            self.proxy = proxy
            self._attach(proxy)

    def _prepare(self) -> None:
        token, path = self.token, self.path
        assert path is not None
        self.job = self.jobs.start(
            f"Preparing {self.name} for fast jumps", lambda job: _build(path, job),
            on_done=lambda info: self._prepared(token, info),
            on_error=lambda exc: self._failed(token, exc))
        self.timer.start()

    def _poll(self) -> None:
        """While preparing: hand the feed the partial proxy once its first chunk is there."""
        if self.proxy is not None or self.path is None:
            self.timer.stop()
            return
        try:
            self._use(self.open_proxy(self.path))
        except VellumError:
            self.timer.stop()

    def _prepared(self, token: int, info: Any) -> None:
        if token != self.token:
            return
        self.job = None
        self.timer.stop()
        if self.proxy is None:
            try:
                self._use(self.open_proxy(self.path))  # type: ignore[arg-type]
            except VellumError:
                pass
        if getattr(info, "complete", True):
            self._message(f"{self.name} is prepared: far jumps and timeline drags are fast.")

    def _failed(self, token: int, exc: Exception) -> None:
        if token != self.token:
            return
        self.job = None
        self.timer.stop()
        text = str(exc) if isinstance(exc, VellumError) else (
            f"{self.name} could not be prepared for fast jumps ({exc}); it plays as before.")
        self._message(text)
