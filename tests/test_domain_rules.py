"""The domain rules that live once in core: what a command touches, static vs per-frame
attributes, and the frames a track shows."""

from __future__ import annotations

from factories import project_with_every_shape

from app.core.annotations import Annotation
from app.core.commands import Batch, Put, Remove, SetSchema
from app.core.interpolate import interpolate, shown_frames, visible_runs
from app.core.places import Place
from app.core.schema import AttributeSpec, AttributeType, LabelClass
from app.core.shapes import Box


def test_a_command_names_the_media_and_frames_whose_labels_it_changes(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    a, b = doc.media()
    box = Annotation(place=Place(a.id), shape=Box(1, 2, 3, 4))
    put = Put((box,))
    assert put.media_ids(doc) == {a.id} and put.frames() == {None}
    assert Put((b,)).media_ids(doc) == set()  # a media item's own record: no labels
    assert SetSchema(doc.schema).media_ids(doc) == set()
    both = Batch((put, Remove((Annotation(place=Place(b.id, 3), shape=Box(0, 0, 1, 1)),))))
    assert both.media_ids(doc) == {a.id, b.id} and both.frames() == {None, 3}
    doc.close()


def test_split_attributes_puts_unknown_keys_with_the_per_frame_ones():
    cls = LabelClass("car", attributes=(
        AttributeSpec("colour", AttributeType.TEXT),
        AttributeSpec("parked", AttributeType.BOOL, dynamic=True)))
    static, per_frame = cls.split_attributes({"colour": "red", "parked": True, "x": 1})
    assert static == {"colour": "red"} and per_frame == {"parked": True, "x": 1}


def _key(frame, shape, **kw):
    return Annotation(Place("v", frame), shape, track_id="t", **kw)


def test_shown_frames_is_interpolate_on_every_frame():
    shapes = [_key(2, Box(0, 0, 10, 10)), _key(6, Box(8, 0, 10, 10)),
              _key(9, Box(8, 0, 10, 10), outside=True), _key(12, Box(0, 0, 4, 4))]
    want = [x for f in range(16) if (x := interpolate(shapes, f)) is not None]
    assert list(shown_frames(shapes, 16)) == want
    stored = {id(s) for s in shapes}
    assert list(shown_frames(shapes, 16, stored=False)) == [x for x in want
                                                            if id(x) not in stored]
    assert visible_runs(shapes, 16) == [(2, 8), (12, 15)]
