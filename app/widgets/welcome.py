"""The page shown when no project is open: new, open, demo, and recent projects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)


@dataclass(frozen=True)
class WelcomeActions:
    """All the welcome page may do: the window's few project commands."""

    new_project: Callable[[], Any]
    open_project: Callable[[], Any]
    open_demo: Callable[[], Any]
    open_path: Callable[[str], Any]
    recent: Callable[[], list[str]]


class Welcome(QWidget):
    def __init__(self, actions: WelcomeActions) -> None:
        super().__init__()
        self._actions = win = actions
        title = QLabel("<h1>Vellum</h1>")
        sub = QLabel("Offline annotation of images, video and medical volumes. "
                     "Drop files or a project here to begin.")
        sub.setObjectName("muted")
        sub.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, slot in (("New project…", win.new_project),
                           ("Open project…", win.open_project),
                           ("Open demo project", win.open_demo)):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, s=slot: s())
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.recent = QListWidget()
        self.recent.itemActivated.connect(lambda it: win.open_path(it.data(Qt.UserRole)))
        col = QVBoxLayout()
        col.addWidget(title)
        col.addWidget(sub)
        col.addSpacing(12)
        col.addLayout(buttons)
        col.addSpacing(12)
        self.recent_title = QLabel("Recent projects")
        col.addWidget(self.recent_title)
        col.addWidget(self.recent)
        col.addStretch(1)
        box = QWidget()
        box.setLayout(col)
        box.setMaximumWidth(640)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 3)
        outer.addStretch(1)
        outer.setContentsMargins(24, 80, 24, 24)

    def refresh(self) -> None:
        self.recent.clear()
        for path in self._actions.recent():
            p = Path(path)
            name = p.parent.name if p.name == "project.vellum" else p.stem
            item = QListWidgetItem(f"{name}    —    {path}")
            item.setData(Qt.UserRole, path)
            if not p.exists():
                item.setFlags(Qt.NoItemFlags)
                item.setText(item.text() + "  (missing)")
            self.recent.addItem(item)
        n = self.recent.count()
        self.recent_title.setVisible(n > 0)
        self.recent.setVisible(n > 0)
        self.recent.setFixedHeight(min(n, 10) * self.recent.sizeHintForRow(0) + 6 if n else 0)
