"""File ▸ Import / Export COCO in the window: the work runs in a background job with a
progress bar and a cancel button, on its own connection to the project (WAL gives it a
consistent snapshot); only the final import command runs on the UI thread.

Importing a file that was imported before asks whether to add its annotations a second time
(the CLI refuses unless ``--again``). Export refuses the project's own files and its media, and
says what COCO could not hold (lines, volume labels) beside the counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.core.document import Document
from app.core.errors import VellumError
from app.widgets.jobs import Cancelled, Job

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow


def _summary(head: str, notes: list[str]) -> str:
    return head + ("" if not notes else " " + " ".join(notes))


def export_coco(win: MainWindow, out: Path | None = None,
                images_root: Path | None = None, overwrite: bool = False) -> None:
    """Ask where (unless ``out`` is given) and write the project's labels as COCO JSON. An
    existing file is replaced only when the dialog asked about it (or ``overwrite``); the
    project and its media never (:mod:`app.io.outputs`, as on the command line)."""
    doc = win.state.doc
    if doc is None:
        return
    if out is None:
        name, _ = QFileDialog.getSaveFileName(win, "Export COCO JSON",
                                              str(doc.folder / f"{doc.name}_coco.json"),
                                              "COCO JSON (*.json)")
        if not name:
            return
        out = Path(name)
        overwrite = True  # the dialog asked before choosing an existing file
        if not out.suffix:  # a name typed without the extension
            out, overwrite = out.with_name(out.name + ".json"), False
    project = doc.path

    def work(job: Job) -> dict:
        from app.io.coco import export_coco as write

        with Document.open(project) as snapshot:
            return write(snapshot, out, progress=job.progress,
                         cancelled=lambda: job.cancelled, images_root=images_root,
                         overwrite=overwrite)

    def done(n: dict) -> None:
        text = _summary(f"Wrote {out}: {n['images']} images, {n['annotations']} annotations.",
                        n.get("notes", []))
        win.statusBar().showMessage(text, 12000)

    win.jobs.start(f"Exporting {out.name}", work, on_done=done,
                   on_error=lambda exc: win.error(str(exc)))


def ask_again(win: MainWindow, path: Path, when: str, count: int) -> bool:
    """Whether to import a file that was imported before (its annotations would be added a
    second time)."""
    answer = QMessageBox.question(
        win, "Import again?",
        f"{path.name} was already imported into this project ({when}).\n\nImporting it again "
        f"adds its {count} annotations a second time. Import it again anyway?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def import_coco(win: MainWindow, path: Path | None = None, images: Path | None = None,
                again: bool = False) -> None:
    """Ask for a COCO file and its image folder (unless given), check it in the background,
    then add it to the project as one undoable step."""
    doc = win.state.doc
    if doc is None:
        return
    if path is None:
        name, _ = QFileDialog.getOpenFileName(win, "Import COCO JSON", str(doc.folder),
                                              "COCO JSON (*.json)")
        if not name:
            return
        path = Path(name)
        folder = QFileDialog.getExistingDirectory(
            win, "Folder the COCO file names are relative to", str(path.parent))
        if not folder:
            return
        images = Path(folder)
    project = doc.path

    def work(job: Job):
        from app.io.coco import plan_import

        with Document.open(project) as snapshot:
            planned = plan_import(snapshot, path, images, again=again, progress=job.progress,
                                  cancelled=lambda: job.cancelled)
        if job.cancelled:
            raise Cancelled()
        return planned

    def done(planned) -> None:
        command, counts = planned
        if win.state.doc is not doc:
            return
        try:
            doc.execute(command)
        except (VellumError, ValueError) as exc:  # the project changed while checking
            win.error(f"{path}: {exc}")
            return
        text = _summary(f"Imported {counts['annotations']} annotations and {counts['media']} "
                        f"new media from {path.name}.", counts.get("notes", []))
        win.statusBar().showMessage(text, 12000)
        if counts.get("warnings"):
            QMessageBox.warning(win, "Imported, with warnings", "\n".join(counts["warnings"]))

    def failed(exc: BaseException) -> None:
        from app.io.coco import AlreadyImported

        if isinstance(exc, AlreadyImported):
            if ask_again(win, path, exc.when, exc.count):
                import_coco(win, path, images, again=True)
            return
        win.error(str(exc))

    win.jobs.start(f"Importing {path.name}", work, on_done=done, on_error=failed)
