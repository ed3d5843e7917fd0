"""One check at the door: every edit that does not fit the document is refused in one sentence
and changes nothing (each case here was accepted by the format-1 core)."""

from __future__ import annotations

import numpy as np
import pytest
from factories import make_schema

from app.core.annotations import Annotation, Track
from app.core.commands import Batch, Put, Remove, SetSchema
from app.core.document import Document
from app.core.errors import RefusedEdit
from app.core.geometry import VideoGeometry, VolumeGeometry
from app.core.labelmap import LabelMapInfo
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.rle import encode
from app.core.shapes import Box, Event, Mask, Tag


@pytest.fixture
def doc(tmp_path):
    d = Document.create(tmp_path / "p")
    d.execute(SetSchema(make_schema()))
    yield d
    d.close()


def _items(doc):
    image = MediaItem(kind=MediaKind.IMAGE, path="a.png", fingerprint="f1", size_bytes=1,
                      width=64, height=64)
    video = MediaItem(kind=MediaKind.VIDEO, path="v.mp4", fingerprint="f2", size_bytes=1,
                      width=0, height=0, video=VideoGeometry(100, 64, 48))
    volume = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f3", size_bytes=1,
                       width=0, height=0, volume=VolumeGeometry((20, 64, 64), (0.5, 0.5, 2.5)))
    doc.execute(Put((image, video, volume)))
    return image, video, volume


def _refused(doc, command, match):
    """The command is refused with one sentence matching ``match``; nothing changed."""
    before = (doc.store.count("annotations"), doc.store.count("tracks"),
              doc.store.count("labelmaps"), len(doc.store.history(10000)))
    with pytest.raises(RefusedEdit, match=match) as err:
        doc.execute(command)
    text = str(err.value)
    assert text.endswith(".") and "\n" not in text, text
    assert (doc.store.count("annotations"), doc.store.count("tracks"),
            doc.store.count("labelmaps"), len(doc.store.history(10000))) == before
    return text


def test_places_must_fit_their_media(doc):
    image, video, volume = _items(doc)
    car = doc.schema.class_by_name("car").id
    _refused(doc, Put((Annotation(Place(video.id), Event(5, 10_000), car),)), "past the end")
    _refused(doc, Put((Annotation(Place(image.id), Event(0, 1), car),)), "not a video")
    _refused(doc, Put((Annotation(Place(volume.id, axis="k", index=1_000_000), Box(0, 0, 1, 1)),)),
             "outside")
    _refused(doc, Put((Annotation(Place(video.id, 100), Box(0, 0, 1, 1)),)), "past the end")
    _refused(doc, Put((Annotation(Place(image.id, 3), Box(0, 0, 1, 1)),)), "still image")
    _refused(doc, Put((Annotation(Place(video.id, axis="k", index=0), Box(0, 0, 1, 1)),)),
             "is a video")
    _refused(doc, Put((Annotation(Place(volume.id, 3), Box(0, 0, 1, 1)),)), "is a volume")
    _refused(doc, Put((Annotation(Place(video.id, 5), Event(1, 2), car),)), "whole video")
    # what fits is taken
    doc.execute(Put((Annotation(Place(video.id), Event(5, 99), car),
                     Annotation(Place(volume.id, axis="i", index=63), Box(0, 0, 1, 1)),
                     Annotation(Place(volume.id), Tag(), doc.schema.class_by_name("weather").id))))


def test_masks_must_have_the_picture_size_of_their_place(doc):
    image, video, volume = _items(doc)
    _refused(doc, Put((Annotation(Place(image.id), Mask(encode(np.ones((3, 3), bool)))),)),
             "3x3 mask does not fit")
    _refused(doc, Put((Annotation(Place(video.id, 0), Mask(encode(np.ones((64, 64), bool)))),)),
             "64x48")
    # on a volume, painting goes to the label map, never a mask annotation
    _refused(doc, Put((Annotation(Place(volume.id, axis="k", index=0),
                                  Mask(encode(np.ones((64, 64), bool)))),)), "label map")
    doc.execute(Put((Annotation(Place(video.id, 0), Mask(encode(np.ones((48, 64), bool)))),)))


def test_attribute_values_have_their_declared_type(doc):
    image, _, _ = _items(doc)
    car = doc.schema.class_by_name("car").id
    _refused(doc, Put((Annotation(Place(image.id), Box(0, 0, 1, 1), car,
                                  attributes={"doors": "four"}),)), "must be a number")
    _refused(doc, Put((Annotation(Place(image.id), Box(0, 0, 1, 1), car,
                                  attributes={"colour": "green"}),)), "must be one of")
    _refused(doc, Put((Annotation(Place(image.id), Box(0, 0, 1, 1), car,
                                  attributes={"parked": "yes"}),)), "true or false")
    doc.execute(Put((Annotation(Place(image.id), Box(0, 0, 1, 1), car,
                                attributes={"doors": 4, "from_cvat": "kept"}),)))


def test_track_rules(doc):
    _, video, _ = _items(doc)
    car = doc.schema.class_by_name("car").id
    road = doc.schema.class_by_name("road").id
    track = Track(video.id, car)
    key = Annotation(Place(video.id, 3), Box(0, 0, 5, 5), car, track_id=track.id)
    doc.execute(Put((track, key)))
    # two shapes of one track on one frame (here with different classes)
    _refused(doc, Put((Annotation(Place(video.id, 3), Box(1, 1, 5, 5), road,
                                  track_id=track.id),)), "different class")
    _refused(doc, Put((Annotation(Place(video.id, 3), Box(1, 1, 5, 5), car,
                                  track_id=track.id),)), "one shape per frame")
    # ... also when both come in one command
    _refused(doc, Put(tuple(Annotation(Place(video.id, 9), Box(n, 1, 5, 5), car,
                                       track_id=track.id) for n in range(2))),
             "one shape per frame")
    # a keyframe of a track that does not exist
    _refused(doc, Put((Annotation(Place(video.id, 4), Box(0, 0, 5, 5), car,
                                  track_id="no-such-track"),)), "does not exist")
    # a track shape must sit on a frame
    _refused(doc, Put((Annotation(Place(video.id), Box(0, 0, 5, 5), car, track_id=track.id),)),
             "needs a frame")
    # removing a track while keeping its keyframes would orphan them
    _refused(doc, Remove((track,)), "still has 1 shape")
    # explicit: remove with its shapes, or detach them first
    doc.execute(Batch((Put((doc.edited(key, track_id=None),)), Remove((track,)))))
    assert doc.annotation(video.id, key.id).track_id is None and doc.track(track.id) is None
    doc.undo()
    assert doc.annotation(video.id, key.id).track_id == track.id
    doc.execute(Remove((key, track)))
    assert doc.track(track.id) is None and doc.annotation(video.id, key.id) is None
    doc.undo()
    assert doc.track(track.id) is not None and doc.annotation(video.id, key.id) is not None


def test_static_attributes_belong_to_the_track(doc):
    from dataclasses import replace

    from app.core.schema import AttributeSpec, AttributeType

    _, video, _ = _items(doc)
    car = doc.schema.class_by_name("car")
    car = replace(car, attributes=car.attributes + (
        AttributeSpec("moving", AttributeType.BOOL, dynamic=True),))
    doc.execute(SetSchema(doc.schema.with_class(car)))
    track = Track(video.id, car.id, attributes={"colour": "red"})
    doc.execute(Put((track,)))
    _refused(doc, Put((Annotation(Place(video.id, 1), Box(0, 0, 1, 1), car.id, track_id=track.id,
                                  attributes={"colour": "blue"}),)), "static")
    _refused(doc, Put((Track(video.id, car.id, attributes={"doors": "x"}),)), "number")
    doc.execute(Put((Annotation(Place(video.id, 1), Box(0, 0, 1, 1), car.id, track_id=track.id,
                                attributes={"moving": True}),)))


def test_label_maps_must_have_their_volume_shape(doc):
    image, _, volume = _items(doc)
    _refused(doc, Put((LabelMapInfo(volume.id, 5, 5, 5),)), "must have its volume's shape")
    _refused(doc, Put((LabelMapInfo(image.id, 1, 64, 64),)), "needs a volume")
    doc.execute(Put((LabelMapInfo(volume.id, 20, 64, 64),)))


def test_a_refused_step_rolls_back_the_whole_command(doc):
    image, video, _ = _items(doc)
    good = Annotation(Place(image.id), Box(0, 0, 1, 1))
    bad = Annotation(Place(video.id, 500), Box(0, 0, 1, 1))
    _refused(doc, Batch((Put((good,)), Put((bad,)))), "past the end")
    assert doc.annotation(image.id, good.id) is None
    with Document.open(doc.path) as other:
        assert other.annotations(image.id) == []


def test_a_put_that_adds_a_track_and_moves_a_shape_onto_it_is_undone(doc):
    _, video, _ = _items(doc)
    car = doc.schema.class_by_name("car").id
    loose = Annotation(Place(video.id, 4), Box(0, 0, 5, 5), car)
    doc.execute(Put((loose,)))
    track = Track(video.id, car)
    doc.execute(Put((track, doc.edited(loose, track_id=track.id))))
    assert doc.annotation(video.id, loose.id).track_id == track.id
    doc.undo()
    assert doc.track(track.id) is None and doc.annotation(video.id, loose.id).track_id is None
    doc.redo()
    assert doc.annotation(video.id, loose.id).track_id == track.id
