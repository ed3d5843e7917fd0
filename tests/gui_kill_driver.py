"""Driver for test_gui_kill: opens a project in the real main window, draws boxes through
real mouse events on the canvas, prints one line per committed shape, then idles until killed.

Usage: python tests/gui_kill_driver.py PROJECT SETTINGS_INI COUNT
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def say(line: str) -> None:
    """One line to the real stdout: the window's background device probe swaps sys.stdout for
    a buffer while onnxruntime talks (contextlib.redirect_stdout is process-wide), and a
    print() on this thread at that moment would vanish into it."""
    sys.__stdout__.write(line + "\n")
    sys.__stdout__.flush()


def main() -> int:
    project, ini, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest

    from app.widgets.app import make_app
    from app.widgets.main_window import MainWindow

    app = make_app([sys.argv[0]])
    win = MainWindow(None, settings=QSettings(ini, QSettings.IniFormat))
    win.resize(1200, 800)
    win.show()
    if not win.open_project(project):
        return 2
    for _ in range(200):
        if win.canvas.showing() == "image":
            break
        QTest.qWait(25)
    win.set_tool("box")
    doc, canvas = win.state.doc, win.canvas
    win.labels.choose(doc.schema.classes[0].id)
    w, h = win.state.image_size
    for n in range(count):
        x0, y0 = 10 + 12 * n, 10 + 7 * n
        x1, y1 = x0 + w // 4, y0 + h // 5
        p0 = QPoint(*map(round, canvas.image_to_widget(x0, y0)))
        p1 = QPoint(*map(round, canvas.image_to_widget(x1, y1)))
        QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, p0)
        for t in (0.25, 0.5, 0.75, 1.0):
            QTest.mouseMove(canvas, p0 + (p1 - p0) * t)
        QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, p1)
        boxes = [a for a in doc.annotations(win.state.media_id) if a.kind == "box"]
        b = boxes[-1].shape
        say(f"committed {len(boxes)} {b.x:.3f} {b.y:.3f} {b.w:.3f} {b.h:.3f}")
    say("idle")
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
