"""Which output(s) of a YOLO ONNX graph hold its detections, and in which layout.

Pure Python: decided from output names and shapes (ints; strings or None for free
dimensions), the number of class names and what the export's metadata says, so that the
same rules pick the head when a model is imported (static shapes) and when it first runs
(the actual shapes, where every dimension is known).

Layouts (``N`` anchors or rows, ``nc`` classes, ``k`` extra channels: 32 mask coefficients
of a segment head, ``prod(kpt_shape)`` (51) keypoint values of a pose head, else 0); the batch
axis (first, 1 or free) may be present or not:

- ``yolov8``  ``[1, 4+nc+k, N]``: cx, cy, w, h, class scores (v8, v9, v11, v12, YOLO26 with
  NMS); ``yolov8-transposed`` ``[1, N, 4+nc+k]``: the same rows, transposed by a tool;
- ``yolov5``  ``[1, N, 5+nc+k]``: cx, cy, w, h, objectness, class scores; Vellum assumes, as
  Ultralytics' v5 ``non_max_suppression`` does, that the class scores are *not* yet multiplied
  by the objectness: confidence = objectness x class score (v5, v7, v6 heads);
- ``end2end`` ``[1, N, 6+k]``: x1, y1, x2, y2, score, class, already suppressed (v10, YOLO26
  NMS-free heads, Ultralytics ``nms=True`` exports);
- ``nms`` several outputs of an export with NMS inside (YOLOv7 ``--end2end``, TensorRT
  EfficientNMS style): ``num_dets [1, 1]`` (optional), ``det_boxes|boxes [1, K, 4]`` x1, y1,
  x2, y2, ``det_scores|scores [1, K]``, ``det_classes|classes [1, K]``.

Boxes are in the model input's pixels. Ambiguous shapes are settled by the class-name count,
the extra channels the metadata implies (``task``, ``kpt_shape``, the prototype output of a
segment export), the metadata's ``end2end`` / ``args.nms``, and whether ``N`` is the anchor
count of the input (strides 8, 16, 32 (and 64), 1 or 3 anchors per cell: an anchor head) or
not (an end-to-end head's ``max_det`` rows, 300).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

YOLOV5, YOLOV8, YOLOV8T, END2END, NMS = ("yolov5", "yolov8", "yolov8-transposed", "end2end",
                                         "nms")
LAYOUTS = (YOLOV5, YOLOV8, YOLOV8T, END2END, NMS)
#: Extra channels after the class scores when the export does not say: none, 32 mask
#: coefficients (segment), 17 x 3 keypoint values (pose).
DEFAULT_EXTRAS = (0, 32, 51)
#: The order in which a shape that fits several layouts is read (rare after the checks).
PREFERENCE = (YOLOV8, YOLOV5, END2END, YOLOV8T)
NMS_ROLES = ("boxes", "scores", "classes", "num_dets")

Dim = Any  # int, or str/None for a free dimension


def _int(d: Dim) -> int | None:
    return d if isinstance(d, int) and not isinstance(d, bool) and d >= 0 else None


@dataclass(frozen=True)
class Hints:
    """What helps read an output: ``nc`` class names, the input ``hw`` (None when free),
    the export's ``end2end`` word (None when it gave none) and the ``extras`` (channels after
    the class scores) it may have."""

    nc: int
    hw: tuple[int, int] | None = None
    end2end: bool | None = None
    extras: tuple[int, ...] = DEFAULT_EXTRAS


@dataclass(frozen=True)
class Head:
    """The detection head: its ``layout`` and output name(s): one for a single-output layout;
    for ``nms`` (boxes, scores, classes, num_dets or "")."""

    layout: str
    outputs: tuple[str, ...]


def extras_for(task: str | None, kpt_shape: Any = None,
               outputs: Mapping[str, Sequence[Dim]] | None = None) -> tuple[int, ...]:
    """The extra channels an export of Ultralytics ``task`` carries (``kpt_shape`` for pose;
    a segment export's mask coefficients count its prototype output's channels)."""
    protos = [_int(s[1]) for s in (outputs or {}).values() if len(s) == 4 and _int(s[1])]
    if task == "detect":
        return (0,)
    if task == "segment":
        return (protos[0] if protos else 32,)
    if task == "pose":
        try:
            return (int(math.prod(int(v) for v in kpt_shape)),) if kpt_shape else (51,)
        except (TypeError, ValueError):
            return (51,)
    return tuple(sorted(set(DEFAULT_EXTRAS) | set(protos)))


def core(shape: Sequence[Dim]) -> tuple[Dim, Dim] | None:
    """The (rows or channels, columns) of a 2-D output, or of a 3-D one without its batch
    axis; None for other ranks."""
    if len(shape) == 3:
        return shape[1], shape[2]
    if len(shape) == 2:
        return shape[0], shape[1]
    return None


def anchor_counts(hw: tuple[int, int]) -> set[int]:
    """Anchor counts of an (H, W) input: P5 (strides 8, 16, 32) and P6 (and 64) heads, 1 or 3
    anchors per cell, feature sizes rounded down or up."""
    out = set()
    for strides in ((8, 16, 32), (8, 16, 32, 64)):
        for rnd in (math.floor, math.ceil):
            cells = sum(rnd(hw[0] / s) * rnd(hw[1] / s) for s in strides)
            out |= {cells, 3 * cells}
    return out


def anchor_like(n: Dim, hw: tuple[int, int] | None) -> bool | None:
    """Whether ``n`` rows are an anchor head's (None when ``n`` is free): the input's anchor
    count when the input size is known, or any multiple of 21 (P5: 16 + 4 + 1 cells per 32 x 32
    pixels) or 85 (P6) cells; an end-to-end head's 300 rows are neither."""
    n = _int(n)
    if n is None:
        return None
    if hw is not None and n in anchor_counts(hw):
        return True
    return n > 0 and (n % 21 == 0 or n % 85 == 0)


def candidates(shape: Sequence[Dim], h: Hints) -> list[str]:
    """Every single-output layout ``shape`` fits with ``h`` (before tie-breaking)."""
    c = core(shape)
    if c is None or h.nc <= 0:
        return []
    a, b = c
    ai, bi = _int(a), _int(b)
    out = []
    if ai is not None and ai - 4 - h.nc in h.extras:
        if bi is None or bi > ai or anchor_like(bi, h.hw):
            out.append(YOLOV8)
    if bi is not None and bi - 4 - h.nc in h.extras and anchor_like(a, h.hw) is not False:
        if ai is None or ai > bi or anchor_like(ai, h.hw):
            out.append(YOLOV8T)
    if bi is not None and bi - 5 - h.nc in set(h.extras) & {0, 32}:  # v5: detect, segment
        if ai is None or ai > bi or anchor_like(ai, h.hw):
            out.append(YOLOV5)
    if bi is not None and bi - 6 in set(h.extras) | {0}:
        out.append(END2END)
    return out


def settle(shape: Sequence[Dim], h: Hints) -> tuple[str | None, list[str]]:
    """``(layout or None, the candidates left)``: the one layout ``shape`` is read as, None
    when it fits none or (with free dimensions) several."""
    found = candidates(shape, h)
    if len(found) > 1 and h.end2end is not None:
        keep = [f for f in found if (f == END2END) == h.end2end]
        found = keep or found
    c = core(shape)
    rows = c[0] if c else None
    if len(found) > 1 and _int(rows) is not None:
        anchors = anchor_like(rows, h.hw)
        keep = [f for f in found if (f == END2END) != anchors or f == YOLOV8]
        found = keep or found
    if len(found) == 1:
        return found[0], found
    if len(found) > 1 and all(_int(d) is not None for d in shape):
        return next(p for p in PREFERENCE if p in found), found
    return None, found


def check_layout(shape: Sequence[Dim], layout: str, nc: int) -> bool:
    """Whether an output of ``shape`` can be read as single-output ``layout`` with ``nc``
    classes (a manifest's ``layout`` override is checked with this; extras are free)."""
    c = core(shape)
    if c is None:
        return False
    a, b = (_int(d) for d in c)
    if layout == YOLOV8:
        return a is None or a >= 4 + nc
    if layout == YOLOV8T:
        return b is None or b >= 4 + nc
    if layout == YOLOV5:
        return b is None or b >= 5 + nc
    return layout == END2END and (b is None or b >= 6)


def _role(name: str) -> str | None:
    low = name.lower()
    if "num" in low or "count" in low:
        return "num_dets"
    if "box" in low:
        return "boxes"
    if "score" in low or "conf" in low:
        return "scores"
    if "class" in low or "label" in low or "cls" in low:
        return "classes"
    return None


def nms_head(outputs: Mapping[str, Sequence[Dim]]) -> Head | None:
    """The outputs of an export with NMS inside (see the module text), by name where the
    names say (``num``, ``box``, ``score``, ``class``), else by shape in EfficientNMS order
    (num_dets, boxes, scores, classes); None when they are not such a set."""
    if len(outputs) < 3:
        return None
    boxes = [n for n, s in outputs.items() if len(s) in (2, 3) and _int(s[-1]) == 4
             and (len(s) == 2 or _int(s[0]) in (1, None))]
    if len(boxes) != 1:
        return None
    box = boxes[0]
    k = _int(outputs[box][-2])
    rest = [n for n in outputs if n != box]
    counts = [n for n in rest if all(_int(d) == 1 for d in outputs[n])
              and (_role(n) in (None, "num_dets")) and len(outputs[n]) <= 2]
    vectors = [n for n in rest if len(outputs[n]) in (1, 2) and n not in counts[:1]
               and (k is None or _int(outputs[n][-1]) in (k, None))]
    named = {r: [n for n in vectors if _role(n) == r] for r in ("scores", "classes")}
    if len(named["scores"]) == 1 and len(named["classes"]) == 1:
        scores, classes = named["scores"][0], named["classes"][0]
    else:
        plain = [n for n in vectors if _role(n) in (None, "scores", "classes")]
        if len(plain) != 2:
            return None
        scores, classes = plain
    num = next((n for n in counts if n not in (scores, classes)), "")
    return Head(NMS, (box, scores, classes, num))


def choose_head(outputs: Mapping[str, Sequence[Dim]], h: Hints, *,
                layout: str | None = None, output: Any = None) -> Head | None:
    """The detection head among ``outputs`` (name -> shape, in the graph's order): a
    manifest's ``layout`` / ``output`` when given (checked), else an NMS set, else the one
    output whose shape settles to a layout (prototypes, rank 4, and other ranks are skipped;
    among several, ``output0``/``output`` first, then the graph's order). None when none is
    found, or when free dimensions leave it open (the actual shapes settle it)."""
    if layout == NMS or (layout is None and output is None):
        if isinstance(output, (list, tuple)) and len(output) >= 3:
            names = tuple(str(o) for o in output) + ("",) * (4 - len(output))
            if all(n in outputs for n in names[:3]):
                return Head(NMS, names[:4])
        found = nms_head(outputs)
        if found is not None or layout == NMS:
            return found
    names = [str(output)] if isinstance(output, str) and output in outputs else list(outputs)
    names.sort(key=lambda n: (n not in ("output0", "output"), list(outputs).index(n)))
    for name in names:
        shape = outputs[name]
        if core(shape) is None:
            continue
        if layout is not None:
            if check_layout(shape, layout, h.nc):
                return Head(layout, (name,))
            continue
        settled, _ = settle(shape, h)
        if settled is not None:
            return Head(settled, (name,))
    return None


def shapes_words(outputs: Mapping[str, Sequence[Dim]]) -> str:
    """``output [1, 7, 64]`` or ``outputs a [..], b [..]`` for a sentence."""
    def dims(s: Sequence[Dim]) -> str:
        return "[" + ", ".join(str(d) if d is not None else "?" for d in s) + "]"

    if len(outputs) == 1:
        return f"output {dims(next(iter(outputs.values())))}"
    return "outputs " + ", ".join(f"{n} {dims(s)}" for n, s in outputs.items())


def layout_words(layout: str) -> str:
    return {YOLOV5: "YOLOv5 [1, N, 5+classes]", YOLOV8: "YOLOv8/11 [1, 4+classes, N]",
            YOLOV8T: "transposed YOLOv8 [1, N, 4+classes]",
            END2END: "end-to-end [1, N, 6]",
            NMS: "NMS outputs (num_dets, boxes [1, K, 4], scores, classes)"}[layout]


def has_free_dims(outputs: Mapping[str, Sequence[Dim]]) -> bool:
    return any(_int(d) is None for s in outputs.values() for d in s)


def possible(outputs: Mapping[str, Sequence[Dim]], h: Hints) -> bool:
    """Whether some output (or an NMS set) could be a detection head once free dimensions
    are known."""
    return nms_head(outputs) is not None or any(candidates(s, h) for s in outputs.values())



@dataclass(frozen=True)
class ImageInput:
    """The image input of a detector graph: its ``name``, ``channels_last`` (NHWC, from
    TensorFlow conversions; Ultralytics exports are NCHW), ``hw`` (H, W; None where free) and
    its fixed ``batch`` (1 when free: a larger fixed batch gets the picture repeated)."""

    name: str
    channels_last: bool
    hw: tuple[Dim, Dim]
    batch: int

    @property
    def fixed_hw(self) -> tuple[int, int] | None:
        h, w = (_int(d) for d in self.hw)
        return (h, w) if h and w else None


def image_input(inputs: Mapping[str, Sequence[Dim]]) -> ImageInput | None:
    """The one image input ``[B, 3, H, W]`` (or ``[B, H, W, 3]``) among ``inputs`` (name ->
    shape), whatever its name; None when the graph has no such single input."""
    if len(inputs) != 1:
        return None
    name, shape = next(iter(inputs.items()))
    if len(shape) != 4:
        return None
    batch = _int(shape[0]) or 1
    if _int(shape[1]) in (3, None) and not (_int(shape[1]) is None and _int(shape[3]) == 3):
        return ImageInput(name, False, (shape[2], shape[3]), batch)
    if _int(shape[3]) == 3:
        return ImageInput(name, True, (shape[1], shape[2]), batch)
    return None


__all__ = ["LAYOUTS", "YOLOV5", "YOLOV8", "YOLOV8T", "END2END", "NMS", "Hints", "Head",
           "extras_for", "core", "anchor_counts", "anchor_like", "candidates", "settle",
           "check_layout", "nms_head", "choose_head", "shapes_words", "layout_words",
           "has_free_dims", "possible", "ImageInput", "image_input"]
