"""How annotations are shown (fill opacity, outlines only): remembered in QSettings, applied to
the canvas, never written to the project."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QSlider

from app.widgets.canvas import Canvas

FILL_KEY, OUTLINES_KEY = "view/fill_opacity", "view/outlines_only"
DEFAULT_FILL_PERCENT = 35


def fill_percent(settings: QSettings) -> int:
    """The remembered fill opacity, 0-100 %."""
    try:
        return min(max(int(settings.value(FILL_KEY, DEFAULT_FILL_PERCENT)), 0), 100)
    except (TypeError, ValueError):
        return DEFAULT_FILL_PERCENT


class LayerDisplay:
    """Keeps the canvas, the status-bar slider, the 'Outlines only' action and the settings
    in step."""

    def __init__(self, canvas: Canvas, settings: QSettings, slider: QSlider, action: QAction,
                 message: Callable[[str], None]) -> None:
        self.canvas, self.settings, self.slider, self.action = canvas, settings, slider, action
        self._message = message
        outlines = str(settings.value(OUTLINES_KEY, False)).lower() in ("1", "true")
        canvas.set_layer_style(fill_percent(settings) / 100, outlines)
        slider.setValue(fill_percent(settings))
        action.blockSignals(True)
        action.setChecked(outlines)
        action.blockSignals(False)
        slider.valueChanged.connect(self.set_fill_opacity)
        action.toggled.connect(self.set_outlines_only)

    def set_fill_opacity(self, percent: int) -> None:
        """Fill opacity of masks, polygons and boxes, 0-100 %."""
        percent = min(max(int(percent), 0), 100)
        self.canvas.set_layer_style(fill_opacity=percent / 100)
        self.settings.setValue(FILL_KEY, percent)
        if self.slider.value() != percent:
            self.slider.setValue(percent)

    def set_outlines_only(self, on: bool) -> None:
        """Hide the fills of unselected shapes."""
        on = bool(on)
        self.canvas.set_layer_style(outlines_only=on)
        self.settings.setValue(OUTLINES_KEY, on)
        if self.action.isChecked() != on:
            self.action.setChecked(on)
        self._message("Outlines only" if on else "Filled shapes")
