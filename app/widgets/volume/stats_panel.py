"""The Statistics panel of the volume mode (3D Slicer's Segment Statistics, thin): one row per
segment of the label map the tools paint - voxels, mL, mean, SD, min, max and median of the
volume's values (HU on CT), maximum 3D (Feret) diameter in mm, surface area in mm² and centroid
(mm, patient LPS) - exactly as ``vellum stats`` gives them (:mod:`app.io.volume.stats`,
SimpleITK's label shape and intensity statistics on the volume's own grid).

The figures are computed off the UI thread on the window's job runner (progress and Cancel in
the status bar): "Refresh" recomputes now; with "Auto" on (the default) edits of the label map
(a brush stroke, an undo, a renamed segment) recompute once they pause (:data:`AUTO_MS`,
coalesced: one run at a time, one more after it when edits came in meanwhile; while the panel
is hidden, when it is shown again). "Copy" puts the
table on the clipboard (tab-separated, for a spreadsheet or a report), "Export CSV…" writes
``vellum stats --csv``'s columns atomically (never over a project or media file).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QApplication, QCheckBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QMessageBox, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from app.core.document import ChangeKind
from app.core.errors import VellumError

AUTO_MS = 500  # edits pause this long before an automatic refresh
HEADERS = ("Segment", "Value", "Voxels", "mL", "Mean", "SD", "Min", "Max", "Median",
           "Feret mm", "Surface mm²", "Centroid LPS mm")
FIELDS = ("segment", "value", "voxels", "volume_ml", "mean", "sd", "min", "max", "median",
          "feret_mm", "surface_mm2", "centroid_lps")
DIGITS = {"volume_ml": 3}  # decimals shown (2 elsewhere); the CSV keeps full precision


def compute(labels, intensity, geometry, segments, volume: str, labelmap: str, job) -> list:
    """Work function (worker thread): :func:`app.io.volume.stats.labelmap_statistics` of one
    label map, reporting progress and stopping at a cancel."""
    from app.io.volume.stats import labelmap_statistics

    def progress(done: int, total: int, *_: Any) -> None:
        job.check()
        job.progress(done, total)

    return labelmap_statistics(labels, intensity, geometry, segments, volume=volume,
                               labelmap=labelmap, progress=progress)


def cell_text(field: str, value: Any) -> str:
    """How one figure is shown ("-" where a segment holds no voxel)."""
    if value is None:
        return "-"
    if field == "centroid_lps":
        return ", ".join(f"{v:.1f}" for v in value)
    if field == "voxels":
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{DIGITS.get(field, 2)}f}"
    return str(value)


class StatisticsPanel(QWidget):
    """See the module doc; :meth:`attach` a volume session, :meth:`detach` on leaving."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = None
        self.rows: list = []  # the SegmentStatistics shown
        self.shown_id: str | None = None  # the label map they are of
        self.job = None
        self._serial = 0
        self._pending = False  # edits came in while a run was going
        self._unsubscribe = None
        self._timer = QTimer(self, singleShot=True, interval=AUTO_MS)
        self._timer.timeout.connect(self.refresh)
        lay = QVBoxLayout(self)
        self.title = QLabel("")
        self.title.setObjectName("stats_title")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("segment_statistics")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(110)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Compute the statistics of the label map again now")
        self.refresh_button.clicked.connect(self.refresh)
        self.auto = QCheckBox("Auto")
        self.auto.setChecked(True)
        self.auto.setToolTip("Compute again after each edit of the label map")
        self.auto.toggled.connect(lambda on: on and self._stale() and self._timer.start())
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the table (tab-separated, with units)")
        self.copy_button.clicked.connect(self.copy)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Write the table as CSV (vellum stats --csv columns)")
        self.export_button.clicked.connect(self.export_dialog)
        for w in (self.refresh_button, self.auto):
            row.addWidget(w)
        row.addStretch(1)
        for w in (self.copy_button, self.export_button):
            row.addWidget(w)
        lay.addLayout(row)
        self._dirty = False
        self.setEnabled(False)

    # ------------------------------------------------------------------ attaching
    def attach(self, session) -> None:
        """Show the statistics of ``session``'s volume (computed now, in the background)."""
        self.detach()
        self.session = session
        self._unsubscribe = session.host.state.doc.subscribe(self._changed)
        self.setEnabled(True)
        self.refresh()

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe, self.session = None, None
        self._timer.stop()
        if self.job is not None:
            self.job.cancel()
        self.job, self._pending, self._dirty = None, False, False
        self._serial += 1  # a result still on its way is not shown
        self.rows, self.shown_id = [], None
        self.table.setRowCount(0)
        self.title.setText("")
        self.setEnabled(False)

    # ------------------------------------------------------------------ computing
    def _info(self):
        s = self.session
        if s is None or s.closed or s.host.state.doc is None:
            return None
        return s.segmentation.info()

    def _changed(self, changes) -> None:
        info = self._info()
        for c in changes:
            if c.kind in (ChangeKind.RESET, ChangeKind.SCHEMA) or (
                    c.kind == ChangeKind.LABELMAP and (
                        "start" not in c.extra  # a label map or its segments changed
                        or (info is not None and info.id in c.ids))):
                self._dirty = True
                self._say()
                if self.auto.isChecked() and self.isVisible():  # else when shown again
                    self._timer.start()  # restarted by every edit: coalesced
                return

    def showEvent(self, e) -> None:  # noqa: N802
        super().showEvent(e)
        if self.session is not None and self.auto.isChecked() and self._stale():
            self._timer.start()

    def _stale(self) -> bool:
        info = self._info()
        return self._dirty or (info.id if info else None) != self.shown_id

    def running(self) -> bool:
        """Whether a computation is under way."""
        return self.job is not None and not self.job.cancelled

    def refresh(self) -> None:
        """Compute the active label map's statistics again, off the UI thread (when a run is
        going, one more follows it)."""
        self._timer.stop()
        info = self._info()
        if info is None:
            self.job, self.rows, self.shown_id, self._dirty = None, [], None, False
            self.table.setRowCount(0)
            self._say()
            return
        if self.running():
            self._pending = True
            return
        s = self.session
        doc = s.host.state.doc
        from app.io.volume.project import volume_geometry

        try:
            geometry = volume_geometry(doc, s.item)
        except VellumError:
            geometry = s.geometry
        labels = doc.labelmap_volume(info.id)  # a copy: later edits do not reach the worker
        self._serial += 1
        self._dirty = self._pending = False
        serial, array, segments = self._serial, s.array, info.segments
        item_name, map_name, map_id = s.item.name, info.name, info.id
        self.job = s.host.jobs.start(
            f"Statistics of {map_name}",
            lambda job: compute(labels, array, geometry, segments, item_name, map_name, job),
            on_done=lambda rows: self._done(serial, map_id, rows),
            on_error=lambda exc: self._failed(serial, exc))
        self._say()

    def _done(self, serial: int, map_id: str, rows: list) -> None:
        if serial != self._serial:
            return
        self.job = None
        self.rows, self.shown_id = rows, map_id
        self._fill()
        self._after()

    def _failed(self, serial: int, exc: Exception) -> None:
        if serial != self._serial:
            return
        self.job = None
        self.title.setText(str(exc) if isinstance(exc, VellumError)
                           else f"The statistics could not be computed ({exc}).")
        self._after()

    def _after(self) -> None:
        if self._pending and self.session is not None:
            self._pending = False
            self.refresh()
        else:
            self._say()

    # ------------------------------------------------------------------ showing
    def _fill(self) -> None:
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, field in enumerate(FIELDS):
                item = QTableWidgetItem(cell_text(field, getattr(row, field)))
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)

    def _say(self) -> None:
        info = self._info()
        if info is None:
            self.title.setText("No label map: paint a segment to see its statistics."
                               if self.session is not None else "")
            return
        unit = self.session.unit or "volume units"
        state = ("computing…" if self.running() else
                 "out of date: Refresh" if self._stale() else "up to date")
        self.title.setText(f"<b>{info.name}</b> · values in {unit} · {state}")

    def text(self) -> str:
        """The table as tab-separated text with a header row (what Copy copies)."""
        lines = ["\t".join(HEADERS)]
        for row in self.rows:
            lines.append("\t".join(cell_text(f, getattr(row, f)).replace(",", "")
                                   if f == "voxels" else cell_text(f, getattr(row, f))
                                   for f in FIELDS))
        return "\n".join(lines) + "\n"

    def copy(self) -> None:
        QApplication.clipboard().setText(self.text())

    # ------------------------------------------------------------------ export
    def export_csv(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the rows shown as CSV (:func:`app.io.volume.stats.csv_text`) to ``path``,
        atomically; an existing file only with ``overwrite``, never a project or media file
        (:func:`app.io.outputs.prepare_output`). Raises VellumError in one sentence."""
        from app.io.atomic import atomic_write
        from app.io.outputs import prepare_output
        from app.io.volume.stats import csv_text

        doc = self.session.host.state.doc if self.session is not None else None
        target = prepare_output(path, formats=(".csv",), overwrite=overwrite, doc=doc)
        with atomic_write(target, "w", encoding="utf-8") as f:
            f.write(csv_text(self.rows))
        return target

    def export_dialog(self) -> None:
        """Ask where (the dialog confirms replacing a file), then :meth:`export_csv`."""
        if self.session is None or not self.rows:
            return
        doc = self.session.host.state.doc
        info = self._info()
        stem = re.sub(r"[^\w.-]+", "_", f"{self.session.item.name}_{info.name if info else ''}")
        default = doc.folder / f"{stem.strip('._') or 'segment'}_statistics.csv"
        name, _ = QFileDialog.getSaveFileName(self, "Export statistics as CSV", str(default),
                                              "CSV (*.csv)")
        if not name:
            return
        try:
            out = self.export_csv(name, overwrite=True)
        except VellumError as exc:
            QMessageBox.warning(self, "Export CSV", str(exc))
            return
        self.session.host.message(f"Statistics written to {out}")
