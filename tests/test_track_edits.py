"""Whole-track edits in core (app.core.track_edits) on a real project file: merge two tracks
and split one at a frame, each one undo step that gives back exactly the stored records (and
redo gives the edit back); per-frame attributes held from the latest stored shape; mask
tracks hold their latest mask; where a track enters and leaves the view."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.annotations import Annotation, Track
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.errors import RefusedEdit
from app.core.geometry import VideoGeometry
from app.core.interpolate import interpolate, shown_frames, visibility_changes
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.rle import encode
from app.core.schema import AttributeSpec, AttributeType, LabelClass, LabelSchema
from app.core.shapes import Box, Mask
from app.core.track_edits import attribute_keyframes, merge_tracks, split_track

W, H, FRAMES = 64, 48, 100


@pytest.fixture
def project(tmp_path):
    doc = Document.create(tmp_path / "p")
    video = MediaItem(kind=MediaKind.VIDEO, path="cam.mp4", fingerprint="f", size_bytes=1,
                      width=0, height=0, id="cam",
                      video=VideoGeometry(FRAMES, W, H, avg_fps=25.0))
    doc.execute(Put((video,)))
    doc.execute(SetSchema(LabelSchema((
        LabelClass("car", "#ff0000", id="car", attributes=(
            AttributeSpec("color", AttributeType.ENUM, ("red", "blue"), id="color"),
            AttributeSpec("parked", AttributeType.BOOL, dynamic=True, id="parked"))),
        LabelClass("person", "#00ff00", id="person")))))
    yield doc, video
    doc.close()


def box(doc, video, track, frame, x, **kw) -> Annotation:
    return Annotation(Place(video.id, frame), Box(x, 10, 8, 6), track.class_id,
                      track_id=track.id, attributes=kw.pop("attributes", {"parked": False}),
                      **kw)


def records(doc: Document, video: MediaItem) -> tuple[dict, dict]:
    """What is stored: tracks and annotations by id, as values (exact comparison)."""
    tracks = {t.id: t for t in doc.tracks(video.id)}
    anns = {a.id: a for a in doc.annotations(video.id, all_frames=True)}
    return tracks, anns


def two_tracks(doc, video):
    a = Track(video.id, "car", attributes={"color": "red"})
    b = Track(video.id, "car", attributes={"color": "blue"})
    shapes = [box(doc, video, a, 0, 0), box(doc, video, a, 10, 10),
              box(doc, video, a, 20, 20, outside=True),
              box(doc, video, b, 20, 40), box(doc, video, b, 10, 33),
              box(doc, video, b, 30, 50, attributes={"parked": True})]
    doc.execute(Put((a, b, *shapes)))
    return a, b


def test_merge_moves_the_other_tracks_shapes_and_undo_gives_back_every_record(project):
    doc, video = project
    a, b = two_tracks(doc, video)
    before = records(doc, video)
    doc.execute(merge_tracks(doc, a.id, b.id))
    tracks, anns = records(doc, video)
    assert list(tracks) == [a.id] and tracks[a.id].attributes == {"color": "red"}
    shapes = doc.track_shapes(tracks[a.id])
    # frame 10 is in both: the other track's shape (the one chosen later) is kept, as CVAT
    assert [(s.frame, s.shape.x, s.outside) for s in shapes] == [
        (0, 0, False), (10, 33, False), (20, 40, False), (30, 50, False)]
    assert all(s.track_id == a.id for s in shapes)
    assert doc.undo_label == "Merge tracks"
    doc.undo()
    assert records(doc, video) == before  # exactly what was stored
    doc.redo()
    assert records(doc, video) == (tracks, anns)


def test_merge_refuses_tracks_of_two_classes_or_one_track(project):
    doc, video = project
    a, _ = two_tracks(doc, video)
    p = Track(video.id, "person")
    doc.execute(Put((p, Annotation(Place(video.id, 3), Box(1, 1, 2, 2), "person",
                                   track_id=p.id))))
    with pytest.raises(RefusedEdit, match="one class"):
        merge_tracks(doc, a.id, p.id)
    with pytest.raises(RefusedEdit, match="two different"):
        merge_tracks(doc, a.id, a.id)


def test_split_at_an_interpolated_frame_keys_both_sides_and_undo_is_exact(project):
    doc, video = project
    t = Track(video.id, "car", attributes={"color": "blue"})
    doc.execute(Put((t, box(doc, video, t, 0, 0), box(doc, video, t, 10, 10,
                                                     attributes={"parked": True}),
                     box(doc, video, t, 30, 30))))
    before = records(doc, video)
    shown_at_20 = interpolate(doc.track_shapes(t), 20)
    command, new = split_track(doc, t.id, 20)
    doc.execute(command)
    after = records(doc, video)
    old_shapes = doc.track_shapes(t)
    new_shapes = doc.track_shapes(doc.track(new.id))
    assert [(s.frame, s.outside) for s in old_shapes] == [(0, False), (10, False), (20, True)]
    assert [(s.frame, s.keyframe, s.outside) for s in new_shapes] == [(20, True, False),
                                                                      (30, True, False)]
    assert new_shapes[0].shape == shown_at_20.shape  # the shape shown there, as a keyframe
    assert new_shapes[0].attributes == {"parked": True}  # held from frame 10
    assert doc.track(new.id).class_id == "car"
    assert doc.track(new.id).attributes == {"color": "blue"}
    assert interpolate(old_shapes, 25) is None and interpolate(old_shapes, 19) is not None
    doc.undo()
    assert records(doc, video) == before
    doc.redo()
    assert records(doc, video) == after


def test_split_on_a_stored_frame_moves_it_and_refuses_the_first_frame(project):
    doc, video = project
    t = Track(video.id, "car")
    keys = [box(doc, video, t, 5, 0), box(doc, video, t, 15, 10)]
    doc.execute(Put((t, *keys)))
    with pytest.raises(RefusedEdit, match="starts on frame 5"):
        split_track(doc, t.id, 5)
    command, new = split_track(doc, t.id, 15)
    doc.execute(command)
    assert [a.id for a in doc.track_shapes(doc.track(new.id))] == [keys[1].id]
    assert [(a.frame, a.outside) for a in doc.track_shapes(t)] == [(5, False), (15, True)]


def test_a_per_frame_attribute_holds_from_its_stored_shape_until_the_next(project):
    doc, video = project
    t = Track(video.id, "car")
    keys = [box(doc, video, t, 0, 0), box(doc, video, t, 50, 0, attributes={"parked": True}),
            box(doc, video, t, 80, 30, attributes={"parked": True})]
    assert interpolate(keys, 20).attributes == {"parked": False}
    assert interpolate(keys, 49).attributes == {"parked": False}
    assert interpolate(keys, 60).attributes == {"parked": True}
    assert interpolate(keys, 90).attributes == {"parked": True}
    assert attribute_keyframes(keys, ["parked"]) == [(50, {"parked": True})]


def test_a_mask_track_holds_its_latest_mask_and_is_exported_on_every_frame(project):
    doc, video = project
    first = np.zeros((H, W), bool)
    first[5:15, 5:20] = True
    second = np.zeros((H, W), bool)
    second[20:30, 30:50] = True
    t = Track(video.id, "car")
    keys = [Annotation(Place(video.id, 10), Mask(encode(first)), "car", track_id=t.id),
            Annotation(Place(video.id, 20), Mask(encode(second)), "car", track_id=t.id),
            Annotation(Place(video.id, 30), Mask(encode(second)), "car", track_id=t.id,
                       outside=True)]
    doc.execute(Put((t, *keys)))
    assert interpolate(keys, 9) is None
    assert interpolate(keys, 15).shape == keys[0].shape  # no blending: the latest mask
    assert interpolate(keys, 19).shape == keys[0].shape
    assert interpolate(keys, 25).shape == keys[1].shape
    assert interpolate(keys, 30) is None
    frames = [a.frame for a in shown_frames(keys, FRAMES)]
    assert frames == list(range(10, 30))  # what COCO's video export writes


def test_visibility_changes_are_where_the_track_enters_and_leaves(project):
    doc, video = project
    a, b = two_tracks(doc, video)
    assert visibility_changes(doc.track_shapes(a), FRAMES) == [0, 20]
    assert visibility_changes(doc.track_shapes(b), FRAMES) == [10]


def test_a_mask_track_is_exported_to_coco_on_every_frame_it_shows_and_to_cvat_as_a_track(
        project, tmp_path):
    import json
    import xml.etree.ElementTree as ET

    from app.io import formats

    doc, video = project
    m = np.zeros((H, W), bool)
    m[5:15, 5:20] = True
    t = Track(video.id, "car")
    doc.execute(Put((t, Annotation(Place(video.id, 10), Mask(encode(m)), "car", track_id=t.id),
                     Annotation(Place(video.id, 20), Mask(encode(m)), "car", track_id=t.id,
                                outside=True))))
    formats.get("coco").export_to(doc, tmp_path / "out.json")
    coco = json.loads((tmp_path / "out.json").read_text())
    segs = [a for a in coco["annotations"] if isinstance(a.get("segmentation"), dict)
            and not a.get("attributes", {}).get("outside")]  # (the marker is kept too)
    assert len(segs) == 10 and all(a["area"] == 150 for a in segs)  # frames 10-19, held
    formats.get("cvat").export_to(doc, tmp_path / "out.xml")
    (track,) = ET.parse(tmp_path / "out.xml").getroot().iter("track")
    rows = [(e.tag, int(e.get("frame")), e.get("keyframe"), e.get("outside")) for e in track]
    assert rows == [("mask", 10, "1", "0")] + [("mask", f, "0", "0") for f in range(11, 20)] \
        + [("mask", 20, "1", "1")]  # every frame it shows, as CVAT writes tracks
