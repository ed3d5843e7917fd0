"""Cyclic garbage collection runs on the UI thread only once a window exists
(app/widgets/ui_gc.py): a worker thread that allocates past the collector's threshold never
collects (which could free a PySide object there and deadlock with Qt); the UI thread's timer
does, with the collector's own thresholds."""

from __future__ import annotations

import gc
import threading

import pytest

pytest.importorskip("pytestqt")


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_window_moves_collection_to_the_ui_thread(qtbot):
    from app.widgets import ui_gc
    from app.widgets.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    collector = ui_gc.install()
    assert collector is not None and ui_gc.install() is collector  # once per process
    assert not gc.isenabled()
    collected_on: list[str] = []

    def note(phase: str, info: dict) -> None:
        if phase == "start":
            collected_on.append(threading.current_thread().name)
    gc.callbacks.append(note)
    try:
        def churn() -> None:  # a worker allocating well past generation 0's threshold
            for _ in range(50_000):
                Cycle()
        worker = threading.Thread(target=churn, name="worker")
        worker.start()
        worker.join()
        assert "worker" not in collected_on
        before = collector.collections
        qtbot.waitUntil(lambda: collector.collections > before, timeout=5000)
        assert collected_on and set(collected_on) == {threading.main_thread().name}
    finally:
        gc.callbacks.remove(note)
