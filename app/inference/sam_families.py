"""How each Segment Anything family is fed: image preprocessing, prompt coordinates, decoder
inputs and outputs. Callers never see these: :class:`app.inference.sam.SamSession` picks the
family from the pack's manifest.

Coordinates in and out are continuous pixel coordinates of the original image (origin at the
top-left corner of the top-left pixel, ``x`` = column). SAM itself works in pixel-*index*
space (its prompt encoder adds 0.5 to reach pixel centres), so a point moves by -0.5 before
scaling; box corners pass unchanged, which is how SAM's own box prompts and the LiteMedSAM
reference cases are written (``X Y W H`` -> corners ``(X, Y)``, ``(X + W, Y + H)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.inference.manifest import Manifest

LOW_RES = 256  # side of SAM's low-resolution mask logits (and of mask_input)
IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
IMAGENET_STD = np.array([58.395, 57.12, 57.375], np.float32)


@dataclass(frozen=True)
class Frame:
    """Where the original image sits in the model's square input: original ``(H, W)``, resized
    ``(h, w)`` (top-left aligned, padded bottom/right) and the input side."""

    original: tuple[int, int]
    resized: tuple[int, int]
    side: int


def resized_size(h: int, w: int, side: int) -> tuple[int, int]:
    """``ResizeLongestSide``: the longest side becomes ``side``, rounding half up."""
    scale = side / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights of PIL's antialiased bilinear (triangle) filter along one axis."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centre = (np.arange(n_out) + 0.5) * scale
    lo = np.maximum((centre - support + 0.5).astype(np.int64), 0)
    width = int(np.ceil(2 * support)) + 2
    idx = lo[:, None] + np.arange(width)[None, :]
    weight = np.maximum(0.0, 1.0 - np.abs((idx - centre[:, None] + 0.5) / support))
    weight[idx >= n_in] = 0.0
    weight /= weight.sum(axis=1, keepdims=True)
    return np.minimum(idx, n_in - 1), weight


def resize_antialias(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Resize uint8 ``(H, W, C)`` as PIL's ``Image.resize(BILINEAR)`` does (triangle filter
    widened when shrinking; each pass rounded to uint8), without needing Pillow."""
    out = img.astype(np.float64)
    if out.shape[1] != w:
        idx, wt = _taps(out.shape[1], w)
        out = np.clip(np.round(np.einsum("hikc,ik->hic", out[:, idx], wt)), 0, 255)
    if out.shape[0] != h:
        idx, wt = _taps(out.shape[0], h)
        out = np.clip(np.round(np.einsum("ikwc,ik->iwc", out[idx], wt)), 0, 255)
    return out.astype(np.uint8)


class SamFamily:
    """Base: a family knows its encoder input and decoder feeds. Subclasses override."""

    multimask_capable = True

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.side = manifest.input_size or 1024
        prompt = manifest.prompt
        self.needs_box = bool(prompt.get("needs_box", False))
        self.multimask_capable = bool(prompt.get("multimask", True))

    def preprocess(self, rgb: np.ndarray) -> tuple[np.ndarray, Frame]:
        raise NotImplementedError

    def scale(self, frame: Frame) -> tuple[float, float]:
        """Factors from original pixel coordinates to model input coordinates (x, y)."""
        raise NotImplementedError

    def prompt_arrays(self, frame: Frame, box: tuple[float, float, float, float] | None,
                      points: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``point_coords`` [1, N, 2] and ``point_labels`` [1, N] as SAM's ONNX decoder wants
        them; ``box`` is ``(x, y, w, h)``, points ``(N, 2)`` continuous, labels 1/0."""
        sx, sy = self.scale(frame)
        coords = [(x - 0.5, y - 0.5) for x, y in points]
        labs = [float(v) for v in labels]
        if box is not None:
            x, y, w, h = box
            coords += [(x, y), (x + w, y + h)]
            labs += [2.0, 3.0]
        else:
            coords.append((0.0, 0.0))
            labs.append(-1.0)
        c = np.asarray(coords, np.float32).reshape(1, -1, 2) * np.array([sx, sy], np.float32)
        if box is None:
            c[0, -1] = 0.0
        return c, np.asarray(labs, np.float32).reshape(1, -1)

    def extra_feeds(self, frame: Frame) -> dict[str, np.ndarray]:
        return {}

    def postprocess(self, outputs: dict[str, np.ndarray], frame: Frame, multimask: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(logits (M, H, W) float32 at the original size, scores (M,), low-res (M, 256,
        256))``, best-first when several masks are returned."""
        raise NotImplementedError

    def pick(self, count: int, multimask: bool) -> list[int]:
        """Which of the decoder's masks answer: SAM returns 4 (0 = single-mask answer, 1-3 the
        multimask choice); a single-mask export returns 1."""
        if count >= 4 and multimask and self.multimask_capable:
            return [1, 2, 3]
        return [0]


class LiteMedSam(SamFamily):
    """LiteMedSAM (MedSAM's published recipe): longest side 256 by area interpolation on
    float32, min-max to [0, 1] over the resized image, zero padding; low-res logits only."""

    def preprocess(self, rgb: np.ndarray) -> tuple[np.ndarray, Frame]:
        h, w = rgb.shape[:2]
        nh, nw = resized_size(h, w, self.side)
        small = cv2.resize(rgb.astype(np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
        lo, hi = float(small.min()), float(small.max())
        small = (small - lo) / max(hi - lo, 1e-8)
        padded = np.zeros((self.side, self.side, 3), np.float32)
        padded[:nh, :nw] = small
        return padded.transpose(2, 0, 1)[None].copy(), Frame((h, w), (nh, nw), self.side)

    def scale(self, frame: Frame) -> tuple[float, float]:
        s = self.side / max(frame.original)
        return s, s

    def postprocess(self, outputs, frame, multimask):
        low = outputs["low_res_masks"][0]
        scores = outputs["iou_predictions"].reshape(-1)
        chosen = self.pick(low.shape[0], multimask)
        (h, w), (nh, nw) = frame.original, frame.resized
        logits = np.stack([cv2.resize(np.ascontiguousarray(low[i, :nh, :nw]), (w, h),
                                      interpolation=cv2.INTER_LINEAR) for i in chosen])
        return logits, scores[chosen], low[chosen]


class SamVitOnnx(SamFamily):
    """The official SAM ViT ONNX layout: longest side 1024 (PIL bilinear), ImageNet mean/std
    on 0-255 values, zero padding after normalising; the decoder takes ``orig_im_size`` and
    returns logits at the original size, scores and low-res logits."""

    def preprocess(self, rgb: np.ndarray) -> tuple[np.ndarray, Frame]:
        h, w = rgb.shape[:2]
        nh, nw = resized_size(h, w, self.side)
        small = (resize_antialias(rgb, nh, nw).astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD
        padded = np.zeros((self.side, self.side, 3), np.float32)
        padded[:nh, :nw] = small
        return padded.transpose(2, 0, 1)[None].copy(), Frame((h, w), (nh, nw), self.side)

    def scale(self, frame: Frame) -> tuple[float, float]:
        (h, w), (nh, nw) = frame.original, frame.resized
        return nw / w, nh / h

    def extra_feeds(self, frame: Frame) -> dict[str, np.ndarray]:
        return {"orig_im_size": np.array(frame.original, np.float32)}

    def postprocess(self, outputs, frame, multimask):
        masks = outputs["masks"][0]
        scores = outputs["iou_predictions"].reshape(-1)
        low = outputs.get("low_res_masks")
        chosen = self.pick(masks.shape[0], multimask)
        low_res = low[0][chosen] if low is not None else np.zeros(
            (len(chosen), LOW_RES, LOW_RES), np.float32)
        return masks[chosen].astype(np.float32), scores[chosen], low_res


def family_for(manifest: Manifest) -> SamFamily:
    """The segment family feeding ``manifest``'s pack, as registered in
    :mod:`app.inference.tasks` (``ModelError`` when it is not a segment family)."""
    from app.core.errors import ModelError
    from app.inference.tasks import SEGMENT, family

    found = family(manifest.family)
    if found is None or found.task != SEGMENT:
        raise ModelError(f"{manifest.id} names a model family Vellum cannot run "
                         f"({manifest.family!r} for {manifest.task!r}).", manifest.id)
    return found.load()(manifest)
