"""Help ▸ Self-test…: the checks of ``vellum self-test`` (:mod:`app.selftest`) run off the UI
thread on the window's job runner, with a progress bar naming the check under way, then the
table (check, result, device, ms; each failure's sentence in its row and below). Also the
window's word on a data or model folder that cannot be written (a read-only home): which
folder, and which variable moves it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QProgressBar,
                               QTreeWidgetItem, QVBoxLayout, QWidget)
from shiboken6 import isValid

from app.core.errors import VellumError
from app.widgets.tables import report_table

COLUMNS = ("Check", "Result", "Device", "ms")


class _Relay(QObject):
    """Carries progress from the worker thread to the dialog (queued: it lives on the UI
    thread); once the dialog is gone, Qt has disconnected it and nothing is delivered."""

    progressed = Signal(int, int, str)


class SelfTestDialog(QDialog):
    """Runs the self-test as soon as it is made; ``finished_checks`` is emitted with the list
    of :class:`app.selftest.Check` (empty when it stopped on an error)."""

    finished_checks = Signal(object)

    def __init__(self, jobs: Any, parent: QWidget | None = None, quick: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Self-test")
        self.resize(760, 560)
        self.checks: list[Any] | None = None
        lay = QVBoxLayout(self)
        self.status = QLabel("Starting the self-test…")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.table = report_table(COLUMNS, (250, 60, 130, 60))
        self.problems = QLabel()
        self.problems.setObjectName("errorBanner")
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self._cancel_or_close)
        for w in (self.status, self.bar, self.table, self.problems, self.buttons):
            lay.addWidget(w)
        self._relay = relay = _Relay()
        relay.progressed.connect(self._progress)

        def work(job: Any) -> list[Any]:
            from app.selftest import run_self_test

            def progress(done: int, total: int, name: str = "") -> None:
                relay.progressed.emit(int(done), int(total), str(name))

            return run_self_test(quick=quick, progress=progress,
                                 cancelled=lambda: job.cancelled)

        self.job = jobs.start("Self-test", work, on_done=self._alive(self._show),
                              on_error=self._alive(self._failed))

    def _alive(self, fn: Any) -> Any:
        return lambda value: fn(value) if isValid(self) else None

    def _progress(self, done: int, total: int, name: str) -> None:
        if self.checks is not None:
            return
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.status.setText(f"Check {min(done + 1, total)} of {total}: {name}…" if name
                            else "Finishing…")

    def _cancel_or_close(self) -> None:
        if self.checks is None and self.job is not None:
            self.job.cancel()  # the check under way finishes; its sample files are removed
        self.reject()

    def _done_buttons(self) -> None:
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)

    def _show(self, checks: list[Any]) -> None:
        from app.selftest import all_passed

        self.checks = list(checks)
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        failed = [c for c in self.checks if not c.ok]
        total = sum(c.ms for c in self.checks) / 1000
        self.status.setText(f"All {len(self.checks)} checks passed ({total:.1f} s)."
                            if all_passed(self.checks) else
                            f"{len(failed)} of {len(self.checks)} checks failed.")
        self.table.clear()
        for c in self.checks:
            item = QTreeWidgetItem([c.check, c.result, c.device, str(c.ms)])
            item.setToolTip(0, c.detail)
            item.setToolTip(1, c.detail)
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight)
            if not c.ok:
                item.setForeground(1, Qt.GlobalColor.red)
            self.table.addTopLevelItem(item)
        self.problems.setText("\n".join(f"{c.check}: {c.detail}" for c in failed))
        self.problems.setVisible(bool(failed))
        self._done_buttons()
        self.finished_checks.emit(self.checks)

    def _failed(self, exc: Exception) -> None:
        self.checks = []
        self.status.setText(str(exc) if isinstance(exc, VellumError) else
                            f"The self-test stopped ({exc}).")
        self.bar.setRange(0, 1)
        self._done_buttons()
        self.finished_checks.emit([])

    def report_lines(self) -> list[str]:
        """The table as text (tests, copying)."""
        from app.selftest import format_table

        return format_table(self.checks or [])


def run_self_test_dialog(window: Any) -> SelfTestDialog:
    """Help ▸ Self-test…: open the dialog on ``window``'s job runner (modal, like the other
    dialogs of the window; the checks run on a worker thread)."""
    dialog = SelfTestDialog(window.jobs, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.exec()
    return dialog


def folder_problems() -> list[str]:
    """One sentence per folder Vellum writes that cannot be written here (the data folder, the
    model folder), naming the variable that moves it; worker thread (it touches the disk)."""
    from app.selftest.system_checks import check_data_folder, check_models_folder

    found = []
    for check in (check_data_folder, check_models_folder):
        try:
            check(None)
        except VellumError as exc:
            found.append(str(exc))
    return found


def warn_unwritable_folders(window: Any) -> Any:
    """Check the folders off the UI thread; a problem is said in the status bar (it stays until
    another message replaces it). Returns the job."""
    def said(problems: list[str]) -> None:
        if problems and isValid(window):
            window.statusBar().showMessage("  ".join(problems), 0)

    return window.jobs.start("Checking folders", lambda job: folder_problems(), on_done=said,
                             visible=False)
