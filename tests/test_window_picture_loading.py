"""Opening pictures in the window (issue 15): the item F goes to next is decoded ahead (one
neighbour, in the media list's order, within a byte budget), and a huge picture the user has
moved on from neither delays the next one nor makes quitting wait for its decode.

A huge picture is played by a decode that blocks until the test lets it go (counts and events,
never the clock)."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest

from tools_scene import WindowScene, activate, make_project

pytest.importorskip("pytestqt")
K = Qt.Key


class SlowDecoder:
    """Stands in for ``read_frame``: records every decode; those of ``huge`` names wait until
    :meth:`release` (or ``limit_s``, so a wrong build cannot hang the suite)."""

    def __init__(self, real, huge=(), limit_s: float = 15.0) -> None:
        self.real, self.huge, self.limit_s = real, set(huge), limit_s
        self.started: list[str] = []
        self.finished: list[str] = []
        self._go = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, path, kind, frame=0):
        with self._lock:
            self.started.append(path.name)
        if path.name in self.huge:
            self._go.wait(self.limit_s)
        try:
            return self.real(path, kind, frame)
        finally:
            with self._lock:
                self.finished.append(path.name)

    def release(self) -> None:
        self._go.set()

    def count(self, name: str) -> int:
        return self.started.count(name)


@pytest.fixture
def decoder(monkeypatch):
    from app.widgets import loading

    made: list[SlowDecoder] = []

    def make(huge=()):
        d = SlowDecoder(loading.read_frame, huge)
        monkeypatch.setattr(loading, "read_frame", d)
        made.append(d)
        return d

    yield make
    for d in made:
        d.release()


def shown(s: WindowScene, name: str) -> bool:
    return s.current_name() == name and s.canvas.showing() == "image"


def test_the_next_item_is_decoded_ahead_once_and_shows_at_once(qtbot, tmp_path, decoder):
    d = decoder()
    s = WindowScene(qtbot, tmp_path, images=4)
    try:
        qtbot.waitUntil(lambda: "img1.png" in d.finished, timeout=10000)  # while img0 is seen
        # decoded is not yet cached: the picture is built and handed to the UI thread after
        # the decoder returns (a busy machine shows the gap)
        img1 = next(m.id for m in s.doc.media() if m.name == "img1.png")
        qtbot.waitUntil(lambda: s.win.frames.get(img1) is not None, timeout=10000)
        assert d.count("img2.png") == 0  # one neighbour, not the whole project
        s.key(K.Key_F)
        assert shown(s, "img1.png")  # no wait: it was ready
        assert d.count("img1.png") == 1
        qtbot.waitUntil(lambda: "img2.png" in d.finished, timeout=10000)
        img2 = next(m.id for m in s.doc.media() if m.name == "img2.png")
        qtbot.waitUntil(lambda: s.win.frames.get(img2) is not None, timeout=10000)
        s.key(K.Key_F)
        assert shown(s, "img2.png") and d.count("img2.png") == 1
    finally:
        s.win.close()


def test_decoding_ahead_follows_the_list_filter(qtbot, tmp_path, decoder):
    """With the list showing only unlabeled items, F goes from img0 to img3: that is the one
    to decode ahead, not img1 (next in the project)."""
    from app.core.commands import Put
    from app.core.document import Document
    from app.core.media import MediaStatus
    from dataclasses import replace

    path = make_project(tmp_path / "project", 4)
    with Document.open(path) as doc:
        done = [replace(m, status=MediaStatus.DONE) for m in doc.media()
                if m.name in ("img1.png", "img2.png")]
        doc.execute(Put(tuple(done)))
    d = decoder()
    s = WindowScene(qtbot, tmp_path / "w", images=0, open_project=False)
    try:
        s.open(path)
        box = s.win.media.status_box
        box.setCurrentIndex(box.findData(MediaStatus.UNLABELED.value))
        qtbot.waitUntil(lambda: "img3.png" in d.finished, timeout=10000)
        s.win.canvas.setFocus()
        s.key(K.Key_F)
        assert shown(s, "img3.png") and d.count("img3.png") == 1
    finally:
        s.win.close()


def test_a_huge_picture_left_behind_delays_neither_the_next_nor_quitting(qtbot, tmp_path,
                                                                         decoder):
    from app.widgets.main_window import MainWindow
    from PySide6.QtCore import QSettings

    d = decoder(huge={"img1.png", "img2.png"})
    path = make_project(tmp_path / "project", 4)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(None, settings=settings)  # not qtbot's: this test deletes it, as quit does
    win.resize(1200, 800)
    win.show()
    activate(win)
    assert win.open_project(path)
    qtbot.waitUntil(lambda: win.canvas.showing() == "image", timeout=10000)
    QTest.keyClick(win.canvas, K.Key_F)  # img1: huge, still decoding
    qtbot.waitUntil(lambda: "img1.png" in d.started, timeout=10000)
    assert win.canvas.showing() is None
    QTest.keyClick(win.canvas, K.Key_F)  # img2: huge too
    qtbot.waitUntil(lambda: "img2.png" in d.started, timeout=10000)
    QTest.keyClick(win.canvas, K.Key_F)  # img3: shows while both decodes still run
    qtbot.waitUntil(lambda: win.canvas.showing() == "image", timeout=10000)
    name = win.state.doc.media_item(win.state.media_id).name
    assert name == "img3.png"
    assert "img1.png" not in d.finished and "img2.png" not in d.finished
    win.close()  # quit: the window goes while the huge decodes still run
    win.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert "img1.png" not in d.finished and "img2.png" not in d.finished, \
        "quitting waited for a decode nobody wanted"
    d.release()
    qtbot.waitUntil(lambda: {"img1.png", "img2.png"} <= set(d.finished), timeout=10000)


def test_the_decoded_pictures_kept_fit_a_byte_budget(qtbot, tmp_path, decoder, monkeypatch):
    """With room for two pictures, going back three items decodes again (memory is bounded by
    bytes, not only by a count of pictures whatever their size)."""
    from app.widgets import loading
    from tools_scene import H, W

    monkeypatch.setattr(loading, "CACHE_BYTES", 2 * loading.picture_bytes(W, H)
                        if hasattr(loading, "picture_bytes") else 2 * W * H * 4,
                        raising=False)
    d = decoder()
    s = WindowScene(qtbot, tmp_path, images=4)
    try:
        for name in ("img1.png", "img2.png", "img3.png"):
            s.key(K.Key_F)
            qtbot.waitUntil(lambda n=name: shown(s, n), timeout=10000)
        assert d.count("img0.png") == 1
        s.key(K.Key_Home)
        qtbot.waitUntil(lambda: shown(s, "img0.png"), timeout=10000)
        assert d.count("img0.png") == 2
    finally:
        s.win.close()
