"""Pausing Python's cyclic garbage collector during bulk work.

An export of 100,000 annotations allocates millions of small objects that live until the file
is written; each time the collector's counters fill up it walks all of them again (1-2.5 s of
a 10 s export). Nothing an exporter makes forms reference cycles that must be freed before it
ends, so the collector is paused for its duration and resumed after (reference counting still
frees everything as usual). Re-entrant and thread-safe: the collector resumes when the last
paused block ends, and only if it was running before the first one began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (see the module doc)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
