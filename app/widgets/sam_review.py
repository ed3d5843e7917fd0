"""The list of places to review after a propagation or a tracking run: each slice or frame
where the model's confidence dropped, with why; clicking one (or Enter on it) goes there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDockWidget, QLabel, QListWidget, QListWidgetItem, QMainWindow,
                               QVBoxLayout, QWidget)

from app.core.places import Place
from app.inference.propagation_records import Review

PlaceRole = Qt.ItemDataRole.UserRole


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
        lay.addWidget(self.title)
        lay.addWidget(self.list)

    def show_reviews(self, title: str, reviews: list[Review]) -> None:
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
