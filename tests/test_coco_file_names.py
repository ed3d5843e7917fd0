"""COCO ``file_name``s written elsewhere: Windows separators and drives, absolute paths from
another machine. Each image is found under ``--images`` by its longest trailing part, said in a
note, and the export names it relative to the images folder."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_bad_input import vellum


@pytest.mark.parametrize("written", [
    "sub\\b.png", "C:\\Users\\me\\dataset\\images\\sub\\b.png",
    "/home/bob/dataset/images/sub/b.png", "sub/b.png"])
def test_foreign_file_names_are_found_by_their_tail(tmp_path: Path, written: str):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    cv2.imwrite(str(images / "a.png"), np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(str(images / "sub" / "b.png"), np.full((20, 30, 3), 200, np.uint8))
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 30, "height": 20},
                       {"id": 7, "file_name": written, "width": 30, "height": 20}],
            "categories": [{"id": 1, "name": "thing"}],
            "annotations": [{"id": 5, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4],
                             "area": 12, "iscrowd": 0}]}
    src = tmp_path / "in.json"
    src.write_text(json.dumps(coco))
    assert vellum("new", tmp_path / "p").returncode == 0
    r = vellum("import", "coco", tmp_path / "p", src, "--images", images)
    assert r.returncode == 0, r.stderr
    assert ("not where they said" in r.stdout + r.stderr) == (written != "sub/b.png")
    out = tmp_path / "out.json"
    assert vellum("export", "coco", tmp_path / "p", out, "--images-root", images).returncode == 0
    got = json.loads(out.read_text())
    by_id = {im["id"]: im["file_name"] for im in got["images"]}
    assert by_id == {1: "a.png", 7: "sub/b.png"}
    assert [(a["id"], a["image_id"], a["bbox"]) for a in got["annotations"]] == [(5, 7, [1, 2, 3, 4])]
