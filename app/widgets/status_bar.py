"""Status bar fields: the active class, cursor position and pixel value, zoom, saved state
(or read-only), compute device.

Pixel coordinates follow the project convention: continuous image coordinates, pixel (c, r)
covers [c, c+1) x [r, r+1); the integer pixel shown is (floor x, floor y).
"""

from __future__ import annotations

import datetime as _dt
import html
import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QStatusBar, QWidget

from app.widgets.jobs import Jobs, JobsBar


def local_time(utc_iso: str | None) -> str:
    """'14:03:07' for a UTC ISO-8601 time from the store ('' when there is none)."""
    if not utc_iso:
        return ""
    try:
        when = _dt.datetime.fromisoformat(utc_iso.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return when.astimezone().strftime("%H:%M:%S")


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
        self.active_class = QLabel()
        self.active_class.setToolTip("The class new shapes get (1-9 or the Labels panel)")
        self.read_only = QLabel("Read-only")
        self.read_only.setObjectName("errorBanner")
        self.read_only.hide()
        self.cursor = QLabel()
        self.cursor.setMinimumWidth(260)
        self.cursor.setToolTip("Pixel under the cursor (column, row; 0-based) and its value")
        self.zoom = QLabel("—")
        self.zoom.setToolTip("Zoom: screen pixels per image pixel")
        self.saved = QLabel()
        self.device = QLabel("Models: …")
        self.device.setToolTip("Where the AI helpers (segment anything, tracking) run")
        for w in (self.jobs_bar, self.active_class, self.cursor, self.fill, self.zoom,
                  self.read_only, self.saved, self.device):  # permanent: messages never hide them
            bar.addPermanentWidget(w)
        self.show_saved(None)
        self.show_class(None)

    def show_class(self, name: str | None, color: str = "#c8c8c8",
                   hotkey: str | None = None) -> None:
        """The active class with its colour and key ('Class: none' without one)."""
        if name is None:
            self.active_class.setText("Class: <i>none</i>")
            return
        key = f" <span style='opacity:0.75'>[{html.escape(hotkey)}]</span>" if hotkey else ""
        self.active_class.setText(
            f"<span style='color:{color}'>■</span> Class: <b>{html.escape(name)}</b>{key}")

    def show_read_only(self, reason: str) -> None:
        """A red 'Read-only' chip (the reason in its tooltip), or nothing when editable."""
        self.read_only.setVisible(bool(reason))
        self.read_only.setToolTip(reason)
        self.saved.setVisible(not reason)

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

    def show_saved(self, path: str | None, last_utc: str | None = None) -> None:
        """'Saved' with the local time of the last committed edit (every edit commits to the
        project file as it happens), 'All changes saved' before any."""
        if path is None:
            self.saved.setText("No project")
            self.saved.setToolTip("")
        else:
            when = local_time(last_utc)
            self.saved.setText(f"✓ Saved {when}" if when else "✓ All changes saved")
            self.saved.setToolTip(f"Every edit is written to {path} as it happens")

    def show_device(self, text: str, tip: str | None = None) -> None:
        """'Models: CPU' (where the AI helpers run, in words); ``tip`` says why on hover.
        A plain word never replaces what :meth:`show_runtime` or a model found out."""
        if tip is None and getattr(self, "_device_known", False):
            return
        self.device.setText(f"Models: {text}")
        if tip is not None:
            self.device.setToolTip(tip)

    def show_runtime(self, report: dict) -> None:
        """The probed runtime (``app.widgets.sam_window.probe_runtime``): the device models
        will use, with the GPU's name, and on hover every provider and why one is not used."""
        device = report.get("device", "CPU")
        gpu = report.get("gpu", "")
        text = f"{device.split(' (')[0]} {gpu}".strip() if gpu and device.startswith("GPU") \
            else device
        lines = [f"AI helpers (segment anything, tracking) run on {device}"
                 + (f": {gpu}" if gpu else "") + "."]
        for p in report.get("providers", []):
            lines.append(f"{p['device']} ({p['name']}): " + (
                "works" if p["ok"] else f"not used — {p['reason']}"))
        lines += [f"Warning: {w}" for w in report.get("warnings", [])]
        self.show_device(text, "\n".join(lines))
        self._device_known = True

    def show_model_device(self, device: str, fallback: str = "") -> None:
        """What an opened model really runs on (after a fallback, the reason on hover)."""
        tip = self.device.toolTip()
        if fallback:
            tip = f"{tip}\nThe model fell back: {fallback}" if tip else f"Fell back: {fallback}"
            device = f"{device} (fallback)"
        self.show_device(device, tip)
        self._device_known = True
