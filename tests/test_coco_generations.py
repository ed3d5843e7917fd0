"""COCO round trips are stable to any depth: export → import into a new project → export ...
three generations give the same shapes (kinds and geometry) and byte-equal annotation lists;
a keypoint-only object's bbox is the tight box around its keypoints as written.

COCO conventions followed for a keypoint-only object (no box, no region): ``keypoints`` are
integer pixel indices (continuous coordinate − 0.5, as Detectron2 documents), ``bbox`` is
``[min x, min y, max x − min x, max y − min y]`` of the labelled keypoints in that same index
space, ``area`` is that box's area (the scale COCO's OKS needs) and ``segmentation`` is empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from factories import project_with_every_shape
from pycocotools.coco import COCO

from app.core.document import Document


def vellum(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def _shapes(project: Path) -> list[tuple[str, str, tuple]]:
    with Document.open(project) as doc:
        out = []
        for m in doc.media():
            for a in doc.annotations(m.id):
                out.append((m.name, a.kind, repr(a.shape)))
        return sorted(out)


def test_three_generations_are_identical(tmp_path):
    doc, img_dir = project_with_every_shape(tmp_path)
    first = _shapes(doc.path)
    doc.close()
    kinds = {k for _, k, _ in first}
    assert {"box", "rotated_box", "polygon", "mask", "keypoints"} <= kinds
    project = tmp_path / "proj"
    exports = []
    for g in range(3):
        out = tmp_path / f"gen{g}.json"
        r = vellum("export", "coco", project, out, "--images-root", img_dir)
        assert r.returncode == 0, r.stderr
        exports.append(json.loads(out.read_text()))
        project = tmp_path / f"p{g}"
        assert vellum("new", project).returncode == 0
        r = vellum("import", "coco", project, out, "--images", img_dir)
        assert r.returncode == 0, r.stderr
        assert _shapes(project) == first, f"generation {g + 1} changed a shape"
    assert exports[1]["annotations"] == exports[0]["annotations"]
    assert exports[2]["annotations"] == exports[0]["annotations"]
    holed = [a for a in exports[2]["annotations"] if "vellum_polygon" in a["attributes"]]
    assert holed and all(a["attributes"]["vellum_shape"] == "polygon" for a in holed)


def test_keypoint_only_bbox_encloses_its_keypoints_as_written(tmp_path):
    doc, img_dir = project_with_every_shape(tmp_path)
    out = tmp_path / "kp.json"
    doc.close()
    assert vellum("export", "coco", tmp_path / "proj", out).returncode == 0
    coco = COCO(str(out))
    for ann in coco.loadAnns(coco.getAnnIds()):
        if ann["attributes"].get("vellum_parts") != []:
            continue
        kp = ann["keypoints"]
        xs = [kp[i] for i in range(0, len(kp), 3) if kp[i + 2] > 0]
        ys = [kp[i + 1] for i in range(0, len(kp), 3) if kp[i + 2] > 0]
        assert ann["bbox"] == [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        assert ann["area"] == ann["bbox"][2] * ann["bbox"][3]
        break
    else:
        raise AssertionError("no keypoint-only object in the export")
