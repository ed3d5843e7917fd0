"""Every key of the window is on the key sheet (F1), no two actions share one, and the panels'
eye and padlock icons read in both themes."""

from __future__ import annotations

from collections import Counter

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from app.tools import TOOLS
from app.widgets.shortcuts import ShortcutSheet
from tools_scene import in_dialog, window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")


def window_keys(win) -> list[str]:
    """Every key sequence of every action of the window (menus, panels, class keys)."""
    return [s.toString(QKeySequence.SequenceFormat.NativeText)
            for act in win.actions() for s in act.shortcuts()]


def test_the_key_sheet_lists_every_key_and_no_two_actions_share_one(window, qtbot):
    s = window
    keys = window_keys(s.win)
    twice = [k for k, n in Counter(keys).items() if n > 1]
    assert twice == [], f"keys bound to two actions: {twice}"
    rows: list[tuple[str, str]] = []

    def read(sheet) -> None:
        assert isinstance(sheet, ShortcutSheet)
        rows.extend(sheet.rows())
        sheet.reject()

    in_dialog(qtbot, lambda: s.key(Qt.Key.Key_F1), read)
    listed = " , ".join(k for _what, k in rows)
    listed_keys = {part.strip() for _what, k in rows for part in k.split(",")}
    missing = [k for k in keys if k not in listed_keys]
    assert missing == [], f"keys the sheet does not list: {missing}"
    for tool in TOOLS:  # each tool's own keys, under its name
        for tool_keys, what in tool.key_help:
            assert (what, tool_keys) in rows, (tool.name, what)
    for needed in ("Space+drag", "Esc", "N", "Ctrl+S", "Z", "Ctrl+Return", "I", "PgDown"):
        assert needed in listed, needed


def test_tool_keys_never_shadow_a_window_key_with_another_meaning():
    """A tool claims its keys before the window's shortcuts; only Delete means the same in
    both places (delete the selection). Keypoints skip with S since N finishes a shape."""
    from PySide6.QtCore import QSettings  # noqa: F401  (a window is not needed for this)

    single = {"F", "D", "H", "N", "Z", "I", "V", "A", "R", "T", "P", "L", "K", "B", "E",
              "Home", "End", "PageUp", "PageDown", "Delete", *"123456789"}
    for tool in TOOLS:
        clash = set(tool.keys) & single - {"Delete"}
        assert clash == set(), (tool.name, clash)


@pytest.mark.parametrize("first", ["dark", "light"])
def test_eye_and_lock_icons_read_in_both_themes_after_switching(window, first):
    from app.widgets import theme
    from app.widgets.object_list import COL_LOCK, COL_SHOW

    s = window
    app = QApplication.instance()
    theme.apply_theme(app, first)
    try:
        s.key(Qt.Key.Key_R)
        s.canvas_drag([(20, 20), (70, 60)])
        s.key(Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier
              | Qt.KeyboardModifier.ShiftModifier)  # switch theme
        now = theme.current_theme(app)
        assert now != first
        base = app.palette().base().color()
        item = s.win.objects.tree.topLevelItem(0)
        for col in (COL_SHOW, COL_LOCK):  # an open eye, an open (faint) padlock
            img = item.icon(col).pixmap(QSize(16, 16)).toImage()
            seen = []  # each pixel as it shows on the list's background
            for x in range(16):
                for y in range(16):
                    c = img.pixelColor(x, y)
                    a = c.alphaF()
                    seen.append(a * c.lightness() + (1 - a) * base.lightness())
            contrast = max(abs(v - base.lightness()) for v in seen)
            assert contrast > 70, (now, col, contrast)
    finally:
        theme.apply_theme(app, "dark")
