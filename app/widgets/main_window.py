"""The main window: media list (left), canvas (centre), labels, objects and attributes (right),
status bar (bottom). It shows one open :class:`~app.core.document.Document` and forwards input
to the tools and to app/core commands; there is no Save: every edit is committed as it happens.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QApplication, QDockWidget, QInputDialog, QMainWindow,
                               QMessageBox, QStackedWidget, QWidget)

from app.core.document import Change, Document
from app.core.errors import VellumError
from app.core.identity import set_author
from app.core.places import Place
from app.core.media import MediaKind
from app.core.store import PROJECT_FILE
from app.tools import TOOLS
from app.tools.state import EditorState
from app.widgets import dialogs, menus, theme
from app.widgets.attribute_editor import AttributeEditor
from app.widgets.canvas import Canvas
from app.widgets.display import LayerDisplay
from app.widgets.jobs import Jobs
from app.widgets.label_panel import LabelPanel
from app.widgets.loading import AddMediaJob, FrameCache
from app.widgets.media_list import MediaList
from app.widgets.object_list import ObjectList
from app.widgets.shortcuts import ShortcutSheet, action_rows
from app.inference.providers import compute_device
from app.widgets.status_bar import StatusFields
from app.widgets.tiles import ImagePyramid
from app.widgets.tool_options import ToolOptions
from app.widgets.watch import StateWatcher
from app.widgets.welcome import Welcome

RECENT_MAX = 10
CACHE_IMAGES = 4


class MainWindow(QMainWindow, StateWatcher):
    """Vellum's window. ``doc`` may be None (the welcome page is shown)."""

    def __init__(self, doc: Document | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings()
        self.setWindowTitle("Vellum")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.jobs = Jobs(self)
        self.thumb_jobs = Jobs(self, threads=2, idle=True)
        self.state = EditorState(None)
        self.canvas = Canvas(self.state)
        self.tools = {cls.name: cls(self.state) for cls in TOOLS}
        self.welcome = Welcome(self)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.canvas)
        self.setCentralWidget(self.stack)
        self.media = MediaList(self.thumb_jobs)
        self.labels = LabelPanel(self.state)
        self.objects = ObjectList(self.state)
        self.attributes = AttributeEditor(self.state)
        self.docks: list[QDockWidget] = []
        self._dock("Media", self.media, Qt.LeftDockWidgetArea)
        self._dock("Labels", self.labels, Qt.RightDockWidgetArea)
        self._dock("Objects", self.objects, Qt.RightDockWidgetArea)
        self._dock("Attributes", self.attributes, Qt.RightDockWidgetArea)
        self.resizeDocks(self.docks[1:], [300, 360, 200], Qt.Vertical)
        self.status = StatusFields(self.statusBar(), self.jobs)
        self.sections = menus.install(self)
        self.tool_options = ToolOptions(self.state)
        self.addToolBar(Qt.TopToolBarArea, self.tool_options)
        self._image: np.ndarray | None = None
        self.frames = FrameCache(self.jobs, self._loaded, self._failed, CACHE_IMAGES)
        self.previous_place: Place | None = None
        self.media.media_chosen.connect(self.show_media)
        self.canvas.cursor_moved.connect(lambda x, y: self.status.show_cursor(x, y, self._image))
        self.canvas.zoom_changed.connect(self.status.show_zoom)
        self.canvas.status_message.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self.watch(self.state)
        self.canvas.set_display_adjust(int(self.settings.value("adjust_Brightness", 0)) / 100,
                                       int(self.settings.value("adjust_Contrast", 0)) / 100)
        self.display = LayerDisplay(self.canvas, self.settings, self.status.fill.slider,
                                    self.outlines_action,
                                    lambda m: self.statusBar().showMessage(m, 2000))
        self.resize(1400, 900)
        self._restore_settings()
        self._layout, self._panels_shown = self.saveState(), True
        self.set_tool(str(self.settings.value("tool", "")) or next(iter(self.tools), ""))
        self.jobs.start("Checking compute device", lambda job: compute_device(),
                        on_done=self.status.show_device, visible=False)
        self.set_document(doc)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable
                         | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        self.docks.append(dock)
        if area == Qt.LeftDockWidgetArea:
            self.resizeDocks([dock], [270], Qt.Horizontal)
        else:
            self.resizeDocks([dock], [330], Qt.Horizontal)

    # ------------------------------------------------------------------ project
    @property
    def doc(self) -> Document | None:
        return self.state.doc

    def set_document(self, doc: Document | None) -> None:
        """Show ``doc`` (closing the one shown before)."""
        old = self.state.doc
        if old is not None and old is not doc:
            self.canvas.tool and self.canvas.tool.cancel()
            old.close()
        self.frames.clear()
        self._image = None
        self.previous_place = None
        classes = doc.schema.classes if doc else ()
        self.state.set(doc=doc, place=None, selection=(),
                       hidden=frozenset(), class_id=classes[0].id if classes else None)
        self.media.set_document(doc)
        self._show_panels(doc is not None)
        self.stack.setCurrentWidget(self.canvas if doc else self.welcome)
        self.status.show_saved(str(doc.path) if doc else None)
        self._update_title()
        if doc is not None:
            self._remember_recent(str(doc.path))
            items = doc.media()
            if items:
                self.show_media(items[0].id)
            else:
                self.canvas.show_error("This project has no media yet. Drop images, videos or "
                                       "folders here, or use File ▸ Add images (Ctrl+I).")
        self.welcome.refresh()

    def _show_panels(self, show: bool) -> None:
        """Panels and tools only make sense with a project; the layout is kept meanwhile."""
        if show == self._panels_shown:
            return
        if show:
            self.restoreState(self._layout)
        else:
            self._layout = self.saveState()
            for w in self.docks + [self.tool_bar, self.tool_options]:
                w.hide()
        self._panels_shown = show

    def open_project(self, path: str | Path) -> bool:
        """Open the project at ``path``; show the error (and keep the current one) on failure."""
        return self._show_project(Document.open, path)

    def create_project(self, path: str | Path) -> bool:
        return self._show_project(Document.create, path)

    def _show_project(self, load: Callable[[str | Path], Document], path: str | Path) -> bool:
        try:
            doc = load(path)
        except VellumError as exc:
            self.error(str(exc))
            return False
        self.set_document(doc)
        return True

    def close_project(self) -> None:
        self.set_document(None)

    # ------------------------------------------------------------------ media
    def show_media(self, media_id: str) -> None:
        """Make ``media_id`` current and load its picture off the UI thread."""
        doc = self.state.doc
        if doc is None:
            return
        try:
            item = doc.media_item(media_id)
        except VellumError as exc:
            self.error(str(exc))
            return
        if self.canvas.tool is not None:
            self.canvas.tool.cancel()
        if self.state.place is not None and self.state.media_id != media_id:
            self.previous_place = self.state.place
        self.state.set(place=Place(media_id, 0 if item.kind is MediaKind.VIDEO else None),
                       selection=(), image_size=(item.width, item.height))
        self.media.select(media_id)
        self._update_title()
        frame = self.state.frame or 0
        picture = self.frames.get(media_id, frame)
        self.status.show_cursor(0, 0, None)
        if picture is not None:
            self._display(picture)
        else:
            self._image = None
            self.canvas.show_image(None)
            self.frames.load(doc, item, frame)
        self.frames.prefetch_after(doc, media_id)

    def _loaded(self, media_id: str, picture: ImagePyramid) -> None:
        self.media.model.set_error(media_id, None)
        if media_id == self.state.media_id:
            self._display(picture)

    def _failed(self, media_id: str, exc: Exception) -> None:
        message = str(exc) if isinstance(exc, VellumError) else f"Cannot show this item ({exc})."
        self.media.model.set_error(media_id, message)
        if media_id == self.state.media_id:
            self._image = None
            self.status.show_cursor(0, 0, None)
            self.status.show_zoom(0)
            self.canvas.show_error(message + "\n\nThe rest of the project is unaffected: fix or "
                                   "replace the file, or press F for the next item.")

    def _display(self, picture: ImagePyramid) -> None:
        self._image = picture.image
        self.canvas.show_image(picture)
        self.status.show_zoom(self.canvas.zoom())

    def step_media(self, delta: int) -> None:
        self.media.step(delta)

    def jump_media(self, index: int) -> None:
        n = self.media.proxy.rowCount()
        if n:
            self.media.view.setCurrentIndex(self.media.proxy.index(index % n, 0))

    def add_paths(self, paths: list[str]) -> None:
        """Add media files/folders in the background; one AddMedia command at the end."""
        doc = self.state.doc
        if not paths:
            return
        if doc is None:
            self.error("Open or create a project before adding media.")
            return
        job = AddMediaJob(doc, paths)
        self.jobs.start(f"Adding {len(paths)} item(s)", job.run,
                        on_done=lambda report: self._added(doc, job, report),
                        on_error=lambda exc: self.error(str(exc)))

    def _added(self, doc: Document, job: AddMediaJob, report: Any) -> None:
        if doc is not self.state.doc:
            return
        had_media = bool(doc.media())
        job.commit(self.state)
        parts = [f"Added {len(report.added)} item(s)"]
        if report.duplicates:
            parts.append(f"{len(report.duplicates)} already in the project")
        self.statusBar().showMessage("; ".join(parts) + ".", 6000)
        if report.errors:
            QMessageBox.warning(self, "Some files were not added",
                                "\n".join(str(e) for e in report.errors[:20]))
        if not had_media and report.added:
            self.show_media(report.added[0].id)

    # ------------------------------------------------------------------ editing
    def set_tool(self, name: str) -> None:
        tool = self.tools.get(name)
        if tool is None:
            return
        self.canvas.set_tool(tool)
        self.tool_options.show_for(name, tool.tooltip)
        act = getattr(self, "tool_actions", {}).get(name)
        if act is not None:
            act.setChecked(True)
        self.settings.setValue("tool", name)

    def undo(self) -> None:
        self._history("undo")

    def redo(self) -> None:
        self._history("redo")

    def _history(self, which: str) -> None:
        doc = self.state.doc
        if doc is None:
            return
        if self.canvas.tool is not None and getattr(self.canvas.tool, "busy", False):
            self.canvas.tool.cancel()
            return
        label = doc.undo_label if which == "undo" else doc.redo_label
        try:
            done = doc.undo() if which == "undo" else doc.redo()
        except (VellumError, ValueError) as exc:  # e.g. the class to drop is now in use
            self.error(f"Cannot {which} {label!r}: {exc}")
            return
        if done:
            self.statusBar().showMessage(f"{which.capitalize()}: {label}", 3000)

    def copy_shapes(self) -> None:
        from app.tools import clipboard

        clipboard.copy(self.state)

    def paste_shapes(self) -> None:
        from app.tools import clipboard

        clipboard.paste(self.state)

    def repeat_previous(self) -> None:
        from app.tools import clipboard

        if self.previous_place is None:
            self.statusBar().showMessage("No previous image in this session.", 4000)
            return
        clipboard.repeat_previous(self.state, self.previous_place)

    def select_all(self) -> None:
        self.state.set(selection=tuple(a.id for a in self.state.visible_annotations()))

    def show_all_objects(self) -> None:
        self.state.set(hidden=frozenset())

    # ------------------------------------------------------------------ observing
    def on_state(self, field: str) -> None:
        if field == "status" and self.state.status:
            self.statusBar().showMessage(self.state.status, 6000)

    def on_changes(self, changes: list[Change]) -> None:
        doc = self.state.doc
        self.status.show_saved(str(doc.path) if doc else None, edited=True)
        self.undo_action.setText(f"&Undo {doc.undo_label}" if doc and doc.undo_label else "&Undo")
        self.redo_action.setText(f"&Redo {doc.redo_label}" if doc and doc.redo_label else "&Redo")
        if any(c.kind == "media" for c in changes) and doc and self.state.media_id:
            if doc.media_item(self.state.media_id).removed:
                self.state.set(media_id=None)
                self.canvas.show_image(None)

    def _update_title(self) -> None:
        doc = self.state.doc
        if doc is None:
            self.setWindowTitle("Vellum")
            return
        name = doc.media_item(self.state.media_id).name if self.state.media_id else ""
        self.setWindowTitle(f"{name + ' — ' if name else ''}{doc.name} — Vellum")

    # ------------------------------------------------------------------ dialogs
    def error(self, message: str) -> None:
        """Show a user-facing problem (never a traceback)."""
        QMessageBox.warning(self, "Vellum", message)

    def new_project_dialog(self) -> None:
        path = dialogs.ask_new_project(self)
        if path:
            self.create_project(path)

    def open_project_dialog(self) -> None:
        path = dialogs.ask_open_project(self)
        if path:
            self.open_project(path)

    def add_files_dialog(self) -> None:
        self.add_paths(dialogs.ask_media_files(self))

    def add_folder_dialog(self) -> None:
        self.add_paths(dialogs.ask_media_folder(self))

    def open_demo(self) -> None:
        from app.demo import build_demo, demo_folder

        self.jobs.start("Building the demo project", lambda job: build_demo(demo_folder()),
                        on_done=self.open_project, on_error=lambda exc: self.error(str(exc)))

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_projects():
            self.recent_menu.addAction(path, lambda p=path: self.open_project(p))
        self.recent_menu.setEnabled(bool(self.recent_projects()))

    def recent_projects(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember_recent(self, path: str) -> None:
        recent = [path] + [p for p in self.recent_projects() if p != path]
        self.settings.setValue("recent", recent[:RECENT_MAX])

    def show_shortcuts(self) -> None:
        sections = [(title, action_rows(acts)) for title, acts in self.sections.items()]
        classes = self.state.doc.schema.classes if self.state.doc else ()
        sections.insert(1, ("Classes", [(c.name, c.hotkey) for c in classes if c.hotkey]))
        ShortcutSheet(sections, self).exec()

    def adjust_dialog(self) -> None:
        dialogs.AdjustDialog(self.settings, self.canvas.set_display_adjust, self).show()

    def set_outlines_only(self, on: bool) -> None:
        """Show only the outlines of unselected shapes (display only, remembered)."""
        self.display.set_outlines_only(on)

    def toggle_theme(self) -> None:
        app = QApplication.instance()
        name = "light" if theme.current_theme(app) == "dark" else "dark"
        theme.apply_theme(app, name)
        self.settings.setValue("theme", name)

    def about(self) -> None:
        dialogs.about(self)

    def author_dialog(self) -> None:
        """Ask for the name the audit trail records (kept in QSettings)."""
        name, ok = QInputDialog.getText(self, "Author name", "Name recorded with your edits "
                                        "(empty: your user name):", text=str(
                                            self.settings.value("author", "") or ""))
        if ok:
            self.settings.setValue("author", name.strip())
            set_author(name)

    # ------------------------------------------------------------------ window
    def _restore_settings(self) -> None:
        set_author(str(self.settings.value("author", "") or "") or None)
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = self.settings.value("window_state")
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state",
                               self.saveState() if self._panels_shown else self._layout)
        self.settings.sync()
        self.jobs.cancel_all()
        self.thumb_jobs.cancel_all()
        self.jobs.wait(1000)
        self.thumb_jobs.wait(1000)
        doc = self.state.doc
        self.unwatch()
        if doc is not None:
            doc.close()
        super().closeEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: self.drop_paths(paths))

    def drop_paths(self, paths: list[str]) -> None:
        """A project file (or folder holding one) opens; anything else is added as media."""
        projects = [p for p in paths
                    if p.endswith(".vellum") or (Path(p) / PROJECT_FILE).is_file()]
        if projects:
            self.open_project(projects[0])
        elif paths:
            self.add_paths(paths)
