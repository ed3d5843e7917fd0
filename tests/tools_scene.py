"""A test scene for the canvas and tools (imported by tests/test_tools_*.py and test_canvas.py).

Builds a real project on disk with one image, a schema and an :class:`EditorState`, shows the
image on a real :class:`Canvas`, and drives it with real Qt mouse and key events placed by
*image* coordinates (continuous pixels, converted with ``canvas.image_to_widget``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.core.places import Place
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.media import MediaItem, MediaKind
from app.core.schema import LabelClass, LabelSchema, Skeleton

W, H = 200, 150  # image size in pixels
ZOOM, OX, OY = 4.0, 10.0, 10.0  # view used by the scene: widget = image * 4 + 10

LEFT, RIGHT, MIDDLE = (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton,
                       Qt.MouseButton.MiddleButton)
NOMOD = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def make_schema() -> LabelSchema:
    return LabelSchema(classes=(
        LabelClass("car", "#ff0000", id="car"),
        LabelClass("road", "#00c000", id="road"),
        LabelClass("person", "#0050ff", kinds=("keypoints",), id="person",
                   skeleton=Skeleton(("head", "left_hand", "right_hand"), ((0, 1), (0, 2)))),
        LabelClass("lane", "#ffff00", kinds=("polyline",), id="lane"),
    ))


class Scene:
    """A project, an editor state and a canvas showing a W x H image at zoom 4."""

    def __init__(self, qtbot, tmp_path: Path) -> None:
        from app.tools import TOOLS
        from app.tools.state import EditorState
        from app.widgets.canvas import Canvas

        self.qtbot = qtbot
        self.path = tmp_path / "project"
        self.doc = Document.create(self.path)
        self.media = MediaItem(kind=MediaKind.IMAGE, path="img.png", fingerprint="x",
                               size_bytes=0, width=W, height=H)
        self.doc.execute(Put((self.media,)))
        self.doc.execute(SetSchema(make_schema()))
        self.state = EditorState(self.doc, place=Place(self.media.id), class_id="car")
        self.canvas = Canvas(self.state)
        qtbot.addWidget(self.canvas)
        self.canvas.resize(900, 700)
        self.canvas.show()
        rng = np.random.default_rng(1)
        self.image = rng.integers(60, 120, (H, W, 3), dtype=np.uint8)
        self.canvas.show_image(self.image)
        self.canvas.set_view(ZOOM, OX, OY)
        self.tools = {cls.name: cls(self.state) for cls in TOOLS}

    # ------------------------------------------------------------------ tools
    def use(self, name: str):
        self.canvas.set_tool(self.tools[name])
        return self.tools[name]

    # ------------------------------------------------------------------ input by image coords
    def at(self, x: float, y: float) -> QPoint:
        """The widget pixel whose centre is nearest image point (x, y)."""
        wx, wy = self.canvas.image_to_widget(x, y)
        return QPoint(int(math.floor(wx)), int(math.floor(wy)))

    def press(self, x: float, y: float, button=LEFT, mods=NOMOD) -> None:
        QTest.mousePress(self.canvas, button, mods, self.at(x, y))

    def move(self, x: float, y: float, mods=NOMOD) -> None:
        QTest.mouseMove(self.canvas, self.at(x, y))

    def release(self, x: float, y: float, button=LEFT, mods=NOMOD) -> None:
        QTest.mouseRelease(self.canvas, button, mods, self.at(x, y))

    def click(self, x: float, y: float, button=LEFT, mods=NOMOD) -> None:
        QTest.mouseClick(self.canvas, button, mods, self.at(x, y))

    def double_click(self, x: float, y: float) -> None:
        """What a real double click delivers: press, release, double-click, release."""
        self.click(x, y)
        QTest.mouseDClick(self.canvas, LEFT, NOMOD, self.at(x, y))
        QTest.mouseRelease(self.canvas, LEFT, NOMOD, self.at(x, y))

    def drag(self, points, button=LEFT, mods=NOMOD, steps: int = 4) -> None:
        """Press at the first point, move through the rest (``steps`` moves per leg), release."""
        self.press(*points[0], button=button, mods=mods)
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            for i in range(1, steps + 1):
                t = i / steps
                self.move(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
        self.release(*points[-1], button=button, mods=mods)

    def key(self, key, mods=NOMOD) -> None:
        QTest.keyClick(self.canvas, key, mods)

    # ------------------------------------------------------------------ checking
    def anns(self, kind: str | None = None):
        return [a for a in self.state.annotations() if kind is None or a.kind == kind]

    def on_disk(self, kind: str | None = None):
        """Annotations of the image as a freshly opened copy of the project reads them."""
        with Document.open(self.path) as doc2:
            return [a for a in doc2.annotations(self.media.id)
                    if kind is None or a.kind == kind]

    def pixel(self, x: float, y: float) -> tuple[int, int, int]:
        """Rendered RGB at image point (x, y)."""
        img = self.canvas.grab().toImage()
        p = self.at(x, y)
        c = img.pixelColor(p.x(), p.y())
        return (c.red(), c.green(), c.blue())


@pytest.fixture
def scene(qtbot, tmp_path) -> Scene:
    s = Scene(qtbot, tmp_path)
    yield s
    s.doc.close()


def near(a: float, b: float, tol: float = 0.3) -> bool:
    """Equal within the precision of a mouse click at zoom 4 (0.25 image px)."""
    return abs(a - b) <= tol


# ---------------------------------------------------------------------- the whole window
def make_project(folder: Path, images: int = 3, size: tuple[int, int] = (W, H),
                 sizes: dict[int, tuple[int, int]] | None = None) -> Path:
    """A project folder with ``images`` small PNGs ``img0.png``... (``size`` = width, height;
    ``sizes`` gives some images another size) and the demo's classes (attributes of every
    type, hotkeys 1-9, a tag class); returns its project file."""
    from app.demo import demo_schema
    from app.io.images import write_png
    from app.io.ingest import add_media

    rng = np.random.default_rng(7)
    for n in range(images):
        w, h = (sizes or {}).get(n, size)
        write_png(folder / "images" / f"img{n}.png",
                  rng.integers(40, 200, (h, w, 3), dtype=np.uint8))
    with Document.create(folder) as doc:
        doc.execute(SetSchema(demo_schema()))
        if images:
            add_media(doc, [folder / "images"])
        return doc.path


class WindowScene:
    """The real main window on a small project, driven like a user: keys go to whichever
    widget has the keyboard focus (as on a desktop), clicks land on real widgets."""

    def __init__(self, qtbot, tmp_path: Path, images: int = 3, open_project: bool = True,
                 sizes: dict[int, tuple[int, int]] | None = None) -> None:
        from PySide6.QtCore import QSettings

        from app.widgets.main_window import MainWindow

        self.qtbot, self.tmp_path = qtbot, tmp_path
        self.settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        self.path = make_project(tmp_path / "project", images, sizes=sizes)
        self.win = MainWindow(None, settings=self.settings)
        qtbot.addWidget(self.win)
        self.win.resize(1200, 800)
        self.win.show()
        activate(self.win)
        if open_project:
            self.open(self.path)

    # ------------------------------------------------------------------ project
    @property
    def doc(self) -> Document:
        return self.win.state.doc

    @property
    def state(self):
        return self.win.state

    @property
    def canvas(self):
        return self.win.canvas

    def open(self, path: Path) -> None:
        assert self.win.open_project(path)
        if self.doc.media():
            self.wait_picture()

    def wait_picture(self) -> None:
        """Until the current item's picture (or the message standing in for it) is shown."""
        self.qtbot.waitUntil(lambda: self.canvas.showing() is not None, timeout=10000)

    def media_names(self) -> list[str]:
        return [m.name for m in self.doc.media()]

    def current_name(self) -> str | None:
        mid = self.state.media_id
        return self.doc.media_item(mid).name if mid else None

    # ------------------------------------------------------------------ keyboard
    def focus(self):
        from PySide6.QtWidgets import QApplication

        return QApplication.focusWidget() or self.win

    def key(self, key, mods=NOMOD) -> None:
        """Press and release ``key`` where a real keyboard would send it: the focus widget."""
        QTest.keyClick(self.focus(), key, mods)

    def type(self, text: str) -> None:
        """Type ``text`` one key at a time into whatever has the focus (a cell's editor
        opens on the first key and takes the rest)."""
        for ch in text:
            QTest.keyClicks(self.focus(), ch)

    # ------------------------------------------------------------------ mouse
    def click(self, widget, pos: QPoint | None = None, button=LEFT, mods=NOMOD) -> None:
        QTest.mouseClick(widget, button, mods, pos if pos is not None else widget.rect().center())

    def click_media_row(self, row: int) -> None:
        view = self.win.media.view
        rect = view.visualRect(view.model().index(row, 0))
        self.click(view.viewport(), rect.center())

    def click_object_row(self, row: int, column: int = 2) -> None:
        tree = self.win.objects.tree
        tree.scrollToItem(tree.topLevelItem(row))
        rect = tree.visualItemRect(tree.topLevelItem(row))
        x = tree.header().sectionPosition(column) + tree.header().sectionSize(column) // 2
        self.click(tree.viewport(), QPoint(x, rect.center().y()))

    def click_class_row(self, name: str, column: int = 0) -> None:
        tree = self.win.labels.tree
        item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                    if tree.topLevelItem(i).text(0) == name)
        tree.scrollToItem(item)  # as the user scrolls to it
        rect = tree.visualItemRect(item)
        head = tree.header()
        x = head.sectionPosition(column) + head.sectionSize(column) // 2
        self.click(tree.viewport(), QPoint(x, rect.center().y()))

    def at(self, x: float, y: float) -> QPoint:
        wx, wy = self.canvas.image_to_widget(x, y)
        return QPoint(int(math.floor(wx)), int(math.floor(wy)))

    def canvas_drag(self, points, button=LEFT, mods=NOMOD, steps: int = 4) -> None:
        """Press, move and release on the canvas at image points (x, y)."""
        QTest.mousePress(self.canvas, button, mods, self.at(*points[0]))
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            for i in range(1, steps + 1):
                t = i / steps
                QTest.mouseMove(self.canvas, self.at(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
        QTest.mouseRelease(self.canvas, button, mods, self.at(*points[-1]))

    def canvas_click(self, x: float, y: float, button=LEFT, mods=NOMOD) -> None:
        QTest.mouseClick(self.canvas, button, mods, self.at(x, y))

    def hover(self, x: float, y: float) -> None:
        QTest.mouseMove(self.canvas, self.at(x, y))

    def anns(self, kind: str | None = None):
        return [a for a in self.state.annotations() if kind is None or a.kind == kind]

    def grab(self):
        """The canvas as the user sees it (QImage)."""
        return self.canvas.grab().toImage()

    def rgb(self, img, p: QPoint) -> tuple[int, int, int]:
        c = img.pixelColor(p.x(), p.y())
        return (c.red(), c.green(), c.blue())


@pytest.fixture
def window(qtbot, tmp_path) -> WindowScene:
    s = WindowScene(qtbot, tmp_path)
    yield s
    s.win.close()


def activate(window) -> None:
    """Make a shown top-level widget the active window, as clicking it on a desktop does."""
    from PySide6.QtWidgets import QApplication

    window.windowHandle().requestActivate()
    for _ in range(100):
        if QApplication.activeWindow() is window:
            return
        QTest.qWait(10)


def in_dialog(qtbot, open_it, fill, timeout_ms: int = 5000) -> None:
    """Open a modal dialog with ``open_it()`` (a click on a real button) and, once it is up,
    run ``fill(dialog)`` on it (clicks and keys); a failure inside closes the dialog and is
    raised here, so a broken dialog never hangs the test."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    errors: list[BaseException] = []
    seen: list[object] = []

    def run() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, run)
            return
        seen.append(dialog)
        activate(dialog)  # as a window manager would: keys now go to the dialog
        try:
            fill(dialog)
            if dialog.isVisible():
                note = getattr(getattr(dialog, "error", None), "text", lambda: "")()
                raise AssertionError(f"the dialog is still open after fill ({note!r})")
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)
            dialog.reject()

    before = QApplication.activeWindow()
    QTimer.singleShot(0, run)
    open_it()
    qtbot.waitUntil(lambda: bool(seen), timeout=timeout_ms)
    if before is not None and before.isVisible():
        activate(before)  # the window manager gives the keyboard back to the window
    if errors:
        raise errors[0]
