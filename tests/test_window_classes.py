"""Classes in the window, as a user meets them: the class dialog opened from the Labels panel's
real buttons (adding and editing classes with attributes), the next free hotkey for a new
class, and hiding / locking a whole class from its row."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox

from app.core.schema import AttributeType
from tools_scene import LEFT, WindowScene, in_dialog, window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")


def click_cell(s: WindowScene, table, row: int, col: int) -> None:
    table.scrollToItem(table.item(row, col))
    rect = table.visualItemRect(table.item(row, col))
    s.click(table.viewport(), rect.center())


def type_in_cell(s: WindowScene, table, row: int, col: int, text: str,
                 append: bool = False) -> None:
    """Click a cell and type into it as a user does (F2 first to keep what is there)."""
    click_cell(s, table, row, col)
    if append:
        s.key(Qt.Key.Key_F2)
        s.key(Qt.Key.Key_End)
    s.type(text)
    s.key(Qt.Key.Key_Return)


def ok(s: WindowScene, dialog) -> None:
    s.click(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok))


def test_add_a_class_with_attributes_through_the_real_buttons(window, qtbot):
    """PySide6 6.11 gives the type combo's data back as a str: OK used to crash on every
    class with an attribute."""
    s = window

    def fill(dialog) -> None:
        s.click(dialog.name)
        s.type("bicycle")
        s.click(dialog.add_attribute)
        s.click(dialog.add_attribute)
        table = dialog.table
        type_in_cell(s, table, 0, 0, "wheels")
        combo = table.cellWidget(0, 1)
        combo.setCurrentIndex(combo.findText("choice"))
        type_in_cell(s, table, 0, 2, "two, three")
        type_in_cell(s, table, 1, 0, "electric")
        combo = table.cellWidget(1, 1)
        combo.setCurrentIndex(combo.findText("yes / no"))
        ok(s, dialog)

    in_dialog(qtbot, lambda: s.click(s.win.labels.add_button), fill)
    cls = s.doc.schema.class_by_name("bicycle")
    assert cls is not None and s.state.class_id == cls.id
    wheels, electric = cls.attributes
    assert (wheels.name, wheels.type, wheels.options) == ("wheels", AttributeType.ENUM,
                                                          ("two", "three"))
    assert (electric.name, electric.type) == ("electric", AttributeType.BOOL)
    s.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undoable step
    assert s.doc.schema.class_by_name("bicycle") is None


def test_edit_a_class_with_attributes_through_the_real_buttons(window, qtbot):
    s = window
    s.click_class_row("car")
    assert s.state.active_class().name == "car"

    def fill(dialog) -> None:
        type_in_cell(s, dialog.table, 0, 2, ", green", append=True)  # color choices
        combo = dialog.table.cellWidget(2, 1)  # "parked": yes/no -> text
        combo.setCurrentIndex(combo.findText("text"))
        ok(s, dialog)

    in_dialog(qtbot, lambda: s.click(s.win.labels.edit_button), fill)
    car = s.doc.schema.class_by_name("car")
    color, occluded, parked = car.attributes
    assert color.options == ("red", "blue", "white", "black", "green")
    assert occluded.type is AttributeType.BOOL and parked.type is AttributeType.TEXT


def test_a_new_class_gets_the_next_free_hotkey(window, qtbot):
    s = window
    s.click_class_row("tree")  # key 8

    def no_key(dialog) -> None:
        dialog.hotkey.setCurrentIndex(dialog.hotkey.findText("None"))
        ok(s, dialog)

    in_dialog(qtbot, lambda: s.click(s.win.labels.edit_button), no_key)
    assert s.doc.schema.class_by_name("tree").hotkey is None
    seen = {}

    def add(dialog) -> None:
        seen["key"] = dialog.hotkey.currentData()
        s.click(dialog.name)
        s.type("bus")
        ok(s, dialog)

    in_dialog(qtbot, lambda: s.click(s.win.labels.add_button), add)
    assert seen["key"] == "8" and s.doc.schema.class_by_name("bus").hotkey == "8"
    s.key(Qt.Key.Key_1)
    s.key(Qt.Key.Key_8)  # the key works at once
    assert s.state.active_class().name == "bus"


def test_hide_and_lock_a_whole_class_from_its_row(window):
    from app.widgets.label_panel import COL_LOCK, COL_SHOW

    s = window
    s.key(Qt.Key.Key_R)  # box tool, class car (1)
    s.key(Qt.Key.Key_1)
    s.canvas_drag([(20, 20), (60, 50)])
    s.canvas_drag([(100, 60), (150, 110)])
    s.key(Qt.Key.Key_Escape)
    assert len(s.anns("box")) == 2 and s.state.selection == ()
    s.click_class_row("car", COL_SHOW)
    assert s.state.visible_annotations() == [] and s.state.active_class().name == "car"
    assert all(s.win.objects.tree.topLevelItem(i).toolTip(0).startswith("Hidden")
               for i in range(2))
    s.click_class_row("car", COL_SHOW)
    assert len(s.state.visible_annotations()) == 2
    s.click_class_row("car", COL_LOCK)
    s.key(Qt.Key.Key_V)
    before = [a.shape for a in s.anns("box")]
    s.canvas_drag([(40, 35), (70, 70)])  # selects it, but it does not move
    assert [a.shape for a in s.anns("box")] == before and s.state.selection
    s.key(Qt.Key.Key_Delete)
    assert len(s.anns("box")) == 2 and "locked" in s.win.statusBar().currentMessage()
    s.click_class_row("car", COL_LOCK)
    s.key(Qt.Key.Key_Delete)
    assert len(s.anns("box")) == 1
