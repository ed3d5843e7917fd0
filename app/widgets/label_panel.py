"""The label panel: the project's classes with colour swatches and hotkeys 1–9, a search box,
and add / edit through :class:`~app.widgets.class_dialog.ClassDialog` (one SetSchema each).

Choosing a class sets ``EditorState.class_id``; when annotations are selected it also relabels
them (one Put), as CVAT and labelme do. The eye and padlock of a class hide or lock all its
shapes in this view (as CVAT's label list does; a view setting, not an edit).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLineEdit,
                               QMessageBox, QPushButton, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from app.core.commands import Put, SetSchema
from app.core.document import Change, ChangeKind
from app.core.schema import LabelClass
from app.widgets.class_dialog import KIND_NAMES, ClassDialog
from app.widgets.icons import swatch, toggle_icon
from app.widgets.watch import StateWatcher

COL_NAME, COL_KEY, COL_KINDS, COL_SHOW, COL_LOCK = range(5)


class ClassTree(QTreeWidget):
    """The class list; a click on a row's eye or padlock toggles it without choosing the
    class (so it never relabels the selection)."""

    toggled = Signal(str, int)  # class id, column

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        pos = e.position().toPoint()
        item, column = self.itemAt(pos), self.columnAt(pos.x())
        if item is not None and column in (COL_SHOW, COL_LOCK) and (
                e.button() == Qt.MouseButton.LeftButton):
            self.toggled.emit(item.data(0, Qt.UserRole), column)
            e.accept()
            return
        super().mousePressEvent(e)


class LabelPanel(QWidget, StateWatcher):
    """Class list bound to ``state`` (an EditorState)."""

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search classes…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._apply_search)
        self.tree = ClassTree()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["Class", "Key", "Shapes", "", ""])
        self.tree.headerItem().setToolTip(COL_SHOW, "Show or hide every shape of the class")
        self.tree.headerItem().setToolTip(COL_LOCK, "Lock the class's shapes against edits")
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        head = self.tree.header()
        head.setSectionResizeMode(COL_NAME, QHeaderView.Stretch)
        head.setMinimumSectionSize(22)
        for col in (COL_KEY, COL_SHOW, COL_LOCK):
            head.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        head.setSectionResizeMode(COL_KINDS, QHeaderView.Interactive)  # elided, the name wins
        head.resizeSection(COL_KINDS, 110)
        head.setStretchLastSection(False)
        self.tree.setTextElideMode(Qt.ElideRight)
        self.tree.currentItemChanged.connect(self._picked)
        self.tree.toggled.connect(self._clicked)
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
                item = QTreeWidgetItem([c.name, c.hotkey or "", kinds, "", ""])
                item.setIcon(COL_NAME, swatch(c.color, dpr=dpr))
                item.setData(0, Qt.UserRole, c.id)
                key = f" — key {c.hotkey}" if c.hotkey else ""
                item.setToolTip(COL_NAME, f"{c.name}: {kinds}{key}")
                item.setToolTip(COL_KINDS, f"Shapes {c.name} allows: {kinds}")
                item.setTextAlignment(COL_KEY, Qt.AlignCenter)
                self._toggles(item, c.id)
                self.tree.addTopLevelItem(item)
            self._show_active()
            self._apply_search(self.search.text())
        finally:
            self._rebuilding = False
        self.edit_button.setEnabled(bool(self._classes()))

    def _toggles(self, item: QTreeWidgetItem, class_id: str) -> None:
        hidden = class_id in self.state.hidden_classes
        locked = class_id in self.state.locked_classes
        item.setIcon(COL_SHOW, toggle_icon("eye", not hidden))
        item.setIcon(COL_LOCK, toggle_icon("lock", locked))
        item.setToolTip(COL_SHOW, "Hidden: click to show its shapes" if hidden
                        else "Click to hide every shape of this class")
        item.setToolTip(COL_LOCK, "Locked: click to allow edits" if locked
                        else "Click to lock its shapes against edits")

    def _clicked(self, class_id: str, column: int) -> None:
        if column == COL_SHOW:
            self.toggle_class("hidden_classes", class_id)
        elif column == COL_LOCK:
            self.toggle_class("locked_classes", class_id)

    def toggle_class(self, field: str, class_id: str) -> None:
        """Hide/show (``field`` 'hidden_classes') or lock/unlock ('locked_classes') every
        shape of a class in this view."""
        now = set(getattr(self.state, field))
        now ^= {class_id}
        self.state.set(**{field: frozenset(now)})
        if field == "hidden_classes" and class_id in now:
            gone = {a.id for a in self.state.selected() if a.class_id == class_id}
            if gone:
                self.state.select([i for i in self.state.selection if i not in gone])

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
        elif field in ("hidden_classes", "locked_classes"):
            for i in range(self.tree.topLevelItemCount()):
                item = self.tree.topLevelItem(i)
                self._toggles(item, item.data(0, Qt.UserRole))
        elif field == "class_id":
            self._rebuilding = True
            try:
                self._show_active()
            finally:
                self._rebuilding = False

    def on_changes(self, changes: list[Change]) -> None:
        if any(c.kind in (ChangeKind.SCHEMA, ChangeKind.RESET) for c in changes):
            self.rebuild()

    # ------------------------------------------------------------------ input
    def _picked(self, item: QTreeWidgetItem | None, _prev: Any) -> None:
        if self._rebuilding or item is None:
            return
        self.choose(item.data(0, Qt.UserRole))

    def choose(self, class_id: str) -> None:
        """Make ``class_id`` active and relabel the selected annotations that allow it —
        only a selection the user made: what a tool just drew keeps its class (the choice is
        for the next shape, as in CVAT)."""
        self.state.set(class_id=class_id)
        doc = self.state.doc
        cls = doc.schema.class_by_id(class_id) if doc else None
        drawn = getattr(self.state, "selection_drawn", False)
        selected = set() if drawn else set(getattr(self.state, "selection", ()) or ())
        if cls is None or not selected:
            return
        before = tuple(a for a in self.state.annotations() if a.id in selected
                       and a.class_id != class_id and cls.allows(a.kind)
                       and not self.state.is_locked(a))
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
