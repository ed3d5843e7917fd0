"""The shortcut sheet (F1 or ?): every action, class key and tool key, searchable.

Built from the live QActions, the schema's classes and the tools' own declarations
(:attr:`app.tools.base.Tool.key_help`), so it can never disagree with the real keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLineEdit, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

Section = tuple[str, list[tuple[str, str]]]


def action_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(name, keys) of every action that has a shortcut, in the given order."""
    rows = []
    for act in actions:
        keys = ", ".join(s.toString(QKeySequence.NativeText) for s in act.shortcuts())
        if keys:
            text = act.property("sheet_text") or act.text()  # a submenu's item: with its title
            rows.append((text.replace("&", "").rstrip("…").rstrip("."), keys))
    return rows


def sheet_sections(actions: Mapping[str, Iterable[QAction]], classes: Sequence[Any],
                   tools: Sequence[Any]) -> list[Section]:
    """The sheet's sections: the window's actions by section (classes after the first one),
    then what each tool's keys do while it is active."""
    sections = [(title, action_rows(acts)) for title, acts in actions.items()]
    rows = [(f"Class {c.name}", c.hotkey) for c in classes if c.hotkey]
    sections.insert(1, ("Classes (1 … 9)", rows))
    for t in tools:
        if t.key_help:
            head = f"{t.label} tool" + (f" ({t.shortcut})" if t.shortcut else "")
            sections.append((head, [(what, keys) for keys, what in t.key_help]))
    sections.append(("Canvas", [("Pan", "Space+drag, middle drag"),
                                ("Zoom at the cursor", "Wheel"),
                                ("Cancel the shape being drawn, then clear the selection",
                                 "Esc")]))
    return sections


class ShortcutSheet(QDialog):
    """A two-column list of sections (Tools, Navigation, Edit, View, ...)."""

    def __init__(self, sections: list[Section], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(520, 640)
        self.search = QLineEdit(placeholderText="Search shortcuts…")
        self.search.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        bold = self.font()
        bold.setBold(True)
        for title, rows in sections:
            if not rows:
                continue
            head = QTreeWidgetItem([title, ""])
            head.setFont(0, bold)
            head.setFlags(Qt.ItemIsEnabled)
            head.setFirstColumnSpanned(False)
            self.tree.addTopLevelItem(head)
            for name, keys in rows:
                item = QTreeWidgetItem(["    " + name, keys])
                item.setData(0, Qt.UserRole, title)
                self.tree.addTopLevelItem(item)
        self.search.textChanged.connect(self._filter)
        box = QDialogButtonBox(QDialogButtonBox.Close)
        box.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        lay.addWidget(box)
        self.search.setFocus()

    def rows(self) -> list[tuple[str, str]]:
        """(action, keys) rows shown, without section headings (for tests)."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.UserRole):
                out.append((item.text(0).strip(), item.text(1)))
        return out

    def _filter(self, text: str) -> None:
        t = text.strip().lower()
        visible_sections = set()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            section = item.data(0, Qt.UserRole)
            if section:
                hit = not t or t in item.text(0).lower() or t in item.text(1).lower()
                item.setHidden(not hit)
                if hit:
                    visible_sections.add(section)
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if not item.data(0, Qt.UserRole):
                item.setHidden(item.text(0) not in visible_sections)
