"""Selecting, moving, resizing, deleting and vertex editing through real input on the canvas,
plus copy/paste and repeat-from-previous-image; undo/redo and disk checked at each step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.core.places import Place
from app.core.commands import Put
from app.core.media import MediaItem, MediaKind
from app.core.shapes import Box, Keypoints, Polygon, Polyline, RotatedBox
from app.tools import clipboard
from tools_scene import H, RIGHT, SHIFT, W, near, scene  # noqa: F401

pytest.importorskip("pytestqt")


def add(scene, *shapes, **kw):
    anns = tuple(scene.state.new_annotation(s, **kw) for s in shapes)
    scene.doc.execute(Put(anns))
    return anns


def test_click_selects_and_drag_moves(scene):
    box, poly = add(scene, Box(20, 20, 40, 30), Polygon(((100, 20), (150, 20), (125, 60))))
    scene.use("select")
    scene.click(30, 30)
    assert scene.state.selection == (box.id,)
    scene.click(125, 30, mods=SHIFT)
    assert set(scene.state.selection) == {box.id, poly.id}
    scene.drag([(30, 30), (40, 50)])  # moves both by (10, 20)
    b = scene.doc.annotation(scene.media.id, box.id).shape
    p = scene.doc.annotation(scene.media.id, poly.id).shape
    assert (b.x, b.y, b.w, b.h) == pytest.approx((30, 40, 40, 30))
    assert p.exterior[0] == pytest.approx((110, 40))
    assert {a.id: a.shape for a in scene.on_disk()}[box.id] == b
    scene.doc.undo()  # one step undoes the whole move
    assert scene.doc.annotation(scene.media.id, box.id).shape == box.shape
    assert scene.doc.annotation(scene.media.id, poly.id).shape == poly.shape
    scene.doc.redo()
    assert scene.doc.annotation(scene.media.id, box.id).shape == b
    scene.click(190, 140)  # empty space clears the selection
    assert scene.state.selection == ()


def test_rubber_band_selects_enclosed_shapes(scene):
    a, b, c = add(scene, Box(10, 10, 20, 20), Box(40, 10, 20, 20), Box(150, 100, 20, 20))
    scene.use("select")
    scene.drag([(5, 5), (70, 40)])
    assert set(scene.state.selection) == {a.id, b.id}


def test_resize_box_by_corner_handle(scene):
    (box,) = add(scene, Box(20, 20, 40, 30))
    scene.use("select")
    scene.click(30, 30)
    scene.drag([(60, 50), (80, 70)])  # bottom-right handle
    b = scene.anns("box")[0].shape
    assert (b.x, b.y) == (20, 20) and near(b.w, 60) and near(b.h, 50)
    scene.doc.undo()
    assert scene.on_disk("box")[0].shape == box.shape
    scene.doc.redo()
    assert scene.on_disk("box")[0].shape == b


def test_rotate_rotated_box_by_its_handle(scene):
    (rb,) = add(scene, RotatedBox(100, 80, 40, 20, 0))
    scene.use("select")
    scene.click(100, 80)
    handle = (100, 70 - 24 / 4)  # 24 screen px above the top edge's middle at zoom 4
    scene.drag([handle, (140, 80)])  # handle to the right of the centre: +90 degrees
    r = scene.anns("rotated_box")[0].shape
    assert r.angle == pytest.approx(90, abs=1.0) and (r.w, r.h) == (40, 20)
    scene.doc.undo()
    assert scene.on_disk("rotated_box")[0].shape.angle == 0


def test_delete_key_nudge_and_z_order(scene):
    a, b = add(scene, Box(20, 20, 40, 30), Box(30, 30, 40, 30))
    scene.use("select")
    scene.click(25, 25)  # only a is there
    assert scene.state.selection == (a.id,)
    scene.key(Qt.Key.Key_Right)
    scene.key(Qt.Key.Key_Down, SHIFT)
    moved = scene.doc.annotation(scene.media.id, a.id).shape
    assert (moved.x, moved.y) == (21, 30)
    scene.key(Qt.Key.Key_PageUp)  # not the tool's: PgUp changes image (z order is Ctrl+])
    assert {x.id for x in scene.anns()} == {a.id, b.id}
    scene.key(Qt.Key.Key_Delete)
    assert [x.id for x in scene.anns()] == [b.id] and scene.state.selection == ()
    assert [x.id for x in scene.on_disk()] == [b.id]
    scene.doc.undo()
    assert {x.id for x in scene.on_disk()} == {a.id, b.id}
    scene.key(Qt.Key.Key_Tab)
    assert len(scene.state.selection) == 1
    scene.key(Qt.Key.Key_Escape)
    assert scene.state.selection == ()


def test_locked_shapes_do_not_move(scene):
    (a,) = add(scene, Box(20, 20, 40, 30), locked=True)
    scene.use("select")
    scene.drag([(30, 30), (60, 60)])
    assert scene.anns()[0].shape == a.shape
    scene.key(Qt.Key.Key_Delete)
    assert len(scene.anns()) == 1


def test_vertex_drag_insert_and_delete(scene):
    (poly,) = add(scene, Polygon(((20, 20), (100, 20), (100, 100), (20, 100))))
    scene.use("vertex")
    scene.drag([(100, 100), (120, 130)])  # drag a vertex
    ext = scene.anns()[0].shape.exterior
    assert near(ext[2][0], 120) and near(ext[2][1], 130) and len(ext) == 4
    scene.drag([(60, 20), (60, 5)])  # click the top edge: inserts a vertex, dragged up
    ext = scene.anns()[0].shape.exterior
    assert len(ext) == 5 and near(ext[1][0], 60) and near(ext[1][1], 5)
    assert len(scene.on_disk()[0].shape.exterior) == 5
    scene.click(60, 5, button=RIGHT)  # right-click deletes it
    assert len(scene.anns()[0].shape.exterior) == 4
    scene.move(20, 100)
    scene.key(Qt.Key.Key_Delete)  # Delete while hovering a vertex
    assert len(scene.anns()[0].shape.exterior) == 3
    scene.move(20, 20)
    scene.key(Qt.Key.Key_Delete)  # a triangle keeps its vertices
    assert len(scene.anns()[0].shape.exterior) == 3 and "cannot" in scene.state.status
    for n in (4, 5, 4, 4):
        scene.doc.undo()
        assert len(scene.anns()[0].shape.exterior) == n
    assert scene.on_disk()[0].shape == poly.shape
    scene.doc.redo()
    scene.doc.redo()
    assert len(scene.on_disk()[0].shape.exterior) == 5


def test_vertex_tool_edits_polyline_hole_and_keypoints(scene):
    line, = add(scene, Polyline(((10, 130), (60, 130), (110, 130))))
    ring, = add(scene, Polygon(((120, 10), (190, 10), (190, 80), (120, 80)),
                               (((140, 30), (170, 30), (155, 60)),)))
    kp, = add(scene, Keypoints(((30, 30, 2), (50, 50, 1), (0, 0, 0))), class_id="person")
    scene.use("vertex")
    scene.drag([(60, 130), (60, 140)])
    assert near(scene.anns("polyline")[0].shape.points[1][1], 140)
    scene.drag([(155, 60), (155, 70)])  # a hole's vertex
    assert near(scene.anns("polygon")[0].shape.holes[0][2][1], 70)
    scene.drag([(50, 50), (55, 45)])
    p = scene.anns("keypoints")[0].shape.points[1]
    assert near(p[0], 55) and near(p[1], 45) and p[2] == 1  # stays occluded
    scene.click(30, 30, button=RIGHT)  # deleting a keypoint makes it unlabelled
    assert scene.anns("keypoints")[0].shape.points[0][2] == 0
    assert scene.on_disk("keypoints")[0].shape.points[0][2] == 0


def test_copy_paste_and_repeat_previous(scene):
    a, b = add(scene, Box(20, 20, 40, 30), Polygon(((100, 20), (150, 20), (125, 60))))
    scene.state.select((a.id,))
    assert clipboard.copy(scene.state) == 1
    new = clipboard.paste(scene.state)
    assert len(new) == 1 and new[0] != a.id and len(scene.anns()) == 3
    assert scene.doc.annotation(scene.media.id, new[0]).shape == a.shape
    scene.doc.undo()
    assert len(scene.anns()) == 2
    second = MediaItem(kind=MediaKind.IMAGE, path="b.png", fingerprint="y", size_bytes=0,
                       width=W, height=H)
    scene.doc.execute(Put((second,)))
    first_id = scene.media.id
    scene.state.set(place=Place(second.id), selection=())
    ids = clipboard.repeat_previous(scene.state, first_id)
    got = scene.doc.annotations(second.id)
    assert len(ids) == 2 and sorted(x.kind for x in got) == ["box", "polygon"]
    assert {x.shape for x in got} == {a.shape, b.shape}
    with __import__("app.core.document", fromlist=["Document"]).Document.open(scene.path) as d2:
        assert len(d2.annotations(second.id)) == 2
    scene.doc.undo()  # one step
    assert scene.doc.annotations(second.id) == []
    clipboard.paste(scene.state)  # the box copied earlier
    assert [x.shape for x in scene.doc.annotations(second.id)] == [a.shape]
