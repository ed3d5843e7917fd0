"""Menus, the tool bar and every keyboard shortcut of the main window, in one table.

Keyboard first: each action has a key; the shortcut sheet (F1 / ?) is generated from these
actions, so it always matches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import html

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QToolBar

from app.widgets import exchange

from app.widgets.icons import tool_icon

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow


def _act(win: MainWindow, text: str, keys: str | list[str] | QKeySequence.StandardKey | None,
         slot: Callable[..., Any], tip: str = "") -> QAction:
    act = QAction(text, win)
    if isinstance(keys, list):
        act.setShortcuts([QKeySequence(k) for k in keys])
    elif keys is not None:
        act.setShortcut(keys)
    act.setShortcutContext(Qt.WindowShortcut)
    act.setToolTip(tip or text)
    act.triggered.connect(lambda _=False: slot())
    win.addAction(act)  # keys work even when the menu bar is hidden
    return act


def tool_tip(label: str, shortcut: str | None, text: str) -> str:
    """Rich tooltip of a tool button: name, key, then what it does (without the key the
    tool's own text may end with)."""
    text = (text or "").strip()
    if shortcut and text.endswith(f"({shortcut})"):
        text = text[: -len(shortcut) - 2].rstrip()
    key = f"&nbsp;&nbsp;<span style='opacity:0.8'>[{html.escape(shortcut)}]</span>" if (
        shortcut) else ""
    body = f"<br>{html.escape(text)}" if text and text != label else ""
    return f"<b>{html.escape(label)}</b>{key}{body}"


def _outlines_action(win: MainWindow) -> QAction:
    act = QAction("&Outlines only", win)
    act.setCheckable(True)
    act.setShortcut("Ctrl+Shift+O")
    act.setShortcutContext(Qt.WindowShortcut)
    act.setToolTip("Hide the fills of masks, polygons and boxes (the fill opacity slider "
                   "in the status bar sets how strong they are)")
    win.addAction(act)
    win.outlines_action = act
    return act


def install(win: MainWindow) -> dict[str, list[QAction]]:
    """Create menus, tool bar and shortcuts; return actions by section (for the sheet)."""
    mb = win.menuBar()
    sections: dict[str, list[QAction]] = {}

    m = mb.addMenu("&File")
    file_acts = [
        _act(win, "&New project…", QKeySequence.New, win.new_project_dialog),
        _act(win, "&Open project…", QKeySequence.Open, win.open_project_dialog),
    ]
    for a in file_acts:
        m.addAction(a)
    win.recent_menu = m.addMenu("Open &recent")
    win.recent_menu.aboutToShow.connect(win.fill_recent_menu)
    m.addAction(_act(win, "Open &demo project", None, win.open_demo))
    m.addAction(_act(win, "Set a&uthor name…", None, win.author_dialog))
    m.addSeparator()
    add = [_act(win, "&Add images or videos…", "Ctrl+I", win.add_files_dialog),
           _act(win, "Add &folder…", "Ctrl+Shift+I", win.add_folder_dialog),
           _act(win, "&Import COCO JSON…", None, lambda: exchange.import_coco(win)),
           _act(win, "&Export COCO JSON…", "Ctrl+E", lambda: exchange.export_coco(win))]
    for a in add:
        m.addAction(a)
    m.addSeparator()
    close = _act(win, "&Close project", "Ctrl+W", win.close_project)
    quit_ = _act(win, "&Quit", QKeySequence.Quit, win.close)
    m.addAction(close)
    m.addAction(quit_)
    sections["Project"] = file_acts + add + [close, quit_]

    m = mb.addMenu("&Edit")
    win.undo_action = _act(win, "&Undo", "Ctrl+Z", win.undo)
    win.redo_action = _act(win, "&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], win.redo)
    edit = [win.undo_action, win.redo_action,
            _act(win, "&Copy shapes", "Ctrl+C", win.copy_shapes),
            _act(win, "&Paste shapes", "Ctrl+V", win.paste_shapes),
            _act(win, "Paste shapes from pre&vious image", "Ctrl+Shift+V", win.repeat_previous),
            _act(win, "Select &all shapes", "Ctrl+A", win.select_all),
            win.objects.actions_["delete"]]
    for a in edit:
        m.addAction(a)
    sections["Edit"] = edit

    m = mb.addMenu("&Objects")
    objects = [win.objects.actions_[k] for k in ("visibility", "lock", "forward", "backward")]
    objects.append(_act(win, "Show all hidden objects", "Shift+H", win.show_all_objects))
    add_class = _act(win, "New &class…", "Ctrl+Shift+N", win.labels.add_class)
    edit_class = _act(win, "&Edit active class…", "Ctrl+Shift+E", win.labels.edit_class)
    for a in objects + [add_class, edit_class]:
        m.addAction(a)
    for a in objects[:4] + [win.objects.actions_["delete"]]:
        win.addAction(a)
    sections["Objects"] = objects + [add_class, edit_class]

    m = mb.addMenu("&Media")
    nav = [_act(win, "&Next image", ["F", "PgDown"], lambda: win.step_media(1)),
           _act(win, "&Previous image", ["D", "PgUp"], lambda: win.step_media(-1)),
           _act(win, "&First image", "Home", lambda: win.jump_media(0)),
           _act(win, "&Last image", "End", lambda: win.jump_media(-1))]
    for a in nav:
        m.addAction(a)
    m.addSeparator()
    for a in win.media.status_actions:
        m.addAction(a)
        win.addAction(a)
    sections["Navigation"] = nav + list(win.media.status_actions)

    m = mb.addMenu("&Tools")
    win.tool_group = QActionGroup(win)
    win.tool_group.setExclusive(True)
    win.tool_actions = {}
    bar = QToolBar("Tools")
    bar.setObjectName("tools_toolbar")
    bar.setToolButtonStyle(Qt.ToolButtonIconOnly)
    bar.setIconSize(QSize(24, 24))
    bar.setOrientation(Qt.Vertical)
    bar.setMovable(False)
    win.tool_bar = bar
    win.addToolBar(Qt.LeftToolBarArea, bar)
    for name, tool in win.tools.items():
        shortcut = getattr(tool, "shortcut", "") or None
        act = _act(win, tool.label, shortcut, lambda n=name: win.set_tool(n),
                   tool_tip(tool.label, shortcut, getattr(tool, "tooltip", "")))
        act.setIcon(tool_icon(name, tool.label))
        act.setCheckable(True)
        act.setIconText(f"{tool.label}  {shortcut}" if shortcut else tool.label)
        win.tool_group.addAction(act)
        win.tool_actions[name] = act
        m.addAction(act)
        bar.addAction(act)
    sections["Tools"] = list(win.tool_actions.values())

    m = mb.addMenu("&View")
    view = [_act(win, "&Fit image to window", "Ctrl+0", win.canvas.fit),
            _act(win, "&Actual size (100%)", "Ctrl+1", win.canvas.zoom_1to1),
            _act(win, "Image &brightness and contrast…", "Ctrl+B", win.adjust_dialog),
            _outlines_action(win),
            _act(win, "Toggle &dark / light theme", "Ctrl+Shift+T", win.toggle_theme),
            _act(win, "Focus media &filter", "Ctrl+F", win.media.search.setFocus)]
    for a in view:
        m.addAction(a)
    m.addSeparator()
    for dock in win.docks:
        m.addAction(dock.toggleViewAction())
    sections["View"] = view

    m = mb.addMenu("&Help")
    sheet = _act(win, "&Keyboard shortcuts", ["F1", "?"], win.show_shortcuts)
    m.addAction(sheet)
    m.addAction(_act(win, "&About Vellum", None, win.about))
    sections["Help"] = [sheet]

    # Class hotkeys 1–9: plain shortcuts (line edits still receive digits typed into them).
    for key in "123456789":
        sc = QShortcut(QKeySequence(key), win)
        sc.setContext(Qt.WindowShortcut)
        sc.activated.connect(lambda k=key: win.labels.choose_hotkey(k))
    return sections
