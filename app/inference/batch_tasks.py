"""The tasks a batch job runs (:mod:`app.inference.batch`): ``detect``, ``track`` and
``propagate``. Each plans its units from the project (writer side), computes a unit from its
media path and options alone (worker side, :meth:`compute`), and turns a unit's results into
records with ids from :func:`~app.inference.batch.record_id` (writer side).

- ``detect``: an object detector (``app.inference.detection``) over every frame of the chosen
  videos (units of at most 100 frames) and every chosen image (one unit each); each detection
  becomes a box annotation with the model as its ``source`` and its confidence as ``score``.
- ``track``: every *open* track of the chosen videos - its last stored shape is a keyframe
  (set by a person), not ``outside`` and not on the video's last frame - is tracked forward
  from that keyframe's box (its bounding box for a polygon or mask) with the installed
  tracker, as ``vellum track PROJECT`` does (``app.inference.prelabel.TrackShapes``: tracked
  shapes, occluded stretches, an outside keyframe where the object leaves), to the video's end
  or ``frames`` frames. One unit per track, committed in steps of at most 100 frames; a
  resumed unit restarts from the last committed frame where the object was tracked, with that
  frame's box (what it wrote after that frame is replaced).
- ``propagate``: every *open mask* track of the chosen videos - its last stored shape is a
  mask keyframe (drawn, or a segment-anything answer a person kept), not ``outside`` and not on
  the last frame - has its mask carried forward frame by frame with a segment-anything model
  (``app.inference.propagation_records.propagate_frames``: stops where the mask is lost), as
  the window's "propagate" does; the masks become the track's shapes (``keyframe=False``).
  One unit per track, committed in steps of at most 100 frames; a resumed unit restarts from
  the last committed mask (propagation depends only on the previous mask, so a resumed job
  writes exactly what an uninterrupted one would).

Frames are 0-based in presentation order; boxes ``(x, y, w, h)`` in continuous pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.core.errors import ModelError, VellumError
from app.core.track_edits import open_tracks
from app.inference.batch import STEP_FRAMES, Job, Unit, record_id, remove_existing


def _root(options: dict[str, Any]) -> Path | None:
    root = options.get("models_root")
    return Path(root) if root else None


def _videos(items: list[Any]) -> list[Any]:
    from app.core.media import MediaKind

    return [m for m in items if m.kind is MediaKind.VIDEO]


def _dynamic(doc: Any, track: Any, keyframe: Any) -> dict[str, Any]:
    from app.inference.propagation_records import _dynamic as split

    return split(doc, track.class_id, keyframe.attributes)


def _stale(doc: Any, job: Job, unit: Unit, start: int, end: int) -> list[Any]:
    """A resumed unit's commands removing what it wrote after frame ``start``."""
    from app.core.commands import Remove

    old = remove_existing(doc, unit.media_id,
                          (record_id(job.id, unit.key, f) for f in range(start + 1, end + 1)))
    return [Remove(tuple(old), label="Batch: redo after resume")] if old else []


# ---------------------------------------------------------------------- track
class TrackTask:
    name = "track"

    def plan(self, doc: Any, items: list[Any], options: dict[str, Any]) -> list[Unit]:
        units = []
        for item in _videos(items):
            path = str(doc.media_path(item))
            for track, last, end in open_tracks(
                    doc, item, options.get("frames"),
                    lambda a: a.shape.bbox()[2] > 0 and a.shape.bbox()[3] > 0):
                units.append(Unit(f"track:{track.id}:{last.frame}", item.id, path,
                                  end - last.frame + 1,
                                  {"track_id": track.id, "start": last.frame, "end": end,
                                   "box": [float(v) for v in last.shape.bbox()]}))
        return units

    def resume(self, unit: Unit, mark: dict[str, Any]) -> Unit:
        start = int(mark["frame"])
        return replace(unit, frames=int(unit.args["end"]) - start + 1,
                       args={**unit.args, "start": start, "box": list(mark["box"])})

    def writer(self, doc: Any, job: Job, unit: Unit, mark: dict[str, Any] | None) -> Any:
        return _TrackWriter(doc, job, unit, mark is not None)

    @staticmethod
    def compute(unit: Unit, options: dict[str, Any], emit: Callable[[Any, int, bool], None],
                should_stop: Callable[[], bool]) -> None:
        from app.inference.tracking import open_tracker, track_steps
        from app.io.video import open_video

        args = unit.args
        tracker = open_tracker(options["model"], models_root=_root(options))
        seen = 0
        with open_video(unit.path) as reader:
            for step in track_steps(reader, tuple(args["box"]), int(args["start"]),
                                    int(args["end"]), tracker=tracker,
                                    lost=options.get("lost", "occluded"), every=STEP_FRAMES,
                                    cancelled=should_stop):
                emit({"done": step.done, "pending": step.pending}, step.tracked - seen,
                     step.last)
                seen = step.tracked


class _TrackWriter:
    """A tracker's steps as the shapes of the unit's track (``TrackShapes``), one id per
    frame."""

    def __init__(self, doc: Any, job: Job, unit: Unit, resumed: bool) -> None:
        from app.inference.prelabel import TrackShapes

        self.doc, self.job, self.unit, self.resumed = doc, job, unit, resumed
        args = unit.args
        self.track = doc.track(args["track_id"])
        if self.track is None:
            raise VellumError(f"Track {args['track_id']} of the batch job is no longer in "
                              f"{doc.path}.", doc.path)
        key = next((a for a in doc.track_shapes(self.track) if a.frame == args["start"]),
                   None)
        dynamic = _dynamic(doc, self.track, key) if key is not None else {}
        self.shapes = TrackShapes(unit.media_id, self.track.id, self.track.class_id,
                                  job.options["model"], dynamic, int(args["start"]))

    def step(self, payload: dict[str, Any], last: bool
             ) -> tuple[list[Any], dict[str, Any] | None, int]:
        from app.core.commands import Put

        commands: list[Any] = []
        if self.resumed:
            commands += _stale(self.doc, self.job, self.unit, int(self.unit.args["start"]),
                               int(self.unit.args["end"]))
            self.resumed = False
        records = [replace(a, id=record_id(self.job.id, self.unit.key, a.frame))
                   for a in self.shapes.records(payload["done"], payload["pending"])]
        if records:
            commands.append(Put(tuple(records), label=f"Track with {self.job.options['model']}"))
        tracked = [t for t in payload["done"] if t.state == "tracked"]
        mark = None
        if tracked:
            t = max(tracked, key=lambda t: t.frame)
            mark = {"frame": int(t.frame), "box": [float(v) for v in t.box]}
        return commands, mark, len(records)


# ---------------------------------------------------------------------- propagate
class PropagateTask:
    name = "propagate"

    def plan(self, doc: Any, items: list[Any], options: dict[str, Any]) -> list[Unit]:
        from app.core.shapes import Mask

        units = []
        for item in _videos(items):
            path = str(doc.media_path(item))
            for track, last, end in open_tracks(doc, item, options.get("frames"),
                                                 lambda a: isinstance(a.shape, Mask)):
                rle = last.shape.rle
                units.append(Unit(f"propagate:{track.id}:{last.frame}", item.id, path,
                                  end - last.frame,
                                  {"track_id": track.id, "start": last.frame, "end": end,
                                   "rle": [rle.height, rle.width, rle.counts],
                                   "fingerprint": item.fingerprint or None}))
        return units

    def resume(self, unit: Unit, mark: dict[str, Any]) -> Unit:
        start = int(mark["frame"])
        return replace(unit, frames=int(unit.args["end"]) - start,
                       args={**unit.args, "start": start, "rle": list(mark["rle"])})

    def writer(self, doc: Any, job: Job, unit: Unit, mark: dict[str, Any] | None) -> Any:
        return _MaskWriter(doc, job, unit, mark is not None)

    @staticmethod
    def compute(unit: Unit, options: dict[str, Any], emit: Callable[[Any, int, bool], None],
                should_stop: Callable[[], bool]) -> None:
        from app.core.rle import Rle, decode, encode
        from app.inference.propagation_records import frames_between, propagate_frames
        from app.inference.sam import SamSession
        from app.io.video import open_video

        args = unit.args
        start, end = int(args["start"]), int(args["end"])
        seed = decode(Rle(*args["rle"])).astype(bool)
        sent = [0, 0]  # masks sent, frames reported

        def pack(masks: list[Any]) -> list[tuple[int, list[Any], float, str]]:
            out = []
            for m in masks:
                r = encode(m.mask)
                out.append((int(m.frame), [r.height, r.width, r.counts], float(m.score),
                            m.review))
            return out

        def step(masks: list[Any]) -> None:
            fresh = masks[sent[0]:]
            emit({"masks": pack(fresh)}, len(fresh), False)
            sent[0], sent[1] = len(masks), sent[1] + len(fresh)

        with SamSession(options["model"], models_root=_root(options)) as session, \
                open_video(unit.path) as reader:
            found = propagate_frames(frames_between(reader, start + 1, end), session, seed,
                                     unit.media_id, args.get("fingerprint"),
                                     cancelled=should_stop, on_step=step, every=STEP_FRAMES)
        lost = None
        if found.lost is not None and not found.stopped:  # outside from there (the last
            last_mask = found.masks[-1].mask if found.masks else seed  # mask kept is held)
            r = encode(last_mask)
            lost = [int(found.lost[0]), float(found.lost[1]), [r.height, r.width, r.counts]]
        emit({"masks": pack(found.masks[sent[0]:]), "stopped": found.stopped, "lost": lost},
             max(0, unit.frames - sent[1]), True)


class _MaskWriter:
    """Propagated masks as the shapes of the unit's track, one id per frame."""

    def __init__(self, doc: Any, job: Job, unit: Unit, resumed: bool) -> None:
        self.doc, self.job, self.unit, self.resumed = doc, job, unit, resumed
        self.track = doc.track(unit.args["track_id"])
        if self.track is None:
            raise VellumError(f"Track {unit.args['track_id']} of the batch job is no longer "
                              f"in {doc.path}.", doc.path)
        key = next((a for a in doc.track_shapes(self.track)
                    if a.frame == int(unit.args["start"]) and a.keyframe), None)
        self.attributes = _dynamic(doc, self.track, key) if key is not None else {}

    def step(self, payload: dict[str, Any], last: bool
             ) -> tuple[list[Any], dict[str, Any] | None, int]:
        from app.core.annotations import Annotation
        from app.core.commands import Put
        from app.core.places import Place
        from app.core.rle import Rle
        from app.core.shapes import Mask

        commands: list[Any] = []
        if self.resumed:
            commands += _stale(self.doc, self.job, self.unit, int(self.unit.args["start"]),
                               int(self.unit.args["end"]))
            self.resumed = False
        source = self.job.options["model"]
        records = [Annotation(Place(self.unit.media_id, frame=frame), Mask(Rle(*rle)),
                              self.track.class_id, self.track.id, keyframe=False,
                              source=source, score=min(max(score, 0.0), 1.0),
                              attributes=dict(self.attributes),
                              id=record_id(self.job.id, self.unit.key, frame))
                   for frame, rle, score, _ in payload["masks"]]
        if last and payload.get("lost"):
            from dataclasses import replace as _replace

            from app.core.rle import decode
            from app.inference.propagation_records import lost_marker

            frame, score, rle = payload["lost"]
            marker = lost_marker(self.unit.media_id, self.track.id, self.track.class_id,
                                 self.attributes, (int(frame), float(score)),
                                 decode(Rle(*rle)).astype(bool), source)
            records.append(_replace(marker, id=record_id(self.job.id, self.unit.key,
                                                         int(frame))))
        if records:
            commands.append(Put(tuple(records), label=f"Propagate with {source}"))
        mark = None
        if payload["masks"]:
            frame, rle, _, _ = max(payload["masks"], key=lambda m: m[0])
            mark = {"frame": int(frame), "rle": list(rle)}
        return commands, mark, len(records)


# ---------------------------------------------------------------------- detect
class DetectTask:
    """Detection through ``app.inference.detection`` (``iter_detections`` in the workers,
    ``detection_records`` in the writer). Without ``track`` a video is cut into units of at
    most 100 frames; with it, one unit per video streamed in steps of 100 frames (identities
    span the video, so a resumed unit runs again from its first frame: the same ids come back
    and replace what it wrote). The model's classes are mapped to the project's by name (new
    ones created) when the job starts."""

    name = "detect"

    def plan(self, doc: Any, items: list[Any], options: dict[str, Any]) -> list[Unit]:
        from app.core.media import MediaKind
        from app.inference.detection_manifest import check_detector_manifest
        from app.inference.detection_records import class_map_for
        from app.inference.packs import open_pack

        _detection()  # a clear sentence now, before anything is written
        pack = open_pack(options["model"], _root(options))
        names, _ = check_detector_manifest(pack.manifest)
        _, options["class_map"] = class_map_for(doc, names, only=options.get("classes"))
        units = []
        limit = options.get("frames")
        every = max(1, int(options.get("every") or 1))  # frames 0, K, 2K, ...
        for item in items:
            path = str(doc.media_path(item))
            if item.kind is MediaKind.IMAGE:
                units.append(Unit(f"detect:{item.id}", item.id, path, 1, {"kind": "image"}))
            elif item.kind is MediaKind.VIDEO:
                count = int(item.frames) if not limit else min(int(item.frames), int(limit))
                size = count if options.get("track") else STEP_FRAMES * every
                for lo in range(0, count, max(size, 1)):
                    hi = min(count, lo + size)
                    units.append(Unit(f"detect:{item.id}:{lo}-{hi - 1}", item.id, path,
                                      len(range(lo, hi, every)),
                                      {"kind": "video", "frames": [lo, hi], "every": every}))
        return units

    def begin(self, doc: Any, job: Job) -> list[Any]:
        """The classes the job's class map needs that the project lacks, as one command."""
        from app.core.commands import SetSchema
        from app.core.schema import PALETTE, LabelClass

        schema = doc.schema
        names = {v: k for k, v in (job.options.get("class_map") or {}).items()}
        for class_id, name in names.items():
            if schema.class_by_id(class_id) is None:
                schema = schema.with_class(LabelClass(name, PALETTE[len(schema.classes)
                                                                    % len(PALETTE)],
                                                      id=class_id))
        return [SetSchema(schema)] if schema != doc.schema else []

    def resume(self, unit: Unit, mark: dict[str, Any]) -> Unit:
        return unit  # a unit not done runs again whole (same ids: its records are replaced)

    def writer(self, doc: Any, job: Job, unit: Unit, mark: dict[str, Any] | None) -> Any:
        return _DetectWriter(doc, job, unit)

    @staticmethod
    def compute(unit: Unit, options: dict[str, Any], emit: Callable[[Any, int, bool], None],
                should_stop: Callable[[], bool]) -> None:
        detection = _detection()
        span = unit.args.get("frames")
        frames = None if span is None else range(int(span[0]), int(span[1]),
                                                 int(unit.args.get("every", 1)))
        detector = detection.load_detector(options["model"], conf=options["conf"],
                                           iou=options["iou"], classes=options.get("classes"),
                                           models_root=_root(options))
        found: dict[int | None, list[Any]] = {}
        for key, dets in detection.iter_detections(detector, unit.path, unit.args["kind"],
                                                   frames, should_stop=should_stop):
            found[key] = [(tuple(d.box), d.label, float(d.score)) for d in dets]
            if len(found) >= STEP_FRAMES:
                emit({"results": found}, len(found), False)
                found = {}
        emit({"results": found}, len(found), True)


class _DetectWriter:
    """Detections as box annotations (and tracks) with ids seeded by the job and unit."""

    def __init__(self, doc: Any, job: Job, unit: Unit) -> None:
        from app.inference.detection_records import DetectionRecords

        options = job.options
        self.model = options["model"]
        self.records = DetectionRecords(doc, unit.media_id, class_map=options["class_map"],
                                        source=self.model, track=bool(options.get("track")),
                                        id_seed=f"{job.id}|{unit.key}")

    def step(self, payload: dict[str, Any], last: bool
             ) -> tuple[list[Any], dict[str, Any] | None, int]:
        from app.core.commands import Put
        from app.inference.detection import Detection

        results = {k: [Detection(tuple(b), label, score) for b, label, score in dets]
                   for k, dets in payload["results"].items()}
        records = self.records.records(results)
        if not records:
            return [], None, 0
        return [Put(tuple(records), label=f"Detect with {self.model}")], None, len(records)


def _detection() -> Any:
    try:
        import app.inference.detection as detection
    except ImportError:
        raise ModelError("This build of Vellum has no object detection "
                         "(app.inference.detection), so 'vellum batch --task detect' cannot "
                         "run.") from None
    return detection


TASKS: dict[str, Any] = {t.name: t for t in (DetectTask(), TrackTask(), PropagateTask())}
