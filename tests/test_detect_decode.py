"""YOLO detector pre- and post-processing against an independent reference of Ultralytics'
documented pipeline, on tiny ONNX graphs with each exact output layout
(tests/detector_graphs.py), on odd picture sizes; layout detection; class names from the
ONNX metadata and from names files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
import cv2  # noqa: E402

from app.core.errors import ModelError  # noqa: E402
from app.inference import detection_decode as dd  # noqa: E402
from app.inference.detection import load_detector  # noqa: E402
from app.inference.detection_manifest import detector_manifest, read_names_file  # noqa: E402
from app.inference.pack_import import import_models  # noqa: E402
from app.inference.packs import sha256_file  # noqa: E402
from detector_graphs import (NAMES, detector_folder, detector_model, expected_t,  # noqa: E402
                                   ultralytics_metadata, write_detector)

SIZES = [(333, 517), (517, 333), (61, 900), (320, 320)]  # (h, w)


# ------------------------------------------------------------------ the reference
def ref_letterbox(img: np.ndarray, new_hw: tuple[int, int], auto: bool, stride: int = 32
                  ) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Ultralytics LetterBox as documented: r = min(H/h, W/w), unpadded size round(w r) x
    round(h r), padding split with round(d/2 -/+ 0.1), grey 114 (auto: padding mod stride)."""
    h, w = img.shape[:2]
    r = min(new_hw[0] / h, new_hw[1] / w)
    uw, uh = int(round(w * r)), int(round(h * r))
    dw, dh = new_hw[1] - uw, new_hw[0] - uh
    if auto:
        dw, dh = dw % stride, dh % stride
    top, bottom = int(round(dh / 2 - 0.1)), int(round(dh / 2 + 0.1))
    left, right = int(round(dw / 2 - 0.1)), int(round(dw / 2 + 0.1))
    resized = img if (uw, uh) == (w, h) else cv2.resize(img, (uw, uh),
                                                        interpolation=cv2.INTER_LINEAR)
    out = np.full((uh + top + bottom, uw + left + right, 3), 114, np.uint8)
    out[top:top + uh, left:left + uw] = resized
    return out, r, (left, top)


def ref_iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def ref_decode(rows: np.ndarray, layout: str, nc: int, conf: float, iou: float,
               classes=None, max_det: int = 300) -> list[tuple[list[float], float, int]]:
    """Row by row in plain Python over one image's rows (a v8 head already transposed):
    candidates over conf (v5: objectness over conf, then confidence = objectness x class
    score, as Ultralytics v5's non_max_suppression), per-class greedy NMS (drop IoU > iou),
    best first; end-to-end rows are only thresholded."""
    cands = []
    for row in rows.astype(np.float64):
        if layout == "end2end":
            box, score, cls = list(row[:4]), float(row[4]), int(round(row[5]))
        else:
            cx, cy, w, h = row[:4]
            if layout == "yolov5":
                if not row[4] > conf:
                    continue
                scores = row[5:5 + nc] * row[4]
            else:
                scores = row[4:4 + nc]
            cls = int(np.argmax(scores))
            score = float(scores[cls])
            box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
        if score > conf and (classes is None or cls in classes):
            cands.append((box, score, cls))
    cands.sort(key=lambda c: -c[1])
    if layout == "end2end":
        return cands[:max_det]
    kept: list[tuple[list[float], float, int]] = []
    for c in cands:
        if all(k[2] != c[2] or ref_iou(k[0], c[0]) <= iou for k in kept):
            kept.append(c)
    return kept[:max_det]


def ref_rows(outs: dict, layout: str, output: str = "output0",
             nms_names=("num_dets", "det_boxes", "det_scores", "det_classes")):
    """(rows, layout to read them as) of a graph's outputs, told which output and layout."""
    if layout == "nms":
        num, b, sc, c = (outs.get(n) for n in nms_names)
        n = int(num.reshape(-1)[0]) if num is not None else b.shape[1]
        rows = np.concatenate([b[0][:n], sc[0][:n, None], c[0][:n, None]], axis=1)
        return rows.astype(np.float64), "end2end"
    out = outs[output].astype(np.float64)
    out = out[0] if out.ndim == 3 else out
    return (out.T if layout == "yolov8" else out), ("yolov8" if layout.startswith("yolov8")
                                                    else layout)


def reference(model_path: Path, img: np.ndarray, layout: str, *, fixed: bool,
              imgsz: int = 640, conf: float = 0.25, iou: float = 0.45, classes=None,
              **where):
    """Ultralytics' pipeline as documented, reading the graph's input as declared: NCHW (or
    NHWC), float32 (or float16: ``im.half() / 255``), its fixed batch repeated."""
    from app.inference.runtime import load_onnxruntime

    ort = load_onnxruntime()
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    nhwc = inp.shape[3] == 3
    new_hw = tuple((inp.shape[1:3] if nhwc else inp.shape[2:4])) if fixed else (imgsz, imgsz)
    padded, r, (left, top) = ref_letterbox(img, new_hw, auto=not fixed)
    x = padded.transpose(2, 0, 1)[None]
    if "float16" in inp.type:
        tensor = x.astype(np.float16) / np.float16(255)
    else:
        tensor = (x / 255.0).astype(np.float32)
    feed = tensor.transpose(0, 2, 3, 1) if nhwc else tensor
    if isinstance(inp.shape[0], int) and inp.shape[0] > 1:
        feed = np.repeat(feed, inp.shape[0], axis=0)
    outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {inp.name: feed})))
    rows, read_as = ref_rows(outs, layout, **where)
    h, w = img.shape[:2]
    gain = min(padded.shape[0] / h, padded.shape[1] / w)
    px = round((padded.shape[1] - w * gain) / 2 - 0.1)
    py = round((padded.shape[0] - h * gain) / 2 - 0.1)
    found = []
    for box, score, cls in ref_decode(rows, read_as, len(NAMES), conf, iou, classes):
        x1 = min(max((box[0] - px) / gain, 0), w)
        y1 = min(max((box[1] - py) / gain, 0), h)
        x2 = min(max((box[2] - px) / gain, 0), w)
        y2 = min(max((box[3] - py) / gain, 0), h)
        if x2 - x1 > 1e-6 and y2 - y1 > 1e-6:  # clipped away: nothing left to store
            found.append(((x1, y1, x2 - x1, y2 - y1), NAMES[cls], score))
    return found, tensor


def _picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), np.uint8)
    img[: h // 3, :, 0] = 250  # a red band at the top: channel order and placement matter
    return img


def _same(ours, ref) -> None:
    assert len(ours) == len(ref), (ours, ref)
    for d, (box, label, score) in zip(ours, ref):
        assert d.label == label
        assert d.score == pytest.approx(score, abs=1e-5)
        np.testing.assert_allclose(d.box, box, atol=2e-3)


# ------------------------------------------------------------------ pipelines
LAYOUTS = [("yolov5", 0), ("yolov8", 0), ("yolov8", 32), ("yolov8", 51), ("end2end", 0)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Every layout installed from a folder (fixed 320 input and free input)."""
    base = tmp_path_factory.mktemp("detectors")
    root = base / "models"
    ids = {}
    for layout, extra in LAYOUTS:
        for fixed in (True, False):
            folder = detector_folder(base / f"{layout}-{extra}-{fixed}", layout, extra=extra,
                                     input_hw=(320, 320) if fixed else None)
            report = import_models(folder, root)
            assert report.errors == [] and len(report.installed) == 1
            model_id = next(iter(report.installed))
            ids[layout, extra, fixed] = (model_id, folder / "tiny.onnx")
    return root, ids


@pytest.mark.parametrize("layout,extra", LAYOUTS)
@pytest.mark.parametrize("fixed", [True, False], ids=["fixed-input", "free-input"])
@pytest.mark.parametrize("hw", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
def test_pipeline_matches_the_reference(installed, layout, extra, fixed, hw):
    root, ids = installed
    model_id, path = ids[layout, extra, fixed]
    det = load_detector(model_id, models_root=root)
    img = _picture(*hw)
    ref, ref_tensor = reference(path, img, layout, fixed=fixed)
    padded, plan = dd.letterbox(img, det.shape, auto=det.auto, stride=det.stride)
    ours_tensor = dd.to_tensor(padded)
    assert ours_tensor.shape == ref_tensor.shape
    np.testing.assert_array_equal(ours_tensor, ref_tensor)  # the very same letterbox
    # the graph really reads the picture: its statistic differs from an unpadded picture's
    assert expected_t(ours_tensor, fixed) != pytest.approx(
        expected_t(dd.to_tensor(np.full_like(padded, 114)), fixed), abs=1e-3)
    ours = det.detect(img)
    _same(ours, ref)
    assert ours, "the known boxes are found"
    # a class filter before NMS, and other thresholds
    det2 = load_detector(model_id, models_root=root, conf=0.3, iou=0.9, classes=["PERSON"])
    _same(det2.detect(img), reference(path, img, layout, fixed=fixed, conf=0.3, iou=0.9,
                                      classes=[0])[0])


def test_nms_is_per_class_and_drops_the_weaker_overlap(installed):
    root, ids = installed
    det = load_detector(ids["yolov8", 0, True][0], models_root=root)
    found = det.detect(_picture(320, 320))
    persons = [d for d in found if d.label == "person"]
    # (100,150) 0.9 kept, its 0.8 twin suppressed, (250,100) 0.4 kept; bicycle 0.7 kept
    # though it overlaps the 0.9 person; 0.2 under the threshold
    assert [round(d.score, 2) for d in persons] == [0.9, 0.4]
    assert sorted(round(d.score, 2) for d in found) == [0.4, 0.5, 0.6, 0.7, 0.9]
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_letterbox_plan_of_odd_sizes():
    p = dd.letterbox_plan((333, 517), (320, 320))
    assert p.resized == (320, 206) and (p.top, p.bottom, p.left, p.right) == (57, 57, 0, 0)
    p = dd.letterbox_plan((517, 333), (640, 640), auto=True)
    assert p.resized == (412, 640) and p.shape == (640, 416) and (p.left, p.right) == (2, 2)
    p = dd.letterbox_plan((61, 900), (320, 320))  # odd padding: one more row at the bottom
    assert p.resized == (320, 22) and (p.top, p.bottom) == (149, 149)
    p = dd.letterbox_plan((60, 901), (320, 320))
    assert p.top + p.bottom + p.resized[1] == 320 and p.bottom - p.top in (0, 1)


@pytest.mark.parametrize("shape,nc,hw,e2e,want", [
    ([1, 84, 8400], 80, None, None, "yolov8"),
    ([1, 116, 8400], 80, None, None, "yolov8"),     # segment: 32 mask coefficients
    ([1, 56, 8400], 1, None, None, "yolov8"),       # pose: 17 x 3 keypoint values
    ([1, 6, 8400], 2, None, None, "yolov8"),
    ([1, 84, "anchors"], 80, None, None, "yolov8"),
    (["batch", 84, "anchors"], 80, None, None, "yolov8"),
    ([1, 25200, 85], 80, None, None, "yolov5"),
    ([1, 25200, 6], 1, (640, 640), None, "yolov5"),  # nc = 1: v5 by its anchor count
    ([1, 300, 6], 1, (640, 640), None, "end2end"),
    ([1, 300, 6], 80, None, None, "end2end"),
    ([1, 300, 38], 80, None, None, "end2end"),
    ([1, 300, 6], 1, None, True, "end2end"),
    ([1, 10, 7], 3, None, None, None),
    ([1, 2, 8400], 80, None, None, None),
    ([1, "a", "b"], 80, None, None, None),
    ([84, 8400], 80, None, None, "yolov8"),          # no batch axis
    ([8400, 84], 80, None, None, "yolov8-transposed"),
    ([1, 8400, 84], 80, None, None, "yolov8-transposed"),
    ([1, 2100, 7], 3, (320, 320), None, "yolov8-transposed"),
    ([1, 8400, 116], 80, None, None, "yolov8-transposed"),  # segment, transposed
    ([25200, 85], 80, None, None, "yolov5"),
    ([1, 25200, 117], 80, None, None, "yolov5"),     # v5 segment: 32 mask coefficients
    ([300, 6], 80, None, None, "end2end"),
    ([1, 8400, 6], 2, None, None, "yolov8-transposed"),  # 2 classes: N says anchors
    ([1, 300, 6], 2, None, None, "end2end"),          # ... or max_det rows
    ([1, "n", 6], 2, None, True, "end2end"),          # free N: the metadata says
    ([1, "n", 6], 2, None, False, "yolov8-transposed"),
    ([1, "n", 6], 2, None, None, None),               # free N, no word: settled on a run
])
def test_layout_from_the_output_shape(shape, nc, hw, e2e, want):
    assert dd.guess_layout(shape, nc, hw, e2e) == want


# ------------------------------------------------------------------ class names
def test_names_from_metadata_win_over_a_names_file(tmp_path):
    path = write_detector(tmp_path / "m.onnx", "yolov8",
                          metadata=ultralytics_metadata(["a", "b", "c"]))
    (tmp_path / "classes.txt").write_text("x\ny\nz\n")
    m = detector_manifest(path, sha256_file(path), tmp_path / "classes.txt")
    assert m.raw["names"] == ["a", "b", "c"] and m.raw["names_from"] == "ONNX metadata"
    assert m.task == "detect" and m.family == "yolo-onnx" and m.raw["layout"] == "yolov8"
    assert m.raw["input_hw"] == [320, 320] and m.licence.startswith("AGPL-3.0")
    assert m.id == f"m-{sha256_file(path)[:8]}"


@pytest.mark.parametrize("name,text", [
    ("classes.txt", "person\nbicycle\n\ncar\n"),
    ("names.txt", "person\r\nbicycle\r\ncar"),
    ("data.yaml", "nc: 3\nnames:\n  0: person\n  1: bicycle\n  2: car\n"),
    ("data.yaml", "names: [person, bicycle, car]\n"),
])
def test_names_files(tmp_path, name, text):
    (tmp_path / name).write_text(text, encoding="utf-8")
    assert read_names_file(tmp_path / name) == NAMES
    path = write_detector(tmp_path / "m.onnx", "yolov5")
    m = detector_manifest(path, sha256_file(path), tmp_path / name)
    assert m.raw["names"] == NAMES and m.raw["names_from"] == name


@pytest.mark.parametrize("text,why", [("names:\n  1: a\n  2: b\n", "not 0 to 1"),
                                      ("nc: 2\n", "no 'names'"), ("names: [a, [b\n", "YAML")])
def test_bad_names_file_is_one_sentence(tmp_path, text, why):
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(ModelError, match=why) as info:
        read_names_file(tmp_path / "data.yaml")
    assert "data.yaml" in str(info.value) and "\n" not in str(info.value)


def test_no_names_or_a_wrong_layout_is_one_sentence(tmp_path):
    path = write_detector(tmp_path / "m.onnx", "yolov8")
    with pytest.raises(ModelError, match="has no class names"):
        detector_manifest(path, sha256_file(path))
    (tmp_path / "classes.txt").write_text("a\nb\nc\nd\ne\nf\ng\nh\n")  # 8 names: 4+8 > 7
    with pytest.raises(ModelError, match="none of the YOLO detection layouts") as info:
        detector_manifest(path, sha256_file(path), tmp_path / "classes.txt")
    assert str(path) in str(info.value)


# ------------------------------------------------------------------ real-world export variants
NMS4 = ("num_dets", "det_boxes", "det_scores", "det_classes")
#: (id, graph layout, graph keywords, metadata keywords or None (names file), the layout the
#: manifest records (None: settled on the first run), where the reference reads)
VARIANTS = [
    ("v8-transposed", "yolov8-transposed", {"anchors": 2100}, None, "yolov8-transposed", {}),
    ("v8-transposed-free", "yolov8-transposed", {"anchors": 2100, "input_hw": None}, None,
     "yolov8-transposed", {}),
    ("v8-no-batch", "yolov8", {"batch_axis": False}, None, "yolov8", {}),
    ("v5-no-batch", "yolov5", {"batch_axis": False}, None, "yolov5", {}),
    ("e2e-no-batch", "end2end", {"batch_axis": False}, None, "end2end", {}),
    ("v8-segment", "yolov8", {"extra": 32, "protos": True}, {"task": "segment"}, "yolov8", {}),
    ("v8-segment-names-file", "yolov8", {"extra": 32, "protos": True}, None, "yolov8", {}),
    ("v5-segment", "yolov5", {"extra": 32, "protos": True}, {"task": "segment"}, "yolov5", {}),
    ("e2e-segment", "end2end", {"extra": 32, "protos": True},
     {"task": "segment", "end2end": False, "args": {"nms": True, "batch": 1}}, "end2end", {}),
    ("v8-pose", "yolov8", {"extra": 51}, {"task": "pose", "kpt_shape": (17, 3)}, "yolov8", {}),
    ("v8-pose-5kpt", "yolov8", {"extra": 15}, {"task": "pose", "kpt_shape": (5, 3)}, "yolov8",
     {}),
    ("nms-efficient", "nms", {}, None, "nms", {}),
    ("nms-plain-names", "nms", {"nms_names": ("num", "boxes", "scores", "classes")}, None,
     "nms", {"nms_names": ("num", "boxes", "scores", "classes")}),
    ("nms-no-count", "nms", {"nms_names": ("", "boxes", "scores", "labels"), "nms_num": False},
     None, "nms", {"nms_names": ("", "boxes", "scores", "labels")}),
    ("nms-anonymous", "nms", {"nms_names": ("o1", "o2", "o3", "o4")}, None, "nms",
     {"nms_names": ("o1", "o2", "o3", "o4")}),
    ("fp16", "yolov8", {"fp16": True}, None, "yolov8", {}),
    ("fp16-free", "yolov5", {"fp16": True, "input_hw": None}, None, "yolov5", {}),
    ("input-x-dynamic-batch", "yolov8", {"input_name": "x", "batch": "batch"}, None, "yolov8",
     {}),
    ("fixed-batch-2", "yolov8", {"batch": 2}, None, "yolov8", {}),
    ("nhwc", "yolov5", {"channels_last": True}, None, "yolov5", {}),
    ("output-named-anything", "end2end", {"output_name": "detections"}, None, "end2end",
     {"output": "detections"}),
]


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """Every variant imported from a folder as a field team brings it."""
    base = tmp_path_factory.mktemp("variants")
    root = base / "models"
    out = {}
    for vid, layout, graph, meta, _, _ in VARIANTS:
        folder = detector_folder(base / vid, layout, metadata=meta if meta is not None else False,
                                 names_file=None if meta is not None else "classes.txt",
                                 **graph)
        report = import_models(folder, root)
        assert report.errors == [] and len(report.installed) == 1, (vid, report.errors)
        out[vid] = (next(iter(report.installed)), folder / "tiny.onnx")
    return root, out


@pytest.mark.parametrize("vid,layout,graph,meta,recorded,where", VARIANTS,
                         ids=[v[0] for v in VARIANTS])
def test_export_variants_match_the_reference(variants, vid, layout, graph, meta, recorded,
                                             where):
    import json

    root, ids = variants
    model_id, path = ids[vid]
    manifest = json.loads((root / model_id / "manifest.json").read_text())
    assert manifest["layout"] == recorded
    fixed = graph.get("input_hw", (320, 320)) is not None
    det = load_detector(model_id, models_root=root)
    for hw in ((333, 517), (61, 900)):
        img = _picture(*hw, seed=hw[0])
        ref, _ = reference(path, img, layout, fixed=fixed, **where)
        ours = det.detect(img)
        _same(ours, ref)
        assert ours, "the known boxes are found"
    assert det.layout_name == recorded
    filtered = load_detector(model_id, models_root=root, conf=0.3, iou=0.9, classes=["car"])
    img = _picture(333, 517)
    _same(filtered.detect(img), reference(path, img, layout, fixed=fixed, conf=0.3, iou=0.9,
                                          classes=[2], **where)[0])


def test_nms_outputs_stop_at_num_dets(variants):
    root, ids = variants
    det = load_detector(ids["nms-efficient"][0], models_root=root)
    found = det.detect(_picture(320, 320))
    # the junk rows past num_dets (score 0.99) are never read
    assert found and all(d.score < 0.95 for d in found)


def test_a_free_output_is_settled_by_its_first_run(tmp_path):
    """[1, N, 6] with 2 classes and a free N is a transposed v8 head or an end-to-end one: the
    import leaves it open, the first run's N (an anchor count) settles it."""
    import json

    boxes = [(100.0, 150.0, 60.0, 40.0, 0, 0.9), (220.0, 180.0, 80.0, 100.0, 1, 0.6)]
    model = detector_model("yolov8-transposed", nc=2, anchors=2100, boxes=boxes,
                           free_rows=True)
    folder = tmp_path / "free"
    folder.mkdir()
    (folder / "m.onnx").write_bytes(model.SerializeToString())
    (folder / "classes.txt").write_text("\n".join(NAMES[:2]) + "\n")
    report = import_models(folder, tmp_path / "models")
    assert report.errors == []
    (model_id,) = report.installed
    manifest = json.loads((tmp_path / "models" / model_id / "manifest.json").read_text())
    assert manifest["layout"] is None and manifest["output"] is None
    det = load_detector(model_id, models_root=tmp_path / "models")
    found = det.detect(_picture(320, 320))
    assert det.layout_name == "yolov8-transposed"
    assert [d.label for d in found] == NAMES[:2]


def test_a_manifest_layout_override_is_used(variants, tmp_path):
    """A manifest's 'layout' wins over what the shapes suggest, checked against them."""
    import json
    import shutil

    root, ids = variants
    models = tmp_path / "models"
    model_id, path = ids["v5-no-batch"]  # [64, 8]: read as a transposed v8 head instead
    shutil.copytree(root / model_id, models / model_id)
    mf = models / model_id / "manifest.json"
    manifest = json.loads(mf.read_text())
    manifest["layout"] = "yolov8-transposed"
    mf.write_text(json.dumps(manifest))
    det = load_detector(model_id, models_root=models)
    assert det.layout_name == "yolov8-transposed"
    img = _picture(333, 517)
    ref, _ = reference(path, img, "yolov8-transposed", fixed=True)
    _same(det.detect(img), ref)
    model_id, _ = ids["v8-transposed"]  # [1, 2100, 7] cannot hold 5 + 3 channels
    shutil.copytree(root / model_id, models / model_id)
    mf = models / model_id / "manifest.json"
    manifest = json.loads(mf.read_text())
    manifest["layout"] = "yolov5"
    mf.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="not the YOLOv5") as info:
        load_detector(model_id, models_root=models)
    assert "tiny.onnx gives output [1, 2100, 7]" in str(info.value)


def test_an_unknown_multi_output_layout_is_one_sentence(tmp_path):
    path = write_detector(tmp_path / "m.onnx", "yolov8", extra=5, protos=True)
    (tmp_path / "classes.txt").write_text("a\nb\nc\n")
    with pytest.raises(ModelError) as info:
        detector_manifest(path, sha256_file(path), tmp_path / "classes.txt")
    text = str(info.value)
    assert str(path) in text and "\n" not in text
    assert "gives outputs output1 [1, 32, 80, 80], output0 [1, 12, 64]" in text
    assert "none of the YOLO detection layouts for its 3 class names" in text
