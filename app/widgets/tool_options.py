"""The bar above the canvas: what the active tool does, and its options (like Slicer's effect
options): brush size in image pixels, paint only inside the selected object, fill holes. It
stays in place for every tool (no layout jump when switching by keyboard); options a tool does
not use are disabled. Thin: controls write the shared EditorState or call a tool function."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton, QSlider, QSpinBox, QToolBar

from app.tools.paint import fill_selected_holes
from app.tools.state import EditorState

PAINT_TOOLS = frozenset({"brush", "eraser"})
MAX_RADIUS = 500  # image px, as far as the slider goes (the [ ] keys go further)


def _to_slider(radius: float) -> int:
    """Slider position for a radius: logarithmic, so small brushes get fine steps."""
    return round(100 * math.log(max(radius, 1.0)) / math.log(MAX_RADIUS))


def _from_slider(pos: int) -> float:
    return float(max(1, round(MAX_RADIUS ** (pos / 100))))


class ToolOptions(QToolBar):
    """The options bar; :meth:`show_for` picks what the active tool needs."""

    def __init__(self, state: EditorState) -> None:
        super().__init__("Tool options")
        self.setObjectName("tool_options")
        self.state = state
        self.hint = QLabel()
        self.hint.setMinimumWidth(360)
        self.addWidget(self.hint)
        self.addSeparator()
        self.size_label = QLabel("Brush size")
        self.addWidget(self.size_label)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setFixedWidth(160)
        self.slider.setToolTip("Brush radius in image pixels ([ and ] change it too)")
        self.spin = QSpinBox()
        self.spin.setRange(1, 1000)  # EditorState keeps the radius within 0.5..1000
        self.spin.setSuffix(" px")
        self.spin.setFixedWidth(90)
        self.spin.setToolTip(self.slider.toolTip())
        self.addWidget(self.slider)
        self.addWidget(self.spin)
        self.addSeparator()
        self.inside = QCheckBox("Only inside the selected object")
        self.inside.setToolTip("Paint and erase only within the selected polygon, box or mask")
        self.addWidget(self.inside)
        self.fill = QPushButton("Fill holes")
        self.fill.setToolTip("Fill the holes of the selected mask (G)")
        self.addWidget(self.fill)
        self.slider.valueChanged.connect(
            lambda pos: self.state.set(brush_radius=_from_slider(pos)))
        self.spin.valueChanged.connect(lambda v: self.state.set(brush_radius=float(v)))
        self.inside.toggled.connect(lambda on: self.state.set(paint_inside=on))
        self.fill.clicked.connect(lambda: fill_selected_holes(self.state))
        self._unsubscribe = state.subscribe(self._on_state)
        self.destroyed.connect(lambda *_: self._unsubscribe())
        self._sync()

    def show_for(self, tool_name: str, hint: str = "") -> None:
        """Describe the active tool and enable the options it uses."""
        self.hint.setText(f"  {hint}" if hint else "")
        painting = tool_name in PAINT_TOOLS
        for w in (self.size_label, self.slider, self.spin, self.inside, self.fill):
            w.setEnabled(painting)

    def _on_state(self, field: str) -> None:
        if field in ("brush_radius", "paint_inside"):
            self._sync()

    def _sync(self) -> None:
        for w in (self.slider, self.spin, self.inside):
            w.blockSignals(True)
        self.slider.setValue(_to_slider(self.state.brush_radius))
        self.spin.setValue(round(self.state.brush_radius))
        self.inside.setChecked(bool(self.state.paint_inside))
        for w in (self.slider, self.spin, self.inside):
            w.blockSignals(False)
