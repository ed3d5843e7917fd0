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
from contextlib import AbstractContextManager

from app.io.shared_state import SharedState


def _pause() -> bool:
    """Turn the collector off; whether it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    return was_enabled


def _resume(was_enabled: bool) -> None:
    if was_enabled:
        gc.enable()


_PAUSED = SharedState(_pause, _resume)


def gc_paused() -> AbstractContextManager[None]:
    """Run the block with the cyclic collector off (see the module doc)."""
    return _PAUSED.held()
