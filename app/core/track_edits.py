"""Whole-track edits of a video: merge two tracks, split one at a frame, and where a track's
per-frame attributes change (CVAT's track tools, as core commands).

Frame indices are 0-based, presentation order. Each edit is one command (a
:class:`~app.core.commands.Batch`), so undo is one step and gives back exactly the records
that were stored. Rules:

- **merge** (:func:`merge_tracks`): every stored shape of the *other* track moves onto the
  kept track (same ids, the kept track's class); the other track record is removed. Both
  must be tracks of one video and one class. Where both have a stored shape on a frame, the
  other track's shape is kept and the kept track's is removed: as in CVAT, the track chosen
  *later* wins on such frames (the window passes the track chosen first as ``keep_id``). The
  kept track keeps its id and its static attributes.
- **split** (:func:`split_track`): stored shapes on frames ``>= frame`` move to a new track
  (same class and static attributes, no foreign fields). When the track is in view on
  ``frame`` and nothing is stored there, the new track gets a keyframe at ``frame`` holding
  the shape shown there (interpolated, with the per-frame attributes of the latest stored
  shape); the old track gets an ``outside`` keyframe at ``frame`` unless it already left
  the view before it.
- **attribute keyframes** (:func:`attribute_keyframes`): the stored shapes on which a
  per-frame attribute takes a value other than the one the shapes before it had.

Bad requests raise :class:`~app.core.errors.RefusedEdit` with one sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from app.core.annotations import MANUAL, Annotation, Track
from app.core.commands import Batch, Command, Put, Remove
from app.core.errors import RefusedEdit
from app.core.identity import author, new_id, utc_now
from app.core.interpolate import interpolate


def _track(doc: Any, track_id: str) -> Track:
    track = doc.track(track_id)
    if track is None:
        raise RefusedEdit(f"Track {track_id[:8]} is not in the project.")
    return track


def as_keyframe(a: Annotation, **changes: Any) -> Annotation:
    """``a`` (an interpolated or tracker's shape) as a new person-set keyframe of its track
    (new id, made now) with ``changes``."""
    now = utc_now()
    values: dict[str, Any] = dict(id=new_id(), keyframe=True, source=MANUAL, score=None,
                                  foreign={}, created=now, modified=now, creator=author(),
                                  timestamp=None)
    values.update(changes)
    return replace(a, **values)


def merge_tracks(doc: Any, keep_id: str, other_id: str) -> Command:
    """One command merging track ``other_id`` into ``keep_id`` (see the module doc)."""
    if keep_id == other_id:
        raise RefusedEdit("Choose two different tracks to merge.")
    keep, other = _track(doc, keep_id), _track(doc, other_id)
    if keep.media_id != other.media_id:
        raise RefusedEdit("Only tracks of one video can be merged.")
    if keep.class_id != other.class_id:
        names = [(c.name if (c := doc.schema.class_by_id(t.class_id)) else "no class")
                 for t in (keep, other)]
        raise RefusedEdit(f"Only tracks of one class can be merged ({names[0]!r} and "
                          f"{names[1]!r}); relabel one first.")
    kept = {a.frame: a for a in doc.track_shapes(keep)}
    moving = doc.track_shapes(other)
    clashes = tuple(kept[a.frame] for a in moving if a.frame in kept)
    now = utc_now()
    moved = tuple(replace(a, track_id=keep.id, class_id=keep.class_id, modified=now)
                  for a in moving)
    steps: list[Command] = []
    if clashes:
        steps.append(Remove(clashes, label="Merge tracks"))
    if moved:
        steps.append(Put(moved, label="Merge tracks"))
    steps.append(Remove((other,), label="Merge tracks"))
    return Batch(tuple(steps), label="Merge tracks")


def split_track(doc: Any, track_id: str, frame: int) -> tuple[Command, Track]:
    """One command splitting track ``track_id`` at ``frame`` (see the module doc), and the
    new track (it holds frames ``>= frame``)."""
    track = _track(doc, track_id)
    shapes = doc.track_shapes(track)
    frame = int(frame)
    before = [a for a in shapes if a.frame < frame]
    after = [a for a in shapes if a.frame >= frame]
    shown = interpolate(shapes, frame)
    if not before:
        raise RefusedEdit(f"The track starts on frame {shapes[0].frame if shapes else frame}; "
                          f"split it on a later frame than that (not {frame}).")
    if not after and shown is None:
        raise RefusedEdit(f"The track is out of view from frame {frame} on: there is nothing "
                          "to split off.")
    new = Track(track.media_id, track.class_id, attributes=dict(track.attributes))
    now = utc_now()
    moved = [replace(a, track_id=new.id, modified=now) for a in after]
    if shown is not None and (not after or after[0].frame != frame):
        moved.insert(0, as_keyframe(shown, track_id=new.id, outside=False))
    steps: list[Command] = [Put((new, *moved), label="Split track")]
    if interpolate(before, frame) is not None:  # the old track alone would still show it
        stored = after[0] if after and after[0].frame == frame else None
        mark = as_keyframe(stored or shown or before[-1], track_id=track.id, outside=True,
                      place=before[-1].place.at_frame(frame))
        steps.append(Put((mark,), label="Split track"))
    return Batch(tuple(steps), label="Split track"), new


def attribute_keyframes(shapes: Sequence[Annotation], names: Sequence[str]
                        ) -> list[tuple[int, dict[str, Any]]]:
    """``(frame, {name: value})`` for each stored shape after the first (by frame) on which
    one of the per-frame attributes ``names`` takes a value other than the one the stored
    shapes before it left (or a value where none was set): where the attribute was set."""
    out: list[tuple[int, dict[str, Any]]] = []
    last: dict[str, Any] = {}
    for n, a in enumerate(sorted(shapes, key=lambda s: s.frame or 0)):
        values = {k: a.attributes[k] for k in names if k in a.attributes}
        changed = {k: v for k, v in values.items() if k not in last or last[k] != v}
        if n and changed:
            out.append((int(a.frame or 0), changed))
        last.update(values)
    return out


def open_tracks(doc: Any, item: Any, limit: int | None, want: Callable[[Any], bool]
                 ) -> list[tuple[Any, Any, int]]:
    """The *open* tracks of video ``item``: ``(track, its last keyframe, last frame to
    reach)`` for every track whose last stored shape is a keyframe that ``want``s (e.g. a
    box), not outside and not on the last frame - where a tracker or propagation goes on
    from (the window's Tools ▸ Track every open track, ``vellum batch --task track``).
    ``limit``: at most that many frames past the keyframe."""
    out = []
    count = int(item.frames)
    for track in doc.tracks(item.id):
        shapes = [a for a in doc.track_shapes(track) if a.frame is not None]
        if not shapes:
            continue
        last = max(shapes, key=lambda a: a.frame)
        if not last.keyframe or last.outside or last.frame >= count - 1 or not want(last):
            continue
        end = count - 1 if limit is None else min(count - 1, last.frame + max(1, int(limit)))
        out.append((track, last, end))
    return out
