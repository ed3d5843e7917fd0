"""Drawing in the window as an annotator coming from CVAT or labelme expects: keys that mean
the same everywhere, no slivers from stray gestures, what is selected looks selected, paste
that respects the image, tags, N to start and finish, a crosshair, handles on a just-drawn
box, the active class at the cursor and in the status bar, keypoint names on hover, zoom to
the selection and "mark done, next"."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.core.commands import Put
from app.core.media import MediaItem, MediaKind, MediaStatus
from app.widgets.labels import LABEL_PX
from tools_scene import LEFT, NOMOD, WindowScene, window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")
CTRL = Qt.KeyboardModifier.ControlModifier
K = Qt.Key


def widget_drag(s: WindowScene, start: QPoint, offsets: list[tuple[int, int]]) -> None:
    """Press at a widget pixel, move by a few screen pixels, release: a twitch of the hand."""
    QTest.mousePress(s.canvas, LEFT, NOMOD, start)
    for dx, dy in offsets:
        QTest.mouseMove(s.canvas, start + QPoint(dx, dy))
    dx, dy = offsets[-1]
    QTest.mouseRelease(s.canvas, LEFT, NOMOD, start + QPoint(dx, dy))


def label_shown(s: WindowScene, with_label, without, p: QPoint, dx: int, dy: int,
                w: int = 40) -> int:
    """How many pixels of the w x 12 band at ``p`` + (dx, dy) are clearly darker in
    ``with_label`` than in ``without``: a canvas label's dark plate covers them."""
    x0, y0 = p.x() + dx, p.y() + dy - 6
    return sum(max(s.rgb(with_label, QPoint(x, y))) < max(s.rgb(without, QPoint(x, y))) - 15
               for x in range(x0, x0 + w) for y in range(y0, y0 + 12))


def test_page_down_changes_image_even_with_a_selection(window):
    s = window
    s.key(K.Key_R)
    s.canvas_drag([(20, 20), (60, 50)])
    s.canvas_drag([(80, 60), (120, 100)])
    s.key(K.Key_V)
    s.canvas_click(40, 35)  # selects the first box
    assert s.state.selection
    zs = [a.z for a in s.anns()]
    s.key(K.Key_PageDown)
    assert s.current_name() == "img1.png", "PgDown restacked the shape instead"
    s.key(K.Key_PageUp)
    assert s.current_name() == "img0.png" and [a.z for a in s.anns()] == zs


@pytest.mark.parametrize("tool_key, class_key", [(K.Key_P, K.Key_3), (K.Key_L, K.Key_4),
                                                 (K.Key_R, K.Key_1), (K.Key_T, K.Key_1)])
def test_a_press_and_drag_of_a_few_pixels_makes_no_shape(window, tool_key, class_key):
    s = window
    s.key(class_key)
    s.key(tool_key)
    start = s.at(100, 75)
    widget_drag(s, start, [(5, 0), (5, 3), (1, 4)])  # polygon: 4 freehand points, ~2 px²
    if tool_key in (K.Key_T,):
        QTest.mouseClick(s.canvas, LEFT, NOMOD, start + QPoint(2, 2))
    s.key(K.Key_Return)
    assert s.anns() == [], f"a {s.anns()[0].kind} of {s.anns()[0].shape.bbox()} was made"
    widget_drag(s, s.at(30, 30), [(10, 0), (20, 0), (30, 0)])  # a straight stroke: no area
    s.key(K.Key_Return)
    assert [a.kind for a in s.anns()] in ([], ["polyline"], ["box"], ["rotated_box"])
    assert all(a.kind != "polygon" for a in s.anns())


def test_escape_cancels_the_drawing_then_deselects(window):
    s = window
    s.key(K.Key_3)  # road: polygons
    s.key(K.Key_P)
    for p in ((20, 20), (80, 20), (80, 70)):
        s.canvas_click(*p)
    s.key(K.Key_Return)
    (poly,) = s.anns("polygon")
    assert s.state.selection == (poly.id,)
    for p in ((100, 100), (150, 100)):
        s.canvas_click(*p)
    s.key(K.Key_Escape)
    assert not s.canvas.tool.busy and s.state.selection == (poly.id,)
    s.key(K.Key_Escape)
    assert s.state.selection == ()
    assert len(s.anns("polygon")) == 1


def test_a_hidden_shape_shows_no_handles(window):
    s = window
    s.key(K.Key_R)
    s.canvas_drag([(40, 40), (120, 100)])
    s.key(K.Key_V)
    s.hover(150, 140)
    corner = s.at(120, 100)
    assert s.rgb(s.grab(), corner) == (255, 255, 255)  # the handle
    s.key(K.Key_H)  # hide the selection
    assert s.state.visible_annotations() == []
    assert s.rgb(s.grab(), corner) != (255, 255, 255), "the hidden box kept its handles"


def test_selected_polylines_and_keypoints_look_selected(window):
    s = window
    s.key(K.Key_4)  # lane: polylines
    s.key(K.Key_L)
    for p in ((20, 30), (100, 40)):
        s.canvas_click(*p)
    s.key(K.Key_Return)
    s.key(K.Key_2)  # person: keypoints
    s.key(K.Key_K)
    for n in range(7):
        s.canvas_click(120 + 8 * (n % 3), 60 + 10 * n // 2)
    line, kp = s.anns("polyline")[0], s.anns("keypoints")[0]
    s.key(K.Key_V)
    s.hover(5, 145)
    vertex = s.at(100, 40) + QPoint(2, 2)  # inside the vertex marker, off the line itself
    ring = s.at(*kp.shape.points[0][:2]) + QPoint(8, 0)  # just outside the point's disc
    s.state.select(())
    plain = s.grab()
    s.state.select((line.id, kp.id))
    chosen = s.grab()
    assert s.rgb(chosen, vertex) != s.rgb(plain, vertex)
    assert min(s.rgb(chosen, vertex)) > 200  # a white vertex marker
    assert s.rgb(chosen, ring) != s.rgb(plain, ring) and min(s.rgb(chosen, ring)) > 200


def test_paste_is_cut_to_a_smaller_image_and_leaves_out_what_falls_outside(qtbot, tmp_path):
    s = WindowScene(qtbot, tmp_path, sizes={1: (100, 80)})
    try:
        s.key(K.Key_3)  # road: polygons
        s.key(K.Key_P)
        for p in ((60, 40), (150, 40), (150, 120), (60, 120)):
            s.canvas_click(*p)
        s.key(K.Key_Return)
        s.key(K.Key_1)  # car: a box wholly right of x = 100
        s.key(K.Key_R)
        s.canvas_drag([(120, 10), (180, 30)])
        s.key(K.Key_A, CTRL)
        s.key(K.Key_C, CTRL)
        s.key(K.Key_F)
        s.wait_picture()
        assert s.state.image_size == (100, 80)
        s.key(K.Key_V, CTRL)
        (poly,) = s.anns()
        xs = [x for x, _ in poly.shape.exterior]
        ys = [y for _, y in poly.shape.exterior]
        assert max(xs) == pytest.approx(100) and max(ys) == pytest.approx(80)
        assert min(xs) == pytest.approx(60, abs=0.3)
        text = s.win.statusBar().currentMessage()
        assert "cut to the image" in text and "outside this image left out" in text
    finally:
        s.win.close()


def test_paste_is_refused_where_drawing_is_refused(window):
    s = window
    video = MediaItem(kind=MediaKind.VIDEO, path="clip.mp4", fingerprint="v", size_bytes=0,
                      width=320, height=240, frames=50, position=9)
    assert s.state.execute(Put((video,)))
    s.key(K.Key_R)
    s.canvas_drag([(20, 20), (60, 50)])
    s.key(K.Key_C, CTRL)
    s.key(K.Key_End)  # the video
    assert s.current_name() == "clip.mp4" and s.canvas.showing() == "message"
    s.key(K.Key_V, CTRL)
    assert s.anns() == []
    assert "video" in s.win.statusBar().currentMessage().lower()


def test_the_tag_tool_tags_the_image_and_a_second_tag_removes_it(window):
    s = window
    s.key(K.Key_I)
    s.key(K.Key_1)  # car allows no tags
    s.canvas_click(100, 75)
    assert s.anns() == [] and "does not allow" in s.win.statusBar().currentMessage()
    s.key(K.Key_9)  # weather: a tag class with attributes
    s.canvas_click(100, 75)
    (tag,) = s.anns("tag")
    assert s.doc.schema.class_by_id(tag.class_id).name == "weather"
    assert s.state.selection == (tag.id,) and "condition" in s.win.attributes.editors
    assert s.win.objects.tree.topLevelItem(0).text(3) == "Tag"
    tagged = s.grab()
    s.key(K.Key_Return)  # again: untag
    assert s.anns() == []
    chip = label_shown(s, tagged, s.grab(), QPoint(0, 24 - LABEL_PX // 2), 10, 0, 100)
    assert chip > 300  # its chip at the top left: "Tag · weather: clear"


def test_n_starts_and_finishes_a_shape_as_in_cvat(window):
    s = window
    s.key(K.Key_V)
    s.key(K.Key_3)
    s.key(K.Key_P)
    s.key(K.Key_V)
    s.key(K.Key_N)  # starts drawing with the last drawing tool
    assert s.canvas.tool.name == "polygon"
    for p in ((20, 20), (80, 20), (80, 70)):
        s.canvas_click(*p)
    s.key(K.Key_N)  # finishes it
    assert len(s.anns("polygon")) == 1 and not s.canvas.tool.busy
    s.key(K.Key_2)
    s.key(K.Key_K)
    s.canvas_click(50, 50)
    s.key(K.Key_N)  # keypoints: finish early, the rest not visible
    (kp,) = s.anns("keypoints")
    assert [v for _, _, v in kp.shape.points] == [2, 0, 0, 0, 0, 0, 0]


def test_a_crosshair_follows_the_pointer_with_the_box_tool(window):
    s = window
    s.key(K.Key_V)
    s.hover(100, 75)
    p = s.at(100, 75)
    left_edge, top_edge = QPoint(3, p.y()), QPoint(p.x(), 3)
    plain = s.grab()
    s.key(K.Key_R)
    s.hover(101, 75)  # (a move to the same pixel is no move)
    s.hover(100, 75)
    img = s.grab()
    for q in (left_edge, top_edge):  # lines across the whole canvas, outside the image too
        assert s.rgb(img, q) != s.rgb(plain, q) and min(s.rgb(img, q)) > 150


def test_a_just_drawn_box_has_handles_that_resize_it(window):
    s = window
    s.key(K.Key_R)
    s.canvas_drag([(20, 20), (60, 50)])
    (box,) = s.anns("box")
    s.hover(100, 100)
    assert s.rgb(s.grab(), s.at(60, 50)) == (255, 255, 255)  # a handle on the corner
    s.canvas_drag([(60, 50), (90, 80)])  # dragging it resizes, still with the box tool
    (after,) = s.anns("box")
    assert after.id == box.id
    assert after.shape.x + after.shape.w == pytest.approx(90, abs=0.4)
    assert after.shape.y + after.shape.h == pytest.approx(80, abs=0.4)


def test_the_active_class_is_in_the_status_bar_and_at_the_cursor(window):
    s = window
    assert "car" in s.win.status.active_class.text()
    s.key(K.Key_2)
    assert "person" in s.win.status.active_class.text() and "[2]" in (
        s.win.status.active_class.text())
    s.key(K.Key_R)
    s.hover(60, 40)
    p = s.at(60, 40)
    drawing = s.grab()
    s.key(K.Key_V)  # no drawing tool: no class label
    s.hover(61, 40)
    s.hover(60, 40)
    assert label_shown(s, drawing, s.grab(), p, 16, 34 - LABEL_PX // 2, 60) > 300


def test_keypoint_names_show_on_hover(window):
    s = window
    s.key(K.Key_2)
    s.key(K.Key_K)
    for n in range(7):
        s.canvas_click(40 + 15 * n, 30 + 10 * n)
    s.key(K.Key_V)
    s.key(K.Key_Escape)
    s.hover(150, 20)
    away = s.grab()
    s.hover(55, 40)  # the neck (second point)
    near = s.grab()
    assert label_shown(s, near, away, s.at(55, 40), 10, -10 - LABEL_PX // 2) > 200


def test_zoom_to_the_selection(window):
    s = window
    s.key(K.Key_R)
    s.canvas_drag([(150, 100), (170, 115)])
    before = s.canvas.zoom()
    s.key(K.Key_Z)
    assert s.canvas.zoom() > 2.5 * before
    cx, cy = s.canvas.center()
    assert (cx, cy) == pytest.approx((160, 107.5), abs=0.5)


def test_mark_done_and_go_to_next(window):
    s = window
    first = s.state.media_id
    s.key(K.Key_Return, CTRL)
    assert s.doc.media_item(first).status is MediaStatus.DONE
    assert s.current_name() == "img1.png"
