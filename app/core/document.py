"""The document: a project's media, label schema, annotations, tracks and label maps.

Every edit is a :mod:`~app.core.commands` command run through :meth:`Document.execute`,
which validates it at the door (:mod:`app.core.rules`), commits it to the project store in its
own transaction (there is no Save), appends it to the audit trail and keeps it for undo/redo.
Views subscribe to :class:`Change` events and redraw because the model changed. Annotations are
loaded per media item on first use, so a project with millions of annotations opens in the time
it takes to read its media list; label maps are read brick by brick through a bounded cache.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

import numpy as np

from app.core import rules
from app.core.annotations import Annotation, Track
from app.core.commands import Command
from app.core.errors import RefusedEdit, VellumError
from app.core.identity import author, utc_now
from app.core.labelmap import (DEFAULT_CACHE_BYTES, BrickCache, BrickKey, LabelMapInfo, Mode,
                               Region, apply_mode, bricks_of, brick_shape, pack_brick,
                               unpack_brick, BRICK)
from app.core.media import FrameTimes, MediaItem, MediaKind, MediaStatus
from app.core.places import Place
from app.core.schema import LabelSchema
from app.core.store import Store

UNDO_LIMIT = 1000

Record = Union[Annotation, Track, MediaItem, LabelMapInfo, FrameTimes]
# Kinds in the order a Put writes them (what others refer to first) - Remove goes backwards.
_KINDS: tuple[tuple[type, str], ...] = ((MediaItem, "media"), (FrameTimes, "frame_times"),
                                        (Track, "tracks"), (LabelMapInfo, "labelmap"),
                                        (Annotation, "annotations"))


@dataclass(frozen=True)
class Change:
    """What one command changed. ``kind`` is 'annotations' | 'tracks' | 'media' | 'schema' |
    'labelmap' | 'frame_times'; ``media_ids`` the media items touched; ``ids`` the objects;
    for label maps, ``extra`` holds the voxel box written (``start``, ``shape``)."""

    kind: str
    media_ids: frozenset[str] = frozenset()
    ids: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[list[Change]], None]


class _MediaAnnotations:
    """The loaded annotations of one media item, by id, by place and by (track, frame), so
    that showing one video frame does not scan every annotation of the video."""

    def __init__(self, anns: Iterable[Annotation]) -> None:
        self.by_id: dict[str, Annotation] = {}
        self.by_place: dict[Place, dict[str, Annotation]] = {}
        self.by_track_frame: dict[tuple[str, int | None], str] = {}
        for a in anns:
            self.put(a)

    def put(self, a: Annotation) -> None:
        self.pop(a.id)
        self.by_id[a.id] = a
        self.by_place.setdefault(a.place, {})[a.id] = a
        if a.track_id is not None:
            self.by_track_frame[(a.track_id, a.frame)] = a.id

    def pop(self, annotation_id: str) -> None:
        old = self.by_id.pop(annotation_id, None)
        if old is None:
            return
        place = self.by_place[old.place]
        del place[annotation_id]
        if not place:
            del self.by_place[old.place]
        if old.track_id is not None:
            self.by_track_frame.pop((old.track_id, old.frame), None)


class Document:
    """An open project. Create with :meth:`create` or :meth:`open`; close when done.
    ``cache_bytes`` bounds the decompressed label-map bricks kept in memory."""

    def __init__(self, store: Store, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self._store = store
        self._bricks = BrickCache(cache_bytes)
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._listeners: list[Listener] = []
        self._reload_caches()

    # ---------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, path: str | Path, name: str | None = None, **kwargs: Any) -> Document:
        return cls(Store.create(path, name), **kwargs)

    @classmethod
    def open(cls, path: str | Path, **kwargs: Any) -> Document:
        return cls(Store.open(path), **kwargs)

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

    def frame_times(self, media_id: str) -> FrameTimes | None:
        """Presentation times of every frame of a video (None until its decoder filled them)."""
        return self._store.load_frame_times(media_id)

    def _loaded(self, media_id: str) -> _MediaAnnotations:
        if media_id not in self._anns:
            self._anns[media_id] = _MediaAnnotations(self._store.load_annotations(media_id))
        return self._anns[media_id]

    def annotations(self, where: Place | str, frame: int | None = None, *,
                    all_frames: bool = False) -> list[Annotation]:
        """Annotations at one place, in z order: ``where`` is a :class:`Place`, or a media id
        (with ``frame`` for a video frame; neither for a still image or media-level tags and
        events). ``all_frames`` gives every annotation of the media item."""
        place = where if isinstance(where, Place) else Place(where, frame)
        loaded = self._loaded(place.media_id)
        anns = loaded.by_id if all_frames else loaded.by_place.get(place, {})
        return sorted(anns.values(), key=lambda a: (a.z, a.created))

    def annotation(self, media_id: str, annotation_id: str) -> Annotation | None:
        return self._loaded(media_id).by_id.get(annotation_id)

    def places(self, media_id: str) -> list[Place]:
        """Places of a media item that carry annotations, sorted."""
        return sorted(self._loaded(media_id).by_place,
                      key=lambda p: (p.frame is None, p.frame or 0, p.axis or "", p.index or 0))

    def labelled_frames(self, media_id: str) -> list[int]:
        """Video frame indices that carry annotations, sorted."""
        return sorted({p.frame for p in self._loaded(media_id).by_place if p.frame is not None})

    def tracks(self, media_id: str) -> list[Track]:
        return sorted((t for t in self._tracks.values() if t.media_id == media_id),
                      key=lambda t: (t.created, t.id))

    def track(self, track_id: str) -> Track | None:
        return self._tracks.get(track_id)

    def track_shapes(self, track: Track) -> list[Annotation]:
        """The stored shapes of a track (keyframes and tracker output), by frame."""
        anns = self._loaded(track.media_id).by_id.values()
        return sorted((a for a in anns if a.track_id == track.id), key=lambda a: a.frame or 0)

    def annotation_counts(self) -> dict[str, int]:
        return self._store.annotation_counts()

    def iter_annotations(self) -> Iterable[Annotation]:
        """Every stored annotation, grouped by media (exporters use this)."""
        return self._store.iter_annotations()

    def class_usage(self, class_id: str) -> int:
        """How many annotations, tracks and segments use a class (such a class stays)."""
        return self._store.class_usage(class_id)

    # ---- the view the door checks read (rules.DocumentView)
    def stored_media(self, media_id: str) -> MediaItem | None:
        return self._media.get(media_id)

    def stored_track(self, track_id: str) -> Track | None:
        return self._tracks.get(track_id)

    # ---------------------------------------------------------------- label maps
    def labelmaps(self, media_id: str) -> list[LabelMapInfo]:
        return [i for i in self._labelmaps.values() if i.media_id == media_id]

    def labelmap_info(self, labelmap_id: str) -> LabelMapInfo:
        try:
            return self._labelmaps[labelmap_id]
        except KeyError:
            raise RefusedEdit(f"There is no label map {labelmap_id} in {self.path}.") from None

    @property
    def brick_cache(self) -> BrickCache:
        """Decompressed label-map bricks in memory (``bytes``, ``peak_bytes``, ``max_bytes``)."""
        return self._bricks

    def _brick(self, info: LabelMapInfo, key: BrickKey) -> np.ndarray | None:
        found, brick = self._bricks.get(info.id, key)
        if not found:
            blob = self._store.load_brick(info.id, key)
            brick = None if blob is None else unpack_brick(blob, info, key)
            self._bricks.put(info.id, key, brick)
        return brick

    def labelmap_region(self, labelmap_id: str, start: tuple[int, int, int],
                        shape: tuple[int, int, int]) -> np.ndarray:
        """A new array with the voxels of the box at ``start`` (k, j, i) of ``shape``
        (zeros where never painted)."""
        info = self.labelmap_info(labelmap_id)
        region = Region(tuple(start), tuple(shape))  # type: ignore[arg-type]
        if not region.inside(info.shape):
            raise RefusedEdit(f"The box {list(start)}+{list(shape)} lies outside label map "
                              f"{info.name!r} ({'x'.join(map(str, info.shape))} voxels).")
        out = np.zeros(region.shape, info.dtype)
        for key in bricks_of(region):
            brick = self._brick(info, key)
            if brick is None:
                continue
            dst, src = _overlap(region, key, brick.shape)
            out[dst] = brick[src]
        return out

    def labelmap_plane(self, labelmap_id: str, axis: str, index: int) -> np.ndarray:
        """The picture of slice ``index`` along array axis ``axis`` (k: [j, i], j: [k, i],
        i: [k, j]; see :mod:`app.core.places`)."""
        info = self.labelmap_info(labelmap_id)
        start = [0, 0, 0]
        shape = list(info.shape)
        a = "kji".index(axis)
        start[a], shape[a] = index, 1
        return self.labelmap_region(labelmap_id, tuple(start), tuple(shape)).squeeze(a)  # type: ignore

    def labelmap_volume(self, labelmap_id: str) -> np.ndarray:
        info = self.labelmap_info(labelmap_id)
        return self.labelmap_region(labelmap_id, (0, 0, 0), info.shape)

    # ---------------------------------------------------------------- editing
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(changes)`` after every executed, undone or redone command."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def execute(self, command: Command) -> None:
        """Validate and apply ``command``, commit it to disk, and make it undoable. A refused
        command (:class:`RefusedEdit`) changes nothing."""
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

    @property
    def undo_command(self) -> Command | None:
        """The command :meth:`undo` would revert (for views that show where it happened)."""
        return self._undo[-1] if self._undo else None

    @property
    def redo_command(self) -> Command | None:
        return self._redo[-1] if self._redo else None

    def media_of(self, command: Command) -> set[str]:
        """The media items a command touches (so that a view can show an item before undoing
        an edit made on it, as CVAT and Slicer do)."""
        from app.core import commands as c

        if isinstance(command, c.Batch):
            return set().union(*(self.media_of(x) for x in command.commands))
        if isinstance(command, (c.Put, c.Remove, c._Restore)):
            out = set()
            for r in command.records:
                out.add(r.id if isinstance(r, MediaItem) else r.media_id)
            return out
        if isinstance(command, (c.ModifyLabelMap, c._WriteVoxels)):
            info = self._labelmaps.get(command.labelmap_id)
            return {info.media_id} if info else set()
        return set()

    def view_state(self) -> dict[str, Any]:
        """What the window last showed (media item, place, zoom...), kept in the project so
        that reopening starts where the user left. Not an edit: no undo, no audit entry."""
        import json

        try:
            return json.loads(self._store.meta().get("view_state", "{}"))
        except ValueError:
            return {}

    def save_view_state(self, state: dict[str, Any]) -> None:
        import json

        with self._store.transaction():
            self._store.set_meta("view_state", json.dumps(state))

    def refresh_if_changed(self) -> bool:
        """Reload from disk if another process committed since we last looked (a read-only
        window beside a CLI job); returns whether anything was reloaded."""
        if self._store.changed_elsewhere():
            self._reload_caches()
            for listener in list(self._listeners):
                listener([Change("reset")])
            return True
        return False

    def _run(self, command: Command, action: str) -> None:
        try:
            with self._store.transaction():
                changes = command.apply(self)
                changes = [*changes, *self._mark_started(changes)]
                self._store.log(action, command.detail(), self.author)
        except BaseException:
            self._reload_caches()
            raise
        for listener in list(self._listeners):
            listener(changes)

    def _mark_started(self, changes: list[Change]) -> list[Change]:
        """The first edit of an item's labels (shapes, tracks, voxels; from the window, an
        import or a job alike) moves it from Unlabeled to In progress, in the same
        transaction. As CVAT's job state, it is not part of the undo step: undoing that edit
        leaves the item In progress (someone has started it)."""
        touched = {m for c in changes for m in c.media_ids
                   if c.kind in ("annotations", "tracks")
                   or (c.kind == "labelmap" and "start" in c.extra)}  # voxels, not segments
        items = [replace(self._media[m], status=MediaStatus.IN_PROGRESS) for m in touched
                 if m in self._media and self._media[m].status == MediaStatus.UNLABELED]
        if not items:
            return []
        self._store.put_media(items)
        self._media.update((m.id, m) for m in items)
        return [Change("media", frozenset(m.id for m in items), tuple(m.id for m in items))]

    def _reload_caches(self) -> None:
        """On open, and after a failed command: drop what may be ahead of the disk."""
        self._schema = self._store.load_schema()
        self._media = {m.id: m for m in self._store.load_media(True)}
        self._tracks = {t.id: t for t in self._store.load_tracks()}
        self._labelmaps = {i.id: i for i in self._store.load_labelmaps()}
        self._anns: dict[str, _MediaAnnotations] = {}
        self._bricks.drop()

    def edited(self, annotation: Annotation, **changes: Any) -> Annotation:
        """``annotation`` with ``changes`` applied and its modified time set to now."""
        return replace(annotation, modified=utc_now(), **changes)

    # ---------------------------------------------------------------- writes (commands only)
    def put(self, records: Iterable[Record]) -> tuple[list[Record], list[Change]]:
        """Store records after checking each at the door; returns the stored values they
        replaced and the changes. Call only from a command (inside its transaction)."""
        groups: dict[type, list[Any]] = defaultdict(list)
        for r in records:
            groups[type(r)].append(r)
        unknown = set(groups) - {t for t, _ in _KINDS}
        if unknown:
            raise TypeError(f"cannot store {sorted(t.__name__ for t in unknown)}")
        replaced: list[Record] = []
        changes: list[Change] = []
        for kind, _ in _KINDS:
            if groups.get(kind):
                before, change = getattr(self, f"_put_{kind.__name__.lower()}")(groups[kind])
                replaced.extend(before)
                changes.append(change)
        return replaced, changes

    def remove(self, records: Iterable[Record]
               ) -> tuple[list[Record], dict[str, dict[BrickKey, bytes]], list[Change]]:
        """Delete records; returns the stored values removed, the removed label maps' bricks
        and the changes. Call only from a command."""
        groups: dict[type, list[Any]] = defaultdict(list)
        for r in records:
            groups[type(r)].append(r)
        removed: list[Record] = []
        voxels: dict[str, dict[BrickKey, bytes]] = {}
        changes: list[Change] = []
        for kind, _ in reversed(_KINDS):
            if groups.get(kind):
                gone, change = getattr(self, f"_remove_{kind.__name__.lower()}")(
                    groups[kind], voxels)
                removed.extend(gone)
                changes.append(change)
        return removed, voxels, changes

    # ---- annotations
    def _put_annotation(self, anns: list[Annotation]) -> tuple[list[Annotation], Change]:
        for a in anns:
            rules.check_annotation(self, a)
        anns = self._with_frame_times(anns)
        before: list[Annotation] = []
        by_media: dict[str, list[Annotation]] = defaultdict(list)
        for a in anns:
            by_media[a.media_id].append(a)
        stored_elsewhere = {a.id: a for a in self._store.get_annotations(
            a.id for a in anns if a.id not in self._loaded(a.media_id).by_id)}
        for media_id, group in by_media.items():
            loaded = self._loaded(media_id)
            self._check_one_per_track_frame(loaded, group)
            before.extend(loaded.by_id[a.id] for a in group if a.id in loaded.by_id)
        for a in anns:
            old = stored_elsewhere.get(a.id)
            if old is not None:  # moved onto another media item
                before.append(old)
                if old.media_id in self._anns:
                    self._anns[old.media_id].pop(old.id)
        self._store.put_annotations(anns)
        for a in anns:
            self._loaded(a.media_id).put(a)
        media_ids = {a.media_id for a in anns} | {a.media_id for a in before}
        return before, Change("annotations", frozenset(media_ids), tuple(a.id for a in anns))

    @staticmethod
    def _check_one_per_track_frame(loaded: _MediaAnnotations, group: list[Annotation]) -> None:
        ids = {a.id for a in group}
        seen: dict[tuple[str, int | None], str] = {}
        for a in group:
            if a.track_id is None:
                continue
            key = (a.track_id, a.frame)
            if key in seen or ((other := loaded.by_track_frame.get(key)) is not None
                               and other != a.id and other not in ids):
                raise RefusedEdit(f"Track {a.track_id[:8]} already has a shape on frame "
                                  f"{a.frame}; a track has one shape per frame (edit that one).")
            seen[key] = a.id

    def _with_frame_times(self, anns: list[Annotation]) -> list[Annotation]:
        """Video annotations get their frame's presentation time (s) beside the index."""
        frames: dict[str, set[int]] = defaultdict(set)
        for a in anns:
            if a.frame is not None and self._media[a.media_id].kind is MediaKind.VIDEO:
                frames[a.media_id].add(a.frame)
        if not frames:
            return anns
        times = {m: self._store.frame_seconds(m, f) for m, f in frames.items()}
        return [replace(a, timestamp=t) if a.frame is not None and (
            t := times.get(a.media_id, {}).get(a.frame)) is not None and a.timestamp != t
                else a for a in anns]

    def _remove_annotation(self, anns: list[Annotation], _: Any) -> tuple[list[Annotation], Change]:
        stored = self._store.get_annotations(a.id for a in anns)
        self._store.delete_annotations(a.id for a in stored)
        for a in stored:
            if a.media_id in self._anns:
                self._anns[a.media_id].pop(a.id)
        return stored, Change("annotations", frozenset(a.media_id for a in stored),
                              tuple(a.id for a in stored))

    # ---- tracks
    def _put_track(self, tracks: list[Track]) -> tuple[list[Track], Change]:
        for t in tracks:
            rules.check_track(self, t)
        before = [self._tracks[t.id] for t in tracks if t.id in self._tracks]
        for old in before:
            new = next(t for t in tracks if t.id == old.id)
            if new.class_id != old.class_id or new.media_id != old.media_id:
                shapes = self._store.track_shape_ids(old.id)
                if shapes and new.media_id != old.media_id:
                    raise RefusedEdit("A track cannot move to another video with its shapes.")
                self._relabel_track_shapes(old, new.class_id)
        self._store.put_tracks(tracks)
        self._tracks.update((t.id, t) for t in tracks)
        return before, Change("tracks", frozenset(t.media_id for t in tracks),
                              tuple(t.id for t in tracks))

    def _relabel_track_shapes(self, track: Track, class_id: str | None) -> None:
        """A track's class is its shapes' class: relabel them with it (same transaction)."""
        shapes = [replace(a, class_id=class_id) for a in self.track_shapes(track)]
        cls = self._schema.class_by_id(class_id)
        for a in shapes:
            if cls is not None and not cls.allows(a.kind):
                raise RefusedEdit(f"Class {cls.name!r} does not allow the "
                                  f"{a.kind.replace('_', ' ')} shapes of this track.")
        self._store.put_annotations(shapes)
        for a in shapes:
            self._loaded(a.media_id).put(a)

    def _remove_track(self, tracks: list[Track], _: Any) -> tuple[list[Track], Change]:
        stored = [self._tracks[t.id] for t in tracks if t.id in self._tracks]
        for t in stored:
            left = self._store.track_shape_ids(t.id)
            if left:
                raise RefusedEdit(f"The track still has {len(left)} shape(s); remove them with "
                                  "it, or keep them as separate shapes (they would be orphaned).")
        self._store.delete_tracks(t.id for t in stored)
        for t in stored:
            self._tracks.pop(t.id, None)
        return stored, Change("tracks", frozenset(t.media_id for t in stored),
                              tuple(t.id for t in stored))

    # ---- media
    def _put_mediaitem(self, items: list[MediaItem]) -> tuple[list[MediaItem], Change]:
        for m in items:
            rules.check_media(self, m)
        before = [self._media[m.id] for m in items if m.id in self._media]
        self._store.put_media(items)
        self._media.update((m.id, m) for m in items)
        return before, Change("media", frozenset(m.id for m in items), tuple(m.id for m in items))

    def _remove_mediaitem(self, items: list[MediaItem], _: Any) -> tuple[list[MediaItem], Change]:
        stored = [self._media[m.id] for m in items if m.id in self._media]
        ids = [m.id for m in stored]
        counts = self._store.annotation_counts()
        for m in stored:
            if counts.get(m.id) or self.tracks(m.id) or self.labelmaps(m.id):
                raise RefusedEdit(f"{m.name} still has labels; remove it from the project "
                                  "instead (its labels are kept).")
        self._store.delete_media(ids)
        for i in ids:
            self._media.pop(i, None)
            self._anns.pop(i, None)
        return stored, Change("media", frozenset(ids), tuple(ids))

    # ---- frame times
    def _put_frametimes(self, times: list[FrameTimes]) -> tuple[list[FrameTimes], Change]:
        before = []
        for t in times:
            rules.check_frame_times(self, t)
            old = self._store.load_frame_times(t.media_id)
            if old is not None:
                before.append(old)
            self._store.put_frame_times(t)
        return before, Change("frame_times", frozenset(t.media_id for t in times),
                              tuple(t.media_id for t in times))

    def _remove_frametimes(self, times: list[FrameTimes], _: Any
                           ) -> tuple[list[FrameTimes], Change]:
        stored = [s for t in times if (s := self._store.load_frame_times(t.media_id))]
        self._store.delete_frame_times(t.media_id for t in stored)
        return stored, Change("frame_times", frozenset(t.media_id for t in stored),
                              tuple(t.media_id for t in stored))

    # ---- label maps
    def _put_labelmapinfo(self, infos: list[LabelMapInfo]) -> tuple[list[LabelMapInfo], Change]:
        for info in infos:
            rules.check_labelmap(self, info)
            old = self._labelmaps.get(info.id)
            if old is not None and (old.shape, old.dtype) != (info.shape, info.dtype):
                raise RefusedEdit(f"Label map {info.name!r} cannot change its shape or type.")
            if old is not None:
                gone = {s.value for s in old.segments} - {s.value for s in info.segments}
                if gone and self._values_present(info, gone):
                    raise RefusedEdit(f"Segment value(s) {sorted(gone)} of {info.name!r} are "
                                      "still painted; erase them before removing the segment.")
        before = [self._labelmaps[i.id] for i in infos if i.id in self._labelmaps]
        for info in infos:
            self._store.put_labelmap(info)
            self._labelmaps[info.id] = info
        return before, Change("labelmap", frozenset(i.media_id for i in infos),
                              tuple(i.id for i in infos))

    def _values_present(self, info: LabelMapInfo, values: set[int]) -> bool:
        for key, blob in self._store.load_bricks(info.id).items():
            if np.isin(unpack_brick(blob, info, key), list(values)).any():
                return True
        return False

    def _remove_labelmapinfo(self, infos: list[LabelMapInfo],
                             voxels: dict[str, dict[BrickKey, bytes]]
                             ) -> tuple[list[LabelMapInfo], Change]:
        stored = [self._labelmaps[i.id] for i in infos if i.id in self._labelmaps]
        for info in stored:
            voxels[info.id] = self._store.load_bricks(info.id)
            self._store.delete_labelmap(info.id)
            self._labelmaps.pop(info.id, None)
            self._bricks.drop(info.id)
        return stored, Change("labelmap", frozenset(i.media_id for i in stored),
                              tuple(i.id for i in stored))

    def restore_bricks(self, labelmap_id: str, bricks: dict[BrickKey, bytes]) -> None:
        """Put a removed label map's stored bricks back (undo of its removal)."""
        self._store.put_bricks(labelmap_id, dict(bricks))
        self._bricks.drop(labelmap_id)

    def modify_labelmap(self, labelmap_id: str, start: tuple[int, int, int],
                        modifier: np.ndarray, mode: Mode, value: int,
                        where: np.ndarray | None = None
                        ) -> tuple[tuple[int, int, int], np.ndarray, int, list[Change]]:
        """The one entry point for label-map edits (see :class:`~app.core.commands.ModifyLabelMap`).
        Reads the old voxels itself; returns the start and old values of the changed voxels'
        bounding box (for undo), how many voxels changed, and the changes."""
        info = self.labelmap_info(labelmap_id)
        if mode is not Mode.ERASE or value:
            if info.segment(value) is None:
                raise RefusedEdit(f"Label map {info.name!r} has no segment with value {value}; "
                                  "add the segment first.")
        old = self.labelmap_region(labelmap_id, start, modifier.shape)  # checks the box
        new = apply_mode(old, modifier, mode, value, where)
        changed = old != new
        box = Region.around(changed)
        if box is None:
            return tuple(start), old[:0, :0, :0], 0, []  # type: ignore[return-value]
        at = tuple(s + b for s, b in zip(start, box.start))
        self._write_region(info, Region(at, box.shape), new[box.slices])  # type: ignore[arg-type]
        return at, old[box.slices].copy(), int(changed.sum()), [  # type: ignore[return-value]
            Change("labelmap", frozenset({info.media_id}), (labelmap_id,),
                   {"start": at, "shape": box.shape})]

    def write_voxels(self, labelmap_id: str, start: tuple[int, int, int], values: np.ndarray
                     ) -> tuple[np.ndarray, list[Change]]:
        """Set the box at ``start`` to ``values`` (undo/redo of a modify); returns the old
        values there and the changes."""
        info = self.labelmap_info(labelmap_id)
        old = self.labelmap_region(labelmap_id, start, values.shape)
        if values.dtype != np.dtype(info.dtype):
            raise RefusedEdit(f"Voxel values for {info.name!r} must be {info.dtype}.")
        self._write_region(info, Region(tuple(start), values.shape), values)  # type: ignore
        return old, [Change("labelmap", frozenset({info.media_id}), (labelmap_id,),
                            {"start": tuple(start), "shape": values.shape})]

    def _write_region(self, info: LabelMapInfo, region: Region, values: np.ndarray) -> None:
        """Patch every brick the region touches and store those bricks (compressed, or
        deleted when all background). Inside the caller's transaction."""
        out: dict[BrickKey, bytes | None] = {}
        patched: dict[BrickKey, np.ndarray | None] = {}
        for key in bricks_of(region):
            brick = self._brick(info, key)
            shape = brick_shape(info, key)
            brick = np.zeros(shape, info.dtype) if brick is None else brick.copy()
            dst, src = _overlap(region, key, shape)
            brick[src] = values[dst]
            if brick.any():
                out[key] = pack_brick(brick)
                patched[key] = brick
            else:
                out[key] = None
                patched[key] = None
        self._store.put_bricks(info.id, out)
        for key, brick in patched.items():
            self._bricks.put(info.id, key, brick)

    # ---- schema
    def write_schema(self, schema: LabelSchema) -> list[Change]:
        kept = {c.id for c in schema.classes}
        for cls in self._schema.classes:
            if cls.id not in kept and (n := self.class_usage(cls.id)):
                raise RefusedEdit(f"Class {cls.name!r} is used by {n} annotation(s), track(s) "
                                  "or segment(s); relabel or delete them before removing it.")
        self._store.save_schema(schema)
        self._schema = schema
        return [Change("schema")]


def _overlap(region: Region, key: BrickKey, brick_shape: tuple[int, ...]
             ) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices of the region array and of brick ``key`` that cover the same voxels."""
    dst, src = [], []
    for s, n, b, size in zip(region.start, region.shape, key, brick_shape):
        lo = max(s, b * BRICK)
        hi = min(s + n, b * BRICK + size)
        dst.append(slice(lo - s, hi - s))
        src.append(slice(lo - b * BRICK, hi - b * BRICK))
    return tuple(dst), tuple(src)
