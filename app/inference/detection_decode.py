"""Pure numpy pre- and post-processing of Ultralytics YOLO detectors exported to ONNX.

Everything here follows Ultralytics (``ultralytics/data/augment.py`` ``LetterBox``,
``ultralytics/utils/ops.py`` ``scale_boxes`` / ``clip_boxes``, ``utils/nms.py``
``non_max_suppression``) so that a model gives here the boxes it gives there:

- **letterbox**: resize keeping the aspect ratio with ``r = min(H/h, W/w)`` (bilinear, sizes
  ``round(w*r) x round(h*r)``), pad with grey 114 split evenly (``top = round(dh/2 - 0.1)``,
  ``bottom = round(dh/2 + 0.1)``, same for left/right); with ``auto`` (a graph whose input size
  is free) the padding is only what reaches the next multiple of the stride. The tensor is RGB
  float 0-1, NCHW.
- **layouts** (:mod:`app.inference.detection_layout`, which also picks the head among
  several outputs): ``yolov5`` ``[1, N, 5+nc]`` (cx, cy, w, h, objectness, class scores;
  confidence = objectness x class score, as Ultralytics v5), ``yolov8`` ``[1, 4+nc+k, N]``
  (cx, cy, w, h, class scores, then ``k`` mask coefficients or keypoint values, ignored; v8,
  v9, v11, v12 and the NMS-based YOLO26 heads) and ``yolov8-transposed`` ``[1, N, 4+nc+k]``,
  ``end2end`` ``[1, N, 6+k]`` (x1, y1, x2, y2, score, class: v10, YOLO26 NMS-free heads and
  exports with ``nms=True``; already suppressed), ``nms`` (boxes, scores, classes, num_dets
  outputs of an export with NMS inside; read as end-to-end rows). The batch axis may be
  absent.
- **decode**: candidates over ``conf`` (strictly greater, as Ultralytics), an optional class
  filter, at most :data:`MAX_NMS` by score, class-aware greedy NMS (a box is dropped when its
  IoU with a kept box of the same class is greater than ``iou``), at most ``max_det`` kept.
- **back to the source**: subtract the padding, divide by the gain, clip to the image.

Boxes in and out of the model are in the letterboxed picture's pixel space; boxes returned
by :func:`to_source` are continuous pixel coordinates of the source image (COCO's
convention, ``../shared/CONVENTIONS.md``), ``x1, y1, x2, y2``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.inference.detection_layout import (DEFAULT_EXTRAS, END2END, LAYOUTS, NMS, YOLOV5,
                                            YOLOV8, YOLOV8T, Hints, check_layout,
                                            layout_words, settle)

PAD_VALUE = 114
MAX_NMS = 30000  # boxes into NMS at most (Ultralytics' max_nms)
MAX_WH = 7680  # class offset of class-aware NMS (Ultralytics' max_wh)
STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class Letterbox:
    """How a source picture of ``source`` (h, w) was laid into the model's ``shape`` (H, W):
    scale ``gain``, resized size ``resized`` (w, h), padding ``left``/``top`` (pixels)."""

    source: tuple[int, int]
    shape: tuple[int, int]
    gain: float
    resized: tuple[int, int]
    left: int
    top: int
    right: int
    bottom: int


def make_divisible(x: float, divisor: int) -> int:
    """``x`` rounded up to a multiple of ``divisor`` (Ultralytics ``check_imgsz``)."""
    return int(math.ceil(x / divisor) * divisor)


def letterbox_plan(source_hw: tuple[int, int], new_shape: tuple[int, int], *,
                   auto: bool = False, stride: int = 32, scaleup: bool = True) -> Letterbox:
    """The letterbox of a ``source_hw`` picture into ``new_shape`` (H, W), as Ultralytics'
    ``LetterBox(new_shape, auto, stride=stride, center=True)``."""
    h, w = int(source_hw[0]), int(source_hw[1])
    r = min(new_shape[0] / h, new_shape[1] / w)
    if not scaleup:
        r = min(r, 1.0)
    new_unpad = (int(round(w * r)), int(round(h * r)))
    dw, dh = new_shape[1] - new_unpad[0], new_shape[0] - new_unpad[1]
    if auto:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    shape = (new_unpad[1] + top + bottom, new_unpad[0] + left + right)
    return Letterbox((h, w), shape, r, new_unpad, left, top, right, bottom)


def letterbox(image: np.ndarray, new_shape: tuple[int, int], *, auto: bool = False,
              stride: int = 32) -> tuple[np.ndarray, Letterbox]:
    """``image`` (H, W, 3 uint8) letterboxed into ``new_shape``: the padded uint8 picture and
    its :class:`Letterbox`."""
    import cv2

    plan = letterbox_plan(image.shape[:2], new_shape, auto=auto, stride=stride)
    if (image.shape[1], image.shape[0]) != plan.resized:
        image = cv2.resize(image, plan.resized, interpolation=cv2.INTER_LINEAR)
    if plan.top or plan.bottom or plan.left or plan.right:
        image = cv2.copyMakeBorder(image, plan.top, plan.bottom, plan.left, plan.right,
                                   cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return image, plan


def to_tensor(padded: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """(H, W, 3) RGB uint8 -> (1, 3, H, W) in [0, 1]."""
    return (np.ascontiguousarray(padded.transpose(2, 0, 1))[None].astype(dtype) / 255).astype(
        dtype)


def anchor_count(shape: tuple[int, int], per_cell: int = 1) -> int:
    """Grid cells over strides 8, 16, 32 of an (H, W) input, times ``per_cell`` anchors."""
    return per_cell * sum((shape[0] // s) * (shape[1] // s) for s in STRIDES)


def guess_layout(out_shape: Sequence[int | str | None], nc: int,
                 input_hw: tuple[int, int] | None = None, end2end: bool | None = None,
                 extras: Sequence[int] = DEFAULT_EXTRAS) -> str | None:
    """The single-output layout of an output of shape ``out_shape`` (with or without its
    batch axis) for ``nc`` class names; None when it is none of them, or when free
    dimensions leave several open (see :mod:`app.inference.detection_layout`).
    ``end2end`` is the export's own word (Ultralytics metadata), when it gave one."""
    return settle(out_shape, Hints(nc, input_hw, end2end, tuple(extras)))[0]


@dataclass(frozen=True)
class Decoded:
    """Kept boxes: ``xyxy`` (n, 4) in model-input pixels, ``scores`` (n,), ``classes`` (n,)
    class indices; sorted by score, highest first."""

    xyxy: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def _xywh2xyxy(b: np.ndarray) -> np.ndarray:
    out = np.empty_like(b)
    half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
    out[:, 0] = b[:, 0] - half_w
    out[:, 1] = b[:, 1] - half_h
    out[:, 2] = b[:, 0] + half_w
    out[:, 3] = b[:, 1] + half_h
    return out


def nms(xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS (as ``torchvision.ops.nms``): indices kept, by score descending; a box is
    dropped when its IoU with a kept one is greater than ``iou``."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (xyxy[:, i].astype(np.float64) for i in range(4))
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(0)
        h = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(0)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            overlap = np.where(union > 0, inter / union, 0.0)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def _rows(a: np.ndarray) -> np.ndarray:
    """One image's output without its batch axis (the first image's when there are more)."""
    a = np.asarray(a, dtype=np.float32)
    return a[0] if a.ndim == 3 else a


def _nms_outputs(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The (boxes, scores, classes[, num_dets]) of an export with NMS inside as end-to-end
    rows ``[K, 6]``: x1, y1, x2, y2, score, class; only the first ``num_dets`` rows."""
    boxes = np.asarray(arrays[0], np.float32)
    boxes = (boxes[0] if boxes.ndim == 3 else boxes).reshape(-1, 4)
    flat = []
    for a in arrays[1:3]:
        a = np.asarray(a, np.float32)
        flat.append((a[0] if a.ndim == 2 else a).reshape(-1))
    k = min(len(boxes), len(flat[0]), len(flat[1]))
    if len(arrays) > 3 and arrays[3] is not None and np.asarray(arrays[3]).size:
        k = min(k, max(0, int(np.asarray(arrays[3]).reshape(-1)[0])))
    return np.concatenate([boxes[:k], flat[0][:k, None], flat[1][:k, None]], axis=1)


def decode(output: np.ndarray | Sequence[np.ndarray], layout: str, nc: int, *,
           conf: float = 0.25, iou: float = 0.45, classes: Sequence[int] | None = None,
           max_det: int = 300) -> Decoded:
    """Kept boxes of one image's raw output (``[1, ...]`` or without the batch axis); for
    ``nms``, the sequence (boxes, scores, classes[, num_dets]) of its outputs."""
    if layout == NMS:
        out = _nms_outputs(output)  # type: ignore[arg-type]
        layout = END2END
    else:
        out = _rows(output)  # type: ignore[arg-type]
    if layout in (YOLOV8, YOLOV8T):
        if layout == YOLOV8:
            out = out.T
        boxes, cls_scores = out[:, :4], out[:, 4:4 + nc]
        keep = cls_scores.max(axis=1) > conf if len(out) else np.zeros(0, bool)
        boxes, cls_scores = boxes[keep], cls_scores[keep]
    elif layout == YOLOV5:  # Ultralytics v5: confidence = objectness x class score
        keep = out[:, 4] > conf
        out = out[keep]
        boxes, cls_scores = out[:, :4], out[:, 5:5 + nc] * out[:, 4:5]
    elif layout == END2END:
        xyxy, scores = out[:, :4], out[:, 4]
        cls_idx = out[:, 5].round().astype(np.int64) if len(out) else np.zeros(0, np.int64)
        keep = scores > conf
        if classes is not None:
            keep &= np.isin(cls_idx, np.asarray(list(classes), np.int64))
        xyxy, scores, cls_idx = xyxy[keep], scores[keep], cls_idx[keep]
        order = np.argsort(-scores, kind="stable")[:max_det]
        return Decoded(xyxy[order], scores[order], cls_idx[order])
    else:
        raise ValueError(f"unknown layout {layout!r}")
    if len(boxes):
        cls_idx = cls_scores.argmax(axis=1)
        scores = cls_scores[np.arange(len(cls_idx)), cls_idx]
    else:
        cls_idx, scores = np.zeros(0, np.int64), np.zeros(0, np.float32)
    keep = scores > conf
    if classes is not None:
        keep &= np.isin(cls_idx, np.asarray(list(classes), np.int64))
    boxes, scores, cls_idx = boxes[keep], scores[keep], cls_idx[keep]
    if len(scores) > MAX_NMS:
        top = np.argsort(-scores, kind="stable")[:MAX_NMS]
        boxes, scores, cls_idx = boxes[top], scores[top], cls_idx[top]
    xyxy = _xywh2xyxy(boxes)
    kept = nms(xyxy + (cls_idx[:, None] * MAX_WH).astype(np.float32), scores, iou)[:max_det]
    return Decoded(xyxy[kept], scores[kept], cls_idx[kept].astype(np.int64))


def to_source(xyxy: np.ndarray, plan: Letterbox) -> np.ndarray:
    """Model-input boxes (x1, y1, x2, y2) mapped back onto the source picture and clipped to
    it (Ultralytics ``scale_boxes`` + ``clip_boxes``), continuous pixels."""
    h, w = plan.source
    gain = min(plan.shape[0] / h, plan.shape[1] / w)
    pad_x = round((plan.shape[1] - w * gain) / 2 - 0.1)
    pad_y = round((plan.shape[0] - h * gain) / 2 - 0.1)
    out = np.asarray(xyxy, dtype=np.float64).copy()
    out[:, [0, 2]] -= pad_x
    out[:, [1, 3]] -= pad_y
    out /= gain
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
    return out


__all__ = ["LAYOUTS", "YOLOV5", "YOLOV8", "YOLOV8T", "END2END", "NMS", "Letterbox", "Decoded", "letterbox",
           "letterbox_plan", "to_tensor", "guess_layout", "check_layout", "decode", "nms",
           "to_source", "layout_words",
           "make_divisible", "anchor_count"]
