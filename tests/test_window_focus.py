"""The keyboard belongs to the canvas whatever panel was clicked last, and text fields take
keys only while they are being typed in. Keys go where a real keyboard sends them: to the
widget that has the focus."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tools_scene import LEFT, WindowScene, make_project, window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")


def test_space_drag_pans_after_clicking_the_media_list(window):
    s = window
    s.key(Qt.Key.Key_R)  # box tool
    s.click_media_row(0)
    s.canvas_drag([(20, 20), (60, 60)])  # a box, drawn as usual
    assert len(s.anns("box")) == 1
    s.click_media_row(0)  # the media list had the keyboard before: Space went to it
    before = s.canvas.image_to_widget(0, 0)
    QTest.keyPress(s.focus(), Qt.Key.Key_Space)
    s.canvas_drag([(100, 100), (120, 110)])
    QTest.keyRelease(s.focus(), Qt.Key.Key_Space)
    assert len(s.anns("box")) == 1, "Space+drag drew a box instead of panning"
    after = s.canvas.image_to_widget(0, 0)
    assert after != before


def test_tab_never_puts_the_next_key_into_the_media_filter(window):
    s = window
    assert s.current_name() == "img0.png"
    s.click_media_row(0)
    s.key(Qt.Key.Key_Tab)
    s.key(Qt.Key.Key_Tab)
    s.key(Qt.Key.Key_F)
    assert s.win.media.search.text() == ""
    assert s.current_name() == "img1.png"


def test_a_filter_from_the_previous_project_does_not_hide_the_next_ones_media(window,
                                                                             tmp_path):
    s = window
    s.click(s.win.media.search)
    s.type("img2")
    assert s.win.media.proxy.rowCount() == 1
    other = make_project(tmp_path / "other", images=2)
    s.open(other)
    assert s.win.media.search.text() == "" and s.win.media.proxy.rowCount() == 2
    assert s.current_name() == "img0.png"


def test_text_fields_take_keys_only_while_typed_in(window):
    s = window
    s.click(s.win.media.search)
    s.type("img")  # F and D are letters here, not navigation
    s.type("f")
    assert s.win.media.search.text() == "imgf" and s.current_name() == "img0.png"
    s.key(Qt.Key.Key_Backspace)
    s.key(Qt.Key.Key_Return)  # done typing: the keyboard goes back to the canvas
    s.key(Qt.Key.Key_F)
    assert s.win.media.search.text() == "img" and s.current_name() == "img1.png"
    s.click(s.win.labels.search)
    s.type("ca")
    s.key(Qt.Key.Key_Escape)
    s.key(Qt.Key.Key_D)
    assert s.win.labels.search.text() == "ca" and s.current_name() == "img0.png"


def test_tool_keys_reach_the_canvas_after_clicking_panels(window):
    s = window
    s.key(Qt.Key.Key_P)  # polygon tool
    for p in ((20, 20), (80, 20), (80, 70)):
        s.canvas_click(*p)
    s.click_class_row("road")  # a click in the Labels panel (road allows polygons)
    s.click_media_row(0)  # and one in the media list
    s.key(Qt.Key.Key_Return)  # finishes the polygon: Enter went to the canvas, not the list
    (poly,) = s.anns("polygon")
    s.click_object_row(0)
    assert s.state.selection == (poly.id,)
    s.key(Qt.Key.Key_V)
    s.key(Qt.Key.Key_Right)  # nudges the selected polygon by one pixel
    moved = s.anns("polygon")[0].shape.exterior[0][0]
    assert moved == pytest.approx(poly.shape.exterior[0][0] + 1)
    s.click_object_row(0)
    s.key(Qt.Key.Key_Escape)
    assert s.state.selection == ()
