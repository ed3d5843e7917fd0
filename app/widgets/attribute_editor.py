"""The attribute editor: the selected annotations' attributes, one editor per AttributeSpec.

bool → checkbox, enum → combo box, number → spin box, text → line edit. Each edit is one
``Put`` of every selected annotation of that class it changes (one undo step; locked ones stay).
On a video track the window's surface rewrites it (:mod:`app.tools.track_edits`): a static
attribute goes onto the track, a per-frame ("dynamic", marked "per frame") one onto the shape
of the frame shown, which becomes a keyframe there if it was not one (CVAT's mutable
attributes); the value shown on a frame is that of the latest stored shape at or before it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel,
                               QLineEdit, QVBoxLayout, QWidget)

from app.core.annotations import Annotation
from app.core.commands import Put
from app.core.document import Change, ChangeKind
from app.core.schema import AttributeSpec, AttributeType, LabelClass
from app.widgets.watch import StateWatcher

_BIG = 1e9


class AttributeEditor(QWidget, StateWatcher):
    """Form bound to ``state.selection``."""

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.hint = QLabel()
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 0, 0, 0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.title)
        lay.addWidget(self.form_host)
        lay.addWidget(self.hint)
        lay.addStretch(1)
        self.editors: dict[str, QWidget] = {}
        self._cls: LabelClass | None = None
        self._loading = False
        self.watch(state)
        self.refresh()

    # ------------------------------------------------------------------ showing
    def _targets(self) -> list[Annotation]:
        sel = self.state.selected() if self.state.doc is not None else []
        if not sel:
            return []
        return [a for a in sel if a.class_id == sel[0].class_id]

    def refresh(self) -> None:
        anns = self._targets()
        doc = self.state.doc
        cls = doc.schema.class_by_id(anns[0].class_id) if anns else None
        if cls != self._cls or not anns:
            self._build(cls if anns else None)
        if not anns:
            self.title.setText("<b>No object selected</b>")
            self.hint.setText("Select an object on the canvas or in the object list to edit "
                              "its attributes.")
            return
        n = len(anns)
        name = cls.name if cls else "(no class)"
        self.title.setText(f"<b>{name}</b> · {anns[0].kind.replace('_', ' ')}"
                           + (f" · {n} objects" if n > 1 else ""))
        self.hint.setText(self._hint(cls, anns[0]))
        self._load(anns[0])

    def _hint(self, cls: LabelClass | None, a: Annotation) -> str:
        if cls is None or not cls.attributes:
            return "This class has no attributes."
        if a.track_id is None or a.frame is None or not any(s.dynamic for s in cls.attributes):
            return ""
        return f"Per-frame values set here hold from frame {a.frame} until their next change."

    def _build(self, cls: LabelClass | None) -> None:
        self._cls = cls
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        for spec in cls.attributes if cls else ():
            w = self._editor(spec)
            w.setToolTip(f"{spec.name} ({spec.type.value}" + (
                ", per frame: on a track it is set on this frame and holds until the next "
                "change)" if spec.dynamic else ")"))
            self.editors[spec.name] = w
            self.form.addRow(f"{spec.name} (per frame)" if spec.dynamic else spec.name, w)

    def _editor(self, spec: AttributeSpec) -> QWidget:
        name = spec.name
        if spec.type is AttributeType.BOOL:
            w = QCheckBox()
            w.toggled.connect(lambda v: self._commit(name, bool(v)))
        elif spec.type is AttributeType.ENUM:
            w = QComboBox()
            w.addItems(list(spec.options))
            w.currentTextChanged.connect(lambda v: self._commit(name, v))
        elif spec.type is AttributeType.NUMBER:
            w = QDoubleSpinBox()
            w.setDecimals(2)
            w.setRange(-_BIG if spec.minimum is None else spec.minimum,
                       _BIG if spec.maximum is None else spec.maximum)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v: self._commit(name, float(v)))
        else:
            w = QLineEdit()
            w.editingFinished.connect(lambda w=w: self._commit(name, w.text()))
        return w

    def _load(self, a: Annotation) -> None:
        self._loading = True
        try:
            for spec in self._cls.attributes if self._cls else ():
                w = self.editors[spec.name]
                value = a.attributes.get(spec.name, spec.initial())
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, QComboBox):
                    w.setCurrentIndex(max(0, w.findText(str(value))))
                elif isinstance(w, QDoubleSpinBox):
                    w.setValue(float(value) if isinstance(value, (int, float)) else 0.0)
                elif isinstance(w, QLineEdit) and not w.hasFocus():
                    w.setText("" if value is None else str(value))
        finally:
            self._loading = False

    def on_state(self, field: str) -> None:
        if field in ("doc", "selection", "place"):
            self.refresh()

    def on_changes(self, changes: list[Change]) -> None:
        chosen = set(self.state.selection)
        if any(c.kind in (ChangeKind.SCHEMA, ChangeKind.RESET)
               or (c.kind == ChangeKind.ANNOTATIONS and chosen & set(c.ids)) for c in changes):
            if any(c.kind == ChangeKind.SCHEMA for c in changes):
                self._cls = None  # rebuild: the class's attributes may have changed
            self.refresh()

    # ------------------------------------------------------------------ input
    def _commit(self, name: str, value: Any) -> None:
        if self._loading:
            return
        anns = [a for a in self._targets() if a.attributes.get(name) != value and not a.locked]
        if not anns:
            return
        doc = self.state.doc
        after = tuple(doc.edited(a, attributes={**a.attributes, name: value}) for a in anns)
        self.state.execute(Put(after, label=f"Set {name}"))
