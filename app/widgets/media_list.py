"""The media list: thumbnails (loaded lazily off the UI thread; the pictures come from
:mod:`app.io.thumbnails`, one function per media kind), names, per-item status.

Shows the document's media in project order, filtered by name and status (a new project
starts unfiltered). The current item stays current when media are added or the project is
reloaded. Status changes are one Put each, from the context menu or Alt+1..Alt+4. Only
unreadable files are marked in red.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import (QAbstractListModel, QItemSelectionModel, QModelIndex,
                            QPersistentModelIndex, QRect, QSize, QSortFilterProxyModel, Qt,
                            Signal)
from PySide6.QtGui import QAction, QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLineEdit, QListView,
                               QMenu, QStyle, QStyledItemDelegate, QStyleOptionViewItem,
                               QVBoxLayout, QWidget)

from collections.abc import Callable

from app.core.commands import Command, Put
from app.core.document import Change, ChangeKind, Document
from app.core.media import MediaItem, MediaStatus
from app.io.thumbnails import thumbnail
from app.widgets.jobs import Job, Jobs

THUMB = 64  # thumbnail edge in device-independent pixels
STATUS_COLORS = {MediaStatus.UNLABELED: "#8a8f98", MediaStatus.IN_PROGRESS: "#f0a030",
                 MediaStatus.DONE: "#3cb44b", MediaStatus.NEEDS_REVIEW: "#e6194b"}
STATUS_NAMES = {MediaStatus.UNLABELED: "Unlabeled", MediaStatus.IN_PROGRESS: "In progress",
                MediaStatus.DONE: "Done", MediaStatus.NEEDS_REVIEW: "Needs review"}
IdRole = Qt.UserRole + 1
StatusRole = Qt.UserRole + 2
CountRole = Qt.UserRole + 3
ErrorRole = Qt.UserRole + 4


def load_thumbnail(path: Path, item: MediaItem, edge: int,
                   check: Callable[[], None] | None = None) -> QImage:
    """The thumbnail of ``item`` (:func:`app.io.thumbnails.thumbnail`, fitted to ``edge``
    pixels) as a QImage (worker thread; no Document). ``check()`` may raise to stop a long
    volume scan early (a cancelled job)."""
    rgb = thumbnail(path, item, edge, check)
    return QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0],
                  QImage.Format_RGB888).copy()


class MediaListModel(QAbstractListModel):
    """Rows = media items of a document; thumbnails arrive asynchronously."""

    def __init__(self, jobs: Jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._doc: Document | None = None
        self._items: list[MediaItem] = []
        self._row: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self._thumbs: dict[str, QImage] = {}
        self._errors: dict[str, str] = {}
        self._pending: dict[str, Job] = {}
        self._unsubscribe = None
        self.dpr = 1.0

    def set_document(self, doc: Document | None) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        for job in self._pending.values():
            job.cancel()
        self._pending.clear()
        self._thumbs.clear()
        self._errors.clear()
        self._doc = doc
        if doc is not None:
            self._unsubscribe = doc.subscribe(self._on_changes)
            self._counts = doc.annotation_counts()
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._items = self._doc.media() if self._doc else []
        self._row = {m.id: i for i, m in enumerate(self._items)}
        self.endResetModel()

    def item(self, row: int) -> MediaItem:
        return self._items[row]

    def row_of(self, media_id: str) -> int:
        return self._row.get(media_id, -1)

    def set_error(self, media_id: str, message: str | None) -> None:
        """Mark an item unreadable (shown in red) or clear the mark."""
        if message is None:
            self._errors.pop(media_id, None)
        else:
            self._errors[media_id] = message
        self._emit_row(media_id)

    def _emit_row(self, media_id: str) -> None:
        row = self._row.get(media_id)
        if row is not None:
            ix = self.index(row)
            self.dataChanged.emit(ix, ix)

    def _on_changes(self, changes: list[Change]) -> None:
        for ch in changes:
            if ch.kind in (ChangeKind.MEDIA, ChangeKind.RESET):
                known = set(self._row)
                now = {m.id for m in self._doc.media()} if self._doc else set()
                if known != now or ch.kind == ChangeKind.RESET:
                    self.reload()
                else:
                    self._items = self._doc.media()
                    self._row = {m.id: i for i, m in enumerate(self._items)}
                    self.dataChanged.emit(self.index(0), self.index(len(self._items) - 1))
            elif ch.kind == ChangeKind.ANNOTATIONS and self._doc is not None:
                for mid in ch.media_ids:
                    self._counts[mid] = len(self._doc.annotations(mid, all_frames=True))
                    self._emit_row(mid)

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):  # noqa: ANN201
        if not index.isValid() or index.row() >= len(self._items):
            return None
        m = self._items[index.row()]
        if role == Qt.DisplayRole:
            return m.name
        if role == IdRole:
            return m.id
        if role == StatusRole:
            return m.status.value
        if role == CountRole:
            return self._counts.get(m.id, 0)
        if role == ErrorRole:
            return self._errors.get(m.id)
        if role == Qt.ToolTipRole:
            tip = (f"{m.path}\n{m.kind.value}, {m.width}×{m.height}"
                   + (f", {m.frames} frames" if m.frames > 1 else "")
                   + f"\n{STATUS_NAMES[m.status]}")
            err = self._errors.get(m.id)
            return tip + (f"\n⚠ {err}" if err else "")
        if role == Qt.DecorationRole:
            return self._thumbnail(m)
        return None

    def thumbnail_count(self) -> int:
        """How many thumbnails have been loaded so far."""
        return len(self._thumbs)

    def _thumbnail(self, m: MediaItem) -> QImage | None:
        img = self._thumbs.get(m.id)
        if img is None and m.id not in self._pending and m.id not in self._errors and self._doc:
            path, edge = self._doc.media_path(m), int(THUMB * self.dpr)
            self._pending[m.id] = self._jobs.start(
                f"Thumbnail {m.name}",
                lambda job: load_thumbnail(path, m, edge, job.check),
                on_done=lambda img, mid=m.id: self._thumb_ready(mid, img),
                on_error=lambda exc, mid=m.id: self._thumb_failed(mid, exc), visible=False)
        return img

    def _thumb_ready(self, media_id: str, img: QImage) -> None:
        self._pending.pop(media_id, None)
        self._thumbs[media_id] = img
        self._emit_row(media_id)

    def _thumb_failed(self, media_id: str, exc: Exception) -> None:
        self._pending.pop(media_id, None)
        self.set_error(media_id, str(exc))


class StatusFilter(QSortFilterProxyModel):
    """Filters rows by a name substring and a status (None: any)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.status: str | None = None

    def set_filter(self, text: str, status: str | None) -> None:
        """``status``: a MediaStatus value ('done', ...) or None for any."""
        self.beginFilterChange()
        self.text, self.status = text.lower(), status
        self.endFilterChange()

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:  # noqa: N802
        if not self.text and self.status is None:
            return True  # no filter: skip 10,000 data() round trips on a big project
        ix = self.sourceModel().index(row, 0, parent)
        if self.status is not None and ix.data(StatusRole) != self.status:
            return False
        return self.text in (ix.data(Qt.DisplayRole) or "").lower()


class MediaDelegate(QStyledItemDelegate):
    """One row: thumbnail, name, status chip and object count."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        return QSize(200, THUMB + 10)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        p.save()
        pal = option.palette
        selected = bool(option.state & QStyle.State_Selected)
        if selected:
            p.fillRect(option.rect, pal.highlight())
        r = option.rect.adjusted(5, 5, -5, -5)
        thumb_rect = QRect(r.left(), r.top(), THUMB, THUMB)
        p.fillRect(thumb_rect, pal.alternateBase())
        img = index.data(Qt.DecorationRole)
        err = index.data(ErrorRole)
        if isinstance(img, QImage) and not img.isNull():
            pm = QPixmap.fromImage(img)
            pm.setDevicePixelRatio(max(1.0, p.device().devicePixelRatioF()))
            size = pm.deviceIndependentSize().toSize()
            x = thumb_rect.left() + (THUMB - size.width()) // 2
            y = thumb_rect.top() + (THUMB - size.height()) // 2
            p.drawPixmap(x, y, pm)
        elif err:
            p.setPen(QColor("#ff6b6b"))
            f = QFont(option.font)
            f.setPointSizeF(f.pointSizeF() * 1.8)
            f.setBold(True)
            p.setFont(f)
            p.drawText(thumb_rect, Qt.AlignCenter, "!")
        status = MediaStatus(index.data(StatusRole))
        text_x = thumb_rect.right() + 10
        text_rect = QRect(text_x, r.top(), r.right() - text_x, r.height())
        p.setFont(option.font)
        p.setPen(pal.highlightedText().color() if selected else pal.text().color())
        name = option.fontMetrics.elidedText(index.data(Qt.DisplayRole) or "", Qt.ElideMiddle,
                                             text_rect.width())
        p.drawText(text_rect.adjusted(0, 2, 0, 0), Qt.AlignLeft | Qt.AlignTop, name)
        line2 = QRect(text_rect.left(), text_rect.top() + option.fontMetrics.height() + 6,
                      text_rect.width(), option.fontMetrics.height())
        dot = QRect(line2.left(), line2.center().y() - 5, 10, 10)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor(STATUS_COLORS[status]))
        p.drawEllipse(dot)
        p.setPen(pal.highlightedText().color() if selected else pal.placeholderText().color())
        count = index.data(CountRole) or 0
        label = STATUS_NAMES[status] + (f" · {count} obj" if count else "")
        if err:
            label = "Cannot read"
            p.setPen(QColor("#ff6b6b"))
        p.drawText(line2.adjusted(16, 0, 0, 0), Qt.AlignLeft | Qt.AlignVCenter,
                   option.fontMetrics.elidedText(label, Qt.ElideRight, line2.width() - 16))
        p.restore()


class MediaList(QWidget):
    """Filter row + list. Emits ``media_chosen(id)`` when the user picks an item."""

    media_chosen = Signal(str)

    def __init__(self, jobs: Jobs, execute: Callable[[Command], bool],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc: Document | None = None
        self._execute = execute
        self._current: str | None = None  # the item shown, kept across model resets
        self.model = MediaListModel(jobs, self)
        self.proxy = StatusFilter(self)
        self.proxy.setSourceModel(self.model)
        self.search = QLineEdit(placeholderText="Filter media…")
        self.search.setClearButtonEnabled(True)
        self.status_box = QComboBox()
        self.status_box.addItem("All", None)
        for s in MediaStatus:
            self.status_box.addItem(STATUS_NAMES[s], s.value)
        self.view = QListView()
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(MediaDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.model.modelReset.connect(lambda: self.select(self._current))
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.status_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.view)
        self.search.textChanged.connect(self._refilter)
        self.status_box.currentIndexChanged.connect(self._refilter)
        self.status_actions: list[QAction] = []
        for n, s in enumerate(MediaStatus, start=1):
            act = QAction(f"Mark {STATUS_NAMES[s].lower()}", self)
            act.setShortcut(f"Alt+{n}")
            act.triggered.connect(lambda _=False, s=s: self.set_status(s))
            self.status_actions.append(act)
        self._silent = False

    def set_document(self, doc: Document | None) -> None:
        """Show ``doc``'s media, unfiltered (a filter typed for another project would hide
        this one's media)."""
        self._doc = doc
        self._current = None
        for w in (self.search, self.status_box):
            w.blockSignals(True)
        self.search.clear()
        self.status_box.setCurrentIndex(0)
        for w in (self.search, self.status_box):
            w.blockSignals(False)
        self.proxy.set_filter("", None)
        self.model.dpr = self.devicePixelRatioF()
        self.model.set_document(doc)

    def _refilter(self) -> None:
        self.proxy.set_filter(self.search.text(), self.status_box.currentData())
        if not self.view.currentIndex().isValid():
            self.select(self._current)

    def current_id(self) -> str | None:
        ix = self.view.currentIndex()
        return ix.data(IdRole) if ix.isValid() else None

    def select(self, media_id: str | None) -> None:
        """Make ``media_id`` current without emitting ``media_chosen``."""
        self._current = media_id
        row = self.model.row_of(media_id) if media_id else -1
        ix = self.proxy.mapFromSource(self.model.index(row)) if row >= 0 else QModelIndex()
        self._silent = True
        try:
            self.go_to(ix)
            if ix.isValid():
                self.view.scrollTo(ix)
        finally:
            self._silent = False

    def go_to(self, ix: QModelIndex) -> None:
        """Make ``ix`` (a proxy index) the current and only selected row, whatever modifier
        keys are held (Ctrl+Z bringing an item into view must not add it to a selection)."""
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        if not ix.isValid():
            flags = QItemSelectionModel.SelectionFlag.Clear
        self.view.selectionModel().setCurrentIndex(ix, flags)

    def step(self, delta: int) -> None:
        """Move to the next (+1) or previous (-1) visible item and choose it."""
        n = self.proxy.rowCount()
        if not n:
            return
        cur = self.view.currentIndex()
        if not cur.isValid() and self._current is not None:  # filtered out: step from it
            row = self.model.row_of(self._current)
            src = [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(n)]
            after = [i for i, r in enumerate(src) if (r > row if delta > 0 else r < row)]
            if after:
                self.go_to(self.proxy.index(after[0] if delta > 0
                                                           else after[-1], 0))
            return
        row = (cur.row() + delta) if cur.isValid() else (0 if delta > 0 else n - 1)
        if 0 <= row < n:
            self.go_to(self.proxy.index(row, 0))

    def _current_changed(self, cur: QModelIndex, _prev: QModelIndex) -> None:
        if not self._silent and cur.isValid():
            self._current = cur.data(IdRole)
            self.media_chosen.emit(cur.data(IdRole))

    def selected_items(self) -> list[MediaItem]:
        rows = sorted(self.proxy.mapToSource(ix).row()
                      for ix in self.view.selectionModel().selectedIndexes())
        if not rows and self.view.currentIndex().isValid():
            rows = [self.proxy.mapToSource(self.view.currentIndex()).row()]
        return [self.model.item(r) for r in rows]

    def set_status(self, status: MediaStatus, items: list[MediaItem] | None = None) -> bool:
        """Give the selected items (or ``items``) ``status`` (one undoable command)."""
        items = [m for m in (self.selected_items() if items is None else items)
                 if m.status is not status]
        if self._doc is None or not items:
            return False
        after = tuple(replace(m, status=status) for m in items)
        label = f"Mark {STATUS_NAMES[status].lower()}"
        keep = QPersistentModelIndex(self.view.currentIndex())
        done = self._execute(Put(after, label=label))
        if keep.isValid() and self.view.currentIndex() != keep:
            self.select(self._current)
        return done

    def _context_menu(self, pos) -> None:  # noqa: ANN001
        if not self.view.indexAt(pos).isValid():
            return
        menu = QMenu(self)
        for act in self.status_actions:
            menu.addAction(act)
        menu.exec(self.view.viewport().mapToGlobal(pos))
