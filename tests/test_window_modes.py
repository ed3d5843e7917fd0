"""The export report the COCO job returns is what the window shows."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from tools_scene import window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")


def test_the_window_shows_what_the_export_job_reports(window, qtbot, tmp_path):
    from app.widgets import exchange

    s = window
    s.key(Qt.Key.Key_4)  # lane: a polyline, which COCO cannot hold as a polygon
    s.key(Qt.Key.Key_L)
    for p in ((20, 30), (100, 40)):
        s.canvas_click(*p)
    s.key(Qt.Key.Key_Return)
    out = tmp_path / "out.json"
    exchange.export_coco(s.win, out)
    qtbot.waitUntil(out.exists, timeout=10000)
    qtbot.waitUntil(lambda: "Wrote" in s.win.statusBar().currentMessage(), timeout=5000)
    text = s.win.statusBar().currentMessage()
    assert str(out) in text and f"{len(json.loads(out.read_text())['images'])} images" in text
    assert "1 polyline(s) are kept in images[].attributes.vellum_polylines" in text
