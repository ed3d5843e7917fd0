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
# A found box whose own features (no context) fall under VERIFY times their recent similarity
# to the first box is a distractor or an occluder: the frame is lost. A lost target is taken
# back when a wider search finds a confident box above REDETECT times that similarity.
VERIFY, REDETECT = 0.6, 0.55


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

    def _crop(self, bgr: np.ndarray, centre: np.ndarray, size: np.ndarray, model: int,
              context: float | None = None) -> np.ndarray:
        pad = (self.context if context is None else context) * float(size.sum())
        side = float(np.sqrt((size[0] + pad) * (size[1] + pad)))
        return subwindow(bgr, centre, model, max(1, round(side * model / self.exemplar)),
                         self.fill)

    def _appearance(self, bgr: np.ndarray, centre: np.ndarray) -> float:
        """Cosine similarity of the backbone features of the box alone (no context, so the
        background does not count) at ``centre`` with those of the first frame's box."""
        f = self._features(self._crop(bgr, centre, self.size, self.exemplar, 0.0)).ravel()
        return float(f @ self._unit / (np.linalg.norm(f) + 1e-12))

    def init(self, frame: np.ndarray, box: Box) -> None:
        bgr = np.ascontiguousarray(frame[:, :, ::-1])
        x, y, w, h = (float(v) for v in box)
        self.centre = np.array([x + w / 2 - 0.5, y + h / 2 - 0.5])
        self.size = np.array([max(w, 1.0), max(h, 1.0)])
        self.fill = bgr.reshape(-1, 3).mean(axis=0)
        self.template = self._features(self._crop(bgr, self.centre, self.size, self.exemplar))
        flat = self._features(self._crop(bgr, self.centre, self.size, self.exemplar, 0.0)
                              ).ravel()
        self._unit = flat / (np.linalg.norm(flat) + 1e-12)
        self._look: float | None = None  # running appearance similarity on confident frames
        self._velocity = np.zeros(2)
        self._lost = 0

    def box(self) -> Box:
        """The current box in continuous pixel coordinates."""
        w, h = self.size
        return (float(self.centre[0] + 0.5 - w / 2), float(self.centre[1] + 0.5 - h / 2),
                float(w), float(h))

    def _search(self, bgr: np.ndarray, centre: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, float]:
        """One Siamese step around ``centre``: the new centre, size and raw score (upstream
        NanoTrack: scale/ratio penalty, cosine window, size learning rate)."""
        side = self._crop_side()
        scale = self.exemplar / side
        crop = self._crop(bgr, centre, self.size, self.instance)
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
        new_centre = np.array([cx[best] / scale + centre[0], cy[best] / scale + centre[1]])
        size = self.size * (1 - lr) + np.array([w[best], h[best]]) / scale * lr
        height, width = bgr.shape[:2]
        return (np.clip(new_centre, 0, [width, height]), np.clip(size, 10, [width, height]),
                float(score[best]))

    def _accept(self, bgr: np.ndarray, centre: np.ndarray, score: float, ratio: float
                ) -> tuple[bool, float, float]:
        """Whether a candidate is the target: a score above ``lost_below`` and features as
        close to the first box's as ``ratio`` of the recent similarity. Returns the decision,
        the confidence to report and the similarity."""
        look = self._appearance(bgr, centre)
        if self._look is None:
            return score >= self.lost_below, score, look
        relative = look / max(self._look, 1e-6)
        return (score >= self.lost_below and relative >= ratio, score * min(1.0, relative),
                look)

    def update(self, frame: np.ndarray) -> tuple[Box, float, bool]:
        """Locate the target in ``frame``: ``(box, score, lost)``. A frame is *lost* when the
        Siamese score falls under ``lost_below`` or the found box no longer looks like the
        template (a distractor, an occluder): the box then coasts with the last velocity (the
        size frozen) while a wider search around it looks for the target to reappear."""
        if self.template is None:
            raise ValueError("init must be called before update")
        bgr = np.ascontiguousarray(frame[:, :, ::-1])
        if self._lost:
            self.centre = self.centre + self._velocity * (0.9 ** self._lost)
        centre, size, score = self._search(bgr, self.centre)
        ok, confidence, look = self._accept(bgr, centre, score, VERIFY)
        if not ok and self._lost:
            ok, centre, size, confidence, look = self._redetect(
                bgr, (centre, size, confidence, look))
        if not ok:
            self._lost += 1
            return self.box(), min(confidence, self.lost_below), True
        step = centre - self.centre
        self._velocity = step if self._look is None else 0.7 * self._velocity + 0.3 * step
        if self._lost:
            self._velocity = np.zeros(2)
        self.centre, self.size, self._lost = centre, size, 0
        self._look = look if self._look is None else 0.9 * self._look + 0.1 * look
        return self.box(), confidence, False

    def _redetect(self, bgr: np.ndarray, best: tuple[np.ndarray, np.ndarray, float, float]
                  ) -> tuple[bool, np.ndarray, np.ndarray, float, float]:
        """Search a 3 x 3 ring of windows around the coasting position; accept the most
        confident candidate that also looks like the template."""
        reach = self._crop_side() * self.instance / self.exemplar / 2
        found = (False, *best)
        top = -1.0
        for dy in (-reach, 0.0, reach):
            for dx in (-reach, 0.0, reach):
                if dx == 0.0 and dy == 0.0:
                    continue
                centre, size, score = self._search(bgr, self.centre + np.array([dx, dy]))
                if score < self.lost_below or score <= top:
                    continue
                ok, confidence, look = self._accept(bgr, centre, score, REDETECT)
                if ok:
                    top, found = score, (True, centre, size, confidence, look)
        return found
