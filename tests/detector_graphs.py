"""Tiny ONNX detectors with the exact output layouts of Ultralytics YOLO exports, built with
``onnx.helper`` (no weights), for tests and benchmarks:

- ``yolov5``  ``[1, N, 5+nc]``: cx, cy, w, h, objectness, class scores;
- ``yolov8``  ``[1, 4+nc+extra, N]``: cx, cy, w, h, class scores, then ``extra`` channels
  (32 mask coefficients of a segment head, 51 keypoint values of a pose head...);
- ``end2end`` ``[1, N, 6]``: x1, y1, x2, y2, score, class (v10 / YOLO26 NMS-free heads).

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
    if layout == "end2end":
        base = np.zeros((n, 6), np.float32)
        move = np.zeros((n, 6), np.float32)
        for i, (cx, cy, w, h, c, s) in enumerate(boxes):
            base[i] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, s, c)
            move[i, :4] = (1.0, 0.5, 1.0, 0.5)
            move[i, 4] = -fade.get(i, 0.0) / shift
        return base[None], move[None]
    width = 4 + nc + extra if layout == "yolov8" else 5 + nc
    base = np.zeros((n, width), np.float32)
    move = np.zeros((n, width), np.float32)
    rng = np.random.default_rng(7)
    for i in range(n):  # background anchors: tiny scores, some structure in the extras
        base[i, :4] = (rng.uniform(0, 320), rng.uniform(0, 320), 10, 10)
        base[i, 4:] = rng.uniform(0, 0.05, width - 4)
    for i, (cx, cy, w, h, c, s) in enumerate(boxes):
        base[i, :4] = (cx, cy, w, h)
        move[i, :4] = (1.0, 0.5, 0.25, 0.125)
        if layout == "yolov8":
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
    return base[None], move[None]


def detector_model(layout: str, *, nc: int = 3, extra: int = 0, input_hw: tuple[int, int]
                   | None = (320, 320), boxes: Sequence[tuple] = BOXES, anchors: int = 64,
                   shift: float = 24.0, fade: dict[int, float] | None = None,
                   metadata: dict[str, str] | None = None,
                   output_name: str = "output0", opset: int = 17) -> onnx.ModelProto:
    """A detector graph: input ``images`` [1, 3, H, W] (free H, W when ``input_hw`` is None),
    output ``output_name`` in ``layout`` (with ``anchors`` rows: ``boxes`` first); ``fade``
    (box index -> amount) makes a box's score fall by ``amount * t``, so that it vanishes on
    bright pictures (a track that ends)."""
    n = anchors if layout != "end2end" else max(len(boxes), 30)
    base, move = _rows(layout, boxes, nc, extra, n, fade, shift)
    fixed = input_hw is not None
    in_shape = [1, 3, *input_hw] if fixed else [1, 3, "height", "width"]
    inits = [_const("base", base), _const("move", move * np.float32(shift)),
             _const("shape3", np.array([1, 1, 1], np.int64))]
    if fixed:
        w = ramp(*input_hw)
        inits += [_const("ramp", w / w.sum()), _const("all_axes", np.array([1, 2, 3], np.int64))]
        nodes = [helper.make_node("Mul", ["images", "ramp"], ["weighted"]),
                 helper.make_node("ReduceSum", ["weighted", "all_axes"], ["t4"], keepdims=1)]
    else:
        inits += [_const("c0", np.array([0], np.int64)), _const("c1", np.array([1], np.int64)),
                  _const("hw_idx", np.array([2, 3], np.int64)),
                  _const("hw_scale", np.array([1 / 4096, 1 / 8192], np.float32)),
                  _const("half", np.array(0.5, np.float32))]
        nodes = [helper.make_node("Slice", ["images", "c0", "c1", "c1"], ["red"]),
                 helper.make_node("ReduceMean", ["red"], ["red_mean"], axes=[1, 2, 3],
                                  keepdims=1),
                 helper.make_node("Mul", ["red_mean", "half"], ["red_half"]),
                 helper.make_node("Shape", ["images"], ["shape"]),
                 helper.make_node("Gather", ["shape", "hw_idx"], ["hw"]),
                 helper.make_node("Cast", ["hw"], ["hw_f"], to=TensorProto.FLOAT),
                 helper.make_node("Mul", ["hw_f", "hw_scale"], ["hw_part"]),
                 helper.make_node("ReduceSum", ["hw_part"], ["hw_sum"], keepdims=1),
                 helper.make_node("Add", ["red_half", "hw_sum"], ["t4"])]
    nodes += [helper.make_node("Reshape", ["t4", "shape3"], ["t"]),
              helper.make_node("Mul", ["move", "t"], ["moved"]),
              helper.make_node("Add", ["base", "moved"], [output_name])]
    graph = helper.make_graph(
        nodes, "tiny_yolo", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                           in_shape)],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, list(base.shape))],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    return model


def ultralytics_metadata(names: Sequence[str] = NAMES, imgsz: Sequence[int] = (320, 320),
                         end2end: bool | None = None, task: str = "detect") -> dict[str, str]:
    """Metadata as Ultralytics' exporter writes it (values are ``str()`` of Python values)."""
    meta = {"description": "Ultralytics tiny test model", "author": "Vellum tests",
            "license": "AGPL-3.0 License (https://ultralytics.com/license)",
            "stride": "32", "task": task, "batch": "1", "imgsz": str(list(imgsz)),
            "names": str(dict(enumerate(names)))}
    if end2end is not None:
        meta["end2end"] = str(end2end)
    return meta


def write_detector(path: Path, layout: str, **kwargs) -> Path:
    """:func:`detector_model` saved at ``path``."""
    path.write_bytes(detector_model(layout, **kwargs).SerializeToString())
    return path


def detector_folder(folder: Path, layout: str = "yolov8", *, names_file: str | None =
                    "classes.txt", names: Sequence[str] = NAMES, metadata: bool = False,
                    file_name: str = "tiny.onnx", **kwargs) -> Path:
    """A folder as a user brings it: the ``.onnx`` and (``names_file``) its names file
    (``classes.txt``/``names.txt`` one per line, ``data.yaml`` Ultralytics style), or the
    names in the ONNX metadata (``metadata``)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = ultralytics_metadata(names, end2end=True if layout == "end2end" else None) \
        if metadata else None
    write_detector(folder / file_name, layout, metadata=meta, **kwargs)
    if names_file:
        if names_file.endswith((".yaml", ".yml")):
            text = "path: .\nnc: %d\nnames:\n" % len(names) + "".join(
                f"  {i}: {n}\n" for i, n in enumerate(names))
        else:
            text = "".join(f"{n}\n" for n in names)
        (folder / names_file).write_text(text, encoding="utf-8")
    return folder


__all__ = ["BOXES", "NAMES", "detector_model", "write_detector", "detector_folder",
           "ultralytics_metadata", "expected_t", "ramp"]
