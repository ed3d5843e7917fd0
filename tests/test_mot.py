"""MOT Challenge CSV out and in: motmetrics reads back our boxes (interpolated frames
included, 1-based frames) and importing the file reproduces the tracks and their keyframes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from app.core.annotations import Annotation, Track
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.errors import BadInputError
from app.core.geometry import VideoGeometry
from app.core.interpolate import interpolate
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.schema import LabelClass, LabelSchema
from app.core.shapes import Box
from app.io.mot import export_mot, import_mot

mm = pytest.importorskip("motmetrics")


def _video() -> MediaItem:
    return MediaItem(kind=MediaKind.VIDEO, path="cam.mp4", fingerprint="f", size_bytes=1,
                     width=0, height=0, id="cam",
                     video=VideoGeometry(40, 320, 240, avg_fps=25.0))


def _project(tmp_path):
    doc = Document.create(tmp_path / "p")
    video = _video()
    doc.execute(Put((video,)))
    doc.execute(SetSchema(LabelSchema((LabelClass("car", "#ff0000"),
                                       LabelClass("pedestrian", "#00ff00")))))
    car, ped = (doc.schema.class_by_name(n).id for n in ("car", "pedestrian"))
    t1, t2 = Track(video.id, car), Track(video.id, ped)
    keys = [Annotation(Place(video.id, 0), Box(10, 20, 30, 40), car, track_id=t1.id),
            Annotation(Place(video.id, 10), Box(110, 70, 50, 40), car, track_id=t1.id),
            Annotation(Place(video.id, 20), Box(110, 70, 50, 40), car, track_id=t1.id,
                       outside=True),
            Annotation(Place(video.id, 5), Box(0, 0, 8, 16), ped, track_id=t2.id,
                       occluded=True),
            Annotation(Place(video.id, 9), Box(4, 8, 8, 16), ped, track_id=t2.id),
            Annotation(Place(video.id, 30), Box(40.5, 8.25, 8, 16), ped, track_id=t2.id)]
    doc.execute(Put((t1, t2, *keys)))
    return doc, video


def _iou_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - IoU of (x, y, w, h) boxes, NaN beyond 0.5 (motmetrics' iou_matrix, which calls
    np.asfarray, gone in numpy 2)."""
    ax0, ay0, ax1, ay1 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    d = 1 - inter / union
    d[d > 0.5] = np.nan
    return d


def test_motmetrics_reads_back_our_boxes(tmp_path):
    doc, video = _project(tmp_path)
    out = tmp_path / "mot"
    reports = export_mot(doc, out)
    gt = out / "cam" / "gt" / "gt.txt"
    assert reports["cam.mp4"].tracks == 2
    assert (out / "cam" / "gt" / "labels.txt").read_text() == "car\npedestrian\n"
    assert "seqLength=40" in (out / "cam" / "seqinfo.ini").read_text()
    df = mm.io.loadtxt(str(gt), fmt="mot15-2D")
    tracks = {t.id: (n, t) for n, t in enumerate(doc.tracks(video.id), start=1)}
    expected = {}
    for n, t in tracks.values():
        shapes = doc.track_shapes(t)
        for f in range(video.frames):
            a = interpolate(shapes, f)
            if a is not None:
                expected[(f + 1, n)] = a.shape.bbox()
    got = {(int(fid), int(oid)): (r.X, r.Y, r.Width, r.Height) for (fid, oid), r in df.iterrows()}
    assert got.keys() == expected.keys()
    for key, box in expected.items():
        assert np.allclose(got[key], box, atol=1e-6), key
    # the car: frames 1..20 (0..19 in Vellum), then outside; the pedestrian from 6 to the end
    car, ped = sorted(tracks.values(), key=lambda nt: nt[1].class_id != doc.schema.class_by_name(
        "car").id)
    assert min(f for f, n in got if n == car[0]) == 1
    assert max(f for f, n in got if n == car[0]) == 20
    assert max(f for f, n in got if n == ped[0]) == 40
    rows = [line.split(",") for line in gt.read_text().splitlines()]
    occluded = next(r for r in rows if r[0] == "6" and r[1] == str(ped[0]))
    assert occluded[7] == "2" and occluded[8] == "0"  # class pedestrian, visibility 0
    # a perfect tracker scores MOTA 1 against our file
    acc = mm.MOTAccumulator(auto_id=True)
    for f in sorted({k[0] for k in got}):
        ids = [k[1] for k in got if k[0] == f]
        boxes = np.array([got[(f, i)] for i in ids])
        acc.update(ids, ids, _iou_distance(boxes, boxes))
    summary = mm.metrics.create().compute(acc, metrics=["mota", "idf1"])
    assert summary["mota"].iloc[0] == 1.0 and summary["idf1"].iloc[0] == 1.0


def test_import_of_our_file_reproduces_tracks_and_keyframes(tmp_path):
    doc, video = _project(tmp_path)
    out = tmp_path / "one.txt"
    export_mot(doc, out)
    fresh = Document.create(tmp_path / "fresh")
    fresh.execute(Put((_video(),)))
    command, report = import_mot(fresh, out)
    fresh.execute(command)
    assert report.tracks == 2
    before = sorted(((a.frame, a.shape.bbox(), a.outside) for t in doc.tracks(video.id)
                     for a in doc.track_shapes(t)))
    after = sorted(((a.frame, a.shape.bbox(), a.outside) for t in fresh.tracks(video.id)
                    for a in fresh.track_shapes(t)))
    assert after == before
    assert {fresh.schema.class_by_id(t.class_id).name for t in fresh.tracks(video.id)} == {
        "car", "pedestrian"}
    # every frame shows the same box in both projects
    by_class = lambda d: sorted(d.tracks(video.id), key=lambda t: d.schema.class_by_id(  # noqa
        t.class_id).name)
    for t_old, t_new in zip(by_class(doc), by_class(fresh)):
        s_old, s_new = doc.track_shapes(t_old), fresh.track_shapes(t_new)
        for f in range(40):
            a, b = interpolate(s_old, f), interpolate(s_new, f)
            assert (a is None) == (b is None) and (a is None or a.shape == b.shape)
    fresh.undo()
    assert fresh.tracks(video.id) == []


def test_cli_and_bad_files(tmp_path):
    doc, _ = _project(tmp_path)
    doc.close()
    out = tmp_path / "cli"
    run = lambda *a: subprocess.run([sys.executable, "-m", "app", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True)
    r = run("export", "mot", tmp_path / "p", out)
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("1,1,10,10,5\n")
    r = run("import", "mot", tmp_path / "p", bad)
    assert r.returncode == 1 and "needs at least 6" in r.stderr and "Traceback" not in r.stderr
    bad.write_text("99,1,10,10,5,5,1,1,1\n")
    with Document.open(tmp_path / "p") as d, pytest.raises(BadInputError, match="frame 99"):
        import_mot(d, bad)
