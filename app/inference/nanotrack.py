"""NanoTrack (v2, v3): a Siamese single-object tracker through the runtime.

Recipe as upstream (SiamTrackers / pysot): the template is a 127 x 127 crop of the first box
with context, the search region a 255 x 255 crop around the last position, both padded with
the first frame's mean colour, BGR 0-255 float32. The head's class logits (softmax) and box
offsets (l, t, r, b from each grid point, stride 16) are penalised for scale and aspect-ratio
change, blended with a cosine window, and the size is updated with a learning rate.

Internally positions are pysot's pixel-index centres; boxes in and out are continuous pixel
coordinates ``(x, y, w, h)`` (index centre = continuous centre - 0.5).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from app.core.errors import ModelError
from app.inference.packs import InstalledPack, open_pack
from app.inference.runtime import Runtime, default_runtime

Box = tuple[float, float, float, float]


def subwindow(image: np.ndarray, centre: np.ndarray, model_size: int, crop_size: int,
              fill: np.ndarray) -> np.ndarray:
    """Square crop of side ``crop_size`` centred on ``centre`` (pixel-index x, y), padded with
    ``fill`` where it leaves the image, resized to ``model_size``; NCHW float32."""
    h, w = image.shape[:2]
    c = (crop_size + 1) / 2
    x0 = int(np.floor(centre[0] - c + 0.5))
    y0 = int(np.floor(centre[1] - c + 0.5))
    x1, y1 = x0 + crop_size, y0 + crop_size
    left, top = max(0, -x0), max(0, -y0)
    right, bottom = max(0, x1 - w), max(0, y1 - h)
    if left or top or right or bottom:
        patch = np.empty((crop_size, crop_size, 3), np.uint8)
        patch[:] = fill
        ys, xs = slice(max(0, y0), min(h, y1)), slice(max(0, x0), min(w, x1))
        if ys.stop > ys.start and xs.stop > xs.start:
            patch[top:top + ys.stop - ys.start, left:left + xs.stop - xs.start] = image[ys, xs]
    else:
        patch = image[y0:y1, x0:x1]
    if model_size != crop_size:
        patch = cv2.resize(patch, (model_size, model_size))
    return patch.transpose(2, 0, 1)[None].astype(np.float32)


class NanoTracker:
    """``init(frame, box)`` then ``update(frame) -> (box, score)``; frames RGB uint8."""

    def __init__(self, model: str | InstalledPack = "nanotrack-v2",
                 runtime: Runtime | None = None, models_root: Path | None = None) -> None:
        pack = model if isinstance(model, InstalledPack) else open_pack(model, models_root)
        if pack.manifest.family != "nanotrack":
            raise ModelError(f"{pack.id} is not a NanoTrack model.", pack.folder)
        self.pack, self.model_id = pack, pack.id
        runtime = runtime or default_runtime()
        self.backbone = runtime.session(pack.path("backbone"), label=f"The {pack.id} backbone",
                                        sha256=pack.files["backbone"].get("installed_sha256"))
        self.head = runtime.session(pack.path("head"), label=f"The {pack.id} head",
                                    sha256=pack.files["head"].get("installed_sha256"))
        t = pack.manifest.tracking
        self.grid = int(t.get("score_size", 16))
        self.stride = int(t.get("stride", 16))
        self.exemplar = int(t.get("exemplar_size", 127))
        self.instance = int(t.get("instance_size", 255))
        self.context = float(t.get("context_amount", 0.5))
        self.window_influence = float(t.get("window_influence", 0.49))
        self.penalty_k = float(t.get("penalty_k", 0.15))
        self.lr = float(t.get("lr", 0.385))
        self.lost_below = float(t.get("lost_below", 0.25))
        hanning = np.hanning(self.grid)
        self.window = np.outer(hanning, hanning).ravel()
        offsets = (np.arange(self.grid) - self.grid // 2) * self.stride
        px, py = np.meshgrid(offsets, offsets)
        self.points = np.stack([px.ravel(), py.ravel()]).astype(np.float32)
        self._names = (next(iter(self.backbone.inputs)), list(self.head.inputs))
        self.centre = np.zeros(2)
        self.size = np.ones(2)
        self.fill = np.zeros(3)
        self.template: np.ndarray | None = None

    @property
    def device(self) -> str:
        return self.backbone.device

    def _features(self, crop: np.ndarray) -> np.ndarray:
        return self.backbone.run(None, {self._names[0]: crop})[0]

    def _crop_side(self) -> float:
        pad = self.context * float(self.size.sum())
        return float(np.sqrt((self.size[0] + pad) * (self.size[1] + pad)))

    def init(self, frame: np.ndarray, box: Box) -> None:
        bgr = np.ascontiguousarray(frame[:, :, ::-1])
        x, y, w, h = (float(v) for v in box)
        self.centre = np.array([x + w / 2 - 0.5, y + h / 2 - 0.5])
        self.size = np.array([max(w, 1.0), max(h, 1.0)])
        self.fill = bgr.reshape(-1, 3).mean(axis=0)
        crop = subwindow(bgr, self.centre, self.exemplar, round(self._crop_side()), self.fill)
        self.template = self._features(crop)

    def box(self) -> Box:
        """The current box in continuous pixel coordinates."""
        w, h = self.size
        return (float(self.centre[0] + 0.5 - w / 2), float(self.centre[1] + 0.5 - h / 2),
                float(w), float(h))

    def update(self, frame: np.ndarray) -> tuple[Box, float, bool]:
        """Locate the target in ``frame``: ``(box, score, lost)``. Below ``lost_below`` the
        target counts as lost (occluded, out of view): the state stays where it was last seen
        and that box is returned, so the target is found again when it reappears there."""
        if self.template is None:
            raise ValueError("init must be called before update")
        bgr = np.ascontiguousarray(frame[:, :, ::-1])
        side = self._crop_side()
        scale = self.exemplar / side
        crop = subwindow(bgr, self.centre, self.instance, round(side * self.instance
                                                                / self.exemplar), self.fill)
        names = self._names[1]
        cls, loc = self.head.run(None, {names[0]: self.template,
                                        names[1]: self._features(crop)})
        logits = cls[0].reshape(2, -1)
        e = np.exp(logits - logits.max(axis=0))
        score = e[1] / e.sum(axis=0)
        loc = loc[0].reshape(4, -1)
        x1, y1 = self.points[0] - loc[0], self.points[1] - loc[1]
        x2, y2 = self.points[0] + loc[2], self.points[1] + loc[3]
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1

        def change(r: np.ndarray) -> np.ndarray:
            return np.maximum(r, 1.0 / r)

        def padded(w_: np.ndarray, h_: np.ndarray) -> np.ndarray:
            pad = (w_ + h_) * 0.5
            return np.sqrt((w_ + pad) * (h_ + pad))

        with np.errstate(divide="ignore", invalid="ignore"):
            s_c = change(padded(w, h) / padded(self.size[0] * scale, self.size[1] * scale))
            r_c = change((self.size[0] / self.size[1]) / (w / h))
            penalty = np.nan_to_num(np.exp(-(r_c * s_c - 1) * self.penalty_k))
        pscore = penalty * score * (1 - self.window_influence) + self.window * \
            self.window_influence
        best = int(np.argmax(pscore))
        lr = penalty[best] * score[best] * self.lr
        centre = np.array([cx[best] / scale + self.centre[0], cy[best] / scale + self.centre[1]])
        size = self.size * (1 - lr) + np.array([w[best], h[best]]) / scale * lr
        height, width = frame.shape[:2]
        centre = np.clip(centre, 0, [width, height])
        size = np.clip(size, 10, [width, height])
        confidence = float(score[best])
        if confidence < self.lost_below:
            return self.box(), confidence, True
        self.centre, self.size = centre, size
        return self.box(), confidence, False
