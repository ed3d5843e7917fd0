"""File ▸ Import and File ▸ Export in the window, one item per format of the registry
(:mod:`app.io.formats`): a file or folder dialog by the format's target and patterns, its
options dialog when it has options (:mod:`app.widgets.format_options`), then the work in a
background job with a progress bar and a cancel button, on its own connection to the project
(WAL gives it a consistent snapshot); only the final import command runs on the UI thread.

Output rule as on the command line (:mod:`app.io.outputs`): an existing file is replaced only
when the user agreed in a dialog (the save dialog's own question, or ours when files of a
folder export exist); the project and its media never. A read that wants a confirmation
(a file imported before) asks, then runs again. What a format could not hold is said beside
the counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.core.document import Document
from app.core.errors import VellumError
from app.io import formats as registry
from app.io.formats import Format
from app.widgets.jobs import Cancelled, Job
from app.widgets.menus import Entry, in_submenu

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow

IMPORT, EXPORT = "&Import", "&Export"
KEYS = {("export", "coco"): "Ctrl+E"}  # window keys of format items
HOLDS = {"shapes": "shapes", "tracks": "tracks", "labelmaps": "label maps"}


def _summary(head: str, notes: list[str]) -> str:
    return head + ("" if not notes else " " + " ".join(notes))


def _holds(fmt: Format) -> str:
    return ", ".join(HOLDS[h] for h in sorted(fmt.holds))


def menu_entries(win: MainWindow, menu: str) -> list[Entry]:
    """The Import and Export submenus of ``menu``, one item per format (in registry order)."""
    out = [Entry(menu, submenu=IMPORT)]
    for fmt in registry.readers():
        out.append(Entry(in_submenu(menu, IMPORT), f"{fmt.title}…",
                         KEYS.get(("import", fmt.name)),
                         lambda f=fmt: import_format(win, f),
                         f"Import {fmt.title} ({_holds(fmt)}) as one undoable step",
                         name=f"import_{fmt.name}"))
    out.append(Entry(menu, submenu=EXPORT))
    for fmt in registry.writers():
        key = KEYS.get(("export", fmt.name))
        out.append(Entry(in_submenu(menu, EXPORT), f"{fmt.title}…", key,
                         lambda f=fmt: export_format(win, f),
                         f"Export the project's {_holds(fmt)} as {fmt.title}",
                         "Project" if key else "", name=f"export_{fmt.name}"))
    return out


def _ask_path(win: MainWindow, doc: Document, fmt: Format, write: bool) -> Path | None:
    """The file or folder (by the format's target) to export to (``write``) or import from,
    asked in a dialog that starts in the project's folder; None when the user cancels."""
    if (fmt.write_target if write else fmt.read_target) == "folder":
        title = f"Export {fmt.title} into a folder" if write else f"Import {fmt.title}"
        name = QFileDialog.getExistingDirectory(win, title, str(doc.folder))
    elif write:
        name, _ = QFileDialog.getSaveFileName(
            win, f"Export {fmt.title}", str(doc.folder / f"{doc.name}_{fmt.name}{fmt.suffix}"),
            fmt.filter)
    else:
        name, _ = QFileDialog.getOpenFileName(win, f"Import {fmt.title}", str(doc.folder),
                                              fmt.filter)
    return Path(name) if name else None


def _progress(job: Job):
    return lambda done, total=0, *_args, **_kwargs: job.progress(done, total or 0)


# ------------------------------------------------------------------ export
def export_format(win: MainWindow, fmt: Format, out: Path | None = None,
                  options: dict[str, Any] | None = None) -> None:
    """Ask where (unless ``out`` is given) and, if the format has options, which (unless
    ``options`` are given; ``options["overwrite"]``: replace existing files), then write the
    project in the background."""
    doc = win.state.doc
    if doc is None:
        return
    asked = out is None
    values = fmt.defaults(write=True) | dict(options or {})
    if out is None:
        out = _ask_path(win, doc, fmt, write=True)
        if out is None:
            return
        # the save dialog asked before choosing an existing file; a folder's files: we ask
        values["overwrite"] = fmt.write_target == "file"
        if fmt.write_target == "file" and fmt.suffix and not out.suffix:  # typed bare
            out, values["overwrite"] = out.with_name(out.name + fmt.suffix), False
    if options is None:
        from app.widgets.format_options import ask_options

        answered = ask_options(win, f"Export {fmt.title}", fmt.write_options, values,
                               out.parent if fmt.write_target == "file" else out)
        if answered is None:
            return
        values = answered
    _run_export(win, fmt, doc.path, out, values, asked)


def _run_export(win: MainWindow, fmt: Format, project: Path, out: Path,
                values: dict[str, Any], asked: bool) -> None:

    def work(job: Job) -> tuple[registry.Outcome, list[str]]:
        notes: list[str] = []
        with Document.open(project) as snapshot:
            outcome = fmt.write(snapshot, out, dict(values), _progress(job),
                                lambda: job.cancelled, notes)
        return outcome, notes

    def done(result: tuple[registry.Outcome, list[str]]) -> None:
        outcome, notes = result
        win.statusBar().showMessage(_summary(outcome.summary, notes), 12000)
        if outcome.warnings:
            QMessageBox.warning(win, "Exported, with warnings", "\n".join(outcome.warnings))

    def failed(exc: BaseException) -> None:
        from app.io.outputs import OutputExists

        if isinstance(exc, OutputExists) and asked and not values.get("overwrite"):
            if _ask_replace(win, Path(exc.path or out)):
                _run_export(win, fmt, project, out, values | {"overwrite": True}, asked)
            return
        win.error(str(exc))

    win.jobs.start(f"Exporting {out.name}", work, on_done=done, on_error=failed)


def _ask_replace(win: MainWindow, existing: Path) -> bool:
    answer = QMessageBox.question(
        win, "Replace files?",
        f"{existing.name} already exists in {existing.parent}.\n\nReplace it, and any other "
        "file of this export that exists? (The project and its media are never written.)",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


# ------------------------------------------------------------------ import
def import_format(win: MainWindow, fmt: Format, path: Path | None = None,
                  options: dict[str, Any] | None = None) -> None:
    """Ask for the file (unless ``path`` is given) and, if the format has options, for them
    (unless ``options`` are given); read it in the background, then add it to the project
    as one undoable step."""
    doc = win.state.doc
    if doc is None:
        return
    values = fmt.defaults(write=False) | dict(options or {})
    if path is None:
        path = _ask_path(win, doc, fmt, write=False)
        if path is None:
            return
    if options is None:
        from app.widgets.format_options import ask_options

        answered = ask_options(win, f"Import {path.name}", fmt.read_options, values,
                               path.parent)
        if answered is None:
            return
        values = answered
    _run_import(win, fmt, doc, path, values)


def _run_import(win: MainWindow, fmt: Format, doc: Document, path: Path,
                values: dict[str, Any]) -> None:
    project = doc.path

    def work(job: Job) -> tuple[registry.Outcome, list[str]]:
        notes: list[str] = []
        with Document.open(project) as snapshot:
            outcome = fmt.read(snapshot, path, dict(values), _progress(job),
                               lambda: job.cancelled, notes)
        if job.cancelled:
            raise Cancelled()
        return outcome, notes

    def done(result: tuple[registry.Outcome, list[str]]) -> None:
        outcome, notes = result
        if win.state.doc is not doc:
            return
        try:
            if outcome.command is not None:
                doc.execute(outcome.command)
        except (VellumError, ValueError) as exc:  # the project changed while checking
            win.error(f"{path}: {exc}")
            return
        win.statusBar().showMessage(_summary(outcome.summary, notes), 12000)
        if outcome.warnings:
            QMessageBox.warning(win, "Imported, with warnings", "\n".join(outcome.warnings))

    def failed(exc: BaseException) -> None:
        if isinstance(exc, registry.Confirm) and not values.get(exc.option):
            if win.state.doc is not doc:  # the project was closed meanwhile
                return
            answer = QMessageBox.question(
                win, exc.title, exc.question,
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer == QMessageBox.StandardButton.Yes:
                _run_import(win, fmt, doc, path, values | {exc.option: True})
            return
        win.error(str(exc))

    win.jobs.start(f"Importing {path.name}", work, on_done=done, on_error=failed)


# ------------------------------------------------------------------ COCO (Ctrl+E, tests)
def export_coco(win: MainWindow, out: Path | None = None,
                images_root: Path | None = None, overwrite: bool = False) -> None:
    """File ▸ Export ▸ COCO JSON (Ctrl+E): ask where unless ``out`` is given."""
    options = {"images_root": images_root, "with_images": False, "overwrite": overwrite}
    export_format(win, registry.get("coco"), out, options)


def import_coco(win: MainWindow, path: Path | None = None, images: Path | None = None,
                again: bool = False) -> None:
    """File ▸ Import ▸ COCO JSON: ask for the file and its images folder unless ``path`` is
    given (then ``images``: the folder its file names are relative to)."""
    fmt = registry.get("coco")
    if path is None:
        import_format(win, fmt)
    else:
        import_format(win, fmt, path, {"images": images, "again": again})
