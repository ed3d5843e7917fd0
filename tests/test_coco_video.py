"""Video labels in COCO: frames as images with video_id/frame_index, tracks, tags, events."""

from __future__ import annotations

import json
import shutil

from factories import make_schema

from app.core.places import Place
from app.core.annotations import Annotation, Track
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.shapes import Box, Event, Tag
from app.io.coco import export_coco, import_coco
from app.io.ingest import add_media


def test_video_export_and_reimport(tmp_path, shared_data):
    proj = tmp_path / "proj"
    doc = Document.create(proj)
    shutil.copy(shared_data / "video" / "bikes.mp4", proj / "bikes.mp4")
    add_media(doc, [proj / "bikes.mp4"])
    video = doc.media()[0]
    assert video.frames == 250
    doc.execute(SetSchema(make_schema()))
    car = doc.schema.class_by_name("car")
    weather = doc.schema.class_by_name("weather")
    track = Track(media_id=video.id, class_id=car.id)
    keys = tuple(Annotation(place=Place(video.id, f), class_id=car.id, track_id=track.id,
                            shape=Box(10 + f, 20, 30, 40), timestamp=f / 25, outside=f == 249)
                 for f in (0, 100, 249))
    doc.execute(Put((track, *keys)))
    doc.execute(Put((
        Annotation(place=Place(video.id, 100), class_id=weather.id, shape=Tag()),
        Annotation(place=Place(video.id), class_id=weather.id, shape=Tag()),
        Annotation(place=Place(video.id), class_id=car.id, shape=Event(5, 60)))))
    out = tmp_path / "video.json"
    export_coco(doc, out)
    data = json.loads(out.read_text())
    (v,) = data["videos"]
    assert v["file_name"] == "bikes.mp4" and v["frame_count"] == 250
    assert [e["start_frame"] for e in v["events"]] == [5] and len(v["tags"]) == 1
    frames = {im["frame_index"]: im for im in data["images"]}
    assert sorted(frames) == list(range(250))  # every frame the track shows (interpolated too)
    assert all(im["video_id"] == v["id"] for im in frames.values())
    assert frames[100]["file_name"] == "bikes/frame_000100.png"
    assert frames[100]["timestamp"] == 4.0 and len(frames[100]["tags"]) == 1
    anns = data["annotations"]
    assert {a["track_id"] for a in anns} == {1}
    keys = [a for a in anns if a["attributes"]["keyframe"]]
    assert [a["attributes"]["outside"] for a in keys] == [False, False, True]
    assert [a["attributes"]["frame_index"] for a in keys] == [0, 100, 249]
    between = {a["attributes"]["frame_index"]: a for a in anns
               if a["attributes"].get("vellum_interpolated")}
    assert sorted(between) == [f for f in range(249) if f not in (0, 100)]
    assert between[50]["bbox"] == [60.0, 20.0, 30.0, 40.0]  # half way from x=10 to x=110

    fresh = Document.create(tmp_path / "fresh")
    import_coco(fresh, out, proj)
    got = fresh.annotations(video.id, all_frames=True)
    assert sorted(a.frame for a in got if a.track_id) == [0, 100, 249]
    assert [t.id for t in fresh.tracks(video.id)] == [track.id]
    assert {a.kind for a in got} == {"box", "tag", "event"}
    assert next(a for a in got if a.frame == 249).outside
    doc.close()
    fresh.close()
