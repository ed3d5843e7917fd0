"""The document: commands commit as they happen, undo/redo, audit trail, label maps."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import numpy as np
import pytest
from factories import make_schema, project_with_every_shape

from app.core.places import Place
from app.core.annotations import Annotation, Track
from app.core.commands import Batch, ModifyLabelMap, Put, Remove, SetSchema
from app.core.document import Document
from app.core.errors import StoreError
from app.core.labelmap import LabelMapInfo
from app.core.media import MediaItem, MediaKind, MediaStatus
from app.core.shapes import Box, Event, Polygon, Tag
from app.core.store import SCHEMA_VERSION


def test_edits_reach_disk_without_saving_and_undo_redo(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    media = doc.media()[0]
    n = len(doc.annotations(media.id))
    box = Annotation(place=Place(media.id), shape=Box(1, 2, 3, 4))
    doc.execute(Put((box,)))
    moved = doc.edited(box, shape=box.shape.translated(10, 0))
    doc.execute(Put((moved,)))
    assert doc.undo_label == "Edit shape"
    # a second connection sees every command without any save
    with Document.open(doc.path) as other:
        assert other.annotation(media.id, box.id).shape == Box(11, 2, 3, 4)
    assert doc.undo() and doc.annotation(media.id, box.id).shape == Box(1, 2, 3, 4)
    assert doc.undo() and doc.annotation(media.id, box.id) is None
    assert doc.redo() and doc.redo()
    assert doc.annotation(media.id, box.id).shape == Box(11, 2, 3, 4)
    doc.execute(Remove((moved,)))
    assert len(doc.annotations(media.id)) == n
    doc.close()
    with Document.open(tmp_path / "proj") as again:
        assert len(again.annotations(media.id)) == n
        actions = [h["action"] for h in again.store.history(6)]
        assert actions[:5] == ["Remove", "redo Put", "redo Put", "undo Put", "undo Put"]
        assert all(h["author"] for h in again.store.history())


def test_changes_are_announced_to_subscribers(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    seen = []
    unsubscribe = doc.subscribe(seen.append)
    media = doc.media()[0]
    doc.execute(Put((Annotation(place=Place(media.id), shape=Box(0, 0, 1, 1)),)))
    doc.undo()
    unsubscribe()
    doc.redo()
    assert [c[0].kind for c in seen] == ["annotations", "annotations"]
    assert seen[0][0].media_ids == {media.id}
    doc.close()


def test_a_failing_command_changes_nothing(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    media = doc.media()[0]
    n = len(doc.annotations(media.id))
    good = Annotation(place=Place(media.id), shape=Box(0, 0, 1, 1))
    bad = Annotation(place=Place("no-such-media"), shape=Box(0, 0, 1, 1))
    with pytest.raises(ValueError):
        doc.execute(Batch((Put((good,)), Put((bad,)))))
    assert len(doc.annotations(media.id)) == n
    with Document.open(doc.path) as other:
        assert len(other.annotations(media.id)) == n
    person = doc.schema.class_by_name("person")  # allows keypoints only
    with pytest.raises(ValueError, match="does not allow"):
        doc.execute(Put((Annotation(place=Place(media.id), class_id=person.id,
                                               shape=Box(0, 0, 1, 1)),)))
    doc.close()


def test_removing_media_keeps_its_labels_until_undone(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    item = doc.media()[0]
    n = len(doc.annotations(item.id))
    doc.execute(Put((replace(item, removed=True),)))
    assert item.id not in [m.id for m in doc.media()]
    assert len(doc.annotations(item.id)) == n
    doc.undo()
    assert doc.media()[0].id == item.id
    doc.execute(Put((replace(item, status=MediaStatus.DONE),)))
    with Document.open(doc.path) as other:
        assert other.media_item(item.id).status is MediaStatus.DONE
    doc.close()


def test_video_tracks_tags_and_events(tmp_path):
    doc = Document.create(tmp_path / "v")
    video = MediaItem(kind=MediaKind.VIDEO, path="clip.mp4", fingerprint="f", size_bytes=1,
                      width=64, height=48, frames=100)
    doc.execute(Put((video,)))
    doc.execute(SetSchema(make_schema()))
    car = doc.schema.class_by_name("car")
    track = Track(media_id=video.id, class_id=car.id)
    keys = tuple(Annotation(place=Place(video.id, f), class_id=car.id, track_id=track.id,
                            shape=Box(f, 0, 10, 10), timestamp=f / 25) for f in (0, 50, 99))
    doc.execute(Put((track, *keys)))
    doc.execute(Put((
        Annotation(place=Place(video.id), class_id=car.id, shape=Event(10, 20)),
        Annotation(place=Place(video.id, 5), class_id=doc.schema.class_by_name("weather").id,
                   shape=Tag()))))
    with pytest.raises(ValueError, match="past the end"):
        doc.execute(Put((Annotation(place=Place(video.id, 100),
                                               shape=Box(0, 0, 1, 1)),)))
    doc.close()
    with Document.open(tmp_path / "v") as doc:
        assert [t.id for t in doc.tracks(video.id)] == [track.id]
        frames = sorted(a.frame for a in doc.annotations(video.id, all_frames=True)
                        if a.track_id == track.id)
        assert frames == [0, 50, 99]
        assert doc.annotations(video.id, 50)[0].timestamp == 2.0
        assert doc.annotations(video.id)[0].shape == Event(10, 20)


def test_project_format_is_versioned_and_newer_files_are_refused(tmp_path):
    doc = Document.create(tmp_path / "p")
    path = doc.path
    doc.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer Vellum"):
        Document.open(path)


def test_polygon_with_holes_and_validation_of_shapes():
    with pytest.raises(ValueError, match="at least 3"):
        Polygon(((0, 0), (1, 1)))
    with pytest.raises(ValueError):
        Box(0, 0, -1, 2)
    p = Polygon(((0, 0), (10, 0), (10, 10)), holes=(((2, 1), (3, 1), (3, 2)),))
    assert Polygon(p.exterior, p.holes) == p


def test_the_audit_trail_records_the_chosen_author(tmp_path, monkeypatch):
    from app.core import identity

    doc, _ = project_with_every_shape(tmp_path)
    media = doc.media()[0]
    monkeypatch.setenv("VELLUM_AUTHOR", "Dr. Ada")
    a = Annotation(place=Place(media.id), shape=Box(0, 0, 1, 1))
    doc.execute(Put((a,)))
    identity.set_author("B. Reviewer")
    try:
        doc.execute(Remove((a,)))
    finally:
        identity.set_author(None)
    assert a.creator == "Dr. Ada"
    assert [h["author"] for h in doc.store.history(2)] == ["B. Reviewer", "Dr. Ada"]
    doc.close()


def test_annotations_are_found_by_frame_after_moves_between_frames(tmp_path):
    doc = Document.create(tmp_path / "v")
    video = MediaItem(kind=MediaKind.VIDEO, path="clip.mp4", fingerprint="f", size_bytes=1,
                      width=64, height=48, frames=10)
    doc.execute(Put((video,)))
    a = Annotation(place=Place(video.id, 3), shape=Box(0, 0, 1, 1))
    doc.execute(Put((a,)))
    assert [x.id for x in doc.annotations(video.id, 3)] == [a.id]
    doc.execute(Put((doc.edited(a, place=Place(video.id, 7)),)))
    assert doc.annotations(video.id, 3) == [] and len(doc.annotations(video.id, 7)) == 1
    assert doc.labelled_frames(video.id) == [7]
    doc.undo()
    assert doc.labelled_frames(video.id) == [3]
    doc.execute(Remove((a,)))
    assert doc.annotations(video.id, all_frames=True) == [] and doc.labelled_frames(video.id) == []
    doc.close()


def test_a_class_in_use_cannot_be_removed(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    car = doc.schema.class_by_name("car")
    assert doc.class_usage(car.id) == 2
    with pytest.raises(ValueError, match="used by 2 annotation"):
        doc.execute(SetSchema(doc.schema.without_class(car.id)))
    assert doc.schema.class_by_name("car") is not None
    unused = doc.schema.with_class(replace(car, id="spare", name="spare", hotkey=None))
    doc.execute(SetSchema(unused))
    doc.execute(SetSchema(doc.schema.without_class("spare")))
    assert doc.schema.class_by_name("spare") is None
    doc.close()
