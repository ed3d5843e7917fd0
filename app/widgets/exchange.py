"""File ▸ Import / Export COCO in the window: the work runs in a background job with a
progress bar and a cancel button, on its own connection to the project (WAL gives it a
consistent snapshot); only the final import command runs on the UI thread."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from app.core.document import Document
from app.core.errors import VellumError
from app.widgets.jobs import Cancelled, Job

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow


def export_coco(win: MainWindow, out: Path | None = None) -> None:
    """Ask where (unless ``out`` is given) and write the project's labels as COCO JSON."""
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
    project = doc.path

    def work(job: Job) -> dict[str, int]:
        from app.io.coco import export_coco as write

        with Document.open(project) as snapshot:
            return write(snapshot, out, progress=job.progress,
                         cancelled=lambda: job.cancelled)

    win.jobs.start(f"Exporting {out.name}", work,
                   on_done=lambda n: win.statusBar().showMessage(
                       f"Wrote {out}: {n['images']} images, {n['annotations']} annotations.",
                       8000),
                   on_error=lambda exc: win.error(str(exc)))


def import_coco(win: MainWindow, path: Path | None = None, images: Path | None = None) -> None:
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
            planned = plan_import(snapshot, path, images)
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
        else:
            win.statusBar().showMessage(
                f"Imported {counts['annotations']} annotations and {counts['media']} new "
                f"media from {path.name}.", 8000)

    win.jobs.start(f"Importing {path.name}", work, on_done=done,
                   on_error=lambda exc: win.error(str(exc)))
