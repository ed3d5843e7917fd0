"""The video import report in one line for the timeline (the full text is its tooltip and the
Report… dialog): frames, duration (s), rates (fps), VFR, rotation, duplicated timestamps,
decode errors, and whether the project's frame count still matches the file."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QVBoxLayout, QWidget


class ReportDialog(QDialog):
    """The full report, one fact a line, in a fixed-width font (not modal)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Video report")
        self.setModal(False)
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(box)
        self.resize(760, 380)


def report_summary(report: Any, project_frames: int) -> tuple[str, str]:
    """(rich text line, warning sentence or '') for a :class:`app.io.video.VideoReport`."""
    r = report
    rate = f"{r.avg_fps:.3g} fps"
    if r.nominal_fps and abs(r.nominal_fps - r.avg_fps) > 0.01:
        rate += f" (nominal {r.nominal_fps:.3g})"
    parts = [f"{r.frame_count} frames", f"{r.duration_s:.2f} s", rate,
             "VFR" if r.is_vfr else "constant rate"]
    if r.rotation:
        parts.append(f"rotated {r.rotation}°")
    warn = []
    if r.duplicated_timestamps:
        warn.append(f"{r.duplicated_timestamps} duplicated timestamp"
                    + ("s" * (r.duplicated_timestamps != 1)))
    if r.decode_errors:
        warn.append(f"{len(r.decode_errors)} decode error" + ("s" * (len(r.decode_errors) != 1)))
    if project_frames != r.frame_count:
        warn.append(f"{r.frame_count} of the project's {project_frames} frames can be read")
    text = " · ".join(parts)
    if warn:  # first, so that a narrow window still shows it
        text = "⚠ " + html.escape("; ".join(warn), quote=False) + " · " + text
    return text, "; ".join(warn)
