"""Scripted pre-labelling of a project: a SAM mask or a tracked box written as annotations
with the model as their ``source`` and its confidence as their ``score`` (``vellum segment
PROJECT ...``, ``vellum track PROJECT ...``), one undoable command each.

- On an image or a video frame, ``segment`` writes a mask (RLE) or polygons (holes kept).
- On a volume slice it paints the volume's label map (the volume's first, or a new one) with
  the segment of the class, through the label map's one ``modify``.
- ``track`` makes a track: the given box is its keyframe on the start frame; the tracker's
  boxes are the track's shapes (``keyframe=False``). A lost stretch the tracker comes back from
  is an occlusion (``--lost occluded``, the default): every frame of it is stored as a shape
  with ``occluded=True``, ``keyframe=False``, the tracker's low score and the box interpolated
  between the last confident box and the found one (so a review finds it by its flag and
  score, and editing one makes it a keyframe as usual). Where the object left the picture or
  is never found again (or always, with ``--lost outside``) an ``outside`` keyframe on the
  stretch's first frame ends the track until it is found again. :class:`TrackWriter` writes
  that in steps (one undoable command each), so that a long run that dies keeps what it did.

Boxes are ``(x, y, w, h)`` in continuous pixel coordinates of the place's picture; frame
indices are 0-based in presentation order; slices are places by array axis.
"""

from __future__ import annotations

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
    """The media item named by id, title, file name or path, or a volume by its DICOM series
    description (kept inside the project) (the only one when None)."""
    items = [m for m in doc.media() if name is None or name in (
        m.id, m.name, m.file_name, m.path, m.key,
        m.source.description if m.source is not None and m.source.description else None)]
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
    sam.set_image(picture, place=Place(item.id, frame), content=item.fingerprint)
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
    volume = load_source(doc.media_path(item), item.source, expected=item.volume)
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
    order) as one command: the start box is the keyframe; boxes judged by
    ``app.inference.tracking.LostStretches`` keep their state, raw ones (no ``state``) make
    lost stretches end in an outside keyframe."""
    writer = TrackWriter(doc, item, start_box, start, source, class_name)
    return writer.command(found, final=True)  # type: ignore[return-value]


def box_state(t: Any) -> str:
    """What a tracker's box means for the track: its judged ``state`` (``tracked``,
    ``occluded``, ``outside``), or for a raw box ``outside`` when lost, else ``tracked``."""
    return getattr(t, "state", "") or ("outside" if t.lost else "tracked")


class TrackShapes:
    """A tracker's boxes (``TrackedBox``, judged or raw) as the shapes of track ``track_id``
    on video ``media_id``, batch after batch of one run (either direction):

    - ``tracked``: a shape (``keyframe=False``, ``source``, ``score``);
    - ``occluded``: the same with ``occluded=True`` (its box interpolated by the judge);
    - ``outside``: an ``outside`` keyframe on the first frame (ascending) of each outside run,
      which hides the object until the track's next stored shape.

    ``pending`` boxes (a lost stretch not decided yet) are written provisionally as one
    ``outside`` keyframe on their first frame; when the stretch is decided, the shape on that
    frame takes that annotation's id, so that the store never holds two shapes of the track on
    one frame. Frame ``skip`` (the seed's) is never written."""

    def __init__(self, media_id: str, track_id: str, class_id: str | None, source: str,
                 attributes: dict[str, Any] | None = None, skip: int | None = None) -> None:
        self.media_id, self.track_id, self.class_id = media_id, track_id, class_id
        self.source, self.attributes, self.skip = source, dict(attributes or {}), skip
        self._outside: set[int] = set()
        self._provisional: dict[int, str] = {}

    def _shape(self, t: Any, state: str, ann_id: str | None) -> Annotation:
        extra = {"id": ann_id} if ann_id else {}
        flags = {"outside": True} if state == "outside" else {
            "keyframe": False, "occluded": state == "occluded"}
        return Annotation(Place(self.media_id, t.frame), Box(*t.box), self.class_id,
                          track_id=self.track_id, source=self.source,
                          score=min(max(float(t.score), 0.0), 1.0),
                          attributes=dict(self.attributes), **flags, **extra)

    def records(self, done: list[Any], pending: list[Any] = ()) -> list[Annotation]:
        """The annotations to store for ``done`` (decided boxes) and ``pending``."""
        done = [t for t in done if t.frame != self.skip]
        self._outside.update(t.frame for t in done if box_state(t) == "outside")
        out: list[Annotation] = []
        for t in sorted(done, key=lambda t: t.frame):
            state = box_state(t)
            ann_id = self._provisional.pop(t.frame, None)
            if state == "outside" and ann_id is None and t.frame - 1 in self._outside:
                continue  # an outside keyframe before it already hides the object here
            out.append(self._shape(t, state, ann_id))
        pending = [t for t in pending if t.frame != self.skip]
        if pending:
            first = min(pending, key=lambda t: t.frame)
            if first.frame - 1 not in self._outside:
                ann = self._shape(first, "outside", self._provisional.get(first.frame))
                self._provisional[first.frame] = ann.id
                out.append(ann)
        return out


class TrackWriter:
    """``vellum track PROJECT``: a new track on video ``item`` whose keyframe is ``start_box``
    on frame ``start`` (class ``class_name``, made when new), filled from a tracker's boxes in
    steps. Each :meth:`command` is one undoable command (the first also adds the class and the
    track); undoing them one by one takes the run back, the first one removes the track."""

    def __init__(self, doc: Document, item: MediaItem, start_box: Box, start: int,
                 source: str, class_name: str | None) -> None:
        if item.kind is not MediaKind.VIDEO:
            raise VellumError(f"{item.name} is not a video: tracks follow objects across "
                              "frames.", doc.media_path(item))
        self.doc, self.source = doc, source
        self.schema, class_id = class_for(doc, class_name, "box")
        cls = self.schema.class_by_id(class_id) if class_id else None
        static, dynamic = cls.split_attributes(_defaults(self.schema, class_id)) if cls \
            else ({}, {})
        self.track = Track(item.id, class_id, attributes=static)
        self.seed = Annotation(Place(item.id, start), start_box, class_id,
                               track_id=self.track.id, source=MANUAL, attributes=dict(dynamic))
        self.shapes = TrackShapes(item.id, self.track.id, class_id, source, dynamic, start)
        self.steps = 0

    def command(self, done: list[Any], pending: list[Any] = (), final: bool = False
                ) -> Command | None:
        """The command storing ``done`` and ``pending`` boxes (None when there is nothing to
        store); ``final``: the first command is made even when no box is given."""
        label = f"Track with {self.source}"
        shapes = self.shapes.records(done, pending)
        if not shapes and not (final and self.steps == 0):
            return None
        records: list[Any] = ([] if self.steps else [self.track, self.seed]) + shapes
        self.steps += 1
        if self.steps == 1:
            return _with_schema(self.doc, self.schema, [Put(tuple(records), label=label)],
                                label)
        return Put(tuple(records), label=label)
