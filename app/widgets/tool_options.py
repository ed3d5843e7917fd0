"""The bar above the canvas: what the active tool does, and its options (like Slicer's effect
options). Built from what the tools declare (:class:`app.tools.base.Option`): one control per
distinct option of any tool, made once, so the bar never jumps when tools are switched by
keyboard; the controls the active tool does not declare are disabled (or, for a tool's own
group such as segment anything's model and output, ``only_active``, hidden: those sit right
after the hint). Adding a tool with new options needs no change here. Thin: controls write the
shared EditorState, or call the option's function with the active tool."""

from __future__ import annotations

import math
from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QComboBox, QLabel, QPushButton, QSlider, QSpinBox,
                               QToolBar, QWidget)

from app.tools.base import Option, OptionKind, Tool, options_of
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
        self._tool: Tool | None = None  # the active tool (what choices and actions act on)
        self._options: dict[tuple[str, str], Option] = {}
        self._actions: dict[tuple[str, str], list[QAction]] = {}  # only_active groups
        self._refresh_fns: list = []  # (kind, fn): choices and notes, from the active tool
        declared = options_of(tools)
        for option in sorted(declared, key=lambda o: not o.only_active):
            before = len(self.actions())
            self.addSeparator()
            self.controls[option.key] = getattr(self, f"_build_{option.kind}")(option)
            self._options[option.key] = option
            if option.only_active:
                self._actions[option.key] = self.actions()[before:]
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
        button.clicked.connect(lambda: o.run(self._tool) if o.run and self._tool else None)
        return [button]

    def _build_choice(self, o: Option) -> list[QWidget]:
        label = QLabel(o.label)
        combo = QComboBox()
        combo.setObjectName(o.field)
        combo.setMinimumContentsLength(12)
        for w in (label, combo):
            w.setToolTip(o.tip)
            self.addWidget(w)

        def chosen(_index: int) -> None:
            if self._tool is not None and o.put is not None and combo.currentData() is not None:
                o.put(self._tool, combo.currentData())

        def refresh() -> None:
            tool = self._tool
            if tool is None or o.key not in {x.key for x in tool.options}:
                return
            combo.blockSignals(True)
            combo.clear()
            for value, text in (o.choices(tool) if o.choices else []):
                combo.addItem(text, value)
            combo.setCurrentIndex(max(0, combo.findData(o.get(tool) if o.get else None)))
            combo.blockSignals(False)

        combo.currentIndexChanged.connect(chosen)
        self._refresh_fns.append((OptionKind.CHOICE, refresh))
        return [label, combo]

    def _build_note(self, o: Option) -> list[QWidget]:
        note = QLabel()
        note.setObjectName(o.field)
        note.setToolTip(o.tip)
        self.addWidget(note)

        def refresh() -> None:
            tool = self._tool
            if tool is not None and o.text is not None and o.key in {x.key for x in tool.options}:
                note.setText(o.text(tool))

        self._refresh_fns.append((OptionKind.NOTE, refresh))
        return [note]

    # ------------------------------------------------------------------ showing
    def show_for(self, tool: Tool) -> None:
        """Describe the active tool and enable the options it declares (show its own
        group, hide another tool's)."""
        self._tool = tool
        text = tool.tooltip or tool.label
        self.hint.setText(f"  {text}")
        used = {o.key for o in tool.options}
        for key, widgets in self.controls.items():
            for w in widgets:
                w.setEnabled(key in used)
        for key, actions in self._actions.items():
            for a in actions:
                a.setVisible(key in used)
        self.refresh()

    def refresh(self, only: OptionKind | None = None) -> None:
        """Choices and notes again from the active tool (its models changed: all; it
        answered: ``only=OptionKind.NOTE``, leaving an open chooser alone)."""
        for kind, fn in self._refresh_fns:
            if only is None or kind == only:
                fn()

    def _on_state(self, field: str) -> None:
        for name, sync in self._sync_fns:
            if name == field:
                sync()

    def _sync(self) -> None:
        for _name, sync in self._sync_fns:
            sync()
