"""``vellum models import|list|pack`` with a bare YOLO detector folder, and ``vellum detect
PROJECT``: boxes with source and score on images and video frames (``--every``,
``--track``, ``--classes``), steps kept on Ctrl+C, and one sentence for a bad model file or a
wrong layout. The detectors are tiny graphs (tests/detector_graphs.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
av = pytest.importorskip("av")

from detector_graphs import NAMES, detector_folder, write_detector  # noqa: E402

from app.cli import main  # noqa: E402
from app.core.document import Document  # noqa: E402
from app.inference.detection import load_detector  # noqa: E402
from app.inference.pack_import import import_models  # noqa: E402
from app.io.images import read_image, write_png  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DARK, BRIGHT, FRAMES = 20, 240, 24  # frames 0-11 dark, 12-23 bright


def _vellum(models: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "VELLUM_MODELS_DIR": str(models), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO)


def _one_sentence(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def _clip(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        for n in range(FRAMES):
            img = np.full((120, 160, 3), DARK if n < FRAMES // 2 else BRIGHT, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A model folder with a v8 detector whose 'car' fades on bright pictures, and a project
    with two odd-sized images and a 24-frame video."""
    base = tmp_path_factory.mktemp("detect")
    folder = detector_folder(base / "yolo", "yolov8", shift=8.0, fade={3: 0.6},
                             names_file="data.yaml")
    models = base / "models"
    report = import_models(folder, models)
    assert report.errors == [], report.errors
    (model_id,) = report.installed
    proj = base / "project"
    rng = np.random.default_rng(1)
    media = proj / "media"  # inside the project, so that a copy of it keeps its media
    media.mkdir(parents=True)
    write_png(media / "wide.png", rng.integers(0, 256, (333, 517, 3), np.uint8))
    write_png(media / "tall.png", rng.integers(0, 256, (517, 333, 3), np.uint8))
    _clip(media / "clip.mp4")
    from app.io.ingest import add_media

    doc = Document.create(proj)
    add_media(doc, [media / "wide.png", media / "tall.png", media / "clip.mp4"])
    assert {m.name for m in doc.media()} >= {"wide.png", "tall.png", "clip.mp4"}
    doc.close()
    return base, folder, models, model_id, proj


def _copy(proj: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(proj, tmp_path / "p"))


def _run(monkeypatch, capsys, models: Path, *args) -> tuple[int, str, str]:
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(models))
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


# ------------------------------------------------------------------ models
def test_import_list_pack_of_a_detector_folder(setup, tmp_path):
    base, folder, _, model_id, _ = setup
    models = tmp_path / "models"
    r = _vellum(models, "models", "import", folder)
    assert r.returncode == 0, r.stderr
    assert f"Installed {model_id} (model)" in r.stdout and "complete" in r.stdout
    manifest = json.loads((models / model_id / "manifest.json").read_text())
    assert manifest["task"] == "detect" and manifest["family"] == "yolo-onnx"
    assert manifest["names"] == NAMES and manifest["names_from"] == "data.yaml"
    assert manifest["input_hw"] == [320, 320] and manifest["layout"] == "yolov8"
    assert (models / model_id / "tiny.onnx").read_bytes() == (folder / "tiny.onnx").read_bytes()
    # the same file again lands in the same pack; the names file is never installed
    r = _vellum(models, "models", "import", folder)
    assert r.returncode == 0 and sorted(p.name for p in models.iterdir()) == [model_id]
    assert sorted(p.name for p in (models / model_id).iterdir()) == ["manifest.json",
                                                                     "tiny.onnx"]
    r = _vellum(models, "models", "list", "--json")
    (entry,) = json.loads(r.stdout)["models"]
    assert entry["id"] == model_id and entry["task"] == "detect" and entry["complete"]
    # pack the source folder and the installed one; each archive installs the same pack
    for src, name in ((folder, "a.vellum-models"), (models / model_id, "b.vellum-models")):
        r = _vellum(models, "models", "pack", src, "-o", tmp_path / name)
        assert r.returncode == 0, r.stderr
        fresh = tmp_path / f"fresh-{name}"
        r = _vellum(fresh, "models", "import", tmp_path / name)
        assert r.returncode == 0, r.stderr
        assert load_detector(model_id, models_root=fresh).names == NAMES


def test_existing_pack_import_is_unchanged_by_a_stray_onnx(tmp_path):
    """A folder with an unknown .onnx and no names stays 'nothing to import'."""
    folder = tmp_path / "stray"
    folder.mkdir()
    write_detector(folder / "x.onnx", "yolov8")
    r = _vellum(tmp_path / "models", "models", "import", folder)
    assert r.returncode == 1
    assert "Nothing to import" in _one_sentence(r.stderr)


def test_bad_model_file_and_wrong_layout_are_one_sentence(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.onnx").write_bytes(b"\x08\x07garbage, not a protobuf graph" * 10)
    (bad / "classes.txt").write_text("a\nb\n")
    r = _vellum(tmp_path / "models", "models", "import", bad)
    assert r.returncode == 1
    line = _one_sentence(r.stderr)
    assert "broken.onnx is not a readable ONNX model" in line
    wrong = tmp_path / "wrong"
    detector_folder(wrong, "yolov8", names=[f"c{i}" for i in range(9)])  # [1, 7, N]: 9 names
    r = _vellum(tmp_path / "models", "models", "import", wrong)
    assert r.returncode == 1
    line = _one_sentence(r.stderr)
    assert "tiny.onnx gives output [1, 7, 64]" in line and "none of the YOLO" in line
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


# ------------------------------------------------------------------ vellum detect
def test_detect_on_images_writes_model_boxes(setup, tmp_path, monkeypatch, capsys):
    _, _, models, model_id, proj = setup
    proj = _copy(proj, tmp_path)
    code, out, err = _run(monkeypatch, capsys, models, "detect", proj, "--model", model_id,
                          "--media", "wide.png", "--media", "tall.png")
    assert code == 0, err
    assert "New classes: person, bicycle, car" in out
    det = load_detector(model_id, models_root=models)
    counts = {}
    with Document.open(proj) as doc:
        by_name = {c.id: c.name for c in doc.schema.classes}
        for name in ("wide.png", "tall.png"):
            item = next(m for m in doc.media() if m.name == name)
            anns = doc.annotations(item.id)
            want = det.detect(read_image(doc.media_path(item)))
            assert len(anns) == len(want) >= 3
            counts[name] = {a.id for a in anns}
            assert all(a.source == model_id and a.score is not None for a in anns)
            got = sorted((by_name[a.class_id], round(a.score, 4),
                          tuple(round(v, 2) for v in a.shape.bbox())) for a in anns)
            assert got == sorted((d.label, round(d.score, 4),
                                  tuple(round(v, 2) for v in d.box)) for d in want)
    # the same run again replaces its own boxes (same ids), adding nothing
    code, _, err = _run(monkeypatch, capsys, models, "detect", proj, "--model", model_id,
                        "--media", "wide.png")
    assert code == 0, err
    with Document.open(proj) as doc:
        item = next(m for m in doc.media() if m.name == "wide.png")
        assert {a.id for a in doc.annotations(item.id)} == counts["wide.png"]


def test_classes_filter(setup, tmp_path, monkeypatch, capsys):
    _, _, models, model_id, proj = setup
    proj = _copy(proj, tmp_path)
    code, out, err = _run(monkeypatch, capsys, models, "detect", proj, "--model", model_id,
                          "--classes", "CAR", "--media", "wide.png", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["classes_created"] == ["car"] and report["media"][0]["detections"] == 1
    with Document.open(proj) as doc:
        assert [c.name for c in doc.schema.classes] == ["car"]
        (ann,) = [a for m in doc.media() for a in doc.annotations(m.id)]
        assert 0.25 < ann.score < 0.6 and ann.source == model_id  # the car fades with t
    code, _, err = _run(monkeypatch, capsys, models, "detect", proj, "--model", model_id,
                        "--classes", "car,truck")
    assert code == 1 and "has no class 'truck'" in _one_sentence(err)


def test_detect_on_video_every_and_track(setup, tmp_path, monkeypatch, capsys):
    _, _, models, model_id, proj = setup
    proj = _copy(proj, tmp_path)
    args = ("detect", proj, "--model", model_id, "--media", "clip.mp4", "--every", 3,
            "--track", "--json")
    code, out, err = _run(monkeypatch, capsys, models, *args)
    assert code == 0, err
    processed = list(range(0, FRAMES, 3))
    assert json.loads(out)["media"][0]["pictures"] == len(processed)
    with Document.open(proj) as doc:
        video = next(m for m in doc.media() if m.name == "clip.mp4")
        names = {c.id: c.name for c in doc.schema.classes}
        tracks = doc.tracks(video.id)
        assert sorted(names[t.class_id] for t in tracks) == ["bicycle", "car", "person",
                                                             "person"]
        first = {t.id: [(a.frame, a.outside) for a in doc.track_shapes(t)] for t in tracks}
        for t in tracks:
            shapes = doc.track_shapes(t)
            assert all(a.source == model_id and a.class_id == t.class_id for a in shapes)
            if names[t.class_id] == "car":  # fades on the bright half: an outside keyframe
                assert [(a.frame, a.outside) for a in shapes] == [
                    (0, False), (3, False), (6, False), (9, False), (12, True)]
            else:
                assert [a.frame for a in shapes] == processed
                assert all(not a.keyframe and 0 < a.score <= 1 for a in shapes)
        total = len(doc.annotations(video.id, all_frames=True))
        assert total == 3 * len(processed) + 4 + 1  # 3 whole tracks, the car 4 + outside
    # a second identical run gives the same ids: nothing is added
    code, _, err = _run(monkeypatch, capsys, models, *args)
    assert code == 0, err
    with Document.open(proj) as doc:
        assert len(doc.annotations(video.id, all_frames=True)) == total
        assert {t.id for t in doc.tracks(video.id)} == set(first)
    # without --track: plain boxes on every 5th frame
    code, _, err = _run(monkeypatch, capsys, models, "detect", proj, "--model", model_id,
                        "--media", "clip.mp4", "--every", 5, "--conf", 0.55)
    assert code == 0, err
    with Document.open(proj) as doc:
        plain = [a for a in doc.annotations(video.id, all_frames=True) if a.track_id is None]
        assert sorted({a.frame for a in plain}) == [0, 5, 10, 15, 20]
        assert all(a.score > 0.55 and a.source == model_id for a in plain)


def test_ctrl_c_keeps_committed_steps(setup, tmp_path, monkeypatch, capsys):
    from app.inference import detect_commands
    from app.inference.detection import YoloDetector

    _, _, models, model_id, proj = setup
    proj = _copy(proj, tmp_path)
    monkeypatch.setattr(detect_commands, "STEP", 5)
    real = YoloDetector.detect
    calls = []

    def interrupted(self, image):
        calls.append(1)
        if len(calls) == 13:
            raise KeyboardInterrupt
        return real(self, image)

    monkeypatch.setattr(YoloDetector, "detect", interrupted)
    code, _, err = _run(monkeypatch, capsys, models, "detect", proj, "--model", model_id,
                        "--media", "clip.mp4")
    assert code == 130 and "interrupted" in err
    with Document.open(proj) as doc:
        video = next(m for m in doc.media() if m.name == "clip.mp4")
        frames = {a.frame for a in doc.annotations(video.id, all_frames=True)}
        assert sorted(frames) == list(range(12))


def test_damaged_model_is_one_sentence(setup, tmp_path):
    _, folder, _, model_id, proj = setup
    models = tmp_path / "models"
    assert import_models(folder, models).errors == []
    path = models / model_id / "tiny.onnx"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    r = _vellum(models, "detect", _copy(proj, tmp_path), "--model", model_id)
    assert r.returncode == 1
    assert "is damaged" in _one_sentence(r.stderr)


# ------------------------------------------------------------------ worker-side API
def test_worker_api_detect_media_and_records(setup, tmp_path):
    import pickle

    from app.inference.detection import detect_media
    from app.inference.detection_records import class_map_for, detection_records

    _, _, models, model_id, proj = setup
    with Document.open(_copy(proj, tmp_path)) as doc:
        video = next(m for m in doc.media() if m.name == "clip.mp4")
        image = next(m for m in doc.media() if m.name == "wide.png")
        stops = iter([False, False, True])
        found = detect_media(model_id, str(doc.media_path(video)), "video", [9, 0, 7],
                             conf=0.25, iou=0.45, classes=None, models_root=models,
                             should_stop=lambda: next(stops))
        assert list(found) == [0, 7]  # asked for in order; stopped before frame 9
        assert pickle.loads(pickle.dumps(found)) == found
        pic = detect_media(model_id, str(doc.media_path(image)), "image", None, conf=0.5,
                           iou=0.45, classes=["person"], models_root=models)
        assert list(pic) == [None] and {d.label for d in pic[None]} == {"person"}
        schema, cmap = class_map_for(doc, NAMES)
        from app.core.commands import SetSchema

        doc.execute(SetSchema(schema))
        a = detection_records(doc, video.id, found, class_map=cmap, source=model_id,
                              track=False, id_seed="job-1")
        b = detection_records(doc, video.id, found, class_map=cmap, source=model_id,
                              track=False, id_seed="job-1")
        assert [r.id for r in a] == [r.id for r in b] and len(a) == 8
        assert {r.frame for r in a} == {0, 7} and all(r.source == model_id for r in a)
        t = detection_records(doc, video.id, found, class_map=cmap, source=model_id,
                              track=True, id_seed="job-1")
        assert sum(type(r).__name__ == "Track" for r in t) == 4
