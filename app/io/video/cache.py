"""A thread-safe LRU of decoded frames, bounded by bytes.

Entries are either ``"rgb"`` (a read-only display-orientation array, ready to show) or
``"yuv"`` (a copy of the decoder's frame, half the bytes, converted on first use).

Frames are megabytes each and come and go all the time; glibc keeps freed blocks of that size
in its heaps, so after every :data:`TRIM_BYTES` evicted the cache asks it to hand free pages
back (``malloc_trim``), keeping the process's memory near what the cache really holds.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections import OrderedDict
from typing import Any

TRIM_BYTES = 32 << 20
_libc: Any = None


def release_free_memory() -> None:
    """Return free heap pages to the OS where the C library can (glibc); else nothing."""
    global _libc
    if not sys.platform.startswith("linux"):
        return
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6")
        _libc.malloc_trim(0)
    except (OSError, AttributeError):
        _libc = False


class FrameCache:
    """Frame index -> (kind, value); evicts least recently used entries past ``cap_bytes``."""

    def __init__(self, cap_bytes: int) -> None:
        self.cap_bytes = max(int(cap_bytes), 0)
        self._items: OrderedDict[int, tuple[str, Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self._evicted = 0

    def get(self, n: int) -> tuple[str, Any] | None:
        with self._lock:
            item = self._items.get(n)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(n)
            self.hits += 1
            return item[0], item[1]

    def peek(self, n: int) -> str | None:
        """The kind held for ``n`` (no LRU update), or None."""
        with self._lock:
            item = self._items.get(n)
            return item[0] if item else None

    def put(self, n: int, kind: str, value: Any, nbytes: int) -> None:
        """Store (replacing what ``n`` held). An entry larger than the cap is not kept."""
        gone: list[Any] = []
        with self._lock:
            old = self._items.pop(n, None)
            if old is not None:
                self._bytes -= old[2]
                self._evicted += old[2]
                gone.append(old)
            if nbytes <= self.cap_bytes:
                self._items[n] = (kind, value, nbytes)
                self._bytes += nbytes
            while self._bytes > self.cap_bytes and self._items:
                _, item = self._items.popitem(last=False)
                self._bytes -= item[2]
                self._evicted += item[2]
                gone.append(item)
            trim = self._evicted >= TRIM_BYTES
            if trim:
                self._evicted = 0
        del gone  # the frames are freed here, outside the lock
        if trim:
            release_free_memory()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, n: object) -> bool:
        return n in self._items
