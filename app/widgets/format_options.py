"""The small dialog that asks a format's options before File ▸ Import / Export runs it, built
from the format's typed options (:class:`app.io.formats.Option`): a check box for a switch, a
line for text, a spin box for a number, a list for a choice, a line and Browse… for a path.
Each field's explanation is the command line's help text for the same option."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from app.io.formats import Option


class FormatOptionsDialog(QDialog):
    """One field per option (``window`` options only), filled from ``values``."""

    def __init__(self, parent: QWidget | None, title: str, options: Sequence[Option],
                 values: dict[str, Any], start: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("format_options")
        self._options = [o for o in options if o.window]
        self._values = dict(values)
        self._start = start
        self.fields: dict[str, QWidget] = {}
        form = QFormLayout()
        for o in self._options:
            field = self._field(o, self._values.get(o.name, o.initial))
            field.setObjectName(f"option_{o.name}")
            field.setToolTip(o.help)
            self.fields[o.name] = field
            note = QLabel(o.help)
            note.setWordWrap(True)
            note.setEnabled(False)  # greyed: an explanation, not a control
            column = QVBoxLayout()
            column.setSpacing(2)
            column.addWidget(field)
            column.addWidget(note)
            if o.kind == "bool":  # the check box carries its own text
                form.addRow(column)
            else:
                form.addRow(o.text + ":", column)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def _field(self, o: Option, value: Any) -> QWidget:
        if o.kind == "bool":
            box = QCheckBox(o.text)
            box.setChecked(bool(value))
            return box
        if o.kind == "int":
            spin = QSpinBox()
            spin.setRange(-2**31, 2**31 - 1)
            spin.setValue(int(value or 0))
            return spin
        if o.kind == "choice":
            combo = QComboBox()
            for c in o.choices:
                combo.addItem(str(c), c)
            combo.setCurrentIndex(max(0, list(o.choices).index(value))
                                  if value in o.choices else 0)
            return combo
        line = QLineEdit("" if value is None else str(value))
        line.setPlaceholderText("(default)")
        if o.kind != "path":
            return line
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(o, line))
        row.addWidget(line)
        row.addWidget(browse)
        holder.line = line  # type: ignore[attr-defined]
        return holder

    def _browse(self, o: Option, line: QLineEdit) -> None:
        start = line.text() or str(self._start or "")
        if o.folder:
            chosen = QFileDialog.getExistingDirectory(self, o.text, start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, o.text, start)
        if chosen:
            line.setText(chosen)

    def values(self) -> dict[str, Any]:
        """``values`` with each field's answer (an empty text or path: None, the default)."""
        out = dict(self._values)
        for o in self._options:
            field = self.fields[o.name]
            if isinstance(field, QCheckBox):
                out[o.name] = field.isChecked()
            elif isinstance(field, QSpinBox):
                out[o.name] = field.value()
            elif isinstance(field, QComboBox):
                out[o.name] = field.currentData()
            else:
                line = field if isinstance(field, QLineEdit) else field.line  # type: ignore
                text = line.text().strip()
                out[o.name] = (Path(text) if o.kind == "path" else text) if text else None
        return out


def ask_options(parent: QWidget | None, title: str, options: Sequence[Option],
                values: dict[str, Any], start: Path | None = None) -> dict[str, Any] | None:
    """``values`` with the user's answers, or None when cancelled; ``values`` unchanged when
    no option is shown in the window."""
    if not any(o.window for o in options):
        return dict(values)
    dialog = FormatOptionsDialog(parent, title, options, values, start)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.values()
    finally:
        dialog.deleteLater()  # not kept as a hidden child of the window
