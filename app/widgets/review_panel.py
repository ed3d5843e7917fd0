"""Review mode: the window's "Review queue" dock (View ▸ Review queue). A queue of places (an image, a video frame, a
volume slice) whose objects match a filter (status, class, author, attribute, object count,
model source and score, item verdict), the objects of the current place with their review
state, Accept (Ctrl+Return while the dock is shown: accept and go to the next unreviewed
object), Reject with a reason, Needs fix, a verdict per item, and comments pinned to a
clicked point of the picture, drawn as pins on the canvas and listed here.

Thin: the queue is :mod:`app.core.review_queue`, every change a :mod:`app.core.review`
command run through the editor state (undoable, audited).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from app.core.changes import Change, ChangeKind
from app.core.places import Place
from app.core.review import (Comment, ObjectState, Verdict, add_comment, delete_comment,
                             resolve_comment, set_state, set_verdict)
from app.core.review_queue import (MODEL, UNREVIEWED, QueueEntry, QueueFilter, build_queue,
                                   next_unreviewed)
from app.widgets.watch import Watch

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow

DataRole = Qt.ItemDataRole.UserRole
PIN = QColor("#ffb000")
PIN_RESOLVED = QColor("#8a8a8a")
_STATE_WORDS = {ObjectState.ACCEPTED: "✔ accepted", ObjectState.REJECTED: "✘ rejected",
                ObjectState.NEEDS_FIX: "⚠ needs fix"}


class ReviewPanel(QWidget):
    """The Review dock's contents for window ``w`` (see the module doc)."""

    def __init__(self, w: MainWindow) -> None:
        super().__init__()
        self.w = w
        self.queue: list[QueueEntry] = []
        self.current: tuple[Place, str] | None = None  # the object under review
        self._arming = False  # the next left click on the canvas pins a comment
        self._pending: tuple[Place, str] | None = None  # select this once its place shows
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        form = QFormLayout()
        self.status = QComboBox()
        for text, value in (("Any", None), ("Unreviewed", UNREVIEWED),
                            ("Accepted", "accepted"), ("Rejected", "rejected"),
                            ("Needs fix", "needs_fix")):
            self.status.addItem(text, value)
        self.class_box = QComboBox()
        self.author = QLineEdit()
        self.author.setPlaceholderText("creator")
        self.attribute = QLineEdit()
        self.attribute.setPlaceholderText("name=value")
        self.count = QSpinBox()
        self.count.setRange(0, 100000)
        self.count.setPrefix("≥ ")
        self.source = QComboBox()
        for text, value in (("Any", None), ("Manual", "manual"), ("Any model", MODEL)):
            self.source.addItem(text, value)
        self.score = QDoubleSpinBox()
        self.score.setRange(0.0, 1.0)
        self.score.setSingleStep(0.05)
        self.score.setPrefix("≥ ")
        self.verdict_filter = QComboBox()
        for text, value in (("Any", None), ("No verdict", "none"), ("Approved", "approved"),
                            ("Rejected", "rejected"), ("Needs work", "needs_work")):
            self.verdict_filter.addItem(text, value)
        form.addRow("Status", self.status)
        form.addRow("Class", self.class_box)
        form.addRow("Author", self.author)
        form.addRow("Attribute", self.attribute)
        form.addRow("Objects", self.count)
        form.addRow("Source", self.source)
        form.addRow("Score", self.score)
        form.addRow("Verdict", self.verdict_filter)
        lay.addLayout(form)
        for box in (self.status, self.class_box, self.source, self.verdict_filter):
            box.currentIndexChanged.connect(self.refresh)
        for edit in (self.author, self.attribute):
            edit.editingFinished.connect(self.refresh)
        self.count.valueChanged.connect(self.refresh)
        self.score.valueChanged.connect(self.refresh)
        self.summary = QLabel()
        lay.addWidget(self.summary)
        self.places = QListWidget()
        self.places.setToolTip("Places to review: click one to go there")
        self.places.itemClicked.connect(self._place_clicked)
        lay.addWidget(self.places, 2)
        self.objects = QListWidget()
        self.objects.setToolTip("Objects here and their review state: click one to select it")
        self.objects.itemClicked.connect(self._object_clicked)
        lay.addWidget(self.objects, 2)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Reason (needed to reject)")
        lay.addWidget(self.reason)
        row = QHBoxLayout()
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Accept the selected objects and go to the next "
                                      "unreviewed one (Ctrl+Return)")
        self.accept_button.clicked.connect(self.accept_and_next)
        self.reject_button = QPushButton("Reject")
        self.reject_button.setToolTip("Reject the selected objects with the reason above")
        self.reject_button.clicked.connect(self.reject)
        self.fix_button = QPushButton("Needs fix")
        self.fix_button.clicked.connect(self.needs_fix)
        for b in (self.accept_button, self.reject_button, self.fix_button):
            row.addWidget(b)
        lay.addLayout(row)
        row = QHBoxLayout()
        self.verdict_buttons: dict[Verdict, QPushButton] = {}
        for verdict, text in ((Verdict.APPROVED, "Approve item"),
                              (Verdict.NEEDS_WORK, "Needs work"),
                              (Verdict.REJECTED, "Reject item")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, v=verdict: self.give_verdict(v))
            row.addWidget(b)
            self.verdict_buttons[verdict] = b
        lay.addLayout(row)
        self.verdict_label = QLabel()
        lay.addWidget(self.verdict_label)
        row = QHBoxLayout()
        self.comment_text = QLineEdit()
        self.comment_text.setPlaceholderText("Comment text, then Pin and click the picture")
        self.pin_button = QPushButton("Pin")
        self.pin_button.setCheckable(True)
        self.pin_button.setToolTip("Click the picture where the comment belongs")
        self.pin_button.toggled.connect(self._arm)
        row.addWidget(self.comment_text, 1)
        row.addWidget(self.pin_button)
        lay.addLayout(row)
        self.comments = QListWidget()
        self.comments.setToolTip("Comments on this item: double-click to resolve or reopen")
        self.comments.itemDoubleClicked.connect(self._toggle_resolved)
        lay.addWidget(self.comments, 1)
        row = QHBoxLayout()
        self.resolve_button = QPushButton("Resolve / reopen")
        self.resolve_button.clicked.connect(lambda: self._on_comment(self._toggle_resolved))
        self.delete_comment_button = QPushButton("Delete comment")
        self.delete_comment_button.clicked.connect(lambda: self._on_comment(
            lambda item: self.w.execute(delete_comment(item.data(DataRole)))))
        row.addWidget(self.resolve_button)
        row.addWidget(self.delete_comment_button)
        lay.addLayout(row)
        self._canvases: list[Any] = []  # the views pins are drawn on and placed from
        self.attach(w.canvas)
        self.watch = Watch(w.state, self, self._on_state, self._on_changes)

    # ------------------------------------------------------------------ reading
    @property
    def doc(self) -> Any:
        return self.w.state.doc

    def active(self) -> bool:
        """Whether review mode is on (the dock is shown with a project)."""
        dock = self.parentWidget()
        return self.doc is not None and dock is not None and dock.isVisible()

    def filter(self) -> QueueFilter:
        attribute = None
        if "=" in self.attribute.text():
            name, value = self.attribute.text().split("=", 1)
            attribute = (name.strip(), value.strip())
        return QueueFilter(
            status=self.status.currentData(), class_id=self.class_box.currentData(),
            author=self.author.text().strip() or None, attribute=attribute,
            min_objects=self.count.value(), source=self.source.currentData(),
            min_score=self.score.value() or None, verdict=self.verdict_filter.currentData())

    def refresh(self, *_: Any) -> None:
        """Rebuild the queue, the objects, the verdict and the comments from the document."""
        self.places.clear()
        self.objects.clear()
        self.comments.clear()
        doc = self.doc
        if doc is None:
            self.queue = []
            self.summary.setText("")
            return
        self._fill_classes()
        self.queue = build_queue(doc, self.filter())
        names = {m.id: m.name for m in doc.media()}
        left = sum(e.unreviewed for e in self.queue)
        self.summary.setText(f"{len(self.queue)} place(s), {left} object(s) unreviewed")
        here = self.w.state.place
        for e in self.queue:
            where = "" if not e.place.axes() else f" · {e.place.describe()}"
            item = QListWidgetItem(f"{names.get(e.place.media_id, e.place.media_id)}{where} · "
                                   f"{len(e.object_ids)} object(s), {e.unreviewed} unreviewed")
            item.setData(DataRole, e.place)
            self.places.addItem(item)
            if e.place == here:
                item.setSelected(True)
        self._fill_here()

    def _fill_classes(self) -> None:
        doc = self.doc
        want = [("Any", None)] + [(c.name, c.id) for c in doc.schema.classes]
        have = [(self.class_box.itemText(i), self.class_box.itemData(i))
                for i in range(self.class_box.count())]
        if want == have:
            return
        keep = self.class_box.currentData()
        self.class_box.blockSignals(True)
        self.class_box.clear()
        for text, value in want:
            self.class_box.addItem(text, value)
        self.class_box.setCurrentIndex(max(0, self.class_box.findData(keep)))
        self.class_box.blockSignals(False)

    def _fill_here(self) -> None:
        """The objects, verdict and comments of the place shown."""
        doc, place = self.doc, self.w.state.place
        if place is None:
            self.verdict_label.setText("")
            return
        reviews = doc.object_reviews(place.media_id)
        schema = doc.schema
        entry = next((e for e in self.queue if e.place == place), None)
        for ann in doc.annotations(place):
            if entry is not None and ann.id not in entry.object_ids:
                continue
            cls = schema.class_by_id(ann.class_id) if ann.class_id else None
            r = reviews.get(ann.id)
            state = _STATE_WORDS[r.state] + (f": {r.reason}" if r.reason else "") + \
                f" ({r.author})" if r else "unreviewed"
            score = f" {ann.score:.2f}" if ann.score is not None else ""
            item = QListWidgetItem(f"{cls.name if cls else 'no class'} {ann.kind}{score} · "
                                   f"{state}")
            item.setData(DataRole, ann.id)
            self.objects.addItem(item)
            if ann.id in self.w.state.selection:
                item.setSelected(True)
        v = doc.verdicts().get(place.media_id)
        self.verdict_label.setText(f"Item verdict: {v.verdict.value} ({v.author})"
                                   if v else "Item verdict: none")
        for c in doc.comments(place.media_id):
            if c.place != place:
                continue
            mark = "✔ " if c.resolved else "● "
            item = QListWidgetItem(f"{mark}{c.text} — {c.author} at ({c.x:.0f}, {c.y:.0f})")
            item.setData(DataRole, c)
            self.comments.addItem(item)

    def comments_here(self, canvas: Any = None) -> list[Comment]:
        """The comments pinned to the place ``canvas`` shows (the window's by default)."""
        doc, place = self.doc, self._place_of(canvas)
        if doc is None or place is None:
            return []
        return [c for c in doc.comments(place.media_id) if c.place == place]

    def _place_of(self, canvas: Any) -> Place | None:
        if canvas is None:
            return self.w.state.place
        return self.w.state.place_on(canvas.surface)

    def attach(self, canvas: Any) -> None:
        """Draw pins on ``canvas`` and let a click there pin a comment (the window's canvas;
        a volume's panes, each at its own slice)."""
        if canvas in self._canvases:
            return
        self._canvases.append(canvas)
        canvas.installEventFilter(self)
        canvas.add_layer(lambda p, v, c=canvas: self.draw_pins(p, v, c), above=True)
        canvas.destroyed.connect(lambda *_, c=canvas: self._canvases.remove(c)
                                 if c in self._canvases else None)

    # ------------------------------------------------------------------ going places
    def go_to(self, place: Place, object_id: str | None = None) -> None:
        """Show ``place`` (another item, a frame, a slice) and select ``object_id``."""
        w = self.w
        if w.state.media_id != place.media_id:
            w.show_media(place.media_id)
        presenter = getattr(w, "presenter", None)
        session = getattr(presenter, "session", None)
        if place.is_frame and callable(getattr(presenter, "jump", None)):
            presenter.jump(place.frame)
        elif place.is_slice and session is not None and place.axis in session.axes.values():
            _show_slice(session, place)
        elif (place.is_slice or place.more) and callable(getattr(presenter, "show_place",
                                                                 None)):
            presenter.show_place(place)
        elif w.state.place != place:
            w.state.set(place=place)
        self.current = (place, object_id) if object_id else None
        if w.state.place == place:
            w.state.set(selection=(object_id,) if object_id else ())
            self._pending = None
        else:  # a video frame is decoded off the UI thread: select once it is shown
            self._pending = self.current
        self.refresh()

    def _place_clicked(self, item: QListWidgetItem) -> None:
        place: Place = item.data(DataRole)
        entry = next((e for e in self.queue if e.place == place), None)
        reviews = self.doc.object_reviews(place.media_id)
        first = None
        if entry is not None:
            first = next((i for i in entry.object_ids if i not in reviews),
                         entry.object_ids[0] if entry.object_ids else None)
        self.go_to(place, first)

    def _object_clicked(self, item: QListWidgetItem) -> None:
        self.w.state.set(selection=(item.data(DataRole),))
        place = self.w.state.place
        if place is not None:
            self.current = (place, item.data(DataRole))

    # ------------------------------------------------------------------ reviewing
    def _targets(self) -> list[str]:
        sel = list(self.w.state.selection)
        if not sel and self.current is not None:
            sel = [self.current[1]]
        return sel

    def _review(self, state: ObjectState, reason: str = "") -> bool:
        doc, place = self.doc, self.w.state.place
        ids = self._targets()
        if doc is None or place is None or not ids:
            self.w.message("Select an object to review first.")
            return False
        return bool(self.w.execute(set_state(place.media_id, ids, state, reason)))

    def accept_and_next(self) -> None:
        """Accept the selected objects, then select the next unreviewed one in the queue."""
        place = self.w.state.place
        ids = self._targets()
        if not self._review(ObjectState.ACCEPTED):
            return
        self.queue = build_queue(self.doc, self.filter())
        nxt = next_unreviewed(self.doc, self.queue, place, ids[-1])
        if nxt is None:
            self.refresh()
            self.w.message("Everything in the review queue has been reviewed.")
            return
        self.go_to(*nxt)

    def reject(self) -> None:
        reason = self.reason.text().strip()
        if not reason:
            self.w.message("Type the reason for rejecting first.")
            self.reason.setFocus()
            return
        if self._review(ObjectState.REJECTED, reason):
            self.reason.clear()

    def needs_fix(self) -> None:
        self._review(ObjectState.NEEDS_FIX, self.reason.text().strip())

    def give_verdict(self, verdict: Verdict) -> None:
        mid = self.w.state.media_id
        if mid is not None:
            self.w.execute(set_verdict(mid, verdict, self.reason.text().strip()))

    # ------------------------------------------------------------------ comments
    def _arm(self, on: bool) -> None:
        if on and not self.comment_text.text().strip():
            self.w.message("Type the comment first, then Pin and click the picture.")
            self.pin_button.setChecked(False)
            return
        self._arming = on
        if on:
            self.w.message("Click the picture where the comment belongs (Esc cancels).")

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:  # noqa: N802
        if not self._arming or not any(obj is c for c in self._canvases):
            return False
        if e.type() == QEvent.Type.KeyPress and e.key() == Qt.Key.Key_Escape:
            self.pin_button.setChecked(False)
            return True
        if e.type() == QEvent.Type.MouseButtonPress and isinstance(e, QMouseEvent) and \
                e.button() == Qt.MouseButton.LeftButton:
            return True  # the click is ours: the tool never sees it
        if e.type() == QEvent.Type.MouseButtonRelease and isinstance(e, QMouseEvent) and \
                e.button() == Qt.MouseButton.LeftButton:
            pos = e.position()
            self.pin_at(*obj.widget_to_image(pos.x(), pos.y()), canvas=obj)
            return True
        return False

    def pin_at(self, x: float, y: float, canvas: Any = None) -> None:
        """Pin the typed comment at picture pixel ``(x, y)`` of the place ``canvas`` shows
        (a volume pane: its slice, so the voxel is that slice's pixel)."""
        place, text = self._place_of(canvas), self.comment_text.text().strip()
        self.pin_button.setChecked(False)
        if place is None or not text:
            return
        if self.w.execute(add_comment(place, x, y, text)):
            self.comment_text.clear()

    def _on_comment(self, act: Any) -> None:
        item = self.comments.currentItem()
        if item is None:
            self.w.message("Pick a comment in the list first.")
            return
        act(item)

    def _toggle_resolved(self, item: QListWidgetItem) -> None:
        c: Comment = item.data(DataRole)
        self.w.execute(resolve_comment(c, not c.resolved))

    def draw_pins(self, painter: QPainter, view: Any, canvas: Any = None) -> None:
        """A canvas layer: a small pin (a filled drop with a dot) at each comment here."""
        if not self.active():
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for c in self.comments_here(canvas):
            x, y = view.to_widget(c.x, c.y)
            colour = PIN_RESOLVED if c.resolved else PIN
            painter.setPen(QPen(QColor("#202020"), 1.2))
            painter.setBrush(colour)
            painter.drawPolygon(QPolygonF([QPointF(x, y), QPointF(x - 5, y - 10),
                                           QPointF(x + 5, y - 10)]))
            painter.drawEllipse(QPointF(x, y - 13), 6, 6)
        painter.restore()

    # ------------------------------------------------------------------ observing
    def _on_state(self, field: str) -> None:
        if field == "place" and self._pending is not None and \
                self.w.state.place == self._pending[0]:
            self.w.state.set(selection=(self._pending[1],))
            self._pending = None
        if field in ("doc", "place") and self.isVisible():
            self.refresh()
        elif field == "doc":
            self.current = None

    def _on_changes(self, changes: list[Change]) -> None:
        if self.isVisible() and any(c.kind in (ChangeKind.REVIEW, ChangeKind.ANNOTATIONS,
                                               ChangeKind.RESET, ChangeKind.SCHEMA)
                                    for c in changes):
            self.refresh()
        if any(c.kind == ChangeKind.REVIEW for c in changes):
            self._redraw()

    def showEvent(self, e: Any) -> None:  # noqa: N802
        super().showEvent(e)
        self.refresh()
        self._redraw()

    def hideEvent(self, e: Any) -> None:  # noqa: N802
        super().hideEvent(e)
        self.pin_button.setChecked(False)
        self._redraw()

    def _redraw(self) -> None:
        for c in list(self._canvases):
            c.refresh_layers()


def _show_slice(session: Any, place: Place) -> None:
    """Move a volume's crosshair to slice ``place`` and make the pane showing its axis the
    active one (the window's place follows the active pane)."""
    name = next(n for n, a in session.axes.items() if a == place.axis)
    delta = int(place.index) - session.crosshair.index(place.axis)
    if delta:
        session.step(name, delta)
    session.activate(session.panes[name])
