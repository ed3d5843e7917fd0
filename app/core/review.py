"""Review: a reviewer's state per object, a verdict per media item, and comments pinned to a
place - stored in the project (tables ``reviews`` and ``comments``, project format 4) and
changed only through :class:`SetReview` (one transaction, undoable, in the audit trail).

- :class:`ObjectReview`: an annotation (by id) accepted, rejected (with a reason) or marked
  needs fix, by whom and when (UTC ISO-8601).
- :class:`ItemVerdict`: a media item approved, rejected or needing work.
- :class:`Comment`: text pinned to a point ``(x, y)`` in continuous pixel coordinates of the
  picture at ``place`` (an image; a video frame; a volume slice: the slice's picture, so the
  voxel is ``place`` plus the point; see ``../shared/CONVENTIONS.md``), with its author, time
  and whether it is resolved.

Reviews of an object stay when the object is deleted (the audit trail keeps what was said);
readers that list objects ignore reviews whose object is gone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Union

from app.core.changes import Change, ChangeKind
from app.core.commands import Command
from app.core.identity import author, new_id, utc_now
from app.core.places import Place

if TYPE_CHECKING:
    from app.core.document import Document


class ObjectState(StrEnum):
    """A reviewer's decision on one object."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NEEDS_FIX = "needs_fix"


class Verdict(StrEnum):
    """A reviewer's decision on a whole media item."""

    APPROVED = "approved"
    REJECTED = "rejected"
    NEEDS_WORK = "needs_work"


@dataclass(frozen=True)
class ObjectReview:
    """The review state of annotation ``object_id`` on ``media_id``; ``reason`` says why
    (expected for a rejection)."""

    object_id: str
    media_id: str
    state: ObjectState
    reason: str = ""
    author: str = field(default_factory=author)
    time: str = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", ObjectState(self.state))

    @property
    def key(self) -> tuple[str, str]:
        return ("object", self.object_id)

    def to_json(self) -> dict[str, Any]:
        return {"object_id": self.object_id, "media_id": self.media_id,
                "state": self.state.value, "reason": self.reason, "author": self.author,
                "time": self.time}


@dataclass(frozen=True)
class ItemVerdict:
    """The verdict on media item ``media_id``."""

    media_id: str
    verdict: Verdict
    note: str = ""
    author: str = field(default_factory=author)
    time: str = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.verdict))

    @property
    def key(self) -> tuple[str, str]:
        return ("item", self.media_id)

    def to_json(self) -> dict[str, Any]:
        return {"media_id": self.media_id, "verdict": self.verdict.value, "note": self.note,
                "author": self.author, "time": self.time}


@dataclass(frozen=True)
class Comment:
    """Text pinned to point ``(x, y)`` (pixels of the picture at ``place``)."""

    place: Place
    x: float
    y: float
    text: str
    resolved: bool = False
    author: str = field(default_factory=author)
    time: str = field(default_factory=utc_now)
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if not isinstance(self.place, Place):
            raise ValueError("a comment needs a Place")
        object.__setattr__(self, "x", float(self.x))
        object.__setattr__(self, "y", float(self.y))
        if not (math.isfinite(self.x) and math.isfinite(self.y)):
            raise ValueError(f"a comment's point must be finite pixels, got ({self.x}, {self.y})")

    @property
    def media_id(self) -> str:
        return self.place.media_id

    @property
    def key(self) -> tuple[str, str]:
        return ("comment", self.id)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "place": self.place.to_json(), "x": self.x, "y": self.y,
                "text": self.text, "resolved": self.resolved, "author": self.author,
                "time": self.time}


ReviewRecord = Union[ObjectReview, ItemVerdict, Comment]
Key = tuple[str, str]  # ("object", annotation id) | ("item", media id) | ("comment", id)


# ------------------------------------------------------------------------- rows (the store)
def review_row(r: ObjectReview | ItemVerdict) -> tuple[Any, ...]:
    """A ``reviews`` row: (scope, target, media_id, state, reason, author, time)."""
    if isinstance(r, ObjectReview):
        return ("object", r.object_id, r.media_id, r.state.value, r.reason, r.author, r.time)
    return ("item", r.media_id, r.media_id, r.verdict.value, r.note, r.author, r.time)


def review_from_row(row: tuple[Any, ...]) -> ObjectReview | ItemVerdict:
    scope, target, media_id, state, reason, who, time = row
    if scope == "object":
        return ObjectReview(target, media_id, ObjectState(state), reason, who, time)
    return ItemVerdict(media_id, Verdict(state), reason, who, time)


def comment_row(c: Comment) -> tuple[Any, ...]:
    """A ``comments`` row: (id, media_id, place JSON, x, y, text, resolved, author, time)."""
    return (c.id, c.media_id, json.dumps(c.place.to_json(), sort_keys=True), c.x, c.y, c.text,
            int(c.resolved), c.author, c.time)


def comment_from_row(row: tuple[Any, ...]) -> Comment:
    cid, _media, place, x, y, text, resolved, who, time = row
    return Comment(Place.from_json(json.loads(place)), x, y, text, bool(resolved), who, time,
                   cid)


def record_from_json(kind: str, obj: dict[str, Any]) -> ReviewRecord:
    """A record from its :meth:`to_json` (``kind``: object, item or comment); ValueError,
    KeyError or TypeError on a malformed one."""
    if kind == "object":
        return ObjectReview(str(obj["object_id"]), str(obj["media_id"]), obj["state"],
                            str(obj.get("reason", "")), str(obj.get("author", "")),
                            str(obj.get("time", "")))
    if kind == "item":
        return ItemVerdict(str(obj["media_id"]), obj["verdict"], str(obj.get("note", "")),
                           str(obj.get("author", "")), str(obj.get("time", "")))
    return Comment(Place.from_json(obj["place"]), float(obj["x"]), float(obj["y"]),
                   str(obj["text"]), bool(obj.get("resolved", False)),
                   str(obj.get("author", "")), str(obj.get("time", "")),
                   str(obj.get("id") or new_id()))


# ------------------------------------------------------------------------- the command
@dataclass(frozen=True, eq=False)
class SetReview(Command):
    """Store review records (replacing those with the same key) and clear others by key, in
    one transaction; what they replace is read by :meth:`apply` and restored by the inverse."""

    put: tuple[ReviewRecord, ...] = ()
    clear: tuple[Key, ...] = ()
    label: str = "Review"
    _before: list[dict[Key, ReviewRecord | None]] = field(default_factory=list, repr=False,
                                                          compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "put", tuple(self.put))
        object.__setattr__(self, "clear", tuple(self.clear))
        keys = [r.key for r in self.put] + list(self.clear)
        if len(keys) != len(set(keys)):
            raise ValueError("one review edit cannot set the same thing twice")

    def apply(self, doc: Document) -> list[Change]:
        before, changes = doc.write_review(self.put, self.clear)
        self._before[:] = [before]
        return changes

    def inverse(self) -> Command:
        before = self._before[0]
        return SetReview(tuple(r for r in before.values() if r is not None),
                         tuple(k for k, r in before.items() if r is None), label=self.label)

    def detail(self) -> dict[str, Any]:
        return {"review": [r.to_json() for r in self.put[:20]],
                "cleared": [list(k) for k in self.clear[:20]], "count": len(self.put)}

    def media_ids(self, doc: Document) -> set[str]:
        ids = {r.media_id for r in self.put}
        for kind, key in self.clear:
            if kind == "item":
                ids.add(key)
            else:
                old = doc.review_record((kind, key))
                if old is not None:
                    ids.add(old.media_id)
        return ids

    def frames(self) -> set[int | None]:
        return {r.place.frame for r in self.put if isinstance(r, Comment)}


def set_state(media_id: str, object_ids: list[str], state: ObjectState | None,
              reason: str = "") -> SetReview:
    """Accept, reject (with ``reason``) or mark needs-fix the objects; ``None`` clears them."""
    if state is None:
        return SetReview(clear=tuple(("object", i) for i in object_ids), label="Clear review")
    words = {ObjectState.ACCEPTED: "Accept", ObjectState.REJECTED: "Reject",
             ObjectState.NEEDS_FIX: "Needs fix"}
    return SetReview(tuple(ObjectReview(i, media_id, state, reason) for i in object_ids),
                     label=words[ObjectState(state)])


def set_verdict(media_id: str, verdict: Verdict | None, note: str = "") -> SetReview:
    """Approve, reject or send back an item; ``None`` clears its verdict."""
    if verdict is None:
        return SetReview(clear=(("item", media_id),), label="Clear verdict")
    return SetReview((ItemVerdict(media_id, verdict, note),), label=f"Verdict: {verdict.value}")


def add_comment(place: Place, x: float, y: float, text: str) -> SetReview:
    """Pin a new comment at pixel ``(x, y)`` of the picture at ``place``."""
    return SetReview((Comment(place, x, y, text),), label="Add comment")


def resolve_comment(comment: Comment, resolved: bool = True) -> SetReview:
    return SetReview((replace(comment, resolved=resolved),),
                     label="Resolve comment" if resolved else "Reopen comment")


def delete_comment(comment: Comment) -> SetReview:
    return SetReview(clear=(comment.key,), label="Delete comment")


def review_changes(records: list[ReviewRecord]) -> list[Change]:
    """The one change listeners get for a review edit (the media items it touched)."""
    return [Change(ChangeKind.REVIEW, frozenset(r.media_id for r in records),
                   tuple(k for r in records for k in r.key[1:]))]
