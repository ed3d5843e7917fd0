"""Video COCO as CVAT writes it: image ids in (video, frame) order, and the occluded state on
every track frame (keyframes and the frames between them), kept through a re-import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.core.annotations import Annotation, Track
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.places import Place
from app.core.schema import LabelClass
from app.core.shapes import Box, Tag
from app.demo_media import write_demo_video
from app.io.ingest import add_media


def vellum(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def _project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    clip = write_demo_video(tmp_path / "clip.mp4")
    with Document.create(proj) as doc:
        add_media(doc, [clip])
        (video,) = doc.media()
        doc.execute(SetSchema(doc.schema.with_class(LabelClass("car", "#ff0000", ("box",)))
                              .with_class(LabelClass("rain", "#0000ff", ("tag",)))))
        car, rain = doc.schema.class_by_name("car"), doc.schema.class_by_name("rain")
        track = Track(media_id=video.id, class_id=car.id)
        # keyframes put in an order unlike the frames', the occluded one in the middle
        keys = [Annotation(place=Place(video.id, f), class_id=car.id, track_id=track.id,
                           shape=Box(10 + f, 20, 30, 40), occluded=f == 30)
                for f in (60, 0, 30)]
        doc.execute(Put((track, *keys)))
        doc.execute(Put((Annotation(place=Place(video.id, 45), class_id=rain.id,
                                    shape=Tag()),)))
    return proj


def test_frame_ids_in_order_and_occluded_on_every_track_frame(tmp_path):
    proj = _project(tmp_path)
    out = tmp_path / "v.json"
    r = vellum("export", "coco", proj, out)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    frames = [im["frame_index"] for im in sorted(data["images"], key=lambda im: im["id"])]
    assert frames == sorted(frames) and frames[0] == 0, "image ids must follow frame order"
    track = [a for a in data["annotations"] if "track_id" in a]
    assert len(track) == 72 - 0  # keyframes 0, 30, 60 and every frame between/after
    by_frame = {a["attributes"]["frame_index"]: a["attributes"] for a in track}
    assert all(isinstance(at.get("occluded"), bool) for at in by_frame.values())
    assert by_frame[30]["occluded"] is True and by_frame[0]["occluded"] is False
    assert by_frame[60]["occluded"] is False

    fresh = tmp_path / "fresh"
    assert vellum("new", fresh).returncode == 0
    r = vellum("import", "coco", fresh, out, "--images", tmp_path)
    assert r.returncode == 0, r.stderr
    with Document.open(fresh) as doc:
        (video,) = doc.media()
        keys = {a.frame: a for a in doc.annotations(video.id, all_frames=True) if a.track_id}
        assert sorted(keys) == [0, 30, 60]
        assert keys[30].occluded and not keys[0].occluded
        assert "occluded" not in keys[30].attributes  # a state, not a user attribute
    again = tmp_path / "v2.json"
    assert vellum("export", "coco", fresh, again).returncode == 0
    assert json.loads(again.read_text())["annotations"] == data["annotations"]
