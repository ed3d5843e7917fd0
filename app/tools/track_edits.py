"""Edits of a video's tracks (Qt-free): what the tools' generic edits become on a video, and
the track commands of the video mode (keyframe, outside, occluded, propagate, delete, event).

Frame indices are 0-based, presentation order. Rules, as in CVAT:

- editing a shape a track shows on a frame (move, resize, vertex edit, a per-frame attribute)
  stores it on that frame as a **keyframe** (a new annotation, ``keyframe=True``, the track's
  id); editing a tracker's shape makes it a keyframe too;
- a track's static attributes are set on the track (``Put(track)``), per-frame ones on the
  frame's shape; giving a track shape another class relabels the whole track;
- deleting an interpolated shape deletes its track with every shape (one undo step), and
  deleting a track's last stored shapes deletes the track with them (no empty track is left).

Every function returns the command to run (or None) and a sentence for the status bar.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from app.core.annotations import INTERPOLATED, MANUAL, Annotation, Track
from app.core.commands import Batch, Command, Put, Remove
from app.core.identity import utc_now
from app.core.places import Place
from app.core.schema import LabelClass, LabelSchema
from app.core.shapes import Event
from app.core.track_edits import as_keyframe
from app.tools.track_index import TrackIndex

PROPAGATED = "propagation"  # source of shapes copied forward as tracked (non-key) shapes
_CONTENT = ("shape", "attributes", "occluded", "outside", "hidden", "locked", "iscrowd", "z")


def split_attributes(cls: LabelClass | None, values: dict[str, Any]
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(static, per-frame) attribute values of a class (:meth:`LabelClass.split_attributes`);
    with no class every value is per-frame."""
    return cls.split_attributes(values) if cls is not None else ({}, dict(values))


def _same(a: Annotation, b: Annotation, relabel: bool = False) -> bool:
    """Whether ``b`` shows what ``a`` shows (a relabel changes the attributes with the class:
    those are the track's business then)."""
    return all(getattr(a, k) == getattr(b, k) for k in _CONTENT
               if not (relabel and k == "attributes"))


class TrackEdits:
    """Rewrites the generic edits of tools and panels for one video (see the module doc)."""

    def __init__(self, index: TrackIndex, schema: Any) -> None:
        self.index = index
        self._schema = schema  # () -> LabelSchema
        self.renamed: dict[str, str] = {}  # interpolated id -> the keyframe it became
        self.note = ""

    @property
    def schema(self) -> LabelSchema:
        return self._schema()

    def rewrite(self, command: Command) -> Command | None:
        self.note = ""
        if isinstance(command, Batch):
            parts = [self.rewrite(c) for c in command.commands]
            kept = tuple(p for p in parts if p is not None)
            return Batch(kept, label=command.label) if kept else None
        if isinstance(command, Put):
            return self._put(command)
        if isinstance(command, Remove):
            return self._remove(command)
        return command

    # ------------------------------------------------------------------ Put
    def _put(self, command: Put) -> Command | None:
        ix, doc = self.index.fresh(), self.index.doc
        new_tracks = {r.id: r for r in command.records if isinstance(r, Track)}
        tracks: dict[str, Track] = {}
        out: list[Any] = []
        for r in command.records:
            if not isinstance(r, Annotation) or r.media_id != ix.media_id:
                out.append(r)
                continue
            if r.track_id is None or r.track_id in new_tracks or r.frame is None:
                out.append(replace(r, source=MANUAL, keyframe=True)
                           if r.source == INTERPOLATED and r.track_id is None else r)
                continue
            track = tracks.get(r.track_id) or doc.track(r.track_id)
            if track is None:
                out.append(r)
                continue
            stored = doc.annotation(ix.media_id, r.id)
            shown = ix.shown_by_id(r.frame, r.id)
            old_cls = self.schema.class_by_id(track.class_id)
            new_cls = self.schema.class_by_id(r.class_id)
            static, dynamic = split_attributes(new_cls, r.attributes)
            changed = track
            relabel = r.class_id != track.class_id
            if relabel:
                keep, defaults = (dict(track.attributes), {}) if new_cls is None else (
                    new_cls.split_attributes(track.attributes)[0],
                    new_cls.split_attributes(new_cls.default_attributes())[0])
                changed = replace(changed, class_id=r.class_id,
                                  attributes={**defaults, **keep, **static})
            elif static and {**track.attributes, **static} != track.attributes:
                changed = replace(changed, attributes={**track.attributes, **static})
            if changed is not track:
                tracks[track.id] = replace(changed, modified=utc_now())
            r = replace(r, attributes=dynamic)
            base = stored
            if base is None and shown is not None:
                base = replace(shown, attributes=split_attributes(old_cls, shown.attributes)[1])
            if base is not None and _same(base, r, relabel):
                continue  # only the track changed (a static attribute, the class)
            if stored is None:
                if shown is None and r.source != INTERPOLATED:
                    out.append(r)
                    continue
                key = as_keyframe(r)
                self.renamed[r.id] = key.id
                self.note = f"Frame {r.frame} is a keyframe of this track now."
                out.append(key)
            elif not stored.keyframe:
                out.append(replace(r, keyframe=True, source=MANUAL, score=None))
            else:
                out.append(r)
        records = (*tracks.values(), *out)
        if not records:
            return None
        return Put(tuple(records), label=command.label)

    # ------------------------------------------------------------------ Remove
    def _remove(self, command: Remove) -> Command | None:
        ix, doc = self.index.fresh(), self.index.doc
        whole: set[str] = set()
        out: list[Any] = []
        for r in command.records:
            if isinstance(r, Annotation) and r.track_id is not None and \
                    r.media_id == ix.media_id and doc.annotation(ix.media_id, r.id) is None:
                whole.add(r.track_id)  # an interpolated shape: the object itself
            else:
                out.append(r)
        gone = {r.id for r in out if isinstance(r, Annotation)}
        for tid in {r.track_id for r in out if isinstance(r, Annotation) and r.track_id}:
            if all(a.id in gone for a in ix.shapes(tid)):
                whole.add(tid)
        if whole:
            n = 0
            for tid in whole:
                shapes = [a for a in ix.shapes(tid) if a.id not in gone]
                gone.update(a.id for a in shapes)
                n += len(shapes)
                out.extend(shapes)
                track = doc.track(tid)
                if track is not None and track not in out:
                    out.append(track)
            self.note = (f"Deleted {len(whole)} track{'s' * (len(whole) > 1)} with "
                         "its shapes (Ctrl+Z brings it back).")
        if not out:
            return None
        return Remove(tuple(out), label=command.label if not whole else "Delete track")


# ---------------------------------------------------------------------- the mode's commands
def toggle_keyframe(ix: TrackIndex, track_id: str, frame: int
                    ) -> tuple[Command | None, str]:
    """K: make the track's shape on ``frame`` a keyframe, or (a keyframe already) let the
    frame be interpolated again."""
    stored = ix.stored_at(track_id, frame)
    if stored is not None:
        if not stored.keyframe:
            return Put((replace(stored, keyframe=True, source=MANUAL, score=None),),
                       label="Make keyframe"), f"Frame {frame} is a keyframe now."
        if len(ix.shapes(track_id)) == 1:
            return None, ("This is the track's only keyframe; delete the track instead "
                          "(Delete, or the track list).")
        return Remove((stored,), label="Remove keyframe"), (
            f"Frame {frame} is interpolated again.")
    shown = ix.at(track_id, frame)
    if shown is None:
        return None, (f"The track is not in view on frame {frame}; press O to bring it back "
                      "here.")
    return Put((as_keyframe(shown),), label="Make keyframe"), f"Frame {frame} is a keyframe now."


def toggle_outside(ix: TrackIndex, track_id: str, frame: int) -> tuple[Command | None, str]:
    """O: the object leaves the view from ``frame`` on, or (out of view there) comes back on
    ``frame`` with its last shape."""
    shown = ix.at(track_id, frame)
    stored = ix.stored_at(track_id, frame)
    if shown is not None:
        if stored is not None:
            key = replace(stored, outside=True, keyframe=True, source=MANUAL, score=None)
        else:
            key = as_keyframe(shown, outside=True)
        return Put((key,), label="Mark outside"), (
            f"The object is out of view from frame {frame} on.")
    last = ix.before(track_id, frame)
    if last is None:
        return None, f"The track starts after frame {frame}."
    if stored is not None:
        back = replace(stored, outside=False, keyframe=True)
    else:
        back = as_keyframe(last, place=Place(ix.media_id, frame), outside=False)
    return Put((back,), label="Back in view"), f"The object is in view again from frame {frame}."


def toggle_occluded(ix: TrackIndex, a: Annotation) -> tuple[Command | None, str]:
    """Q: the shape on this frame is hidden behind something (or no longer); on a track the
    state holds until the next keyframe."""
    flag = not a.occluded
    word = "occluded" if flag else "not occluded"
    stored = ix.doc.annotation(ix.media_id, a.id)
    cls = ix.doc.schema.class_by_id(a.class_id)
    attrs = split_attributes(cls, a.attributes)[1] if a.track_id else a.attributes
    if stored is None:
        return Put((as_keyframe(a, occluded=flag, attributes=attrs),), label="Occluded"), \
            f"Frame {a.frame}: {word} (a keyframe now)."
    return Put((replace(stored, occluded=flag, modified=utc_now()),), label="Occluded"), \
        f"Frame {a.frame}: {word}."


def propagate(ix: TrackIndex, anns: Iterable[Annotation], frame: int, count: int,
              as_keyframes: bool) -> tuple[Command | None, str]:
    """Copy each of ``anns`` (shown on ``frame``) onto the next ``count`` frames: on its
    track as keyframes or as tracked shapes (replacing the track's shapes there); a shape
    off any track as a copy per frame."""
    last = min(frame + count, ix.frame_count - 1)
    if last <= frame:
        return None, "There are no later frames to propagate to."
    records: list[Annotation] = []
    doc = ix.doc
    for a in anns:
        cls = doc.schema.class_by_id(a.class_id)
        for f in range(frame + 1, last + 1):
            place = Place(ix.media_id, f)
            if a.track_id is not None:
                attrs = split_attributes(cls, a.attributes)[1]
                old = ix.stored_at(a.track_id, f)
                values = dict(place=place, shape=a.shape, attributes=attrs,
                              keyframe=as_keyframes, outside=False, occluded=a.occluded,
                              source=MANUAL if as_keyframes else PROPAGATED, score=None)
                records.append(replace(old, **values, modified=utc_now()) if old is not None
                               else as_keyframe(a, **values))
            else:
                records.append(as_keyframe(a, place=place, track_id=None))
    if not records:
        return None, "Select a shape to propagate."
    what = "keyframes" if as_keyframes else "tracked shapes"
    return Put(tuple(records), label=f"Propagate to {last - frame} frames"), (
        f"Propagated {len({a.id for a in anns})} shape(s) to frames {frame + 1}-{last} as "
        f"{what}.")


def delete_track(ix: TrackIndex, track_id: str) -> tuple[Command | None, str]:
    """The track with all its shapes, as one undo step."""
    track = ix.doc.track(track_id)
    if track is None:
        return None, "That track is gone already."
    shapes = ix.shapes(track_id)
    return Remove((*shapes, track), label="Delete track"), (
        f"Deleted the track and its {len(shapes)} stored shape(s) (Ctrl+Z brings them back).")


def new_track(schema: LabelSchema, cls: LabelClass | None, shape: Any, place: Place,
              z: int, fields: dict[str, Any]) -> tuple[Track, Annotation]:
    """A new track of class ``cls`` and its first keyframe ``shape`` at ``place``: static
    attribute defaults on the track, per-frame ones on the shape."""
    values = cls.default_attributes() if cls is not None else {}
    values.update(fields.pop("attributes", None) or {})
    static, dynamic = split_attributes(cls, values)
    track = Track(place.media_id, cls.id if cls else None, attributes=static)
    ann = Annotation(place=place, shape=shape, class_id=track.class_id, track_id=track.id,
                     keyframe=True, attributes=dynamic, z=z, **fields)
    return track, ann


def frame_event(media_id: str, cls: LabelClass | None, start: int, end: int
                ) -> tuple[Command | None, str]:
    """An event of class ``cls`` over frames ``start..end`` (inclusive) of the whole video."""
    if cls is None:
        return None, "Choose the class of the event first (1-9 or the Labels panel)."
    a, b = sorted((int(start), int(end)))
    ann = Annotation(place=Place(media_id), shape=Event(a, b), class_id=cls.id,
                     attributes=cls.default_attributes())
    return Put((ann,), label=f"Event {cls.name}"), f"Event {cls.name!r} on frames {a}-{b}."
