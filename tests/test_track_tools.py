"""CVAT's track tools in the window's video mode, driven like an annotator with real keys and
clicks: a per-frame attribute set through the attribute editor (a keyframe of it, marked on the
timeline, kept after reopening), marking an attribute "per frame" in the class dialog, merging
and splitting tracks (one undo step each, undo gives back exactly the stored records), the
next / previous frame a track enters or leaves the view, a mask track painted with the brush,
and the frame cache size in Preferences."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox

from tools_scene import LEFT, NOMOD, in_dialog
from video_scene import SHIFT, K, video  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")
CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier


def go(s, frame: int) -> None:
    s.key(K.Key_G, CTRL)
    s.type(str(frame))
    s.key(K.Key_Return)
    s.wait_frame(frame)


def stored(s) -> tuple[dict, dict]:
    """Every stored track and annotation of the video, by id (values compare exactly)."""
    return ({t.id: t for t in s.doc.tracks(s.video.id)},
            {a.id: a for a in s.doc.annotations(s.video.id, all_frames=True)})


def click_row(s, row: int, mods=NOMOD) -> None:
    tree = s.presenter.tracks.tree
    rect = tree.visualItemRect(tree.topLevelItem(row))
    QTest.mouseClick(tree.viewport(), LEFT, mods, QPoint(rect.left() + 30, rect.center().y()))


def parked(s) -> bool:
    (a,) = s.anns("box")
    return a.attributes["parked"]


def test_a_per_frame_attribute_set_on_frame_50_holds_from_there_and_survives_reopening(video):
    s = video
    s.draw_box(20, 100, 80, 140)  # car: "parked" changes per frame, "color" is the track's
    tid = s.anns("box")[0].track_id
    go(s, 50)
    s.key(K.Key_V)
    s.canvas_click(50, 120)
    box = s.win.attributes.editors["parked"]
    assert not box.isChecked()
    QTest.mouseClick(box, LEFT, NOMOD, QPoint(box.width() // 2 if box.width() < 30 else 8,
                                              box.height() // 2))
    assert box.isChecked()
    shapes = s.presenter.index.shapes(tid)
    assert [(a.frame, a.keyframe, a.attributes) for a in shapes] == [
        (0, True, {"parked": False}), (50, True, {"parked": True})]
    assert [m.frame for m in s.timeline.bar.attr_marks] == [50]  # marked on the timeline
    assert "parked = True" in s.timeline.bar.attr_marks[0].text
    go(s, 20)
    assert not parked(s) and not s.win.attributes.editors["parked"].isChecked()
    go(s, 60)
    assert parked(s) and s.win.attributes.editors["parked"].isChecked()
    s.win.close_project()
    s.open(s.path)
    s.wait_frame(60)
    assert parked(s)
    # no click first: a key goes to the tool, which forgets the closed project's surface
    go(s, 20)
    assert not parked(s)


def test_the_class_dialog_marks_an_attribute_per_frame(video):
    s = video
    s.key(K.Key_4)  # lane: "dashed" is one value for the whole track
    assert not s.doc.schema.class_by_name("lane").attribute("dashed").dynamic

    def fill(dialog) -> None:
        box = dialog.table.cellWidget(0, 6)
        assert dialog.table.horizontalHeaderItem(6).text() == "Per frame"
        QTest.mouseClick(box, LEFT, NOMOD, QPoint(8, box.height() // 2))
        s.click(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok))

    in_dialog(s.qtbot, lambda: s.click(s.win.labels.edit_button), fill)
    assert s.doc.schema.class_by_name("lane").attribute("dashed").dynamic


def test_merge_two_tracks_from_the_track_list_then_split_with_exact_undo_and_redo(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    first = s.anns("box")[0].track_id
    go(s, 30)
    s.key(K.Key_Escape)
    s.draw_box(150, 20, 210, 60)
    second = next(a.track_id for a in s.anns("box") if a.track_id != first)
    before = stored(s)
    click_row(s, 0)
    click_row(s, 1, CTRL)  # the second track, chosen later
    assert s.presenter.tracks.chosen == [first, second]
    s.key(K.Key_M, SHIFT)
    merged = stored(s)
    assert list(merged[0]) == [first]
    assert sorted(a.frame for a in s.presenter.index.shapes(first)) == [0, 30]
    s.key(K.Key_Z, CTRL)
    assert stored(s) == before  # exactly the records that were stored
    s.key(K.Key_Z, CTRL | SHIFT)
    assert stored(s) == merged
    go(s, 40)  # split the merged track here: a new track from frame 40 on
    s.key(K.Key_V)
    s.canvas_click(180, 40)
    s.key(K.Key_M, CTRL | SHIFT)
    split = stored(s)
    assert len(split[0]) == 2
    new = next(t for t in split[0] if t != first)
    assert [(a.frame, a.outside) for a in s.presenter.index.shapes(first)] == [
        (0, False), (30, False), (40, True)]
    assert [(a.frame, a.keyframe) for a in s.presenter.index.shapes(new)] == [(40, True)]
    assert s.presenter.track_id == new
    s.key(K.Key_Z, CTRL)
    assert stored(s) == merged
    s.key(K.Key_Z, CTRL | SHIFT)
    assert stored(s) == split


def test_the_track_list_menu_and_buttons_merge_and_split(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    go(s, 10)
    s.key(K.Key_Escape)
    s.draw_box(150, 20, 210, 60)
    click_row(s, 0)
    click_row(s, 1, CTRL)
    tree = s.presenter.tracks.tree
    rect = tree.visualItemRect(tree.topLevelItem(1))
    tree.customContextMenuRequested.emit(rect.center())  # what a right-click sends
    menu = s.presenter.tracks.context_menu
    merge = next(a for a in menu.actions() if a.text().startswith("Merge"))
    assert merge.isEnabled()
    merge.trigger()
    menu.close()
    assert len(s.doc.tracks(s.video.id)) == 1
    go(s, 20)
    QTest.mouseClick(s.presenter.tracks.buttons["split"], LEFT)
    assert len(s.doc.tracks(s.video.id)) == 2


def test_next_and_previous_outside_change_by_keys_and_buttons(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    go(s, 20)
    s.key(K.Key_O)  # leaves the view on frame 20
    go(s, 30)
    s.key(K.Key_O)  # back on frame 30
    go(s, 5)
    s.key(K.Key_Period, ALT)
    s.wait_frame(20)
    s.key(K.Key_Period, ALT)
    s.wait_frame(30)
    s.key(K.Key_Period, ALT)  # no later change: stays, and says so
    assert s.state.frame == 30 and "No frame after" in s.win.statusBar().currentMessage()
    s.key(K.Key_Comma, ALT)
    s.wait_frame(20)
    QTest.mouseClick(s.timeline.buttons["out_back"], LEFT)
    s.wait_frame(0)
    QTest.mouseClick(s.timeline.buttons["out_next"], LEFT)
    s.wait_frame(20)
    QTest.mouseClick(s.timeline.buttons["key_next"], LEFT)  # keyframes: 0, 20, 30
    s.wait_frame(30)


def test_a_mask_track_painted_with_the_brush_holds_until_its_next_keyframe(video):
    s = video
    go(s, 10)
    s.key(K.Key_5)  # sky: masks
    s.key(K.Key_B)
    s.canvas_drag([(60, 40), (120, 50)])
    (mask,) = s.anns("mask")
    assert mask.track_id is not None and mask.keyframe and mask.frame == 10
    s.key(K.Key_V)  # (the brush takes Ctrl+G for its G)
    go(s, 15)
    (held,) = s.anns("mask")
    assert held.shape == mask.shape and not held.keyframe and held.track_id == mask.track_id
    assert s.state.selection == (held.id,)  # the track stays selected
    s.key(K.Key_B)
    s.canvas_drag([(60, 90), (100, 90)])  # paint more into it here: a keyframe on frame 15
    s.key(K.Key_V)
    (painted,) = s.anns("mask")
    assert painted.keyframe and painted.frame == 15 and painted.shape != mask.shape
    go(s, 12)
    assert s.anns("mask")[0].shape == mask.shape
    go(s, 40)
    assert s.anns("mask")[0].shape == painted.shape
    go(s, 9)
    assert s.anns("mask") == []
    sky = s.doc.schema.class_by_name("sky")
    img = s.grab()  # frame 9: nothing of the sky's colour where the mask lies on frame 10
    p = s.at(90, 45)
    c = img.pixelColor(p.x(), p.y())
    go(s, 15)
    img = s.grab()
    d = img.pixelColor(p.x(), p.y())
    assert (c.red(), c.green(), c.blue()) != (d.red(), d.green(), d.blue()), sky.color


def test_the_frame_cache_preference_reaches_the_next_video_opened(video, monkeypatch,
                                                                    tmp_path):
    from app.io.video.reader import CACHE_ENV, default_cache_bytes

    s = video
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert default_cache_bytes() == 1 << 30

    def fill(dialog) -> None:
        assert "next video opened" in dialog.note.text()
        dialog.cache_mb.setFocus()
        dialog.cache_mb.selectAll()
        s.type("256")
        s.click(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok))

    in_dialog(s.qtbot, s.win.built.actions["preferences"].trigger, fill)
    assert default_cache_bytes() == 256 << 20
    assert (tmp_path / "data" / "vellum" / "preferences.json").is_file()
    s.key(K.Key_PageUp)  # the photo, then the video again: opened anew
    s.key(K.Key_PageDown)
    s.qtbot.waitUntil(lambda: s.presenter.reader is not None, timeout=10000)
    assert s.presenter.reader.cache_bytes == 256 << 20
    monkeypatch.setenv(CACHE_ENV, "64")  # the environment wins
    assert default_cache_bytes() == 64 << 20


class _LosesItAt:
    """A segmentation session that keeps the prompt's mask until frame ``lost`` of the video,
    where its predicted IoU falls to 0.1 (the model lost the object)."""

    def __init__(self, mask, lost: int) -> None:
        self.mask, self.lost, self.frame = mask, lost, -1

    def encode(self, rgb, place, fingerprint=None):
        self.frame = place.frame
        return rgb

    def predict(self, box=None, embedding=None, **_):
        from types import SimpleNamespace

        score = 0.1 if self.frame >= self.lost else 0.9
        answer = SimpleNamespace(mask=self.mask.copy(), score=score)
        return SimpleNamespace(best=lambda: answer)


def test_propagating_a_mask_track_forward_ends_it_where_the_model_lost_the_object(video):
    from types import SimpleNamespace

    from app.core.rle import decode
    from app.widgets.sam_jobs import propagate_video_mask
    from sam_fakes import FakeEngine

    s = video
    go(s, 10)
    s.key(K.Key_5)  # sky: masks
    s.key(K.Key_B)
    s.canvas_drag([(60, 40), (120, 50)])
    (seed,) = s.anns("mask")
    engine = FakeEngine()
    engine.sessions["fake-sam"] = _LosesItAt(decode(seed.shape.rle).astype(bool), lost=14)
    said: list[str] = []
    host = SimpleNamespace(state=s.state, jobs=s.win.jobs, message=lambda t, ms=0: said.append(t),
                           error=lambda t: said.append("error: " + t))
    assert propagate_video_mask(host, engine, "fake-sam", seed, 20) is not None
    s.qtbot.waitUntil(lambda: any("Masks on frames" in t or "error" in t for t in said),
                      timeout=20000)
    shapes = s.presenter.index.shapes(seed.track_id)
    assert [(a.frame, a.keyframe, a.outside) for a in shapes] == [
        (10, True, False), (11, False, False), (12, False, False), (13, False, False),
        (14, True, True)]  # out of view where the model lost it, not held to the end
    assert s.presenter.index.at(seed.track_id, 13) is not None
    assert s.presenter.index.at(seed.track_id, 30) is None


def test_track_every_open_track_from_the_tools_menu(video, monkeypatch, tmp_path):
    """Two box tracks whose last shapes are keyframes: Tools ▸ Track every open track… asks
    how far, then each is tracked on from its own last keyframe (no tracker model installed:
    the classical one), as CVAT tracks every open keyframe."""
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(tmp_path / "no-models"))
    s = video
    s.draw_box(20, 100, 80, 140)
    first = s.anns("box")[0].track_id
    go(s, 30)
    s.key(K.Key_Escape)
    s.draw_box(150, 20, 210, 60)
    second = next(a.track_id for a in s.anns("box") if a.track_id != first)

    def fill(dialog) -> None:
        assert not dialog.direction.isEnabled()  # forward from each track's keyframe
        dialog.count.setFocus()
        dialog.count.selectAll()
        s.type("12")
        s.click(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok))

    in_dialog(s.qtbot, s.win.built.actions["track_open"].trigger, fill)
    s.qtbot.waitUntil(lambda: not s.win.jobs.running(), timeout=60000)

    def frames(tid: str) -> list[int]:
        return sorted(a.frame for a in s.doc.annotations(s.video.id, all_frames=True)
                      if a.track_id == tid)
    assert frames(first) == list(range(0, 13))
    assert frames(second) == list(range(30, 43))
