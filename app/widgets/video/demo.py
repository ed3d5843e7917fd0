"""Labels of the demo clip (:func:`app.demo_media.write_demo_video`): its red car as a track
keyed on frames 0, 35 and 71 (boxes from :func:`app.demo_media.car_box`, continuous pixels),
and a "braking" event over frames 40-55 (0-based, inclusive). Qt-free."""

from __future__ import annotations

from dataclasses import replace

from app.core.annotations import Annotation, Track
from app.core.commands import Batch, Command, Put, SetSchema
from app.core.document import Document
from app.core.media import MediaItem
from app.core.places import Place
from app.core.schema import PALETTE, LabelClass
from app.core.shapes import Box, Event
from app.demo_media import car_box

KEYFRAMES = (0, 35, 71)
BRAKING = (40, 55)


def demo_video_labels(doc: Document, item: MediaItem) -> Command:
    """One command (one undo step) adding the demo clip's car track and braking event; the
    classes "car" (boxes allowed) and "braking" (events) are added or widened if needed."""
    schema = doc.schema
    car = schema.class_by_name("car")
    if car is None:
        car = LabelClass("car", "#e6194b", ("box",))
        schema = schema.with_class(car)
    elif not car.allows("box"):
        car = replace(car, kinds=car.kinds + ("box",))
        schema = schema.with_class(car)
    braking = schema.class_by_name("braking")
    if braking is None:
        braking = LabelClass("braking", PALETTE[len(schema.classes) % len(PALETTE)],
                             ("event",))
        schema = schema.with_class(braking)
    elif not braking.allows("event"):
        braking = replace(braking, kinds=braking.kinds + ("event",))
        schema = schema.with_class(braking)
    static, dynamic = car.split_attributes(car.default_attributes())
    track = Track(item.id, car.id, attributes=static)
    last = item.frames - 1
    keys = tuple(Annotation(Place(item.id, min(f, last)), Box(*car_box(f)), car.id,
                            track_id=track.id, attributes=dynamic)
                 for f in dict.fromkeys(min(f, last) for f in KEYFRAMES))
    start, end = (min(f, last) for f in BRAKING)
    event = Annotation(Place(item.id), Event(start, end), braking.id,
                       attributes=braking.default_attributes())
    steps: list[Command] = []
    if schema != doc.schema:
        steps.append(SetSchema(schema, label="Demo video classes"))
    steps.append(Put((track, *keys, event), label="Demo video labels"))
    return Batch(tuple(steps), label="Demo video labels")
