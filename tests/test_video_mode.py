"""Video in the window, driven like an annotator: step, play and pause, jump, select a range
and make it an event, draw a track, move it on a later frame (a keyframe), see it
interpolated in between; the keys are on the key sheet; the import report is shown."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest

from app.core.annotations import INTERPOLATED
from app.core.places import Place
from app.core.shapes import Event
from fake_clock import install as install_fake_clock
from tools_scene import LEFT, NOMOD, in_dialog
from video_scene import SHIFT, K, video  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")
CTRL = Qt.KeyboardModifier.ControlModifier


def test_f_d_step_frames_and_the_picture_is_that_frame(video):
    s = video
    assert np.array_equal(s.canvas.source.pixels(), s.reference(0))
    s.key(K.Key_F)
    s.wait_frame(1)
    assert np.array_equal(s.canvas.source.pixels(), s.reference(1))
    s.key(K.Key_F, SHIFT)  # CVAT's V: 10 on
    s.wait_frame(11)
    s.key(K.Key_D, SHIFT)
    s.wait_frame(1)
    s.key(K.Key_D)
    s.wait_frame(0)
    s.key(K.Key_D)  # the first frame: F/D never leave the video
    assert s.current_name() == "clip.mp4" and s.state.frame == 0
    s.key(K.Key_PageUp)  # PgUp still changes item
    assert s.current_name() == "img0.png"


def test_jump_box_takes_a_frame_or_a_time_and_the_timeline_a_click(video):
    s = video
    s.key(K.Key_G, CTRL)
    assert s.focus() is s.timeline.jump
    s.type("35")
    s.key(K.Key_Return)
    s.wait_frame(35)
    assert s.focus() is s.canvas  # Enter gave the keyboard back
    assert "35" in s.timeline.position.text() and "1.458 s" in s.timeline.position.text()
    s.key(K.Key_G, CTRL)
    s.type("2.5s")  # 24 fps: the frame shown at 2.5 s is frame 60
    s.key(K.Key_Return)
    s.wait_frame(60)
    assert np.array_equal(s.canvas.source.pixels(), s.reference(60))
    QTest.mouseClick(s.timeline.bar, LEFT, NOMOD, s.bar_point(20))
    s.wait_frame(20)


def test_ctrl_g_reaches_the_jump_box_whatever_the_tool(video):
    """A tool's own keys are plain ones: the brush's G (fill holes) does not take Ctrl+G."""
    s = video
    s.key(K.Key_B)
    assert s.canvas.tool.name == "brush"
    s.key(K.Key_G, CTRL)
    assert s.focus() is s.timeline.jump
    s.type("12")
    s.key(K.Key_Return)
    s.wait_frame(12)


def test_space_tap_plays_and_pauses_and_space_drag_still_pans(video, monkeypatch):
    s = video
    clock = install_fake_clock(monkeypatch)  # time passes only when the test says so
    s.press_space()
    assert s.presenter.playback.playing
    clock.advance(0.51)  # half a second at 24 fps: frame 12 (0.500 s) is due, 13 is not
    s.wait_frame(12)
    s.press_space()
    assert not s.presenter.playback.playing
    assert s.canvas.source.place == s.state.place  # the picture is the frame labelled
    clock.advance(1.0)  # playing, frame 36 would be due now
    s.qtbot.wait(150)  # let playback's timer tick
    assert s.state.frame == 12  # paused means paused
    before = s.canvas.image_to_widget(0, 0)
    QTest.keyPress(s.canvas, K.Key_Space)
    QTest.mousePress(s.canvas, LEFT, NOMOD, QPoint(300, 200))
    QTest.mouseMove(s.canvas, QPoint(340, 230))
    QTest.mouseRelease(s.canvas, LEFT, NOMOD, QPoint(340, 230))
    QTest.keyRelease(s.canvas, K.Key_Space)
    assert s.canvas.image_to_widget(0, 0) != before  # panned
    assert not s.presenter.playback.playing  # and did not start playing


def test_play_runs_to_the_end_at_real_speed(video, monkeypatch):
    s = video
    s.key(K.Key_G, CTRL)
    s.type("60")
    s.key(K.Key_Return)
    s.wait_frame(60)
    clock = install_fake_clock(monkeypatch)  # time passes only when the test says so
    playback = s.presenter.playback
    s.press_space()
    for n in range(61, 72):  # the clock reaches each frame's time: that frame is shown
        clock.advance(playback.times[n] - playback.times[n - 1])
        s.wait_frame(n)
    s.qtbot.waitUntil(lambda: not playback.playing, timeout=3000)  # stops at the end
    shown = playback.shown
    assert [n for _, n in shown] == list(range(61, 72))  # each frame once, in order
    took = shown[-1][0] - shown[0][0]  # on the playback clock, between first and last shown
    assert took == pytest.approx((71 - 61) / 24, abs=1e-3)  # 24 fps, real speed
    clock.advance(1.0)
    s.qtbot.wait(100)
    assert s.state.frame == 71 and not playback.playing


def test_shift_drag_on_the_timeline_selects_a_range_and_m_makes_an_event(video):
    s = video
    s.bar_drag(40, 55)
    assert s.timeline.bar.selection == (40, 55)
    assert "40–55" in s.timeline.range_label.text()
    s.key(K.Key_1)  # car allows no events: refused, said, nothing stored
    s.key(K.Key_M)
    assert "does not allow" in s.win.statusBar().currentMessage()
    s.win.labels.choose("braking")
    s.key(K.Key_M)
    (event,) = s.doc.annotations(Place(s.video.id))
    assert event.shape == Event(40, 55) and event.class_id == "braking"
    assert event.place == Place(s.video.id)
    assert [(e.start, e.end) for e in s.timeline.bar.events] == [(40, 55)]
    assert s.timeline.bar.selection is None
    s.key(K.Key_Z, CTRL)
    assert s.doc.annotations(Place(s.video.id)) == []


def test_a_track_drawn_moved_on_a_later_frame_is_interpolated_in_between(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    (first,) = s.anns("box")
    assert first.track_id is not None and first.keyframe and first.frame == 0
    x0, y0, w0, h0 = first.shape.bbox()
    for _ in range(10):
        s.key(K.Key_F)
    s.wait_frame(10)
    (held,) = s.anns("box")  # after its only keyframe the track holds its shape
    assert held.shape == first.shape and held.source == INTERPOLATED and not held.keyframe
    s.key(K.Key_V)
    s.canvas_click(50, 120)
    assert s.state.selection == (held.id,)
    s.canvas_drag([(50, 120), (110, 90)])  # move it: a keyframe on frame 10
    (moved,) = s.anns("box")
    assert moved.keyframe and moved.track_id == first.track_id and moved.id != first.id
    assert s.state.selection == (moved.id,)
    x1, y1, w1, h1 = moved.shape.bbox()
    assert (x1 - x0, y1 - y0) != (0, 0) and (w1, h1) == (w0, h0)
    stored = [a for a in s.doc.annotations(s.video.id, all_frames=True) if a.track_id]
    assert sorted(a.frame for a in stored) == [0, 10]
    for f in (3, 5, 8):
        s.key(K.Key_G, CTRL)
        s.type(str(f))
        s.key(K.Key_Return)
        s.wait_frame(f)
        (a,) = s.anns("box")
        t = f / 10
        assert a.shape.bbox() == (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, w0, h0)
        assert not a.keyframe
        assert s.state.selection == (a.id,)  # the track stays selected while stepping
    markers = [(m.frame, m.kind) for m in s.timeline.bar.markers]
    assert markers == [(0, "key"), (10, "key")]
    s.key(K.Key_Z, CTRL)  # undo the move: frame 10 is interpolated again
    stored = [a for a in s.doc.annotations(s.video.id, all_frames=True) if a.track_id]
    assert sorted(a.frame for a in stored) == [0]


def test_interpolated_shapes_are_drawn_dashed_and_keyframes_solid(video):
    s = video
    s.key(K.Key_3)  # road: polygons are filled; take the outline of a box instead
    s.draw_box(40, 60, 200, 180)
    s.key(K.Key_Escape)
    s.key(K.Key_Escape)

    def edge_coverage() -> float:
        img = s.grab()
        y = s.at(120, 60).y()
        xs = range(s.at(60, 60).x(), s.at(180, 60).x())
        red = [img.pixelColor(x, y) for x in xs]
        hits = [c.red() > 200 and c.green() < 90 for c in red]
        return sum(hits) / len(hits)

    s.qtbot.wait(50)
    solid = edge_coverage()
    s.key(K.Key_F)
    s.wait_frame(1)
    s.qtbot.wait(50)
    dashed = edge_coverage()
    assert solid > 0.95 and 0.3 < dashed < 0.85, (solid, dashed)


def test_k_o_q_keyframe_outside_and_occluded(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    tid = s.anns("box")[0].track_id
    s.key(K.Key_F, SHIFT)
    s.wait_frame(10)
    s.key(K.Key_K, SHIFT)  # K of CVAT: the interpolated frame becomes a keyframe
    frames = lambda: sorted(a.frame for a in s.presenter.index.shapes(tid))  # noqa: E731
    assert frames() == [0, 10] and s.anns("box")[0].keyframe
    s.key(K.Key_K, SHIFT)  # again: interpolated again
    assert frames() == [0]
    s.key(K.Key_Q)  # occluded here (a keyframe now)
    (a,) = s.anns("box")
    assert a.occluded and a.keyframe and frames() == [0, 10]
    s.key(K.Key_F, SHIFT)
    s.wait_frame(20)
    assert s.anns("box")[0].occluded  # holds until the next keyframe
    s.key(K.Key_O)  # the car leaves the view from frame 20
    assert s.anns("box") == []
    s.key(K.Key_F)
    s.wait_frame(21)
    assert s.anns("box") == []
    s.key(K.Key_O)  # and comes back on frame 21
    assert len(s.anns("box")) == 1
    s.key(K.Key_D)
    s.wait_frame(20)
    assert s.anns("box") == []
    kinds = [m.kind for m in s.timeline.bar.markers]
    assert kinds == ["key", "key", "outside", "key"]


def test_deleting_an_interpolated_shape_deletes_its_track_in_one_undo_step(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    s.key(K.Key_F, SHIFT)
    s.wait_frame(10)
    s.key(K.Key_V)
    s.canvas_click(50, 120)
    assert s.state.selection and "@" in s.state.selection[0]
    s.key(K.Key_Delete)
    assert s.doc.tracks(s.video.id) == [] and s.anns() == []
    s.key(K.Key_Z, CTRL)
    assert len(s.doc.tracks(s.video.id)) == 1 and len(s.anns("box")) == 1


def test_static_attributes_go_on_the_track_and_per_frame_ones_on_the_frame(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    (key,) = s.anns("box")
    track = s.doc.track(key.track_id)
    assert track.attributes == {"color": "red", "truncated": False}
    # car: color and truncated are static (on the track), parked per frame (on the shape)
    assert s.doc.annotation(s.video.id, key.id).attributes == {"parked": False}
    assert key.attributes == {"parked": False, "color": "red", "truncated": False}  # as shown
    s.key(K.Key_F, SHIFT)
    s.wait_frame(10)
    s.key(K.Key_V)
    s.canvas_click(50, 120)
    editors = s.win.attributes.editors
    editors["color"].setCurrentText("blue")  # static: the track, no keyframe
    assert s.doc.track(track.id).attributes["color"] == "blue"
    assert len(s.presenter.index.shapes(track.id)) == 1
    assert s.anns("box")[0].attributes["color"] == "blue"  # shown on every frame
    editors["parked"].setChecked(True)  # per frame: a keyframe on frame 10
    shapes = s.presenter.index.shapes(track.id)
    assert [(a.frame, a.attributes) for a in shapes] == [(0, {"parked": False}),
                                                         (10, {"parked": True})]


def test_propagate_and_single_frame_drawing(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    (key,) = s.anns("box")
    s.presenter.tracks.count.setValue(5)
    s.key(K.Key_P, CTRL | SHIFT)
    frames = sorted(a.frame for a in s.presenter.index.shapes(key.track_id))
    assert frames == [0, 1, 2, 3, 4, 5]
    s.key(K.Key_T, CTRL)  # draw single-frame shapes now
    assert not s.presenter.as_track
    s.draw_box(150, 20, 220, 60)
    single = [a for a in s.anns("box") if a.track_id is None]
    assert len(single) == 1 and single[0].frame == 0
    s.key(K.Key_F)
    s.wait_frame(1)
    assert all(a.track_id for a in s.anns("box"))


def test_track_list_jumps_to_keyframes_and_deletes_a_track(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    s.key(K.Key_F, SHIFT)
    s.wait_frame(10)
    s.key(K.Key_K, SHIFT)
    tree = s.presenter.tracks.tree
    row = tree.topLevelItem(0)
    assert row.text(1) == "0–71" and row.text(2) == "2"
    row.setExpanded(True)
    child = row.child(0)
    rect = tree.visualItemRect(child)
    QTest.mouseClick(tree.viewport(), LEFT, NOMOD, rect.center())
    s.wait_frame(0)
    QTest.mouseClick(s.presenter.tracks.buttons["delete"], LEFT)
    assert s.doc.tracks(s.video.id) == [] and s.anns() == []
    s.key(K.Key_Z, CTRL)
    assert len(s.doc.tracks(s.video.id)) == 1 and len(s.anns()) == 1


def test_the_key_sheet_lists_the_video_keys(video):
    from app.widgets.video.keys import KEYS

    s = video
    rows: list[tuple[str, str]] = []

    def read(sheet) -> None:
        rows.extend(sheet.rows())
        sheet.reject()

    in_dialog(s.qtbot, lambda: s.key(K.Key_F1), read)
    for key, what, _ in KEYS:
        assert (what, key) in rows, key


def test_the_import_report_is_in_the_timeline(video):
    s = video
    info = s.timeline.info.text()
    assert "72 frames" in info and "3.00 s" in info and "24 fps" in info
    assert "constant rate" in info and "⚠" not in info
    assert "duplicated timestamps: none" in s.timeline.info.toolTip()


def test_a_polygon_track_vertex_edited_on_a_later_frame_becomes_a_keyframe(video):
    s = video
    s.key(K.Key_3)  # road: polygons
    s.key(K.Key_P)
    for p in ((40, 150), (120, 150), (120, 200), (40, 200)):
        s.canvas_click(*p)
    s.key(K.Key_Return)
    (poly,) = s.anns("polygon")
    assert poly.track_id and poly.keyframe
    s.key(K.Key_F, SHIFT)
    s.wait_frame(10)
    s.key(K.Key_A)  # the vertex tool, on the interpolated polygon
    s.canvas_drag([(120, 150), (150, 130)])
    (moved,) = s.anns("polygon")
    assert moved.keyframe and moved.track_id == poly.track_id
    assert (150.0, 130.0) == tuple(round(v) for v in moved.shape.exterior[1])
    s.key(K.Key_D, SHIFT)
    s.key(K.Key_F, SHIFT)  # back and forth: frame 5 lies half way
    s.wait_frame(10)
    s.key(K.Key_G, CTRL)
    s.type("5")
    s.key(K.Key_Return)
    s.wait_frame(5)
    (half,) = s.anns("polygon")
    x0, y0 = poly.shape.exterior[1]
    x1, y1 = moved.shape.exterior[1]
    assert half.shape.exterior[1] == pytest.approx(((x0 + x1) / 2, (y0 + y1) / 2))


def test_masks_drawn_as_single_frame_shapes_stay_on_their_frame(video):
    s = video
    s.key(K.Key_T, CTRL)  # single-frame shapes (a mask drawn as a track holds: test_track_tools)
    s.key(K.Key_5)  # sky: masks
    s.key(K.Key_B)
    s.canvas_drag([(60, 40), (120, 50)])
    (mask,) = s.anns("mask")
    assert mask.track_id is None and mask.frame == 0
    s.key(K.Key_F)
    s.wait_frame(1)
    assert s.anns("mask") == []


def test_reopening_the_project_comes_back_to_the_frame_left(video):
    s = video
    s.key(K.Key_F, SHIFT)
    s.wait_frame(10)
    s.key(K.Key_F, SHIFT)
    s.wait_frame(20)
    s.win.close_project()
    s.open(s.path)
    s.wait_frame(20)
    assert s.current_name() == "clip.mp4"


def test_relabelling_a_track_shape_relabels_the_whole_track(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    s.key(K.Key_F, SHIFT)
    s.wait_frame(10)
    s.key(K.Key_K, SHIFT)
    s.key(K.Key_F, SHIFT)
    s.wait_frame(20)
    building = s.doc.schema.class_by_name("building")
    s.win.objects.relabel(s.anns("box"), building)  # the object list's Set class
    (track,) = s.doc.tracks(s.video.id)
    assert track.class_id == building.id and track.attributes == {"floors": 1.0}
    shapes = s.presenter.index.shapes(track.id)
    assert [a.class_id for a in shapes] == [building.id, building.id]  # no keyframe added
    assert s.anns("box")[0].class_id == building.id


def test_undo_of_an_edit_on_another_frame_shows_that_frame_first(video):
    s = video
    s.key(K.Key_G, CTRL)
    s.type("30")
    s.key(K.Key_Return)
    s.wait_frame(30)
    s.draw_box(20, 100, 80, 140)
    assert [a.frame for a in s.anns("box")] == [30]
    s.key(K.Key_G, CTRL)
    s.type("5")
    s.key(K.Key_Return)
    s.wait_frame(5)
    s.key(K.Key_Z, CTRL)
    s.wait_frame(30)  # the undo happened in view (as CVAT and Slicer do)
    assert "frame 30" in s.win.statusBar().currentMessage()
    assert s.doc.tracks(s.video.id) == [] and s.anns() == []
    s.key(K.Key_G, CTRL)
    s.type("2")
    s.key(K.Key_Return)
    s.wait_frame(2)
    s.key(K.Key_Z, CTRL | SHIFT)  # redo too
    s.wait_frame(30)
    assert [a.frame for a in s.anns("box")] == [30]


def test_reopening_the_project_comes_back_to_the_zoom_left_on_the_video(video):
    s = video
    s.key(K.Key_F, SHIFT)
    s.wait_frame(10)
    fitted = s.canvas.zoom()
    pos = QPoint(s.canvas.width() // 2 + 40, s.canvas.height() // 2 - 30)
    for _ in range(3):  # wheel zoom, as a user does
        s.canvas.wheelEvent(QWheelEvent(pos, s.canvas.mapToGlobal(pos), QPoint(0, 0),
                                        QPoint(0, 120), Qt.MouseButton.NoButton,
                                        Qt.KeyboardModifier.NoModifier,
                                        Qt.ScrollPhase.NoScrollPhase, False))
    zoom, centre = s.canvas.zoom(), s.canvas.center()
    assert zoom > 1.5 * fitted
    s.win.close_project()
    s.open(s.path)
    s.wait_frame(10)
    assert s.canvas.zoom() == pytest.approx(zoom)
    assert s.canvas.center() == pytest.approx(centre, abs=0.5)
    assert s.win.status.zoom.text() == f"{zoom * 100:.0f}%"


def test_period_and_comma_go_to_the_next_and_previous_keyframe(video):
    """CVAT's keyframe navigation: . and , jump to the selected track's next and previous
    keyframe (any track's with nothing selected); past the last one the frame stays and the
    status bar says so."""
    s = video
    s.draw_box(20, 100, 80, 140)  # a track with a keyframe on frame 0
    s.key(K.Key_F, SHIFT)
    s.key(K.Key_F, SHIFT)
    s.wait_frame(20)
    s.key(K.Key_K, SHIFT)  # and one on frame 20
    s.key(K.Key_D, SHIFT)
    s.wait_frame(10)
    s.key(K.Key_Period)
    s.wait_frame(20)
    s.key(K.Key_Period)  # no keyframe after 20: stays, and says so
    assert s.presenter.frame == 20
    assert "No keyframe" in s.win.statusBar().currentMessage()
    s.key(K.Key_Comma)
    s.wait_frame(0)
    s.key(K.Key_Escape)  # nothing selected: any track's keyframes
    assert s.state.selection == ()
    s.key(K.Key_Period)
    s.wait_frame(20)


def test_the_step_and_the_playback_speed_are_the_users(video):
    """CVAT's configurable step (Shift+F / Shift+D and the « » buttons) and playback speed
    0.25-4x, set on the timeline."""
    s = video
    tl = s.timeline
    tl.step.setValue(5)
    assert tl.buttons["next10"].text() == "5»" and tl.buttons["back10"].text() == "«5"
    s.key(K.Key_F, SHIFT)
    s.wait_frame(5)
    QTest.mouseClick(tl.buttons["next10"], LEFT)
    s.wait_frame(10)
    s.key(K.Key_D, SHIFT)
    s.wait_frame(5)
    tl.speed.setCurrentIndex(tl.speed.findData(2.0))
    assert s.presenter.playback.speed == 2.0


def test_a_speed_change_while_playing_keeps_the_position():
    """Playback.set_speed rebases the clock: the frame due does not jump when the speed
    changes mid-play, and then advances at the new rate (a fake clock; no wall time)."""
    from app.widgets.video.frames import Playback

    times = np.arange(100) / 10.0  # 10 fps
    shown = [0]
    pb = Playback(lambda: shown[0], lambda n: shown.__setitem__(0, n), lambda: False,
                  lambda playing: None)
    pb.set_video(times, 99)
    pb.start()
    t0 = pb._t0
    assert pb.due(t0 + 1.0) == 10
    pb.set_speed(4.0, now=t0 + 1.0)
    assert pb.due(t0 + 1.0) == 10  # no jump at the change
    assert pb.due(t0 + 1.5) == 30  # 0.5 s at 4x = 2 s of video
    pb.set_speed(99, now=t0 + 1.5)
    assert pb.speed == 4.0  # clamped to 0.25-4
    pb.stop()
