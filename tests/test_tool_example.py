"""How to add a tool (ARCHITECTURE.md): ``tests/ellipse_tool.py``, one file named in
``$VELLUM_TOOLS``, is in the window's toolbar and draws - through the surface each pointer
event carries, with nothing else touched - on a photo, on a video frame (where the video's
surface makes it a track) and on each of the three panes of a volume (at that pane's slice,
in that pane's picture pixels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.core.shapes import Polygon
from tools_scene import LEFT, NOMOD

pytest.importorskip("pytestqt")

BOX = ((20.5, 14.5), (60.5, 30.5))  # the dragged box's corners (picture px)


def _check(ann, place) -> None:
    """An ellipse polygon inscribed in BOX at ``place``."""
    assert ann is not None and ann.place == place and isinstance(ann.shape, Polygon)
    pts = np.asarray(ann.shape.exterior)
    assert len(pts) == 32
    lo, hi = pts.min(0), pts.max(0)  # the dragged box, to the screen pixel the drag hit
    assert np.allclose(lo, BOX[0], atol=1.0) and np.allclose(hi, BOX[1], atol=1.0)
    c, r = (lo + hi) / 2, (hi - lo) / 2
    assert np.allclose((((pts - c) / r) ** 2).sum(1), 1.0, atol=0.02)  # on the ellipse


def _drag(canvas, a, b) -> None:
    def at(p):
        wx, wy = canvas.image_to_widget(*p)
        return QPoint(int(math.floor(wx)), int(math.floor(wy)))

    QTest.mousePress(canvas, LEFT, NOMOD, at(a))
    for t in (0.25, 0.5, 0.75, 1.0):
        QTest.mouseMove(canvas, at((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)))
    QTest.mouseRelease(canvas, LEFT, NOMOD, at(b))


def test_a_tool_in_one_file_draws_on_a_photo_a_video_frame_and_every_volume_pane(
        qtbot, tmp_path, monkeypatch):
    from app.demo_media import write_demo_ct
    from app.io.ingest import add_media
    from video_scene import VideoScene

    monkeypatch.setenv("VELLUM_TOOLS", "ellipse_tool")
    s = VideoScene(qtbot, tmp_path)  # the video is shown, at frame 0
    try:
        win, doc = s.win, s.doc
        assert win.tool_actions["ellipse"] in win.tool_bar.actions()  # toolbar and Tools menu
        win.tool_actions["ellipse"].trigger()
        assert win.canvas.tool is win.tools["ellipse"]
        s.key(Qt.Key.Key_1)  # a class

        # a video frame: the video's surface makes the drawn shape a new track
        _drag(win.canvas, *BOX)
        frame = s.state.place
        drawn = [a for a in doc.annotations(frame) if a.kind == "polygon"]
        assert len(drawn) == 1 and drawn[0].track_id is not None
        _check(drawn[0], frame)
        assert doc.undo_label == "Draw ellipse (new track)"

        # a photo
        photo = next(m for m in doc.media() if m.kind.value == "image")
        win.show_media(photo.id)
        s.wait_picture()
        _drag(win.canvas, *BOX)
        (on_photo,) = [a for a in doc.annotations(s.state.place) if a.kind == "polygon"]
        _check(on_photo, s.state.place)
        assert on_photo.track_id is None

        # each pane of a volume: the shape lands at that pane's slice (its array axis)
        ct = add_media(doc, [write_demo_ct(tmp_path / "ct")]).added[0]
        win.show_media(ct.id)
        qtbot.waitUntil(lambda: getattr(win.presenter, "session", None) is not None,
                        timeout=20000)
        session = win.presenter.session
        qtbot.waitUntil(lambda: session.panes["axial"].canvas.isVisible(), timeout=5000)
        QApplication.processEvents()
        for name, pane in session.panes.items():
            assert pane.canvas.tool is win.tools["ellipse"]  # one tool set per window
            place = pane.surface.place
            _drag(pane.canvas, *BOX)
            (here,) = [a for a in doc.annotations(place) if a.kind == "polygon"]
            _check(here, place)
            assert place.axis == pane.axis and place.media_id == ct.id
    finally:
        s.win.close()
