"""Render the main window with the demo project in every tool, offscreen, to PNG files.

Usage: ``python scripts/screenshots.py [OUT_DIR] [--scale 2]`` (default ``screenshots/``).
Runs offscreen unless a display is set and ``--window`` is given (e.g. under ``xvfb-run``).
Also renders the light theme, the shortcut sheet, the class dialog, an unreadable image and
the welcome page, so every state a user sees can be looked at.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="screenshots")
    ap.add_argument("--scale", type=float, default=1.0, help="device pixel ratio (high-DPI)")
    ap.add_argument("--window", action="store_true", help="use the real display (Xvfb)")
    args = ap.parse_args()
    if not args.window:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    tmp = Path(tempfile.mkdtemp(prefix="vellum-shots-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")  # fresh QSettings
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest

    from app.demo import build_demo
    from app.widgets import theme
    from app.widgets.app import make_app

    app = make_app([sys.argv[0]])
    theme.apply_theme(app, "dark")
    from app.widgets.class_dialog import ClassDialog
    from app.widgets.main_window import MainWindow
    from app.widgets.shortcuts import ShortcutSheet, action_rows

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    project = build_demo(tmp / "demo")
    win = MainWindow(None, settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat))
    win.resize(1600, 1000)
    win.show()
    written: list[Path] = []

    def wait(ms: int = 150) -> None:
        QTest.qWait(ms)

    def shot(name: str, widget=None) -> None:  # noqa: ANN001
        wait(120)
        path = out / f"{len(written):02d}_{name}.png"
        (widget or win).grab().save(str(path))
        written.append(path)

    shot("welcome")
    win.open_project(project)
    for _ in range(100):
        if win.canvas.showing() == "image" and win.media.model.thumbnail_count() >= 6:
            break
        wait(50)
    doc = win.state.doc
    canvas = win.canvas

    def click(x: float, y: float, button=Qt.LeftButton) -> None:  # noqa: ANN001
        wx, wy = canvas.image_to_widget(x, y)
        QTest.mouseClick(canvas, button, Qt.NoModifier, QPoint(round(wx), round(wy)))

    def hover(x: float, y: float) -> None:
        wx, wy = canvas.image_to_widget(x, y)
        QTest.mouseMove(canvas, QPoint(round(wx), round(wy)))

    anns = doc.annotations(win.state.media_id)
    car = next(a for a in anns if a.kind == "box")
    for name in win.tools:
        win.state.set(selection=())
        cls = {"box": "car", "rotated_box": "car", "polygon": "road", "polyline": "lane",
               "keypoints": "person", "brush": "sky", "eraser": "sky",
               "tag": "weather"}.get(name)
        if cls:
            win.labels.choose(doc.schema.class_by_name(cls).id)
        win.set_tool(name)
        win.statusBar().clearMessage()
        win.state.set(selection=(car.id,) if name in ("select", "vertex") else ())
        if name == "polygon":  # an in-progress polygon
            for x, y in ((300, 500), (520, 470), (600, 640)):
                click(x, y)
            hover(380, 690)
        elif name == "polyline":
            for x, y in ((900, 700), (1000, 600)):
                click(x, y)
            hover(1100, 560)
        elif name in ("brush", "eraser"):
            hover(640, 150)
        elif name == "tag":  # the tag tool: a click tags the image (chip at the top left)
            click(700, 400)  # (the demo image is tagged already: this click untags it,
            click(700, 400)  # the next one tags it again and selects the tag)
            hover(760, 430)
        elif name == "box":  # the crosshair and the active class at the cursor
            hover(430, 470)
        else:
            hover(car.shape.x + car.shape.w / 2, car.shape.y + car.shape.h / 2)
        shot(f"tool_{name}")
        if name == "box":
            shot("status_bar_active_class", win.statusBar())
        if canvas.tool is not None:
            canvas.tool.cancel()
    win.set_tool("select")
    sky = next(a for a in anns if a.kind == "mask")
    win.state.set(selection=(sky.id,))
    shot("mask_selected")
    win.state.set(selection=())
    win.set_outlines_only(True)
    shot("outlines_only")
    win.set_outlines_only(False)
    win.state.set(selection=(car.id,))
    win.step_media(1)
    for _ in range(60):
        if win.canvas.showing() == "image":
            break
        wait(50)
    shot("parking_next_image")
    theme.apply_theme(app, "light")
    win.step_media(1)
    wait(400)
    shot("light_theme")
    theme.apply_theme(app, "dark")
    sections = [(t, action_rows(a)) for t, a in win.sections.items()]
    sections.insert(1, ("Classes", [(c.name, c.hotkey) for c in doc.schema.classes if c.hotkey]))
    sheet = ShortcutSheet(sections, win)
    sheet.show()
    shot("shortcut_sheet", sheet)
    sheet.close()
    dialog = ClassDialog(doc.schema, doc.schema.class_by_name("person"), win)
    dialog.show()
    shot("class_dialog", dialog)
    dialog.close()
    dialog = ClassDialog(doc.schema, doc.schema.class_by_name("car"), win)  # attributes
    dialog.show()
    shot("class_dialog_attributes", dialog)
    dialog.close()
    broken = doc.folder / "images" / "05_title.png"
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    win.frames.clear()
    win.jump_media(4)
    clock = time.monotonic()
    while canvas.showing() != "message" and time.monotonic() - clock < 10:
        wait(20)
    print(f"unreadable image reported after {(time.monotonic() - clock) * 1000:.0f} ms; "
          f"running jobs: {[j.label for j in win.jobs.running()]}", file=sys.stderr)
    shot("unreadable_image")
    win.close()
    shutil.rmtree(tmp, ignore_errors=True)
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
