"""Single-object tracking over a frame range: a box forward or backward, per frame a box, a
score and a ``lost`` flag.

The tracker is NanoTrack (an installed ``nanotrack-*`` pack) or, when no model is installed or
asked for, a classical template matcher on OpenCV (normalised cross-correlation over a search
window at three scales). Frames are RGB uint8; frame indices are 0-based in presentation order
(the project's video decoder, ``app.io.video.open_video``); boxes ``(x, y, w, h)`` in continuous
pixel coordinates.

What a lost stretch means is decided afterwards, by :class:`LostStretches` (``vellum track
--lost``): with ``occluded`` (the default) a stretch the tracker comes back from is an
occlusion - its boxes are the linear interpolation between the last confident box and the box
where the target is found again, flagged ``occluded`` with the tracker's own low score; it is
``outside`` only when the object left the picture (the last confident box touches the image
border) or the tracker never finds it again before the range ends. ``outside`` marks every lost
frame outside (the behaviour before ``--lost``). :func:`track_steps` yields those decisions at
least every :data:`STEP_FRAMES` frames, so that a caller can commit a long run in steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from app.inference.runtime import Runtime

Box = tuple[float, float, float, float]
CLASSICAL = "classical"
TRACKED, OCCLUDED, OUTSIDE = "tracked", "occluded", "outside"
LOST_POLICIES = (OCCLUDED, OUTSIDE)
REACQUIRE = 3  # found frames in a row that end a lost stretch (shorter blips stay inside it)
BORDER = 0.1  # a box within this fraction of its size of the image edge touches the border
STEP_FRAMES = 100  # track_steps yields at least this often


class Tracker(Protocol):
    model_id: str
    device: str

    def init(self, frame: np.ndarray, box: Box) -> None: ...

    def update(self, frame: np.ndarray) -> tuple[Box, float, bool]: ...


@dataclass(frozen=True)
class TrackedBox:
    """The target on one frame: ``box`` (x, y, w, h), tracker confidence ``score`` in [0, 1],
    ``lost`` when the confidence fell below the tracker's threshold (the box is then where the
    target was last seen). ``state`` is empty as the tracker returns it; once
    :class:`LostStretches` has judged the frame it is ``tracked``, ``occluded`` (the box is
    then interpolated) or ``outside``."""

    frame: int
    box: Box
    score: float
    lost: bool
    state: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"frame": self.frame, "box": [round(v, 3) for v in self.box],
                "score": round(self.score, 4), "lost": self.lost}


class TemplateTracker:
    """Classical fallback: normalised cross-correlation of the first box's grey template over a
    window twice its size around the last position, at 0.95 / 1 / 1.05 scale; the template
    adapts slowly on confident frames. No model file needed."""

    model_id = CLASSICAL
    device = "CPU (OpenCV)"

    def __init__(self, lost_below: float = 0.5, search: float = 1.0, adapt: float = 0.1) -> None:
        self.lost_below, self.search, self.adapt = lost_below, search, adapt
        self.template = np.zeros((1, 1), np.float32)
        self.box_: Box = (0.0, 0.0, 1.0, 1.0)

    @staticmethod
    def _grey(frame: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)

    @staticmethod
    def _cut(grey: np.ndarray, box: Box) -> np.ndarray:
        h, w = grey.shape
        x, y, bw, bh = box
        x0, y0 = int(np.clip(round(x), 0, w - 1)), int(np.clip(round(y), 0, h - 1))
        x1, y1 = int(np.clip(round(x + bw), x0 + 1, w)), int(np.clip(round(y + bh), y0 + 1, h))
        return grey[y0:y1, x0:x1]

    def init(self, frame: np.ndarray, box: Box) -> None:
        self.box_ = tuple(float(v) for v in box)  # type: ignore[assignment]
        self.template = self._cut(self._grey(frame), self.box_).copy()

    def update(self, frame: np.ndarray) -> tuple[Box, float, bool]:
        grey = self._grey(frame)
        h, w = grey.shape
        x, y, bw, bh = self.box_
        best = (-1.0, self.box_)
        for s in (0.95, 1.0, 1.05):
            tw, th = max(4, int(round(bw * s))), max(4, int(round(bh * s)))
            mx, my = self.search * tw, self.search * th
            sx0, sy0 = int(max(0, x - mx)), int(max(0, y - my))
            sx1, sy1 = int(min(w, x + bw + mx)), int(min(h, y + bh + my))
            if sx1 - sx0 < tw or sy1 - sy0 < th:
                continue
            templ = cv2.resize(self.template, (tw, th))
            if float(templ.std()) < 1e-3:
                continue
            res = cv2.matchTemplate(grey[sy0:sy1, sx0:sx1], templ, cv2.TM_CCOEFF_NORMED)
            _, score, _, loc = cv2.minMaxLoc(res)
            if score > best[0]:
                best = (float(score), (float(sx0 + loc[0]), float(sy0 + loc[1]), float(tw),
                                       float(th)))
        if best[0] < self.lost_below:
            best = max(best, self._whole_frame(grey))
        score = float(np.clip(best[0], 0.0, 1.0))
        if score < self.lost_below:
            return self.box_, score, True
        self.box_ = best[1]
        patch = cv2.resize(self._cut(grey, self.box_), self.template.shape[::-1])
        self.template = (1 - self.adapt) * self.template + self.adapt * patch
        return self.box_, score, False


    def _whole_frame(self, grey: np.ndarray) -> tuple[float, Box]:
        """Look for a lost target over the whole frame (half resolution, sizes 0.75-1.25 of
        the last box)."""
        small = cv2.resize(grey, (max(1, grey.shape[1] // 2), max(1, grey.shape[0] // 2)),
                           interpolation=cv2.INTER_AREA)
        _, _, bw, bh = self.box_
        best: tuple[float, Box] = (-1.0, self.box_)
        for s in (0.75, 0.87, 1.0, 1.13, 1.25):
            tw, th = max(4, int(round(bw * s / 2))), max(4, int(round(bh * s / 2)))
            if tw >= small.shape[1] or th >= small.shape[0]:
                continue
            templ = cv2.resize(self.template, (tw, th), interpolation=cv2.INTER_AREA)
            if float(templ.std()) < 1e-3:
                continue
            _, score, _, loc = cv2.minMaxLoc(cv2.matchTemplate(small, templ,
                                                               cv2.TM_CCOEFF_NORMED))
            # a whole-frame match must be clearly better than chance to take the target back
            if score - 0.1 > best[0]:
                best = (float(score) - 0.1, (2.0 * loc[0], 2.0 * loc[1], 2.0 * tw, 2.0 * th))
        return best


def open_tracker(model: str | None = None, runtime: Runtime | None = None,
                 models_root: Path | None = None) -> Tracker:
    """NanoTrack for a ``nanotrack-*`` id, the classical tracker for None / ``"classical"``;
    :class:`ModelError` when the model is not installed or cannot be loaded."""
    if model in (None, "", CLASSICAL, "opencv"):
        return TemplateTracker()
    from app.inference.nanotrack import NanoTracker

    return NanoTracker(model, runtime, models_root)


def installed_tracker_id(models_root: Path | None = None) -> str:
    """The best tracker available: an installed complete NanoTrack pack, else classical."""
    from app.inference.packs import installed_packs

    packs = {p.id: p for p in installed_packs(models_root)[0] if p.complete}
    for model_id in ("nanotrack-v2", "nanotrack-v3"):
        if model_id in packs:
            return model_id
    return next((i for i, p in packs.items() if p.manifest.family == "nanotrack"), CLASSICAL)


def track_frames(frames: Iterable[tuple[int, np.ndarray]], box: Box, tracker: Tracker,
                 progress: Callable[..., None] | None = None, total: int | None = None,
                 cancelled: Callable[[], bool] | None = None) -> list[TrackedBox]:
    """Track through ``frames`` (``(index, rgb)`` in tracking order); the first frame holds
    ``box`` (score 1). Stops early when ``cancelled()`` turns true."""
    return list(_track_iter(frames, box, tracker, progress, total, cancelled))


def _track_iter(frames: Iterable[tuple[int, np.ndarray]], box: Box, tracker: Tracker,
                progress: Callable[..., None] | None = None, total: int | None = None,
                cancelled: Callable[[], bool] | None = None,
                size: list[int] | None = None) -> Iterator[TrackedBox]:
    """:func:`track_frames` one frame at a time; ``size`` (a list) receives the frames'
    ``[width, height]``."""
    first = True
    for n, (index, rgb) in enumerate(frames):
        if cancelled and cancelled():
            break
        if size is not None and not size:
            size.extend((int(rgb.shape[1]), int(rgb.shape[0])))
        if first:
            tracker.init(rgb, box)
            first = False
            yield TrackedBox(index, tuple(float(v) for v in box), 1.0, False)
        else:
            found, score, lost = tracker.update(rgb)
            yield TrackedBox(index, found, score, lost)
        if progress:
            progress(n + 1, total)


def _backward(reader: Any, start: int, end: int, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    """Frames ``start, start - 1, ..., end``, decoded forward in chunks (decoders seek to key
    frames: one seek per chunk, not per frame)."""
    hi = start + 1
    while hi > end:
        lo = max(end, hi - chunk)
        block = list(reader.frames(lo, hi, 1))
        yield from reversed(block)
        hi = lo


def track_video(reader: Any, box: Box, start: int, end: int | None = None,
                backward: bool = False, tracker: Tracker | None = None,
                progress: Callable[..., None] | None = None,
                cancelled: Callable[[], bool] | None = None, chunk: int = 48
                ) -> list[TrackedBox]:
    """Track ``box`` from frame ``start`` to ``end`` (inclusive; default the last frame, or 0
    going ``backward``) on a video reader (``.frame_count``, ``.frames(start, stop, step)``
    yielding ``(index, rgb)``, stop exclusive). Returns boxes in ascending frame order, as the
    tracker gave them (``state`` empty; see :func:`track_steps` for the judged ones)."""
    frames, end = _range(reader, start, end, backward, chunk)
    found = track_frames(frames, box, tracker or open_tracker(None), progress,
                         abs(end - start) + 1, cancelled)
    return sorted(found, key=lambda t: t.frame)


def _range(reader: Any, start: int, end: int | None, backward: bool, chunk: int
           ) -> tuple[Iterator[tuple[int, np.ndarray]], int]:
    count = int(reader.frame_count)
    if not 0 <= start < count:
        raise ValueError(f"start frame {start} is outside the video (0..{count - 1})")
    end = (0 if backward else count - 1) if end is None else int(end)
    end = min(max(end, 0), count - 1)
    if backward and end > start or not backward and end < start:
        raise ValueError(f"end frame {end} is on the wrong side of start frame {start}")
    frames = _backward(reader, start, end, chunk) if backward else iter(
        reader.frames(start, end + 1, 1))
    return frames, end


def touches_border(box: Box, size: tuple[int, int], margin: float = BORDER) -> bool:
    """Whether ``box`` reaches (or crosses) the edge of a ``(width, height)`` picture, give or
    take ``margin`` of its own width / height (at least 2 px)."""
    x, y, w, h = box
    width, height = size
    mx, my = max(2.0, margin * w), max(2.0, margin * h)
    return x <= mx or y <= my or x + w >= width - mx or y + h >= height - my


def _lerp(a: Box, b: Box, t: float) -> Box:
    return tuple(float(p + (q - p) * t) for p, q in zip(a, b))  # type: ignore[return-value]


class LostStretches:
    """Judges a tracker's boxes, fed one at a time in tracking order (either direction).

    A *stretch* starts at a lost frame and ends where the tracker finds the target again:
    the first of ``reacquire`` found frames in a row (a shorter blip between lost frames is a
    false find and stays in the stretch); at the end of the range any found frames after it
    count. With ``lost="occluded"`` a stretch is ``outside`` when the last confident box before
    it touches the picture's border (the object left the picture) or when the target is not
    found again before the range ends; otherwise it is ``occluded`` and each of its boxes is
    the linear interpolation (by frame index) between the last confident box and the found
    one, with the tracker's own score kept. With ``lost="outside"`` every lost frame is
    ``outside`` and every found frame ``tracked`` (no blip is absorbed).

    :meth:`push` returns the boxes whose state is now decided; :meth:`pending` those still
    undecided, provisionally ``outside`` (the target is not back yet); :meth:`finish` decides
    the rest at the end of the range."""

    def __init__(self, size: tuple[int, int] | None, lost: str = OCCLUDED,
                 reacquire: int = REACQUIRE, margin: float = BORDER) -> None:
        if lost not in LOST_POLICIES:
            raise ValueError(f"lost must be one of {', '.join(LOST_POLICIES)}, not {lost!r}")
        self.size, self.lost, self.margin = size, lost, margin
        self.reacquire = 1 if lost == OUTSIDE else max(1, int(reacquire))
        self.last_good: TrackedBox | None = None
        self._held: list[TrackedBox] = []
        self._found = 0  # found frames at the end of _held

    def push(self, t: TrackedBox) -> list[TrackedBox]:
        if not self._held:
            if not t.lost:
                self.last_good = t
                return [replace(t, state=TRACKED)]
            self._held, self._found = [t], 0
            return []
        self._held.append(t)
        self._found = 0 if t.lost else self._found + 1
        if self._found >= self.reacquire:
            return self._decide(self._found)
        return []

    def pending(self) -> list[TrackedBox]:
        return [replace(t, state=OUTSIDE) for t in self._held]

    def finish(self) -> list[TrackedBox]:
        if not self._held:
            return []
        return self._decide(self._found) if self._found else self._decide(0)

    def _left(self) -> bool:
        return self.last_good is None or self.size is not None and touches_border(
            self.last_good.box, self.size, self.margin)

    def _decide(self, found: int) -> list[TrackedBox]:
        held, self._held, self._found = self._held, [], 0
        stretch, back = (held[:-found], held[-found:]) if found else (held, [])
        if not back or self.lost == OUTSIDE or self._left():
            out = [replace(t, state=OUTSIDE) for t in stretch]
        else:
            a, b = self.last_good, back[0]
            out = [replace(t, box=_lerp(a.box, b.box, (t.frame - a.frame) / (b.frame - a.frame)),
                           state=OCCLUDED) for t in stretch]
        if back:
            self.last_good = back[-1]
        return out + [replace(t, state=TRACKED) for t in back]


def judge_lost(found: Iterable[TrackedBox], size: tuple[int, int] | None,
               lost: str = OCCLUDED, backward: bool = False) -> list[TrackedBox]:
    """``found`` (any order; tracked forward, or ``backward``) judged by
    :class:`LostStretches`; ascending frame order."""
    judge = LostStretches(size, lost)
    out: list[TrackedBox] = []
    for t in sorted(found, key=lambda t: t.frame, reverse=backward):
        out += judge.push(t)
    return sorted(out + judge.finish(), key=lambda t: t.frame)


@dataclass(frozen=True)
class TrackStep:
    """One step of :func:`track_steps`: ``done``, the boxes decided since the previous step
    (tracking order); ``pending``, the lost stretch not decided yet, provisionally ``outside``
    (the target is not back yet; empty on the last step); ``tracked``, frames tracked so far;
    ``last``, whether the run is over (the range ended, or it was cancelled)."""

    done: list[TrackedBox]
    pending: list[TrackedBox]
    tracked: int
    last: bool


def track_steps(reader: Any, box: Box, start: int, end: int | None = None,
                backward: bool = False, tracker: Tracker | None = None, lost: str = OCCLUDED,
                every: int = STEP_FRAMES, progress: Callable[..., None] | None = None,
                cancelled: Callable[[], bool] | None = None, chunk: int = 48
                ) -> Iterator[TrackStep]:
    """:func:`track_video` judged by :class:`LostStretches` with ``lost``, yielded in steps:
    one after every ``every`` frames tracked and a last one when the range ends or
    ``cancelled()`` turns true. Every frame tracked appears in exactly one step's ``done``."""
    frames, end = _range(reader, start, end, backward, chunk)
    size: list[int] = []
    judge = LostStretches(None, lost)
    done: list[TrackedBox] = []
    n = 0
    for t in _track_iter(frames, box, tracker or open_tracker(None), progress,
                         abs(end - start) + 1, cancelled, size):
        judge.size = (size[0], size[1])
        done += judge.push(t)
        n += 1
        if n % max(1, int(every)) == 0:
            yield TrackStep(done, judge.pending(), n, False)
            done = []
    yield TrackStep(done + judge.finish(), [], n, True)
