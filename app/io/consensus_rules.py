"""The rules of ``vellum consensus`` (:mod:`app.io.consensus`), one function each: majority,
plurality vote, weighted box fusion, clustering, medoid, track similarity, STAPLE. Boxes are
x, y, w, h in pixels (CONVENTIONS.md); masks are boolean numpy arrays ([row, col] or
[k, j, i]); scores 0..1 (a hand-drawn object counts 1)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MARK = "consensus"
# SimpleITK's STAPLE filters iterate without bound by default: raters that barely overlap took
# 15 548 iterations on a 100 x 100 picture; three close masks converge in about 300
MAX_ITERATIONS = 1000
_ABSENT = object()


def majority(n: int) -> int:
    """Annotators needed for a majority of ``n``: ``n // 2 + 1``."""
    return n // 2 + 1


# ------------------------------------------------------------------ voting
def vote(values: Sequence[Any]) -> tuple[Any, int]:
    """The plurality value of ``values`` (in annotator order) and its count; a tie goes to
    the tied value that comes first in ``values``."""
    from app.io.compare import _key

    counts = Counter(_key(v) for v in values)
    top = max(counts.values())
    winner = next(v for v in values if counts[_key(v)] == top)
    return winner, top


def vote_attributes(members: Sequence[dict[str, Any]], reasons: list[str]) -> dict[str, Any]:
    """Each attribute by :func:`vote` over ``members`` (attribute dicts, annotator order; a
    missing one votes "absent", and an absent winner is left out); a vote short of
    unanimity adds a line to ``reasons``. The ``consensus`` mark itself is not voted."""
    names = sorted({k for m in members for k in m if k != MARK})
    out: dict[str, Any] = {}
    for name in names:
        values = [m.get(name, _ABSENT) for m in members]
        value, count = vote(values)
        if count < len(values):
            reasons.append(f"attribute {name}: {tally(values)}")
        if value is not _ABSENT:
            out[name] = value
    return out


def tally(values: Sequence[Any]) -> str:
    """``values`` counted, most first: "car 2, road 1"."""
    c = Counter("(absent)" if v is _ABSENT else repr(v) if not isinstance(v, str) else v
                for v in values)
    return ", ".join(f"{k} {n}" for k, n in c.most_common())


# ------------------------------------------------------------------ boxes: WBF
def wbf(boxes: Sequence[Sequence[float]], scores: Sequence[float], n: int
        ) -> tuple[tuple[float, float, float, float], float]:
    """Weighted box fusion of one cluster: ``boxes`` x, y, w, h with ``scores``; ``n``
    annotators in all. Returns the fused box (x, y, w, h, pixels) and its score (see the
    :mod:`app.io.consensus`)."""
    b = np.asarray(boxes, float)
    c = np.asarray(scores, float)
    corners = np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)
    x0, y0, x1, y1 = (c[:, None] * corners).sum(axis=0) / c.sum()
    k = len(c)
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0)), float(
        c.sum() / k * min(k, n) / n)


@dataclass
class Member:
    """An object of annotator ``rater`` (its index), the ``order``-th at its place."""

    rater: int
    obj: Any  # compare.Obj
    order: int


@dataclass
class Cluster:
    """Objects taken for one object, at most one per annotator (``fused``: a box cluster's
    current WBF box)."""

    members: list[Member] = field(default_factory=list)
    fused: tuple[float, float, float, float] | None = None

    def raters(self) -> set[int]:
        return {m.rater for m in self.members}


def score_of(o: Any) -> float:
    """An object's weight: its score, 1 when it has none (drawn by hand)."""
    return 1.0 if o.score is None else float(o.score)


def cluster_boxes(objs: Sequence[Member], n: int, iou: float) -> list[Cluster]:
    """WBF clustering of boxes: in descending score order (then annotator, then drawing
    order) each joins the cluster whose fused box it overlaps most with IoU > ``iou`` and
    that has no box of its annotator, else starts one (see :mod:`app.io.consensus`)."""
    from app.io.compare import box_iou

    clusters: list[Cluster] = []
    for m in sorted(objs, key=lambda m: (-score_of(m.obj), m.rater, m.order)):
        box = m.obj.shape.bbox()
        best, best_iou = None, iou
        for c in clusters:
            if m.rater in c.raters():
                continue
            v = box_iou(c.fused, box)  # type: ignore[arg-type]
            if v > best_iou:
                best, best_iou = c, v
        if best is None:
            best = Cluster()
            clusters.append(best)
        best.members.append(m)
        best.fused = wbf([x.obj.shape.bbox() for x in best.members],
                         [score_of(x.obj) for x in best.members], n)[0]
    return clusters


def cluster_regions(objs: Sequence[Member], size: tuple[int, int], iou: float
                    ) -> tuple[list[Cluster], np.ndarray]:
    """Polygons, rotated boxes or masks clustered by pixel IoU with each cluster's first
    object; also the IoU matrix of ``objs`` (in their order)."""
    from app.io.compare import iou_matrix

    m = iou_matrix([x.obj for x in objs], [x.obj for x in objs], size)
    clusters: list[Cluster] = []
    seeds: list[int] = []
    index = {id(x): i for i, x in enumerate(objs)}
    for x in sorted(objs, key=lambda x: (-score_of(x.obj), x.rater, x.order)):
        i = index[id(x)]
        best, best_iou = None, iou
        for c, s in zip(clusters, seeds):
            if x.rater in c.raters():
                continue
            if m[s, i] > best_iou:
                best, best_iou = c, m[s, i]
        if best is None:
            best = Cluster()
            clusters.append(best)
            seeds.append(i)
        best.members.append(x)
    return clusters, m


def medoid(ious: np.ndarray) -> int:
    """The index of the member with the highest mean IoU to the others (``ious``: the
    members' IoU matrix, in annotator order); ties: the first."""
    k = len(ious)
    if k == 1:
        return 0
    means = (ious.sum(axis=1) - np.diag(ious)) / (k - 1)
    return int(np.flatnonzero(means == means.max())[0])


def track_similarity(a: dict[int, Sequence[float]], b: dict[int, Sequence[float]]) -> float:
    """How much two tracks ({frame: box x, y, w, h}) are one object: the mean box IoU over
    the frames both show (0 when they share none). An annotator who tracked the object on
    part of the video still matches; the frames one shows alone are voted on frame by
    frame."""
    from app.io.compare import box_iou

    both = set(a) & set(b)
    if not both:
        return 0.0
    return sum(box_iou(a[f], b[f]) for f in both) / len(both)


# ------------------------------------------------------------------ STAPLE
def staple(masks: Sequence[np.ndarray]
           ) -> tuple[np.ndarray, list[float], list[float], bool]:
    """Binary STAPLE of boolean ``masks`` (one per annotator, same grid) by SimpleITK's
    ``STAPLEImageFilter`` (foreground 1, at most :data:`MAX_ITERATIONS`): the fused mask
    (probability >= 0.5), each annotator's sensitivity and specificity, and whether it
    converged before the cap."""
    import SimpleITK as sitk

    f = sitk.STAPLEImageFilter()
    f.SetForegroundValue(1.0)
    f.SetMaximumIterations(MAX_ITERATIONS)
    out = f.Execute([sitk.GetImageFromArray(m.astype(np.uint8)) for m in masks])
    prob = sitk.GetArrayFromImage(out)
    return (prob >= 0.5, [float(v) for v in f.GetSensitivity()],
            [float(v) for v in f.GetSpecificity()],
            f.GetElapsedIterations() < MAX_ITERATIONS)


def multilabel_staple(labels: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """Multi-label STAPLE of label images (one per annotator, same grid, uint16) by
    SimpleITK's ``MultiLabelSTAPLEImageFilter`` (at most :data:`MAX_ITERATIONS`): the fused
    labels, with undecided voxels set to 0, and how many voxels were undecided."""
    import SimpleITK as sitk

    f = sitk.MultiLabelSTAPLEImageFilter()
    f.SetMaximumNumberOfIterations(MAX_ITERATIONS)
    out = sitk.GetArrayFromImage(f.Execute([sitk.GetImageFromArray(
        np.ascontiguousarray(lab, dtype=np.uint16)) for lab in labels]))
    undecided = int(max(int(lab.max()) for lab in labels) + 1)
    n_und = int(np.count_nonzero(out == undecided))
    out = np.where(out == undecided, 0, out).astype(np.uint16)
    return out, n_und
