"""Real models (../shared/models), imported through Vellum's own pack mechanism into a
temporary model folder: LiteMedSAM against the upstream PyTorch reference masks, NanoTrack
against the reference track. Skipped, with the reason, where ../shared is absent."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.inference.pack_import import import_models
from app.inference.packs import open_pack
from app.inference.sam import SamSession
from app.inference.tracking import open_tracker, track_video
from app.io.images import read_image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"
REFERENCE = SHARED / "reference"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent on this machine")
    return path


@pytest.fixture(scope="module")
def models_root(tmp_path_factory) -> Path:
    src = _need(MODELS)
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*.onnx")}
    root = tmp_path_factory.mktemp("real") / "models"
    report = import_models(src, root)
    assert report.errors == []
    assert {"litemedsam", "nanotrack-v2", "nanotrack-v3"} <= set(report.installed)
    assert {p: p.stat().st_mtime_ns for p in src.rglob("*.onnx")} == before
    return root


def _cases() -> list[dict]:
    path = REFERENCE / "sam" / "cases.json"
    return json.loads(path.read_text())["cases"] if path.is_file() else []


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1))


def _xywh(case: dict) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = case["box_xyxy"]
    return (x0, y0, x1 - x0, y1 - y0)


def test_litemedsam_reproduces_every_reference_case_through_the_python_api(models_root):
    cases = _cases() or pytest.skip("reference cases are absent")
    worst = 1.0
    with SamSession("litemedsam", models_root=models_root) as sam:
        for case in cases:
            sam.set_image(read_image(REFERENCE / "sam" / case["image"]))
            answer = sam.predict(box=_xywh(case)).best()
            ref = cv2.imread(str(REFERENCE / "sam" / case["mask"]), cv2.IMREAD_GRAYSCALE) > 127
            score = _iou(answer.mask, ref)
            worst = min(worst, score)
            assert score >= 0.98, f"{case['mask']}: IoU {score:.4f}"
            assert answer.score == pytest.approx(case["predicted_iou"], abs=0.01)
            assert answer.source == "litemedsam"
    print(f"worst IoU {worst:.5f} over {len(cases)} cases")


@pytest.mark.slow
def test_litemedsam_reproduces_every_reference_case_through_vellum_segment(models_root,
                                                                          tmp_path):
    cases = _cases() or pytest.skip("reference cases are absent")
    env = dict(os.environ, VELLUM_MODELS_DIR=str(models_root))
    for n, case in enumerate(cases):
        out = tmp_path / f"mask{n}.png"
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "segment", str(REFERENCE / "sam" / case["image"]),
             "--model", "litemedsam", "--box", *map(str, _xywh(case)), "-o", str(out)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        mask = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
        ref = cv2.imread(str(REFERENCE / "sam" / case["mask"]), cv2.IMREAD_GRAYSCALE) > 127
        assert mask.ndim == 2 and mask.shape == ref.shape
        assert _iou(mask == 255, ref) >= 0.98, case["mask"]


def test_nanotrack_backbone_installed_with_free_dims_and_both_hashes_recorded(models_root):
    pack = open_pack("nanotrack-v2", models_root)
    record = pack.files["backbone"]
    original = MODELS / "nanotrack" / "v2" / "nanotrack_backbone_sim.onnx"
    assert record["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
    installed = pack.path("backbone")
    assert record["installed_sha256"] == hashlib.sha256(installed.read_bytes()).hexdigest()
    assert record["installed_sha256"] != record["sha256"] and record["edit"] == "symbolic-hw"


class PyAvReader:
    """A temporary local decoder for this test only (the project's is app.io.video)."""

    def __init__(self, path: Path) -> None:
        import av

        with av.open(str(path)) as container:
            self._frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        self.frame_count = len(self._frames)

    def frame(self, n: int) -> np.ndarray:
        return self._frames[n]

    def frames(self, start: int, stop: int, step: int = 1):
        for n in range(start, stop, step):
            yield n, self._frames[n]


def _box_iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture(scope="module")
def track_clip():
    video = _need(SHARED / "data" / "video" / "track_patch.mp4")
    ref = json.loads(_need(REFERENCE / "track" / "track_patch.json").read_text())
    return PyAvReader(video), ref["boxes"]


@pytest.mark.parametrize("model_id, mean_needed", [("nanotrack-v2", 0.85), ("nanotrack-v3", 0.8)])
def test_nanotrack_follows_the_reference_track(models_root, track_clip, model_id, mean_needed):
    reader, boxes = track_clip
    tracker = open_tracker(model_id, models_root=models_root)
    found = track_video(reader, tuple(boxes[0]), 0, tracker=tracker)
    assert [t.frame for t in found] == list(range(reader.frame_count))
    ious = np.array([_box_iou(t.box, boxes[t.frame]) for t in found])
    print(f"{model_id}: mean IoU {ious.mean():.3f}, >= 0.5 on {np.mean(ious >= 0.5):.1%}")
    assert ious.mean() >= mean_needed and np.mean(ious >= 0.5) >= 0.95


def test_nanotrack_tracks_backward_over_a_range(models_root, track_clip):
    reader, boxes = track_clip
    found = track_video(reader, tuple(boxes[200]), 200, end=100, backward=True,
                        tracker=open_tracker("nanotrack-v2", models_root=models_root))
    assert [t.frame for t in found] == list(range(100, 201))
    assert np.mean([_box_iou(t.box, boxes[t.frame]) for t in found]) >= 0.85


def test_vellum_track_json_in_process(models_root, track_clip, monkeypatch, capsys):
    """The CLI path, with the reader swapped for this test's local decoder."""
    from app import cli
    from app.inference import commands

    reader, boxes = track_clip
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(models_root))
    monkeypatch.setattr(commands, "open_video", lambda path: reader)
    code = cli.main(["track", "clip.mp4", "--model", "nanotrack-v2", "--box",
                     *map(str, boxes[10]), "--start", "10", "--end", "60", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    frames = out["frames"]
    assert [f["frame"] for f in frames] == list(range(10, 61))
    assert set(frames[0]) == {"frame", "box", "score", "lost"}
    assert np.mean([_box_iou(f["box"], boxes[f["frame"]]) for f in frames]) >= 0.85


def test_vellum_track_through_the_project_decoder(models_root):
    video = _need(SHARED / "data" / "video" / "track_patch.mp4")
    boxes = json.loads((REFERENCE / "track" / "track_patch.json").read_text())["boxes"]
    env = dict(os.environ, VELLUM_MODELS_DIR=str(models_root))
    done = subprocess.run([sys.executable, "-m", "app.cli", "track", str(video), "--model",
                           "nanotrack-v2", "--box", *map(str, boxes[0]), "--start", "0",
                           "--json"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    frames = json.loads(done.stdout)["frames"]
    ious = np.array([_box_iou(f["box"], boxes[f["frame"]]) for f in frames])
    assert len(frames) == len(boxes) and ious.mean() >= 0.85 and np.mean(ious >= 0.5) >= 0.95


@pytest.mark.parametrize("model_id", ["nanotrack-v2", "classical"])
def test_an_occluded_target_is_flagged_lost_and_found_again(models_root, track_clip, model_id):
    """Frames 100-120 of the clip painted over the target (and 10 px around it)."""
    reader, boxes = track_clip
    occluded = PyAvReader.__new__(PyAvReader)
    occluded._frames = list(reader._frames)
    occluded.frame_count = reader.frame_count
    hidden = range(100, 121)
    for n in hidden:
        x, y, w, h = boxes[n]
        frame = occluded._frames[n].copy()
        frame[max(0, y - 10):y + h + 10, max(0, x - 10):x + w + 10] = (90, 90, 90)
        occluded._frames[n] = frame
    found = track_video(occluded, tuple(boxes[0]), 0,
                        tracker=open_tracker(model_id, models_root=models_root))
    visible = [t for t in found if t.frame not in hidden]
    ious = np.array([_box_iou(t.box, boxes[t.frame]) for t in visible])
    lost = [t.frame for t in found if t.lost]
    print(f"{model_id}: visible mean IoU {ious.mean():.3f}; lost on {len(lost)} frames "
          f"({sum(f in hidden for f in lost)} of {len(hidden)} hidden)")
    assert sum(f in hidden for f in lost) >= 0.8 * len(hidden)
    assert sum(f not in hidden for f in lost) <= 5
    assert ious.mean() >= 0.85 and np.mean(ious >= 0.5) >= 0.95
