"""The percentile window of a volume is remembered per SAM tool, by a weak reference to the
volume (no module-level cache keyed by ``id(array)``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from app.tools import sam_protocol
from app.tools.sam_protocol import WindowMemo, window_of


def _source(values: np.ndarray) -> SimpleNamespace:
    return SimpleNamespace(volume=values, pixels=lambda: values[0])


def test_window_remembered_per_volume_and_not_by_id() -> None:
    memo = WindowMemo()
    a = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    first = window_of(_source(a), memo)
    assert memo.get(a) == first
    a[:] = 0  # same array: the remembered window stands
    assert window_of(_source(a), memo) == first
    b = np.full((10, 10, 10), 7.0, np.float32)
    assert memo.get(b) is None
    assert window_of(_source(b), memo) != first
    assert not hasattr(sam_protocol, "_AUTO")


def test_window_without_memo_is_computed() -> None:
    a = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    assert window_of(_source(a)) == window_of(_source(a), WindowMemo())
