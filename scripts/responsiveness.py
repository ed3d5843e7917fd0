"""Run ``vellum --demo`` for real and measure how long the UI thread is ever blocked.

Usage: ``xvfb-run -a python scripts/responsiveness.py [--shot window.png] [--budget 100]``.
Goes through the real entry point (``app.cli.main(["--demo"])``) with fresh settings and user
data; a 5 ms QTimer heartbeat records every gap between ticks while a script opens the demo,
steps through every image, zooms with the wheel and pans. Prints start-up times and the
longest gap per phase; exits 1 when a gap exceeds the budget (milliseconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shot", help="save a grab of the window here")
    ap.add_argument("--budget", type=float, default=100.0, help="longest allowed gap, ms")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vellum-resp-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")
    os.environ["XDG_DATA_HOME"] = str(tmp / "data")  # the demo is built fresh

    from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    import app.widgets.app as gui
    from app.cli import main as cli_main

    gaps: dict[str, float] = {}
    state = {"phase": "start-up", "last": 0.0, "ok": True}
    marks: dict[str, float] = {"imports": (time.perf_counter() - T0) * 1000}

    def tick() -> None:
        now = time.perf_counter()
        gap = (now - state["last"]) * 1000
        state["last"] = now
        gaps[state["phase"]] = max(gaps.get(state["phase"], 0.0), gap)

    def phase(name: str) -> None:
        tick()
        state["phase"] = name

    def window():
        from app.widgets.main_window import MainWindow

        return next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))

    def steps():
        win = window()
        marks["window shown"] = (time.perf_counter() - T0) * 1000
        phase("opening the demo")
        while win.canvas.showing() != "image":
            yield 20
        marks["demo on screen"] = (time.perf_counter() - T0) * 1000
        phase("switching images")
        for _ in range(len(win.state.doc.media()) + 1):
            win.step_media(1)
            yield 250
        win.jump_media(0)
        while win.canvas.showing() != "image":
            yield 20
        phase("zooming and panning")
        canvas = win.canvas
        centre = QPointF(canvas.width() / 2, canvas.height() / 2)
        for i in range(24):
            delta = 120 if i < 16 else -120
            ev = QWheelEvent(centre, canvas.mapToGlobal(centre), QPoint(), QPoint(0, delta),
                             Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
            QApplication.sendEvent(canvas, ev)
            canvas.repaint()
            yield 30
        for i in range(20):
            canvas.set_view(canvas.zoom(), canvas._ox - 15, canvas._oy - 9)
            canvas.repaint()
            yield 16
        yield 300  # the layer is refined after the gesture
        phase("done")
        if args.shot:
            win.grab().save(args.shot)
        win.close()

    make_app = gui.make_app

    def instrumented(argv=None):
        app = make_app(argv)
        marks["QApplication"] = (time.perf_counter() - T0) * 1000
        beat = QTimer(app)
        beat.timeout.connect(tick)
        state["last"] = time.perf_counter()
        beat.start(5)
        gen = steps()

        def advance() -> None:
            try:
                QTimer.singleShot(next(gen), advance)
            except StopIteration:
                pass
        QTimer.singleShot(0, advance)
        return app

    gui.make_app = instrumented
    rc = cli_main(["--demo"])
    for name, ms in marks.items():
        print(f"{name:>18}: {ms:7.0f} ms after start")
    for name, ms in gaps.items():
        flag = ("   (building the window, before it is shown)" if name == "start-up" else
                "" if ms <= args.budget else "   <-- over budget")
        state["ok"] &= ms <= args.budget or name == "start-up"
        print(f"longest UI-thread gap, {name:>20}: {ms:6.0f} ms{flag}")
    return rc or (0 if state["ok"] else 1)


if __name__ == "__main__":
    sys.exit(main())
