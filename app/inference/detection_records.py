"""Detections as project records: box annotations with the model as ``source`` and its
confidence as ``score`` (so they show, filter and review like any model output), and, on
video with ``track=True``, tracks joining them across frames.

Classes: :func:`class_map_for` maps the model's class names to the project's classes by name,
case-insensitively; a model class the project lacks is **created** (the next palette colour),
so nothing a model found is dropped silently. ``only`` (``vellum detect --classes a,b``) keeps
the model's classes ``a`` and ``b`` alone: the detector drops the others before NMS, and no
class is created for them. A detection whose label is not in ``class_map`` is skipped.

Places: an image's detections sit on the image (key None), a video's on their frame (key =
frame index, 0-based in presentation order), a volume's on their slice (key = index along the
array axis ``axis``, k by default: ``Place(media, axis="k", index=key)``), in that slice's
pixel coordinates. Ids are fresh, or with ``id_seed`` derived from
it (``uuid5`` of seed, media id, frame and the detection's index in that frame's list, best
first): a re-run with the same seed and results writes the same ids, so it replaces instead
of adding. With ``track=True`` the detections of each class are associated frame to frame by
ByteTrack (``supervision``; one tracker per class, so a track keeps one class): each track is
a :class:`~app.core.annotations.Track` whose detections are its shapes (``keyframe=False``),
and where a track is not found on a processed frame after one where it was, an ``outside``
keyframe there hides it until it is found again. Detections ByteTrack does not join to a
confirmed track (a new object's first sighting, low scores) are not written with ``track``.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from app.core.annotations import Annotation, Track
from app.core.errors import VellumError
from app.core.identity import new_id
from app.core.media import MediaKind
from app.core.places import Place
from app.core.schema import PALETTE, LabelClass, LabelSchema
from app.core.shapes import Box

_NAMESPACE = uuid.UUID("5d0b5c8e-8f4e-4f43-9a0c-2f1d3c6a7e11")
#: ByteTrack settings: frames (processed ones) a lost track is kept for, and the IoU match.
LOST_BUFFER, MATCH_THRESHOLD = 30, 0.8


def class_map_for(doc: Any, names: Sequence[str], *, only: Sequence[str] | None = None,
                  create: bool = True) -> tuple[LabelSchema, dict[str, str]]:
    """``(schema, model name -> class id)``: each model class name (those in ``only`` when
    given, case-insensitively) mapped to the project class of the same name (case-insensitive),
    or to a new class added to the returned schema (``create``); the caller stores the schema
    (``SetSchema``) when it differs from ``doc.schema``."""
    schema: LabelSchema = doc.schema
    keep = {n.strip().lower() for n in only} if only is not None else None
    mapping: dict[str, str] = {}
    for name in names:
        if keep is not None and name.lower() not in keep or name in mapping:
            continue
        cls = next((c for c in schema.classes if c.name.lower() == name.lower()), None)
        if cls is None:
            if not create:
                continue
            cls = LabelClass(name, PALETTE[len(schema.classes) % len(PALETTE)])
            schema = schema.with_class(cls)
        elif not cls.allows("box"):
            raise VellumError(f"Class {cls.name!r} of {doc.path} does not allow boxes, so the "
                              f"detector's {name!r} boxes cannot be stored in it.", doc.path)
        mapping[name] = cls.id
    return schema, mapping


def _make_tracker(conf: float) -> Any:
    try:
        import supervision as sv
    except ImportError as exc:  # a broken install: say what is missing
        raise VellumError("Tracking detections needs the 'supervision' package, which this "
                          f"installation lacks ({exc}).") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ByteTrack is marked deprecated in supervision 0.30
        return sv.ByteTrack(track_activation_threshold=conf, lost_track_buffer=LOST_BUFFER,
                            minimum_matching_threshold=MATCH_THRESHOLD, frame_rate=30)


class DetectionRecords:
    """Turns detection results of one media item into records, call after call (a long video
    is written in steps): keys must come in ascending order across calls when tracking."""

    def __init__(self, doc: Any, media_id: str, *, class_map: Mapping[str, str | None],
                 source: str, track: bool, id_seed: str | None = None,
                 track_conf: float = 0.25, axis: str = "k") -> None:
        item = doc.media_item(media_id)
        self.axis = axis  # a volume's slices: their array axis (keys are indices along it)
        self.kind = item.kind
        if track and item.kind is not MediaKind.VIDEO:
            track = False  # a single picture has nothing to join
        self.doc, self.media_id, self.source = doc, media_id, source
        self.class_map, self.track, self.id_seed = dict(class_map), track, id_seed
        self.track_conf = track_conf
        self._trackers: dict[str, Any] = {}
        self._tracks: dict[tuple[str, int], str] = {}  # (label, tracker id) -> track id
        self._seen: dict[tuple[str, int], Box] = {}  # alive at the last processed frame
        self._last: int | None = None
        self.tracks_made = 0

    def _id(self, *parts: Any) -> str:
        if self.id_seed is None:
            return new_id()
        text = "|".join(str(p) for p in (self.id_seed, self.media_id, *parts))
        return uuid.uuid5(_NAMESPACE, text).hex

    def _place(self, key: int | None) -> Place:
        if self.kind is MediaKind.VIDEO:
            if key is None:
                raise VellumError(f"Detections on the video {self.media_id} need frame keys.")
            return Place(self.media_id, int(key))
        if self.kind is MediaKind.VOLUME:
            return Place(self.media_id, axis=self.axis, index=int(key or 0))
        return Place(self.media_id)

    def _attributes(self, class_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        cls = self.doc.schema.class_by_id(class_id)
        if cls is None:
            return {}, {}
        defaults = cls.default_attributes()
        return cls.split_attributes(defaults) if self.track else ({}, defaults)

    def records(self, results: Mapping[int | None, Sequence[Any]]) -> list[Any]:
        """The records of ``results`` (key -> detections with ``box``, ``label``, ``score``)."""
        out: list[Any] = []
        for key in sorted(results, key=lambda k: -1 if k is None else k):
            dets = list(results[key])
            if self.track:
                out += self._tracked(int(key), dets)
                continue
            for n, d in enumerate(dets):
                class_id = self.class_map.get(d.label)
                if d.label not in self.class_map:
                    continue
                out.append(Annotation(self._place(key), Box(*d.box), class_id,
                                      source=self.source,
                                      score=min(max(float(d.score), 0.0), 1.0),
                                      attributes=self._attributes(class_id)[1] if class_id
                                      else {}, id=self._id(key, n)))
        return out

    def _tracked(self, frame: int, dets: list[Any]) -> list[Any]:
        import numpy as np

        if self._last is not None and frame <= self._last:
            raise ValueError(f"frames must come in ascending order ({frame} after "
                             f"{self._last})")
        self._last = frame
        out: list[Any] = []
        alive: dict[tuple[str, int], Box] = {}
        by_label: dict[str, list[tuple[int, Any]]] = {}
        for n, d in enumerate(dets):
            if d.label in self.class_map:
                by_label.setdefault(d.label, []).append((n, d))
        import supervision as sv

        for label in sorted(set(by_label) | set(self._trackers)):
            tracker = self._trackers.get(label)
            if tracker is None:
                tracker = self._trackers[label] = _make_tracker(self.track_conf)
            group = by_label.get(label, [])
            xyxy = np.array([[d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3]]
                             for _, d in group], np.float32).reshape(-1, 4)
            sv_dets = sv.Detections(xyxy=xyxy, confidence=np.array(
                [d.score for _, d in group], np.float32), class_id=np.zeros(len(group), int),
                data={"index": np.array([n for n, _ in group], int)})
            tracked = tracker.update_with_detections(sv_dets)
            for tid, index in zip(tracked.tracker_id, tracked.data.get("index", [])):
                n = int(index)
                d = dets[n]
                key = (label, int(tid))
                out += self._shape(frame, n, key, d)
                alive[key] = d.box
        for key, box in self._seen.items():  # found on the last processed frame, not here
            if key not in alive:
                track_id = self._tracks[key]
                out.append(Annotation(self._place(frame), Box(*box), self.class_map[key[0]],
                                      track_id=track_id, outside=True, source=self.source,
                                      id=self._id(frame, "outside", track_id)))
        self._seen = alive
        return out

    def _shape(self, frame: int, n: int, key: tuple[str, int], d: Any) -> list[Any]:
        class_id = self.class_map[key[0]]
        static, dynamic = self._attributes(class_id) if class_id else ({}, {})
        out: list[Any] = []
        track_id = self._tracks.get(key)
        if track_id is None:
            track_id = self._tracks[key] = self._id("track", key[0], key[1])
            out.append(Track(self.media_id, class_id, attributes=static, id=track_id))
            self.tracks_made += 1
        out.append(Annotation(self._place(frame), Box(*d.box), class_id, track_id=track_id,
                              keyframe=False, source=self.source,
                              score=min(max(float(d.score), 0.0), 1.0), attributes=dynamic,
                              id=self._id(frame, n)))
        return out


def detection_records(doc: Any, media_id: str, results: Mapping[int | None, Sequence[Any]],
                      *, class_map: Mapping[str, str | None], source: str, track: bool,
                      id_seed: str | None = None, axis: str = "k") -> list[Any]:
    """The records (annotations, and :class:`Track` records with ``track``) storing
    ``results`` of :func:`app.inference.detection.detect_media` on media ``media_id`` of
    ``doc``: boxes with ``source`` (the model id) and ``score``; labels mapped through
    ``class_map`` (model name -> class id, see :func:`class_map_for`; absent labels skipped).
    Store them with one ``Put`` (after a ``SetSchema`` for new classes)."""
    return DetectionRecords(doc, media_id, class_map=class_map, source=source, track=track,
                            id_seed=id_seed, axis=axis).records(results)


__all__ = ["class_map_for", "detection_records", "DetectionRecords"]
