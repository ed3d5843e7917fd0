"""The page shown when no project is open: new, open, demo, and recent projects."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow


class Welcome(QWidget):
    def __init__(self, win: MainWindow) -> None:
        super().__init__()
        self._win = win
        title = QLabel("<h1>Vellum</h1>")
        sub = QLabel("Offline annotation of images, video and medical volumes. "
                     "Drop files or a project here to begin.")
        sub.setObjectName("muted")
        sub.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, slot in (("New project…", win.new_project_dialog),
                           ("Open project…", win.open_project_dialog),
                           ("Open demo project", win.open_demo)):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, s=slot: s())
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.recent = QListWidget()
        self.recent.itemActivated.connect(lambda it: win.open_project(it.data(Qt.UserRole)))
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
        for path in self._win.recent_projects():
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
