"""The document: a project's media, label schema, annotations, tracks and label maps.

Every edit is a :mod:`~app.core.commands` command run through :meth:`Document.execute`,
which commits it to the project store in its own transaction (there is no Save), appends it to
the audit trail and keeps it for undo/redo. Views subscribe to :class:`Change` events and
redraw because the model changed. Annotations are loaded per media item on first use, so a
project with millions of annotations opens in the time it takes to read its media list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.commands import Command
from app.core.errors import StoreError, VellumError
from app.core.identity import author, utc_now
from app.core.labelmap import LabelMapInfo, pack_slice, unpack_slice
from app.core.media import MediaItem, MediaKind
from app.core.schema import LabelSchema
from app.core.shapes import Mask
from app.core.store import Store

UNDO_LIMIT = 1000


@dataclass(frozen=True)
class Change:
    """What one command changed. ``kind`` is 'annotations' | 'tracks' | 'media' | 'schema' |
    'labelmap' | 'reset'; ``media_ids`` the media items touched; ``ids`` the objects."""

    kind: str
    media_ids: frozenset[str] = frozenset()
    ids: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[list[Change]], None]


class _MediaAnnotations:
    """The loaded annotations of one media item, by id and by place (frame, plane), so that
    showing one video frame does not scan every annotation of the video."""

    def __init__(self, anns: Iterable[Annotation]) -> None:
        self.by_id: dict[str, Annotation] = {}
        self.by_place: dict[tuple[int | None, str | None], dict[str, Annotation]] = {}
        for a in anns:
            self.put(a)

    def put(self, a: Annotation) -> None:
        self.pop(a.id)
        self.by_id[a.id] = a
        self.by_place.setdefault((a.frame, a.plane), {})[a.id] = a

    def pop(self, annotation_id: str) -> None:
        old = self.by_id.pop(annotation_id, None)
        if old is not None:
            place = self.by_place[(old.frame, old.plane)]
            del place[annotation_id]
            if not place:
                del self.by_place[(old.frame, old.plane)]


class Document:
    """An open project. Create with :meth:`create` or :meth:`open`; close when done."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._schema = store.load_schema()
        self._media: dict[str, MediaItem] = {m.id: m for m in store.load_media(True)}
        self._anns: dict[str, _MediaAnnotations] = {}
        self._slices: dict[tuple[str, int], np.ndarray] = {}
        self._labelmaps: dict[str, LabelMapInfo] = {i.id: i for i in store.load_labelmaps()}
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._listeners: list[Listener] = []

    # ---------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, path: str | Path, name: str | None = None) -> Document:
        return cls(Store.create(path, name))

    @classmethod
    def open(cls, path: str | Path) -> Document:
        return cls(Store.open(path))

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Document:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def author(self) -> str:
        """Who the audit trail records for edits made now (see :func:`identity.author`)."""
        return author()

    @property
    def store(self) -> Store:
        return self._store

    @property
    def path(self) -> Path:
        """The project's SQLite file."""
        return self._store.path

    @property
    def folder(self) -> Path:
        """The folder media paths are relative to."""
        return self._store.path.parent

    @property
    def name(self) -> str:
        return self._store.meta().get("name", self.folder.name)

    # ---------------------------------------------------------------- reading
    @property
    def schema(self) -> LabelSchema:
        return self._schema

    def media(self, include_removed: bool = False) -> list[MediaItem]:
        """Media items in project order."""
        items = sorted(self._media.values(), key=lambda m: (m.position, m.added))
        return items if include_removed else [m for m in items if not m.removed]

    def media_item(self, media_id: str) -> MediaItem:
        try:
            return self._media[media_id]
        except KeyError:
            raise VellumError(f"No media item {media_id} in {self.path}.") from None

    def media_path(self, item: MediaItem) -> Path:
        """Absolute path of a media item's file or folder."""
        p = Path(item.path)
        return p if p.is_absolute() else (self.folder / p)

    def next_position(self) -> int:
        return max((m.position for m in self._media.values()), default=-1) + 1

    def _loaded(self, media_id: str) -> _MediaAnnotations:
        if media_id not in self._anns:
            self._anns[media_id] = _MediaAnnotations(self._store.load_annotations(media_id))
        return self._anns[media_id]

    def annotations(self, media_id: str, frame: int | None = None, plane: str | None = None,
                    *, all_frames: bool = False) -> list[Annotation]:
        """Annotations on one media item, in z order. By default those at ``frame``/``plane``
        (``None``: a still image, or media-level tags and events); ``all_frames`` gives all."""
        loaded = self._loaded(media_id)
        anns = loaded.by_id if all_frames else loaded.by_place.get((frame, plane), {})
        return sorted(anns.values(), key=lambda a: (a.z, a.created))

    def annotation(self, media_id: str, annotation_id: str) -> Annotation | None:
        return self._loaded(media_id).by_id.get(annotation_id)

    def labelled_frames(self, media_id: str, plane: str | None = None) -> list[int]:
        """Frame (or slice) indices that carry annotations, sorted."""
        return sorted(f for f, p in self._loaded(media_id).by_place if f is not None and
                      p == plane)

    def tracks(self, media_id: str) -> list[Track]:
        return self._store.load_tracks(media_id)

    def annotation_counts(self) -> dict[str, int]:
        return self._store.annotation_counts()

    def iter_annotations(self) -> Iterable[Annotation]:
        """Every stored annotation, grouped by media (exporters use this)."""
        return self._store.iter_annotations()

    def labelmaps(self, media_id: str) -> list[LabelMapInfo]:
        return [i for i in self._labelmaps.values() if i.media_id == media_id]

    def labelmap_info(self, labelmap_id: str) -> LabelMapInfo:
        return self._labelmaps[labelmap_id]

    def labelmap_slice(self, labelmap_id: str, k: int) -> np.ndarray:
        """One k-slice of a label map (a read-only view; zeros where never painted)."""
        key = (labelmap_id, k)
        if key not in self._slices:
            info = self._labelmaps[labelmap_id]
            blob = self._store.load_slice_blob(labelmap_id, k)
            arr = (np.zeros(info.slice_shape(), info.dtype) if blob is None
                   else unpack_slice(blob, info))
            arr.flags.writeable = False
            self._slices[key] = arr
        return self._slices[key]

    def labelmap_region(self, labelmap_id: str, start: tuple[int, int, int],
                        shape: tuple[int, int, int]) -> np.ndarray:
        """A copy of the voxels in the box ``start`` (k, j, i) of ``shape``."""
        (k0, j0, i0), (dk, dj, di) = start, shape
        return np.stack([self.labelmap_slice(labelmap_id, k)[j0:j0 + dj, i0:i0 + di]
                         for k in range(k0, k0 + dk)]) if dk else np.zeros(
            (0, dj, di), self._labelmaps[labelmap_id].dtype)

    def labelmap_volume(self, labelmap_id: str) -> np.ndarray:
        info = self._labelmaps[labelmap_id]
        return self.labelmap_region(labelmap_id, (0, 0, 0), info.shape)

    # ---------------------------------------------------------------- editing
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(changes)`` after every executed, undone or redone command."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def execute(self, command: Command) -> None:
        """Apply ``command``, commit it to disk, and make it undoable."""
        self._run(command, command.action)
        self._undo.append(command)
        del self._undo[:-UNDO_LIMIT]
        self._redo.clear()

    def undo(self) -> bool:
        if not self._undo:
            return False
        command = self._undo[-1]
        self._run(command.inverse(), "undo " + command.action)
        self._redo.append(self._undo.pop())
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        command = self._redo[-1]
        self._run(command, "redo " + command.action)
        self._undo.append(self._redo.pop())
        return True

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    def _run(self, command: Command, action: str) -> None:
        try:
            with self._store.transaction():
                changes = command.apply(self)
                self._store.log(action, command.detail(), self.author)
        except BaseException:
            self._reload_caches()
            raise
        for listener in list(self._listeners):
            listener(changes)

    def _reload_caches(self) -> None:
        """After a failed command: drop what may be ahead of the disk."""
        self._schema = self._store.load_schema()
        self._media = {m.id: m for m in self._store.load_media(True)}
        self._labelmaps = {i.id: i for i in self._store.load_labelmaps()}
        self._anns.clear()
        self._slices.clear()

    def edited(self, annotation: Annotation, **changes: Any) -> Annotation:
        """``annotation`` with ``changes`` applied and its modified time set to now."""
        return replace(annotation, modified=utc_now(), **changes)

    # ---------------------------------------------------------------- writes (commands only)
    def check_annotation(self, a: Annotation) -> None:
        """Raise ValueError when ``a`` does not fit its media item or the schema."""
        item = self._media.get(a.media_id)
        if item is None:
            raise ValueError(f"annotation {a.id} refers to unknown media {a.media_id}")
        if a.class_id is not None:
            cls = self._schema.class_by_id(a.class_id)
            if cls is None:
                raise ValueError(f"annotation {a.id} has a class that is not in the schema")
            if not cls.allows(a.kind):
                raise ValueError(f"class {cls.name!r} does not allow {a.kind} shapes")
        if a.frame is not None and item.kind is not MediaKind.IMAGE and a.plane is None and (
                a.frame >= item.frames):
            raise ValueError(f"frame {a.frame} is past the end of {item.name} "
                             f"({item.frames} frames)")
        if isinstance(a.shape, Mask) and (a.shape.rle.height, a.shape.rle.width) != (
                item.height, item.width) and a.plane is None:
            raise ValueError(f"mask size {a.shape.rle.width}x{a.shape.rle.height} differs from "
                             f"{item.name} ({item.width}x{item.height})")

    def write_annotations(self, anns: Iterable[Annotation], check: bool = True) -> list[Change]:
        anns = tuple(anns)
        if check:
            for a in anns:
                self.check_annotation(a)
        self._store.put_annotations(anns)
        media_ids = set()
        for a in anns:
            media_ids.add(a.media_id)
            if a.media_id in self._anns:
                self._anns[a.media_id].put(a)
        return [Change("annotations", frozenset(media_ids), tuple(a.id for a in anns))]

    def erase_annotations(self, anns: Iterable[Annotation]) -> list[Change]:
        anns = tuple(anns)
        self._store.delete_annotations(a.id for a in anns)
        for a in anns:
            if a.media_id in self._anns:
                self._anns[a.media_id].pop(a.id)
        return [Change("annotations", frozenset(a.media_id for a in anns),
                       tuple(a.id for a in anns))]

    def write_tracks(self, tracks: Iterable[Track]) -> list[Change]:
        tracks = tuple(tracks)
        for t in tracks:
            if t.media_id not in self._media:
                raise ValueError(f"track {t.id} refers to unknown media {t.media_id}")
        self._store.put_tracks(tracks)
        return [Change("tracks", frozenset(t.media_id for t in tracks),
                       tuple(t.id for t in tracks))]

    def erase_tracks(self, tracks: Iterable[Track]) -> list[Change]:
        tracks = tuple(tracks)
        self._store.delete_tracks(t.id for t in tracks)
        return [Change("tracks", frozenset(t.media_id for t in tracks),
                       tuple(t.id for t in tracks))]

    def write_media(self, items: Iterable[MediaItem]) -> list[Change]:
        items = tuple(items)
        self._store.put_media(items)
        self._media.update((m.id, m) for m in items)
        return [Change("media", frozenset(m.id for m in items), tuple(m.id for m in items))]

    def erase_media(self, items: Iterable[MediaItem]) -> list[Change]:
        items = tuple(items)
        ids = [m.id for m in items]
        if any(self._store.annotation_counts().get(i) for i in ids):
            raise StoreError("Cannot drop media that still has annotations.", self.path)
        self._store.delete_media(ids)
        for i in ids:
            self._media.pop(i, None)
            self._anns.pop(i, None)
        return [Change("media", frozenset(ids), tuple(ids))]

    def class_usage(self, class_id: str) -> int:
        """How many annotations and tracks use a class (a class in use cannot be removed)."""
        return self._store.class_usage(class_id)

    def write_schema(self, schema: LabelSchema) -> list[Change]:
        kept = {c.id for c in schema.classes}
        for cls in self._schema.classes:
            if cls.id not in kept and (n := self.class_usage(cls.id)):
                raise ValueError(f"class {cls.name!r} is used by {n} annotation(s); relabel or "
                                 "delete them before removing the class")
        self._store.save_schema(schema)
        self._schema = schema
        return [Change("schema")]

    def write_labelmap_info(self, info: LabelMapInfo) -> list[Change]:
        if info.media_id not in self._media:
            raise ValueError(f"label map {info.id} refers to unknown media {info.media_id}")
        self._store.put_labelmap(info)
        self._labelmaps[info.id] = info
        return [Change("labelmap", frozenset({info.media_id}), (info.id,))]

    def erase_labelmap(self, info: LabelMapInfo) -> list[Change]:
        self._store.delete_labelmap(info.id)
        self._labelmaps.pop(info.id, None)
        for key in [k for k in self._slices if k[0] == info.id]:
            del self._slices[key]
        return [Change("labelmap", frozenset({info.media_id}), (info.id,))]

    def write_labelmap_region(self, labelmap_id: str, start: tuple[int, int, int],
                              values: np.ndarray) -> list[Change]:
        info = self._labelmaps[labelmap_id]
        k0, j0, i0 = start
        dk, dj, di = values.shape
        if k0 < 0 or j0 < 0 or i0 < 0 or k0 + dk > info.depth or j0 + dj > info.height or (
                i0 + di > info.width):
            raise ValueError("paint region lies outside the label map")
        for n in range(dk):
            k = k0 + n
            patched = self.labelmap_slice(labelmap_id, k).copy()
            patched[j0:j0 + dj, i0:i0 + di] = values[n]
            self._store.put_slice_blob(labelmap_id, k,
                                       pack_slice(patched) if patched.any() else None)
            patched.flags.writeable = False
            self._slices[(labelmap_id, k)] = patched
        return [Change("labelmap", frozenset({info.media_id}), (labelmap_id,),
                       {"start": start, "shape": values.shape})]
