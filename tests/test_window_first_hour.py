"""The first hour in the window (issue 15): class keys choose the class of the *next* shape
(they relabel only what the user selected), and an edit made during a drag ends the drag
instead of being undone by its release."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tools_scene import CTRL, LEFT, NOMOD, window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")
K = Qt.Key


def classes(s) -> list[str]:
    """Class names of the boxes here, in drawing order (z)."""
    schema = s.doc.schema
    return [schema.class_by_id(a.class_id).name for a in sorted(s.anns("box"), key=lambda a: a.z)]


# ---------------------------------------------------------------------- item 10
def test_draw_pick_the_next_class_draw_keeps_every_earlier_class(window):
    """CVAT's rhythm: draw, press the next class's key, draw — each shape keeps the class it
    was drawn with (the key used to relabel the shape just drawn, still auto-selected)."""
    s = window
    s.key(K.Key_R)  # box tool
    s.key(K.Key_1)  # car
    s.canvas_drag([(10, 10), (50, 40)])
    assert s.state.selection  # the box just drawn shows its handles
    s.key(K.Key_2)  # person, for the next box
    s.canvas_drag([(70, 10), (110, 40)])
    s.key(K.Key_6)  # building, for the next box
    s.canvas_drag([(130, 60), (180, 110)])
    assert classes(s) == ["car", "person", "building"]
    assert s.state.active_class().name == "building"


def test_a_class_key_relabels_what_the_user_selected(window):
    """A click, the object list and Ctrl+A make a selection of the user's: the key relabels."""
    s = window
    s.key(K.Key_R)
    s.key(K.Key_1)
    s.canvas_drag([(10, 10), (50, 40)])
    s.canvas_drag([(70, 10), (110, 40)])
    s.key(K.Key_V)
    s.canvas_click(30, 25)  # a click on the first box
    s.key(K.Key_2)
    assert classes(s) == ["person", "car"]
    second = max(s.anns("box"), key=lambda a: a.z).id
    tree = s.win.objects.tree
    s.click_object_row(next(r for r in range(tree.topLevelItemCount())
                            if tree.topLevelItem(r).data(0, Qt.ItemDataRole.UserRole) == second))
    assert s.state.selection == (second,)  # the second box, chosen in the object list
    s.canvas.setFocus()
    s.key(K.Key_6)
    assert sorted(classes(s)) == ["building", "person"]
    s.key(K.Key_A, CTRL)  # everything here
    s.key(K.Key_7)
    assert classes(s) == ["sign", "sign"]
    s.key(K.Key_Z, CTRL)  # one undoable step per relabel
    assert sorted(classes(s)) == ["building", "person"]


def test_clicking_the_shape_just_drawn_makes_it_the_users_selection(window):
    s = window
    s.key(K.Key_R)
    s.key(K.Key_1)
    s.canvas_drag([(10, 10), (50, 40)])
    s.key(K.Key_V)
    s.canvas_click(30, 25)  # already selected (drawn); now chosen by the user
    s.key(K.Key_2)
    assert classes(s) == ["person"]


# ---------------------------------------------------------------------- item 11
def test_delete_during_a_move_drag_is_not_undone_by_the_release(window):
    s = window
    s.key(K.Key_R)
    s.key(K.Key_1)
    s.canvas_drag([(10, 10), (50, 40)])
    s.key(K.Key_V)
    s.canvas_click(30, 25)
    QTest.mousePress(s.canvas, LEFT, NOMOD, s.at(30, 25))
    for x in (34, 40, 50):
        QTest.mouseMove(s.canvas, s.at(x, 25))
    s.key(K.Key_Delete)  # while the button is still down
    assert s.anns("box") == []
    QTest.mouseMove(s.canvas, s.at(60, 25))
    QTest.mouseRelease(s.canvas, LEFT, NOMOD, s.at(60, 25))
    assert s.anns("box") == [], "the release put the deleted box back"
    s.key(K.Key_Z, CTRL)  # the delete is the last step; undo brings the box back unmoved
    (box,) = s.anns("box")
    assert (box.shape.x, box.shape.y) == pytest.approx((10, 10), abs=0.3)


def test_a_class_key_during_a_move_drag_is_kept_and_ends_the_drag(window):
    """Relabelling the dragged box (a class key while the button is down) used to be undone
    on release: the move committed the copy taken at the press, with the old class."""
    s = window
    s.key(K.Key_R)
    s.key(K.Key_1)
    s.canvas_drag([(10, 10), (50, 40)])
    s.key(K.Key_V)
    s.canvas_click(30, 25)
    x0 = s.anns("box")[0].shape.x
    QTest.mousePress(s.canvas, LEFT, NOMOD, s.at(30, 25))
    for x in (34, 40, 50):
        QTest.mouseMove(s.canvas, s.at(x, 25))
    s.key(K.Key_2)  # person
    assert classes(s) == ["person"]
    QTest.mouseMove(s.canvas, s.at(55, 25))
    QTest.mouseRelease(s.canvas, LEFT, NOMOD, s.at(55, 25))
    assert classes(s) == ["person"], "the release put the old class back"
    assert s.anns("box")[0].shape.x == pytest.approx(x0)  # the edit ended the drag
    s.key(K.Key_Z, CTRL)
    assert classes(s) == ["car"]
