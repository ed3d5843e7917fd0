"""Tiny stand-ins for the segment-anything engine and session (no weights), shared by the SAM
tool tests.

:class:`FakeEngine` answers like a model would: the box filled (or a disc of radius 12 around
each positive point), minus a disc around each negative point, with a fixed score; it records
every request. ``sync=False`` keeps answers until :meth:`FakeEngine.flush`, so a test can
answer out of order as a slow worker would.

:class:`ThresholdSession` is a ``SamSession`` for propagation: inside the prompt box it keeps
the pixels brighter than ``level`` (of the encoded 8-bit picture), score 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.tools.sam_protocol import SamAnswer, SamModel


def disc(h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r


def box_mask(h: int, w: int, box) -> np.ndarray:
    x, y, bw, bh = box
    cols, rows = np.arange(w) + 0.5, np.arange(h) + 0.5
    return ((rows[:, None] > y) & (rows[:, None] < y + bh)
            & (cols[None, :] > x) & (cols[None, :] < x + bw))


class FakeEngine:
    def __init__(self, needs_box: bool = False, sync: bool = True, score: float = 0.9,
                 model_id: str = "fake-sam") -> None:
        self.needs_box, self.sync, self.score, self.model_id = needs_box, sync, score, model_id
        self.requests: list = []
        self.prepared: list = []
        self.prefetched: list = []
        self.waiting: list = []
        self.repaints = 0
        self.sessions: dict = {}

    def models(self) -> list[SamModel]:
        return [SamModel(self.model_id, "Fake SAM", self.needs_box)]

    def prepare(self, model_id, picture) -> None:
        self.prepared.append(picture)

    def prefetch(self, model_id, pictures) -> None:
        self.prefetched.append(list(pictures))

    def predict(self, request, reply) -> None:
        self.requests.append(request)
        if self.sync:
            reply(self.answer(request))
        else:
            self.waiting.append((request, reply))

    def flush(self, order=None) -> None:
        waiting, self.waiting = self.waiting, []
        for n in (order if order is not None else range(len(waiting))):
            request, reply = waiting[n]
            reply(self.answer(request))

    def answer(self, request) -> SamAnswer:
        pixels = request.picture.pixels()
        h, w = pixels.shape[:2]
        mask = np.zeros((h, w), bool)
        if request.box is not None:
            mask |= box_mask(h, w, request.box)
        for (x, y), label in zip(request.points, request.labels):
            if label == 1 and request.box is None:
                mask |= disc(h, w, x, y, 12)
        for (x, y), label in zip(request.points, request.labels):
            if label == 0:
                mask &= ~disc(h, w, x, y, 6)
        return SamAnswer(request.serial, mask, self.score, self.model_id)

    def repaint(self, tool) -> None:
        self.repaints += 1

    def session(self, model_id):
        return self.sessions.setdefault(model_id, ThresholdSession(model_id))


@dataclass
class _Best:
    mask: np.ndarray
    score: float
    source: str

    def best(self):
        return self


class ThresholdSession:
    """Segments the bright object inside the prompt box (see the module doc)."""

    def __init__(self, model_id: str = "fake-sam", level: int = 128, score: float = 0.9) -> None:
        self.model_id, self.level, self.score = model_id, level, score
        self._image: np.ndarray | None = None
        self.encoded: list[str] = []

    def encode(self, image, place="", content=None):
        self.encoded.append(place)
        return np.asarray(image)

    def set_image(self, image, place="", content=None):
        self._image = self.encode(image, place, content)
        return self._image

    def prefetch(self, items):
        return None

    def predict(self, box=None, points=(), labels=(), mask_input=None, multimask=False,
                embedding=None):
        image = np.asarray(embedding if embedding is not None else self._image)
        grey = image if image.ndim == 2 else image.mean(axis=2)
        h, w = grey.shape
        inside = box_mask(h, w, box) if box is not None else np.ones((h, w), bool)
        return _Best(inside & (grey > self.level), self.score, self.model_id)
