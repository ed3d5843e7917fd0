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

from app.core.commands import AddMedia, SetSchema
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
        self.doc.execute(AddMedia((self.media,)))
        self.doc.execute(SetSchema(self.doc.schema, make_schema()))
        self.state = EditorState(self.doc, media_id=self.media.id, class_id="car")
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
