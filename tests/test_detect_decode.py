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
from detector_graphs import (NAMES, detector_folder, expected_t,  # noqa: E402
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


def ref_decode(out: np.ndarray, layout: str, nc: int, conf: float, iou: float,
               classes=None, max_det: int = 300) -> list[tuple[list[float], float, int]]:
    """Row by row in plain Python: candidates over conf, per-class greedy NMS (drop IoU >
    iou), best first."""
    rows = out[0].T if layout == "yolov8" else out[0]
    cands = []
    for row in rows.astype(np.float64):
        if layout == "end2end":
            box, score, cls = list(row[:4]), float(row[4]), int(round(row[5]))
        else:
            cx, cy, w, h = row[:4]
            if layout == "yolov8":
                scores = row[4:4 + nc]
            else:
                if not row[4] > conf:
                    continue
                scores = row[5:5 + nc] * row[4]
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


def reference(model_path: Path, img: np.ndarray, layout: str, *, fixed: bool,
              imgsz: int = 640, conf: float = 0.25, iou: float = 0.45, classes=None):
    from app.inference.runtime import load_onnxruntime

    ort = load_onnxruntime()
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    new_hw = tuple(inp.shape[2:4]) if fixed else (imgsz, imgsz)
    padded, r, (left, top) = ref_letterbox(img, new_hw, auto=not fixed)
    tensor = (padded.transpose(2, 0, 1)[None] / 255.0).astype(np.float32)
    out = sess.run(None, {inp.name: tensor})[0]
    h, w = img.shape[:2]
    gain = min(padded.shape[0] / h, padded.shape[1] / w)
    px = round((padded.shape[1] - w * gain) / 2 - 0.1)
    py = round((padded.shape[0] - h * gain) / 2 - 0.1)
    found = []
    for box, score, cls in ref_decode(out, layout, len(NAMES), conf, iou, classes):
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
    ([84, 8400], 80, None, None, None),
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
