"""One editor per project: the window takes the project's edit lock when it opens it.

Two windows (or a window and ``vellum add``) editing one project would each write from their
own picture of it and undo each other's deletions. So a window that cannot take the lock
(:mod:`app.core.lock`) opens the project **read-only** and says so plainly: it shows the
other's edits as they are committed (it looks every couple of seconds and whenever the window
is activated), refuses edits with one sentence, and becomes editable by itself as soon as
the other closes the project.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.document import Document
from app.core.errors import VellumError

POLL_MS = 2000


def read_only_reason(doc: Document) -> str:
    """The sentence a read-only window shows: who edits the project elsewhere."""
    who = doc.store.lock.holder()
    by = ""
    if who:
        by = (f" by {who.get('user', 'someone')} on {who.get('host', 'this machine')} "
              f"(process {who.get('pid', '?')})")
    return (f"Read-only: {doc.name} is open for editing elsewhere{by}. This window shows its "
            "edits as they are saved and becomes editable when it is closed there.")


class EditAccess(QObject):
    """Whether the window may edit its document; emits ``changed`` when that flips or when
    another process's edits were loaded (``reloaded``)."""

    changed = Signal()
    reloaded = Signal()

    def __init__(self, parent: QObject | None = None, poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.reason = ""
        self._timer = QTimer(self, interval=poll_ms)
        self._timer.timeout.connect(self.poll)

    @property
    def read_only(self) -> bool:
        return bool(self.reason)

    def attach(self, doc: Document | None) -> None:
        """Start showing ``doc``: take its edit lock, or go read-only and say why."""
        self.doc = doc
        self.reason = ""
        self._timer.stop()
        if doc is not None:
            try:
                doc.store.lock.acquire()
            except VellumError:
                self.reason = read_only_reason(doc)
                doc.refresh_if_changed()  # note where the store is now
                self._timer.start()
        self.changed.emit()

    def poll(self) -> None:
        """Read-only: load what the editor committed since the last look, and take the lock
        once it is free."""
        doc = self.doc
        if doc is None or not self.read_only:
            return
        try:
            if doc.refresh_if_changed():
                self.reloaded.emit()
            doc.store.lock.acquire()
        except VellumError:
            self.reason = read_only_reason(doc)
            return
        if doc.refresh_if_changed():
            self.reloaded.emit()
        self.reason = ""
        self._timer.stop()
        self.changed.emit()
