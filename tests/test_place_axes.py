"""Places with further named axes (issue 17 item 6): the ``Place`` API, the ``place_more``
column (format 3) and the migration of a format-2 project, whose places come back unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.core import migrations
from app.core.annotations import Annotation
from app.core.commands import Put, Remove
from app.core.document import Document
from app.core.errors import StoreError
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.shapes import Box, Tag
from app.core.store import APPLICATION_ID, SCHEMA_VERSION
from app.core.store_rows import media_row

# ---------------------------------------------------------------- the Place API


def test_a_place_without_further_axes_is_what_it_was():
    assert Place("m") == Place("m", more=()) == Place("m", more={}) == Place("m", more=[])
    assert Place("m", 3) == Place("m", frame=3) == Place("m", 3, None, None, ())
    assert Place("m", None, "k", 40) == Place("m", axis="k", index=40)
    assert hash(Place("m", frame=3)) == hash(Place("m", frame=3, more={}))
    assert Place("m", frame=3).more == () and Place("m", more={}).more == ()
    assert Place("m", frame=3).to_json() == {"media_id": "m", "frame": 3}
    assert Place("m", axis="k", index=40).to_json() == {"media_id": "m", "axis": "k",
                                                        "index": 40}
    assert Place("m").to_json() == {"media_id": "m"}
    assert Place.from_json({"media_id": "m", "frame": 3}) == Place("m", 3)
    assert Place("m", frame=12).describe() == "frame 12"
    assert Place("m", axis="k", index=40).describe() == "slice k=40"
    assert Place("m").describe() == "the whole item"


def test_further_axes_are_part_of_the_place():
    plain = Place("m", frame=3)
    at_t2 = plain.with_axis("t", 2)
    assert at_t2 != plain and at_t2 == Place("m", 3, more={"t": 2})
    assert hash(at_t2) == hash(Place("m", 3, more=(("t", 2),)))
    assert at_t2 != plain.with_axis("t", 0)
    assert len({plain, at_t2, plain.with_axis("t", 0), Place("m", 3, more={"t": 2})}) == 3
    # sorted by name whatever the order given; frozen and hashable
    both = Place("m", more={"z": 1, "c": 4})
    assert both.more == (("c", 4), ("z", 1)) == Place("m", more=[("z", 1), ("c", 4)]).more
    with pytest.raises(AttributeError):
        both.more = ()  # type: ignore[misc]
    # orderable, with and without further axes
    places = [Place("m", 1, more={"t": 0}), Place("m", 1), Place("m", 0, more={"t": 5})]
    assert sorted(places) == [Place("m", 0, more={"t": 5}), Place("m", 1),
                              Place("m", 1, more={"t": 0})]
    # setting, replacing and dropping an axis
    assert at_t2.with_axis("t", 7).get("t") == 7
    assert at_t2.with_axis("t", None) == plain
    assert at_t2.with_axis("c", 1).more == (("c", 1), ("t", 2))
    # frame and slice moves keep the further axes; the whole item drops them
    assert at_t2.at_frame(9) == Place("m", 9, more={"t": 2})
    vol = Place("v", axis="k", index=40).with_axis("t", 3)
    assert vol.at_slice("k", 41) == Place("v", axis="k", index=41, more={"t": 3})
    assert vol.media_level() == Place("v")


def test_named_indices_get_axes_and_describe():
    p = Place("m", frame=12).with_axis("t", 3)
    assert p.get("frame") == 12 and p.get("t") == 3 and p.get("c") is None
    assert p.get("k") is None
    assert p.axes() == {"frame": 12, "t": 3}
    assert p.describe() == "frame 12, t=3"
    vol = Place("v", axis="k", index=40)
    assert vol.get("k") == 40 and vol.get("j") is None and vol.get("frame") is None
    assert vol.axes() == {"k": 40}
    assert vol.with_axis("level", 2).with_axis("c", 1).axes() == {"k": 40, "c": 1, "level": 2}
    assert vol.with_axis("c", 1).describe() == "slice k=40, c=1"
    assert Place("m").axes() == {} and Place("m").with_axis("level", 2).describe() == "level=2"
    # the named setters of frame and slice
    assert Place("m").with_axis("frame", 4) == Place("m", frame=4)
    assert Place("m", frame=4).with_axis("frame", None) == Place("m")
    assert vol.with_axis("k", 41) == Place("v", axis="k", index=41)
    assert vol.with_axis("k", None) == Place("v")
    with pytest.raises(ValueError, match="slice along one array axis"):
        vol.with_axis("j", 3)
    with pytest.raises(ValueError, match="not both"):
        Place("m", frame=1).with_axis("k", 3)


def test_json_round_trip_with_further_axes():
    for p in (Place("m", frame=3).with_axis("t", 2),
              Place("v", axis="j", index=5, more={"c": 1, "t": 0}),
              Place("m").with_axis("level", 4)):
        assert Place.from_json(p.to_json()) == p
    assert Place("m", 3, more={"t": 2, "c": 0}).to_json() == {
        "media_id": "m", "frame": 3, "more": {"c": 0, "t": 2}}
    ann = Annotation(place=Place("m", 3, more={"t": 2}), shape=Box(0, 0, 1, 1))
    assert Annotation.from_json(ann.to_json()).place == ann.place
    with pytest.raises(ValueError, match="further axes are an object"):
        Place.from_json({"media_id": "m", "more": [["t", 1]]})


@pytest.mark.parametrize(("more", "words"), [
    ({"T": 1}, "short lowercase identifier"),
    ({"1t": 1}, "short lowercase identifier"),
    ({"a" * 17: 1}, "short lowercase identifier"),
    ({"": 1}, "short lowercase identifier"),
    ({"frame": 1}, "'frame' is not a further axis"),
    ({"k": 1}, "'k' is not a further axis"),
    ({"i": 1}, "'i' is not a further axis"),
    ({"t": -1}, "whole number >= 0"),
    ({"t": 1.5}, "whole number >= 0"),
    ({"t": True}, "whole number >= 0"),
    ({"t": "3"}, "whole number >= 0"),
    ({"t": None}, "whole number >= 0"),
    ({"t": float("inf")}, "whole number >= 0"),
    ([("t", 1), ("t", 2)], "named twice"),
    ([("t",)], r"\(name, index\) pair"),
    ("t", "name: index pairs"),
    (5, "name: index pairs"),
])
def test_further_axes_are_checked(more, words):
    with pytest.raises(ValueError, match=words):
        Place("m", frame=1, more=more)


def test_whole_number_values_are_kept_as_ints():
    p = Place("m", more={"t": 2.0})
    assert p.more == (("t", 2),) and type(p.more[0][1]) is int


# ---------------------------------------------------------------- the store


def _video(doc: Document) -> MediaItem:
    video = MediaItem(kind=MediaKind.VIDEO, path="clip.mp4", fingerprint="f", size_bytes=1,
                      width=64, height=48, frames=10)
    doc.execute(Put((video,)))
    return video


def _place_more(path: Path) -> dict[str, str | None]:
    with sqlite3.connect(path) as conn:
        rows = dict(conn.execute("SELECT id, place_more FROM annotations"))
    conn.close()
    return rows


def test_further_axes_survive_closing_and_reopening(tmp_path):
    doc = Document.create(tmp_path / "p")
    video = _video(doc)
    plain = Annotation(place=Place(video.id, frame=3), shape=Box(0, 0, 4, 4))
    timed = Annotation(place=Place(video.id, frame=3).with_axis("t", 2), shape=Box(1, 1, 4, 4))
    two = Annotation(place=Place(video.id, frame=3, more={"t": 2, "c": 1}), shape=Tag())
    doc.execute(Put((plain, timed, two)))
    # a place with t=2 is not the place without it
    assert [a.id for a in doc.annotations(Place(video.id, frame=3))] == [plain.id]
    assert [a.id for a in doc.annotations(timed.place)] == [timed.id]
    assert doc.places(video.id) == [plain.place, two.place, timed.place]
    path = doc.path
    doc.close()
    assert _place_more(path) == {plain.id: None, timed.id: '{"t":2}',
                                 two.id: '{"c":1,"t":2}'}
    with Document.open(path) as doc:
        assert doc.annotation(video.id, timed.id).place == timed.place
        assert doc.annotation(video.id, two.id).place.axes() == {"frame": 3, "c": 1, "t": 2}
        assert doc.annotation(video.id, plain.id).place.more == ()
        assert [a.id for a in doc.annotations(Place(video.id, 3))] == [plain.id]
        assert [a.id for a in doc.annotations(Place(video.id, 3, more={"t": 2}))] == [timed.id]
        assert {a.id for a in doc.annotations(video.id, all_frames=True)} == {
            plain.id, timed.id, two.id}
        assert {a.id for a in doc.store.iter_annotations()} == {plain.id, timed.id, two.id}
        assert doc.store.get_annotations([timed.id])[0].place == timed.place
        # undo of a removal brings the further axes back
        doc.execute(Remove((doc.annotation(video.id, timed.id),)))
        assert doc.annotations(timed.place) == []
        doc.undo()
        assert [a.id for a in doc.annotations(timed.place)] == [timed.id]
        # moving an annotation to another time point moves it in the index
        doc.execute(Put((doc.edited(doc.annotation(video.id, timed.id),
                                    place=timed.place.with_axis("t", 5)),)))
        assert doc.annotations(timed.place) == []
        assert [a.id for a in doc.annotations(timed.place.with_axis("t", 5))] == [timed.id]
    assert _place_more(path)[timed.id] == '{"t":5}'


def test_a_new_project_is_format_3_with_the_place_more_column(tmp_path):
    doc = Document.create(tmp_path / "p")
    path = doc.path
    doc.close()
    with sqlite3.connect(path) as conn:
        # format 3 brought the column; later formats (4: review tables) keep it
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3
        columns = {r[1]: r for r in conn.execute("PRAGMA table_info(annotations)")}
    conn.close()
    assert columns["place_more"][2] == "TEXT" and columns["place_more"][3] == 0  # nullable


# ---------------------------------------------------------------- format 2 -> 3


def _format_2_project(folder: Path) -> tuple[Path, MediaItem, MediaItem]:
    """A project as the previous release wrote it: format 2's tables, with a video, an image
    and annotations on a frame, a slice-free image and the whole video."""
    folder.mkdir()
    path = folder / "project.vellum"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("BEGIN")
    for target in (1, 2):
        migrations.apply(conn, target)
    for key, value in (("project_id", "p2"), ("name", "old"), ("created", "2024-01-01"),
                       ("app", "vellum")):
        conn.execute("INSERT INTO meta VALUES (?, ?)", (key, value))
    conn.execute("INSERT INTO label_schema VALUES (1, ?)", ('{"classes":[]}',))
    video = MediaItem(kind=MediaKind.VIDEO, path="clip.mp4", fingerprint="f", size_bytes=1,
                      width=64, height=48, frames=10, id="vid")
    image = MediaItem(kind=MediaKind.IMAGE, path="a.png", fingerprint="g", size_bytes=1,
                      width=64, height=48, id="img", position=1)
    for item in (video, image):
        conn.execute("INSERT INTO media VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", media_row(item))
    rows = [("a-frame", "vid", 3, None, None, "box", '{"type":"box","bbox":[0,0,4,4]}'),
            ("a-image", "img", None, None, None, "box", '{"type":"box","bbox":[1,1,4,4]}'),
            ("a-video", "vid", None, None, None, "tag", '{"type":"tag"}')]
    for ann_id, media_id, frame, axis, idx, kind, shape in rows:
        conn.execute(
            "INSERT INTO annotations (id, media_id, frame, axis, idx, track_id, keyframe, "
            "class_id, kind, shape, attributes, z, flags, source, score, timestamp, "
            "foreign_fields, creator, created, modified) VALUES "
            "(?, ?, ?, ?, ?, NULL, 1, NULL, ?, ?, '{}', 0, 0, 'manual', NULL, NULL, '{}', "
            "'me', '2024-01-01', '2024-01-01')",
            (ann_id, media_id, frame, axis, idx, kind, shape))
    conn.execute("COMMIT")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
    return path, video, image


def test_a_format_2_project_opens_migrates_and_keeps_its_annotations(tmp_path):
    path, video, image = _format_2_project(tmp_path / "old")
    with Document.open(path.parent) as doc:
        assert [a.id for a in doc.annotations(Place("vid", 3))] == ["a-frame"]
        assert doc.annotation("vid", "a-frame").shape == Box(0, 0, 4, 4)
        assert doc.annotation("vid", "a-frame").place == Place("vid", frame=3)
        assert [a.id for a in doc.annotations(Place("img"))] == ["a-image"]
        assert [a.id for a in doc.annotations(Place("vid"))] == ["a-video"]
        assert all(a.place.more == () for a in doc.store.iter_annotations())
        # the migrated project takes places with further axes at once
        doc.execute(Put((Annotation(id="a-t", place=Place("vid", 3, more={"t": 1}),
                                    shape=Box(2, 2, 3, 3)),)))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    assert _place_more(path) == {"a-frame": None, "a-image": None, "a-video": None,
                                 "a-t": '{"t":1}'}
    with Document.open(path.parent) as doc:
        assert [a.id for a in doc.annotations(Place("vid", 3))] == ["a-frame"]
        assert [a.id for a in doc.annotations(Place("vid", 3, more={"t": 1}))] == ["a-t"]


def test_a_project_of_a_newer_format_is_refused(tmp_path):
    doc = Document.create(tmp_path / "p")
    path = doc.path
    doc.close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match=f"reads up to {SCHEMA_VERSION}"):
        Document.open(path)


def test_a_format_1_project_goes_through_format_3_with_no_further_axes(tmp_path):
    import shutil

    folder = tmp_path / "v1"
    shutil.copytree(Path(__file__).with_name("fixtures") / "v1_project", folder)
    with Document.open(folder) as doc:
        assert doc.annotations(Place("vol1", axis="k", index=7))[0].id == "axial7"
        assert all(a.place.more == () for a in doc.store.iter_annotations())
    values = _place_more(folder / "project.vellum")
    assert values and set(values.values()) == {None}
