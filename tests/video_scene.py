"""The real main window on a project holding one image and a tiny H.264 clip made with PyAV
(the demo's car clip: 72 frames, 24 fps, 320x240, a red car whose box on frame n is
``app.demo_media.car_box(n)``), driven with real keys and clicks (imported by
tests/test_video_mode*.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.core.commands import SetSchema
from app.core.document import Document
from app.core.schema import LabelClass
from tools_scene import LEFT, NOMOD, WindowScene

SHIFT = Qt.KeyboardModifier.ShiftModifier
K = Qt.Key


class VideoScene(WindowScene):
    """A :class:`WindowScene` whose project has ``img0.png`` and ``clip`` (the video, shown)."""

    def __init__(self, qtbot, tmp_path: Path, write=None, name: str = "clip.mp4") -> None:
        from app.demo_media import write_demo_video
        from app.io.ingest import add_media

        super().__init__(qtbot, tmp_path, images=1, open_project=False)
        self.clip = self.path.parent / name
        (write or write_demo_video)(self.clip)
        with Document.open(self.path) as doc:
            add_media(doc, [self.clip])
            doc.execute(SetSchema(doc.schema.with_class(
                LabelClass("braking", "#3cb44b", ("event",), id="braking"))))
        self.open(self.path)
        self.key(K.Key_End)
        self.video = next(m for m in self.doc.media() if m.kind.value == "video")
        self.wait_frame(0)

    # ------------------------------------------------------------------ video
    @property
    def presenter(self):
        return self.win.presenter

    @property
    def timeline(self):
        return self.presenter.timeline

    def wait_frame(self, n: int, timeout: int = 10000) -> None:
        """Until frame ``n`` is on the canvas: its picture and its place together."""
        def shown() -> bool:
            src = self.canvas.source
            return (self.state.frame == n and self.canvas.showing() == "image"
                    and src is not None and src.place == self.state.place)
        self.qtbot.waitUntil(shown, timeout=timeout)

    def reference(self, n: int) -> np.ndarray:
        """Frame ``n`` decoded by a reader of its own (what the canvas must show)."""
        from app.io.video import open_video

        with open_video(self.clip) as v:
            return np.array(v.frame(n))

    def bar_point(self, frame: int, row: str = "track") -> QPoint:
        top, bottom = self.timeline.bar.rows()[row]
        return QPoint(round(self.timeline.bar.x_of(frame)), (top + bottom) // 2)

    def bar_drag(self, a: int, b: int, mods=SHIFT) -> None:
        bar = self.timeline.bar
        QTest.mousePress(bar, LEFT, mods, self.bar_point(a))
        for f in np.linspace(a, b, 5)[1:]:
            QTest.mouseMove(bar, self.bar_point(int(round(f))))
        QTest.mouseRelease(bar, LEFT, mods, self.bar_point(b))

    def draw_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.key(K.Key_1)  # car
        self.key(K.Key_R)
        self.canvas_drag([(x0, y0), (x1, y1)])

    def boxes(self) -> list[tuple[float, float, float, float]]:
        return [a.shape.bbox() for a in self.anns("box")]

    def press_space(self) -> None:
        QTest.keyClick(self.canvas, K.Key_Space, NOMOD)


@pytest.fixture
def video(qtbot, tmp_path) -> VideoScene:
    s = VideoScene(qtbot, tmp_path)
    yield s
    s.win.close()
