"""Scripted pre-labelling of a project: a SAM mask or a tracked box written as annotations
with the model as their ``source`` and its confidence as their ``score`` (``vellum segment
PROJECT ...``, ``vellum track PROJECT ...``), one undoable command each.

- On an image or a video frame, ``segment`` writes a mask (RLE) or polygons (holes kept).
- On a volume slice it paints the volume's label map (the volume's first, or a new one) with
  the segment of the class, through the label map's one ``modify``.
- ``track`` makes a track: the given box is its keyframe on the start frame; the tracker's
  boxes are the track's shapes (``keyframe=False``), and where the tracker lost the target an
  ``outside`` keyframe ends the track until it is found again.

Boxes are ``(x, y, w, h)`` in continuous pixel coordinates of the place's picture; frame
indices are 0-based in presentation order; slices are places by array axis.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from app.core.annotations import MANUAL, Annotation, Track
from app.core.commands import Batch, Command, ModifyLabelMap, Put, SetSchema
from app.core.document import Document
from app.core.errors import BadInputError, VellumError
from app.core.labelmap import LabelMapInfo, Mode, Segment
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.schema import PALETTE, LabelClass, LabelSchema
from app.core.shapes import Box


def find_media(doc: Document, name: str | None) -> MediaItem:
    """The media item named by id, title, file name or path (the only one when None)."""
    items = [m for m in doc.media() if name is None or name in (m.id, m.name, m.file_name,
                                                                  m.path, m.key)]
    if len(items) != 1:
        raise VellumError(f"{doc.path} has {len(items)} media items matching "
                          f"{name or 'no --media'}; name one with --media.", doc.path)
    return items[0]


def class_for(doc: Document, name: str | None, kind: str) -> tuple[LabelSchema, str | None]:
    """The schema (with the class added when new) and the class id for ``name``."""
    if name is None:
        return doc.schema, None
    cls = doc.schema.class_by_name(name)
    if cls is not None:
        if not cls.allows(kind):
            raise VellumError(f"Class {name!r} does not allow {kind.replace('_', ' ')} shapes.")
        return doc.schema, cls.id
    cls = LabelClass(name, PALETTE[len(doc.schema.classes) % len(PALETTE)])
    return doc.schema.with_class(cls), cls.id


def _with_schema(doc: Document, schema: LabelSchema, steps: list[Command], label: str
                 ) -> Command:
    if schema != doc.schema:
        steps.insert(0, SetSchema(schema))
    return steps[0] if len(steps) == 1 else Batch(tuple(steps), label=label)


def segment_in_project(doc: Document, sam: Any, item: MediaItem, box: Box | None,
                       points: list[tuple[float, float]], labels: list[int],
                       frame: int | None = None, slice_: tuple[str, int] | None = None,
                       class_name: str | None = None, as_polygon: bool = False,
                       window: tuple[float, float] | None = None) -> tuple[Command, float]:
    """The command writing SAM's answer at a place of ``item``, and the predicted IoU."""
    if item.kind is MediaKind.VOLUME:
        if slice_ is None:
            raise VellumError(f"{item.name} is a volume: give the slice with --slice AXIS INDEX.")
        return _segment_slice(doc, sam, item, box, points, labels, slice_, class_name, window)
    if slice_ is not None:
        raise VellumError(f"{item.name} is not a volume; --slice applies to volumes only.")
    path = doc.media_path(item)
    if item.kind is MediaKind.VIDEO:
        if frame is None:
            raise VellumError(f"{item.name} is a video: give the frame with --frame N.")
        from app.io.video import open_video

        with open_video(path) as video:
            picture = video.frame(frame)
        place = Place(item.id, frame)
    else:
        from app.io.images import read_image

        picture = read_image(path)
        place = Place(item.id)
    sam.set_image(picture, place=f"{item.id}:{frame}", content=item.fingerprint)
    answer = sam.predict(box=box.bbox() if box else None, points=points, labels=labels).best()
    if answer.empty:
        raise VellumError(f"{answer.source} found nothing at that prompt on {item.name}.")
    kind = "polygon" if as_polygon else "mask"
    schema, class_id = class_for(doc, class_name, kind)
    shapes = answer.polygons() if as_polygon else [answer.shape()]
    anns = tuple(Annotation(place, s, class_id, source=answer.source,
                            score=min(max(answer.score, 0.0), 1.0),
                            attributes=_defaults(schema, class_id)) for s in shapes)
    return _with_schema(doc, schema, [Put(anns, label=f"Segment with {answer.source}")],
                        f"Segment with {answer.source}"), answer.score


def _defaults(schema: LabelSchema, class_id: str | None) -> dict[str, Any]:
    cls = schema.class_by_id(class_id)
    return cls.default_attributes() if cls else {}


def _segment_slice(doc: Document, sam: Any, item: MediaItem, box: Box | None,
                   points: list[tuple[float, float]], labels: list[int],
                   slice_: tuple[str, int], class_name: str | None,
                   window: tuple[float, float] | None) -> tuple[Command, float]:
    from app.io.planes import default_window
    from app.io.volume import load_source

    axis, index = slice_
    Place(item.id, axis=axis, index=index)  # checks the axis and index
    volume = load_source(doc.media_path(item), item.source)
    size = dict(zip("kji", volume.array.shape))[axis]
    if not 0 <= index < size:
        raise BadInputError(f"{item.name} has slices 0-{size - 1} along {axis}; {index} is "
                            "outside them.")
    if window is None:
        wl = default_window(item.source.modality if item.source else "",
                            volume.array)
        window = (wl.width, wl.level)
    sam.set_slice(volume.array, index, window, axis="kji".index(axis), content=item.fingerprint)
    answer = sam.predict(box=box.bbox() if box else None, points=points, labels=labels).best()
    if answer.empty:
        raise VellumError(f"{answer.source} found nothing at that prompt on slice "
                          f"{axis}={index} of {item.name}.")
    schema, class_id = class_for(doc, class_name or "segment", "mask")
    steps: list[Command] = []
    maps = doc.labelmaps(item.id)
    info = maps[0] if maps else LabelMapInfo(item.id, *volume.array.shape, "uint16",
                                             name="Segmentation")
    seg = next((s for s in info.segments if s.class_id == class_id), None)
    if seg is None:
        cls = schema.class_by_id(class_id)
        seg = Segment(info.next_value(), cls.name, cls.color, class_id)
        info = info.with_segment(seg)
        steps.append(Put((info,), label="Add segment"))
    modifier = np.expand_dims(answer.mask, "kji".index(axis))
    start = [0, 0, 0]
    start["kji".index(axis)] = index
    steps.append(ModifyLabelMap(info.id, tuple(start), modifier, Mode.ADD, seg.value,
                                label=f"Segment with {answer.source}"))
    return _with_schema(doc, schema, steps, f"Segment with {answer.source}"), answer.score


def track_in_project(doc: Document, item: MediaItem, found: list[Any], start_box: Box,
                     start: int, source: str, class_name: str | None) -> Command:
    """A track on video ``item`` from a tracker's ``found`` boxes (``TrackedBox`` list, any
    order): the start box is the keyframe; lost stretches end in an outside keyframe."""
    if item.kind is not MediaKind.VIDEO:
        raise VellumError(f"{item.name} is not a video: tracks follow objects across frames.")
    schema, class_id = class_for(doc, class_name, "box")
    track = Track(item.id, class_id)
    attrs = _defaults(schema, class_id)
    dynamic = {k: v for k, v in attrs.items()
               if (spec := schema.class_by_id(class_id).attribute(k)) and spec.dynamic} \
        if class_id else {}
    track = replace(track, attributes={k: v for k, v in attrs.items() if k not in dynamic})
    shapes: list[Annotation] = [Annotation(Place(item.id, start), start_box, class_id,
                                           track_id=track.id, source=MANUAL,
                                           attributes=dict(dynamic))]
    was_lost = False
    for t in sorted(found, key=lambda t: t.frame):
        if t.frame == start:
            continue
        if t.lost:
            if not was_lost:
                shapes.append(Annotation(Place(item.id, t.frame), Box(*t.box), class_id,
                                         track_id=track.id, outside=True, source=source,
                                         score=min(max(t.score, 0.0), 1.0),
                                         attributes=dict(dynamic)))
            was_lost = True
            continue
        was_lost = False
        shapes.append(Annotation(Place(item.id, t.frame), Box(*t.box), class_id,
                                 track_id=track.id, keyframe=False, source=source,
                                 score=min(max(t.score, 0.0), 1.0), attributes=dict(dynamic)))
    return _with_schema(doc, schema, [Put((track, *shapes), label=f"Track with {source}")],
                        f"Track with {source}")
