"""The segment-anything tool's part of the options bar: which model, mask or polygon output,
Propagate, and where the model runs with the last answer's time."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from app.tools.sam_protocol import SamChoice

OUTPUTS = (("mask", "Mask"), ("polygon", "Polygon"))


class SamOptions(QWidget):
    """Model and output choosers (written to ``choice``, the engine's :class:`SamChoice` its
    tools share, remembered in ``settings``), a Propagate button, and a note of the device and
    last answer time."""

    def __init__(self, models: Callable[[], list], settings: QSettings,
                 propagate: Callable[[], None], manage: Callable[[], None],
                 parent: QWidget | None = None, choice: SamChoice | None = None) -> None:
        super().__init__(parent)
        self._models, self.settings = models, settings
        self.choice = choice if choice is not None else SamChoice()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        self.model_label = QLabel("Model")
        self.model = QComboBox()
        self.model.setMinimumContentsLength(12)
        self.model.setToolTip("The segmentation model the tool asks (Tools ▸ Models… imports "
                              "more)")
        self.output_label = QLabel("Output")
        self.output = QComboBox()
        for value, text in OUTPUTS:
            self.output.addItem(text, value)
        self.output.setToolTip("What Enter adds: a mask (every pixel) or a polygon (simplified, "
                               "holes kept); volume slices always paint the label map")
        self.propagate = QPushButton("Propagate…")
        self.propagate.setToolTip("Carry the mask up and down the volume, or forward/backward "
                                  "along the video")
        self.propagate.clicked.connect(propagate)
        self.manage = QPushButton("Models…")
        self.manage.setToolTip("Installed models, where they run, importing more")
        self.manage.clicked.connect(manage)
        self.note = QLabel()
        self.note.setToolTip("Where the model runs and how long the last answer took")
        for w in (self.model_label, self.model, self.output_label, self.output, self.propagate,
                  self.manage, self.note):
            lay.addWidget(w)
        choice = self.choice
        choice.model_id = str(settings.value("sam_model", "") or "") or choice.model_id
        choice.output = str(settings.value("sam_output", choice.output) or "mask")
        self.output.setCurrentIndex(max(0, self.output.findData(choice.output)))
        self.model.currentIndexChanged.connect(self._model_chosen)
        self.output.currentIndexChanged.connect(self._output_chosen)
        self.refresh()
        self.set_active(False)

    def refresh(self) -> None:
        """Fill the model list from the engine (after an import too)."""
        models = self._models()
        self.model.blockSignals(True)
        self.model.clear()
        for m in models:
            self.model.addItem(m.name + (" (box prompts)" if m.needs_box else ""), m.id)
        if not models:
            self.model.addItem("No model installed", None)
        wanted = self.choice.model_id
        index = self.model.findData(wanted) if wanted else 0
        self.model.setCurrentIndex(max(0, index))
        self.model.blockSignals(False)
        if models and index < 0:
            self.choice.model_id = models[0].id

    def _model_chosen(self, _index: int) -> None:
        value = self.model.currentData()
        if value:
            self.choice.model_id = value
            self.settings.setValue("sam_model", value)

    def _output_chosen(self, _index: int) -> None:
        self.choice.output = self.output.currentData() or "mask"
        self.settings.setValue("sam_output", self.choice.output)

    def set_active(self, on: bool) -> None:
        """Enabled while the segment-anything tool is the active one."""
        for w in (self.model_label, self.model, self.output_label, self.output, self.propagate,
                  self.note):
            w.setEnabled(on)

    def show_note(self, device: str = "", ms: float | None = None, wait_ms: float = 0.0
                  ) -> None:
        """'CPU · 48 ms' (the last answer's decoder time), with '+ 0.6 s encoding' when its
        picture had to be encoded first."""
        if device:
            self._device = device
        parts = [getattr(self, "_device", "")]
        if ms is not None:
            parts.append(f"{ms:.0f} ms" + (f" + {wait_ms / 1000:.1f} s encoding"
                                           if wait_ms >= 50 else ""))
        self.note.setText(" · ".join(p for p in parts if p))
