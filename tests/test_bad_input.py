"""Bad input gives one clear error naming the file, a non-zero exit, and touches nothing."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from factories import project_with_every_shape

from app.io.coco import export_coco


def vellum(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def project(tmp_path):
    doc, img_dir = project_with_every_shape(tmp_path)
    good = tmp_path / "good.json"
    export_coco(doc, good)
    doc.close()
    return tmp_path / "proj", img_dir, json.loads(good.read_text())


def assert_clean_failure(result, *words):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.strip().splitlines() if ln]
    assert len(lines) == 1, result.stderr
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "foreign_sqlite"])
def test_damaged_project_file(project, tmp_path, damage):
    proj, _, _ = project
    db = proj / "project.vellum"
    data = db.read_bytes()
    if damage == "truncate":
        db.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        db.write_bytes(bytes(range(256)) * 64)
    elif damage == "empty":
        db.write_bytes(b"")
    else:
        db.unlink()
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
    before = digest(db)
    out = tmp_path / "out.json"
    out.write_text("previous export")
    for args in (("info", proj), ("validate", proj), ("export", "coco", proj, out)):
        result = vellum(*args)
        assert_clean_failure(result, str(db))
    assert digest(db) == before, "a damaged project must be left exactly as it was"
    assert out.read_text() == "previous export", "no half-written output"
    assert not any(p.name.startswith(".out.json") for p in tmp_path.iterdir())


def _mutations(good: dict) -> dict[str, tuple[dict | str, str]]:
    """name -> (bad COCO content, words the error must contain)."""
    def with_ann(**changes):
        bad = json.loads(json.dumps(good))
        bad["annotations"][0].update(changes)
        return bad

    poly = next(i for i, a in enumerate(good["annotations"])
                if a["attributes"]["vellum_shape"] == "polygon" and isinstance(
                    a["segmentation"], list))
    rle = next(i for i, a in enumerate(good["annotations"]) if isinstance(a["segmentation"], dict))
    two_points = json.loads(json.dumps(good))
    two_points["annotations"][poly]["segmentation"] = [[1, 1, 5, 5]]
    wrong_size = json.loads(json.dumps(good))
    wrong_size["annotations"][rle]["segmentation"]["size"] = [50, 50]
    bad_counts = json.loads(json.dumps(good))
    bad_counts["annotations"][rle]["segmentation"]["counts"] = [5, 5, 5]
    missing = {k: v for k, v in good.items() if k not in ("annotations", "images",
                                                            "categories")}
    return {
        "not_json": ("{\"images\": [", "not valid JSON"),
        "top_level_list": ("[]", "top level"),
        "not_coco": (missing, "not a COCO file"),
        "images_not_list": ({**good, "images": {"id": 1}}, "'images'"),
        # (an unknown int or str id is imported as a class: test_coco_unknown_categories.py)
        "category_not_an_id": (with_ann(category_id=[999]), "category_id [999]"),
        "unknown_image": (with_ann(image_id=999), "image 999"),
        "bbox_wrong_type": (with_ann(segmentation=[], bbox=["a", 1, 2, 3],
                                     attributes={}), "bbox"),
        "polygon_two_points": (two_points, "2 point"),
        "rle_wrong_size": (wrong_size, "RLE mask size"),
        "rle_bad_counts": (bad_counts, "RLE"),
    }


def test_malformed_coco(project, tmp_path):
    proj, img_dir, good = project
    db = proj / "project.vellum"
    for name, (content, words) in _mutations(good).items():
        before = digest(db)
        bad = tmp_path / f"{name}.json"
        bad.write_text(content if isinstance(content, str) else json.dumps(content))
        result = vellum("import", "coco", proj, bad, "--images", img_dir)
        assert_clean_failure(result, str(bad), words)
        assert digest(db) == before, f"{name}: the project must be unchanged"


def test_missing_files_and_bad_media(tmp_path):
    assert_clean_failure(vellum("info", tmp_path / "nope"), "does not exist")
    assert vellum("new", tmp_path / "p").returncode == 0
    assert_clean_failure(vellum("new", tmp_path / "p"), "already exists")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (tmp_path / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    result = vellum("add", tmp_path / "p", tmp_path / "broken.png", tmp_path / "cut.jpg")
    assert result.returncode != 0
    assert "broken.png" in result.stderr and "cut.jpg" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_that_is_not_a_dataset(project, tmp_path):
    """Huge coordinates, numbers beyond double range, NaN, deep nesting, panoptic: one
    sentence each, never a traceback, the project untouched."""
    proj, img_dir, good = project
    db = proj / "project.vellum"
    before = digest(db)
    poly = next(i for i, a in enumerate(good["annotations"])
                if isinstance(a["segmentation"], list) and a["segmentation"])
    huge = json.loads(json.dumps(good))
    huge["annotations"][poly]["segmentation"][0][0] = 1e300
    huge_box = json.loads(json.dumps(good))
    huge_box["annotations"][0].update(bbox=[0, 0, 1e200, 1e200], segmentation=[],
                                      attributes={})
    text = json.dumps(good)
    cases = {
        "huge.json": (json.dumps(huge), "beyond"),
        "huge_box.json": (json.dumps(huge_box), "beyond"),
        "overflow.json": (text.replace('"iscrowd":', '"big":1e400,"iscrowd":', 1)
                          .replace('"iscrowd": ', '"big": 1e400, "iscrowd": ', 1),
                          "not valid JSON"),
        "nan.json": (text.replace("[", "[NaN, ", 1), "NaN or Infinity at byte"),
        "deep.json": ('{"images": [], "x": ' + "[" * 200_000 + "]" * 200_000 + "}",
                      "deeper than"),
        "deep_object.json": ('{"a":' * 5000 + "1" + "}" * 5000, "deeper than"),
        "trailing.json": (text + " {}", "not valid JSON"),
        "yvis.json": ('{"videos": [{"id": 1, "file_names": ["a.jpg"]}], "annotations": [], '
                      '"categories": []}', "YouTube-VIS"),
    }
    for name, (content, words) in cases.items():
        bad = tmp_path / name
        bad.write_text(content)
        result = vellum("import", "coco", proj, bad, "--images", img_dir)
        assert_clean_failure(result, str(bad), words)
        assert "RecursionError" not in result.stderr
        assert digest(db) == before, f"{name}: the project must be unchanged"


def test_huge_geometry_never_writes_infinity(tmp_path):
    """A shape whose area overflows double (it can only come from code, not a file) makes
    export refuse in one sentence; the previous output stays."""
    from app.core.annotations import Annotation
    from app.core.commands import Put
    from app.core.places import Place
    from app.core.shapes import Box

    doc, _ = project_with_every_shape(tmp_path)
    doc.execute(Put((Annotation(place=Place(doc.media()[1].id),
                                shape=Box(0, 0, 1e200, 1e200)),)))
    doc.close()
    out = tmp_path / "out.json"
    out.write_text("previous")
    result = vellum("export", "coco", tmp_path / "proj", out, "--overwrite")
    assert_clean_failure(result, "not a finite number")
    assert out.read_text() == "previous"


def test_truncated_jpeg_is_reported_by_import_and_validate(tmp_path):
    import cv2
    import numpy as np

    images = tmp_path / "images"
    images.mkdir()
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(1).integers(
        0, 255, (40, 60, 3), dtype=np.uint8))
    data = buf.tobytes()
    (images / "whole.jpg").write_bytes(data)
    (images / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    coco = {"images": [{"id": 1, "file_name": "whole.jpg", "width": 60, "height": 40},
                       {"id": 2, "file_name": "cut.jpg", "width": 60, "height": 40}],
            "categories": [{"id": 1, "name": "thing"}],
            "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5],
                             "area": 25, "iscrowd": 0, "segmentation": []}]}
    src = tmp_path / "c.json"
    src.write_text(json.dumps(coco))
    assert vellum("new", tmp_path / "p").returncode == 0
    result = vellum("import", "coco", tmp_path / "p", src, "--images", images)
    assert result.returncode == 0, result.stderr
    assert "cut.jpg is a truncated JPEG" in result.stderr and "whole.jpg" not in result.stderr
    result = vellum("validate", tmp_path / "p")
    assert result.returncode == 3
    assert "cut.jpg is a truncated JPEG" in result.stdout and "whole.jpg" not in result.stdout
