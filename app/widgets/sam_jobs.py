"""Propagation and tracking in the window, as background jobs the video timeline and the
volume views can call too.

Each function takes a ``host`` with ``state``, ``jobs``, ``message(text)`` and ``error(text)``
(a :class:`~app.widgets.presenters.ModeHost` or the main window), starts one job (progress bar
and Cancel in the status bar), and commits its results on the UI thread **in steps**: one
undoable command after every :data:`~app.inference.tracking.STEP_FRAMES` (100) frames or
slices and one for the rest, so that a crash keeps what was done (a run of up to 100 is one
command, as before). Undo takes one step back at a time, newest first; undoing the first also
removes the track it made. Cancel keeps the steps already committed and adds nothing more; a
step the document refuses (the track was edited meanwhile) stops the job. At the end it calls
``on_review(title, reviews)`` with the places where confidence dropped
(:class:`~app.inference.propagation_records.Review`), or says why nothing was done. It returns the
:class:`~app.widgets.jobs.Job`, or None when it could not start (the status bar says why).

- :func:`propagate_volume_segment` - from a box on one slice, up and down the volume
  (:func:`app.inference.propagation.propagate_volume`), painted into the label map;
- :func:`propagate_video_mask` - a mask forward or backward over ``frames`` frames, as the
  shapes of the seed's mask track (made for it when it has none; the SAM tool's Enter with
  its output "mask" already made the seed a mask keyframe of a track); going forward, the
  frame where the model lost the object gets an ``outside`` keyframe, since a mask track
  holds its latest mask;
- :func:`track_box` - a box forward or backward ``frames`` frames with the tracker
  (NanoTrack when installed, else the classical one), as the shapes of the box's track; a
  lost stretch it comes back from becomes occluded shapes with interpolated boxes, one the
  object left by as an outside keyframe (``app.inference.tracking.LostStretches``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

from app.core.annotations import Annotation
from app.core.commands import ModifyLabelMap
from app.core.errors import VellumError
from app.core.labelmap import Mode
from app.core.places import Place
from app.inference.propagation_records import (Review, _dynamic, box_reviews,
                                               frames_between, lost_marker, mask_records,
                                               propagate_frames,
                                               seed_track, seed_track_shapes, taken_frames,
                                               track_command, volume_modifier, volume_review)
from app.inference.tracking import STEP_FRAMES
from app.widgets.jobs import Cancelled, Job

OnReview = Callable[[str, list[Review]], None]


class _Steps(QObject):
    """A job's partial results, handed from the worker thread to the UI thread: ``post``
    (worker) queues ``apply(payload)`` on the UI thread, in order and before the job's own
    ``on_done``. Make it on the UI thread, owned by the host's job pool (``parent``): a
    parentless QObject would be destroyed wherever Python's last reference goes, which for a
    job's closures is the worker thread, and destroying it there can deadlock with Qt."""

    arrived = Signal(object)

    def __init__(self, apply: Callable[[Any], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._apply = apply
        self.job: Job | None = None
        self.steps = 0
        self.stopped = False
        self.arrived.connect(self._on_arrived, Qt.ConnectionType.QueuedConnection)

    def post(self, payload: Any) -> None:
        self.arrived.emit(payload)

    def execute(self, host: Any, command: Any) -> bool:
        """Execute one step (UI thread); a refused one stops the job."""
        if self.stopped:
            return False
        if not host.state.execute(command):
            self.stopped = True
            if self.job is not None:
                self.job.cancel()
            host.message("The job stopped: its next step could not be written (the steps "
                         "before it are kept).")
            return False
        self.steps += 1
        return True

    @Slot(object)
    def _on_arrived(self, payload: Any) -> None:
        self._apply(payload)


def _owner(host: Any) -> QObject | None:
    """The host's job pool when it is a QObject (it lives as long as the window)."""
    jobs = getattr(host, "jobs", None)
    return jobs if isinstance(jobs, QObject) else None


def _fail(host: Any) -> Callable[[Exception], None]:
    return lambda exc: host.error(str(exc) if isinstance(exc, VellumError) else
                                  f"The job stopped ({exc}).")


def _fingerprint(host: Any, media_id: str) -> str | None:
    item = host.state.doc.stored_media(media_id)
    return item.fingerprint if item is not None and item.fingerprint else None


# ---------------------------------------------------------------------- volumes
def propagate_volume_segment(host: Any, engine: Any, model_id: str, source: Any,
                             box: tuple[float, float, float, float], target: Any,
                             window: tuple[float, float], on_review: OnReview | None = None
                             ) -> Job | None:
    """Segment the object in ``box`` on the slice ``source`` shows (a VolumeSliceSource: its
    ``volume`` [k, j, i] and ``place``) with ``model_id``, then up and down until it ends;
    paint every kept slice into ``target`` (a :class:`~app.tools.paint.LabelMapPaint`) as one
    edit. ``window`` (width, level): how slices are windowed to 8-bit."""
    place: Place = source.place
    volume = source.volume
    axis = "kji".index(place.axis)  # type: ignore[arg-type]
    count = volume.shape[axis]
    fingerprint = _fingerprint(host, place.media_id)

    def commit(slices: Any) -> None:  # UI thread: one step, the slices kept since the last
        modifier = volume_modifier(SimpleNamespace(slices=slices, axis=axis))
        if modifier is None:
            return
        start, block = modifier
        steps.execute(host, ModifyLabelMap(target.labelmap_id, start, block, Mode.ADD,
                                           target.value, label=f"Propagate with {model_id}"))

    steps = _Steps(commit, _owner(host))

    def work(job: Job) -> Any:
        session = engine.session(model_id)
        from app.inference.propagation import propagate_volume

        sent: set[int] = set()

        def kept(slices: list[Any]) -> None:
            if not job.cancelled:
                sent.update(s.index for s in slices)
                steps.post(slices)

        result = propagate_volume(volume, session, int(place.index), box, window, axis=axis,
                                  progress=lambda done, *_: job.progress(done, count),
                                  cancelled=lambda: job.cancelled, content=fingerprint,
                                  on_kept=kept, every=STEP_FRAMES, media_id=place.media_id)
        if job.cancelled:
            raise Cancelled()
        rest = [s for s in result.slices if s.index not in sent]
        if rest:
            steps.post(rest)
        return result

    def done(result: Any) -> None:
        if steps.stopped:
            return
        if not steps.steps:
            host.message(f"{model_id} found nothing to propagate from slice "
                         f"{place.axis}={place.index} ({result.stopped.get('up', '')}).")
            return
        reviews = volume_review(result, place.media_id)
        ends = "; ".join(f"{d}: {why}" for d, why in result.stopped.items())
        host.message(f"Segmented slices {place.axis}={result.first}-{result.last} "
                     f"({len(result.slices)} slices; stopped {ends}); {len(reviews)} to "
                     "review.", 10000)
        if on_review is not None:
            on_review(f"Propagation {place.axis}={result.first}-{result.last}", reviews)

    steps.job = host.jobs.start(f"Propagating through slices ({model_id})", work,
                                on_done=done, on_error=_fail(host))
    return steps.job


# ---------------------------------------------------------------------- video
def _reach(host: Any, seed: Annotation, frames: int, backward: bool, verb: str
           ) -> tuple[Any, set[int], int] | None:
    """Where a run from ``seed`` goes: the video's path, the frames its track already has a
    shape on (the seed's excepted) and the last frame to reach (:func:`_end`); None (the
    user told why) when there is no frame to ``verb`` to in that direction."""
    doc = host.state.doc
    item = doc.media_item(seed.media_id)
    track = doc.track(seed.track_id) if seed.track_id else None
    taken = taken_frames(doc, track) - {seed.frame}
    end = _end(seed.frame, frames, backward, item.frames, taken)
    if end == seed.frame:
        host.message(f"There is no frame to {verb} to in that direction.")
        return None
    return doc.media_path(item), taken, end


def _end(start: int, frames: int, backward: bool, count: int, taken: set[int]) -> int:
    """The last frame to reach: ``frames`` away, inside the video, before the next frame the
    track already has a shape on."""
    end = max(0, start - frames) if backward else min(count - 1, start + frames)
    ahead = [f for f in taken if (f < start if backward else f > start)]
    if ahead:
        nearest = max(ahead) if backward else min(ahead)
        end = max(end, nearest + 1) if backward else min(end, nearest - 1)
    return end


def propagate_video_mask(host: Any, engine: Any, model_id: str, seed: Annotation,
                         frames: int, backward: bool = False, on_review: OnReview | None = None
                         ) -> Job | None:
    """Carry the mask ``seed`` (an annotation on a video frame, stored or not) ``frames``
    frames forward (or backward), stopping where the model loses it or at the track's next
    shape; the masks become the shapes of the seed's track."""
    from app.core.rle import decode
    from app.core.shapes import Mask

    doc = host.state.doc
    if not isinstance(seed.shape, Mask) or seed.frame is None:
        host.message("Propagation along a video starts from a mask on a frame: segment the "
                     "object first (the segment-anything tool, W).")
        return None
    reach = _reach(host, seed, frames, backward, "propagate")
    if reach is None:
        return None
    path, taken, end = reach
    step = -1 if backward else 1
    mask = decode(seed.shape.rle).astype(bool)
    fingerprint = _fingerprint(host, seed.media_id)
    track, keyed, first = seed_track(doc, seed)
    dynamic = _dynamic(doc, keyed.class_id, keyed.attributes)
    reviews: list[Review] = []

    def commit(payload: Any) -> None:  # UI thread: one step, the masks made since the last
        nonlocal first
        masks, lost, last = payload
        shapes, review = mask_records(seed.media_id, track.id, keyed.class_id, dynamic, masks,
                                      model_id)
        if lost is not None and not backward:  # out of view from there, not held to the end
            shapes.append(lost_marker(seed.media_id, track.id, keyed.class_id, dynamic, lost,
                                      last, model_id))
        if not shapes:
            return
        if steps.execute(host, track_command(doc, first + shapes,
                                             f"Propagate with {model_id}")):
            first = []
            reviews.extend(review)

    steps = _Steps(commit, _owner(host))

    def work(job: Job) -> Any:
        from app.io.video import open_video

        session = engine.session(model_id)
        total = abs(end - seed.frame)
        sent = [0]

        def made(masks: list[Any]) -> None:
            if not job.cancelled:
                steps.post((masks[sent[0]:], None, None))
                sent[0] = len(masks)

        with open_video(path) as reader:
            found = propagate_frames(frames_between(reader, seed.frame + step, end), session,
                                     mask, seed.media_id, fingerprint, taken,
                                     cancelled=lambda: job.cancelled,
                                     progress=lambda n: job.progress(n, total),
                                     on_step=made, every=STEP_FRAMES)
        if job.cancelled:
            raise Cancelled()
        if found.masks[sent[0]:] or found.lost is not None:
            last = found.masks[-1].mask if found.masks else mask
            steps.post((found.masks[sent[0]:], found.lost, last))
        return found

    def done(found: Any) -> None:
        if steps.stopped:
            return
        if not found.masks:
            host.message(f"Nothing propagated ({found.stopped}).")
            return
        frames_done = [m.frame for m in found.masks]
        host.message(f"Masks on frames {min(frames_done)}-{max(frames_done)} "
                     f"({len(frames_done)}; stopped: {found.stopped}); {len(reviews)} to "
                     "review.", 10000)
        if on_review is not None:
            on_review(f"Propagation frames {min(frames_done)}-{max(frames_done)}", reviews)

    steps.job = host.jobs.start(f"Propagating the mask ({model_id})", work, on_done=done,
                                on_error=_fail(host))
    return steps.job


def track_box(host: Any, seed: Annotation, frames: int, backward: bool = False,
              model_id: str | None = None, on_review: OnReview | None = None) -> Job | None:
    """Track the box ``seed`` (an annotation on a video frame, stored or not) ``frames`` frames
    forward (or backward) with ``model_id`` (default: the best installed tracker, else the
    classical one), up to the track's next shape; the boxes become the shapes of its track."""
    from app.core.shapes import Box

    doc = host.state.doc
    if not isinstance(seed.shape, Box) or seed.frame is None:
        host.message("Tracking starts from a box on a video frame: select one (or draw it, R).")
        return None
    reach = _reach(host, seed, frames, backward, "track")
    if reach is None:
        return None
    path, _taken, end = reach
    box = seed.shape.bbox()
    first, writer = seed_track_shapes(doc, seed, "")
    reviews: list[Review] = []

    def commit(payload: Any) -> None:  # UI thread: one step, the boxes decided since the last
        nonlocal first
        source, done_boxes, pending = payload
        writer.source = source  # the tracker's id, known once it is open
        shapes = writer.records(done_boxes, pending)
        if shapes and steps.execute(host, track_command(doc, first + shapes,
                                                        f"Track with {source}")):
            first = []
            reviews.extend(box_reviews(seed.media_id,
                                       [t for t in done_boxes if t.frame != seed.frame]))

    steps = _Steps(commit, _owner(host))

    def work(job: Job) -> Any:
        from app.inference.tracking import installed_tracker_id, open_tracker, track_steps
        from app.io.video import open_video

        chosen = model_id or installed_tracker_id()
        tracker = open_tracker(chosen)
        with open_video(path) as reader:
            for part in track_steps(reader, box, seed.frame, end, backward, tracker,
                                    every=STEP_FRAMES,
                                    progress=lambda done, total: job.progress(done, total or 0),
                                    cancelled=lambda: job.cancelled):
                if job.cancelled:
                    raise Cancelled()
                steps.post((tracker.model_id, part.done, part.pending))
        return tracker.model_id

    def done(source: Any) -> None:
        if steps.stopped:
            return
        if not steps.steps:
            host.message("The tracker found nothing to add.")
            return
        lo, hi = min(seed.frame, end), max(seed.frame, end)
        host.message(f"Tracked frames {lo}-{hi} with {source}; {len(reviews)} to review.",
                     10000)
        if on_review is not None:
            on_review(f"Tracking frames {lo}-{hi}", reviews)

    steps.job = host.jobs.start("Tracking the box", work, on_done=done, on_error=_fail(host))
    return steps.job


def seed_annotation(state: Any, tool: Any = None, kinds: tuple[str, ...] = ("mask",)
                    ) -> Annotation | None:
    """What to propagate from at the current place: the one selected shape of ``kinds``, else
    the SAM tool's previewed mask (as an unsaved annotation of the active class)."""
    sel = [a for a in state.selected() if a.kind in kinds]
    if len(sel) == 1:
        return sel[0]
    answer = getattr(tool, "answer", None)
    place = getattr(tool, "place", None)
    if "mask" in kinds and answer is not None and answer.mask is not None and place is not None:
        from app.core.rle import encode
        from app.core.shapes import Mask

        return state.new_annotation(Mask(encode(np.asarray(answer.mask, bool))), place=place,
                                    source=answer.source,
                                    score=min(max(float(answer.score), 0.0), 1.0))
    return None
