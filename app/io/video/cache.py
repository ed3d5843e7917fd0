"""A thread-safe LRU of decoded frames, bounded by bytes.

Entries are either ``"rgb"`` (a read-only display-orientation array, ready to show) or
``"yuv"`` (the decoder's own frame, half the bytes, converted on first use).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class FrameCache:
    """Frame index -> (kind, value); evicts least recently used entries past ``cap_bytes``."""

    def __init__(self, cap_bytes: int) -> None:
        self.cap_bytes = max(int(cap_bytes), 0)
        self._items: OrderedDict[int, tuple[str, Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

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
        with self._lock:
            old = self._items.pop(n, None)
            if old is not None:
                self._bytes -= old[2]
            if nbytes > self.cap_bytes:
                return
            self._items[n] = (kind, value, nbytes)
            self._bytes += nbytes
            while self._bytes > self.cap_bytes and self._items:
                _, (_, _, size) = self._items.popitem(last=False)
                self._bytes -= size

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
