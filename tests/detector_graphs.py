"""Tiny ONNX detectors with the exact output layouts of Ultralytics YOLO exports, built with
``onnx.helper`` (no weights), for tests and benchmarks:

- ``yolov5``  ``[1, N, 5+nc+extra]``: cx, cy, w, h, objectness, class scores (then mask
  coefficients of a v5 segment head);
- ``yolov8``  ``[1, 4+nc+extra, N]``: cx, cy, w, h, class scores, then ``extra`` channels
  (32 mask coefficients of a segment head, 51 keypoint values of a pose head...);
  ``yolov8-transposed`` ``[1, N, 4+nc+extra]``;
- ``end2end`` ``[1, N, 6+extra]``: x1, y1, x2, y2, score, class (v10 / YOLO26 NMS-free
  heads, ``nms=True`` exports);
- ``nms``: the num_dets / boxes / scores / classes outputs of an export with NMS inside.

Variants real exports show: no batch axis, a fixed or free batch, any input name, float16
input and outputs, NHWC input, a segment export's prototype output beside the head, a free
row count. :func:`bright_box_model` is an end-to-end detector that boxes the bright pixels
(for volume slices).

Each graph answers known boxes (model-input pixels) shifted by ``shift * t`` pixels, where
``t`` in [0, 1] is a statistic of the input tensor that depends on every pixel's place,
channel and value: a ramp-weighted mean for a fixed input size; for a free input size, the
mean of the red channel plus a term in the tensor's height and width. A pipeline whose
letterbox (size, padding, grey value, channel order, scaling to 0-1) differs from the
reference's therefore gets other boxes. :func:`expected_t` computes ``t`` from a tensor.

Metadata is written the way Ultralytics writes it (``names`` as a Python dict literal,
``imgsz``, ``stride``, ``task``, ``end2end``) when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (cx, cy, w, h, class, score) in model-input pixels of a 320 x 320 input: two overlapping
# boxes of class 0 (one suppressed at IoU 0.45), an overlapping one of class 1 (kept: NMS is
# per class), one of class 2, one under the 0.25 threshold, one in the padding of a wide
# picture (clipped away there).
BOXES = [(100.0, 150.0, 60.0, 40.0, 0, 0.90), (104.0, 152.0, 60.0, 40.0, 0, 0.80),
         (102.0, 150.0, 58.0, 42.0, 1, 0.70), (220.0, 180.0, 80.0, 100.0, 2, 0.60),
         (40.0, 200.0, 30.0, 30.0, 1, 0.20), (160.0, 10.0, 50.0, 12.0, 2, 0.50),
         (250.0, 100.0, 40.0, 70.0, 0, 0.40)]
NAMES = ["person", "bicycle", "car"]


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def ramp(h: int, w: int) -> np.ndarray:
    """The fixed-size statistic's weights [1, 3, h, w]: place and channel dependent."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = (xx + 2.0 * yy + 1.0) / (w + 2.0 * h)
    return np.stack([base * (c + 1) for c in range(3)])[None].astype(np.float32)


def expected_t(tensor: np.ndarray, fixed: bool) -> float:
    """The statistic the graph computes from an input tensor [1, 3, H, W] (float)."""
    x = tensor.astype(np.float64)
    if fixed:
        w = ramp(*x.shape[2:]).astype(np.float64)
        return float((x * w).sum() / w.sum())
    h, wd = x.shape[2:]
    return float(x[0, 0].mean() * 0.5 + h / 4096 + wd / 8192)


def _rows(layout: str, boxes: Sequence[tuple], nc: int, extra: int, n: int,
          fade: dict[int, float] | None = None, shift: float = 1.0
          ) -> tuple[np.ndarray, np.ndarray]:
    """(base, direction) of the output, [1, A, B] each; ``fade`` lowers box i's score by
    ``fade[i] * t`` (the direction is multiplied by ``shift`` afterwards)."""
    fade = fade or {}
    if layout in ("end2end", "nms"):
        base = np.zeros((n, 6 + extra), np.float32)
        move = np.zeros((n, 6 + extra), np.float32)
        for i, (cx, cy, w, h, c, s) in enumerate(boxes):
            base[i, :6] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, s, c)
            move[i, :4] = (1.0, 0.5, 1.0, 0.5)
            move[i, 4] = -fade.get(i, 0.0) / shift
        return base[None], move[None]
    v8 = layout in ("yolov8", "yolov8-transposed")
    width = 4 + nc + extra if v8 else 5 + nc + extra
    base = np.zeros((n, width), np.float32)
    move = np.zeros((n, width), np.float32)
    rng = np.random.default_rng(7)
    for i in range(n):  # background anchors: tiny scores, some structure in the extras
        base[i, :4] = (rng.uniform(0, 320), rng.uniform(0, 320), 10, 10)
        base[i, 4:] = rng.uniform(0, 0.05, width - 4)
    for i, (cx, cy, w, h, c, s) in enumerate(boxes):
        base[i, :4] = (cx, cy, w, h)
        move[i, :4] = (1.0, 0.5, 0.25, 0.125)
        if v8:
            base[i, 4:4 + nc] = 0.01
            base[i, 4 + c] = s
            move[i, 4 + c] = -fade.get(i, 0.0) / shift
        else:  # objectness x class score = s: objectness 0.95, class score s / 0.95
            base[i, 4] = 0.95
            base[i, 5:5 + nc] = 0.01
            base[i, 5 + c] = s / 0.95
            move[i, 5 + c] = -fade.get(i, 0.0) / 0.95 / shift
    if layout == "yolov8":
        return base.T[None].copy(), move.T[None].copy()
    return base[None], move[None]  # yolov5, yolov8-transposed: rows


def detector_model(layout: str, *, nc: int = 3, extra: int = 0, input_hw: tuple[int, int]
                   | None = (320, 320), boxes: Sequence[tuple] = BOXES, anchors: int = 64,
                   shift: float = 24.0, fade: dict[int, float] | None = None,
                   metadata: dict[str, str] | None = None,
                   output_name: str = "output0", opset: int = 17, input_name: str = "images",
                   batch: int | str = 1, batch_axis: bool = True, fp16: bool = False,
                   channels_last: bool = False, protos: bool = False,
                   nms_names: Sequence[str] = ("num_dets", "det_boxes", "det_scores",
                                               "det_classes"),
                   nms_num: bool = True, free_rows: bool = False) -> onnx.ModelProto:
    """A detector graph: input ``input_name`` [batch, 3, H, W] (free H, W when ``input_hw`` is
    None; ``batch`` an int or a free name; ``channels_last``: [batch, H, W, 3]; ``fp16``: the
    input and outputs are float16), output ``output_name`` in ``layout`` (with ``anchors``
    rows: ``boxes`` first; ``batch_axis`` False drops the batch axis), plus with ``protos``
    a segment export's ``output1`` [1, 32, H/4, W/4]. ``layout`` ``"nms"`` gives the four
    outputs of an export with NMS inside (names ``nms_names``: num_dets [1, 1] int32 unless
    ``nms_num`` is False, boxes [1, K, 4] x1 y1 x2 y2, scores [1, K], classes [1, K] int32;
    rows past num_dets hold high-scoring junk). ``free_rows``: the row axis of a ``[1, N, C]``
    output is free in the graph (a slice whose end depends on the input's height). ``fade`` (box index -> amount) makes a box's
    score fall by ``amount * t``, so that it vanishes on bright pictures (a track that
    ends)."""
    n = anchors if layout not in ("end2end", "nms") else max(len(boxes), 30, 2 * (6 + extra))
    base, move = _rows(layout, boxes, nc, extra, n, fade, shift)
    if layout == "nms":  # junk past num_dets: a reader must stop there
        base[0, len(boxes):, :4] = (5.0, 5.0, 50.0, 50.0)
        base[0, len(boxes):, 4] = 0.99
    fixed = input_hw is not None
    dtype = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    hw = list(input_hw) if fixed else ["height", "width"]
    in_shape = [batch, *hw, 3] if channels_last else [batch, 3, *hw]
    inits = [_const("base", base), _const("move", move * np.float32(shift)),
             _const("shape3", np.array([1, 1, 1], np.int64)),
             _const("b0", np.array([0], np.int64)), _const("b1", np.array([1], np.int64))]
    nodes = []
    src = input_name
    if fp16:
        nodes.append(helper.make_node("Cast", [src], ["in_f32"], to=TensorProto.FLOAT))
        src = "in_f32"
    if channels_last:
        nodes.append(helper.make_node("Transpose", [src], ["in_nchw"], perm=[0, 3, 1, 2]))
        src = "in_nchw"
    nodes.append(helper.make_node("Slice", [src, "b0", "b1", "b0"], ["img"]))  # image 0
    if fixed:
        w = ramp(*input_hw)
        inits += [_const("ramp", w / w.sum()), _const("all_axes", np.array([1, 2, 3], np.int64))]
        nodes += [helper.make_node("Mul", ["img", "ramp"], ["weighted"]),
                  helper.make_node("ReduceSum", ["weighted", "all_axes"], ["t4"], keepdims=1)]
    else:
        inits += [_const("c0", np.array([0], np.int64)), _const("c1", np.array([1], np.int64)),
                  _const("hw_idx", np.array([2, 3], np.int64)),
                  _const("hw_scale", np.array([1 / 4096, 1 / 8192], np.float32)),
                  _const("half", np.array(0.5, np.float32))]
        nodes += [helper.make_node("Slice", ["img", "c0", "c1", "c1"], ["red"]),
                  helper.make_node("ReduceMean", ["red"], ["red_mean"], axes=[1, 2, 3],
                                   keepdims=1),
                  helper.make_node("Mul", ["red_mean", "half"], ["red_half"]),
                  helper.make_node("Shape", ["img"], ["shape"]),
                  helper.make_node("Gather", ["shape", "hw_idx"], ["hw"]),
                  helper.make_node("Cast", ["hw"], ["hw_f"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", ["hw_f", "hw_scale"], ["hw_part"]),
                  helper.make_node("ReduceSum", ["hw_part"], ["hw_sum"], keepdims=1),
                  helper.make_node("Add", ["red_half", "hw_sum"], ["t4"])]
    nodes += [helper.make_node("Reshape", ["t4", "shape3"], ["t"]),
              helper.make_node("Mul", ["move", "t"], ["moved"]),
              helper.make_node("Add", ["base", "moved"], ["raw"])]
    outputs = []

    def out(name: str, value: str, shape: list, elem: int = dtype) -> None:
        if elem != TensorProto.FLOAT:
            nodes.append(helper.make_node("Cast", [value], [name], to=elem))
        else:
            nodes.append(helper.make_node("Identity", [value], [name]))
        outputs.append(helper.make_tensor_value_info(name, elem, shape))

    if layout == "nms":
        k = base.shape[1]
        inits += [_const("c4", np.array([4], np.int64)), _const("c5", np.array([5], np.int64)),
                  _const("c6", np.array([6], np.int64)), _const("ax2", np.array([2], np.int64)),
                  _const("num_const", np.array([[len(boxes)]], np.int32))]
        nodes += [helper.make_node("Slice", ["raw", "b0", "c4", "ax2"], ["nms_boxes"]),
                  helper.make_node("Slice", ["raw", "c4", "c5", "ax2"], ["nms_s3"]),
                  helper.make_node("Slice", ["raw", "c5", "c6", "ax2"], ["nms_c3"]),
                  helper.make_node("Squeeze", ["nms_s3", "ax2"], ["nms_scores"]),
                  helper.make_node("Squeeze", ["nms_c3", "ax2"], ["nms_classes"])]
        num, box_name, score_name, class_name = nms_names
        if nms_num:
            nodes.append(helper.make_node("Identity", ["num_const"], [num]))
            outputs.append(helper.make_tensor_value_info(num, TensorProto.INT32, [1, 1]))
        out(box_name, "nms_boxes", [1, k, 4])
        out(score_name, "nms_scores", [1, k])
        out(class_name, "nms_classes", [1, k], TensorProto.INT32)
    else:
        shape = list(base.shape)
        value = "raw"
        if free_rows:
            inits += [_const("h_idx", np.array([2], np.int64)),
                      _const("h_mul", np.array([1000], np.int64))]
            nodes += [helper.make_node("Shape", ["img"], ["img_shape"]),
                      helper.make_node("Gather", ["img_shape", "h_idx"], ["img_h"]),
                      helper.make_node("Mul", ["img_h", "h_mul"], ["rows_end"]),
                      helper.make_node("Slice", ["raw", "b0", "rows_end", "b1"], ["raw_rows"])]
            value, shape = "raw_rows", [shape[0], "anchors", shape[2]]
        if not batch_axis:
            nodes.append(helper.make_node("Squeeze", ["raw", "b0"], ["raw2d"]))
            value, shape = "raw2d", shape[1:]
        elif batch != 1:
            if isinstance(batch, int):
                inits.append(_const("reps", np.array([batch, 1, 1], np.int64)))
                nodes.append(helper.make_node("Tile", ["raw", "reps"], ["tiled"]))
                value = "tiled"
            shape = [batch, *shape[1:]]
        out(output_name, value, shape)
    if protos:
        ph, pw = ((input_hw[0] // 4, input_hw[1] // 4) if fixed else (80, 80))
        inits.append(_const("protos", np.full((1, 32, ph, pw), 0.5, np.float32)))
        out("output1", "protos", [1, 32, ph, pw])
        outputs.insert(0, outputs.pop())  # prototypes first: the head is found by shape
    graph = helper.make_graph(
        nodes, "tiny_yolo", [helper.make_tensor_value_info(input_name, dtype, in_shape)],
        outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    return model


def ultralytics_metadata(names: Sequence[str] = NAMES, imgsz: Sequence[int] = (320, 320),
                         end2end: bool | None = None, task: str = "detect",
                         kpt_shape: Sequence[int] | None = None,
                         args: dict | None = None) -> dict[str, str]:
    """Metadata as Ultralytics' exporter writes it (values are ``str()`` of Python values;
    ``kpt_shape`` for pose, ``args`` the export arguments, e.g. ``{"nms": True}``)."""
    meta = {"description": "Ultralytics tiny test model", "author": "Vellum tests",
            "license": "AGPL-3.0 License (https://ultralytics.com/license)",
            "stride": "32", "task": task, "batch": "1", "imgsz": str(list(imgsz)),
            "names": str(dict(enumerate(names)))}
    if end2end is not None:
        meta["end2end"] = str(end2end)
    if kpt_shape is not None:
        meta["kpt_shape"] = str(list(kpt_shape))
    if args is not None:
        meta["args"] = str(args)
    return meta


def write_detector(path: Path, layout: str, **kwargs) -> Path:
    """:func:`detector_model` saved at ``path``."""
    path.write_bytes(detector_model(layout, **kwargs).SerializeToString())
    return path


def detector_folder(folder: Path, layout: str = "yolov8", *, names_file: str | None =
                    "classes.txt", names: Sequence[str] = NAMES,
                    metadata: bool | dict = False,
                    file_name: str = "tiny.onnx", **kwargs) -> Path:
    """A folder as a user brings it: the ``.onnx`` and (``names_file``) its names file
    (``classes.txt``/``names.txt`` one per line, ``data.yaml`` Ultralytics style), or the
    names in the ONNX metadata (``metadata``: True, or the keyword arguments of
    :func:`ultralytics_metadata`)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = None
    if metadata:
        words = dict(metadata) if isinstance(metadata, dict) else {}
        words.setdefault("end2end", True if layout == "end2end" else None)
        meta = ultralytics_metadata(names, **words)
    write_detector(folder / file_name, layout, metadata=meta, **kwargs)
    if names_file:
        if names_file.endswith((".yaml", ".yml")):
            text = "path: .\nnc: %d\nnames:\n" % len(names) + "".join(
                f"  {i}: {n}\n" for i, n in enumerate(names))
        else:
            text = "".join(f"{n}\n" for n in names)
        (folder / names_file).write_text(text, encoding="utf-8")
    return folder


def bright_box_model(input_hw: tuple[int, int] = (320, 320), threshold: float = 0.5
                     ) -> onnx.ModelProto:
    """An end-to-end detector ``[1, 1, 6]`` that finds the box around the pixels of the
    (letterboxed) picture whose red value is over ``threshold`` (0-1): x1, y1, x2, y2 in model
    pixels (pixel edges), score 0.9 (0 when there are none), class 0."""
    h, w = input_hw
    big = 1e6
    inits = [_const("b0", np.array([0], np.int64)), _const("b1", np.array([1], np.int64)),
             _const("thr", np.array(threshold, np.float32)),
             _const("xs", np.arange(w, dtype=np.float32)[None, None]),
             _const("ys", np.arange(h, dtype=np.float32)[None, None]),
             _const("one", np.array(1.0, np.float32)), _const("half", np.array(0.5, np.float32)),
             _const("big", np.array(big, np.float32)), _const("nbig", np.array(-big, np.float32)),
             _const("score", np.array(0.9, np.float32)),
             _const("cls", np.zeros((1, 1), np.float32))]
    nodes = [helper.make_node("Slice", ["images", "b0", "b1", "b1"], ["red"]),
             helper.make_node("Greater", ["red", "thr"], ["bright"]),
             helper.make_node("Cast", ["bright"], ["mask"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMax", ["mask"], ["cols"], axes=[2], keepdims=0),
             helper.make_node("ReduceMax", ["mask"], ["rows4"], axes=[3], keepdims=0)]
    for axis, line, ramp_ in (("x", "cols", "xs"), ("y", "rows4", "ys")):
        nodes += [helper.make_node("Greater", [line, "half"], [f"{axis}_on"]),
                  helper.make_node("Add", [ramp_, "one"], [f"{axis}_end"]),
                  helper.make_node("Where", [f"{axis}_on", ramp_, "big"], [f"{axis}_lo"]),
                  helper.make_node("Where", [f"{axis}_on", f"{axis}_end", "nbig"],
                                   [f"{axis}_hi"]),
                  helper.make_node("ReduceMin", [f"{axis}_lo"], [f"{axis}1"], axes=[2],
                                   keepdims=0),
                  helper.make_node("ReduceMax", [f"{axis}_hi"], [f"{axis}2"], axes=[2],
                                   keepdims=0)]
    nodes += [helper.make_node("ReduceMax", ["cols"], ["any"], axes=[2], keepdims=0),
              helper.make_node("Mul", ["any", "score"], ["conf"]),
              helper.make_node("Concat", ["x1", "y1", "x2", "y2", "conf", "cls"], ["row"],
                               axis=1),
              helper.make_node("Unsqueeze", ["row", "b0"], ["output0"])]
    graph = helper.make_graph(
        nodes, "bright_box", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                            [1, 3, h, w])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 1, 6])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


__all__ = ["BOXES", "NAMES", "detector_model", "write_detector", "detector_folder",
           "ultralytics_metadata", "expected_t", "ramp",
           "bright_box_model"]
