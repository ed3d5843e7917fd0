"""Background jobs: long work runs on a QThreadPool so the UI never waits on it.

A job is a plain function ``fn(job) -> result`` that calls ``job.progress(done, total)`` now and
then and returns early (or raises :class:`Cancelled`) when ``job.cancelled`` is set. Results and
errors come back on the UI thread through queued signals. Work functions must not touch the
Document or any widget: they compute, and the ``on_done`` callback (UI thread) executes the
command. :class:`JobsBar` shows the running job with a progress bar and a Cancel button.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from app.core.errors import VellumError


class Cancelled(Exception):
    """Raised inside a work function to stop early."""


class Job:
    """Handle shared by the work function (worker thread) and the UI."""

    def __init__(self, label: str, visible: bool) -> None:
        self.label = label
        self.visible = visible
        self._cancel = threading.Event()
        self._last_emit = 0.0
        self._signals: _Signals | None = None
        self.done = 0
        self.total = 0

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check(self) -> None:
        """Raise :class:`Cancelled` when the user asked to stop."""
        if self._cancel.is_set():
            raise Cancelled()

    def progress(self, done: int, total: int) -> None:
        """Report progress (thread-safe, throttled to ~20 updates a second)."""
        now = time.monotonic()
        if self._signals is not None and (now - self._last_emit > 0.05 or done >= total):
            self._last_emit = now
            try:
                self._signals.progressed.emit(self, int(done), int(total))
            except RuntimeError:  # its window is gone: no one to tell
                pass


class _Signals(QObject):
    progressed = Signal(object, int, int)
    finished = Signal(object, object)
    failed = Signal(object, object)


class _Runnable(QRunnable):
    def __init__(self, job: Job, fn: Callable[[Job], Any], signals: _Signals) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job, self._fn, self._signals = job, fn, signals

    def run(self) -> None:
        try:
            result = self._fn(self._job)
        except Cancelled:
            self._report("failed", Cancelled())
        except VellumError as exc:
            self._report("failed", exc)
        except Exception as exc:  # noqa: BLE001 - reported to the UI as one sentence
            traceback.print_exc()
            self._report("failed", exc)
        else:
            self._report("finished", result)

    def _report(self, signal: str, value: Any) -> None:
        """Hand the outcome to the UI thread; a job that ends after its window (and so its
        signals object) is gone has no one to tell. (The signals object stays Qt-owned and
        is deleted on the UI thread: a Python-owned one was collected on a worker thread,
        whose disconnect waited for the GIL the UI thread held while it waited for Qt's lock.)"""
        try:
            getattr(self._signals, signal).emit(self._job, value)
        except RuntimeError:  # "Signal source has been deleted"
            pass


# pools let go of by :meth:`Jobs.shutdown` while their work still ran (kept to the end)
_RUNNING_POOLS: list[QThreadPool] = []


class Jobs(QObject):
    """Runs jobs on a thread pool and calls back on the UI thread."""

    changed = Signal()  # a visible job started, progressed or ended

    def __init__(self, parent: QObject | None = None, threads: int | None = None,
                 idle: bool = False) -> None:
        """``idle``: run only on otherwise idle CPU time (thumbnails), so that on a machine
        with few cores the UI thread is never starved by them."""
        super().__init__(parent)
        self.pool = QThreadPool(self)
        if threads:
            self.pool.setMaxThreadCount(threads)
        if idle:
            self.pool.setThreadPriority(QThread.Priority.IdlePriority)
        self._signals = _Signals(self)  # owned by Qt: deleted on the UI thread with this
        self._signals.progressed.connect(self._on_progress)
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)
        self._callbacks: dict[Job, tuple[Callable | None, Callable | None]] = {}

    def start(self, label: str, fn: Callable[[Job], Any],
              on_done: Callable[[Any], None] | None = None,
              on_error: Callable[[Exception], None] | None = None,
              visible: bool = True) -> Job:
        """Run ``fn(job)`` off the UI thread; ``on_done(result)`` / ``on_error(exc)`` run on the
        UI thread (a cancelled job calls neither)."""
        job = Job(label, visible)
        job._signals = self._signals
        self._callbacks[job] = (on_done, on_error)
        self.pool.start(_Runnable(job, fn, self._signals))
        if visible:
            self.changed.emit()
        return job

    def running(self) -> list[Job]:
        return [j for j in self._callbacks if j.visible]

    def cancel_all(self) -> None:
        for job in self._callbacks:
            job.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Block until all jobs finished (tests and shutdown only)."""
        return self.pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 1000) -> None:
        """Cancel every job and wait up to ``msecs`` for them. A pool whose work is still
        running then is let go of its parent and kept until the process ends: destroying it
        with its owner would wait for that work inside Qt while holding Python's lock, which
        the work needs to finish (a deadlock seen when a window closed during a long
        thumbnail scan)."""
        self.cancel_all()
        if not self.pool.waitForDone(msecs):
            self.pool.setParent(None)
            _RUNNING_POOLS.append(self.pool)

    @Slot(object, int, int)
    def _on_progress(self, job: Job, done: int, total: int) -> None:
        job.done, job.total = done, total
        if job.visible:
            self.changed.emit()

    @Slot(object, object)
    def _on_finished(self, job: Job, result: Any) -> None:
        on_done, _ = self._callbacks.pop(job, (None, None))
        if job.visible:
            self.changed.emit()
        if on_done is not None and not job.cancelled:
            on_done(result)

    @Slot(object, object)
    def _on_failed(self, job: Job, exc: Exception) -> None:
        _, on_error = self._callbacks.pop(job, (None, None))
        if job.visible:
            self.changed.emit()
        if isinstance(exc, Cancelled) or job.cancelled:
            return
        if on_error is not None:
            on_error(exc)


class JobsBar(QWidget):
    """Status-bar strip: label, progress bar and Cancel for the newest visible job."""

    def __init__(self, jobs: Jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setMaximumHeight(16)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop this background job")
        self.cancel_button.clicked.connect(self._cancel)
        for w in (self.label, self.bar, self.cancel_button):
            lay.addWidget(w)
        jobs.changed.connect(self._refresh)
        self._refresh()

    def _current(self) -> Job | None:
        running = self._jobs.running()
        return running[-1] if running else None

    def _cancel(self) -> None:
        job = self._current()
        if job is not None:
            job.cancel()
            self.label.setText(f"{job.label}: cancelling…")

    def _refresh(self) -> None:
        job = self._current()
        self.setVisible(job is not None)
        if job is None:
            return
        more = len(self._jobs.running()) - 1
        self.label.setText(job.label + (f" (+{more} more)" if more > 0 else ""))
        if job.total > 0:
            self.bar.setRange(0, job.total)
            self.bar.setValue(min(job.done, job.total))
            self.bar.setFormat(f"{job.done}/{job.total}")
        else:
            self.bar.setRange(0, 0)  # busy indicator
