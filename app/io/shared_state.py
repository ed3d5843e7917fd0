"""A process-wide state that nested and concurrent blocks share (the garbage collector paused,
descriptor 2 pointed at ``/dev/null``): the first block to begin sets it, the last one to end
undoes it. Re-entrant and thread-safe."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class SharedState:
    """``begin()`` sets the state and returns what ``end(saved)`` needs to undo it; each is
    called once per outermost block, under a lock."""

    def __init__(self, begin: Callable[[], Any], end: Callable[[Any], None]) -> None:
        self._begin, self._end = begin, end
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: Any = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Run the block with the state set (by this block or one still running)."""
        with self._lock:
            if self._depth == 0:
                self._saved = self._begin()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    saved, self._saved = self._saved, None
                    self._end(saved)
