"""The one check at the door: every record a command stores is validated here first.

A refused record raises :class:`~app.core.errors.RefusedEdit` with one sentence naming what is
wrong; the document then rolls the whole command back, so nothing changes. The checks are the
document's invariants:

- places fit their media: no frame on a still image, frame and slice indices inside the media,
  events only on video (media-level) with their range inside it;
- a mask has exactly the picture size of its place (volume slices paint label maps instead);
- attribute values have their declared type; on a track, static attributes live on the track
  and only per-frame ("dynamic") ones on its shapes;
- a track's shapes are on its video, with its class, one per frame;
- a label map has its volume's shape, and its segments link to classes that exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.core.annotations import Annotation, Track
from app.core.errors import RefusedEdit
from app.core.labelmap import LabelMapInfo
from app.core.media import FrameTimes, MediaItem, MediaKind
from app.core.places import picture_shape
from app.core.schema import LabelClass, LabelSchema
from app.core.shapes import Event, Mask, Tag


class DocumentView(Protocol):
    """What the checks read: the document as it stands inside the command's transaction."""

    @property
    def schema(self) -> LabelSchema: ...

    def stored_media(self, media_id: str) -> MediaItem | None: ...

    def stored_track(self, track_id: str) -> Track | None: ...


def _name(item: MediaItem) -> str:
    return item.name or item.id


def _check_attributes(values: Mapping[str, Any], cls: LabelClass | None, where: str,
                      on_track_shape: bool) -> None:
    if cls is None:
        return
    for key, value in values.items():
        spec = cls.attribute(key)
        if spec is None:
            continue  # attributes another tool wrote, kept as they came
        try:
            spec.check(value)
        except ValueError as exc:
            raise RefusedEdit(f"{where}: {exc}.") from None
        if on_track_shape and not spec.dynamic:
            raise RefusedEdit(f"{where}: attribute {spec.name!r} of class {cls.name!r} is "
                              "static (one value for the whole track); set it on the track, "
                              "or declare it per-frame.")


def check_annotation(doc: DocumentView, a: Annotation) -> None:
    """Raise :class:`RefusedEdit` unless ``a`` fits its media item, class and track."""
    item = doc.stored_media(a.media_id)
    where = f"This {a.kind.replace('_', ' ')}"
    if item is None:
        raise RefusedEdit(f"{where} refers to media {a.media_id}, which is not in the project.")
    name, place = _name(item), a.place
    shape = a.shape
    if item.kind is MediaKind.IMAGE and (place.is_frame or place.is_slice):
        raise RefusedEdit(f"{where} is placed on {place.describe()}, but {name} is a still "
                          "image: it has no frames or slices.")
    if item.kind is MediaKind.VIDEO:
        if place.is_slice:
            raise RefusedEdit(f"{where} is placed on a volume slice, but {name} is a video.")
        if place.frame is not None and place.frame >= item.frames:
            raise RefusedEdit(f"{where} is on frame {place.frame}, past the end of {name} "
                              f"(frames 0-{item.frames - 1}).")
    if item.kind is MediaKind.VOLUME:
        if place.is_frame:
            raise RefusedEdit(f"{where} is placed on a video frame, but {name} is a volume.")
        if place.is_slice:
            size = dict(zip("kji", item.volume_shape))[place.axis]
            if place.index >= size:
                raise RefusedEdit(f"{where} is on slice {place.axis}={place.index}, outside "
                                  f"{name} ({size} slices along {place.axis}).")
    if isinstance(shape, Event):
        if item.kind is not MediaKind.VIDEO:
            raise RefusedEdit(f"An event marks a frame range, but {name} is not a video.")
        if place.frame is not None:
            raise RefusedEdit(f"An event belongs to the whole video {name}, not to one frame.")
        if shape.end >= item.frames:
            raise RefusedEdit(f"The event {shape.start}-{shape.end} runs past the end of {name} "
                              f"(frames 0-{item.frames - 1}).")
    elif not isinstance(shape, Tag) and not (place.is_frame or place.is_slice) and (
            item.kind is not MediaKind.IMAGE):
        raise RefusedEdit(f"{where} needs a frame or slice of {name} to sit on.")
    if isinstance(shape, Mask):
        if place.is_slice:
            raise RefusedEdit(f"Masks on a volume are painted into its label map, not stored "
                              f"as a mask on slice {place.axis}={place.index} of {name}.")
        want = (item.height, item.width)
        got = (shape.rle.height, shape.rle.width)
        if got != want:
            raise RefusedEdit(f"A {got[1]}x{got[0]} mask does not fit {name}, whose picture is "
                              f"{want[1]}x{want[0]} pixels.")
    cls = None
    if a.class_id is not None:
        cls = doc.schema.class_by_id(a.class_id)
        if cls is None:
            raise RefusedEdit(f"{where} has a class that is not in the label schema.")
        if not cls.allows(a.kind):
            raise RefusedEdit(f"Class {cls.name!r} does not allow "
                              f"{a.kind.replace('_', ' ')} shapes.")
    if a.track_id is not None:
        track = doc.stored_track(a.track_id)
        if track is None:
            raise RefusedEdit(f"{where} belongs to track {a.track_id}, which does not exist.")
        if track.media_id != a.media_id:
            raise RefusedEdit(f"{where} belongs to a track of another video.")
        if place.frame is None:
            raise RefusedEdit(f"{where} belongs to a track, so it must sit on one frame.")
        if a.class_id != track.class_id:
            raise RefusedEdit(f"{where} on frame {place.frame} has a different class from its "
                              "track; relabel the whole track instead.")
    _check_attributes(a.attributes, cls, where, on_track_shape=a.track_id is not None)


def check_track(doc: DocumentView, t: Track) -> None:
    item = doc.stored_media(t.media_id)
    if item is None:
        raise RefusedEdit(f"A track refers to media {t.media_id}, which is not in the project.")
    if item.kind is not MediaKind.VIDEO:
        raise RefusedEdit(f"Tracks follow an object across frames, but {_name(item)} is not "
                          "a video.")
    cls = None
    if t.class_id is not None:
        cls = doc.schema.class_by_id(t.class_id)
        if cls is None:
            raise RefusedEdit("A track has a class that is not in the label schema.")
    if cls is not None:
        for key, value in t.attributes.items():
            spec = cls.attribute(key)
            if spec is None:
                continue
            try:
                spec.check(value)
            except ValueError as exc:
                raise RefusedEdit(f"This track: {exc}.") from None


def check_labelmap(doc: DocumentView, info: LabelMapInfo) -> None:
    item = doc.stored_media(info.media_id)
    if item is None:
        raise RefusedEdit(f"Label map {info.name!r} refers to media {info.media_id}, which is "
                          "not in the project.")
    if item.kind is not MediaKind.VOLUME:
        raise RefusedEdit(f"Label map {info.name!r} needs a volume, but {_name(item)} is a "
                          f"{item.kind.value}.")
    if info.shape != item.volume_shape:
        raise RefusedEdit(f"Label map {info.name!r} is {_fmt(info.shape)} voxels but its volume "
                          f"{_name(item)} is {_fmt(item.volume_shape)} (k, j, i); a label map "
                          "must have its volume's shape.")
    for seg in info.segments:
        if seg.class_id is not None and doc.schema.class_by_id(seg.class_id) is None:
            raise RefusedEdit(f"Segment {seg.name!r} links to a class that is not in the label "
                              "schema.")


def check_frame_times(doc: DocumentView, times: FrameTimes) -> None:
    item = doc.stored_media(times.media_id)
    if item is None or item.kind is not MediaKind.VIDEO:
        raise RefusedEdit("Frame times belong to a video of the project.")
    if len(times.seconds) != item.frames:
        raise RefusedEdit(f"{_name(item)} has {item.frames} frames but {len(times.seconds)} "
                          "frame times were given.")
    if any(b < a for a, b in zip(times.pts, times.pts[1:])):
        raise RefusedEdit(f"Frame times of {_name(item)} must be in presentation order.")


def check_media(doc: DocumentView, m: MediaItem) -> None:
    if m.frames < 1 or m.width < 1 or m.height < 1:
        raise RefusedEdit(f"{m.name} has no picture ({m.width}x{m.height}, {m.frames} frames).")


def picture_size(item: MediaItem, axis: str | None) -> tuple[int, int]:
    """(rows, columns) of the picture at a place on ``item`` (``axis`` for volume slices)."""
    if axis is not None:
        return picture_shape(item.volume_shape, axis)
    return (item.height, item.width)


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)
