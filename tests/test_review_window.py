"""Review mode in the real window, driven with real clicks and keys: Ctrl+Return accepts and
goes on to the next unreviewed object, Reject stores the typed reason, a comment pinned by a
click shows a pin on the canvas and stays after reopening, a filter narrows the queue."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from tools_scene import CTRL, WindowScene

from app.core.annotations import Annotation
from app.core.commands import Put
from app.core.document import Document
from app.core.places import Place
from app.core.review import ObjectState, Verdict
from app.core.shapes import Box

pytest.importorskip("pytestqt")


@pytest.fixture
def scene(qtbot, tmp_path):
    s = WindowScene(qtbot, tmp_path, images=2)
    doc = s.doc
    first, second = doc.media()
    car = doc.schema.class_by_name("car")
    person = doc.schema.class_by_name("person")
    s.boxes = [Annotation(place=Place(first.id), shape=Box(10, 10, 30, 30), class_id=car.id,
                          id="a1", attributes={"color": "red"}),
               Annotation(place=Place(first.id), shape=Box(60, 60, 30, 30), class_id=car.id,
                          id="a2"),
               Annotation(place=Place(second.id), shape=Box(20, 20, 40, 40),
                          class_id=person.id, id="b1", source="det", score=0.8)]
    doc.execute(Put(tuple(s.boxes)))
    dock = next(d for d in s.win.docks if d.objectName() == "dock_review_queue")
    dock.toggleViewAction().trigger()  # View ▸ Review queue
    qtbot.waitUntil(lambda: s.win.review.isVisible())
    s.panel = s.win.review
    yield s
    s.win.close()


def _click_row(scene, lst, row: int) -> None:
    item = lst.item(row)
    lst.scrollToItem(item)
    scene.click(lst.viewport(), lst.visualItemRect(item).center())


def _texts(lst) -> list[str]:
    return [lst.item(i).text() for i in range(lst.count())]


def test_ctrl_return_accepts_and_goes_to_the_next_unreviewed(scene, qtbot):
    panel = scene.panel
    assert panel.places.count() == 2
    _click_row(scene, panel.places, 0)
    assert scene.state.selection == ("a1",)
    scene.key(Qt.Key.Key_Return, CTRL)
    assert scene.doc.object_reviews()["a1"].state == ObjectState.ACCEPTED
    assert scene.state.selection == ("a2",)
    scene.key(Qt.Key.Key_Return, CTRL)
    # the last object of the first image: the queue goes on to the second image
    qtbot.waitUntil(lambda: scene.state.media_id == scene.doc.media()[1].id)
    assert scene.state.selection == ("b1",)
    assert set(scene.doc.object_reviews()) == {"a1", "a2"}
    assert "accepted" in " ".join(_texts(panel.objects)) or panel.objects.count() == 1
    # the item's status did not change (Ctrl+Return outside review marks items done)
    assert scene.doc.media()[0].status.value != "done"
    scene.key(Qt.Key.Key_Z, CTRL)  # undo the last accept
    assert set(scene.doc.object_reviews()) == {"a1"}


def test_reject_with_a_typed_reason_is_stored(scene):
    panel = scene.panel
    _click_row(scene, panel.places, 0)
    _click_row(scene, panel.objects, 1)
    assert scene.state.selection == ("a2",)
    scene.click(panel.reject_button)  # no reason yet: refused
    assert "a2" not in scene.doc.object_reviews()
    scene.click(panel.reason)
    QTest.keyClicks(panel.reason, "box too loose")
    scene.click(panel.reject_button)
    r = scene.doc.object_reviews()["a2"]
    assert (r.state, r.reason) == (ObjectState.REJECTED, "box too loose")
    assert any("rejected: box too loose" in t for t in _texts(panel.objects))
    scene.click(panel.verdict_buttons[Verdict.APPROVED])
    assert scene.doc.verdicts()[scene.doc.media()[0].id].verdict.value == "approved"


def test_a_comment_pinned_by_a_click_shows_and_persists(scene, qtbot):
    panel = scene.panel
    _click_row(scene, panel.places, 0)
    scene.click(panel.comment_text)
    QTest.keyClicks(panel.comment_text, "missing mirror")
    scene.click(panel.pin_button)
    assert panel.pin_button.isChecked()
    before = scene.anns()
    scene.canvas_click(120.0, 90.0)
    (c,) = scene.doc.comments()
    assert c.text == "missing mirror" and abs(c.x - 120) <= 1 and abs(c.y - 90) <= 1
    assert scene.anns() == before  # the click pinned a comment, it drew nothing
    assert not panel.pin_button.isChecked()
    assert any("missing mirror" in t for t in _texts(panel.comments))
    # the pin is drawn above the point: its head is the pin colour
    head = scene.at(120.0, 90.0) + QPoint(0, -13)
    qtbot.waitUntil(lambda: _near(scene.rgb(scene.grab(), head), (0xff, 0xb0, 0x00)))
    _click_row(scene, panel.comments, 0)
    scene.click(panel.resolve_button)
    assert scene.doc.comments()[0].resolved
    assert _texts(panel.comments)[0].startswith("✔")
    path = scene.doc.path
    scene.win.close_project()
    with Document.open(path) as again:
        assert [(x.text, x.resolved) for x in again.comments()] == [("missing mirror", True)]
    scene.open(path)
    _click_row(scene, panel.places, 0)
    assert panel.comments.count() == 1
    _click_row(scene, panel.comments, 0)
    scene.click(panel.delete_comment_button)
    assert scene.doc.comments() == [] and panel.comments.count() == 0


def _near(a, b, tol=40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def test_a_filter_narrows_the_queue(scene):
    panel = scene.panel
    assert panel.places.count() == 2
    scene.click(panel.source)  # the source filter: "Any model"
    QTest.keyClick(panel.source.view(), Qt.Key.Key_End)
    QTest.keyClick(panel.source.view(), Qt.Key.Key_Return)
    assert panel.source.currentData() == "model"
    assert panel.places.count() == 1 and "img1" in panel.places.item(0).text()
    scene.click(panel.source)
    QTest.keyClick(panel.source.view(), Qt.Key.Key_Home)
    QTest.keyClick(panel.source.view(), Qt.Key.Key_Return)
    assert panel.places.count() == 2
    scene.click(panel.attribute)
    QTest.keyClicks(panel.attribute, "color=red")
    QTest.keyClick(panel.attribute, Qt.Key.Key_Return)
    assert panel.places.count() == 1
    _click_row(scene, panel.places, 0)
    assert _texts(panel.objects)[0].startswith("car box") and panel.objects.count() == 1
    scene.click(panel.status)  # status "Accepted": nothing accepted yet
    QTest.keyClick(panel.status.view(), Qt.Key.Key_Down)
    QTest.keyClick(panel.status.view(), Qt.Key.Key_Down)
    QTest.keyClick(panel.status.view(), Qt.Key.Key_Return)
    assert panel.status.currentData() == "accepted" and panel.places.count() == 0


def test_review_goes_to_video_frames_and_pins_comments_there(qtbot, tmp_path):
    from video_scene import VideoScene

    v = VideoScene(qtbot, tmp_path)
    try:
        car = v.doc.schema.class_by_name("car")
        v.doc.execute(Put(tuple(
            Annotation(place=Place(v.video.id, f), shape=Box(10, 10, 40, 30), class_id=car.id,
                       id=f"f{f}") for f in (5, 30))))
        dock = next(d for d in v.win.docks if d.objectName() == "dock_review_queue")
        dock.toggleViewAction().trigger()
        panel = v.win.review
        qtbot.waitUntil(panel.isVisible)
        rows = _texts(panel.places)
        assert any("frame 30" in t for t in rows), rows
        _click_row(v, panel.places, next(n for n, t in enumerate(rows) if "frame 30" in t))
        v.wait_frame(30)
        assert v.state.selection == ("f30",)
        scene_key = Qt.Key.Key_Return
        v.key(scene_key, CTRL)
        assert v.doc.object_reviews()["f30"].state == ObjectState.ACCEPTED
        v.wait_frame(5)  # the queue wraps round to the unreviewed frame 5
        assert v.state.selection == ("f5",)
        v.click(panel.comment_text)
        QTest.keyClicks(panel.comment_text, "bumper cut off")
        v.click(panel.pin_button)
        v.canvas_click(50.0, 60.0)
        (c,) = v.doc.comments()
        assert c.place == Place(v.video.id, 5) and c.text == "bumper cut off"
    finally:
        v.win.close()


def test_a_comment_pinned_on_a_volume_pane_is_at_that_slice_and_the_queue_goes_there(qtbot, tmp_path):
    import math

    from PySide6.QtWidgets import QApplication

    from app.demo_media import write_demo_ct
    from app.io.ingest import add_media

    s = WindowScene(qtbot, tmp_path, images=1)
    try:
        item = add_media(s.doc, [write_demo_ct(tmp_path / "ct")]).added[0]
        s.key(Qt.Key.Key_End)
        qtbot.waitUntil(lambda: getattr(s.win.presenter, "session", None) is not None,
                        timeout=20000)
        pane = s.win.presenter.session.panes["coronal"]
        qtbot.waitUntil(pane.canvas.isVisible, timeout=5000)
        QApplication.processEvents()
        dock = next(d for d in s.win.docks if d.objectName() == "dock_review_queue")
        dock.toggleViewAction().trigger()
        panel = s.win.review
        qtbot.waitUntil(panel.isVisible)
        s.click(panel.comment_text)
        QTest.keyClicks(panel.comment_text, "check this voxel")
        s.click(panel.pin_button)
        wx, wy = pane.canvas.image_to_widget(30.5, 8.5)
        at = QPoint(int(math.floor(wx)), int(math.floor(wy)))
        QTest.mouseClick(pane.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         at)
        (c,) = s.doc.comments()
        assert (c.media_id, c.place.axis, c.place.index) == (item.id, "j", pane.source.index)
        assert abs(c.x - 30.5) <= 1 and abs(c.y - 8.5) <= 1
        head = at + QPoint(0, -13)
        qtbot.waitUntil(lambda: _near(_rgb(pane.canvas.grab().toImage(), head),
                                      (0xff, 0xb0, 0x00)))
        assert not s.doc.labelmaps(item.id) and not s.doc.annotations(c.place)
        # the queue goes to a slice with an object: its pane moves there and is active
        car = s.doc.schema.class_by_name("car")
        target = Place(item.id, axis="k", index=7)
        s.doc.execute(Put((Annotation(place=target, shape=Box(5, 5, 20, 20), class_id=car.id,
                                      id="s7"),)))
        rows = _texts(panel.places)
        _click_row(s, panel.places, next(n for n, t in enumerate(rows) if "k=7" in t))
        assert s.win.presenter.session.panes["axial"].source.index == 7
        assert s.state.place == target and s.state.selection == ("s7",)
        s.key(Qt.Key.Key_Return, CTRL)
        assert s.doc.object_reviews()["s7"].state == ObjectState.ACCEPTED
    finally:
        s.win.close()


def _rgb(img, p: QPoint) -> tuple[int, int, int]:
    c = img.pixelColor(p.x(), p.y())
    return (c.red(), c.green(), c.blue())
