"""The document: a project's media, label schema, annotations, tracks and label maps.

Every edit is a :mod:`~app.core.commands` command run through :meth:`Document.execute`,
which validates it at the door (:mod:`app.core.rules`), commits it to the project store in its
own transaction (there is no Save), appends it to the audit trail and keeps it for undo/redo
(:mod:`app.core.undo`). Views subscribe to :class:`~app.core.changes.Change` events and redraw
because the model changed. Annotations are loaded per media item on first use
(:mod:`app.core.annotation_index`), so a project with millions of annotations opens in the time
it takes to read its media list; label maps are read brick by brick through a bounded cache
(:mod:`app.core.labelmap_bricks`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.changes import Change, ChangeKind, Listener
from app.core.commands import Command
from app.core.errors import RefusedEdit, VellumError
from app.core.identity import author, utc_now
from app.core.labelmap import DEFAULT_CACHE_BYTES, BrickCache, BrickKey, LabelMapInfo, Mode
from app.core.media import FrameTimes, MediaItem
from app.core import review
from app.core.places import Place
from app.core.review import Comment, ItemVerdict, ObjectReview
from app.core.records import Record, Records
from app.core.schema import LabelSchema
from app.core.store import Store
from app.core.undo import UndoHistory

# Change and ChangeKind are imported from here by the views (the document is core's front).
__all__ = ["Change", "ChangeKind", "Document", "Listener", "Record"]


class Document:
    """An open project. Create with :meth:`create` or :meth:`open`; close when done.
    ``cache_bytes`` bounds the decompressed label-map bricks kept in memory."""

    def __init__(self, store: Store, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self._store = store
        self._records = Records(store, cache_bytes)
        self._anns = self._records.anns
        self._bricks = self._records.bricks
        self._history = UndoHistory()
        self._listeners: list[Listener] = []

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
        return self._records.schema

    def media(self, include_removed: bool = False) -> list[MediaItem]:
        """Media items in project order."""
        items = sorted(self._records.media.values(), key=lambda m: (m.position, m.added))
        return items if include_removed else [m for m in items if not m.removed]

    def media_item(self, media_id: str) -> MediaItem:
        try:
            return self._records.media[media_id]
        except KeyError:
            raise VellumError(f"No media item {media_id} in {self.path}.") from None

    def media_path(self, item: MediaItem) -> Path:
        """Absolute path of a media item's file or folder."""
        p = Path(item.path)
        return p if p.is_absolute() else (self.folder / p)

    def next_position(self) -> int:
        return max((m.position for m in self._records.media.values()), default=-1) + 1

    def frame_times(self, media_id: str) -> FrameTimes | None:
        """Presentation times of every frame of a video (None until its decoder filled them)."""
        return self._store.load_frame_times(media_id)

    def annotations(self, where: Place | str, frame: int | None = None, *,
                    all_frames: bool = False) -> list[Annotation]:
        """Annotations at one place, in z order: ``where`` is a :class:`Place`, or a media id
        (with ``frame`` for a video frame; neither for a still image or media-level tags and
        events). ``all_frames`` gives every annotation of the media item."""
        place = where if isinstance(where, Place) else Place(where, frame)
        return self._anns.at(place, all_frames)

    def annotation(self, media_id: str, annotation_id: str) -> Annotation | None:
        return self._anns.get(media_id, annotation_id)

    def places(self, media_id: str) -> list[Place]:
        """Places of a media item that carry annotations, sorted."""
        return self._anns.places(media_id)

    def labelled_frames(self, media_id: str) -> list[int]:
        """Video frame indices that carry annotations, sorted."""
        return self._anns.labelled_frames(media_id)

    def tracks(self, media_id: str) -> list[Track]:
        return sorted((t for t in self._records.tracks.values() if t.media_id == media_id),
                      key=lambda t: (t.created, t.id))

    def track(self, track_id: str) -> Track | None:
        return self._records.tracks.get(track_id)

    def track_shapes(self, track: Track) -> list[Annotation]:
        """The stored shapes of a track (keyframes and tracker output), by frame."""
        return self._anns.track_shapes(track)

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
        return self._records.media.get(media_id)

    def stored_track(self, track_id: str) -> Track | None:
        return self._records.tracks.get(track_id)

    # ---------------------------------------------------------------- review
    def object_reviews(self, media_id: str | None = None) -> dict[str, ObjectReview]:
        """Review state per annotation id (of one media item, or all)."""
        out = {}
        for row in self._store.load_review_rows(media_id):
            r = review.review_from_row(row)
            if isinstance(r, ObjectReview):
                out[r.object_id] = r
        return out

    def verdicts(self) -> dict[str, ItemVerdict]:
        """The verdict per media id (items without one are absent)."""
        return {r.media_id: r for r in map(review.review_from_row, self._store.load_review_rows())
                if isinstance(r, ItemVerdict)}

    def comments(self, media_id: str | None = None) -> list[Comment]:
        """Pinned comments (of one media item, or all), oldest first."""
        return [review.comment_from_row(r) for r in self._store.load_comment_rows(media_id)]

    def review_record(self, key: tuple[str, str]) -> review.ReviewRecord | None:
        """The stored review record with ``key`` (see :data:`app.core.review.Key`)."""
        row = self._store.review_row(*key)
        if row is None:
            return None
        return review.comment_from_row(row) if key[0] == "comment" else review.review_from_row(row)

    # ---------------------------------------------------------------- label maps
    def labelmaps(self, media_id: str) -> list[LabelMapInfo]:
        return [i for i in self._records.labelmaps.values() if i.media_id == media_id]

    def stored_labelmap(self, labelmap_id: str) -> LabelMapInfo | None:
        """The label map ``labelmap_id``, None when it is not stored."""
        return self._records.labelmaps.get(labelmap_id)

    def labelmap_info(self, labelmap_id: str) -> LabelMapInfo:
        try:
            return self._records.labelmaps[labelmap_id]
        except KeyError:
            raise RefusedEdit(f"There is no label map {labelmap_id} in {self.path}.") from None

    @property
    def brick_cache(self) -> BrickCache:
        """Decompressed label-map bricks in memory (``bytes``, ``peak_bytes``, ``max_bytes``)."""
        return self._bricks.cache

    def labelmap_region(self, labelmap_id: str, start: tuple[int, int, int],
                        shape: tuple[int, int, int]) -> np.ndarray:
        """A new array with the voxels of the box at ``start`` (k, j, i) of ``shape``
        (zeros where never painted)."""
        return self._bricks.region(self.labelmap_info(labelmap_id), start, shape)

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
        self._history.done(command)

    def undo(self) -> bool:
        command = self._history.undo_command
        if command is None:
            return False
        self._run(command.inverse(), "undo " + command.action)
        self._history.undone()
        return True

    def redo(self) -> bool:
        command = self._history.redo_command
        if command is None:
            return False
        self._run(command, "redo " + command.action)
        self._history.redone()
        return True

    @property
    def undo_label(self) -> str | None:
        command = self._history.undo_command
        return command.label if command else None

    @property
    def redo_label(self) -> str | None:
        command = self._history.redo_command
        return command.label if command else None

    @property
    def undo_command(self) -> Command | None:
        """The command :meth:`undo` would revert (for views that show where it happened)."""
        return self._history.undo_command

    @property
    def redo_command(self) -> Command | None:
        return self._history.redo_command

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
            self._records.reload()
            for listener in list(self._listeners):
                listener([Change(ChangeKind.RESET)])
            return True
        return False

    def _run(self, command: Command, action: str) -> None:
        try:
            with self._store.transaction():
                changes = command.apply(self)
                changes = [*changes, *self._records.mark_started(changes)]
                self._store.log(action, command.detail(), self.author)
        except BaseException:
            self._records.reload()  # drop what may be ahead of the disk
            raise
        for listener in list(self._listeners):
            listener(changes)

    def edited(self, annotation: Annotation, **changes: Any) -> Annotation:
        """``annotation`` with ``changes`` applied and its modified time set to now."""
        return replace(annotation, modified=utc_now(), **changes)

    # ---------------------------------------------------------------- writes (commands only)
    def put(self, records: Iterable[Record]) -> tuple[list[Record], list[Change]]:
        """Store records after checking each at the door; returns the stored values they
        replaced and the changes. Call only from a command (inside its transaction)."""
        return self._records.put(records)

    def remove(self, records: Iterable[Record]
               ) -> tuple[list[Record], dict[str, dict[BrickKey, bytes]], list[Change]]:
        """Delete records; returns the stored values removed, the removed label maps' bricks
        and the changes. Call only from a command."""
        return self._records.remove(records)

    def write_schema(self, schema: LabelSchema) -> list[Change]:
        """Replace the label schema (a class still in use stays). Call only from a command."""
        return self._records.write_schema(schema)

    def write_meta(self, values: dict[str, str | None]) -> dict[str, str | None]:
        """Set project notes (``None`` deletes one); returns the values they replace (None
        where there was none). Call only from a command (:class:`~app.core.commands.SetMeta`)."""
        before = {key: self._store.meta(key).get(key) for key in values}
        for key, value in values.items():
            if value is None:
                self._store.delete_meta([key])
            else:
                self._store.set_meta(key, value)
        return before

    def write_review(self, put: Iterable[review.ReviewRecord], clear: Iterable[tuple[str, str]]
                     ) -> tuple[dict[tuple[str, str], review.ReviewRecord | None], list[Change]]:
        """Store review records and delete those keyed ``clear``; returns what each key held
        before (None: nothing) and the change. Call only from
        :class:`~app.core.review.SetReview`."""
        put, clear = list(put), list(clear)
        for r in put:
            if isinstance(r, (ObjectReview, Comment)) and r.media_id not in self._records.media:
                raise RefusedEdit(f"There is no media item {r.media_id} in {self.path}.")
            if isinstance(r, ItemVerdict) and r.media_id not in self._records.media:
                raise RefusedEdit(f"There is no media item {r.media_id} in {self.path}.")
        before = {k: self.review_record(k) for k in [r.key for r in put] + clear}
        self._store.delete_review_rows([k for k in clear if k[0] != "comment"],
                                       [k[1] for k in clear if k[0] == "comment"])
        self._store.put_review_rows([review.review_row(r) for r in put
                                     if not isinstance(r, Comment)],
                                    [review.comment_row(r) for r in put if isinstance(r, Comment)])
        touched = put + [r for k, r in before.items() if r is not None and k in clear]
        return before, review.review_changes(touched)

    def restore_bricks(self, labelmap_id: str, bricks: dict[BrickKey, bytes]) -> None:
        """Put a removed label map's stored bricks back (undo of its removal)."""
        self._bricks.restore(labelmap_id, bricks)

    def modify_labelmap(self, labelmap_id: str, start: tuple[int, int, int],
                        modifier: np.ndarray, mode: Mode, value: int,
                        where: np.ndarray | None = None
                        ) -> tuple[tuple[int, int, int], np.ndarray, int, list[Change]]:
        """The one entry point for label-map edits (see :class:`~app.core.commands.ModifyLabelMap`).
        Reads the old voxels itself; returns the start and old values of the changed voxels'
        bounding box (for undo), how many voxels changed, and the changes."""
        return self._bricks.modify(self.labelmap_info(labelmap_id), start, modifier, mode,
                                   value, where)

    def write_voxels(self, labelmap_id: str, start: tuple[int, int, int], values: np.ndarray
                     ) -> tuple[np.ndarray, list[Change]]:
        """Set the box at ``start`` to ``values`` (undo/redo of a modify); returns the old
        values there and the changes."""
        return self._bricks.write(self.labelmap_info(labelmap_id), start, values)
