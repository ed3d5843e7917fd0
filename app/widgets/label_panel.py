"""The label panel: the project's classes with colour swatches and hotkeys 1–9, a search box,
and add / edit through :class:`~app.widgets.class_dialog.ClassDialog` (one SetSchema each).

Choosing a class sets ``EditorState.class_id``; when annotations are selected it also relabels
them (one UpdateAnnotations), as CVAT and labelme do.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLineEdit,
                               QMessageBox, QPushButton, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from app.core.commands import Put, SetSchema
from app.core.document import Change
from app.core.schema import LabelClass
from app.widgets.class_dialog import KIND_NAMES, ClassDialog
from app.widgets.watch import StateWatcher


def swatch(color: str, size: int = 14, dpr: float = 1.0) -> QIcon:
    """A small rounded colour square."""
    pm = QPixmap(round(size * dpr), round(size * dpr))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(QColor(0, 0, 0, 120))
    p.setBrush(QColor(color))
    p.drawRoundedRect(0.5, 0.5, size - 1, size - 1, 3, 3)
    p.end()
    icon = QIcon(pm)
    icon.addPixmap(pm, QIcon.Selected)  # no tinting on selected rows: the colour is the point
    return icon


class LabelPanel(QWidget, StateWatcher):
    """Class list bound to ``state`` (an EditorState)."""

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search classes…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._apply_search)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Class", "Key", "Shapes"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        head = self.tree.header()
        head.setSectionResizeMode(0, QHeaderView.Stretch)
        head.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        head.setSectionResizeMode(2, QHeaderView.ResizeToContents)
        head.setStretchLastSection(False)
        self.tree.currentItemChanged.connect(self._picked)
        self.tree.itemDoubleClicked.connect(lambda *_: self.edit_class())
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Add a class (Ctrl+Shift+N)")
        self.add_button.clicked.connect(self.add_class)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self.edit_class)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the chosen class (only while nothing uses it)")
        self.delete_button.clicked.connect(self.delete_class)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.edit_button)
        row.addWidget(self.delete_button)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        lay.addLayout(row)
        self._rebuilding = False
        self.watch(state)
        self.rebuild()

    # ------------------------------------------------------------------ showing
    def _classes(self) -> tuple[LabelClass, ...]:
        doc = self.state.doc
        return doc.schema.classes if doc is not None else ()

    def rebuild(self) -> None:
        self._rebuilding = True
        try:
            self.tree.clear()
            dpr = self.devicePixelRatioF()
            for c in self._classes():
                kinds = ", ".join(KIND_NAMES.get(k, k) for k in c.kinds) or "any"
                item = QTreeWidgetItem([c.name, c.hotkey or "", kinds])
                item.setIcon(0, swatch(c.color, dpr=dpr))
                item.setData(0, Qt.UserRole, c.id)
                key = f" — key {c.hotkey}" if c.hotkey else ""
                item.setToolTip(0, f"{c.name}: {kinds}{key}")
                item.setTextAlignment(1, Qt.AlignCenter)
                self.tree.addTopLevelItem(item)
            self._show_active()
            self._apply_search(self.search.text())
        finally:
            self._rebuilding = False
        self.edit_button.setEnabled(bool(self._classes()))

    def _show_active(self) -> None:
        active = getattr(self.state, "class_id", None)
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.UserRole) == active:
                self.tree.setCurrentItem(item)
                return
        self.tree.setCurrentItem(None)

    def _apply_search(self, text: str) -> None:
        t = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            item.setHidden(bool(t) and t not in item.text(0).lower())

    def on_state(self, field: str) -> None:
        if field == "doc":
            self.rebuild()
        elif field == "class_id":
            self._rebuilding = True
            try:
                self._show_active()
            finally:
                self._rebuilding = False

    def on_changes(self, changes: list[Change]) -> None:
        if any(c.kind in ("schema", "reset") for c in changes):
            self.rebuild()

    # ------------------------------------------------------------------ input
    def _picked(self, item: QTreeWidgetItem | None, _prev: Any) -> None:
        if self._rebuilding or item is None:
            return
        self.choose(item.data(0, Qt.UserRole))

    def choose(self, class_id: str) -> None:
        """Make ``class_id`` active and relabel the selected annotations that allow it."""
        self.state.set(class_id=class_id)
        doc = self.state.doc
        cls = doc.schema.class_by_id(class_id) if doc else None
        selected = set(getattr(self.state, "selection", ()) or ())
        if cls is None or not selected:
            return
        before = tuple(a for a in self.state.annotations() if a.id in selected
                       and a.class_id != class_id and cls.allows(a.kind) and not a.locked)
        if before:
            after = tuple(doc.edited(a, class_id=class_id,
                                     attributes={
                **cls.default_attributes(),
                **{k: v for k, v in a.attributes.items() if cls.attribute(k)}})
                          for a in before)
            self.state.execute(Put(after, label=f"Set class {cls.name}"))

    def choose_hotkey(self, key: str) -> bool:
        """Activate the class bound to ``key`` ('1'..'9'); False when none is."""
        cls = next((c for c in self._classes() if c.hotkey == key), None)
        if cls is None:
            return False
        self.choose(cls.id)
        return True

    def current_class(self) -> LabelClass | None:
        doc = self.state.doc
        return doc.schema.class_by_id(self.state.class_id) if doc else None

    def add_class(self) -> None:
        self._edit(None)

    def edit_class(self) -> None:
        cls = self.current_class()
        if cls is not None:
            self._edit(cls)

    def delete_class(self) -> None:
        """Remove the chosen class, as one undoable step; refused while annotations use it."""
        doc, cls = self.state.doc, self.current_class()
        if doc is None or cls is None:
            return
        used = doc.class_usage(cls.id)
        if used:
            QMessageBox.information(self, "Class in use", f"{cls.name!r} is used by {used} "
                                    "annotation(s). Relabel or delete them first.")
            return
        if any(c.parent_id == cls.id for c in doc.schema.classes):
            QMessageBox.information(self, "Class has sub-classes",
                                    f"Move or delete the classes nested under {cls.name!r} first.")
            return
        self.state.execute(SetSchema(doc.schema.without_class(cls.id),
                                     label=f"Delete class {cls.name}"))
        rest = doc.schema.classes
        self.state.set(class_id=rest[0].id if rest else None)

    def _edit(self, cls: LabelClass | None) -> None:
        doc = self.state.doc
        if doc is None:
            return
        dialog = ClassDialog(doc.schema, cls, self)
        if dialog.exec() and dialog.value is not None:
            label = f"Edit class {dialog.value.name}" if cls else f"Add class {dialog.value.name}"
            self.state.execute(SetSchema(dialog.schema, label=label))
            self.state.set(class_id=dialog.value.id)
