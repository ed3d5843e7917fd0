"""Status bar fields: cursor position and pixel value, zoom, saved state, compute device.

Pixel coordinates follow the project convention: continuous image coordinates, pixel (c, r)
covers [c, c+1) x [r, r+1); the integer pixel shown is (floor x, floor y).
"""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QStatusBar, QWidget

from app.widgets.jobs import Jobs, JobsBar


class OpacitySlider(QWidget):
    """'Fill' and a compact 0-100 % slider: the display opacity of annotation fills."""

    def __init__(self, percent: int) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.setSpacing(4)
        self.label = QLabel("Fill")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(10)
        self.slider.setFixedWidth(90)
        self.slider.setValue(percent)
        self.value = QLabel()
        self.value.setMinimumWidth(self.value.fontMetrics().horizontalAdvance("100%") + 4)
        self.slider.valueChanged.connect(lambda v: self.value.setText(f"{v}%"))
        self.value.setText(f"{percent}%")
        tip = ("Opacity of mask, polygon and box fills (display only; "
               "View ▸ Outlines only hides them)")
        for w in (self.label, self.slider, self.value):
            lay.addWidget(w)
            w.setToolTip(tip)


class StatusFields:
    """Adds the permanent fields to ``bar`` and formats their text."""

    def __init__(self, bar: QStatusBar, jobs: Jobs, fill_percent: int = 35) -> None:
        self.bar = bar
        self.fill = OpacitySlider(fill_percent)
        self.jobs_bar = JobsBar(jobs)
        self.cursor = QLabel()
        self.cursor.setMinimumWidth(260)
        self.cursor.setToolTip("Pixel under the cursor (column, row; 0-based) and its value")
        self.zoom = QLabel("—")
        self.zoom.setToolTip("Zoom: screen pixels per image pixel")
        self.saved = QLabel()
        self.device = QLabel("Models: …")
        self.device.setToolTip("Where the AI helpers (segment anything, tracking) run")
        for w in (self.jobs_bar, self.cursor, self.fill, self.zoom, self.saved, self.device):
            bar.addPermanentWidget(w)
        self.show_saved(None)

    def show_cursor(self, x: float, y: float, image: np.ndarray | None) -> None:
        """Show pixel (floor x, floor y) and its value when it lies inside ``image``."""
        if image is None or not (math.isfinite(x) and math.isfinite(y)):
            self.cursor.setText("")
            return
        c, r = math.floor(x), math.floor(y)
        h, w = image.shape[:2]
        if not (0 <= c < w and 0 <= r < h):
            self.cursor.setText(f"x {x:.1f}  y {y:.1f}")
            return
        v = image[r, c]
        value = (f"RGB {v[0]} {v[1]} {v[2]}" if np.ndim(v) and len(v) >= 3
                 else f"value {v}")
        self.cursor.setText(f"x {c}  y {r}  ·  {value}")

    def show_zoom(self, zoom: float) -> None:
        self.zoom.setText(f"{zoom * 100:.0f}%" if zoom > 0 else "—")

    def show_saved(self, path: str | None, edited: bool = False) -> None:
        """'All changes saved' on open, then 'Saved' with the time of the last committed
        edit (every edit commits to the project file as it happens)."""
        if path is None:
            self.saved.setText("No project")
            self.saved.setToolTip("")
        else:
            self.saved.setText("✓ Saved " + time.strftime("%H:%M:%S") if edited
                               else "✓ All changes saved")
            self.saved.setToolTip(f"Every edit is written to {path} as it happens")

    def show_device(self, text: str) -> None:
        self.device.setText(f"Models: {text}")
