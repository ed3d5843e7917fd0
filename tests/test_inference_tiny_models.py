"""Tiny ONNX models with the real layouts, built here with the ``onnx`` package, so the
inference plumbing is tested without any real weights.

* ``sam_vit_pack``: the official Segment Anything ONNX layout (encoder ``image`` [1,3,1024,1024]
  -> ``image_embeddings`` [1,256,64,64]; decoder with ``orig_im_size``, returning ``masks`` at the
  original size, ``iou_predictions``, ``low_res_masks``) whose decoder answers the prompt box
  itself: logit = signed distance to the box edges, computed on SAM's 256 low-res grid of the
  1024 frame and post-processed exactly as SamOnnxModel does (upscale to 1024, crop to the
  resized extent, resize to orig_im_size).
* ``medsam_pack``: LiteMedSAM's layout (256 input, no ``orig_im_size``, low-res logits only)
  with the same box answer.

So a correct pipeline (preprocessing frame, coordinate transform, post-processing) returns the
prompt box as the mask, on any image size.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SCORES = [0.9, 0.6, 0.8, 0.7]


def _const(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def _model(nodes, inputs, outputs, inits) -> bytes:
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _vi(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def encoder(side: int) -> bytes:
    """image [1,3,side,side] -> image_embeddings [1,256,64,64] (average pool + 1x1 conv)."""
    k = side // 64
    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((256, 3, 1, 1)) * 0.1).astype(np.float32)
    nodes = [helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[k, k],
                              strides=[k, k]),
             helper.make_node("Conv", ["pooled", "w"], ["image_embeddings"])]
    return _model(nodes, [_vi("image", [1, 3, side, side])],
                  [_vi("image_embeddings", [1, 256, 64, 64])], [_const("w", weight)])


def _box_logits(nodes: list, inits: list, cell: float) -> None:
    """Nodes computing ``low`` [1,4,256,256]: distance inside the box given by the last two
    prompt points, on a 256 grid whose cells are ``cell`` model-input pixels wide."""
    centres = ((np.arange(256, dtype=np.float32) + 0.5) * cell)
    inits += [_const("gx", centres.reshape(1, 1, 1, 256)), _const("gy", centres.reshape(
        1, 1, 256, 1)), _const("last2", np.array([-2, -1], np.int64)),
        _const("i0", np.array([0], np.int64)), _const("i1", np.array([1], np.int64)),
        _const("s1111", np.array([1, 1, 1, 1], np.int64)),
        _const("rep4", np.array([1, 4, 1, 1], np.int64)), _const("zero", np.float32(0.0))]
    nodes += [
        helper.make_node("Gather", ["point_coords", "last2"], ["corners"], axis=1),
        helper.make_node("Gather", ["corners", "i0"], ["c0"], axis=1),  # [1,1,2]
        helper.make_node("Gather", ["corners", "i1"], ["c1"], axis=1),
        helper.make_node("Gather", ["c0", "i0"], ["x0r"], axis=2),
        helper.make_node("Gather", ["c0", "i1"], ["y0r"], axis=2),
        helper.make_node("Gather", ["c1", "i0"], ["x1r"], axis=2),
        helper.make_node("Gather", ["c1", "i1"], ["y1r"], axis=2)]
    for n in ("x0", "y0", "x1", "y1"):
        nodes.append(helper.make_node("Reshape", [f"{n}r", "s1111"], [n]))
    nodes += [
        helper.make_node("Sub", ["gx", "x0"], ["dl"]), helper.make_node("Sub", ["x1", "gx"], ["dr"]),
        helper.make_node("Sub", ["gy", "y0"], ["dt"]), helper.make_node("Sub", ["y1", "gy"], ["db"]),
        helper.make_node("Min", ["dl", "dr"], ["dx"]), helper.make_node("Min", ["dt", "db"], ["dy"]),
        helper.make_node("Min", ["dx", "dy"], ["one"]),
        helper.make_node("Mul", ["mask_input", "has_mask_input"], ["prior0"]),
        helper.make_node("Mul", ["prior0", "zero"], ["prior"]),
        helper.make_node("Add", ["one", "prior"], ["one_p"]),
        helper.make_node("Tile", ["one_p", "rep4"], ["low"])]


def _scores(nodes: list, inits: list) -> None:
    inits.append(_const("base", np.array([SCORES], np.float32)))
    nodes += [helper.make_node("ReduceMean", ["image_embeddings"], ["m"], keepdims=0),
              helper.make_node("Mul", ["m", "zero"], ["m0"]),
              helper.make_node("Add", ["base", "m0"], ["iou_predictions"])]


def _decoder_inputs() -> list:
    return [_vi("image_embeddings", [1, 256, 64, 64]), _vi("point_coords", [1, "n", 2]),
            _vi("point_labels", [1, "n"]), _vi("mask_input", [1, 1, 256, 256]),
            _vi("has_mask_input", [1])]


def medsam_decoder() -> bytes:
    nodes: list = []
    inits: list = []
    _box_logits(nodes, inits, 1.0)
    _scores(nodes, inits)
    nodes.append(helper.make_node("Identity", ["low"], ["low_res_masks"]))
    return _model(nodes, _decoder_inputs(), [_vi("low_res_masks", [1, 4, 256, 256]),
                                             _vi("iou_predictions", [1, 4])], inits)


def sam_vit_decoder(with_orig_size: bool = True) -> bytes:
    nodes: list = []
    inits: list = []
    _box_logits(nodes, inits, 4.0)
    _scores(nodes, inits)
    inits += [_const("s1024", np.array([1, 4, 1024, 1024], np.int64)),
              _const("side", np.float32(1024.0)), _const("half", np.float32(0.5)),
              _const("zz", np.array([0, 0], np.int64)), _const("ax23", np.array([2, 3], np.int64)),
              _const("head", np.array([1, 4], np.int64))]
    nodes += [
        helper.make_node("Identity", ["low"], ["low_res_masks"]),
        helper.make_node("Resize", ["low", "", "", "s1024"], ["up"], mode="linear"),
        helper.make_node("ReduceMax", ["orig_im_size"], ["longest"], keepdims=0),
        helper.make_node("Div", ["side", "longest"], ["scale"]),
        helper.make_node("Mul", ["orig_im_size", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "half"], ["scaled_h"]),
        helper.make_node("Floor", ["scaled_h"], ["resized_f"]),
        helper.make_node("Cast", ["resized_f"], ["resized"], to=TensorProto.INT64),
        helper.make_node("Slice", ["up", "zz", "resized", "ax23"], ["cropped"]),
        helper.make_node("Cast", ["orig_im_size"], ["orig_i"], to=TensorProto.INT64),
        helper.make_node("Concat", ["head", "orig_i"], ["out_size"], axis=0),
        helper.make_node("Resize", ["cropped", "", "", "out_size"], ["masks"], mode="linear")]
    inputs = _decoder_inputs() + ([_vi("orig_im_size", [2])] if with_orig_size else [])
    if not with_orig_size:  # same outputs, but orig_im_size is a constant: the wrong inputs
        inits.append(_const("orig_im_size", np.array([100.0, 100.0], np.float32)))
    return _model(nodes, inputs, [_vi("masks", [1, 4, "h", "w"]), _vi("iou_predictions", [1, 4]),
                                  _vi("low_res_masks", [1, 4, 256, 256])], inits)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_pack(folder: Path, model_id: str, extends: str, files: dict[str, tuple[str, bytes]],
               **extra) -> Path:
    """Write model files and their pack manifest into ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = {}
    for role, (name, data) in files.items():
        (folder / name).write_bytes(data)
        specs[role] = {"name": name, "sha256": _sha(data), "bytes": len(data)}
    manifest = {"manifest": 1, "id": model_id, "extends": extends, "licence": "MIT",
                "source": "built by the Vellum test suite", "files": specs, **extra}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def sam_vit_pack(folder: Path, model_id: str = "tiny-sam") -> Path:
    return write_pack(folder, model_id, "sam-vit-onnx", {
        "encoder": ("tiny_sam_encoder.onnx", encoder(1024)),
        "decoder": ("tiny_sam_decoder.onnx", sam_vit_decoder())})


def medsam_pack(folder: Path, model_id: str = "tiny-medsam") -> Path:
    return write_pack(folder, model_id, "litemedsam", {
        "encoder": ("tiny_medsam_encoder.onnx", encoder(256)),
        "decoder": ("tiny_medsam_decoder.onnx", medsam_decoder())})


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
    return archive


def box_mask(h: int, w: int, box) -> np.ndarray:
    """Pixels whose centres lie inside ``box`` (x, y, w, h)."""
    x, y, bw, bh = box
    cols, rows = np.arange(w) + 0.5, np.arange(h) + 0.5
    return ((rows[:, None] > y) & (rows[:, None] < y + bh)
            & (cols[None, :] > x) & (cols[None, :] < x + bw))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


# -- the builders themselves --------------------------------------------------------------


def test_tiny_models_have_the_layouts_they_claim(tmp_path):
    import onnxruntime as ort

    dec = ort.InferenceSession(sam_vit_decoder(), providers=["CPUExecutionProvider"])
    assert [i.name for i in dec.get_inputs()] == ["image_embeddings", "point_coords",
                                                 "point_labels", "mask_input",
                                                 "has_mask_input", "orig_im_size"]
    assert [o.name for o in dec.get_outputs()] == ["masks", "iou_predictions", "low_res_masks"]
    emb = np.zeros((1, 256, 64, 64), np.float32)
    masks, scores, low = dec.run(None, {
        "image_embeddings": emb, "point_coords": np.array([[[100, 50], [600, 300]]], np.float32),
        "point_labels": np.array([[2, 3]], np.float32),
        "mask_input": np.zeros((1, 1, 256, 256), np.float32),
        "has_mask_input": np.zeros(1, np.float32),
        "orig_im_size": np.array([512, 1024], np.float32)})
    assert masks.shape == (1, 4, 512, 1024) and low.shape == (1, 4, 256, 256)
    assert iou(masks[0, 0] > 0, box_mask(512, 1024, (100, 50, 500, 250))) > 0.98
    med = ort.InferenceSession(medsam_decoder(), providers=["CPUExecutionProvider"])
    assert "orig_im_size" not in [i.name for i in med.get_inputs()]
