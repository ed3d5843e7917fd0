"""COCO round trip against the reference implementation (pycocotools)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from factories import project_with_every_shape
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from app.core.document import Document
from app.core.raster import rasterize
from app.core.shapes import Tag
from app.io.coco import export_coco, import_coco


@pytest.fixture
def exported(tmp_path):
    doc, img_dir = project_with_every_shape(tmp_path)
    out = tmp_path / "export.json"
    export_coco(doc, out)
    yield doc, img_dir, out
    doc.close()


def _quiet(fn, *a):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*a)


def test_pycocotools_loads_export_and_masks_match_ours(exported):
    doc, _, out = exported
    coco = _quiet(COCO, str(out))
    by_vid = {a.id: a for m in doc.media() for a in doc.annotations(m.id)}
    kinds = set()
    for ann in coco.loadAnns(coco.getAnnIds()):
        ours = by_vid[ann["attributes"]["vellum_id"]]
        kinds.add(ours.kind)
        img = coco.loadImgs(ann["image_id"])[0]
        theirs = coco.annToMask(ann).astype(bool)
        mine = rasterize(ours.shape, img["height"], img["width"])
        assert theirs.shape == mine.shape
        assert np.array_equal(theirs, mine), f"{ours.kind} differs from pycocotools"
    assert kinds == {"box", "rotated_box", "polygon", "keypoints", "mask"}
    # COCO has no lines: the polyline rides in its image's attributes, not as a polygon
    (line,) = coco.loadImgs(1)[0]["attributes"]["vellum_polylines"]
    assert by_vid[line["attributes"]["vellum_id"]].kind == "polyline"
    # polygons and boxes really cover pixels (not all-empty by accident)
    assert coco.annToMask(coco.loadAnns(coco.getAnnIds())[0]).sum() > 0


def _evaluate(gt_path, dets: list[dict], iou_type: str) -> float:
    gt = _quiet(COCO, str(gt_path))
    ev = COCOeval(gt, _quiet(gt.loadRes, dets), iou_type)
    ev.params.catIds = sorted({d["category_id"] for d in dets})
    if iou_type == "keypoints":
        ev.params.kpt_oks_sigmas = np.full(5, 0.05)
    for step in (ev.evaluate, ev.accumulate, ev.summarize):
        _quiet(step)
    return float(ev.stats[0])


def _detections_from_the_project(doc, data, shift: float = 0.0) -> dict[str, list[dict]]:
    """Detections made from the project's own shapes (not from the file): boxes from
    ``shape.bbox()`` (a keypoint-only object's box around its points less half a pixel, as
    its keypoints are written), masks rasterised by Vellum and encoded by pycocotools, keypoints from
    the points less half a pixel; ``shift`` moves everything right by that many pixels."""
    from pycocotools import mask as mu

    from app.core.shapes import Box, Keypoints, Mask, Polygon, RotatedBox

    by_vid = {a["attributes"]["vellum_id"]: a for a in data["annotations"]}
    out: dict[str, list[dict]] = {"bbox": [], "segm": [], "keypoints": []}
    for m in doc.media():
        for a in doc.annotations(m.id):
            entry = by_vid.get(a.id)
            if entry is None or a.iscrowd:
                continue
            base = {"image_id": entry["image_id"], "category_id": entry["category_id"],
                    "score": 1.0}
            shape = a.shape.translated(shift, 0) if shift else a.shape
            if isinstance(shape, RotatedBox):
                x, y, w, h = shape.cx - shape.w / 2, shape.cy - shape.h / 2, shape.w, shape.h
            elif isinstance(shape, Keypoints):
                x, y, w, h = shape.object_bbox()
                if shape.box is None and shape.region is None:  # in keypoint index space
                    x, y = x - 0.5, y - 0.5
            else:
                x, y, w, h = shape.bbox()
            out["bbox"].append({**base, "bbox": [x, y, w, h]})
            if isinstance(shape, (Box, RotatedBox, Polygon, Mask)):
                rle = mu.encode(np.asfortranarray(rasterize(shape, m.height, m.width)
                                                  .astype(np.uint8)))
                out["segm"].append({**base, "segmentation": {
                    "size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}})
            if isinstance(shape, Keypoints):
                kp = [v for px, py, vis in shape.points
                      for v in ((px - 0.5, py - 0.5, vis) if vis else (0, 0, 0))]
                out["keypoints"].append({**base, "keypoints": kp})
    return out


def test_coco_eval_of_the_export_against_the_project_geometry(exported):
    """COCOeval of detections built from the project's own shapes against the exported GT:
    AP = 1 for boxes, masks and keypoints, and clearly below 1 once they are moved (so a
    drifting export fails it)."""
    doc, _, out = exported
    data = json.loads(out.read_text())
    exact = _detections_from_the_project(doc, data)
    assert len(exact["segm"]) == 5 and len(exact["keypoints"]) == 1
    for kind, dets in exact.items():
        assert _evaluate(out, dets, kind) == pytest.approx(1.0), kind
    moved = _detections_from_the_project(doc, data, shift=4.0)
    for kind, dets in moved.items():
        assert _evaluate(out, dets, kind) < 0.9, kind


def test_import_reproduces_the_same_annotations(exported, tmp_path):
    doc, img_dir, out = exported
    fresh = Document.create(tmp_path / "fresh")
    counts = import_coco(fresh, out, img_dir)
    assert counts["media"] == 2
    src = {a.id: a for m in doc.media() for a in doc.annotations(m.id)}
    got = {a.id: a for m in fresh.media() for a in fresh.annotations(m.id)}
    assert set(got) == set(src), "vellum ids survive export and re-import"
    for ann_id, a in src.items():
        b = got[ann_id]
        assert b.kind == a.kind
        assert fresh.schema.class_by_id(b.class_id).name == doc.schema.class_by_id(a.class_id).name
        assert b.attributes == a.attributes
        assert b.iscrowd == a.iscrowd
        if isinstance(a.shape, Tag):
            continue
        # geometry: exact up to the 3 decimals COCO is written with
        ja, jb = a.shape.to_json(), b.shape.to_json()
        assert json.dumps(ja, sort_keys=True) == json.dumps(jb, sort_keys=True) or np.allclose(
            np.array(_numbers(ja)), np.array(_numbers(jb)), atol=1e-3), a.kind
    assert [m.fingerprint for m in fresh.media()] == [m.fingerprint for m in doc.media()]
    fresh.close()


def _numbers(obj):
    if isinstance(obj, dict):
        return [v for k in sorted(obj) if k != "type" for v in _numbers(obj[k])]
    if isinstance(obj, list):
        return [v for x in obj for v in _numbers(x)]
    return [obj] if isinstance(obj, (int, float)) else []


def test_keypoints_follow_the_half_pixel_convention(exported):
    _, _, out = exported
    data = json.loads(out.read_text())
    kp = next(a for a in data["annotations"] if a.get("keypoints"))
    # our (20.5, 20.5) is the centre of pixel (20, 20): COCO index 20
    assert kp["keypoints"][:3] == [20, 20, 2]
    assert kp["keypoints"][6:9] == [0, 0, 0]
    assert kp["num_keypoints"] == 4
    cat = next(c for c in data["categories"] if c["id"] == kp["category_id"])
    assert cat["keypoints"][0] == "head" and [1, 2] in cat["skeleton"]


def test_import_of_another_tools_coco(tmp_path, shared_data):
    """Plain COCO as other tools write it: multi-part polygons, uncompressed RLE, bbox only."""
    from pycocotools import mask as mu

    img = shared_data / "images" / "coins.png"
    from app.io.images import image_size
    w, h = image_size(img)
    m = np.zeros((h, w), np.uint8)
    m[20:40, 30:70] = 1
    counts = mu.encode(np.asfortranarray(m))
    # build an uncompressed RLE from the compressed one
    from app.core.rle import string_to_counts
    raw = [int(c) for c in string_to_counts(counts["counts"].decode())]
    data = {"images": [{"id": 7, "file_name": "coins.png", "width": w, "height": h}],
            "categories": [{"id": 3, "name": "coin", "supercategory": "thing"}],
            "annotations": [
                {"id": 1, "image_id": 7, "category_id": 3, "iscrowd": 0, "bbox": [1, 2, 3, 4],
                 "segmentation": [[10, 10, 30, 10, 30, 30], [50, 50, 60, 50, 60, 70]],
                 "area": 1},
                {"id": 2, "image_id": 7, "category_id": 3, "iscrowd": 1, "bbox": [30, 20, 40, 20],
                 "segmentation": {"size": [h, w], "counts": raw}, "area": 800},
                {"id": 3, "image_id": 7, "category_id": 3, "iscrowd": 0, "bbox": [5, 6, 7, 8],
                 "segmentation": [], "area": 56},
            ]}
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data))
    doc = Document.create(tmp_path / "p")
    import_coco(doc, path, img.parent)
    anns = doc.annotations(doc.media()[0].id)
    assert [a.kind for a in anns] == ["polygon", "mask", "box"]
    assert len(anns[0].shape.parts) == 1, "a multi-part polygon stays one polygon"
    ref = mu.decode(mu.merge(mu.frPyObjects(data["annotations"][0]["segmentation"], h, w)))
    assert np.array_equal(rasterize(anns[0].shape, h, w), ref.astype(bool))
    assert np.array_equal(rasterize(anns[1].shape, h, w), m.astype(bool))
    assert anns[1].iscrowd
    assert anns[2].shape.bbox() == (5, 6, 7, 8)
    doc.close()


def test_awkward_float_geometry_matches_pycocotools_after_export(tmp_path):
    """Random polygons, boxes and lines with many decimals, partly outside the image."""
    from app.core.places import Place
    from app.core.annotations import Annotation
    from app.core.commands import Put
    from app.core.shapes import Box, Polygon, Polyline, RotatedBox

    doc, _ = project_with_every_shape(tmp_path, w=73, h=51)
    media = doc.media()[1]
    rng = np.random.default_rng(7)
    anns = []
    for n in range(60):
        pts = tuple(map(tuple, rng.uniform(-5, 80, (int(rng.integers(3, 12)), 2))))
        shape = [Polygon(pts), Polyline(pts), Box(*rng.uniform(-3, 40, 2), *rng.uniform(0, 30, 2)),
                 RotatedBox(*rng.uniform(0, 60, 2), *rng.uniform(1, 30, 2),
                            rng.uniform(-180, 180))][n % 4]
        anns.append(Annotation(place=Place(media.id), shape=shape))
    doc.execute(Put(tuple(anns)))
    out = tmp_path / "awkward.json"
    export_coco(doc, out)
    coco = _quiet(COCO, str(out))
    by_vid = {a.id: a for a in anns}
    checked = 0
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[2])):
        mine = rasterize(by_vid[ann["attributes"]["vellum_id"]].shape, 51, 73)
        assert np.array_equal(coco.annToMask(ann).astype(bool), mine)
        if ann["attributes"]["vellum_shape"] not in ("box", "rotated_box"):
            assert ann["area"] == mine.sum()
        checked += 1
    assert checked == 45  # the 15 lines are not COCO objects
    lines = coco.loadImgs(2)[0]["attributes"]["vellum_polylines"]
    assert len(lines) == 15
    doc.close()


def test_cvat_rotated_boxes_import_as_rotated_boxes(tmp_path, shared_data):
    """CVAT writes a rotated box as its unrotated bbox plus attributes.rotation (clockwise)."""
    from app.core.shapes import RotatedBox
    from app.io.images import image_size

    img = shared_data / "images" / "coins.png"
    w, h = image_size(img)
    data = {"images": [{"id": 1, "file_name": "coins.png", "width": w, "height": h}],
            "categories": [{"id": 1, "name": "coin"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                             "bbox": [10, 20, 40, 10], "segmentation": [], "area": 400,
                             "attributes": {"rotation": 30.0, "occluded": False}}]}
    path = tmp_path / "cvat.json"
    path.write_text(json.dumps(data))
    doc = Document.create(tmp_path / "p")
    import_coco(doc, path, img.parent)
    (ann,) = doc.annotations(doc.media()[0].id)
    assert ann.shape == RotatedBox(30.0, 25.0, 40.0, 10.0, 30.0)
    assert ann.attributes == {"occluded": False, "rotation": 30.0}, "CVAT's keys are kept"
    doc.close()


def test_annotations_without_a_class_round_trip_without_one(tmp_path):
    from app.core.annotations import Annotation
    from app.core.places import Place
    from app.core.commands import Put
    from app.core.shapes import Box

    doc, img_dir = project_with_every_shape(tmp_path)
    media = doc.media()[1]
    doc.execute(Put((Annotation(place=Place(media.id), shape=Box(1, 1, 5, 5)),)))
    out = tmp_path / "u.json"
    export_coco(doc, out)
    fresh = Document.create(tmp_path / "fresh")
    import_coco(fresh, out, img_dir)
    (ann,) = fresh.annotations(media.id)
    assert ann.class_id is None
    assert "unlabeled" not in [c.name for c in fresh.schema.classes]
    doc.close()
    fresh.close()
