"""The review queue: the places (an image; a video frame; a volume slice) whose objects match a
reviewer's filter, in project order, and where "accept and go on" goes next. Qt-free; the
window's review dock (:mod:`app.widgets.review_panel`) only shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.annotations import MANUAL, Annotation
from app.core.places import Place
from app.core.review import ObjectReview

if TYPE_CHECKING:
    from app.core.document import Document

UNREVIEWED = "unreviewed"
MODEL = "model"  # source filter: any model's output (not manual, not interpolated)


@dataclass(frozen=True)
class QueueFilter:
    """What to review. ``status``: None (any), ``"unreviewed"`` or an
    :class:`~app.core.review.ObjectState` value; ``class_id``; ``author`` (the object's
    creator); ``attribute`` (name, value as text); ``min_objects``/``max_objects`` (objects at
    the place, before the other filters); ``source`` (``"manual"``, ``"model"`` for any
    model, or one model id); ``min_score`` (0-1; objects without a score fail it);
    ``verdict``: None (any), ``"none"`` (items without a verdict) or a verdict value."""

    status: str | None = None
    class_id: str | None = None
    author: str | None = None
    attribute: tuple[str, str] | None = None
    min_objects: int = 0
    max_objects: int | None = None
    source: str | None = None
    min_score: float | None = None
    verdict: str | None = None

    def keeps(self, ann: Annotation, review: ObjectReview | None) -> bool:
        """Whether one object passes the object filters."""
        if self.status is not None:
            state = review.state.value if review else UNREVIEWED
            if state != self.status:
                return False
        if self.class_id is not None and ann.class_id != self.class_id:
            return False
        if self.author and ann.creator != self.author:
            return False
        if self.attribute is not None:
            name, want = self.attribute
            if _text(ann.attributes.get(name)) != want:
                return False
        if self.source is not None:
            if self.source == MODEL:
                if ann.source in (MANUAL, "interpolated"):
                    return False
            elif ann.source != self.source:
                return False
        if self.min_score is not None and (ann.score is None or ann.score < self.min_score):
            return False
        return True


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class QueueEntry:
    """One place to review: its objects that pass the filter (annotation ids, z order) and
    how many of them are still unreviewed."""

    place: Place
    object_ids: tuple[str, ...]
    unreviewed: int


def build_queue(doc: Document, flt: QueueFilter = QueueFilter()) -> list[QueueEntry]:
    """The places to review, media in project order, places sorted within an item."""
    reviews = doc.object_reviews()
    verdicts = doc.verdicts()
    out: list[QueueEntry] = []
    for item in doc.media():
        if flt.verdict is not None:
            v = verdicts.get(item.id)
            if (v.verdict.value if v else "none") != flt.verdict:
                continue
        for place in doc.places(item.id):
            anns = doc.annotations(place)
            if len(anns) < flt.min_objects or (flt.max_objects is not None
                                               and len(anns) > flt.max_objects):
                continue
            kept = tuple(a.id for a in anns if flt.keeps(a, reviews.get(a.id)))
            if kept:
                out.append(QueueEntry(place, kept, sum(1 for i in kept if i not in reviews)))
    return out


def next_unreviewed(doc: Document, queue: list[QueueEntry], place: Place | None = None,
                    object_id: str | None = None) -> tuple[Place, str] | None:
    """The first unreviewed object after ``object_id`` at ``place`` in queue order (wrapping
    round to the start); None when every object in the queue has a review."""
    reviews = doc.object_reviews()
    flat = [(e.place, i) for e in queue for i in e.object_ids]
    start = 0
    for n, (p, i) in enumerate(flat):
        if p == place and (object_id is None or i == object_id):
            start = n + 1 if object_id is not None else n
            break
    for p, i in flat[start:] + flat[:start]:
        if i not in reviews:
            return p, i
    return None
