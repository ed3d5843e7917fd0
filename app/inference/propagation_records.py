"""Propagation and tracking as data: the loops and the records they become (the jobs that run
them off the window's UI thread are in :mod:`app.widgets.sam_jobs`).

- :func:`volume_modifier`: a volume propagation (``app.inference.propagation``) as the one
  label-map modifier (cropped to the slices and rows it touches) of one undoable edit.
- :func:`propagate_frames`: a mask carried from frame to frame of a video: the next prompt is
  the previous mask's box grown by ``margin`` px; it stops when the mask empties, the model's
  predicted IoU falls under ``min_score``, the mask jumps (IoU with the previous one under
  ``min_overlap``) or its area changes more than ``max_growth`` times, or at a frame where the
  track already has a shape (a person's keyframe is never overwritten).
- :func:`mask_track_records` / :func:`box_track_records`: those masks, or a tracker's boxes,
  as a track's shapes (``keyframe=False``, ``source`` = model, ``score``; an occlusion the
  tracker comes back from as ``occluded`` shapes with interpolated boxes, a target that left
  or never came back as an ``outside`` keyframe (:func:`lost_marker`: a mask the model lost
  going forward, too, since a mask track holds its last mask), through
  ``app.inference.prelabel.TrackShapes`` as ``vellum track PROJECT`` does) - extending the
  seed's track, or making one for it. :func:`mask_records` / :func:`box_reviews` do the same
  for one step of a run that is committed in steps.

Frames are 0-based in presentation order; boxes ``(x, y, w, h)`` in continuous pixels; volume
places by array axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.places import Place
from app.core.shapes import Mask

REVIEW_SCORE = 0.75  # a kept mask or box under this confidence is listed for review
REVIEW_OVERLAP = 0.5  # a video mask overlapping the previous frame's less than this, too


@dataclass(frozen=True)
class Review:
    """A place to look at again: why (one phrase) and the model's confidence there."""

    place: Place
    reason: str
    score: float | None = None


# ---------------------------------------------------------------------- volumes
def volume_modifier(result: Any) -> tuple[tuple[int, int, int], np.ndarray] | None:
    """``(start (k, j, i), bool modifier)`` holding every kept slice mask of a
    :class:`~app.inference.propagation.Propagation`, cropped to where they are; None if empty."""
    slices = [s for s in result.slices if s.mask.any()]
    if not slices:
        return None
    rows = np.flatnonzero(np.any([s.mask.any(axis=1) for s in slices], axis=0))
    cols = np.flatnonzero(np.any([s.mask.any(axis=0) for s in slices], axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    lo, hi = slices[0].index, slices[-1].index + 1
    block = np.zeros((hi - lo, r1 - r0, c1 - c0), bool)
    for s in slices:
        block[s.index - lo] = s.mask[r0:r1, c0:c1]
    # block is [slice, picture row, picture column]; put it on the volume's (k, j, i) axes
    axis = result.axis
    rest = [a for a in range(3) if a != axis]  # picture rows, columns (places.PICTURE_AXES)
    start = [0, 0, 0]
    start[axis], start[rest[0]], start[rest[1]] = lo, r0, c0
    order = np.argsort([axis, *rest])
    return tuple(start), np.transpose(block, order)  # type: ignore[return-value]


def volume_review(result: Any, media_id: str) -> list[Review]:
    axis = "kji"[result.axis]
    return [Review(Place(media_id, axis=axis, index=s.index), s.review, s.score)
            for s in result.slices if s.review]


# ---------------------------------------------------------------------- video masks
@dataclass(frozen=True)
class FrameMask:
    frame: int
    mask: np.ndarray
    score: float
    review: str = ""


@dataclass
class FramePropagation:
    """Masks on the frames after (or before) the seed, in the order reached, and why it
    stopped."""

    masks: list[FrameMask] = field(default_factory=list)
    stopped: str = ""
    lost: tuple[int, float] | None = None  # (frame, score) where the model lost the object


def propagate_frames(frames: Iterable[tuple[int, np.ndarray]], session: Any, seed: np.ndarray,
                     media_id: str, fingerprint: str | None = None, stop_at: set[int] = frozenset(),
                     margin: float = 3.0, min_score: float = 0.5, min_overlap: float = 0.3,
                     max_growth: float = 3.0, cancelled: Callable[[], bool] | None = None,
                     progress: Callable[[int], None] | None = None,
                     on_step: Callable[[list[FrameMask]], None] | None = None,
                     every: int = 100) -> FramePropagation:
    """Carry ``seed`` (bool H x W) through ``frames`` (``(index, rgb)`` in the order to go,
    the seed's own frame excluded) with a :class:`~app.inference.sam.SamSession`.
    ``on_step(masks)`` (all kept so far) is called each time ``every`` more are kept, so that
    a caller can commit a long run in steps."""
    from app.inference.propagation import carry, grown_box

    out = FramePropagation()
    done = [0]

    def halt(place: tuple[int, np.ndarray]) -> str:
        if cancelled is not None and cancelled():
            return "cancelled"
        frame = place[0]
        return f"frame {frame} already has a shape of this track" if frame in stop_at else ""

    def segment(place: tuple[int, np.ndarray], prev: np.ndarray) -> tuple[np.ndarray, float]:
        frame, rgb = place
        emb = session.encode(rgb, Place(media_id, frame=frame), fingerprint)
        best = session.predict(box=grown_box(prev, margin), embedding=emb).best()
        done[0] += 1
        if progress is not None:
            progress(done[0])
        return best.mask, float(best.score)

    def judge(place: tuple[int, np.ndarray], mask: np.ndarray, score: float, prev: np.ndarray
              ) -> tuple[str, str]:
        frame = place[0]
        reason, review = _judged(frame, mask, score, prev)
        if reason:
            out.lost = (frame, score)
        return reason, review

    def _judged(frame: int, mask: np.ndarray, score: float, prev: np.ndarray
                ) -> tuple[str, str]:
        area, before = int(mask.sum()), int(prev.sum())
        if area == 0:
            return f"frame {frame}: the mask is empty", ""
        if score < min_score:
            return f"frame {frame}: predicted IoU {score:.2f} < {min_score:.2f}", ""
        overlap = float((mask & prev).sum()) / float((mask | prev).sum())
        if overlap < min_overlap:
            return f"frame {frame}: overlap {overlap:.2f} with the previous frame", ""
        if not 1 / max_growth <= area / max(before, 1) <= max_growth:
            return f"frame {frame}: the area changed {area / max(before, 1):.1f} times", ""
        return "", "; ".join(r for r in (
            f"predicted IoU {score:.2f}" if score < REVIEW_SCORE else "",
            f"overlap {overlap:.2f} with the previous frame" if overlap < REVIEW_OVERLAP else "")
            if r)

    def keep(place: tuple[int, np.ndarray], mask: np.ndarray, score: float, review: str
             ) -> None:
        out.masks.append(FrameMask(place[0], mask, score, review))
        if on_step is not None and len(out.masks) % max(1, every) == 0:
            on_step(out.masks)

    out.stopped = carry(frames, np.asarray(seed, bool), segment, judge, keep,
                        halt) or "the range ends"
    return out


def frames_between(reader: Any, start: int, end: int, chunk: int = 48
                   ) -> Iterator[tuple[int, np.ndarray]]:
    """Frames ``start..end`` inclusive, in that order (either direction), decoded forward in
    chunks going backward (one seek per chunk, not per frame)."""
    if end >= start:
        yield from reader.frames(start, end + 1, 1)
        return
    hi = start + 1
    while hi > end:
        lo = max(end, hi - chunk)
        yield from reversed(list(reader.frames(lo, hi, 1)))
        hi = lo


# ---------------------------------------------------------------------- tracks
def _dynamic(doc: Any, class_id: str | None, attrs: dict[str, Any]) -> dict[str, Any]:
    """The per-frame part of ``attrs`` (:meth:`LabelClass.split_attributes`, the one rule)."""
    return _split(doc, class_id, attrs)[1]


def _split(doc: Any, class_id: str | None, attrs: dict[str, Any]
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(static for the track, per-frame for its shapes): the class's rule; no class: all
    per-frame."""
    cls = doc.schema.class_by_id(class_id) if class_id else None
    return cls.split_attributes(attrs) if cls is not None else ({}, dict(attrs))


def seed_track(doc: Any, seed: Annotation) -> tuple[Track, Annotation, list[Any]]:
    """The track ``seed`` belongs to (or a new one for it), the seed as that track's keyframe,
    and the records to store for that (empty when it already is one)."""
    if seed.track_id is not None:
        track = doc.track(seed.track_id)
        if track is not None:
            return track, seed, []
    static, dynamic = _split(doc, seed.class_id, seed.attributes)
    track = Track(seed.media_id, seed.class_id, attributes=static)
    keyed = replace(seed, track_id=track.id, keyframe=True, attributes=dynamic)
    return track, keyed, [track, keyed]


def taken_frames(doc: Any, track: Track | None) -> set[int]:
    """Frames where ``track`` already has a stored shape."""
    if track is None or doc.track(track.id) is None:
        return set()
    return {a.frame for a in doc.track_shapes(track) if a.frame is not None}


def mask_track_records(doc: Any, seed: Annotation, found: FramePropagation, source: str
                       ) -> tuple[list[Any], list[Review]]:
    """Records putting ``found`` masks on the seed's track, and the frames to review."""
    track, keyed, records = seed_track(doc, seed)
    dynamic = _dynamic(doc, keyed.class_id, keyed.attributes)
    shapes, review = mask_records(seed.media_id, track.id, keyed.class_id, dynamic,
                                  found.masks, source)
    return records + shapes, review


def mask_records(media_id: str, track_id: str, class_id: str | None,
                 attributes: dict[str, Any], masks: list[FrameMask], source: str
                 ) -> tuple[list[Annotation], list[Review]]:
    """``masks`` as shapes of track ``track_id``, and the frames among them to review."""
    from app.core.rle import encode

    records: list[Annotation] = []
    review: list[Review] = []
    for m in masks:
        place = Place(media_id, frame=m.frame)
        records.append(Annotation(place, Mask(encode(m.mask)), class_id, track_id,
                                  keyframe=False, source=source, score=min(max(m.score, 0), 1),
                                  attributes=dict(attributes)))
        if m.review:
            review.append(Review(place, m.review, m.score))
    return records, review


def lost_marker(media_id: str, track_id: str, class_id: str | None,
                attributes: dict[str, Any], lost: tuple[int, float], last: np.ndarray,
                source: str) -> Annotation:
    """The ``outside`` keyframe of a mask track on the frame where propagation forward lost
    the object (``lost``: that frame and the model's score there), holding ``last`` (the last
    mask kept, bool H x W): without it the track would hold that mask to the end of the
    video."""
    from app.core.rle import encode

    frame, score = lost
    return Annotation(Place(media_id, frame=frame), Mask(encode(np.asarray(last, bool))),
                      class_id, track_id, outside=True, source=source,
                      score=min(max(float(score), 0.0), 1.0), attributes=dict(attributes))


def box_track_records(doc: Any, seed: Annotation, found: list[Any], source: str
                      ) -> tuple[list[Any], list[Review]]:
    """Records putting a tracker's ``TrackedBox`` list on the seed box's track (the seed frame
    itself is skipped; judged boxes keep their state - occluded shapes, an ``outside``
    keyframe where the object left - and a raw lost stretch starts with an ``outside``
    keyframe), and the frames to review (:func:`box_reviews`)."""
    records, writer = seed_track_shapes(doc, seed, source)
    found = [t for t in found if t.frame != seed.frame]
    return records + writer.records(found), box_reviews(seed.media_id, found)


def seed_track_shapes(doc: Any, seed: Annotation, source: str) -> tuple[list[Any], Any]:
    """The records making ``seed`` a track keyframe (:func:`seed_track`) and the
    :class:`app.inference.prelabel.TrackShapes` turning a tracker's boxes into that track's
    shapes (the same class ``vellum track``'s ``TrackWriter`` writes with)."""
    from app.inference.prelabel import TrackShapes

    track, keyed, records = seed_track(doc, seed)
    dynamic = _dynamic(doc, keyed.class_id, keyed.attributes)
    return records, TrackShapes(seed.media_id, track.id, keyed.class_id, source, dynamic,
                                seed.frame)


def box_reviews(media_id: str, found: list[Any]) -> list[Review]:
    """The places to look at in a tracker's boxes: the first frame of each occluded run (its
    boxes are interpolated), the first frame of each outside or raw lost run, and found frames
    under :data:`REVIEW_SCORE`."""
    from app.inference.prelabel import box_state

    review: list[Review] = []
    ordered = sorted(found, key=lambda t: t.frame)
    for n, t in enumerate(ordered):
        state = box_state(t)
        score = min(max(float(t.score), 0.0), 1.0)
        place = Place(media_id, frame=t.frame)
        before = ordered[n - 1] if n else None
        same = before is not None and before.frame == t.frame - 1 and box_state(before) == state
        if state == "occluded" and not same:
            run = 1
            while n + run < len(ordered) and ordered[n + run].frame == t.frame + run and \
                    getattr(ordered[n + run], "state", "") == "occluded":
                run += 1
            review.append(Review(place, f"occluded on {run} frame(s) from here: the tracker "
                                        "lost the object, its box is interpolated", score))
        elif state == "outside" and not same:
            review.append(Review(place, "the tracker lost the object (outside from here)",
                                 score))
        elif state == "tracked" and score < REVIEW_SCORE:
            review.append(Review(place, f"tracker confidence {score:.2f}", score))
    return review


def track_command(doc: Any, records: list[Any], label: str) -> Any:
    """One undoable command storing ``records`` (a track, its seed re-stored as its keyframe,
    new shapes): in steps, so that undo removes the new shapes, gives the seed back its old
    self, then removes the track."""
    from app.core.commands import Batch, Put

    tracks = [r for r in records if isinstance(r, Track)]
    stored = [r for r in records if isinstance(r, Annotation)
              and doc.annotation(r.media_id, r.id) is not None]
    new = [r for r in records if isinstance(r, Annotation) and r not in stored]
    steps = [Put(tuple(group), label=label) for group in (tracks, stored, new) if group]
    return steps[0] if len(steps) == 1 else Batch(tuple(steps), label=label)
