"""The records of an open project in memory, and how each kind is put and removed.

The label schema, media items, tracks and label maps are held as stored; annotations through the
:class:`~app.core.annotation_index.AnnotationIndex` (read per media item on first use), voxels
through :class:`~app.core.labelmap_bricks.LabelMapBricks`. :meth:`Records.put` and
:meth:`Records.remove` are what the :class:`~app.core.commands.Put` and
:class:`~app.core.commands.Remove` commands do, kind by kind: check each record at the door
(:mod:`app.core.rules`, plus the checks that need what is stored: one shape per track frame, a
track keeps its shapes' video, a painted segment stays), write the store, then bring the memory
in step. All of it runs inside the document's transaction; after a failure the document calls
:meth:`Records.reload`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Union

from app.core import rules
from app.core.annotation_index import AnnotationIndex
from app.core.annotations import Annotation, Track
from app.core.changes import Change, ChangeKind
from app.core.errors import RefusedEdit
from app.core.labelmap import BrickKey, LabelMapInfo
from app.core.labelmap_bricks import LabelMapBricks
from app.core.media import FrameTimes, MediaItem, MediaKind, MediaStatus
from app.core.schema import LabelSchema
from app.core.store import Store

Record = Union[Annotation, Track, MediaItem, LabelMapInfo, FrameTimes]
# Kinds in the order a Put writes them (what others refer to first) - Remove goes backwards.
_KINDS: tuple[tuple[type, str], ...] = ((MediaItem, "media"), (FrameTimes, "frame_times"),
                                        (Track, "tracks"), (LabelMapInfo, "labelmap"),
                                        (Annotation, "annotations"))


def _change(kind: ChangeKind, records: list[Any]) -> Change:
    """What changed: ``records`` (annotations, tracks or label maps), on their media items."""
    return Change(kind, frozenset(r.media_id for r in records), tuple(r.id for r in records))


class Records:
    """What an open project stores, as the store has it (the view the door checks read:
    :class:`rules.DocumentView`). ``cache_bytes`` bounds the decompressed label-map bricks."""

    def __init__(self, store: Store, cache_bytes: int) -> None:
        self._store = store
        self.bricks = LabelMapBricks(store, cache_bytes)
        self.anns = AnnotationIndex(store.load_annotations)
        self.reload()

    def reload(self) -> None:
        """On open, and after a failed command: drop what may be ahead of the disk."""
        self.schema: LabelSchema = self._store.load_schema()
        self.media: dict[str, MediaItem] = {m.id: m for m in self._store.load_media(True)}
        self.tracks: dict[str, Track] = {t.id: t for t in self._store.load_tracks()}
        self.labelmaps: dict[str, LabelMapInfo] = {
            i.id: i for i in self._store.load_labelmaps()}
        self.anns.clear()
        self.bricks.drop()

    # ---- the view the door checks read (rules.DocumentView)
    def stored_media(self, media_id: str) -> MediaItem | None:
        return self.media.get(media_id)

    def stored_track(self, track_id: str) -> Track | None:
        return self.tracks.get(track_id)

    # ---- put and remove, kind by kind (inside the command's transaction)
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
            a.id for a in anns if a.id not in self.anns.of(a.media_id).by_id)}
        for media_id, group in by_media.items():
            self.anns.check_one_per_track_frame(media_id, group)
            loaded = self.anns.of(media_id)
            before.extend(loaded.by_id[a.id] for a in group if a.id in loaded.by_id)
        for a in anns:
            old = stored_elsewhere.get(a.id)
            if old is not None:  # moved onto another media item
                before.append(old)
                self.anns.discard([old])
        self._store.put_annotations(anns)
        self.anns.put(anns)
        media_ids = {a.media_id for a in anns} | {a.media_id for a in before}
        return before, Change(ChangeKind.ANNOTATIONS, frozenset(media_ids),
                              tuple(a.id for a in anns))

    def _with_frame_times(self, anns: list[Annotation]) -> list[Annotation]:
        """Video annotations get their frame's presentation time (s) beside the index."""
        frames: dict[str, set[int]] = defaultdict(set)
        for a in anns:
            if a.frame is not None and self.media[a.media_id].kind is MediaKind.VIDEO:
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
        self.anns.discard(stored)
        return stored, _change(ChangeKind.ANNOTATIONS, stored)

    # ---- tracks
    def _put_track(self, tracks: list[Track]) -> tuple[list[Track], Change]:
        for t in tracks:
            rules.check_track(self, t)
        before = [self.tracks[t.id] for t in tracks if t.id in self.tracks]
        for old in before:
            new = next(t for t in tracks if t.id == old.id)
            if new.class_id != old.class_id or new.media_id != old.media_id:
                shapes = self._store.track_shape_ids(old.id)
                if shapes and new.media_id != old.media_id:
                    raise RefusedEdit("A track cannot move to another video with its shapes.")
                self._relabel_track_shapes(old, new.class_id)
        self._store.put_tracks(tracks)
        self.tracks.update((t.id, t) for t in tracks)
        return before, _change(ChangeKind.TRACKS, tracks)

    def _relabel_track_shapes(self, track: Track, class_id: str | None) -> None:
        """A track's class is its shapes' class: relabel them with it (same transaction)."""
        shapes = [replace(a, class_id=class_id) for a in self.anns.track_shapes(track)]
        cls = self.schema.class_by_id(class_id)
        for a in shapes:
            if cls is not None and not cls.allows(a.kind):
                raise RefusedEdit(f"Class {cls.name!r} does not allow the "
                                  f"{a.kind.replace('_', ' ')} shapes of this track.")
        self._store.put_annotations(shapes)
        self.anns.put(shapes)

    def _remove_track(self, tracks: list[Track], _: Any) -> tuple[list[Track], Change]:
        stored = [self.tracks[t.id] for t in tracks if t.id in self.tracks]
        for t in stored:
            left = self._store.track_shape_ids(t.id)
            if left:
                raise RefusedEdit(f"The track still has {len(left)} shape(s); remove them with "
                                  "it, or keep them as separate shapes (they would be orphaned).")
        self._store.delete_tracks(t.id for t in stored)
        for t in stored:
            self.tracks.pop(t.id, None)
        return stored, _change(ChangeKind.TRACKS, stored)

    # ---- media
    def _put_mediaitem(self, items: list[MediaItem]) -> tuple[list[MediaItem], Change]:
        for m in items:
            rules.check_media(self, m)
        before = [self.media[m.id] for m in items if m.id in self.media]
        self._store.put_media(items)
        self.media.update((m.id, m) for m in items)
        return before, Change(ChangeKind.MEDIA, frozenset(m.id for m in items),
                              tuple(m.id for m in items))

    def _remove_mediaitem(self, items: list[MediaItem], _: Any) -> tuple[list[MediaItem], Change]:
        stored = [self.media[m.id] for m in items if m.id in self.media]
        ids = [m.id for m in stored]
        counts = self._store.annotation_counts()
        for m in stored:
            if (counts.get(m.id) or any(t.media_id == m.id for t in self.tracks.values())
                    or any(i.media_id == m.id for i in self.labelmaps.values())):
                raise RefusedEdit(f"{m.name} still has labels; remove it from the project "
                                  "instead (its labels are kept).")
        self._store.delete_media(ids)
        for i in ids:
            self.media.pop(i, None)
            self.anns.forget(i)
        return stored, Change(ChangeKind.MEDIA, frozenset(ids), tuple(ids))

    # ---- frame times
    def _put_frametimes(self, times: list[FrameTimes]) -> tuple[list[FrameTimes], Change]:
        before = []
        for t in times:
            rules.check_frame_times(self, t)
            old = self._store.load_frame_times(t.media_id)
            if old is not None:
                before.append(old)
            self._store.put_frame_times(t)
        return before, Change(ChangeKind.FRAME_TIMES, frozenset(t.media_id for t in times),
                              tuple(t.media_id for t in times))

    def _remove_frametimes(self, times: list[FrameTimes], _: Any
                           ) -> tuple[list[FrameTimes], Change]:
        stored = [s for t in times if (s := self._store.load_frame_times(t.media_id))]
        self._store.delete_frame_times(t.media_id for t in stored)
        return stored, Change(ChangeKind.FRAME_TIMES, frozenset(t.media_id for t in stored),
                              tuple(t.media_id for t in stored))

    # ---- label maps
    def _put_labelmapinfo(self, infos: list[LabelMapInfo]) -> tuple[list[LabelMapInfo], Change]:
        for info in infos:
            rules.check_labelmap(self, info)
            old = self.labelmaps.get(info.id)
            if old is not None and (old.shape, old.dtype) != (info.shape, info.dtype):
                raise RefusedEdit(f"Label map {info.name!r} cannot change its shape or type.")
            if old is not None:
                gone = {s.value for s in old.segments} - {s.value for s in info.segments}
                if gone and self.bricks.values_present(info, gone):
                    raise RefusedEdit(f"Segment value(s) {sorted(gone)} of {info.name!r} are "
                                      "still painted; erase them before removing the segment.")
        before = [self.labelmaps[i.id] for i in infos if i.id in self.labelmaps]
        for info in infos:
            self._store.put_labelmap(info)
            self.labelmaps[info.id] = info
        return before, _change(ChangeKind.LABELMAP, infos)

    def _remove_labelmapinfo(self, infos: list[LabelMapInfo],
                             voxels: dict[str, dict[BrickKey, bytes]]
                             ) -> tuple[list[LabelMapInfo], Change]:
        stored = [self.labelmaps[i.id] for i in infos if i.id in self.labelmaps]
        for info in stored:
            voxels[info.id] = self.bricks.take(info)
            self.labelmaps.pop(info.id, None)
        return stored, _change(ChangeKind.LABELMAP, stored)

    def mark_started(self, changes: list[Change]) -> list[Change]:
        """The first edit of an item's labels (shapes, tracks, voxels; from the window, an
        import or a job alike) moves it from Unlabeled to In progress, in the same
        transaction. As CVAT's job state, it is not part of the undo step: undoing that edit
        leaves the item In progress (someone has started it)."""
        touched = {m for c in changes for m in c.media_ids  # label maps: voxels, not segments
                   if c.kind in (ChangeKind.ANNOTATIONS, ChangeKind.TRACKS)
                   or (c.kind == ChangeKind.LABELMAP and "start" in c.extra)}
        items = [replace(self.media[m], status=MediaStatus.IN_PROGRESS) for m in touched
                 if m in self.media and self.media[m].status == MediaStatus.UNLABELED]
        if not items:
            return []
        self._store.put_media(items)
        self.media.update((m.id, m) for m in items)
        return [Change(ChangeKind.MEDIA, frozenset(m.id for m in items),
                       tuple(m.id for m in items))]

    # ---- schema
    def write_schema(self, schema: LabelSchema) -> list[Change]:
        kept = {c.id for c in schema.classes}
        for cls in self.schema.classes:
            if cls.id not in kept and (n := self._store.class_usage(cls.id)):
                raise RefusedEdit(f"Class {cls.name!r} is used by {n} annotation(s), track(s) "
                                  "or segment(s); relabel or delete them before removing it.")
        self._store.save_schema(schema)
        self.schema = schema
        return [Change(ChangeKind.SCHEMA)]
