"""COCO files whose annotations use category ids that 'categories' does not list (TAO and
mmtracking write these; pycocotools loads them): imported with each unknown id kept as a class
named by its id, said in the import note, and written back with the same ids."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from pycocotools.coco import COCO


def vellum(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def _tao_style(folder: Path) -> Path:
    for n in (1, 2):
        cv2.imwrite(str(folder / f"f{n}.jpg"), np.full((40, 60, 3), 90 * n, np.uint8))
    data = {
        "images": [{"id": 1, "file_name": "f1.jpg", "width": 60, "height": 40},
                   {"id": 2, "file_name": "f2.jpg", "width": 60, "height": 40}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 12], "area": 120,
             "iscrowd": 0},
            {"id": 11, "image_id": 1, "category_id": 805, "bbox": [20, 5, 8, 9], "area": 72,
             "iscrowd": 0},
            {"id": 12, "image_id": 2, "category_id": 805, "bbox": [21, 6, 8, 9], "area": 72,
             "iscrowd": 0},
            {"id": 13, "image_id": 2, "category_id": 7, "bbox": [3, 3, 4, 4], "area": 16,
             "iscrowd": 0},
        ],
    }
    out = folder / "tao.json"
    out.write_text(json.dumps(data))
    return out


def test_unknown_category_ids_become_classes_and_round_trip(tmp_path):
    src = _tao_style(tmp_path)
    COCO(str(src))  # the reference loads it
    proj = tmp_path / "p"
    assert vellum("new", proj).returncode == 0
    result = vellum("import", "coco", proj, src)
    assert result.returncode == 0, result.stderr
    assert "805" in result.stdout and "7" in result.stdout and "note:" in result.stdout
    info = vellum("info", proj).stdout
    assert "class '805'" in info and "class '7'" in info and "4 annotations" in info

    out = tmp_path / "back.json"
    assert vellum("export", "coco", proj, out).returncode == 0, "export"
    back = json.loads(out.read_text())
    cats = {c["id"]: c["name"] for c in back["categories"]}
    assert cats == {1: "person", 805: "805", 7: "7"}
    got = sorted((a["id"], a["category_id"], a["bbox"]) for a in back["annotations"])
    assert got == [(10, 1, [1, 2, 10, 12]), (11, 805, [20, 5, 8, 9]),
                   (12, 805, [21, 6, 8, 9]), (13, 7, [3, 3, 4, 4])]
    coco = COCO(str(out))
    assert len(coco.getAnnIds(catIds=[805])) == 2

    # a second import of the export into a fresh project gives the same classes, no new note
    proj2 = tmp_path / "p2"
    assert vellum("new", proj2).returncode == 0
    again = vellum("import", "coco", proj2, out)
    assert again.returncode == 0 and "does not list" not in again.stdout
    out2 = tmp_path / "back2.json"
    assert vellum("export", "coco", proj2, out2).returncode == 0
    assert {c["id"]: c["name"] for c in json.loads(out2.read_text())["categories"]} == cats
