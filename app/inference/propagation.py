"""Volume propagation: from a box on one slice, segment slice by slice up and down until the
object ends.

A pure function over a numpy volume ``[k, j, i]`` (real units, e.g. HU) and a
:class:`~app.inference.sam.SamSession`. Each slice along ``axis`` is windowed to 8-bit
(``window_to_uint8``) and encoded once; the prompt on the next slice is the previous mask's box
grown by ``margin`` pixels. A plain loop stops only on a low predicted IoU and so runs past
the ends (SAM happily segments the partial-volume cap or whatever touches the object); here a
slice is also refused when the mask stops looking like the seed's object:

* its area falls under ``min_area`` of the seed's, or it overlaps the previous slice's mask
  by less than ``min_overlap`` (IoU): the object ended or the mask jumped elsewhere;
* the band just outside it looks like the object's inside (``max_leak``): the object merged
  into a neighbour of the same intensity, so its edge is no longer an edge;
* its core no longer has the seed's intensity (``min_agree``).

Intensities are compared in the volume's own units, seed inside (median of the eroded mask)
against seed surroundings (median of a band 2-6 px outside). Slices kept with a weaker signal
are flagged for review.

``on_kept`` receives the kept slices in batches of ``every`` (the seed's first) while the
propagation runs, so that a caller can commit a long one in steps.

:func:`carry` is the one propagation loop over a sequence of places: the slices up and down
here and the video frames of ``app.inference.propagation_records.propagate_frames`` both run through
it, each with its own segmenting, judging and keeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import cv2
import numpy as np

from app.core.places import Place
from app.inference.masks import mask_box, window_to_uint8

AXES = "kji"
P = TypeVar("P")


def carry(places: Iterable[P], seed: np.ndarray,
          segment: Callable[[P, np.ndarray], tuple[np.ndarray, float]],
          judge: Callable[[P, np.ndarray, float, np.ndarray], tuple[str, str]],
          keep: Callable[[P, np.ndarray, float, str], None],
          halt: Callable[[P], str] | None = None) -> str:
    """The one propagation loop, over slices and frames alike: for each place in order,
    ``halt(place)`` may stop before it (cancelled, a limit, a shape already there);
    ``segment(place, previous mask)`` gives a mask and its score; ``judge(place, mask, score,
    previous)`` gives ``(stop, review)`` - a stop reason refuses the place and ends the run -
    and a kept one goes to ``keep(place, mask, score, review)`` and prompts the next place.
    Returns why it stopped, ``""`` when the places ran out."""
    prev = seed
    for place in places:
        stop = halt(place) if halt is not None else ""
        if stop:
            return stop
        mask, score = segment(place, prev)
        stop, review = judge(place, mask, score, prev)
        if stop:
            return stop
        keep(place, mask, score, review)
        prev = mask
    return ""


def grown_box(mask: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    """The box of ``mask`` grown by ``margin`` px on every side (the next place's prompt)."""
    x, y, w, h = mask_box(mask)  # type: ignore[misc]
    return (x - margin, y - margin, w + 2 * margin, h + 2 * margin)


@dataclass(frozen=True)
class SliceMask:
    """The mask on slice ``index`` along the axis, with the model's predicted IoU and why it
    is flagged for review ('' when it is not)."""

    index: int
    mask: np.ndarray
    score: float
    review: str = ""


@dataclass
class Propagation:
    """Per-slice masks (ascending index), the slices flagged for review and, for each
    direction, why propagation stopped there."""

    axis: int
    seed: int
    slices: list[SliceMask] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return self.slices[0].index

    @property
    def last(self) -> int:
        return self.slices[-1].index

    @property
    def review(self) -> list[int]:
        return [s.index for s in self.slices if s.review]

    def labelmap(self, shape: Sequence[int], value: int = 1) -> np.ndarray:
        """The masks as a ``uint8`` label volume of ``shape`` (``value`` inside)."""
        out = np.zeros(tuple(shape), np.uint8)
        for s in self.slices:
            index = [slice(None)] * 3
            index[self.axis] = s.index  # type: ignore[call-overload]
            out[tuple(index)][s.mask] = value
        return out


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _band(mask: np.ndarray, inner: int = 2, outer: int = 6) -> np.ndarray:
    m = mask.astype(np.uint8)
    return cv2.dilate(m, _disc(outer)).astype(bool) & ~cv2.dilate(m, _disc(inner)).astype(bool)


def _core(mask: np.ndarray, radius: int = 2) -> np.ndarray:
    core = cv2.erode(mask.astype(np.uint8), _disc(radius)).astype(bool)
    return core if core.any() else mask


@dataclass(frozen=True)
class _Seed:
    area: int
    inside: float
    outside: float
    contrast: bool


def _closer_to_inside(values: np.ndarray, seed: _Seed) -> float:
    if values.size == 0:
        return 0.0
    return float(np.mean(np.abs(values - seed.inside) < np.abs(values - seed.outside)))


def _judge(mask: np.ndarray, score: float, prev: np.ndarray, plane: np.ndarray, seed: _Seed,
           limits: dict[str, float]) -> tuple[str, str]:
    """``(stop reason, review reason)``; a non-empty stop reason refuses the slice."""
    area = int(mask.sum())
    if area == 0:
        return "the mask is empty", ""
    if score < limits["min_score"]:
        return f"predicted IoU {score:.2f} < {limits['min_score']:.2f}", ""
    overlap = float((mask & prev).sum()) / float((mask | prev).sum())
    ratio = area / seed.area
    if ratio < limits["min_area"]:
        return f"area {ratio:.2f} of the seed's", ""
    if ratio > limits["max_area"]:
        return f"area {ratio:.2f} times the seed's", ""
    if overlap < limits["min_overlap"]:
        return f"overlap {overlap:.2f} with the previous slice", ""
    leak = agree = 0.0
    if seed.contrast:
        leak = _closer_to_inside(plane[_band(mask)], seed)
        agree = _closer_to_inside(plane[_core(mask)], seed)
        if leak > limits["max_leak"]:
            return f"{leak:.0%} of its surroundings look like the object", ""
        if agree < limits["min_agree"]:
            return f"only {agree:.0%} of it has the object's intensity", ""
    review = []
    if score < limits["review_score"]:
        review.append(f"predicted IoU {score:.2f}")
    if overlap < limits["review_overlap"]:
        review.append(f"overlap {overlap:.2f} with the previous slice")
    if not 1 / limits["review_area"] <= area / max(int(prev.sum()), 1) <= limits["review_area"]:
        review.append("area changed sharply")
    if seed.contrast and leak > limits["review_leak"]:
        review.append(f"{leak:.0%} of its surroundings look like the object")
    return "", "; ".join(review)


LIMITS = {"min_score": 0.5, "min_area": 0.25, "max_area": 3.0, "min_overlap": 0.3,
          "max_leak": 0.45, "min_agree": 0.5, "review_score": 0.75, "review_overlap": 0.75,
          "review_area": 1.3, "review_leak": 0.3}


def propagate_volume(volume: np.ndarray, sam, seed_index: int, box: Sequence[float],
                     window: tuple[float, float], axis: int = 0, margin: float = 3.0,
                     limits: dict[str, float] | None = None, max_slices: int | None = None,
                     progress: Callable[..., None] | None = None,
                     cancelled: Callable[[], bool] | None = None,
                     content: str | None = None,
                     on_kept: Callable[[list[SliceMask]], None] | None = None,
                     every: int = 100, media_id: str = "volume") -> Propagation:
    """Segment the object in ``box`` (``x, y, w, h`` in the slice's continuous pixel
    coordinates) on slice ``seed_index`` along array ``axis`` (0 = k), then up and down.
    ``window`` is ``(width, level)`` in the volume's units. ``content`` (e.g. the volume's
    fingerprint) names the volume in the embedding cache, with each slice's place on
    ``media_id``.
    ``on_kept(slices)`` is called with each ``every`` newly kept slices (in the order kept);
    the slices kept after the last call are only in the result."""
    vol = np.asarray(volume)
    count = vol.shape[axis]
    if not 0 <= seed_index < count:
        raise ValueError(f"slice {seed_index} is outside the volume (0..{count - 1})")
    rules = dict(LIMITS, **(limits or {}))
    width, level = window
    done = [0]
    budget = max_slices or count

    def plane(k: int) -> np.ndarray:
        return np.take(vol, k, axis=axis)

    def segment(k: int, prompt: Sequence[float]) -> tuple[np.ndarray, float]:
        image = window_to_uint8(plane(k), width, level)
        place = Place(media_id, axis=AXES[axis], index=k)
        sam.set_image(image, place, f"{content}|{width}|{level}" if content else None)
        if k != seed_index and sam_prefetch is not None:  # encode the next slice meanwhile
            ahead = k + (1 if k > seed_index else -1)
            if 0 <= ahead < count:
                sam_prefetch(ahead)
        answer = sam.predict(box=tuple(prompt)).best()
        done[0] += 1
        if progress:
            progress(done[0], None, place.describe())
        return answer.mask, answer.score

    prefetch = getattr(sam, "prefetch", None)

    def sam_prefetch_fn(k: int) -> None:
        from app.inference.sam import PrefetchItem

        key = f"{content}|{width}|{level}" if content else None
        prefetch([PrefetchItem(lambda: window_to_uint8(plane(k), width, level),
                               Place(media_id, axis=AXES[axis], index=k), key)])

    sam_prefetch = sam_prefetch_fn if callable(prefetch) else None
    result = Propagation(axis, seed_index)
    seed_mask, seed_score = segment(seed_index, box)
    if not seed_mask.any():
        result.stopped = {"up": "the seed mask is empty", "down": "the seed mask is empty"}
        return result
    seed_plane = plane(seed_index).astype(np.float32)
    inside = float(np.median(seed_plane[_core(seed_mask)]))
    band = seed_plane[_band(seed_mask)]
    outside = float(np.median(band)) if band.size else inside
    spread = float(np.std(seed_plane[_core(seed_mask)])) + 1e-6
    seed = _Seed(int(seed_mask.sum()), inside, outside, abs(inside - outside) > 3 * spread)
    kept = {seed_index: SliceMask(seed_index, seed_mask, seed_score)}
    fresh = [kept[seed_index]]

    def halt(k: int) -> str:
        if len(kept) >= budget:
            return "the slice limit was reached"
        return "cancelled" if cancelled and cancelled() else ""

    def judge(k: int, mask: np.ndarray, score: float, prev: np.ndarray) -> tuple[str, str]:
        stop, review = _judge(mask, score, prev, plane(k).astype(np.float32), seed, rules)
        return (f"slice {k}: {stop}" if stop else "", review)

    def keep(k: int, mask: np.ndarray, score: float, review: str) -> None:
        nonlocal fresh
        kept[k] = SliceMask(k, mask, score, review)
        fresh.append(kept[k])
        if on_kept is not None and len(fresh) >= max(1, every):
            on_kept(fresh)
            fresh = []

    for name, step in (("up", 1), ("down", -1)):
        slices = range(seed_index + step, count if step > 0 else -1, step)
        result.stopped[name] = carry(
            slices, seed_mask, lambda k, prev: segment(k, grown_box(prev, margin)), judge, keep,
            halt) or "the volume ends"
    result.slices = [kept[i] for i in sorted(kept)]
    return result
