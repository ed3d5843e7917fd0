"""The list of places to review after a propagation or a tracking run: each slice or frame
where the model's confidence dropped, with why; clicking one (or Enter on it) goes there.

It also lists model output (:meth:`ReviewList.show_model_output`, Tools ▸ Review model
output): every annotation a model wrote (a detector's boxes, a tracker's or segmenter's
shapes: ``source`` = the model id, ``score`` set), lowest score first, with a minimum-score
filter; Accept makes the selected ones ordinary labels (source manual, score cleared: a person
vouched for them), Reject deletes them, each one undoable command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDockWidget, QDoubleSpinBox, QHBoxLayout,
                               QLabel, QListWidget, QListWidgetItem, QMainWindow, QPushButton,
                               QVBoxLayout, QWidget)

from app.core.places import Place
from app.inference.propagation_records import Review

PlaceRole = Qt.ItemDataRole.UserRole
AnnotationRole = Qt.ItemDataRole.UserRole + 1  # model output: the annotation's id
ScoreRole = Qt.ItemDataRole.UserRole + 2
HUMAN_SOURCES = ("manual", "interpolated")


class ReviewList(QWidget):
    """Title, then one row per :class:`Review`; ``jump(place)`` is called for the row the
    user picks."""

    def __init__(self, jump: Callable[[Place], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jump = jump
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setToolTip("Places where the model was less sure: click one to go there")
        self.list.itemActivated.connect(self._go)
        self.list.itemClicked.connect(self._go)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.state: Any = None  # the editor state whose model output is listed
        self.min_score = QDoubleSpinBox()
        self.min_score.setRange(0.0, 1.0)
        self.min_score.setSingleStep(0.05)
        self.min_score.setDecimals(2)
        self.min_score.setPrefix("Score ≥ ")
        self.min_score.setToolTip("Show only model output scoring at least this much")
        self.min_score.valueChanged.connect(self._filter)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Keep the selected boxes as ordinary labels")
        self.accept_button.clicked.connect(self.accept_selected)
        self.reject_button = QPushButton("Reject")
        self.reject_button.setToolTip("Delete the selected boxes")
        self.reject_button.clicked.connect(self.reject_selected)
        self.model_bar = QWidget()
        bar = QHBoxLayout(self.model_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.min_score, 1)
        bar.addWidget(self.accept_button)
        bar.addWidget(self.reject_button)
        self.model_bar.hide()
        lay.addWidget(self.title)
        lay.addWidget(self.model_bar)
        lay.addWidget(self.list)

    def show_reviews(self, title: str, reviews: list[Review]) -> None:
        self.state = None
        self.model_bar.hide()
        self.list.clear()
        self.title.setText(f"<b>{title}</b><br>" + (
            f"{len(reviews)} place(s) to check" if reviews else "Nothing to check: the model "
            "was confident everywhere."))
        for r in sorted(reviews, key=lambda r: r.place):
            score = f" · confidence {r.score:.2f}" if r.score is not None else ""
            item = QListWidgetItem(f"{r.place.describe().capitalize()}{score}\n{r.reason}")
            item.setData(PlaceRole, r.place)
            self.list.addItem(item)

    def places(self) -> list[Place]:
        return [self.list.item(i).data(PlaceRole) for i in range(self.list.count())]

    # ------------------------------------------------------------------ model output
    def show_model_output(self, state: Any, source: str | None = None) -> None:
        """List every annotation of ``state``'s project that a model wrote (``source`` not
        manual or interpolated, ``score`` set; only ``source``'s when given), lowest score
        first; the score filter, Accept and Reject act on them."""
        self.state, self._source = state, source
        self.model_bar.show()
        self.list.clear()
        doc = state.doc
        rows = []
        for item in (doc.media() if doc is not None else []):
            for a in doc.annotations(item.id, all_frames=True):
                if (a.score is None or a.source in HUMAN_SOURCES or a.shape is None
                        or (source is not None and a.source != source)):
                    continue
                rows.append((a.score, item.name, a))
        rows.sort(key=lambda r: (r[0], r[1], r[2].place))
        for score, name, a in rows:
            cls = doc.schema.class_by_id(a.class_id)
            text = (f"{name} · {a.place.describe()} · {cls.name if cls else '(no class)'}"
                    f"\n{a.source} · score {score:.2f}")
            row = QListWidgetItem(text)
            row.setData(PlaceRole, a.place)
            row.setData(AnnotationRole, a.id)
            row.setData(ScoreRole, float(score))
            self.list.addItem(row)
        self._filter()

    def _filter(self) -> None:
        low = self.min_score.value()
        shown = 0
        for i in range(self.list.count()):
            row = self.list.item(i)
            score = row.data(ScoreRole)
            hide = score is not None and score < low - 1e-9
            row.setHidden(hide)
            if hide:
                row.setSelected(False)
            shown += not hide
        if self.state is not None:
            total = self.list.count()
            self.title.setText(f"<b>Model output</b><br>{shown} of {total} shown (lowest "
                               "score first): select, then Accept or Reject")

    def visible_ids(self) -> list[str]:
        """Annotation ids of the model-output rows the filter shows, in order."""
        return [self.list.item(i).data(AnnotationRole) for i in range(self.list.count())
                if not self.list.item(i).isHidden() and self.list.item(i).data(AnnotationRole)]

    def _chosen(self) -> list[Any]:
        if self.state is None or self.state.doc is None:
            return []
        ids = {r.data(AnnotationRole) for r in self.list.selectedItems() if not r.isHidden()}
        doc = self.state.doc
        out = []
        for item in doc.media():
            out += [a for a in doc.annotations(item.id, all_frames=True) if a.id in ids]
        return out

    def accept_selected(self) -> bool:
        """The selected model output becomes ordinary labels (one undoable command)."""
        from app.core.commands import Put

        anns = self._chosen()
        if not anns:
            return False
        doc = self.state.doc
        after = tuple(doc.edited(a, source="manual", score=None) for a in anns)
        done = self.state.execute(Put(after, label=f"Accept {len(after)} model "
                                                   f"box{'es' if len(after) > 1 else ''}"),
                                  rewrite=False)
        self.show_model_output(self.state, self._source)
        return done

    def reject_selected(self) -> bool:
        """Delete the selected model output (one undoable command)."""
        from app.core.commands import Remove

        anns = self._chosen()
        if not anns:
            return False
        done = self.state.execute(Remove(tuple(anns), label=f"Reject {len(anns)} model "
                                                            f"box{'es' if len(anns) > 1 else ''}"),
                                  rewrite=False)
        self.show_model_output(self.state, self._source)
        return done

    def _go(self, item: QListWidgetItem) -> None:
        place = item.data(PlaceRole)
        if isinstance(place, Place):
            self.jump(place)


def default_jump(host: Any) -> Callable[[Place], None]:
    """Go to a place: the host's ``show_place`` when it has one (a mode that can show a frame
    or slice), else make it the editor's place."""
    show = getattr(host, "show_place", None)
    if callable(show):
        return show
    return lambda place: host.state.set(place=place)


def show_model_review(host: Any, jump: Callable[[Place], None] | None = None,
                      source: str | None = None) -> ReviewList:
    """Show the project's model output in the host's "Review" dock (made on first use)."""
    panel = show_review(host, "Model output", [], jump)
    panel.show_model_output(host.state, source)
    return panel


def show_review(host: Any, title: str, reviews: list[Review],
                jump: Callable[[Place], None] | None = None) -> ReviewList:
    """Show ``reviews`` in the host's "Review" dock (made on first use)."""
    panel: ReviewList | None = getattr(host, "_sam_review", None)
    if panel is None:
        panel = ReviewList(jump or default_jump(host))
        if hasattr(host, "add_dock"):
            host.add_dock("Review", panel, Qt.DockWidgetArea.RightDockWidgetArea)
        elif isinstance(host, QMainWindow):
            dock = QDockWidget("Review", host)
            dock.setObjectName("dock_review")
            dock.setWidget(panel)
            host.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        host._sam_review = panel
    elif jump is not None:
        panel.jump = jump
    panel.show_reviews(title, reviews)
    dock = panel.parentWidget()
    if isinstance(dock, QDockWidget):
        dock.show()
        dock.raise_()
    return panel
