"""Reversible edits of the document. Every change a user makes is one of these.

Five commands cover everything:

- :class:`Put` stores records (annotations, tracks, media items, label maps, frame times):
  new ones are added, ones with a stored id are replaced;
- :class:`Remove` deletes records;
- :class:`SetSchema` replaces the label schema;
- :class:`ModifyLabelMap` changes label-map voxels through the one ``modify`` entry point;
- :class:`SetMeta` sets project notes (a batch job's journal), no label among them.

A command reads the values it replaces *itself*, inside the document's transaction, and keeps
them for its inverse - it never trusts a caller's copy of "before". The document runs each
command in one store transaction, validates it at the door (:mod:`app.core.rules`), logs it to
the audit trail and keeps it for undo. :class:`Batch` makes several commands one undo step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.labelmap import Mode
from app.core.schema import LabelSchema

if TYPE_CHECKING:
    from app.core.changes import Change
    from app.core.document import Document
    from app.core.records import Record


_NOUNS = {"Annotation": "shape", "Track": "track", "MediaItem": "media",
          "LabelMapInfo": "segmentation", "FrameTimes": "frame times"}


def _default_label(verb: str, records: tuple[Any, ...]) -> str:
    """'Add shape', 'Edit 3 shapes', 'Delete track'... for commands given no label."""
    nouns = {_NOUNS.get(type(r).__name__, "object") for r in records}
    noun = nouns.pop() if len(nouns) == 1 else "object"
    n = len(records)
    if n == 1 or noun in ("media", "frame times"):
        return f"{verb} {noun}"
    return f"{verb} {n} {noun}s"


def _labelmap_media(doc: Document, labelmap_id: str) -> set[str]:
    """The media item of a label map (none when it is not stored)."""
    info = doc.stored_labelmap(labelmap_id)
    return {info.media_id} if info else set()


def _ids(objs: tuple[Any, ...], limit: int = 20) -> dict[str, Any]:
    return {"count": len(objs), "ids": [o.id for o in objs[:limit]],
            "kinds": sorted({type(o).__name__ for o in objs})}


_LABEL_KINDS = ("Annotation", "Track", "LabelMapInfo")


def _tally(added: Any = (), changed: Any = (), removed: Any = ()) -> dict[str, Any]:
    """The audit trail's count of label objects (annotations, tracks, label maps) an edit
    created, changed and deleted, and the media items they lie on (for ``vellum history``)."""
    out: dict[str, Any] = {"added": 0, "changed": 0, "removed": 0, "media": set()}
    for key, records in (("added", added), ("changed", changed), ("removed", removed)):
        for r in records:
            if type(r).__name__ in _LABEL_KINDS:
                out[key] += 1
                out["media"].add(r.media_id)
    return out


def _merge_tallies(tallies: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"added": 0, "changed": 0, "removed": 0, "media": set()}
    for t in tallies:
        for key in ("added", "changed", "removed"):
            out[key] += t.get(key, 0)
        out["media"] |= t.get("media", set())
    return out


def _objects(tally: dict[str, Any], limit: int = 100) -> dict[str, Any]:
    """A tally as JSON for the history detail (media ids sorted, at most ``limit``)."""
    return {**{k: tally[k] for k in ("added", "changed", "removed")},
            "media": sorted(tally["media"])[:limit]}


class Command(ABC):
    """One undoable edit."""

    label: str = "Edit"

    @abstractmethod
    def apply(self, doc: Document) -> list[Change]:
        """Write the change (inside the document's transaction); return what changed."""

    @abstractmethod
    def inverse(self) -> Command:
        """The command that undoes this one (valid after :meth:`apply` ran)."""

    def detail(self) -> dict[str, Any]:
        """Short JSON-able description for the history table."""
        return {}

    def tally(self) -> dict[str, Any]:
        """Label objects this command created, changed and deleted (valid after
        :meth:`apply`); see :func:`_tally`."""
        return _tally()

    def media_ids(self, doc: Document) -> set[str]:
        """The media items whose labels this command changes: those of the annotations,
        tracks, label maps and frame times it stores or removes, and of the label map whose
        voxels it writes (a media item's own record, and the schema, are no one item's labels).
        A view shows that item before undoing the edit, as CVAT and Slicer do."""
        from app.core.media import MediaItem

        return {r.media_id for r in self._records() if not isinstance(r, MediaItem)}

    def frames(self) -> set[int | None]:
        """The video frames of the annotations this command stores or removes (None for an
        annotation on no frame)."""
        from app.core.annotations import Annotation

        return {r.frame for r in self._records() if isinstance(r, Annotation)}

    def _records(self) -> tuple[Record, ...]:
        """The records this command stores or removes (none for most kinds)."""
        return ()

    @property
    def action(self) -> str:
        return type(self).__name__


class _OnRecords(Command):
    """A command that stores or removes ``records``; its history detail is their ids."""

    records: tuple[Record, ...]

    def detail(self) -> dict[str, Any]:
        return {**_ids(self.records), "objects": _objects(self.tally())}

    def _records(self) -> tuple[Record, ...]:
        return self.records


@dataclass(frozen=True, eq=False)
class Put(_OnRecords):
    """Store ``records`` (any mix of kinds): add new ones, replace stored ones with the same id.
    What was stored before is read by :meth:`apply` and restored by the inverse."""

    records: tuple[Record, ...]
    label: str = ""
    _replaced: list[Record] = field(default_factory=list, repr=False, compare=False)
    _added: list[Record] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(self.records))
        ids = [(type(r), r.id) for r in self.records]
        if len(ids) != len(set(ids)):
            raise ValueError("one edit cannot store the same object twice")

    def apply(self, doc: Document) -> list[Change]:
        replaced, changes = doc.put(self.records)
        self._replaced[:] = replaced
        replaced_ids = {(type(r), r.id) for r in replaced}
        self._added[:] = [r for r in self.records if (type(r), r.id) not in replaced_ids]
        if not self.label:
            object.__setattr__(self, "label", _default_label(
                "Edit" if replaced else "Add", self.records))
        return changes

    def inverse(self) -> Command:
        """Remove what was added and put back what was replaced, in an order that never
        orphans a record: added annotations go first (they may sit on an added track), then
        the replaced values return, then the other added records go."""
        from app.core.annotations import Annotation

        added_anns = tuple(r for r in self._added if isinstance(r, Annotation))
        added_rest = tuple(r for r in self._added if not isinstance(r, Annotation))
        steps: list[Command] = []
        if added_anns:
            steps.append(Remove(added_anns, label=self.label))
        if self._replaced:
            steps.append(Put(tuple(self._replaced), label=self.label))
        if added_rest:
            steps.append(Remove(added_rest, label=self.label))
        return steps[0] if len(steps) == 1 else Batch(tuple(steps), label=self.label)

    def tally(self) -> dict[str, Any]:
        return _tally(added=self._added, changed=self._replaced)


@dataclass(frozen=True, eq=False)
class Remove(_OnRecords):
    """Delete ``records``. The stored values (and, for a label map, its voxels) are read by
    :meth:`apply`, so the inverse restores exactly what was on disk."""

    records: tuple[Record, ...]
    label: str = ""
    _removed: list[Record] = field(default_factory=list, repr=False, compare=False)
    _voxels: dict[str, dict[Any, bytes]] = field(default_factory=dict, repr=False,
                                                 compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(self.records))
        if not self.label:
            object.__setattr__(self, "label", _default_label("Delete", self.records))

    def apply(self, doc: Document) -> list[Change]:
        removed, voxels, changes = doc.remove(self.records)
        self._removed[:] = removed
        self._voxels.clear()
        self._voxels.update(voxels)
        return changes

    def inverse(self) -> Command:
        return _Restore(tuple(self._removed), dict(self._voxels), label=self.label)

    def tally(self) -> dict[str, Any]:
        return _tally(removed=self._removed)


@dataclass(frozen=True, eq=False)
class _Restore(_OnRecords):
    """Undo of :class:`Remove`: put the removed records back, label-map bricks included."""

    records: tuple[Record, ...]
    voxels: dict[str, dict[Any, bytes]]
    label: str = "Delete"

    def apply(self, doc: Document) -> list[Change]:
        _, changes = doc.put(self.records)
        for labelmap_id, bricks in self.voxels.items():
            doc.restore_bricks(labelmap_id, bricks)
        return changes

    def inverse(self) -> Command:
        return Remove(self.records, label=self.label)

    def tally(self) -> dict[str, Any]:
        return _tally(added=self.records)

    @property
    def action(self) -> str:
        return "Restore"


@dataclass(frozen=True, eq=False)
class SetSchema(Command):
    """Replace the label schema; the one it replaces is read by :meth:`apply`."""

    schema: LabelSchema
    label: str = "Edit labels"
    _before: list[LabelSchema] = field(default_factory=list, repr=False, compare=False)

    def apply(self, doc: Document) -> list[Change]:
        self._before[:] = [doc.schema]
        return doc.write_schema(self.schema)

    def inverse(self) -> Command:
        return SetSchema(self._before[0], label=self.label)

    def detail(self) -> dict[str, Any]:
        return {"classes": [c.name for c in self.schema.classes][:50]}


PROTECTED_META = frozenset({"project_id", "name", "created", "app"})


@dataclass(frozen=True, eq=False)
class SetMeta(Command):
    """Set project notes in the ``meta`` table (``None`` deletes one) - e.g. a batch job's
    per-unit done mark, in the same transaction as that unit's records when both are in one
    :class:`Batch`. The values it replaces are read by :meth:`apply`. The project's own
    identity (:data:`PROTECTED_META`) and ``view_state`` are not notes."""

    values: dict[str, str | None]
    label: str = "Note"
    _before: list[dict[str, str | None]] = field(default_factory=list, repr=False,
                                                 compare=False)

    def __post_init__(self) -> None:
        bad = sorted(k for k in self.values if k in PROTECTED_META or k == "view_state")
        if bad:
            raise ValueError(f"SetMeta cannot change {', '.join(bad)}")
        object.__setattr__(self, "values", dict(self.values))

    def apply(self, doc: Document) -> list[Change]:
        self._before[:] = [doc.write_meta(self.values)]
        return []

    def inverse(self) -> Command:
        return SetMeta(self._before[0], label=self.label)

    def detail(self) -> dict[str, Any]:
        return {"keys": sorted(self.values)[:20], "count": len(self.values)}


@dataclass(frozen=True, eq=False)
class ModifyLabelMap(Command):
    """Change the voxels of label map ``labelmap_id`` in the box starting at ``start``
    ``(k, j, i)`` with the boolean ``modifier`` (its shape is the box's): ``mode`` ADD paints
    segment ``value`` where the modifier is set, SET makes the segment equal the modifier inside
    the box, ERASE clears it (``value`` 0: any segment). ``where`` (optional, the box's shape)
    limits every change to its voxels ("paint only where", e.g. an intensity range).

    :meth:`apply` reads the old voxels itself, in the same transaction, and keeps those of the
    changed bricks' bounding box for undo."""

    labelmap_id: str
    start: tuple[int, int, int]
    modifier: np.ndarray
    mode: Mode = Mode.ADD
    value: int = 1
    where: np.ndarray | None = None
    label: str = "Paint"
    _undo: list[tuple[tuple[int, int, int], np.ndarray, int]] = field(
        default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", tuple(int(v) for v in self.start))
        object.__setattr__(self, "mode", Mode(self.mode))
        if self.modifier.ndim != 3:
            raise ValueError("a label-map modifier must be a 3-D array (k, j, i)")
        if self.where is not None and self.where.shape != self.modifier.shape:
            raise ValueError("the 'paint only where' mask must have the modifier's shape")

    def apply(self, doc: Document) -> list[Change]:
        start, before, changed, changes = doc.modify_labelmap(
            self.labelmap_id, self.start, self.modifier, self.mode, self.value, self.where)
        self._undo[:] = [(start, before, changed)]
        return changes

    def inverse(self) -> Command:
        start, before, _ = self._undo[0]
        return _WriteVoxels(self.labelmap_id, start, before, label=self.label)

    def media_ids(self, doc: Document) -> set[str]:
        return _labelmap_media(doc, self.labelmap_id)

    @property
    def voxels_changed(self) -> int:
        """How many voxels the last :meth:`apply` changed."""
        return self._undo[0][2] if self._undo else 0

    def detail(self) -> dict[str, Any]:
        return {"labelmap_id": self.labelmap_id, "start": list(self.start),
                "shape": list(self.modifier.shape), "mode": self.mode.value,
                "value": int(self.value), "voxels_changed": self.voxels_changed}


@dataclass(frozen=True, eq=False)
class _WriteVoxels(Command):
    """Undo/redo of :class:`ModifyLabelMap`: put stored voxel values back into a box."""

    labelmap_id: str
    start: tuple[int, int, int]
    values: np.ndarray
    label: str = "Paint"
    _undo: list[tuple[tuple[int, int, int], np.ndarray]] = field(
        default_factory=list, repr=False, compare=False)

    def apply(self, doc: Document) -> list[Change]:
        before, changes = doc.write_voxels(self.labelmap_id, self.start, self.values)
        self._undo[:] = [(self.start, before)]
        return changes

    def inverse(self) -> Command:
        start, before = self._undo[0]
        return _WriteVoxels(self.labelmap_id, start, before, label=self.label)

    def detail(self) -> dict[str, Any]:
        return {"labelmap_id": self.labelmap_id, "start": list(self.start),
                "shape": list(self.values.shape)}

    def media_ids(self, doc: Document) -> set[str]:
        return _labelmap_media(doc, self.labelmap_id)

    @property
    def action(self) -> str:
        return "WriteVoxels"


@dataclass(frozen=True, eq=False)
class Batch(Command):
    """Several commands as one undo step (e.g. paste, import)."""

    commands: tuple[Command, ...]
    label: str = "Edit"

    def apply(self, doc: Document) -> list[Change]:
        out: list[Change] = []
        for c in self.commands:
            out.extend(c.apply(doc))
        return out

    def inverse(self) -> Command:
        return Batch(tuple(c.inverse() for c in reversed(self.commands)), label=self.label)

    def detail(self) -> dict[str, Any]:
        return {"steps": [c.action for c in self.commands[:50]], "count": len(self.commands),
                "objects": _objects(self.tally())}

    def tally(self) -> dict[str, Any]:
        return _merge_tallies(c.tally() for c in self.commands)

    def media_ids(self, doc: Document) -> set[str]:
        return set().union(*(c.media_ids(doc) for c in self.commands))

    def frames(self) -> set[int | None]:
        return set().union(*(c.frames() for c in self.commands))
