"""Where the window is, and stays: undo of an edit on another image shows that image first;
adding media keeps the current image; Ctrl+S says every edit is already saved; reopening a
project starts where the user left it; switching projects leaves no stale cursor or zoom."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.io.images import write_png
from tools_scene import WindowScene, make_project, window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")
CTRL = Qt.KeyboardModifier.ControlModifier


def wheel(canvas, steps: int = 2) -> None:
    at = QPointF(canvas.width() / 2, canvas.height() / 2)
    ev = QWheelEvent(at, canvas.mapToGlobal(at), QPoint(0, 0), QPoint(0, 120 * steps),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, ev)


def test_undo_of_an_edit_on_another_image_shows_that_image_first(window):
    s = window
    s.key(Qt.Key.Key_R)
    s.canvas_drag([(20, 20), (70, 60)])  # a box on img0
    (box,) = s.anns("box")
    s.key(Qt.Key.Key_F)
    s.key(Qt.Key.Key_F)
    s.wait_picture()
    assert s.current_name() == "img2.png"
    s.key(Qt.Key.Key_Z, CTRL)
    assert s.current_name() == "img0.png", "the undo happened out of sight"
    assert s.doc.annotation(box.media_id, box.id) is None
    assert "img0.png" in s.win.statusBar().currentMessage()
    s.key(Qt.Key.Key_F)
    s.key(Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)  # redo, again in view
    assert s.current_name() == "img0.png"
    assert s.doc.annotation(box.media_id, box.id) is not None


def test_adding_media_keeps_the_current_image(window, qtbot, tmp_path):
    s = window
    s.key(Qt.Key.Key_F)
    assert s.current_name() == "img1.png"
    folder = tmp_path / "more"
    for n in range(3):
        write_png(folder / f"extra{n}.png", np.full((50, 60, 3), 90 + n, np.uint8))
    s.win.drop_paths([str(folder)])
    qtbot.waitUntil(lambda: len(s.doc.media()) == 6, timeout=10000)
    assert s.current_name() == "img1.png"
    s.key(Qt.Key.Key_F)
    assert s.current_name() == "img2.png", "F jumped to the first image"


def test_ctrl_s_says_every_edit_is_saved_with_the_time_of_the_last_commit(window):
    s = window
    s.key(Qt.Key.Key_R)
    s.canvas_drag([(20, 20), (70, 60)])
    s.key(Qt.Key.Key_S, CTRL)
    text = s.win.statusBar().currentMessage()
    assert text.startswith("Saved — every edit is saved as you make it")
    assert re.search(r"\d\d:\d\d:\d\d", text)
    assert re.search(r"\d\d:\d\d:\d\d", s.win.status.saved.text())


def test_reopening_starts_where_the_user_left(qtbot, tmp_path):
    s = WindowScene(qtbot, tmp_path)
    s.key(Qt.Key.Key_F)
    s.key(Qt.Key.Key_F)
    s.wait_picture()
    wheel(s.canvas, 3)
    zoom, centre = s.canvas.zoom(), s.canvas.center()
    s.win.close()
    from app.widgets.main_window import MainWindow  # a fresh window on the same project

    w = MainWindow(None, settings=s.settings)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    assert w.open_project(s.path)
    qtbot.waitUntil(lambda: w.canvas.showing() == "image", timeout=10000)
    name = w.state.doc.media_item(w.state.media_id).name
    assert name == "img2.png", "reopening started at image 1"
    assert w.canvas.zoom() == pytest.approx(zoom)
    assert w.canvas.center() == pytest.approx(centre, abs=0.5)
    w.close()


def test_switching_projects_leaves_no_stale_cursor_or_zoom(window, tmp_path):
    s = window
    fitted = s.canvas.zoom()
    s.hover(50, 40)
    wheel(s.canvas, 4)
    assert s.win.status.cursor.text() and s.canvas.zoom() > 2 * fitted
    empty = make_project(tmp_path / "empty", images=0)
    s.open(empty)
    assert s.win.status.cursor.text() == "" and s.win.status.zoom.text() == "—"
    other = make_project(tmp_path / "other", images=1)
    s.open(other)
    s.wait_picture()
    assert s.canvas.auto_fitted() and s.canvas.zoom() == pytest.approx(fitted)  # not the old
    assert s.win.status.zoom.text() == f"{s.canvas.zoom() * 100:.0f}%"


def test_an_undo_that_brings_an_image_into_view_selects_only_that_image(window):
    """Ctrl is still held when Ctrl+Z shows the other image: it must not join a selection
    (found driving the real window under Xvfb)."""
    s = window
    s.key(Qt.Key.Key_R)
    s.canvas_drag([(20, 20), (70, 60)])
    s.key(Qt.Key.Key_F)
    s.key(Qt.Key.Key_Z, CTRL)
    assert s.current_name() == "img0.png"
    assert [m.name for m in s.win.media.selected_items()] == ["img0.png"]
