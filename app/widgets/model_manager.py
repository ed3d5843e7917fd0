"""Tools ▸ Models…: the installed model packs, where each runs and why, and importing more.

Shows what ``vellum models doctor`` and ``vellum models list`` report (one source:
:mod:`app.inference.doctor`): each pack's task, licence, files, whether its files still have
the hashes verified at import, and the device each file really runs on (with the reason when
it fell back); the execution providers probed; the model folder. Import takes a model file, a
folder or a ``.vellum-models`` archive (:func:`app.inference.pack_import.import_models`) off
the UI thread; every refused file is said in one sentence. Nothing is ever downloaded.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from shiboken6 import isValid
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel,
                               QListWidget, QPushButton, QTreeWidgetItem, QVBoxLayout, QWidget)

from app.core.errors import VellumError
from app.widgets.jobs import Jobs
from app.widgets.tables import report_table

def _alive(dialog: QDialog, fn: Callable[[Any], None]) -> Callable[[Any], None]:
    """``fn`` unless the dialog was closed and deleted meanwhile (a job outlived it)."""
    return lambda value: fn(value) if isValid(dialog) else None


COLUMNS = ("Model", "Task", "Licence", "Files", "Verified", "Runs on")


def ask_import_file(parent: QWidget) -> str | None:
    path, _ = QFileDialog.getOpenFileName(
        parent, "Import model file or archive", "",
        "Models and archives (*.onnx *.ort *.vellum-models *.zip *.tar *.tar.gz *.json);;"
        "All files (*)")
    return path or None


def ask_import_folder(parent: QWidget) -> str | None:
    return QFileDialog.getExistingDirectory(parent, "Import models from a folder") or None


def _mb(n: Any) -> str:
    return f"{n / 1e6:.1f} MB" if isinstance(n, (int, float)) else "?"


def gather(root: Path | None = None) -> dict[str, Any]:
    """Everything the dialog shows (worker thread: hashes files and opens each model)."""
    from app.inference.doctor import doctor, list_models
    from app.widgets.sam_window import gpu_name

    report = doctor(root)
    listing = list_models(root)
    report["listing"] = {m["id"]: m for m in listing["models"]}
    report["importable"] = listing["importable"]
    report["gpu"] = gpu_name() if str(report.get("device", "")).startswith("GPU") else ""
    return report


class ModelManager(QDialog):
    """See the module doc. ``changed()`` is called after an import installed something (the
    segment-anything engine re-reads the model folder)."""

    refreshed = Signal()  # the table shows a fresh report
    imported = Signal(object)  # an ImportReport

    def __init__(self, jobs: Jobs, parent: QWidget | None = None, root: Path | None = None,
                 changed: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(980, 560)
        self.jobs, self.root, self._changed = jobs, root, changed
        self.report: dict[str, Any] | None = None
        lay = QVBoxLayout(self)
        self.device = QLabel("Checking where models run…")
        self.device.setWordWrap(True)
        self.warnings = QLabel()
        self.warnings.setObjectName("errorBanner")
        self.warnings.setWordWrap(True)
        self.warnings.hide()
        self.table = report_table(COLUMNS, (140, 70, 90, 330, 160, 130))
        self.providers = QLabel()
        self.providers.setWordWrap(True)
        self.providers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        folder_row = QHBoxLayout()
        self.folder = QLabel()
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_folder = QPushButton("Open folder")
        self.open_folder.clicked.connect(self._open_folder)
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.open_folder)
        buttons = QHBoxLayout()
        self.import_file = QPushButton("Import file or archive…")
        self.import_file.setToolTip("A .onnx file, a .vellum-models archive (zip/tar) or a "
                                    "pack's manifest.json: from a USB stick or a share")
        self.import_folder = QPushButton("Import folder…")
        self.import_file.clicked.connect(lambda: self._ask(ask_import_file))
        self.import_folder.clicked.connect(lambda: self._ask(ask_import_folder))
        self.recheck = QPushButton("Check again")
        self.recheck.clicked.connect(self.refresh)
        for b in (self.import_file, self.import_folder, self.recheck):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.messages = QListWidget()
        self.messages.setMaximumHeight(110)
        self.messages.setWordWrap(True)
        self.messages.setToolTip("What the last import did; refused files are named with why")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        for w in (self.device, self.warnings, self.table, self.providers):
            lay.addWidget(w)
        lay.addLayout(folder_row)
        lay.addLayout(buttons)
        lay.addWidget(self.messages)
        lay.addWidget(close)
        self.refresh()

    # ------------------------------------------------------------------ reading
    def refresh(self) -> Any:
        """Re-read the model folder and re-check every pack (off the UI thread)."""
        self.recheck.setEnabled(False)
        root = self.root
        return self.jobs.start("Checking models", lambda job: gather(root),
                               on_done=_alive(self, self._show),
                               on_error=_alive(self, self._failed))

    def _failed(self, exc: Exception) -> None:
        self.recheck.setEnabled(True)
        self.device.setText(str(exc) if isinstance(exc, VellumError) else
                            f"The models could not be checked ({exc}).")
        self.refreshed.emit()

    def _show(self, report: dict[str, Any]) -> None:
        self.report = report
        self.recheck.setEnabled(True)
        gpu = f": {report['gpu']}" if report.get("gpu") else ""
        self.device.setText(f"Models run on <b>{report['device']}</b>{gpu} (onnxruntime "
                            f"{', '.join(report['packages']) or 'not installed'}).")
        self.warnings.setText("\n".join(report["warnings"]))
        self.warnings.setVisible(bool(report["warnings"]))
        self.table.clear()
        for pack in report["packs"]:
            self.table.addTopLevelItem(self._row(pack, report["listing"].get(pack["id"], {})))
        for sentence in report["errors"]:
            item = QTreeWidgetItem(["(unreadable)", "", "", "", sentence, ""])
            self.table.addTopLevelItem(item)
        if not report["packs"] and not report["errors"]:
            self.table.addTopLevelItem(QTreeWidgetItem(
                ["No model installed", "", "", "Import files, a folder or a .vellum-models "
                 "archive below", "", ""]))
        lines = [f"{p['device']} ({p['name']}): " + ("works" if p["ok"] else
                                                     f"not used — {p['reason']}")
                 for p in report["providers"]]
        if report.get("importable"):
            lines.append("Packs Vellum knows that are not installed (import their files): "
                         + ", ".join(report["importable"]))
        self.providers.setText("<b>Where models can run</b><br>"
                               + "<br>".join(html.escape(line) for line in lines))
        folder = report["models_dir"]
        note = "" if folder["exists"] else " (not created yet)"
        if not folder["writable"]:  # a read-only home: say what moves it
            from app.inference.packs import models_dir_variable

            note += (f" — not writable: set {models_dir_variable()} to a writable folder to "
                     "move it")
        self.folder.setText(f"Model folder: {folder['path']}{note}")
        self.folder.setWordWrap(True)
        self.refreshed.emit()

    @staticmethod
    def _row(pack: dict[str, Any], entry: dict[str, Any]) -> QTreeWidgetItem:
        files = "\n".join(f"{f['role']}: {f['name']}, {_mb(f.get('bytes'))}"
                          for f in sorted(entry.get("files", []), key=lambda f: f["role"]))
        if pack["verified"] and pack["complete"]:
            verified = "✓ verified (SHA-256)"
        else:
            verified = "\n".join(pack["problems"]) or "incomplete"
        devices = "\n".join(f"{role}: {where}" for role, where in
                            (pack.get("devices") or {}).items()) or "—"
        name = entry.get("name") or pack["id"]
        item = QTreeWidgetItem([f"{name}\n{pack['id']}" if name != pack["id"] else name,
                                pack["task"], entry.get("licence", ""), files, verified,
                                devices])
        item.setToolTip(0, entry.get("source", ""))
        item.setData(0, Qt.ItemDataRole.UserRole, pack["id"])
        return item

    def pack_ids(self) -> list[str]:
        """Ids of the packs in the table (tests, scripts)."""
        return [i for n in range(self.table.topLevelItemCount())
                if (i := self.table.topLevelItem(n).data(0, Qt.ItemDataRole.UserRole))]

    # ------------------------------------------------------------------ importing
    def _ask(self, ask: Callable[[QWidget], str | None]) -> None:
        path = ask(self)
        if path:
            self.import_path(path)

    def import_path(self, path: str | Path) -> Any:
        """Install what ``path`` holds (off the UI thread), then show what happened."""
        from app.inference.pack_import import import_models

        root = self.root
        self.messages.clear()
        self.messages.addItem(f"Importing {path}…")
        for b in (self.import_file, self.import_folder):
            b.setEnabled(False)
        return self.jobs.start(f"Importing models from {Path(path).name}",
                               lambda job: import_models(path, root, progress=lambda d, t, *_:
                                                         job.progress(d, t)),
                               on_done=_alive(self, self._imported),
                               on_error=_alive(self, self._import_failed))

    def _import_failed(self, exc: Exception) -> None:
        for b in (self.import_file, self.import_folder):
            b.setEnabled(True)
        self.messages.clear()
        self.messages.addItem(str(exc) if isinstance(exc, VellumError) else
                              f"The import stopped ({exc}).")
        self.imported.emit(None)

    def _imported(self, report: Any) -> None:
        for b in (self.import_file, self.import_folder):
            b.setEnabled(True)
        self.messages.clear()
        for model_id, roles in sorted(report.installed.items()):
            self.messages.addItem(f"Installed {model_id}: {', '.join(sorted(roles))}.")
        for sentence in report.errors:
            self.messages.addItem(sentence)
        if not report.installed and not report.errors:
            self.messages.addItem("Nothing there is a model file Vellum knows.")
        if report.installed and self._changed is not None:
            self._changed()
        self.imported.emit(report)
        self.refresh()

    def messages_text(self) -> list[str]:
        return [self.messages.item(i).text() for i in range(self.messages.count())]

    def _open_folder(self) -> None:
        from app.inference.packs import models_dir

        from app.inference.packs import models_dir_variable

        folder = self.root or models_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.messages.clear()
            self.messages.addItem(f"The model folder {folder} cannot be made "
                                  f"({exc.strerror or exc}); set {models_dir_variable()} to a "
                                  "writable folder to move it.")
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
