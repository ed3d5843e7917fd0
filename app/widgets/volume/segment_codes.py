"""The DICOM codes of a segment (what it is, for a DICOM-SEG export): its segmented property
category and type, each a coded concept (code value, coding scheme designator, code meaning),
as 3D Slicer's terminology selector sets them. A few common ones are offered; any other can be
typed (SNOMED CT "SCT", DICOM "DCM", ...)."""

from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QVBoxLayout, QWidget)

from app.core.labelmap import Code, Segment, coded

TISSUE: Code = ("85756007", "SCT", "Tissue")
ANATOMY: Code = ("123037004", "SCT", "Anatomical Structure")
ALTERED: Code = ("49755003", "SCT", "Morphologically Altered Structure")
# (label, category, type): the codes radiologists pick most, as Slicer's default terminology
PRESETS: tuple[tuple[str, Code, Code], ...] = (
    ("Tissue", TISSUE, TISSUE),
    ("Liver", ANATOMY, ("10200004", "SCT", "Liver")),
    ("Kidney", ANATOMY, ("64033007", "SCT", "Kidney")),
    ("Lung", ANATOMY, ("39607008", "SCT", "Lung")),
    ("Brain", ANATOMY, ("12738006", "SCT", "Brain")),
    ("Bone", TISSUE, ("272673000", "SCT", "Bone")),
    ("Mass", ALTERED, ("4147007", "SCT", "Mass")),
    ("Lesion", ALTERED, ("52988006", "SCT", "Lesion")),
    ("Neoplasm", ALTERED, ("108369006", "SCT", "Neoplasm")),
)


class _ConceptRow(QWidget):
    """Three fields: code value, scheme, meaning."""

    def __init__(self, code: Code) -> None:
        super().__init__()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.fields = [QLineEdit(v) for v in code]
        for f, hint, width in zip(self.fields, ("code value", "scheme", "meaning"),
                                  (110, 60, 220)):
            f.setPlaceholderText(hint)
            f.setMinimumWidth(width)
            lay.addWidget(f)

    def code(self) -> Code:
        return tuple(f.text().strip() for f in self.fields)  # type: ignore[return-value]

    def set(self, code: Code) -> None:
        for f, v in zip(self.fields, code):
            f.setText(v)


class SegmentCodes(QDialog):
    """Edit ``segment``'s codes; :meth:`codes` is the result once accepted."""

    def __init__(self, segment: Segment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"DICOM codes of {segment.name}")
        category, kind = segment.codes or (TISSUE, TISSUE)
        self.preset = QComboBox()
        self.preset.addItem("Choose a common one…", None)
        for label, c, t in PRESETS:
            self.preset.addItem(f"{label}  ({t[1]} {t[0]})", (c, t))
        self.preset.currentIndexChanged.connect(self._preset)
        self.category, self.type = _ConceptRow(category), _ConceptRow(kind)
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        form.addRow("Category", self.category)
        form.addRow("Type", self.type)
        self.error = QLabel()
        self.error.setStyleSheet("color: #d62728")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("What this segment is in a DICOM-SEG export (segmented property "
                             "category and type)."))
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(buttons)

    def _preset(self, _index: int) -> None:
        chosen = self.preset.currentData()
        if chosen is not None:
            self.category.set(chosen[0])
            self.type.set(chosen[1])

    def codes(self) -> tuple[Code, Code] | None:
        """The codes typed, or None (the reason shown) when one is incomplete."""
        try:
            return coded((self.category.code(), self.type.code()))
        except ValueError:
            self.error.setText("Each code needs a value, a scheme and a meaning.")
            return None

    def accept(self) -> None:
        if self.codes() is not None:
            super().accept()
