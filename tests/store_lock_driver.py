"""Driver for test_store_locks: holds a project open in this process (a Document, or the real
main window), edits it, exports COCO the way the window's Ctrl+E does (a second connection on
a worker thread), tells the test, waits for it to run another process on the project, edits
more, prints what /proc/self/fd points at, then idles until killed.

Usage: python tests/store_lock_driver.py (doc|window) PROJECT OUT_JSON SETTINGS_INI

Protocol (stdout, one line each): ``exported`` after the export; after a line on stdin,
``edited N`` per later edit and ``fds <json list of link targets>``, then ``idle``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EDITS_AFTER = 3


def say(line: str) -> None:
    """One line to the real stdout (the window's device probe may swap sys.stdout)."""
    sys.__stdout__.write(line + "\n")
    sys.__stdout__.flush()


def fd_targets() -> list[str]:
    """Where this process's open descriptors point (``... (deleted)`` for unlinked files)."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink(f"/proc/self/fd/{name}"))
        except OSError:
            continue
    return out


def box(doc, n: int):
    from app.core.annotations import Annotation
    from app.core.places import Place
    from app.core.shapes import Box

    item = doc.media()[0]
    return Annotation(Place(item.id), Box(5.0 + n, 5.0 + n, 20.0, 10.0),
                      doc.schema.classes[0].id)


class _InlineJobs:
    """Runs a window job's work function on a worker thread, as ``Jobs.start`` does."""

    def start(self, label, fn, on_done=None, on_error=None):
        from app.widgets.jobs import Job

        result: dict = {}

        def run() -> None:
            try:
                result["value"] = fn(Job(label, True))
            except BaseException as exc:  # noqa: BLE001 - handed to on_error below
                result["error"] = exc

        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        if "error" in result:
            (on_error or print)(result["error"])
        elif on_done:
            on_done(result["value"])


def run_doc(project: str, out: str) -> int:
    """A long-lived Document in this process, and the window's own export code path."""
    from app.core.commands import Put
    from app.core.document import Document
    from app.widgets import exchange

    doc = Document.open(project)
    doc.execute(Put((box(doc, 0),)))
    win = SimpleNamespace(state=SimpleNamespace(doc=doc), jobs=_InlineJobs(),
                          statusBar=lambda: SimpleNamespace(showMessage=lambda *a: None),
                          error=lambda text: say(f"error {text}"))
    exchange.export_coco(win, Path(out))
    say("exported")
    sys.stdin.readline()
    for n in range(EDITS_AFTER):
        doc.execute(Put((box(doc, n + 1),)))
        say(f"edited {n + 1}")
    say("fds " + json.dumps(fd_targets()))
    say("idle")
    threading.Event().wait()
    return 0


def run_window(project: str, out: str, ini: str) -> int:
    """The real main window: boxes drawn with the mouse, export by the Ctrl+E key."""
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QFileDialog

    from app.widgets.app import make_app
    from app.widgets.main_window import MainWindow

    app = make_app([sys.argv[0]])
    QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (out, "COCO JSON (*.json)"))
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

    def draw(n: int) -> int:
        x0, y0 = 10 + 12 * n, 10 + 7 * n
        p0 = QPoint(*map(round, canvas.image_to_widget(x0, y0)))
        p1 = QPoint(*map(round, canvas.image_to_widget(x0 + w // 4, y0 + h // 5)))
        QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, p0)
        for t in (0.25, 0.5, 0.75, 1.0):
            QTest.mouseMove(canvas, p0 + (p1 - p0) * t)
        QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, p1)
        return len([a for a in doc.annotations(win.state.media_id) if a.kind == "box"])

    draw(0)
    QTest.keyClick(canvas, Qt.Key_E, Qt.ControlModifier)
    for _ in range(2000):
        if Path(out).is_file() and not win.jobs.running():
            break
        QTest.qWait(10)
    say("exported")
    sys.stdin.readline()
    for n in range(EDITS_AFTER):
        say(f"edited {draw(n + 1) - 1}")
    say("fds " + json.dumps(fd_targets()))
    say("idle")
    return app.exec()


def main() -> int:
    mode, project, out, ini = sys.argv[1:5]
    return run_doc(project, out) if mode == "doc" else run_window(project, out, ini)


if __name__ == "__main__":
    sys.exit(main())
