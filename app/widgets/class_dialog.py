"""Add / edit one label class: name, colour, allowed shape kinds, hotkey, attributes (each
may change per frame on video tracks: CVAT's mutable attributes), skeleton.

The dialog only builds a :class:`~app.core.schema.LabelClass` value; validation is the core's
(``ValueError`` messages are shown under the form and the dialog stays open).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QComboBox, QDialog, QDialogButtonBox,
                               QFormLayout, QGridLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from app.core.schema import PALETTE, AttributeSpec, AttributeType, LabelClass, LabelSchema, Skeleton
from app.core.shapes import SHAPE_KINDS

KIND_NAMES = {"box": "Box", "rotated_box": "Rotated box", "polygon": "Polygon",
              "polyline": "Polyline", "keypoints": "Keypoints", "mask": "Mask", "tag": "Tag",
              "event": "Event"}
_COLS = ("Name", "Type", "Choices (a, b, c)", "Default", "Min", "Max", "Per frame")
PER_FRAME = 6  # the column of the "changes per frame" (dynamic) check box
PER_FRAME_TIP = ("Changes per frame: on a video track the value is set on a frame and holds "
                 "until the next change (CVAT's mutable attribute); unticked, one value holds "
                 "for the whole track")
TYPE_NAMES = {AttributeType.BOOL: "yes / no", AttributeType.ENUM: "choice",
              AttributeType.NUMBER: "number", AttributeType.TEXT: "text"}
HOTKEYS = "123456789"


def next_free_hotkey(schema: LabelSchema) -> str | None:
    """The first of 1..9 no class of ``schema`` uses (None when all are taken)."""
    taken = {c.hotkey for c in schema.classes}
    return next((k for k in HOTKEYS if k not in taken), None)


def _num(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def _default(kind: AttributeType, text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    if kind is AttributeType.BOOL:
        return text.lower() in ("1", "true", "yes", "on")
    if kind is AttributeType.NUMBER:
        return float(text)
    return text


def parse_edges(text: str) -> tuple[tuple[int, int], ...]:
    """'0-1, 1-2' -> ((0, 1), (1, 2))."""
    out = []
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        a, _, b = part.partition("-")
        try:
            out.append((int(a), int(b)))
        except ValueError:
            raise ValueError(f"skeleton edge {part!r} must look like 0-1") from None
    return tuple(out)


class ClassDialog(QDialog):
    """Edit ``cls`` (or a new class when None) within ``schema``; ``value`` holds the result."""

    def __init__(self, schema: LabelSchema, cls: LabelClass | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit class" if cls else "New class")
        self.setMinimumSize(760, 560)
        self._schema, self._orig = schema, cls
        self.value: LabelClass | None = None
        color = cls.color if cls else PALETTE[len(schema.classes) % len(PALETTE)]
        self.name = QLineEdit(cls.name if cls else "")
        self.color_button = QPushButton()
        self.color_button.setFixedWidth(140)
        self.color_button.clicked.connect(self._pick_color)
        self._set_color(color)
        kinds = QGridLayout()
        self.kind_boxes: dict[str, QCheckBox] = {}
        for n, k in enumerate(SHAPE_KINDS):
            box = QCheckBox(KIND_NAMES.get(k, k))
            box.setChecked(bool(cls and k in cls.kinds))
            kinds.addWidget(box, n // 4, n % 4)
            self.kind_boxes[k] = box
        self.hotkey = QComboBox()
        self.hotkey.addItem("None", "")
        taken = {c.hotkey: c.name for c in schema.classes
                 if c.hotkey and (not cls or c.id != cls.id)}
        for k in HOTKEYS:
            self.hotkey.addItem(k + (f"  (used by {taken[k]})" if k in taken else ""), k)
        key = cls.hotkey if cls else next_free_hotkey(schema)
        self.hotkey.setCurrentIndex(max(0, self.hotkey.findData(key or "")))
        self.table = QTableWidget(0, len(_COLS))
        self.table.setHorizontalHeaderLabels(_COLS)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.Interactive)
        head.setSectionResizeMode(2, QHeaderView.Stretch)
        for col, width in ((0, 130), (1, 110), (3, 90), (4, 70), (5, 70), (PER_FRAME, 80)):
            self.table.setColumnWidth(col, width)
        self.table.verticalHeader().hide()
        self.table.horizontalHeaderItem(PER_FRAME).setToolTip(PER_FRAME_TIP)
        for spec in cls.attributes if cls else ():
            self._add_row(spec)
        self.add_attribute = QPushButton("Add attribute")
        self.remove_attribute = QPushButton("Remove attribute")
        self.add_attribute.clicked.connect(lambda: self._add_row(None))
        self.remove_attribute.clicked.connect(
            lambda: self.table.removeRow(self.table.currentRow()))
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(self.add_attribute)
        buttons_row.addWidget(self.remove_attribute)
        buttons_row.addStretch(1)
        sk = cls.skeleton if cls else None
        self.points = QLineEdit(", ".join(sk.points) if sk else "")
        self.points.setPlaceholderText("keypoint names, e.g. head, neck, l_hand, r_hand")
        self.edges = QLineEdit(", ".join(f"{a}-{b}" for a, b in sk.edges) if sk else "")
        self.edges.setPlaceholderText("edges by index, e.g. 0-1, 1-2, 1-3")
        self.error = QLabel()
        self.error.setObjectName("errorBanner")
        self.error.setWordWrap(True)
        self.error.hide()
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Colour", self.color_button)
        form.addRow("Allowed shapes\n(none = any)", kinds)
        form.addRow("Hotkey", self.hotkey)
        form.addRow("Skeleton points", self.points)
        form.addRow("Skeleton edges", self.edges)
        box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        box.accepted.connect(self._accept)
        box.rejected.connect(self.reject)
        self.buttons = box
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(QLabel("Attributes"))
        lay.addWidget(self.table)
        lay.addLayout(buttons_row)
        lay.addWidget(self.error)
        lay.addWidget(box)

    def _set_color(self, color: str) -> None:
        self._color = color
        fg = "#000000" if QColor(color).lightness() > 140 else "#ffffff"
        self.color_button.setText(color)
        self.color_button.setStyleSheet(f"background: {color}; color: {fg}; padding: 4px;")

    def _pick_color(self) -> None:
        c = QColorDialog.getColor(QColor(self._color), self, "Class colour")
        if c.isValid():
            self._set_color(c.name())

    def _add_row(self, spec: AttributeSpec | None) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        name = QTableWidgetItem(spec.name if spec else "")
        name.setData(256, spec.id if spec else None)
        self.table.setItem(r, 0, name)
        combo = QComboBox()
        for t in AttributeType:  # item data is the plain value: PySide6 gives str-Enums back
            combo.addItem(TYPE_NAMES[t], t.value)  # as str, so convert when reading
        combo.setCurrentIndex(combo.findData(spec.type.value) if spec else 0)
        self.table.setCellWidget(r, 1, combo)
        values = ((", ".join(spec.options), "" if spec.default is None else str(spec.default),
                   "" if spec.minimum is None else str(spec.minimum),
                   "" if spec.maximum is None else str(spec.maximum)) if spec else ("",) * 4)
        for c, v in enumerate(values, start=2):
            self.table.setItem(r, c, QTableWidgetItem(v))
        per_frame = QCheckBox()
        per_frame.setChecked(bool(spec and spec.dynamic))
        per_frame.setToolTip(PER_FRAME_TIP)
        self.table.setCellWidget(r, PER_FRAME, per_frame)

    def _cell(self, r: int, c: int) -> str:
        item = self.table.item(r, c)
        return item.text() if item else ""

    def per_frame(self, r: int) -> bool:
        """Whether row ``r``'s attribute changes per frame (its check box)."""
        box = self.table.cellWidget(r, PER_FRAME)
        return isinstance(box, QCheckBox) and box.isChecked()

    def _attributes(self) -> tuple[AttributeSpec, ...]:
        out = []
        for r in range(self.table.rowCount()):
            name = self._cell(r, 0).strip()
            if not name:
                continue
            kind = AttributeType(self.table.cellWidget(r, 1).currentData())
            options = tuple(o.strip() for o in self._cell(r, 2).split(",") if o.strip())
            if kind is AttributeType.ENUM and not options:
                raise ValueError(f"attribute {name!r} is a choice and needs options")
            try:
                spec = AttributeSpec(name, kind, options, _default(kind, self._cell(r, 3)),
                                     dynamic=self.per_frame(r), minimum=_num(self._cell(r, 4)),
                                     maximum=_num(self._cell(r, 5)))
            except ValueError:
                raise ValueError(f"attribute {name!r}: min, max and default must be numbers") \
                    from None
            old_id = self.table.item(r, 0).data(256)
            if old_id:
                spec = replace(spec, id=old_id)
            if spec.default is not None:
                spec.check(spec.default)
            out.append(spec)
        names = [a.name for a in out]
        if len(names) != len(set(names)):
            raise ValueError("attribute names must be unique within a class")
        return tuple(out)

    def build(self) -> LabelClass:
        """The class the form describes; ``ValueError`` with a readable message if invalid."""
        points = tuple(p.strip() for p in self.points.text().split(",") if p.strip())
        skeleton = Skeleton(points, parse_edges(self.edges.text())) if points else None
        kinds = tuple(k for k, b in self.kind_boxes.items() if b.isChecked())
        hotkey = self.hotkey.currentData() or None
        fields = dict(name=self.name.text().strip(), color=self._color, kinds=kinds,
                      hotkey=hotkey, attributes=self._attributes(), skeleton=skeleton)
        cls = replace(self._orig, **fields) if self._orig else LabelClass(**fields)
        schema = self._schema
        if hotkey:  # the key moves to this class
            schema = replace(schema, classes=tuple(
                replace(c, hotkey=None) if c.hotkey == hotkey and c.id != cls.id else c
                for c in schema.classes))
        self.schema = schema.with_class(cls)  # validates unique names
        return cls

    def _accept(self) -> None:
        try:
            self.value = self.build()
        except ValueError as exc:
            self.error.setText(str(exc)[:1].upper() + str(exc)[1:])
            self.error.show()
            return
        self.accept()
