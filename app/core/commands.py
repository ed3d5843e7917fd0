"""Reversible edits of the document. Every change a user makes is one of these.

A command applies itself to a :class:`~app.core.document.Document` through its ``write_*``
methods and knows its inverse; the document runs it in one store transaction, logs it to the
audit trail and keeps it for undo. Label-map paints keep only the changed region, never a copy
of the volume.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.labelmap import LabelMapInfo
from app.core.media import MediaItem
from app.core.schema import LabelSchema

if TYPE_CHECKING:
    from app.core.document import Change, Document


def _ids(objs: tuple[Any, ...], limit: int = 20) -> dict[str, Any]:
    return {"count": len(objs), "ids": [o.id for o in objs[:limit]]}


class Command(ABC):
    """One undoable edit."""

    label: str = "Edit"

    @abstractmethod
    def apply(self, doc: Document) -> list[Change]:
        """Write the change (inside the document's transaction); return what changed."""

    @abstractmethod
    def inverse(self) -> Command:
        """The command that undoes this one."""

    def detail(self) -> dict[str, Any]:
        """Short JSON-able description for the history table."""
        return {}

    @property
    def action(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class AddAnnotations(Command):
    annotations: tuple[Annotation, ...]
    label: str = "Add shape"

    def apply(self, doc: Document) -> list[Change]:
        return doc.write_annotations(self.annotations, check=True)

    def inverse(self) -> Command:
        return RemoveAnnotations(self.annotations, label=self.label)

    def detail(self) -> dict[str, Any]:
        return _ids(self.annotations)


@dataclass(frozen=True)
class RemoveAnnotations(Command):
    annotations: tuple[Annotation, ...]
    label: str = "Delete shape"

    def apply(self, doc: Document) -> list[Change]:
        return doc.erase_annotations(self.annotations)

    def inverse(self) -> Command:
        return AddAnnotations(self.annotations, label=self.label)

    def detail(self) -> dict[str, Any]:
        return _ids(self.annotations)


@dataclass(frozen=True)
class UpdateAnnotations(Command):
    """Replace annotations by new values with the same ids (move, reshape, relabel, ...)."""

    before: tuple[Annotation, ...]
    after: tuple[Annotation, ...]
    label: str = "Edit shape"

    def __post_init__(self) -> None:
        if [a.id for a in self.before] != [a.id for a in self.after]:
            raise ValueError("an update must keep the same annotation ids in the same order")

    def apply(self, doc: Document) -> list[Change]:
        return doc.write_annotations(self.after, check=True)

    def inverse(self) -> Command:
        return UpdateAnnotations(self.after, self.before, label=self.label)

    def detail(self) -> dict[str, Any]:
        return _ids(self.after)


@dataclass(frozen=True)
class AddTracks(Command):
    tracks: tuple[Track, ...]
    keyframes: tuple[Annotation, ...] = ()
    label: str = "Add track"

    def apply(self, doc: Document) -> list[Change]:
        return doc.write_tracks(self.tracks) + doc.write_annotations(self.keyframes, check=True)

    def inverse(self) -> Command:
        return RemoveTracks(self.tracks, self.keyframes, label=self.label)

    def detail(self) -> dict[str, Any]:
        return _ids(self.tracks)


@dataclass(frozen=True)
class RemoveTracks(Command):
    tracks: tuple[Track, ...]
    keyframes: tuple[Annotation, ...] = ()
    label: str = "Delete track"

    def apply(self, doc: Document) -> list[Change]:
        return doc.erase_annotations(self.keyframes) + doc.erase_tracks(self.tracks)

    def inverse(self) -> Command:
        return AddTracks(self.tracks, self.keyframes, label=self.label)

    def detail(self) -> dict[str, Any]:
        return _ids(self.tracks)


@dataclass(frozen=True)
class UpdateTracks(Command):
    before: tuple[Track, ...]
    after: tuple[Track, ...]
    label: str = "Edit track"

    def apply(self, doc: Document) -> list[Change]:
        return doc.write_tracks(self.after)

    def inverse(self) -> Command:
        return UpdateTracks(self.after, self.before, label=self.label)

    def detail(self) -> dict[str, Any]:
        return _ids(self.after)


@dataclass(frozen=True)
class AddMedia(Command):
    items: tuple[MediaItem, ...]
    label: str = "Add media"

    def apply(self, doc: Document) -> list[Change]:
        return doc.write_media(self.items)

    def inverse(self) -> Command:
        return _DeleteMedia(self.items, label=self.label)

    def detail(self) -> dict[str, Any]:
        return {**_ids(self.items), "paths": [m.path for m in self.items[:20]]}


@dataclass(frozen=True)
class _DeleteMedia(Command):
    """Undo of :class:`AddMedia` only (users remove media with UpdateMedia(removed=True))."""

    items: tuple[MediaItem, ...]
    label: str = "Add media"

    def apply(self, doc: Document) -> list[Change]:
        return doc.erase_media(self.items)

    def inverse(self) -> Command:
        return AddMedia(self.items, label=self.label)

    def detail(self) -> dict[str, Any]:
        return _ids(self.items)


@dataclass(frozen=True)
class UpdateMedia(Command):
    """Change media items: status, path (relink), order, or ``removed`` (labels are kept)."""

    before: tuple[MediaItem, ...]
    after: tuple[MediaItem, ...]
    label: str = "Edit media"

    def apply(self, doc: Document) -> list[Change]:
        return doc.write_media(self.after)

    def inverse(self) -> Command:
        return UpdateMedia(self.after, self.before, label=self.label)

    def detail(self) -> dict[str, Any]:
        return {**_ids(self.after), "status": [m.status.value for m in self.after[:20]]}


@dataclass(frozen=True)
class SetSchema(Command):
    before: LabelSchema
    after: LabelSchema
    label: str = "Edit labels"

    def apply(self, doc: Document) -> list[Change]:
        return doc.write_schema(self.after)

    def inverse(self) -> Command:
        return SetSchema(self.after, self.before, label=self.label)

    def detail(self) -> dict[str, Any]:
        return {"classes": [c.name for c in self.after.classes][:50],
                "segments": [s.name for s in self.after.segments][:50]}


@dataclass(frozen=True)
class CreateLabelMap(Command):
    info: LabelMapInfo
    label: str = "New segmentation"

    def apply(self, doc: Document) -> list[Change]:
        return doc.write_labelmap_info(self.info)

    def inverse(self) -> Command:
        return _DeleteLabelMap(self.info, label=self.label)

    def detail(self) -> dict[str, Any]:
        return {"id": self.info.id, "media_id": self.info.media_id, "shape": self.info.shape}


@dataclass(frozen=True)
class _DeleteLabelMap(Command):
    """Undo of :class:`CreateLabelMap` (runs after every paint on it was undone)."""

    info: LabelMapInfo
    label: str = "New segmentation"

    def apply(self, doc: Document) -> list[Change]:
        return doc.erase_labelmap(self.info)

    def inverse(self) -> Command:
        return CreateLabelMap(self.info, label=self.label)


@dataclass(frozen=True, eq=False)
class PaintLabelMap(Command):
    """Set the voxels of a box-shaped region ``start=(k, j, i)`` from ``before`` to ``after``
    (two arrays of the region's shape). Memory held is the region only."""

    labelmap_id: str
    start: tuple[int, int, int]
    before: np.ndarray
    after: np.ndarray
    label: str = "Paint"

    def __post_init__(self) -> None:
        if self.before.shape != self.after.shape or self.before.ndim != 3:
            raise ValueError("paint before/after must be 3-D arrays of one shape")

    def apply(self, doc: Document) -> list[Change]:
        return doc.write_labelmap_region(self.labelmap_id, self.start, self.after)

    def inverse(self) -> Command:
        return PaintLabelMap(self.labelmap_id, self.start, self.after, self.before, self.label)

    def detail(self) -> dict[str, Any]:
        return {"labelmap_id": self.labelmap_id, "start": list(self.start),
                "shape": list(self.after.shape),
                "voxels_changed": int(np.count_nonzero(self.before != self.after))}


@dataclass(frozen=True)
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
        return {"steps": [c.action for c in self.commands[:50]], "count": len(self.commands)}
