"""Keep image libraries' own messages off the terminal: Vellum says what went wrong itself.

OpenCV logs through its own logger, silenced by :func:`quiet_opencv` (the environment is not
changed, so child processes see the user's). libpng and libjpeg write warnings (``libpng
error: IHDR: CRC error``, ``Corrupt JPEG data``) straight to file descriptor 2, above the one
sentence the CLI prints: :func:`hushed` points descriptor 2 at ``/dev/null`` while a decoder
runs; nested and concurrent uses (worker threads) share one redirection, undone when the last
one leaves. Setting ``OPENCV_LOG_LEVEL`` yourself keeps every library message visible.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from app.io.shared_state import SharedState

#: Whether the user asked for OpenCV's messages (then nothing is hidden).
USER_LOG_LEVEL = "OPENCV_LOG_LEVEL" in os.environ


def quiet_opencv(cv2: object) -> None:
    """Silence OpenCV's logger (a no-op when the user set ``OPENCV_LOG_LEVEL``)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if not USER_LOG_LEVEL and logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)


@contextmanager
def hushed() -> Iterator[None]:
    """File descriptor 2 goes to ``/dev/null`` for the duration (C libraries' warnings)."""
    if USER_LOG_LEVEL:
        yield
        return
    with _HUSHED.held():
        yield


def _redirect() -> int | None:
    """Point descriptor 2 at /dev/null; the saved descriptor (None when there is no fd 2)."""
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    try:
        saved = os.dup(2)
    except OSError:
        return None
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
    except OSError:
        os.close(saved)
        return None
    return saved


def _restore(saved: int | None) -> None:
    """Point descriptor 2 back where it was (the descriptor ``_redirect`` saved)."""
    if saved is not None:
        try:
            os.dup2(saved, 2)
        finally:
            os.close(saved)


_HUSHED = SharedState(_redirect, _restore)
