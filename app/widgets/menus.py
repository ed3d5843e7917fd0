"""Menus, the tool bar and every keyboard shortcut, built from one table of :class:`Entry`.

The builder knows nothing about the main window: it receives the table (text, keys, the
function to call) and the QWidget the shortcuts live on. Keyboard first: each action has a
key; the shortcut sheet (F1 / ?) is generated from the same actions, so it always matches.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

Keys = str | list[str] | QKeySequence.StandardKey | None


@dataclass(frozen=True)
class Entry:
    """One menu item (``menu`` empty: a window key only). ``section`` is its heading on the key
    sheet; ``name`` finds its QAction afterwards; ``action`` uses an existing QAction (a
    panel's own) instead of making one."""

    menu: str
    text: str = ""
    keys: Keys = None
    run: Callable[[], Any] | None = None
    tip: str = ""
    section: str = ""
    name: str = ""
    checkable: bool = False
    action: QAction | None = None
    separator: bool = False  # a separator line (nothing else is used)
    submenu: str = ""  # a submenu of this title (filled by its owner, or by entries whose
    # menu is in_submenu(menu, submenu))
    icon: QIcon | None = None
    group: str = ""  # exclusive group (the tools)
    extra: dict[str, Any] = field(default_factory=dict)


SUB = " ▸ "


def in_submenu(menu: str, submenu: str) -> str:
    """The ``menu`` of an entry that goes into submenu ``submenu`` of ``menu`` (an entry with
    ``submenu=`` makes it; entries after it may fill it)."""
    return f"{menu}{SUB}{submenu}"


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


@dataclass
class Built:
    """What :func:`build` made: actions by name, actions per key-sheet section, submenus."""

    actions: dict[str, QAction]
    sections: dict[str, list[QAction]]
    submenus: dict[str, QMenu]
    groups: dict[str, QActionGroup]


def _make(owner: QMainWindow, e: Entry) -> QAction:
    act = e.action or QAction(e.text, owner)
    if e.action is None:
        if isinstance(e.keys, list):
            act.setShortcuts([QKeySequence(k) for k in e.keys])
        elif e.keys is not None:
            act.setShortcut(e.keys)
        act.setToolTip(e.tip or e.text)
        act.setCheckable(e.checkable)
        if e.run is not None:
            run = e.run
            act.triggered.connect(lambda _=False: run())
    if e.icon is not None:
        act.setIcon(e.icon)
    act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    owner.addAction(act)  # keys work even when the menu bar is hidden
    return act


def build(owner: QMainWindow, entries: Sequence[Entry], toolbar: QToolBar | None = None,
          toolbar_group: str = "") -> Built:
    """Create the menus of ``owner``'s menu bar from ``entries`` (in order); actions of
    ``toolbar_group`` also go on ``toolbar``."""
    menus: dict[str, QMenu] = {}
    out = Built({}, {}, {}, {})
    for e in entries:
        menu = menus.get(e.menu)
        if menu is None and e.menu:
            menu = menus[e.menu] = owner.menuBar().addMenu(e.menu)
        if e.separator:
            menu.addSeparator()
            continue
        if e.submenu:
            out.submenus[e.submenu] = menus[in_submenu(e.menu, e.submenu)] = \
                menu.addMenu(e.submenu)
            continue
        act = _make(owner, e)
        if SUB in e.menu:  # the key sheet says "Export COCO JSON", not "COCO JSON"
            act.setProperty("sheet_text", f"{e.menu.split(SUB)[-1]} {act.text()}")
        if menu is not None:  # no menu: a key of the window only (class hotkeys 1-9)
            menu.addAction(act)
        if e.name:
            out.actions[e.name] = act
        if e.section:
            out.sections.setdefault(e.section, []).append(act)
        if e.group:
            group = out.groups.get(e.group)
            if group is None:
                group = out.groups[e.group] = QActionGroup(owner)
                group.setExclusive(True)
            group.addAction(act)
            if toolbar is not None and e.group == toolbar_group:
                toolbar.addAction(act)
    return out


def tool_bar() -> QToolBar:
    """The vertical bar of tool buttons at the window's left."""
    bar = QToolBar("Tools")
    bar.setObjectName("tools_toolbar")
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    bar.setIconSize(QSize(24, 24))
    bar.setOrientation(Qt.Orientation.Vertical)
    bar.setMovable(False)
    return bar


def key_names(act: QAction) -> list[str]:
    """The action's key sequences as the key sheet writes them."""
    return [s.toString(QKeySequence.SequenceFormat.NativeText) for s in act.shortcuts()]
