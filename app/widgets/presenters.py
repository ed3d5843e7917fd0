"""How the window shows each kind of media: a presenter per kind, behind a narrow host.

Every kind has a mode (:mod:`app.widgets.modes`): photos (:mod:`app.widgets.image_presenter`),
video and volume. The window makes one :class:`Presenter` per kind and project, with a
:class:`ModeHost`, and hands it every item of that kind it shows. The host is all a presenter
may touch of the window: the editor state and canvas, background jobs, docks, the centre of the
window, the status bar and messages, the media list's order and its marks of items that cannot
be shown - never the window itself.

Besides the protocol's methods a presenter may have ``view_memo()`` (what
:mod:`app.widgets.view_memory` keeps of its items) and ``close()`` (the project closes or the
window quits: free what it keeps between items, e.g. decoded pictures).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QWidget

from app.core.document import Document
from app.core.media import MediaItem

if TYPE_CHECKING:
    from app.tools.state import EditorState
    from app.widgets.canvas import Canvas
    from app.widgets.jobs import Jobs
    from app.widgets.main_window import MainWindow
    from app.widgets.status_bar import StatusFields


class Presenter(Protocol):
    """Shows items of one media kind."""

    def show(self, item: MediaItem) -> None:
        """Make ``item`` the one shown (the editor state's place is already on it)."""

    def leave(self) -> None:
        """Another item (of another kind) is shown now, or the project closes: take down
        what :meth:`show` put up (docks, the centre, state hooks)."""

    def step(self, delta: int) -> bool:
        """F / D (next / previous): True when the presenter used them (video: frames);
        False lets the window change item."""


class ModeHost:
    """The services a presenter gets from the window (see the module doc)."""

    def __init__(self, window: MainWindow) -> None:
        self._w = window
        self._docks: list[QDockWidget] = []

    # ------------------------------------------------------------------ what is shown
    @property
    def state(self) -> EditorState:
        return self._w.state

    @property
    def canvas(self) -> Canvas:
        return self._w.canvas

    @property
    def doc(self) -> Document | None:
        return self._w.state.doc

    @property
    def jobs(self) -> Jobs:
        return self._w.jobs

    @property
    def settings(self) -> QSettings:
        return self._w.settings

    @property
    def status(self) -> StatusFields:
        return self._w.status

    @property
    def review(self) -> Any:
        """The window's review dock (:class:`~app.widgets.review_panel.ReviewPanel`): a mode
        attaches its own views so comment pins show and are placed there."""
        return getattr(self._w, "review", None)

    @property
    def parent(self) -> QWidget:
        """A parent for the presenter's dialogs."""
        return self._w

    def message(self, text: str, ms: int = 4000) -> None:
        self._w.message(text, ms)

    def picture_shown(self) -> None:
        """A presenter's picture is on the canvas: the zoom and centre the user left on this
        item last time are applied once (see :mod:`app.widgets.view_memory`)."""
        from app.widgets import view_memory

        view_memory.apply_pending(self._w)
        self._w.status.show_zoom(self._w.canvas.zoom())

    def error(self, text: str) -> None:
        self._w.error(text)

    def take_message(self, prefix: str) -> None:
        """Take down the status bar's message if it starts with ``prefix`` (a "Loading …"
        said while a picture was on its way)."""
        bar = self._w.statusBar()
        if bar.currentMessage().startswith(prefix):
            bar.clearMessage()

    def show_media(self, media_id: str) -> None:
        """Show another item (e.g. the next one when a video ends)."""
        self._w.show_media(media_id)

    # ------------------------------------------------------------------ the media list
    def next_item(self) -> MediaItem | None:
        """The item F / PgDown shows next: the one after the current item in the media
        list's order and filter (None: none, or no current item)."""
        from app.widgets.media_list import IdRole

        doc, mid = self.doc, self.state.media_id
        if doc is None or mid is None:
            return None
        model, proxy = self._w.media.model, self._w.media.proxy
        row = proxy.mapFromSource(model.index(model.row_of(mid), 0)).row()
        nxt = proxy.index(row + 1, 0) if row >= 0 else None
        return doc.stored_media(nxt.data(IdRole)) if nxt is not None and nxt.isValid() else None

    def on_list_changed(self, handler: Callable[[], Any]) -> Callable[[], None]:
        """Call ``handler()`` whenever the media list's order, filter or items change (what
        :meth:`next_item` gives may have changed); returns its remover."""
        proxy = self._w.media.proxy
        signals = (proxy.layoutChanged, proxy.rowsRemoved, proxy.rowsInserted,
                   proxy.modelReset)

        def slot(*_: Any) -> None:
            handler()

        for signal in signals:
            signal.connect(slot)
        connected = [True]

        def remove() -> None:
            if not connected:
                return  # removed already
            connected.clear()
            for signal in signals:
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass

        return remove

    def mark_unshowable(self, media_id: str, reason: str | None) -> None:
        """The media list marks ``media_id`` as one that cannot be shown, and why (None: it
        can be shown)."""
        self._w.media.model.set_error(media_id, reason)

    # ------------------------------------------------------------------ keys
    def on_key(self, key: str, handler: Callable[[], Any], help: str) -> Callable[[], None]:
        """A window shortcut while the presenter is up (``key`` in QKeySequence form);
        returns its remover. Keys the window already uses are refused (ValueError)."""
        return self._w.add_mode_shortcut(key, handler, help)

    def with_window_key(self, key: str, handler: Callable[[], Any]) -> Callable[[], None]:
        """Run ``handler`` too whenever the window's own action for ``key`` runs (by its key
        or its menu item): a mode whose pictures are its own canvases (the volume's panes)
        makes View ▸ Fit (Ctrl+0) act on them. Returns its remover."""
        from PySide6.QtGui import QAction, QKeySequence

        seq = QKeySequence(key).toString()
        actions = [a for a in self._w.findChildren(QAction)
                   if any(k.toString() == seq for k in a.shortcuts())]
        for action in actions:
            action.triggered.connect(handler)

        def remove() -> None:
            for action in actions:
                try:
                    action.triggered.disconnect(handler)
                except (RuntimeError, TypeError):
                    pass

        return remove

    # ------------------------------------------------------------------ layout
    def add_dock(self, title: str, widget: QWidget,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.BottomDockWidgetArea
                 ) -> QDockWidget:
        dock = QDockWidget(title, self._w)
        dock.setObjectName(f"mode_dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self._w.addDockWidget(area, dock)
        self._docks.append(dock)
        return dock

    def remove_dock(self, dock: QDockWidget) -> None:
        if dock in self._docks:
            self._docks.remove(dock)
        self._w.removeDockWidget(dock)
        dock.deleteLater()

    def set_center(self, widget: QWidget | None) -> None:
        """Show ``widget`` in the middle of the window instead of the canvas (None: the
        canvas again)."""
        self._w.set_center(widget)


def make_presenter(factory: Callable[[ModeHost], Presenter], window: MainWindow) -> Presenter:
    return factory(ModeHost(window))
