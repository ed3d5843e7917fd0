"""The bar above the canvas: what the active tool does, and its options (like Slicer's effect
options). Built from what the tools declare (:class:`app.tools.base.Option`): one control per
distinct option of any tool, made once, so the bar never jumps when tools are switched by
keyboard; the controls the active tool does not declare are disabled. Adding a tool with new
options needs no change here. Thin: controls write the shared EditorState or call the
option's function."""

from __future__ import annotations

import math
from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton, QSlider, QSpinBox, QToolBar, QWidget

from app.tools.base import Option, Tool, options_of
from app.tools.state import EditorState


def to_slider(value: float, top: float) -> int:
    """Slider position (0-100) for a value: logarithmic, so small sizes get fine steps."""
    return round(100 * math.log(max(value, 1.0)) / math.log(max(top, 2.0)))


def from_slider(pos: int, top: float) -> float:
    return float(max(1, round(max(top, 2.0) ** (pos / 100))))


class ToolOptions(QToolBar):
    """The options bar for every tool class in ``tools``; :meth:`show_for` picks the active
    one. ``controls`` maps each option's key to its widgets (for tests and screenshots)."""

    def __init__(self, state: EditorState, tools: Iterable[type[Tool]]) -> None:
        super().__init__("Tool options")
        self.setObjectName("tool_options")
        self.state = state
        self.hint = QLabel()
        self.hint.setMinimumWidth(360)
        self.addWidget(self.hint)
        self.controls: dict[tuple[str, str], list[QWidget]] = {}
        self._sync_fns: list = []
        for option in options_of(tools):
            self.addSeparator()
            self.controls[option.key] = getattr(self, f"_build_{option.kind}")(option)
        self._unsubscribe = state.subscribe(self._on_state)
        self.destroyed.connect(lambda *_: self._unsubscribe())
        self._sync()

    # ------------------------------------------------------------------ building
    def _build_size(self, o: Option) -> list[QWidget]:
        label = QLabel(o.label)
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, 100)
        slider.setFixedWidth(160)
        spin = QSpinBox()
        spin.setRange(int(o.minimum), int(o.maximum))
        spin.setSuffix(f" {o.unit}" if o.unit else "")
        spin.setFixedWidth(90)
        mm = QLabel()  # on a volume: the same size in millimetres (Slicer shows mm)
        mm.setObjectName(f"{o.field}_mm")
        mm.setMinimumWidth(70)
        for w in (label, slider, spin, mm):
            w.setToolTip(o.tip)
            self.addWidget(w)
        slider.valueChanged.connect(
            lambda pos: self.state.set(**{o.field: from_slider(pos, o.slider_max)}))
        spin.valueChanged.connect(lambda v: self.state.set(**{o.field: float(v)}))

        def sync() -> None:
            value = float(getattr(self.state, o.field))
            for w, v in ((slider, to_slider(value, o.slider_max)), (spin, round(value))):
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)
            per = float(getattr(self.state, "brush_mm", 0.0)) if o.field == "brush_radius" \
                else 0.0
            spin.setSuffix(" vx" if per else f" {o.unit}" if o.unit else "")
            mm.setText(f"= {value * per:.1f} mm" if per else "")
        self._sync_fns.append((o.field, sync))
        self._sync_fns.append(("brush_mm", sync))
        return [label, slider, spin, mm]

    def _build_toggle(self, o: Option) -> list[QWidget]:
        box = QCheckBox(o.label)
        box.setToolTip(o.tip)
        self.addWidget(box)
        box.toggled.connect(lambda on: self.state.set(**{o.field: bool(on)}))

        def sync() -> None:
            box.blockSignals(True)
            box.setChecked(bool(getattr(self.state, o.field)))
            box.blockSignals(False)
        self._sync_fns.append((o.field, sync))
        return [box]

    def _build_action(self, o: Option) -> list[QWidget]:
        button = QPushButton(o.label)
        button.setToolTip(o.tip)
        self.addWidget(button)
        button.clicked.connect(lambda: o.run(self.state) if o.run else None)
        return [button]

    # ------------------------------------------------------------------ showing
    def show_for(self, tool: Tool) -> None:
        """Describe the active tool and enable the options it declares."""
        text = tool.tooltip or tool.label
        self.hint.setText(f"  {text}")
        used = {o.key for o in tool.options}
        for key, widgets in self.controls.items():
            for w in widgets:
                w.setEnabled(key in used)

    def _on_state(self, field: str) -> None:
        for name, sync in self._sync_fns:
            if name == field:
                sync()

    def _sync(self) -> None:
        for _name, sync in self._sync_fns:
            sync()
