"""COCO files in the style of the tools that write them (tests/coco_styles, see make.py there)
go through ``vellum import coco`` + ``vellum export coco`` (the CLI, in a subprocess) and come
out as the same dataset, judged on the files by pycocotools: ids, bbox, area, supercategory,
unknown keys and object counts unchanged, the same masks, COCOeval of the export against the
original GT perfect, and a detections file scored the same against both. Our own export
re-imports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from coco_judge import (STYLES, as_results, assert_same_dataset, coco, evaluate, load,
                        masks_equal, materialize, perturbed)
from test_bad_input import assert_clean_failure, vellum

from app.core.document import Document
from app.io.coco import export_coco, import_coco

ROUND_TRIP = ["cvat", "datumaro_instances", "datumaro_labels", "datumaro_captions",
              "labelme2coco", "mmpose", "mmdet", "mmtracking_cocovid", "roboflow",
              "labelformat", "crowdpose", "tao", "youtube_vis_cocovid"]
# Files pycocotools' COCOeval can score (it needs area and iscrowd on every GT entry).
EVALUABLE = {"cvat", "datumaro_instances", "labelme2coco", "mmpose", "mmdet",
             "mmtracking_cocovid", "roboflow", "tao", "youtube_vis_cocovid"}


def round_trip(style: str, tmp_path):
    src = STYLES / f"{style}.json"
    orig = load(src)
    root = materialize(orig, tmp_path / "data")
    Document.create(tmp_path / "proj").close()
    result = vellum("import", "coco", tmp_path / "proj", src, "--images", root)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "export.json"
    result = vellum("export", "coco", tmp_path / "proj", out)
    assert result.returncode == 0, result.stderr
    return src, orig, root, out, load(out)


@pytest.mark.parametrize("style", ROUND_TRIP)
def test_round_trip_keeps_the_dataset(style, tmp_path):
    src, orig, root, out, data = round_trip(style, tmp_path)
    assert_same_dataset(orig, data)
    if all("id" in a for a in orig["annotations"]):
        masks_equal(src, out)
    # our own export goes back in and comes out the same
    with Document.create(tmp_path / "again") as doc:
        import_coco(doc, out, root)
        again = tmp_path / "again.json"
        export_coco(doc, again)
    assert_same_dataset(orig, load(again))


@pytest.mark.parametrize("style", sorted(EVALUABLE))
def test_pycocotools_scores_the_export_as_the_original(style, tmp_path):
    src, orig, _, out, data = round_trip(style, tmp_path)
    gt_orig, gt_out = coco(src), coco(out)
    kinds = ["bbox"]
    if all(a.get("segmentation") for a in orig["annotations"]):  # pycocotools needs all
        kinds.append("segm")
    n_kp = max((len(c.get("keypoints") or []) for c in orig["categories"]), default=0)
    if all("num_keypoints" in a for a in orig["annotations"]):
        kinds.append("keypoints")
    for kind in kinds:
        sigmas = n_kp if kind == "keypoints" else None
        ours = evaluate(gt_orig, as_results(data, kind), kind, sigmas)
        theirs = evaluate(gt_orig, as_results(orig, kind), kind, sigmas)
        assert np.array_equal(ours, theirs), f"{kind}: the export scores unlike the original"
        if min(a["id"] for a in orig["annotations"]) > 0:  # pycocotools mis-scores id 0
            assert ours[0] == pytest.approx(1.0), f"{kind}: export against the original GT"
    dets = perturbed(orig)
    a = evaluate(gt_orig, dets, "bbox")
    b = evaluate(gt_out, dets, "bbox")
    assert 0.0 < a[0] < 1.0, "the detections must be able to fail"
    assert np.allclose(a, b), "the same detections score differently against the export"


def test_mmdet_results_score_the_same_against_both(tmp_path):
    """mmdetection's results file (with a false positive and shifted boxes) gets identical
    COCOeval figures from the original GT and from Vellum's export of it."""
    src, orig, _, out, _ = round_trip("mmdet", tmp_path)
    dets = load(STYLES / "mmdet_results.bbox.json")
    a = evaluate(coco(src), dets, "bbox")
    b = evaluate(coco(out), dets, "bbox")
    assert 0.0 < a[0] < 1.0
    assert np.array_equal(a, b)


def test_a_changed_export_would_fail_these_checks(tmp_path):
    """The judge itself can fail: one bbox nudged by a pixel changes the scores."""
    src = STYLES / "mmdet.json"
    orig = load(src)
    bad = json.loads(json.dumps(orig))
    bad["annotations"][0]["bbox"][0] += 8.0
    dets = load(STYLES / "mmdet_results.bbox.json")
    assert not np.array_equal(evaluate(coco(orig), dets, "bbox"),
                              evaluate(coco(bad), dets, "bbox"))
    with pytest.raises(AssertionError):
        assert_same_dataset(orig, bad)
    res = as_results(bad, "bbox")
    assert evaluate(coco(orig), res, "bbox")[0] < 1.0


def test_panoptic_is_refused_by_name(tmp_path):
    src = STYLES / "panoptic.json"
    root = materialize(load(src), tmp_path / "data")
    Document.create(tmp_path / "proj").close()
    result = vellum("import", "coco", tmp_path / "proj", src, "--images", root)
    assert_clean_failure(result, "panoptic")


def test_what_each_style_becomes(tmp_path):
    """One object per COCO object: a person's keypoints, box and mask are one annotation;
    a multi-part polygon is one polygon; labels and captions are tags; duplicate category
    names stay two classes; CrowdPose's skeleton keeps its valid edges; videos of frames are
    images grouped by video."""
    def imported(style):
        src = STYLES / f"{style}.json"
        data = load(src)
        root = materialize(data, tmp_path / style)
        doc = Document.create(tmp_path / f"p_{style}")
        report = import_coco(doc, src, root)
        anns = [a for m in doc.media() for a in doc.annotations(m.id)]
        return doc, report, anns

    doc, _, anns = imported("mmpose")
    kinds = sorted(a.kind for a in anns)
    assert kinds == ["keypoints"] * 3
    person = next(a for a in anns if a.foreign["coco"]["id"] == 442619)
    assert person.shape.box is not None and person.shape.region is not None
    assert person.shape.points[9] == (41.0, 57.0, 0), "v=0 coordinates as given"
    doc.close()

    doc, report, anns = imported("cvat")
    multi = next(a for a in anns if a.foreign["coco"]["id"] == 2)
    assert multi.kind == "polygon" and len(multi.shape.parts) == 1
    assert multi.occluded and multi.attributes["occluded"] is True
    assert next(a for a in anns if a.foreign["coco"]["id"] == 4).kind == "rotated_box"
    doc.close()

    doc, report, anns = imported("datumaro_instances")
    names = sorted(c.name for c in doc.schema.classes)
    assert names == ["person", "person (2)", "tree"]
    assert any("person" in n and "more than once" in n for n in report["notes"])
    doc.close()

    for style in ("datumaro_labels", "datumaro_captions"):
        doc, _, anns = imported(style)
        assert {a.kind for a in anns} == {"tag"} and len(anns) == 2
        doc.close()

    doc, report, anns = imported("crowdpose")
    (cls,) = doc.schema.classes
    assert len(cls.skeleton.points) == 14
    assert all(max(e) < 14 for e in cls.skeleton.edges) and len(cls.skeleton.edges) < 19
    assert any("skeleton edge" in n for n in report["notes"])
    doc.close()

    doc, _, anns = imported("mmtracking_cocovid")
    assert len(doc.media()) == 3 and all(m.kind.value == "image" for m in doc.media())
    assert [m.foreign["coco"]["frame_id"] for m in doc.media()] == [0, 1, 2]
    assert {a.foreign["coco"]["instance_id"] for a in anns} == {0, 1}
    doc.close()
