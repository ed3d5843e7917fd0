"""The main window: media list (left), canvas (centre), labels, objects and attributes (right),
status bar (bottom). It shows one open :class:`~app.core.document.Document` and forwards input
to the tools and to app/core commands; there is no Save: every edit is committed as it happens.

The keyboard belongs to the canvas whatever panel was clicked (:mod:`app.widgets.focus`); the
window takes the project's edit lock or opens it read-only (:mod:`app.widgets.edit_access`);
undo of an edit made on another item first shows that item (as CVAT and Slicer do); reopening
a project starts where the user left it (the view state kept in the project).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QThread, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QStackedWidget, QWidget

from app.core.commands import Command
from app.core.document import Change, ChangeKind, Document
from app.core.errors import VellumError
from app.core.identity import set_author
from app.core.media import MediaKind
from app.core.places import Place
from app.core.store import PROJECT_FILE
from app.inference.providers import compute_device
from app.tools import tool_classes
from app.tools.state import EditorState
from app.widgets import menus, modes, view_memory
from app.widgets.attribute_editor import AttributeEditor
from app.widgets.canvas import Canvas
from app.widgets.display import LayerDisplay
from app.widgets.edit_access import EditAccess
from app.widgets.focus import KeyboardHome
from app.widgets.image_presenter import ImagePresenter
from app.widgets import ui_gc
from app.widgets.jobs import Jobs
from app.widgets.label_panel import LabelPanel
from app.widgets.loading import AddMediaJob, FrameCache
from app.widgets.media_list import MediaList
from app.widgets.presenters import Presenter, make_presenter
from app.widgets.review_panel import ReviewPanel
from app.widgets.object_list import ObjectList
from app.widgets.status_bar import StatusFields
from app.widgets.tool_options import ToolOptions
from app.widgets.watch import Watch
from app.widgets.welcome import Welcome, WelcomeActions
from app.widgets.window_actions import entries
from app.widgets.window_commands import WindowCommands
from app.widgets.window_dialogs import WindowDialogs


class MainWindow(QMainWindow):
    """Vellum's window. ``doc`` may be None (the welcome page is shown).

    It composes its menu commands (:attr:`commands`, :mod:`app.widgets.window_commands`), its
    dialogs (:attr:`dialogs`, :mod:`app.widgets.window_dialogs`) and one presenter per media
    kind (:attr:`presenters`, :mod:`app.widgets.presenters`: photos, videos, volumes)."""

    def __init__(self, doc: Document | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        ui_gc.install()  # cyclic garbage is collected on this thread only (see ui_gc)
        self.settings = settings or QSettings()
        self.commands = WindowCommands(self)
        self.dialogs = WindowDialogs(self)
        self.setWindowTitle("Vellum")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        # long jobs (a video's preparation, an export) leave threads for frame decoding
        self.jobs = Jobs(self, threads=max(4, QThread.idealThreadCount() + 2))
        self.thumb_jobs = Jobs(self, threads=2, idle=True)
        self.state = EditorState(None)
        self.canvas = Canvas(self.state)
        self.tools = {cls.name: cls(self.state) for cls in tool_classes()}
        self.welcome = Welcome(WelcomeActions(
            self.dialogs.new_project_dialog, self.dialogs.open_project_dialog,
            self.dialogs.open_demo, self.open_project, self.dialogs.recent_projects))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.canvas)
        self.setCentralWidget(self.stack)
        self.media = MediaList(self.thumb_jobs, self.state.execute)
        self.labels = LabelPanel(self.state)
        self.objects = ObjectList(self.state)
        self.attributes = AttributeEditor(self.state)
        self.docks: list[QDockWidget] = []
        self._dock("Media", self.media, Qt.LeftDockWidgetArea)
        self._dock("Labels", self.labels, Qt.RightDockWidgetArea)
        self._dock("Objects", self.objects, Qt.RightDockWidgetArea)
        self._dock("Attributes", self.attributes, Qt.RightDockWidgetArea)
        self.resizeDocks(self.docks[1:], [300, 360, 200], Qt.Vertical)
        self.review = ReviewPanel(self)  # review mode: shown from View ▸ Review queue
        self._dock("Review queue", self.review, Qt.RightDockWidgetArea)
        self.docks[-1].setObjectName("dock_review_queue")  # "dock_review": model output
        self.docks[-1].hide()
        self.status = StatusFields(self.statusBar(), self.jobs)
        self.tool_bar = menus.tool_bar()
        self.addToolBar(Qt.LeftToolBarArea, self.tool_bar)
        self.built = menus.build(self, entries(self), self.tool_bar, "tools")
        self.sections = self.built.sections
        self.tool_actions = {n: self.built.actions[f"tool_{n}"] for n in self.tools}
        self.undo_action, self.redo_action = self.built.actions["undo"], self.built.actions["redo"]
        self.outlines_action = self.built.actions["outlines"]
        self.recent_menu = self.built.submenus["Open &recent"]
        self.recent_menu.aboutToShow.connect(self.dialogs.fill_recent_menu)
        self.tool_options = ToolOptions(self.state, [type(t) for t in self.tools.values()])
        self.addToolBar(Qt.TopToolBarArea, self.tool_options)
        self.access = EditAccess(self)
        self.access.changed.connect(self._access_changed)
        self.access.reloaded.connect(self._reloaded)
        self.previous_place: Place | None = None
        modes.load_modes()
        self.presenters: dict[MediaKind, Presenter] = {}  # one per media kind shown
        self.presenter: Presenter | None = None  # the one showing the current item
        self.mode_keys: dict[str, str] = {}  # shortcut -> what it does, while a mode is up
        self.last_drawing_tool = "box"
        self.pending_view: dict[str, Any] | None = None
        self.media.media_chosen.connect(self.show_media)
        self.canvas.zoom_changed.connect(self.status.show_zoom)
        self.canvas.status_message.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self.watcher = Watch(self.state, self, self.on_state, self.on_changes)
        self.canvas.set_display_adjust(int(self.settings.value("adjust_Brightness", 0)) / 100,
                                       int(self.settings.value("adjust_Contrast", 0)) / 100)
        self.display = LayerDisplay(self.canvas, self.settings, self.status.fill.slider,
                                    self.outlines_action, lambda m: self.message(m, 2000))
        self.resize(1400, 900)
        self._restore_settings()
        self._layout, self._panels_shown = self.saveState(), True
        self.keyboard = KeyboardHome(self, self.canvas)
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
        self.resizeDocks([dock], [270 if area == Qt.LeftDockWidgetArea else 330], Qt.Horizontal)

    # ------------------------------------------------------------------ small services
    def message(self, text: str, ms: int = 4000) -> None:
        """A one-line message in the status bar."""
        self.statusBar().showMessage(text, ms)

    def error(self, message: str) -> None:
        """Show a user-facing problem (never a traceback)."""
        QMessageBox.warning(self, "Vellum", message)

    def execute(self, command: Command) -> bool:
        return self.state.execute(command)

    # ------------------------------------------------------------------ project
    @property
    def doc(self) -> Document | None:
        return self.state.doc

    def set_document(self, doc: Document | None) -> None:
        """Show ``doc`` (closing the one shown before, after remembering where the user was)."""
        old = self.state.doc
        if old is not None and old is not doc:
            self.canvas.tool and self.canvas.tool.cancel()
            view_memory.remember(self)
            old.close()
        self._leave_presenter()
        self._close_presenters()
        self.previous_place = None
        classes = doc.schema.classes if doc else ()
        self.state.set(doc=doc, place=None, selection=(), hidden=frozenset(),
                       hidden_classes=frozenset(), locked_classes=frozenset(), refusal="",
                       class_id=classes[0].id if classes else None)
        self.canvas.reset_view()
        self.status.show_cursor(0, 0, None)
        self.status.show_zoom(0)
        self.media.set_document(doc)
        self.access.attach(doc)
        self._show_panels(doc is not None)
        self.stack.setCurrentWidget(self.canvas if doc else self.welcome)
        self.show_saved()
        self._update_title()
        if doc is not None:
            self.dialogs.remember_recent(str(doc.path))
            self.pending_view = view_memory.recall(self, doc)
            item = view_memory.start_item(doc, self.pending_view)
            if item is not None:
                self.show_media(item.id)
            else:
                self.canvas.show_error("This project has no media yet. Drop images, videos or "
                                       "folders here, or use File ▸ Add images (Ctrl+I).")
            self.keyboard.home()
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
        """Create a project as ``vellum new`` does: a folder holding project.vellum (a name
        ending in .vellum names the folder)."""
        folder = Path(path)
        if folder.suffix == ".vellum" and folder.name != PROJECT_FILE:
            folder = folder.with_suffix("")
        return self._show_project(Document.create, folder)

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

    # The composed parts' commands that other modules and tests call on the window itself.
    def open_demo(self) -> None:
        """Build the demo project and open it (``vellum --demo``, the welcome page)."""
        self.dialogs.open_demo()

    def recent_projects(self) -> list[str]:
        return self.dialogs.recent_projects()

    def undo(self) -> None:
        self.commands.undo()

    # ------------------------------------------------------------------ editing access
    def _access_changed(self) -> None:
        reason = self.access.reason
        self.state.set(read_only=reason)
        self.status.show_read_only(reason)
        self._update_title()
        if reason:
            self.message(reason, 10000)
        elif self.state.doc is not None:
            self.message("This window can edit the project now.", 6000)

    def _reloaded(self) -> None:
        """Another process committed: show the current item again as it now is."""
        doc = self.state.doc
        mid = self.state.media_id
        if doc is None:
            return
        if mid is not None and doc.stored_media(mid) is not None and not (
                doc.stored_media(mid).removed):
            self.media.select(mid)
        else:
            item = view_memory.start_item(doc, None)
            if item is not None:
                self.show_media(item.id)
        self.show_saved()

    def changeEvent(self, e: QEvent) -> None:  # noqa: N802
        if e.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.access.poll()  # a read-only window catches up as soon as it is looked at
        super().changeEvent(e)

    # ------------------------------------------------------------------ media
    def show_media(self, media_id: str) -> None:
        """Make ``media_id`` current and hand it to the presenter of its kind (a photo's
        picture is loaded off the UI thread; a video opens; a volume loads), or say plainly
        why it is not shown here."""
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
        self.status.show_cursor(0, 0, None)
        presenter = self._presenter_for(item.kind)
        if self.presenter is not presenter:
            self._leave_presenter()
        if presenter is None:  # the mode of this kind did not load
            message = f"{item.name} cannot be shown: this window has no {item.kind.value} mode."
            self.state.set(refusal=message)
            self.canvas.show_error(message)
            return
        self.presenter = presenter
        self.state.set(refusal="")
        presenter.show(item)

    def _presenter_for(self, kind: MediaKind) -> Presenter | None:
        """The presenter of ``kind`` for this project (made on first use; None: no mode)."""
        presenter = self.presenters.get(kind)
        if presenter is None:
            mode = modes.mode_for(kind)
            if mode.open is None:
                return None
            presenter = self.presenters[kind] = make_presenter(mode.open, self)
        return presenter

    @property
    def frames(self) -> FrameCache:
        """The decoded photos (the image presenter's cache)."""
        images = self._presenter_for(MediaKind.IMAGE)
        assert isinstance(images, ImagePresenter)
        return images.frames

    def step_media(self, delta: int) -> None:
        """F / D: the presenter's (video: next/previous frame) if it takes them, else the
        next/previous item."""
        if self.presenter is not None and self.presenter.step(delta):
            return
        self.media.step(delta)

    def step_item(self, delta: int) -> None:
        """PgDown / PgUp: always the next/previous item."""
        self.media.step(delta)

    # ------------------------------------------------------------------ modes
    def _leave_presenter(self) -> None:
        if self.presenter is not None:
            presenter, self.presenter = self.presenter, None
            presenter.leave()
            self.set_center(None)

    def _close_presenters(self) -> None:
        """The project closes: every presenter frees what it keeps between items (and a new
        one of each kind is made for the next project)."""
        presenters = list(self.presenters.values())
        self.presenters.clear()
        for presenter in presenters:
            close = getattr(presenter, "close", None)
            if callable(close):
                close()

    def set_center(self, widget: QWidget | None) -> None:
        """Put ``widget`` in the middle of the window (None: the canvas)."""
        if widget is None:
            if self.stack.currentWidget() is not self.welcome:
                self.stack.setCurrentWidget(self.canvas)
            return
        if self.stack.indexOf(widget) < 0:
            self.stack.addWidget(widget)
        self.stack.setCurrentWidget(widget)

    def add_mode_shortcut(self, key: str, handler: Callable[[], Any], help: str
                          ) -> Callable[[], None]:
        """A shortcut a mode adds while it shows its item (see ModeHost.on_key)."""
        from PySide6.QtGui import QKeySequence, QShortcut

        seq = QKeySequence(key)
        taken = {k.toString() for a in self.findChildren(QAction) for k in a.shortcuts()}
        if seq.toString() in taken or seq.toString() in self.mode_keys:
            raise ValueError(f"the key {seq.toString()} is taken")
        shortcut = QShortcut(seq, self)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(handler)
        self.mode_keys[seq.toString()] = help

        def remove() -> None:
            self.mode_keys.pop(seq.toString(), None)
            shortcut.setEnabled(False)
            shortcut.deleteLater()

        return remove

    def jump_media(self, index: int) -> None:
        n = self.media.proxy.rowCount()
        if n:
            self.media.go_to(self.media.proxy.index(index % n, 0))

    def add_paths(self, paths: list[str]) -> None:
        """Add media files/folders in the background; one Put command at the end."""
        doc = self.state.doc
        if not paths:
            return
        if doc is None:
            self.error("Open or create a project before adding media.")
            return
        if self.state.read_only:
            self.error(self.state.read_only)
            return
        job = AddMediaJob(doc, paths)
        self.jobs.start(f"Adding {len(paths)} item(s)", job.run,
                        on_done=lambda report: self._added(doc, job, report),
                        on_error=lambda exc: self.error(str(exc)))

    def _added(self, doc: Document, job: AddMediaJob, report: Any) -> None:
        if doc is not self.state.doc:
            return
        had_media = self.state.media_id is not None
        job.commit(self.state)
        parts = [f"Added {len(report.added)} item(s)"]
        if report.duplicates:
            parts.append(f"{len(report.duplicates)} already in the project")
        self.message("; ".join(parts) + ".", 6000)
        if report.errors:
            QMessageBox.warning(self, "Some files were not added",
                                "\n".join(str(e) for e in report.errors[:20]))
        if not had_media and report.added:
            self.show_media(report.added[0].id)

    # ------------------------------------------------------------------ tools
    def set_tool(self, name: str) -> None:
        tool = self.tools.get(name)
        if tool is None:
            return
        self.canvas.set_tool(tool)
        self.tool_options.show_for(tool)
        act = self.tool_actions.get(name)
        if act is not None:
            act.setChecked(True)
        if tool.draws:
            self.last_drawing_tool = name
        self.settings.setValue("tool", name)

    # ------------------------------------------------------------------ observing
    def on_state(self, field: str) -> None:
        if field == "status" and self.state.status:
            self.message(self.state.status, 6000)
        elif field in ("class_id", "doc"):
            self._show_class()

    def on_changes(self, changes: list[Change]) -> None:
        doc = self.state.doc
        if any(c.kind != ChangeKind.RESET for c in changes):
            self.show_saved()
        self.undo_action.setText(f"&Undo {doc.undo_label}" if doc and doc.undo_label else "&Undo")
        self.redo_action.setText(f"&Redo {doc.redo_label}" if doc and doc.redo_label else "&Redo")
        if any(c.kind == ChangeKind.SCHEMA for c in changes):
            self._show_class()
        media_changed = any(c.kind in (ChangeKind.MEDIA, ChangeKind.RESET) for c in changes)
        if media_changed and doc and self.state.media_id:
            item = doc.stored_media(self.state.media_id)
            if item is None or item.removed:
                self.state.set(place=None, selection=())
                self.canvas.show_image(None)

    def _show_class(self) -> None:
        cls = self.state.active_class()
        self.status.show_class(cls.name if cls else None, cls.color if cls else "#c8c8c8",
                               cls.hotkey if cls else None)

    def show_saved(self) -> None:
        doc = self.state.doc
        last = doc.store.history(1) if doc is not None else []
        self.status.show_saved(str(doc.path) if doc else None,
                               last[0]["time"] if last else None)

    def _update_title(self) -> None:
        doc = self.state.doc
        if doc is None:
            self.setWindowTitle("Vellum")
            return
        mid = self.state.media_id
        name = doc.media_item(mid).name if mid and doc.stored_media(mid) else ""
        ro = " (read-only)" if self.state.read_only else ""
        self.setWindowTitle(f"{name + ' — ' if name else ''}{doc.name}{ro} — Vellum")

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
        self.jobs.shutdown(1000)
        self.thumb_jobs.shutdown(1000)
        doc = self.state.doc
        if doc is not None:
            view_memory.remember(self)
        self._leave_presenter()  # the mode takes its docks and readers down first
        self._close_presenters()  # a huge picture still decoding is not waited for
        self.watcher.stop()
        if doc is not None:
            doc.close()
            self.state.set(doc=None)
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
