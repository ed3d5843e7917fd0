"""The object list: annotations on the current media/frame, frontmost first.

Columns: visible, locked, class (with its colour), shape kind, attributes. Selection is kept
in sync with ``EditorState.selection``; every toggle, relabel, reorder or delete is one command.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QMenu,
                               QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from app.core.annotations import Annotation
from app.core.commands import Put, Remove
from app.core.document import Change, ChangeKind
from app.tools.measure import KINDS as MEASURE_KINDS, kind_of
from app.widgets.class_dialog import KIND_NAMES
from app.widgets.icons import swatch, toggle_icon
from app.widgets.watch import StateWatcher

COL_SHOW, COL_LOCK, COL_CLASS, COL_KIND, COL_ATTRS = range(5)
_REFRESH_FIELDS = {"doc", "place", "hidden", "hidden_classes", "locked_classes"}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _summary(attrs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in attrs.items() if v not in ("", None))


class ObjectList(QWidget, StateWatcher):
    """Annotations of ``state``'s current place, with visibility/lock toggles and z-order."""

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["", "", "Class", "Shape", "Attributes"])
        self.tree.headerItem().setToolTip(COL_SHOW, "Visible (H)")
        self.tree.headerItem().setToolTip(COL_LOCK, "Locked (Ctrl+L)")
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.tree.setTextElideMode(Qt.ElideRight)
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.tree.setContextMenuPolicy(Qt.CustomContextMenu)
        head = self.tree.header()
        for col in (COL_SHOW, COL_LOCK, COL_KIND):
            head.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        head.setSectionResizeMode(COL_CLASS, QHeaderView.Interactive)
        head.resizeSection(COL_CLASS, 110)
        head.setStretchLastSection(True)
        self.tree.itemClicked.connect(self._item_clicked)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.count = QLabel()
        self.count.setObjectName("muted")
        self.actions_: dict[str, QAction] = {}
        bar = QHBoxLayout()
        bar.addWidget(self.count, 1)
        for key, text, shortcut, fn in (
                ("forward", "Bring forward", "Ctrl+]", lambda: self.move_z(+1)),
                ("backward", "Send backward", "Ctrl+[", lambda: self.move_z(-1)),
                ("visibility", "Toggle visibility", "H", self.toggle_hidden),
                ("lock", "Toggle lock", "Ctrl+L", self.toggle_locked),
                ("delete", "Delete", "Delete", self.delete_selected)):
            act = QAction(text, self)
            act.setShortcut(shortcut)
            act.setToolTip(f"{text} ({shortcut})")
            act.triggered.connect(fn)
            self.actions_[key] = act
            if key != "delete":
                button = QToolButton()
                button.setDefaultAction(act)
                button.setText({"forward": "▲", "backward": "▼", "visibility": "Hide",
                                "lock": "Lock"}[key])
                bar.addWidget(button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.tree)
        lay.addLayout(bar)
        self._syncing = False
        self._anns: list[Annotation] = []
        self.watch(state)
        self.refresh()

    # ------------------------------------------------------------------ showing
    def refresh(self) -> None:
        doc = self.state.doc
        self._anns = (list(reversed(self.state.annotations()))
                      if doc is not None and self.state.media_id else [])
        self._syncing = True
        try:
            self.tree.clear()
            dpr = self.devicePixelRatioF()
            for a in self._anns:
                cls = doc.schema.class_by_id(a.class_id)
                item = QTreeWidgetItem(["", "", cls.name if cls else "(no class)",
                                        MEASURE_KINDS.get(kind_of(a) or "")
                                        or KIND_NAMES.get(a.kind, a.kind),
                                        _summary(a.attributes)])
                item.setIcon(COL_SHOW, toggle_icon("eye", not self._is_hidden(a)))
                item.setIcon(COL_LOCK, toggle_icon("lock", self.state.is_locked(a)))
                item.setToolTip(COL_SHOW, "Hidden: click to show" if self._is_hidden(a)
                                else "Visible: click to hide (H)")
                item.setToolTip(COL_LOCK, "Locked: click to unlock" if a.locked else (
                    "Its class is locked (Labels panel)" if self.state.is_locked(a)
                    else "Click to lock (Ctrl+L)"))
                item.setIcon(COL_CLASS, swatch(cls.color if cls else "#808080", dpr=dpr))
                item.setData(0, Qt.UserRole, a.id)
                item.setToolTip(COL_CLASS, f"id {a.id}\nby {a.creator}, {a.modified}")
                self.tree.addTopLevelItem(item)
            self._select_from_state()
        finally:
            self._syncing = False
        n = len(self._anns)
        self.count.setText(f"{n} object{'s' if n != 1 else ''}")

    def _select_from_state(self) -> None:
        chosen = set(getattr(self.state, "selection", ()) or ())
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            item.setSelected(item.data(0, Qt.UserRole) in chosen)
            if item.isSelected():
                self.tree.scrollToItem(item)

    def on_state(self, field: str) -> None:
        if field in _REFRESH_FIELDS:
            self.refresh()
        elif field == "selection":
            self._syncing = True
            try:
                self._select_from_state()
            finally:
                self._syncing = False

    def on_changes(self, changes: list[Change]) -> None:
        mid = self.state.media_id
        if any(c.kind in (ChangeKind.SCHEMA, ChangeKind.RESET)
               or (c.kind == ChangeKind.ANNOTATIONS and mid in c.media_ids) for c in changes):
            self.refresh()

    # ------------------------------------------------------------------ input
    def selected(self) -> list[Annotation]:
        chosen = set(getattr(self.state, "selection", ()) or ())
        return [a for a in self._anns if a.id in chosen]

    def _selection_changed(self) -> None:
        if self._syncing:
            return
        ids = tuple(it.data(0, Qt.UserRole) for it in self.tree.selectedItems())
        self.state.select(ids)

    def _item_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        if column not in (COL_SHOW, COL_LOCK):
            if item.isSelected() and getattr(self.state, "selection_drawn", False):
                self._selection_changed()  # a click on the row just drawn picks it
            return
        a = next((x for x in self._anns if x.id == item.data(0, Qt.UserRole)), None)
        if a is None:
            return
        if column == COL_SHOW:
            self.set_hidden([a], not self._is_hidden(a))
        else:
            self._update([a], "Unlock" if a.locked else "Lock", locked=not a.locked)

    def _is_hidden(self, a: Annotation) -> bool:
        return self.state.is_hidden(a)

    def set_hidden(self, anns: list[Annotation], hide: bool) -> None:
        """Hide or show ``anns`` in this session's view (hiding is not an edit); showing also
        clears a stored hidden flag (one command)."""
        ids = {a.id for a in anns}
        hidden = self.state.hidden | ids if hide else self.state.hidden - ids
        if not hide:
            self._update([a for a in anns if a.hidden], "Show", hidden=False)
        self.state.set(hidden=hidden)

    def _update(self, anns: list[Annotation], label: str, **changes: Any) -> None:
        if anns:
            doc = self.state.doc
            after = tuple(doc.edited(a, **changes) for a in anns)
            self.state.execute(Put(after, label=label))

    def toggle_hidden(self) -> None:
        """Hide or show the selection (or every object here when nothing is selected)."""
        anns = self.selected() or self._anns
        if anns:
            self.set_hidden(anns, not all(self._is_hidden(a) for a in anns))

    def toggle_locked(self) -> None:
        anns = self.selected()
        if anns:
            lock = not all(a.locked for a in anns)
            self._update([a for a in anns if a.locked != lock], "Lock" if lock else "Unlock",
                         locked=lock)

    def delete_selected(self) -> None:
        anns = tuple(a for a in self.selected() if not self.state.is_locked(a))
        if anns:
            self.state.execute(Remove(anns, label=f"Delete {len(anns)} shape"
                                                 + ("s" if len(anns) > 1 else "")))
            self.state.set(selection=())

    def move_z(self, step: int) -> None:
        """Move the selection one place towards the front (+1) or back (-1)."""
        order = list(reversed(self._anns))  # back to front
        chosen = {a.id for a in self.selected()}
        if not chosen:
            return
        idx = range(len(order)) if step < 0 else range(len(order) - 1, -1, -1)
        for i in idx:
            j = i + step
            if order[i].id in chosen and 0 <= j < len(order) and order[j].id not in chosen:
                order[i], order[j] = order[j], order[i]
        before = [a for z, a in enumerate(order) if a.z != z]
        doc = self.state.doc
        after = tuple(doc.edited(a, z=order.index(a)) for a in before)
        if before:
            label = "Bring forward" if step > 0 else "Send backward"
            self.state.execute(Put(after, label=label))

    def relabel(self, anns: list[Annotation], cls: Any) -> None:
        """Give ``anns`` class ``cls``, keeping attribute values the new class also has."""
        before = tuple(a for a in anns if not self.state.is_locked(a) and a.class_id != cls.id)
        if before:
            doc = self.state.doc
            after = tuple(doc.edited(a, class_id=cls.id, attributes={
                **cls.default_attributes(),
                **{k: v for k, v in a.attributes.items() if cls.attribute(k)}}) for a in before)
            self.state.execute(Put(after, label=f"Set class {cls.name}"))

    def _context_menu(self, pos: Any) -> None:
        anns = self.selected()
        if not anns:
            return
        doc = self.state.doc
        menu = QMenu(self)
        sub = menu.addMenu("Set class")
        kinds = {a.kind for a in anns}
        for cls in doc.schema.classes:
            if all(cls.allows(k) for k in kinds):
                act = sub.addAction(swatch(cls.color), cls.name)
                act.triggered.connect(lambda _=False, c=cls: self.relabel(anns, c))
        menu.addSeparator()
        for key in ("visibility", "lock", "forward", "backward", "delete"):
            menu.addAction(self.actions_[key])
        menu.exec(self.tree.viewport().mapToGlobal(pos))
