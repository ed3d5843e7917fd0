"""Scripted pre-labelling: `vellum segment PROJECT ...` and `vellum track PROJECT ...` write
annotations with the model as source and its confidence as score, one undoable step each;
on a volume slice the answer is painted into the label map."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.core.document import Document
from app.core.places import Place
from app.inference.pack_import import import_models

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent on this machine")
    return path


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prelabel") / "models"
    report = import_models(_need(SHARED / "models" / "litemedsam"), root)
    assert report.errors == []
    return root


def _vellum(models_dir: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "VELLUM_MODELS_DIR": str(models_dir)}
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, env=env)


@pytest.mark.slow
def test_segment_an_image_and_a_volume_slice_of_a_project(tmp_path, models_dir):
    cases = json.loads((_need(SHARED / "reference" / "sam" / "cases.json")).read_text())
    case = next(c for c in cases["cases"] if c["image"] == "inputs/coffee.png")
    proj = tmp_path / "p"
    shutil.copy(SHARED / "reference" / "sam" / "inputs" / "coffee.png", tmp_path / "coffee.png")
    assert _vellum(models_dir, "new", proj).returncode == 0
    assert _vellum(models_dir, "add", proj, tmp_path / "coffee.png").returncode == 0
    x0, y0, x1, y1 = case["box_xyxy"]
    r = _vellum(models_dir, "segment", proj, "--model", "litemedsam", "--box", x0, y0,
                x1 - x0, y1 - y0, "--class", "cup")
    assert r.returncode == 0, r.stderr
    with Document.open(proj) as doc:
        (item,) = doc.media()
        (ann,) = doc.annotations(item.id)
        assert ann.source == "litemedsam" and 0.5 < ann.score <= 1
        assert doc.schema.class_by_id(ann.class_id).name == "cup" and ann.kind == "mask"
        from app.core.rle import decode
        from app.io.images import read_image

        ref = read_image(SHARED / "reference" / "sam" / case["mask"])[..., 0] > 127
        got = decode(ann.shape.rle)
        assert (got & ref).sum() / (got | ref).sum() > 0.98
    # polygons instead, then a CT slice painted into a label map
    r = _vellum(models_dir, "segment", proj, "--model", "litemedsam", "--box", x0, y0,
                x1 - x0, y1 - y0, "--as", "polygon")
    assert r.returncode == 0, r.stderr
    series = _need(SHARED / "data" / "dicom" / "philips_phantom_study" / "S2010")
    assert _vellum(models_dir, "add", proj, series).returncode == 0
    r = _vellum(models_dir, "segment", proj, "--model", "litemedsam", "--media",
                "STD BRAIN 5MM", "--slice", "k", 14, "--box", 200, 190, 100, 100,
                "--window", 80, 40, "--class", "insert")
    assert r.returncode == 0, r.stderr
    with Document.open(proj) as doc:
        vol = next(m for m in doc.media()  # named by its description (its title is neutral)
                   if m.source and m.source.description == "STD BRAIN 5MM")
        (lm,) = doc.labelmaps(vol.id)
        (seg,) = lm.segments
        assert doc.schema.class_by_id(seg.class_id).name == "insert"
        plane = doc.labelmap_plane(lm.id, "k", 14)
        assert plane.any() and not doc.labelmap_plane(lm.id, "k", 13).any()
        ys, xs = np.nonzero(plane)
        assert 190 <= ys.min() and ys.max() < 290 and 200 <= xs.min() and xs.max() < 300
        assert doc.annotations(Place(vol.id, axis="k", index=14)) == []


def test_track_a_video_of_a_project(tmp_path):
    ref = json.loads(_need(SHARED / "reference" / "track" / "track_patch.json").read_text())
    proj = tmp_path / "p"
    shutil.copy(SHARED / "data" / "video" / "track_patch.mp4", tmp_path / "clip.mp4")
    env_models = tmp_path / "none"
    assert _vellum(env_models, "new", proj).returncode == 0
    assert _vellum(env_models, "add", proj, tmp_path / "clip.mp4").returncode == 0
    boxes = ref["boxes"] if "boxes" in ref else ref["frames"]
    first = boxes[0]
    box = first["box"] if isinstance(first, dict) else first
    r = _vellum(env_models, "track", proj, "--model", "classical", "--box", *box, "--start", 0,
                "--end", 30, "--class", "patch")
    assert r.returncode == 0, r.stderr
    with Document.open(proj) as doc:
        (video,) = doc.media()
        (track,) = doc.tracks(video.id)
        shapes = doc.track_shapes(track)
        assert shapes[0].frame == 0 and shapes[0].keyframe and shapes[0].source == "manual"
        tracked = [a for a in shapes if not a.keyframe]
        assert tracked and all(a.source == "classical" and a.score is not None for a in tracked)
        assert max(a.frame for a in shapes) <= 30
        assert doc.schema.class_by_id(track.class_id).name == "patch"
