"""Media the window cannot show yet (video, volume) say plainly that their mode is coming and
that nothing is lost, in one sentence from one place, and are not marked as broken files;
the export report the COCO job returns is what the window shows."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.core.commands import Put
from app.core.media import MediaItem, MediaKind
from app.widgets import modes
from app.widgets.media_list import ErrorRole, NoticeRole
from tools_scene import window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")


def add(s, kind: MediaKind, path: str, frames: int) -> MediaItem:
    item = MediaItem(kind=kind, path=path, fingerprint=path, size_bytes=0, width=64,
                     height=48, frames=frames, position=len(s.doc.media()))
    assert s.state.execute(Put((item,)))
    return item


@pytest.mark.parametrize("kind, path", [(MediaKind.VIDEO, "drive.mp4"),
                                        (MediaKind.VOLUME, "head.nii.gz")])
def test_video_and_volume_say_their_mode_is_coming_and_nothing_is_lost(window, qtbot, kind,
                                                                      path):
    s = window
    item = add(s, kind, path, 40)
    if modes.ready(item):
        pytest.skip(f"the {kind.value} mode shows it (tests/test_{kind.value}_mode*.py)")
    s.key(Qt.Key.Key_End)
    assert s.current_name() == path
    text = s.canvas.message()
    assert text == modes.notice(item)
    assert f"{kind.value} mode" in text and "coming" in text and "nothing is lost" in text
    assert "Cannot read" not in text and "volume view" not in text
    model = s.win.media.model
    row = model.index(model.row_of(item.id))
    qtbot.wait(50)  # (a thumbnail attempt would have failed by now)
    assert model.data(row, ErrorRole) is None
    assert model.data(row, NoticeRole) == f"{kind.value.capitalize()} mode coming"
    s.key(Qt.Key.Key_R)
    s.canvas_drag([(10, 10), (40, 30)])  # nothing can be drawn on the notice
    assert s.anns() == []
    s.key(Qt.Key.Key_Home)  # and the images still work
    s.wait_picture()
    assert s.canvas.showing() == "image"


def test_the_window_shows_what_the_export_job_reports(window, qtbot, tmp_path):
    from app.widgets import exchange

    s = window
    s.key(Qt.Key.Key_4)  # lane: a polyline, which COCO cannot hold as a polygon
    s.key(Qt.Key.Key_L)
    for p in ((20, 30), (100, 40)):
        s.canvas_click(*p)
    s.key(Qt.Key.Key_Return)
    out = tmp_path / "out.json"
    exchange.export_coco(s.win, out)
    qtbot.waitUntil(out.exists, timeout=10000)
    qtbot.waitUntil(lambda: "Wrote" in s.win.statusBar().currentMessage(), timeout=5000)
    text = s.win.statusBar().currentMessage()
    assert str(out) in text and f"{len(json.loads(out.read_text())['images'])} images" in text
    assert "1 polyline(s) are kept in images[].attributes.vellum_polylines" in text
