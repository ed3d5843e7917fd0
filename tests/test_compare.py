"""``vellum compare``: agreement between annotators' projects, each metric equal to its outside
reference on the same inputs (scikit-learn, statsmodels, krippendorff, pycocotools,
motmetrics, SimpleITK, numpy), and the offline HTML report (opened in headless Chromium)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from factories import image_item, make_schema, write_image

from app.cli import main
from app.core.annotations import Annotation, Track
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.geometry import VideoGeometry, VolumeGeometry
from app.core.labelmap import LabelMapInfo, Segment
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.rle import encode
from app.core.shapes import Box, Keypoints, Mask, Polygon, Tag
from app.io import compare as cmp
from app.io.compare_report import BAR, HEAT, render

W = H = 100


# ------------------------------------------------------------------ building projects
def _project(tmp: Path, name: str, images: dict[str, int]) -> Document:
    """A project ``tmp/name`` with the make_schema classes and an image per name (content
    from its seed: the same name and seed in two projects is the same media)."""
    doc = Document.create(tmp / name)
    doc.execute(SetSchema(make_schema()))
    items = [image_item(write_image(doc.folder / f, W, H, seed=s), doc, n)
             for n, (f, s) in enumerate(images.items())]
    doc.execute(Put(tuple(items)))
    return doc


def _item(doc: Document, name: str) -> MediaItem:
    return next(m for m in doc.media() if m.name == name)


def _put(doc: Document, media: str, cls: str, shape, **kw) -> None:
    m = _item(doc, media)
    doc.execute(Put((Annotation(place=Place(m.id, kw.pop("frame", None)),
                                class_id=doc.schema.class_by_name(cls).id, shape=shape,
                                **kw),)))


BOXES_A = [Box(5, 5, 20, 20), Box(40, 40, 20, 20), Box(70, 10, 20, 30)]
BOXES_B = [Box(7, 6, 20, 20), Box(42, 40, 18, 20), Box(60, 70, 10, 10)]  # 2 match, 1 new
ROAD = Polygon(((0, 60), (35, 60), (35, 95), (0, 95)))
ROAD_B = Polygon(((2, 62), (35, 60), (35, 95), (0, 93)))


@pytest.fixture
def boxes(tmp_path):
    a = _project(tmp_path, "ann_a", {"one.png": 1, "two.png": 2})
    b = _project(tmp_path, "ann_b", {"one.png": 1, "two.png": 2})
    for box in BOXES_A:
        _put(a, "one.png", "car", box)
    for box in BOXES_B:
        _put(b, "one.png", "car", box)
    _put(a, "one.png", "road", ROAD)
    _put(b, "one.png", "road", ROAD_B)
    _put(a, "two.png", "car", Box(10, 10, 30, 30))
    _put(b, "two.png", "road", Box(10, 10, 30, 30))  # same box, another class
    paths = [str(a.folder), str(b.folder)]
    a.close()
    b.close()
    return paths


def _run(projects) -> dict:
    return cmp.jsonable(cmp.compare([cmp.load_project(p, lab) for p, lab in
                                     zip(projects, cmp.labels_for(projects))]))


# ------------------------------------------------------------------ objects
def test_boxes_and_polygons_match_per_class_with_pycocotools_iou_and_map(boxes):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    r = _run(boxes)
    assert r["annotators"] == ["ann_a", "ann_b"] and r["media"]["compared"] == 2
    (pair,) = r["pairs"]
    per = {row["class"]: row for row in pair["per_class"]}
    car, road = per["car"], per["road"]
    assert (car["reference_objects"], car["other_objects"], car["matches"]) == (4, 3, 2)
    assert car["precision"] == pytest.approx(2 / 3) and car["recall"] == pytest.approx(2 / 4)
    assert car["f1"] == pytest.approx(2 * 2 / 7)
    ious = mask_utils.iou([list(b.bbox()) for b in BOXES_A], [list(b.bbox()) for b in BOXES_B],
                          [0, 0, 0])
    assert car["mean_iou"] == pytest.approx((ious[0, 0] + ious[1, 1]) / 2)
    # the polygon pair: pixel IoU as pycocotools computes it on the two polygons
    ra, rb = (mask_utils.frPyObjects([p.outer[0].flat()], H, W)[0] for p in (ROAD, ROAD_B))
    assert road["matches"] == 1 and road["mean_iou"] == pytest.approx(
        mask_utils.iou([ra], [rb], [0])[0, 0])
    assert road["other_objects"] == 2  # the road box on two.png is unmatched
    # the confusion matrix sees the car drawn as a road on two.png
    conf = pair["confusion"]
    assert conf["counts"][conf["rows"].index("car")][conf["columns"].index("road")] == 1
    # COCO mAP = COCOeval on the same boxes, built here by hand
    gt = [(1, 1, BOXES_A[i]) for i in range(3)] + [(1, 2, None), (2, 1, Box(10, 10, 30, 30))]
    dt = [(1, 1, b) for b in BOXES_B] + [(1, 2, None), (2, 2, Box(10, 10, 30, 30))]

    def bb(c, shape, img):
        return list((shape or (ROAD if img == "gt" else ROAD_B)).bbox())

    g = COCO()
    g.dataset = {"images": [{"id": 1, "height": H, "width": W}, {"id": 2, "height": H,
                                                                 "width": W}],
                 "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "road"}],
                 "annotations": [{"id": n + 1, "image_id": i, "category_id": c,
                                  "bbox": bb(c, s, "gt"), "area": bb(c, s, "gt")[2]
                                  * bb(c, s, "gt")[3], "iscrowd": 0}
                                 for n, (i, c, s) in enumerate(gt)]}
    g.createIndex()
    d = g.loadRes([{"image_id": i, "category_id": c, "bbox": bb(c, s, "dt"), "score": 1.0}
                   for i, c, s in dt])
    ev = COCOeval(g, d, "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert pair["coco"]["bbox"]["map"] == pytest.approx(ev.stats[0])
    assert pair["coco"]["bbox"]["ap50"] == pytest.approx(ev.stats[1])


def test_identical_projects_agree_fully(boxes):
    r = _run([boxes[0], boxes[0]])
    (pair,) = r["pairs"]
    assert pair["objects"]["f1"] == 1.0 and pair["objects"]["mean_iou"] == 1.0
    assert pair["coco"]["bbox"]["map"] == pytest.approx(1.0)
    assert r["annotators"] == ["ann_a (1)", "ann_a (2)"]
    assert all(row["agreement"] == 1.0 for row in r["per_item"])


def test_hungarian_prefers_the_assignment_with_most_overlap():
    # greedy by IoU would take (0, 0) at .52 and leave row 1 unmatched
    scores = np.array([[0.52, 0.51], [0.5, 0.0]])
    assert cmp.hungarian(scores, 0.5) == [(0, 1, 0.51), (1, 0, 0.5)]


# ------------------------------------------------------------------ media matching
def test_media_matched_by_content_then_name_and_missing_items_reported(tmp_path):
    a = _project(tmp_path, "a", {"one.png": 1, "two.png": 2, "only_a.png": 3})
    b = _project(tmp_path, "b", {"renamed.png": 1, "two.png": 9, "only_b.png": 4})
    paths = [str(a.folder), str(b.folder)]
    a.close()
    b.close()
    r = _run(paths)
    assert [row["item"] for row in r["per_item"]] == ["one.png", "two.png"]
    missing = {m["item"]: m["missing_from"] for m in r["media"]["missing"]}
    assert missing == {"only_a.png": ["b"], "only_b.png": ["a"]}


# ------------------------------------------------------------------ kappa, Fleiss, alpha
def test_agreement_statistics_equal_sklearn_statsmodels_and_krippendorff():
    import krippendorff
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    rng = np.random.default_rng(5)
    for trial in range(20):
        truth = rng.integers(0, 4, 40)
        raters = [np.where(rng.random(40) < 0.7, truth, rng.integers(0, 4, 40))
                  for _ in range(3)]
        a, b = list(raters[0]), list(raters[1])
        assert cmp.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
        table, _ = aggregate_raters(np.stack(raters, axis=1))
        assert cmp.fleiss_kappa([list(u) for u in zip(*raters)]) == pytest.approx(
            fleiss_kappa(table, method="fleiss"))
        data = np.array(raters, float)
        data[rng.random(data.shape) < 0.15] = np.nan  # missing ratings
        ours = cmp.krippendorff_alpha([[None if np.isnan(v) else int(v) for v in row]
                                       for row in data])
        assert ours == pytest.approx(krippendorff.alpha(reliability_data=data,
                                                        level_of_measurement="nominal"))


def test_tags_and_attributes_agreement_end_to_end_equals_references(tmp_path):
    import krippendorff
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    names = {f"im{n}.png": n for n in range(8)}
    # tags (weather present or not) of 3 annotators on 8 images, with disagreements
    marks = [[1, 1, 0, 0, 1, 0, 1, 0], [1, 0, 0, 0, 1, 0, 1, 1], [1, 1, 0, 1, 1, 0, 0, 0]]
    colours = [["red", "blue", "red", "other", "blue", "red", "red", "blue"],
               ["red", "blue", "blue", "other", "blue", "red", "other", "blue"],
               ["red", "red", "red", "other", "blue", "blue", "red", "blue"]]
    paths = []
    for r in range(3):
        doc = _project(tmp_path, f"reader{r}", names)
        for n, name in enumerate(names):
            if marks[r][n]:
                _put(doc, name, "weather", Tag())
            _put(doc, name, "car", Box(10 + r, 10, 40, 40), attributes={"colour": colours[r][n]})
        paths.append(str(doc.folder))
        doc.close()
    r = _run(paths)
    q = {row["question"]: row for row in r["classifications"]}
    tag, colour = q["tag weather"], q["car.colour"]
    yn = [["yes" if v else "no" for v in row] for row in marks]
    assert tag["pairs"][0]["cohen_kappa"] == pytest.approx(cohen_kappa_score(yn[0], yn[1]))
    assert colour["pairs"][2]["cohen_kappa"] == pytest.approx(
        cohen_kappa_score(colours[1], colours[2]))
    codes = {"red": 0, "blue": 1, "other": 2}
    table, _ = aggregate_raters(np.array([[codes[c[n]] for c in colours] for n in range(8)]))
    assert colour["fleiss_kappa"] == pytest.approx(fleiss_kappa(table, method="fleiss"))
    assert colour["krippendorff_alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=[[codes[c] for c in row] for row in colours],
        level_of_measurement="nominal"))
    table, _ = aggregate_raters(np.array(marks).T)
    assert tag["fleiss_kappa"] == pytest.approx(fleiss_kappa(table, method="fleiss"))
    assert q["object class"]["krippendorff_alpha"] is None  # every reader said car: no spread


# ------------------------------------------------------------------ masks and label maps
def _volume_project(tmp: Path, name: str, vol: np.ndarray, spacing) -> str:
    doc = Document.create(tmp / name)
    doc.execute(SetSchema(make_schema()))
    item = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="ct-fp", size_bytes=1,
                     width=0, height=0, volume=VolumeGeometry(vol.shape, spacing))
    road = doc.schema.class_by_name("road").id
    info = LabelMapInfo(item.id, *vol.shape, segments=(Segment(1, "liver", class_id=road),
                                                       Segment(2, "tumour")))
    doc.execute(Put((item, info)))
    from app.core.commands import ModifyLabelMap
    from app.core.labelmap import Mode

    for v in (1, 2):
        if (vol == v).any():
            doc.execute(ModifyLabelMap(info.id, (0, 0, 0), vol == v, Mode.ADD, v))
    doc.close()
    return str(tmp / name)


def _ball(shape, centre, r, spacing=(1, 1, 1)):
    k, j, i = np.ogrid[:shape[0], :shape[1], :shape[2]]
    return (((k - centre[0]) * spacing[2]) ** 2 + ((j - centre[1]) * spacing[1]) ** 2
            + ((i - centre[2]) * spacing[0]) ** 2) <= r * r


def _contour(m: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    inner = ndimage.binary_erosion(m, ndimage.generate_binary_structure(m.ndim, 1),
                                   border_value=0)
    return m & ~inner


def _hd95_numpy(a, b, spacing) -> float:
    from scipy.spatial.distance import cdist

    sc = np.asarray(spacing[::-1], float)  # numpy order (k, j, i)
    pa, pb = np.argwhere(_contour(a)) * sc, np.argwhere(_contour(b)) * sc
    d = cdist(pa, pb)
    return float(np.percentile(np.concatenate([d.min(axis=1), d.min(axis=0)]), 95))


def test_label_maps_dice_hausdorff_equal_simpleitk_and_hd95_numpy(tmp_path):
    import SimpleITK as sitk

    shape, spacing = (20, 40, 44), (0.8, 0.7, 2.5)  # (si, sj, sk) mm
    va = _ball(shape, (10, 20, 20), 9, spacing).astype(np.uint8)
    vb = _ball(shape, (11, 21, 23), 8, spacing).astype(np.uint8)
    va[(_ball(shape, (10, 20, 34), 4, spacing)) & (va == 0)] = 2  # tumour only in A
    pa = _volume_project(tmp_path, "reader_a", va, spacing)
    pb = _volume_project(tmp_path, "reader_b", vb, spacing)
    r = _run([pa, pb])
    masks = {m["class"]: m for m in r["pairs"][0]["masks"]}
    assert set(masks) == {"road", "tumour"}  # a linked segment goes by its class's name
    liver = masks["road"]["items"][0]
    ia, ib = (sitk.GetImageFromArray((v == 1).astype(np.uint8)) for v in (va, vb))
    for img in (ia, ib):
        img.SetSpacing(spacing)
    lo = sitk.LabelOverlapMeasuresImageFilter()
    lo.Execute(ia, ib)
    assert liver["dice"] == pytest.approx(lo.GetDiceCoefficient())
    assert liver["jaccard"] == pytest.approx(lo.GetJaccardCoefficient())
    hd = sitk.HausdorffDistanceImageFilter()
    hd.Execute(ia, ib)
    assert liver["hausdorff_mm"] == pytest.approx(hd.GetHausdorffDistance())
    assert liver["hd95_mm"] == pytest.approx(_hd95_numpy(va == 1, vb == 1, spacing))
    voxel_ml = np.prod(spacing) / 1000
    assert liver["volume_difference"] == pytest.approx(
        ((vb == 1).sum() - (va == 1).sum()) * voxel_ml)
    tumour = masks["tumour"]["items"][0]
    assert tumour["dice"] == 0.0 and tumour["hd95_mm"] is None
    assert tumour["volume_difference"] == pytest.approx(-(va == 2).sum() * voxel_ml)


def test_surface_distances_in_2d_equal_numpy():
    a = np.zeros((30, 40), bool)
    b = np.zeros((30, 40), bool)
    a[5:20, 3:25] = True
    b[8:28, 6:30] = True
    b[0:3, 0:2] = True  # touches the border
    got = cmp.overlap(a, b, (1.5, 0.5))
    assert got["hd95_mm"] == pytest.approx(_hd95_numpy(a, b, (1.5, 0.5)))


def test_image_masks_give_dice_per_class(tmp_path):
    a = _project(tmp_path, "a", {"one.png": 1})
    b = _project(tmp_path, "b", {"one.png": 1})
    ma, mb = np.zeros((H, W), bool), np.zeros((H, W), bool)
    ma[10:50, 10:50] = True
    mb[15:50, 10:55] = True
    _put(a, "one.png", "road", Mask(encode(ma)))
    _put(b, "one.png", "road", Mask(encode(mb)))
    paths = [str(a.folder), str(b.folder)]
    a.close()
    b.close()
    (m,) = _run(paths)["pairs"][0]["masks"]
    inter = (ma & mb).sum()
    assert m["dice"] == pytest.approx(2 * inter / (ma.sum() + mb.sum()))


# ------------------------------------------------------------------ keypoints
def test_oks_equals_cocoeval_compute_oks(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ref = Keypoints(((20.5, 20.5, 2), (15.5, 30.5, 1), (0, 0, 0), (18.5, 45.5, 2),
                     (24.5, 45.5, 2)), box=Box(10, 15, 20, 35))
    other = Keypoints(((21.5, 22.5, 2), (15.5, 33.5, 2), (5, 5, 2), (18.5, 41.5, 2),
                       (30.5, 45.5, 2)))
    a = _project(tmp_path, "a", {"one.png": 1})
    b = _project(tmp_path, "b", {"one.png": 1})
    _put(a, "one.png", "person", ref)
    _put(b, "one.png", "person", other)
    paths = [str(a.folder), str(b.folder)]
    a.close()
    b.close()
    (kp,) = _run(paths)["pairs"][0]["keypoints"]
    sig = np.array(cmp.sigmas_for(5))
    g = COCO()
    g.dataset = {"images": [{"id": 1, "width": W, "height": H}],
                 "categories": [{"id": 1, "name": "person"}],
                 "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                                  "area": 20 * 35, "bbox": [10, 15, 20, 35],
                                  "num_keypoints": 4,
                                  "keypoints": [v for p in ref.points for v in p]}]}
    g.createIndex()
    d = g.loadRes([{"image_id": 1, "category_id": 1, "score": 1.0,
                    "keypoints": [v for p in other.points for v in p]}])
    ev = COCOeval(g, d, "keypoints")
    ev.params.kpt_oks_sigmas = sig
    ev.params.imgIds = [1]
    ev._prepare()
    expected = ev.computeOks(1, 1)[0, 0]
    assert kp["matches"] == 1 and kp["mean_oks"] == pytest.approx(expected)
    assert cmp.sigmas_for(17) == cmp.COCO_PERSON_SIGMAS


# ------------------------------------------------------------------ video tracks
def _video_project(tmp: Path, name: str, tracks: list[list[tuple[int, Box]]]) -> str:
    doc = Document.create(tmp / name)
    doc.execute(SetSchema(make_schema()))
    video = MediaItem(kind=MediaKind.VIDEO, path="clip.mp4", fingerprint="clip-fp",
                      size_bytes=1, width=0, height=0,
                      video=VideoGeometry(frame_count=12, width=W, height=H))
    doc.execute(Put((video,)))
    car = doc.schema.class_by_name("car").id
    for keys in tracks:
        t = Track(media_id=video.id, class_id=car)
        doc.execute(Put((t, *(Annotation(place=Place(video.id, f), class_id=car,
                                         track_id=t.id, shape=box) for f, box in keys))))
    doc.close()
    return str(tmp / name)


def test_tracks_mota_and_idf1_equal_motmetrics(tmp_path, monkeypatch):
    import motmetrics as mm

    if not hasattr(np, "asfarray"):  # motmetrics 1.4's iou_matrix on numpy 2
        monkeypatch.setattr(np, "asfarray", lambda a, dtype=float: np.asarray(a, dtype),
                            raising=False)

    gt = [[(0, Box(5, 5, 20, 20)), (11, Box(60, 5, 20, 20))],
          [(0, Box(50, 60, 20, 20)), (11, Box(50, 60, 20, 20))]]
    # the hypothesis swaps identity half way and misses the second object at the start
    hyp = [[(0, Box(6, 5, 20, 20)), (5, Box(31, 5, 20, 20))],
           [(6, Box(36, 5, 20, 20)), (11, Box(61, 5, 20, 20))],
           [(3, Box(50, 61, 20, 20)), (11, Box(50, 61, 20, 20))]]
    pa, pb = _video_project(tmp_path, "gt", gt), _video_project(tmp_path, "hyp", hyp)
    t = _run([pa, pb])["pairs"][0]["tracks"]
    from app.core.interpolate import shown_frames

    def boxes(tracks):  # the same frames the exports show, built from the keyframes here
        out = {}
        for n, keys in enumerate(tracks):
            anns = [Annotation(place=Place("v", f), shape=b, track_id=str(n)) for f, b in keys]
            for a in shown_frames(anns, 12):
                out.setdefault(a.frame, []).append((n, a.shape.bbox()))
        return out

    g, h = boxes(gt), boxes(hyp)
    acc = mm.MOTAccumulator(auto_id=False)
    for f in range(12):
        go, ho = g.get(f, []), h.get(f, [])
        acc.update([i for i, _ in go], [i for i, _ in ho],
                   mm.distances.iou_matrix([b for _, b in go], [b for _, b in ho],
                                           max_iou=0.5), frameid=f)
    ref = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "num_switches"])
    assert t["mota"] == pytest.approx(ref["mota"].iloc[0])
    assert t["idf1"] == pytest.approx(ref["idf1"].iloc[0])
    assert t["switches"] == ref["num_switches"].iloc[0] >= 1


# ------------------------------------------------------------------ the command and report
def _cli(*argv) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_cli_json_is_one_document(boxes):
    code, out = _cli("compare", *boxes, "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"annotators", "pairs", "per_item", "classifications", "media"}
    assert doc["pairs"][0]["per_class"][0]["class"] == "car"
    code, out = _cli("compare", *boxes, boxes[0])  # three annotators, plain text
    assert code == 0 and "ann_a (1) vs ann_a (2)" in out and "Fleiss" in out


def test_cli_needs_two_projects_and_names_a_bad_one(boxes, tmp_path, capsys):
    assert main(["compare", boxes[0]]) == 1
    assert "at least two projects" in capsys.readouterr().err
    assert main(["compare", boxes[0], str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_html_report_follows_the_output_rules(boxes, tmp_path, capsys):
    report = tmp_path / "out" / "agreement.html"
    code, out = _cli("compare", *boxes, "--html", str(report))
    assert code == 0 and report.exists() and "Wrote" in out
    page = report.read_text()
    assert "<svg" in page and BAR in page
    for bad in ("<script", "http://", "https://", "@import", "url("):
        assert bad not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    before = report.read_bytes()
    assert main(["compare", *boxes, "--html", str(report)]) == 1
    assert "--overwrite" in capsys.readouterr().err and report.read_bytes() == before
    assert _cli("compare", *boxes, "--html", str(report), "--overwrite")[0] == 0
    target = Path(boxes[0]) / "project.vellum"
    size = target.stat().st_size
    assert main(["compare", *boxes, "--html", str(target), "--overwrite"]) == 1
    assert target.stat().st_size == size
    media = Path(boxes[1]) / "one.png"
    data = media.read_bytes()
    assert main(["compare", *boxes, "--html", str(media), "--overwrite"]) == 1
    assert media.read_bytes() == data and not list(tmp_path.rglob("*.tmp"))


def test_report_escapes_names_from_projects():
    result = {"annotators": ["<b>x</b>", "y"], "reference": "<b>x</b>", "iou_threshold": 0.5,
              "media": {"compared": 1, "missing": []}, "pairs": [],
              "per_item": [{"item": "<img src=x>", "kind": "image", "pairs": {},
                            "agreement": 0.5}], "classifications": []}
    page = render(result)
    assert "<img src=x>" not in page and "<b>x</b>" not in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None,
                    reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_opens_in_headless_chromium_and_shows_the_plots(boxes, tmp_path):
    from app.io.images import read_image

    report = tmp_path / "agreement.html"
    assert _cli("compare", *boxes, "--html", str(report))[0] == 0
    shot = tmp_path / "shot.png"
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", "--window-size=1200,1400", f"--screenshot={shot}",
                    report.as_uri()], check=True, timeout=120, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    img = read_image(shot)[..., :3].astype(int)
    assert img.std() > 5  # not a blank page

    def count(hex_colour: str | tuple[int, int, int]) -> int:
        rgb = (np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
               if isinstance(hex_colour, str) else np.array(hex_colour))
        return int((np.abs(img - rgb).max(axis=-1) <= 12).sum())

    assert count(BAR) > 500  # the per-item bars
    assert count(HEAT) > 200  # the confusion heatmap's fullest cell


def test_without_pycocotools_and_motmetrics_the_rest_still_runs(boxes, tmp_path,
                                                                 monkeypatch):
    import sys

    for name in ("pycocotools", "pycocotools.coco", "pycocotools.cocoeval",
                 "pycocotools.mask", "motmetrics"):
        monkeypatch.setitem(sys.modules, name, None)
    video = [[(0, Box(5, 5, 20, 20)), (5, Box(20, 5, 20, 20))]]
    pair = _run(boxes)["pairs"][0]
    assert "pycocotools" in pair["coco"]["unavailable"] and pair["objects"]["matches"] == 3
    pa, pb = (_video_project(tmp_path, n, video) for n in ("va", "vb"))
    assert "motmetrics" in _run([pa, pb])["pairs"][0]["tracks"]["unavailable"]


def test_pixel_iou_equals_pycocotools_on_random_polygons_and_masks():
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(11)
    objs, rles = [], []
    for n in range(24):
        cx, cy = rng.uniform(10, 90, 2)
        ang = np.sort(rng.uniform(0, 2 * np.pi, 7))
        rad = rng.uniform(4, 25, 7)
        pts = tuple((float(cx + r * np.cos(t)), float(cy + r * np.sin(t)))
                    for r, t in zip(rad, ang))
        if n % 3 == 0:  # a mask of the same pixels
            m = mask_utils.decode(mask_utils.frPyObjects([[v for p in pts for v in p]],
                                                         H, W)[0]).astype(bool)
            objs.append(cmp.Obj("x", Mask(encode(m)), {}))
        else:
            objs.append(cmp.Obj("x", Polygon(pts), {}))
        rles.append(mask_utils.frPyObjects([[v for p in pts for v in p]], H, W)[0])
    got = cmp.iou_matrix(objs[:12], objs[12:], (H, W))
    assert got == pytest.approx(mask_utils.iou(rles[:12], rles[12:], [0] * 12))


def test_slice_annotations_and_mismatched_label_maps_on_volumes(tmp_path):
    shape, spacing = (6, 30, 40), (1.0, 1.0, 2.0)
    vol = np.zeros(shape, np.uint8)
    vol[2:4, 5:20, 5:30] = 1
    pa = _volume_project(tmp_path, "a", vol, spacing)
    pb = _volume_project(tmp_path, "b", vol[:, :, :30].copy(), spacing)
    docs = [Document.open(p) for p in (pa, pb)]
    for doc, dx in zip(docs, (0, 1)):
        m = doc.media()[0]
        road = doc.schema.class_by_name("road").id
        # on slice j=7 the picture is k x i (6 x 40 or 6 x 30 pixels)
        doc.execute(Put((Annotation(place=Place(m.id, axis="j", index=7), class_id=road,
                                    shape=Polygon(((dx, 1), (20, 1), (20, 5), (dx, 5)))),)))
        doc.close()
    pair = _run([pa, pb])["pairs"][0]
    assert pair["objects"]["matches"] == 1
    (m,) = [m for m in pair["masks"] if m["class"] == "road"]
    assert m["dice"] is None and "cannot be compared" in m["items"][0]["note"]


def test_real_video_in_two_packages_matched_by_content(tmp_path, shared_data):
    from app.io.ingest import add_media

    paths = []
    for name, shift in (("reader_a", 0), ("reader_b", 2)):
        doc = Document.create(tmp_path / name)
        doc.execute(SetSchema(make_schema()))
        # the same video under another name in each package
        clip = doc.folder / f"{name}_clip.mp4"
        shutil.copy(shared_data / "video" / "bikes.mp4", clip)
        add_media(doc, [clip])
        video = doc.media()[0]
        car = doc.schema.class_by_name("car").id
        t = Track(media_id=video.id, class_id=car)
        doc.execute(Put((t, *(Annotation(place=Place(video.id, f), class_id=car, track_id=t.id,
                                         shape=Box(10 + f + shift, 20, 60, 40))
                              for f in (0, 100, 249)))))
        paths.append(str(doc.folder))
        doc.close()
    r = _run(paths)
    assert r["media"] == {"compared": 1, "missing": []}
    t = r["pairs"][0]["tracks"]
    assert t["objects"] == 250 and t["mota"] == 1.0 and t["idf1"] == 1.0
