"""Drawing every shape kind through real mouse and key events on the canvas, with undo/redo
and a reopened project proving each shape reached disk."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from app.core.shapes import Box, Keypoints, Polyline, RotatedBox
from tools_scene import SHIFT, near, scene  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")


def test_box_drag_undo_redo_and_disk(scene):
    scene.use("box")
    scene.drag([(20, 30), (60, 80)])
    (a,) = scene.anns("box")
    b = a.shape
    assert isinstance(b, Box)
    assert near(b.x, 20) and near(b.y, 30) and near(b.x + b.w, 60) and near(b.y + b.h, 80)
    assert a.class_id == "car" and scene.state.selection == (a.id,)
    assert [x.id for x in scene.on_disk("box")] == [a.id]
    scene.doc.undo()
    assert scene.anns() == [] and scene.on_disk() == []
    scene.doc.redo()
    assert [x.shape for x in scene.on_disk("box")] == [b]


def test_box_is_clamped_to_the_image_and_stray_clicks_add_nothing(scene):
    scene.use("box")
    scene.click(50, 50)
    assert scene.anns() == []
    scene.drag([(180, 140), (230, 170)])  # past the bottom-right corner (200 x 150)
    b = scene.anns("box")[0].shape
    assert b.x + b.w == 200 and b.y + b.h == 150


def test_rotated_box_edge_drag_then_height_click(scene):
    scene.use("rotated_box")
    scene.drag([(40, 40), (80, 80)])  # first edge: 45 degrees, length 40*sqrt(2)
    scene.move(60, 80)
    scene.click(60, 80)  # height: perpendicular distance of (60, 80) from the edge
    (a,) = scene.anns("rotated_box")
    r = a.shape
    assert isinstance(r, RotatedBox)
    assert r.angle == pytest.approx(45, abs=0.5)
    assert r.w == pytest.approx(40 * math.sqrt(2), abs=0.5)
    assert r.h == pytest.approx(20 * math.sqrt(2), abs=0.5) or r.h == pytest.approx(
        40 / math.sqrt(2) / 2, abs=0.5)
    c0, c1 = r.corners()[0], r.corners()[1]
    assert near(c0[0], 40) and near(c0[1], 40) and near(c1[0], 80) and near(c1[1], 80)
    scene.doc.undo()
    assert scene.on_disk() == []
    scene.doc.redo()
    assert scene.on_disk("rotated_box")[0].shape == r


def test_rotated_box_three_clicks_and_escape(scene):
    scene.use("rotated_box")
    scene.click(10, 10)
    scene.click(50, 10)
    assert scene.tools["rotated_box"].busy
    scene.key(Qt.Key.Key_Escape)
    assert not scene.tools["rotated_box"].busy and scene.anns() == []
    scene.click(10, 10)
    scene.click(50, 10)
    scene.click(30, 30)
    r = scene.anns("rotated_box")[0].shape
    assert r.angle == pytest.approx(0, abs=0.5)
    assert r.w == pytest.approx(40, abs=0.3) and r.h == pytest.approx(20, abs=0.3)
    assert r.cx == pytest.approx(30, abs=0.3) and r.cy == pytest.approx(20, abs=0.3)


def test_polygon_clicks_close_on_first_vertex(scene):
    scene.use("polygon")
    for p in [(20, 20), (80, 20), (80, 70), (20, 70)]:
        scene.click(*p)
    assert scene.anns() == []  # still open
    scene.click(20.5, 20.5)  # on the first vertex: closes
    (a,) = scene.anns("polygon")
    assert len(a.shape.exterior) == 4
    assert all(near(x, ex) and near(y, ey) for (x, y), (ex, ey) in
               zip(a.shape.exterior, [(20, 20), (80, 20), (80, 70), (20, 70)]))
    assert scene.on_disk("polygon")[0].shape == a.shape
    scene.doc.undo()
    assert scene.on_disk() == []
    scene.doc.redo()
    assert scene.on_disk("polygon")[0].shape == a.shape


def test_polygon_enter_backspace_escape(scene):
    scene.use("polygon")
    for p in [(20, 20), (80, 20), (50, 60), (10, 100)]:
        scene.click(*p)
    scene.key(Qt.Key.Key_Backspace)  # drops (10, 100)
    scene.key(Qt.Key.Key_Return)
    (a,) = scene.anns("polygon")
    assert len(a.shape.exterior) == 3 and near(a.shape.exterior[-1][1], 60)
    scene.click(100, 100)
    scene.click(120, 100)
    scene.key(Qt.Key.Key_Escape)
    scene.key(Qt.Key.Key_Return)
    assert len(scene.anns("polygon")) == 1


def test_polygon_freehand_drag_closes_on_release(scene):
    scene.use("polygon")
    pts = [(50 + 30 * math.cos(t / 20 * 2 * math.pi), 70 + 30 * math.sin(t / 20 * 2 * math.pi))
           for t in range(20)]
    scene.drag(pts, steps=3)
    (a,) = scene.anns("polygon")
    assert len(a.shape.exterior) > 15
    xs = [p[0] for p in a.shape.exterior]
    assert min(xs) == pytest.approx(20, abs=1.5) and max(xs) == pytest.approx(80, abs=1.5)
    scene.doc.undo()
    assert scene.anns() == []


def test_polygon_hole_with_shift_on_selected_polygon(scene):
    scene.use("polygon")
    for p in [(10, 10), (110, 10), (110, 110), (10, 110)]:
        scene.click(*p)
    scene.key(Qt.Key.Key_Return)
    (outer,) = scene.anns("polygon")
    assert scene.state.selection == (outer.id,)
    scene.click(40, 40, mods=SHIFT)
    scene.click(70, 40)
    scene.click(55, 70)
    scene.key(Qt.Key.Key_Return)
    (a,) = scene.anns("polygon")
    assert a.id == outer.id and len(a.shape.holes) == 1 and len(a.shape.holes[0]) == 3
    assert scene.on_disk("polygon")[0].shape.holes == a.shape.holes
    scene.doc.undo()
    assert scene.anns("polygon")[0].shape.holes == ()
    scene.doc.redo()
    assert len(scene.on_disk("polygon")[0].shape.holes) == 1


def test_polyline_enter_and_double_click(scene):
    scene.state.set(class_id="lane")
    scene.use("polyline")
    scene.click(10, 10)
    scene.click(50, 20)
    scene.click(90, 10)
    scene.key(Qt.Key.Key_Enter)
    (a,) = scene.anns("polyline")
    assert isinstance(a.shape, Polyline) and len(a.shape.points) == 3
    assert a.class_id == "lane"
    scene.click(10, 100)
    scene.double_click(60, 120)  # press+release adds (60, 120); the double click finishes
    lines = scene.anns("polyline")
    assert len(lines) == 2 and len(lines[1].shape.points) == 2
    assert len(scene.on_disk("polyline")) == 2
    scene.doc.undo()
    scene.doc.undo()
    assert scene.on_disk() == []
    scene.doc.redo()
    assert scene.on_disk("polyline")[0].shape == a.shape


def test_class_that_refuses_a_kind_adds_nothing(scene):
    scene.state.set(class_id="lane")  # polylines only
    scene.use("box")
    scene.drag([(10, 10), (50, 50)])
    assert scene.anns() == []
    assert "does not allow" in scene.state.status


def test_keypoints_follow_the_skeleton(scene):
    scene.state.set(class_id="person")
    tool = scene.use("keypoints")
    assert "head" in scene.state.status
    scene.click(50, 20)  # head, visible
    scene.key(Qt.Key.Key_O)  # next one occluded
    scene.click(30, 60)  # left hand, occluded
    assert tool.busy and scene.anns() == []
    scene.click(70, 60)  # right hand: last point commits
    (a,) = scene.anns("keypoints")
    kp = a.shape
    assert isinstance(kp, Keypoints) and [p[2] for p in kp.points] == [2, 1, 2]
    assert near(kp.points[0][0], 50) and near(kp.points[2][1], 60)
    assert scene.on_disk("keypoints")[0].shape == kp
    scene.doc.undo()
    assert scene.on_disk() == []
    scene.doc.redo()
    assert scene.on_disk("keypoints")[0].shape == kp


def test_keypoints_skip_backspace_and_enter(scene):
    scene.state.set(class_id="person")
    scene.use("keypoints")
    scene.key(Qt.Key.Key_S)  # head not visible (skipped)
    scene.click(30, 60)
    scene.key(Qt.Key.Key_Backspace)  # takes the left hand back
    scene.click(40, 66)  # the left hand again
    scene.key(Qt.Key.Key_Return)  # finish: the right hand stays unlabelled
    (a,) = scene.anns("keypoints")
    assert [p[2] for p in a.shape.points] == [0, 2, 0]
    assert near(a.shape.points[1][0], 40) and near(a.shape.points[1][1], 66)
    assert a.shape.labelled == 1


def test_keypoints_without_skeleton_explain(scene):
    scene.use("keypoints")  # class "car" has no skeleton
    scene.click(50, 50)
    assert scene.anns() == [] and "skeleton" in scene.state.status
