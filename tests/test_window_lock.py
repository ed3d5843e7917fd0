"""One editor per project: the window takes the edit lock when it opens a project. A second
window opens it read-only and says so plainly, follows the first one's edits, and becomes
editable once the first closes; the CLI is refused while a window edits."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.io.images import write_png
from tools_scene import WindowScene, activate, window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")


def second_window(qtbot, s: WindowScene):
    from PySide6.QtCore import QSettings

    from app.widgets.main_window import MainWindow

    w = MainWindow(None, settings=QSettings(str(s.tmp_path / "second.ini"),
                                            QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    assert w.open_project(s.path)
    qtbot.waitUntil(lambda: w.canvas.showing() == "image", timeout=10000)
    activate(w)
    return w


def test_a_second_window_is_read_only_follows_edits_and_takes_over(window, qtbot):
    s = window
    w2 = second_window(qtbot, s)  # the first window has not edited yet: it took the lock on open
    assert w2.status.read_only.isVisible() and "(read-only)" in w2.windowTitle()
    assert "open for editing elsewhere" in w2.status.read_only.toolTip()
    QTest.keyClick(w2.canvas, Qt.Key.Key_R)
    p0 = QPoint(*map(int, w2.canvas.image_to_widget(20, 20)))
    p1 = QPoint(*map(int, w2.canvas.image_to_widget(80, 70)))
    QTest.mousePress(w2.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p0)
    QTest.mouseMove(w2.canvas, p1)
    QTest.mouseRelease(w2.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p1)
    assert w2.state.annotations() == []
    assert "Read-only" in w2.statusBar().currentMessage()

    activate(s.win)
    s.key(Qt.Key.Key_R)
    s.canvas_drag([(20, 20), (70, 60)])
    (box,) = s.anns("box")
    activate(w2)  # looking at the second window shows what the first saved
    assert [a.id for a in w2.state.annotations()] == [box.id]
    assert w2.objects.tree.topLevelItemCount() == 1

    s.win.close()  # the editor goes away: the second window takes over at its next look
    activate(w2)
    w2.access.poll()
    assert not w2.state.read_only and not w2.status.read_only.isVisible()
    QTest.keyClick(w2.canvas, Qt.Key.Key_V)
    QTest.keyClick(w2.canvas, Qt.Key.Key_Tab)  # selects the box
    QTest.keyClick(w2.canvas, Qt.Key.Key_Delete)
    assert w2.state.annotations() == []
    w2.close()


def test_the_cli_is_refused_while_a_window_edits(window, tmp_path, capsys):
    from app.cli import main

    s = window
    extra = tmp_path / "extra.png"
    write_png(extra, np.zeros((20, 30, 3), np.uint8))
    code = main(["add", str(s.path), str(extra)])
    err = capsys.readouterr().err
    assert code != 0 and "open for editing elsewhere" in err and "Traceback" not in err
    assert len(s.doc.media()) == 3
