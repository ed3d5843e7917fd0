"""Agreement between annotators: ``vellum compare A B [C ...]`` (Qt-free).

Projects (or work packages, which are projects) over the same media are read into plain
values (:func:`load_project`), their media matched by content fingerprint, else by file name
(:func:`match_media`; an item missing from some projects is reported, not compared), and
compared (:func:`compare`). The first project is the reference ("ground truth") wherever a
metric needs one; pairs are (first, each other) for the object metrics, every pair for
Cohen's kappa.

Conventions (see ``../shared/CONVENTIONS.md``):

* **Objects** (boxes, rotated boxes, polygons, 2D masks) are matched per place (an image, a
  video frame, a volume slice) and per class name by IoU >= 0.5 with the **Hungarian**
  assignment maximising the summed IoU (``scipy.optimize.linear_sum_assignment``); pairs
  below the threshold are not matches. IoU of two axis-aligned boxes is the continuous box
  IoU (pycocotools' ``bbox`` IoU); any other pair is the pixel IoU of their rasterisations
  (``app.core.raster``, the pixels pycocotools gives). Precision = matches / other's
  objects, recall = matches / reference objects, F1 their harmonic mean, mean IoU over
  matches. The class confusion matrix matches objects the same way ignoring the class.
* **COCO mAP** (AP at IoU .50:.95, and AP50) by pycocotools' ``COCOeval`` with the first
  project as ground truth (every place an image; score = the annotation's score, else 1).
* **Masks and label maps**: per segment class (the linked class's name, else the segment's
  name) the binary masks give Dice, Jaccard, the Hausdorff distance (SimpleITK's
  ``HausdorffDistanceImageFilter``, the maximum, over all object voxels), the **95 %
  Hausdorff distance**: the 95th percentile of the pooled directed surface distances (medpy's
  ``hd95``), a surface being the object's ``LabelContour`` voxels (face connectivity) and the
  distances read from ``SignedMaurerDistanceMap`` of the other surface (absolute, with the
  volume's spacing), all in mm; and the volume difference (other - reference) in mL. On a
  2D image the same with a pixel as 1 x 1 (distances in pixels, areas in pixels).
* **Keypoints**: COCO's object keypoint similarity, OKS = sum_i exp(-d_i^2 / (2 s^2 k_i^2))
  over the reference's labelled points / their count, with k_i = 2 sigma_i and s^2 the
  reference object's area (its region's pixels, else its box's area); sigmas: COCO's 17
  person sigmas for a 17-point skeleton, else 0.05 for every point (:data:`DEFAULT_SIGMA`).
  Objects are matched per class by Hungarian assignment on OKS (OKS > 0).
* **Classifications and attributes**: a unit is a reference object (its matched objects in
  the others, ignoring the class) or a media item (its tags); values are nominal. Cohen's
  kappa for each pair (units both rated), Fleiss' kappa over units every annotator rated,
  Krippendorff's alpha (nominal) over units with two or more values.
* **Video tracks**: MOTA and IDF1 by ``motmetrics`` (first project as ground truth; the
  boxes every track shows on each frame, interpolated as the exports do; IoU >= 0.5).

Per item, **agreement** (the report's bar chart) is, for each pair, the mean of those that
apply of the item's object F1, its mean Dice (masks, label maps) and whether its tags agree
(1 or 0); then the mean over pairs. A metric with no defined value (no objects, 0/0) is
``None``.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import VellumError

IOU_THRESHOLD = 0.5
DEFAULT_SIGMA = 0.05
# COCO's per-keypoint sigmas for its 17-point person skeleton (pycocotools' COCOeval).
COCO_PERSON_SIGMAS = tuple(v / 10.0 for v in (
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89))
AREA_KINDS = ("box", "rotated_box", "polygon", "mask")
NONE = "(none)"

Progress = Callable[[int, int, str], None]


# ------------------------------------------------------------------ what is read
@dataclass
class Obj:
    """One 2D object at a place: class name, shape, attributes (by name), score."""

    cls: str
    shape: Any
    attributes: dict[str, Any]
    score: float | None = None
    id: str = ""


@dataclass
class ItemData:
    """One media item of one project: its identity, sizes and what is labelled on it.
    ``places``: place key -> objects (key: ``""`` image, ``"f12"`` frame 12, ``"k:40"``
    slice 40 along k); ``plane``: place key -> (height, width) in pixels; ``tags``: tag
    class name -> attributes; ``tracks``: track id -> (class name, {frame: box x,y,w,h});
    ``labelmaps``: class name -> boolean volume [k, j, i]; ``spacing``: (si, sj, sk) mm."""

    name: str
    fingerprint: str
    kind: str
    width: int
    height: int
    frames: int
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    places: dict[str, list[Obj]] = field(default_factory=dict)
    plane: dict[str, tuple[int, int]] = field(default_factory=dict)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracks: dict[str, tuple[str, dict[int, tuple[float, float, float, float]]]] = field(
        default_factory=dict)
    labelmaps: dict[str, np.ndarray] = field(default_factory=dict)
    skeletons: dict[str, int] = field(default_factory=dict)


@dataclass
class ProjectData:
    """What :func:`compare` needs of one project: its label (the annotator) and items."""

    label: str
    path: str
    items: list[ItemData]


def _plane(item: Any, axis: str | None) -> tuple[int, int]:
    """(height, width) in pixels of a place's picture: the image or frame, or a volume's
    slice along ``axis`` (k: j x i, j: k x i, i: k x j)."""
    k, j, i = item.volume_shape if item.kind.value == "volume" else (1, item.height,
                                                                      item.width)
    return {None: (item.height, item.width), "k": (j, i), "j": (k, i), "i": (k, j)}[axis]


def _place_key(place: Any) -> str:
    if place.frame is not None:
        return f"f{place.frame}"
    if place.axis is not None:
        return f"{place.axis}:{place.index}"
    return ""


def load_project(path: str | Path, label: str | None = None) -> ProjectData:
    """Read project ``path`` into plain values (opened, read, closed). ``label`` names its
    annotator in the report (default: the project's folder or file name)."""
    from app.core.document import Document
    from app.core.interpolate import shown_frames
    from app.core.shapes import Tag

    with Document.open(path) as doc:
        name = label or _project_label(doc.path)
        schema = doc.schema
        cname = {c.id: c.name for c in schema.classes}
        skel = {c.name: len(c.skeleton.points) for c in schema.classes
                if getattr(c, "skeleton", None) is not None}
        items: list[ItemData] = []
        for m in doc.media():
            spacing = m.volume.spacing if m.volume is not None else (1.0, 1.0, 1.0)
            data = ItemData(m.name, m.fingerprint, m.kind.value, m.width, m.height, m.frames,
                            tuple(float(s) for s in spacing), skeletons=skel)
            track_shapes: dict[str, list[Any]] = defaultdict(list)
            for a in doc.annotations(m.id, all_frames=True):
                if a.track_id is not None:
                    track_shapes[a.track_id].append(a)
                    continue
                if isinstance(a.shape, Tag):
                    data.tags[cname.get(a.class_id, NONE)] = dict(a.attributes)
                    continue
                key = _place_key(a.place)
                data.plane.setdefault(key, _plane(m, a.place.axis))
                data.places.setdefault(key, []).append(Obj(
                    cname.get(a.class_id, NONE), a.shape, dict(a.attributes), a.score, a.id))
            for t in doc.tracks(m.id):
                boxes = {a.frame: tuple(float(v) for v in a.shape.bbox())
                         for a in shown_frames(track_shapes.get(t.id, []), m.frames)
                         if a.frame is not None}
                data.tracks[t.id] = (cname.get(t.class_id, NONE), boxes)
            for lm in doc.labelmaps(m.id):
                if not lm.segments:
                    continue
                vol = doc.labelmap_volume(lm.id)
                for s in lm.segments:
                    cls = cname.get(s.class_id) or s.name
                    mask = vol == s.value
                    if cls in data.labelmaps:
                        data.labelmaps[cls] |= mask
                    else:
                        data.labelmaps[cls] = mask
            items.append(data)
    return ProjectData(name, str(path), items)


def _project_label(db: Path) -> str:
    return db.parent.name if db.name == "project.vellum" else db.stem


# ------------------------------------------------------------------ media matching
@dataclass
class Group:
    """One media item as each project has it (None where a project lacks it)."""

    name: str
    members: list[ItemData | None]

    @property
    def complete(self) -> bool:
        return all(m is not None for m in self.members)


def match_media(projects: Sequence[ProjectData]) -> list[Group]:
    """Items of every project grouped by content fingerprint, else by file name (an item is
    joined to a group that has no item of its project yet); in the first project's order,
    then the others' items it lacks."""
    n = len(projects)
    groups: list[Group] = []
    by_fp: dict[str, Group] = {}
    by_name: dict[str, list[Group]] = defaultdict(list)
    for p, proj in enumerate(projects):
        for item in proj.items:
            g = by_fp.get(item.fingerprint) if item.fingerprint else None
            if g is not None and g.members[p] is not None:
                g = None
            if g is None:
                g = next((c for c in by_name.get(item.name, []) if c.members[p] is None), None)
            if g is None:
                g = Group(item.name, [None] * n)
                groups.append(g)
                by_name[item.name].append(g)
            g.members[p] = item
            if item.fingerprint:
                by_fp.setdefault(item.fingerprint, g)
    return groups


# ------------------------------------------------------------------ agreement statistics
def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's kappa of two raters' nominal labels of the same units (scikit-learn's
    ``cohen_kappa_score``; None where it is undefined: no units, or chance agreement 1)."""
    if len(a) != len(b) or not a:
        return None
    cats = sorted(set(map(_key, a)) | set(map(_key, b)))
    index = {c: i for i, c in enumerate(cats)}
    m = np.zeros((len(cats), len(cats)))
    for x, y in zip(a, b):
        m[index[_key(x)], index[_key(y)]] += 1
    n = m.sum()
    po = np.trace(m) / n
    pe = float((m.sum(axis=1) @ m.sum(axis=0)) / (n * n))
    if pe >= 1.0:
        return None
    return float((po - pe) / (1 - pe))


def fleiss_kappa(ratings: Sequence[Sequence[Any]]) -> float | None:
    """Fleiss' kappa of units each rated by the same number of raters (``ratings[u]``: the
    labels of unit u), as statsmodels' ``fleiss_kappa`` (method 'fleiss') on the
    unit x category count table. None where undefined."""
    rows = [list(r) for r in ratings if r]
    if not rows or len({len(r) for r in rows}) != 1 or len(rows[0]) < 2:
        return None
    cats = sorted({_key(v) for r in rows for v in r})
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(rows), len(cats)))
    for u, r in enumerate(rows):
        for v in r:
            table[u, index[_key(v)]] += 1
    n_sub, n_rat = table.shape[0], table.sum(axis=1)[0]
    p_cat = table.sum(axis=0) / (n_sub * n_rat)
    p_row = ((table ** 2).sum(axis=1) - n_rat) / (n_rat * (n_rat - 1))
    p_mean, p_exp = p_row.mean(), (p_cat ** 2).sum()
    if p_exp >= 1.0:
        return None
    return float((p_mean - p_exp) / (1 - p_exp))


def krippendorff_alpha(data: Sequence[Sequence[Any]]) -> float | None:
    """Krippendorff's alpha, nominal, of ``data[rater][unit]`` (None = missing), as the
    ``krippendorff`` package's ``alpha(..., level_of_measurement='nominal')``: units with
    fewer than two values are left out. None where undefined."""
    units = list(zip(*data)) if data else []
    cats: dict[str, int] = {}
    for u in units:
        for v in u:
            if v is not None:
                cats.setdefault(_key(v), len(cats))
    if not cats:
        return None
    o = np.zeros((len(cats), len(cats)))
    for u in units:
        vals = [cats[_key(v)] for v in u if v is not None]
        m = len(vals)
        if m < 2:
            continue
        counts = np.bincount(vals, minlength=len(cats)).astype(float)
        o += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = o.sum(axis=0)
    n = n_c.sum()
    if n <= 1:
        return None
    d_o = n - np.trace(o)
    d_e = (n * n - (n_c ** 2).sum()) / (n - 1)
    if d_e == 0:
        return None
    return float(1 - d_o / d_e)


def _key(v: Any) -> str:
    """A nominal value as a category string (1 and True and "1" stay apart)."""
    return f"{type(v).__name__}:{v!r}"


# ------------------------------------------------------------------ geometry metrics
def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two boxes x, y, w, h (pycocotools' bbox IoU, crowd off)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


Crop = tuple[int, int, np.ndarray, int]  # row, column of its corner, pixels, their count


def _pixels(obj: Obj, size: tuple[int, int], cache: dict[int, Crop]) -> Crop:
    """An object's rasterised pixels, cropped to where they lie (kept small per object)."""
    from app.core.raster import rasterize

    got = cache.get(id(obj))
    if got is None:
        full = rasterize(obj.shape, *size).astype(bool)
        rows, cols = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
        if rows.size == 0:
            got = (0, 0, np.zeros((0, 0), bool), 0)
        else:
            crop = full[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].copy()
            got = (int(rows[0]), int(cols[0]), crop, int(np.count_nonzero(crop)))
        cache[id(obj)] = got
    return got


def _pixel_iou(a: Crop, b: Crop) -> float:
    (ya, xa, pa, na), (yb, xb, pb, nb) = a, b
    if na + nb == 0:
        return 0.0
    y0, x0 = max(ya, yb), max(xa, xb)
    y1, x1 = min(ya + pa.shape[0], yb + pb.shape[0]), min(xa + pa.shape[1], xb + pb.shape[1])
    inter = 0
    if y1 > y0 and x1 > x0:
        inter = int(np.count_nonzero(pa[y0 - ya:y1 - ya, x0 - xa:x1 - xa]
                                     & pb[y0 - yb:y1 - yb, x0 - xb:x1 - xb]))
    return inter / (na + nb - inter)


def _near(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether boxes x, y, w, h grown by a pixel on every side meet (rasterised pixels of
    two shapes can only meet then)."""
    return (a[0] - 1 < b[0] + b[2] + 1 and b[0] - 1 < a[0] + a[2] + 1
            and a[1] - 1 < b[1] + b[3] + 1 and b[1] - 1 < a[1] + a[3] + 1)


def iou_matrix(ref: Sequence[Obj], other: Sequence[Obj], size: tuple[int, int]) -> np.ndarray:
    """IoU of every (reference, other) pair: box IoU for two boxes, else pixel IoU."""
    out = np.zeros((len(ref), len(other)))
    cache: dict[int, Crop] = {}
    for r, a in enumerate(ref):
        for c, b in enumerate(other):
            if a.shape.kind == "box" and b.shape.kind == "box":
                out[r, c] = box_iou(a.shape.bbox(), b.shape.bbox())
            elif _near(a.shape.bbox(), b.shape.bbox()):
                out[r, c] = _pixel_iou(_pixels(a, size, cache), _pixels(b, size, cache))
    return out


def hungarian(scores: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Pairs (row, column, score) of the assignment maximising the summed score, keeping
    those with score >= ``threshold``."""
    if scores.size == 0:
        return []
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(scores, maximize=True)
    return [(int(r), int(c), float(scores[r, c])) for r, c in zip(rows, cols)
            if scores[r, c] >= threshold]


def surface_distances(a: np.ndarray, b: np.ndarray, spacing: Sequence[float]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances (mm): from each contour voxel of ``a`` to the nearest
    contour voxel of ``b``, and back. Arrays are numpy-ordered ([k, j, i] or [row, col]);
    ``spacing`` is ITK-ordered (si, sj[, sk]). Surfaces are SimpleITK's ``LabelContour``
    (face connectivity) of the masks padded by one background voxel (so the image's edge
    bounds an object cut by it); distances read from the absolute
    ``SignedMaurerDistanceMap`` of the other surface, with the image spacing."""
    import SimpleITK as sitk

    def image(m: np.ndarray) -> Any:
        img = sitk.GetImageFromArray(m.astype(np.uint8))
        img.SetSpacing(tuple(float(s) for s in spacing[:m.ndim]))
        return img

    def contour(img: Any) -> Any:
        return sitk.LabelContour(img, fullyConnected=False)

    def dist(surface: Any) -> np.ndarray:
        d = sitk.SignedMaurerDistanceMap(surface, insideIsPositive=False,
                                         squaredDistance=False, useImageSpacing=True)
        return np.abs(sitk.GetArrayFromImage(d))

    # one voxel of background around: an object cut by the image's edge has its surface
    # there (medpy's convention; LabelContour alone treats outside the image as inside)
    sa, sb = contour(image(np.pad(a, 1))), contour(image(np.pad(b, 1)))
    ma, mb = sitk.GetArrayFromImage(sa) > 0, sitk.GetArrayFromImage(sb) > 0
    return dist(sb)[ma], dist(sa)[mb]


def _crop_both(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both masks cut to the box around either's voxels plus one voxel (distances between
    their voxels and surfaces are unchanged: every voxel they are measured from or to is
    inside)."""
    u = a | b
    cut = []
    for axis in range(u.ndim):
        hit = np.flatnonzero(u.any(axis=tuple(x for x in range(u.ndim) if x != axis)))
        cut.append(slice(max(0, hit[0] - 1), hit[-1] + 2))
    t = tuple(cut)
    return a[t], b[t]


def overlap(ref: np.ndarray, other: np.ndarray, spacing: Sequence[float]) -> dict[str, Any]:
    """Dice, Jaccard, Hausdorff (max and 95 %, mm) and volume difference (mL; on 2D:
    pixels x spacing) of two boolean masks of one grid (see the module doc)."""
    import SimpleITK as sitk

    nr, no = int(np.count_nonzero(ref)), int(np.count_nonzero(other))
    inter = int(np.count_nonzero(ref & other))
    unit = float(np.prod([float(s) for s in spacing[:ref.ndim]]))
    out: dict[str, Any] = {
        "dice": (2 * inter / (nr + no)) if nr + no else None,
        "jaccard": (inter / (nr + no - inter)) if nr + no else None,
        "hausdorff_mm": None, "hd95_mm": None,
        "volume_ref": nr * unit / (1000.0 if ref.ndim == 3 else 1.0),
        "volume_other": no * unit / (1000.0 if ref.ndim == 3 else 1.0),
    }
    out["volume_difference"] = out["volume_other"] - out["volume_ref"]
    if nr and no:
        ref, other = _crop_both(ref, other)
        f = sitk.HausdorffDistanceImageFilter()
        ia, ib = (sitk.GetImageFromArray(m.astype(np.uint8)) for m in (ref, other))
        for img in (ia, ib):
            img.SetSpacing(tuple(float(s) for s in spacing[:ref.ndim]))
        f.Execute(ia, ib)
        out["hausdorff_mm"] = float(f.GetHausdorffDistance())
        da, db = surface_distances(ref, other, spacing)
        out["hd95_mm"] = float(np.percentile(np.concatenate([da, db]), 95))
    return out


def oks(ref: Any, other: Any, area: float, sigmas: Sequence[float]) -> float | None:
    """COCO's object keypoint similarity of keypoint sets ``other`` against ``ref`` (their
    ``points`` (x, y, v)); ``area``: the reference object's area (s^2, pixels). None where the
    reference labels no point."""
    r = np.asarray([(x, y, v) for x, y, v in ref.points], float)
    o = np.asarray([(x, y, v) for x, y, v in other.points], float)
    if len(r) != len(o) or len(r) != len(sigmas):
        return None
    vis = r[:, 2] > 0
    if not vis.any():
        return None
    var = (2 * np.asarray(sigmas, float)) ** 2
    d2 = (r[:, 0] - o[:, 0]) ** 2 + (r[:, 1] - o[:, 1]) ** 2
    e = d2 / var / (area + np.spacing(1)) / 2
    return float(np.sum(np.exp(-e[vis])) / vis.sum())


def sigmas_for(points: int) -> tuple[float, ...]:
    """The OKS sigmas of a skeleton of ``points`` points (see the module doc)."""
    return COCO_PERSON_SIGMAS if points == 17 else (DEFAULT_SIGMA,) * points


def keypoint_area(kp: Any, size: tuple[int, int]) -> float:
    """s^2 of a reference keypoint set: its region's pixel count, else its box's area."""
    from app.core.raster import rasterize

    if kp.region is not None:
        return float(np.count_nonzero(rasterize(kp.region, *size)))
    _, _, w, h = kp.object_bbox()
    return float(w * h)


# ------------------------------------------------------------------ the comparison
@dataclass
class _Counts:
    tp: int = 0
    n_ref: int = 0
    n_other: int = 0
    ious: list[float] = field(default_factory=list)

    def add(self, other: _Counts) -> None:
        self.tp += other.tp
        self.n_ref += other.n_ref
        self.n_other += other.n_other
        self.ious += other.ious

    def row(self) -> dict[str, Any]:
        p = self.tp / self.n_other if self.n_other else None
        r = self.tp / self.n_ref if self.n_ref else None
        f1 = (2 * self.tp / (self.n_ref + self.n_other)) if self.n_ref + self.n_other else None
        return {"reference_objects": self.n_ref, "other_objects": self.n_other,
                "matches": self.tp, "precision": p, "recall": r, "f1": f1,
                "mean_iou": float(np.mean(self.ious)) if self.ious else None}


def _area_objs(objs: Iterable[Obj]) -> list[Obj]:
    return [o for o in objs if o.shape.kind in AREA_KINDS]


def _by_class(objs: Iterable[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = defaultdict(list)
    for o in objs:
        out[o.cls].append(o)
    return out


def _mean(values: Iterable[float | None]) -> float | None:
    v = [x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(v)) if v else None


def compare(projects: Sequence[ProjectData], progress: Progress | None = None
            ) -> dict[str, Any]:
    """Every agreement table of ``projects`` (the first is the reference): a JSON-ready dict
    with ``annotators``, ``media`` (matched and missing items), ``pairs`` (per pair: objects
    overall and per class, COCO mAP, masks, keypoints, tracks, confusion), ``per_item`` and
    ``classifications`` (kappa / Fleiss / alpha per question)."""
    if len(projects) < 2:
        raise VellumError("Give at least two projects to compare.")
    groups = match_media(projects)
    labels = [p.label for p in projects]
    complete = [g for g in groups if g.complete]
    missing = [{"item": g.name, "in": [labels[i] for i, m in enumerate(g.members) if m],
                "missing_from": [labels[i] for i, m in enumerate(g.members) if m is None]}
               for g in groups if not g.complete]
    per_item: list[dict[str, Any]] = [{"item": g.name, "kind": g.members[0].kind, "pairs": {}}
                                      for g in complete]
    pairs = []
    steps = (len(projects) - 1) * max(1, len(complete))
    for j in range(1, len(projects)):
        pairs.append(_compare_pair(complete, 0, j, labels, per_item, progress, steps))
    for row in per_item:
        row["agreement"] = _mean(p.get("agreement") for p in row["pairs"].values())
    return {"annotators": labels, "reference": labels[0],
            "iou_threshold": IOU_THRESHOLD, "matching": "hungarian",
            "media": {"compared": len(complete), "missing": missing},
            "pairs": pairs, "per_item": per_item,
            "classifications": _classifications(complete, labels)}


def _compare_pair(groups: Sequence[Group], a: int, b: int, labels: Sequence[str],
                  per_item: list[dict[str, Any]], progress: Progress | None,
                  steps: int) -> dict[str, Any]:
    pair = f"{labels[a]} vs {labels[b]}"
    overall, per_cls = _Counts(), defaultdict(_Counts)
    confusion: Counter[tuple[str, str]] = Counter()
    masks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    kps: dict[str, list[float]] = defaultdict(list)
    coco_gt: list[tuple[int, str, Obj, tuple[int, int]]] = []
    coco_dt: list[tuple[int, str, Obj, tuple[int, int]]] = []
    images: list[tuple[int, tuple[int, int]]] = []
    tracks: list[tuple[ItemData, ItemData]] = []
    for n, g in enumerate(groups):
        ra, rb = g.members[a], g.members[b]
        assert ra is not None and rb is not None
        item_counts, item_dice = _Counts(), []
        for key in sorted(set(ra.places) | set(rb.places)):
            size = ra.plane.get(key) or rb.plane[key]
            oa, ob = _area_objs(ra.places.get(key, [])), _area_objs(rb.places.get(key, []))
            image_id = len(images) + 1
            images.append((image_id, size))
            coco_gt += [(image_id, o.cls, o, size) for o in oa]
            coco_dt += [(image_id, o.cls, o, size) for o in ob]
            ca, cb = _by_class(oa), _by_class(ob)
            for cls in set(ca) | set(cb):
                x, y = ca.get(cls, []), cb.get(cls, [])
                got = hungarian(iou_matrix(x, y, size), IOU_THRESHOLD)
                c = _Counts(len(got), len(x), len(y), [s for _, _, s in got])
                per_cls[cls].add(c)
                item_counts.add(c)
            got = hungarian(iou_matrix(oa, ob, size), IOU_THRESHOLD)
            ma, mb = {r for r, _, _ in got}, {c for _, c, _ in got}
            confusion.update((oa[r].cls, ob[c].cls) for r, c, _ in got)
            confusion.update((oa[r].cls, NONE) for r in range(len(oa)) if r not in ma)
            confusion.update((NONE, ob[c].cls) for c in range(len(ob)) if c not in mb)
            # 2D masks per class (union of a class's mask shapes at the place)
            for cls in {o.cls for o in oa + ob if o.shape.kind == "mask"}:
                m1, m2 = (_union([o for o in objs if o.cls == cls and o.shape.kind == "mask"],
                                 size) for objs in (oa, ob))
                row = {"item": g.name, "place": key, **overlap(m1, m2, (1.0, 1.0))}
                masks[cls].append(row)
                item_dice.append(row["dice"])
            _keypoints(ra.places.get(key, []), rb.places.get(key, []), size, ra.skeletons, kps)
        for cls in sorted(set(ra.labelmaps) | set(rb.labelmaps)):
            shape = (ra.frames, ra.height, ra.width)
            m1 = ra.labelmaps.get(cls, np.zeros(shape, bool))
            m2 = rb.labelmaps.get(cls, np.zeros(m1.shape, bool))
            if m1.shape != m2.shape:
                masks[cls].append({"item": g.name, "place": "volume", "dice": None,
                                   "jaccard": None, "hausdorff_mm": None, "hd95_mm": None,
                                   "volume_difference": None,
                                   "note": f"label maps of {m1.shape} and {m2.shape} voxels "
                                           "cannot be compared"})
                continue
            row = {"item": g.name, "place": "volume", **overlap(m1, m2, ra.spacing)}
            masks[cls].append(row)
            item_dice.append(row["dice"])
        overall.add(item_counts)
        if ra.tracks or rb.tracks:
            tracks.append((ra, rb))
        tags = _tag_match(ra, rb)
        f1 = item_counts.row()["f1"]
        per_item[n]["pairs"][pair] = {
            "f1": f1, "mean_iou": item_counts.row()["mean_iou"], "dice": _mean(item_dice),
            "tags_agree": tags, "agreement": _mean([f1, _mean(item_dice),
                                                    None if tags is None else float(tags)])}
        if progress is not None:
            progress((b - 1) * max(1, len(groups)) + n + 1, steps, g.name)
    classes = sorted(set(per_cls))
    return {"pair": pair, "reference": labels[a], "other": labels[b],
            "objects": overall.row(),
            "per_class": [{"class": c, **per_cls[c].row()} for c in classes],
            "coco": coco_map(images, coco_gt, coco_dt),
            "masks": [{"class": c, "dice": _mean(r["dice"] for r in rows),
                       "jaccard": _mean(r["jaccard"] for r in rows),
                       "hd95_mm": _mean(r["hd95_mm"] for r in rows),
                       "hausdorff_mm": _mean(r["hausdorff_mm"] for r in rows),
                       "volume_difference": float(sum(r["volume_difference"] for r in rows
                                                     if r["volume_difference"] is not None)),
                       "items": rows} for c, rows in sorted(masks.items())],
            "keypoints": [{"class": c, "matches": len(v), "mean_oks": _mean(v)}
                          for c, v in sorted(kps.items())],
            "tracks": mot_metrics(tracks),
            "confusion": _confusion_table(confusion)}


def _union(objs: Sequence[Obj], size: tuple[int, int]) -> np.ndarray:
    from app.core.raster import rasterize

    out = np.zeros(size, bool)
    for o in objs:
        out |= rasterize(o.shape, *size).astype(bool)
    return out


def _keypoints(oa: Sequence[Obj], ob: Sequence[Obj], size: tuple[int, int],
               skeletons: dict[str, int], out: dict[str, list[float]]) -> None:
    ka = _by_class(o for o in oa if o.shape.kind == "keypoints")
    kb = _by_class(o for o in ob if o.shape.kind == "keypoints")
    for cls in set(ka) & set(kb):
        x, y = ka[cls], kb[cls]
        sig = sigmas_for(skeletons.get(cls, len(x[0].shape.points)))
        m = np.zeros((len(x), len(y)))
        for r, p in enumerate(x):
            area = keypoint_area(p.shape, size)
            for c, q in enumerate(y):
                m[r, c] = oks(p.shape, q.shape, area, sig) or 0.0
        out[cls] += [s for _, _, s in hungarian(m, 1e-12)]


def _tag_match(ra: ItemData, rb: ItemData) -> bool | None:
    if not ra.tags and not rb.tags:
        return None
    return sorted(ra.tags) == sorted(rb.tags)


def _confusion_table(counts: Counter[tuple[str, str]]) -> dict[str, Any]:
    rows = sorted({r for r, _ in counts} - {NONE}) + [NONE]
    cols = sorted({c for _, c in counts} - {NONE}) + [NONE]
    return {"rows": rows, "columns": cols,
            "counts": [[counts.get((r, c), 0) for c in cols] for r in rows]}


# ------------------------------------------------------------------ COCO mAP, MOT
def coco_map(images: Sequence[tuple[int, tuple[int, int]]],
             gt: Sequence[tuple[int, str, Obj, tuple[int, int]]],
             dt: Sequence[tuple[int, str, Obj, tuple[int, int]]]) -> dict[str, Any]:
    """COCO AP (IoU .50:.95) and AP50 of ``dt`` against ground truth ``gt`` by pycocotools'
    ``COCOeval``: ``bbox`` on every object's box, ``segm`` on its pixels. Rows: (image id,
    class, object, (height, width))."""
    try:
        from pycocotools import mask as mask_utils
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        return {"unavailable": "COCO mAP needs pycocotools (pip install pycocotools)."}
    if not gt or not dt:
        return {"bbox": None, "segm": None}
    from app.core.raster import rasterize
    import contextlib
    import io

    cats = {c: i + 1 for i, c in enumerate(sorted({r[1] for r in list(gt) + list(dt)}))}

    def anns(rows: Sequence[Any], det: bool) -> list[dict[str, Any]]:
        out = []
        for n, (img, cls, o, size) in enumerate(rows):
            bbox = [float(v) for v in o.shape.bbox()]
            rle = mask_utils.encode(np.asfortranarray(rasterize(o.shape, *size)
                                                      .astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            a = {"id": n + 1, "image_id": img, "category_id": cats[cls], "bbox": bbox,
                 "segmentation": rle, "area": float(bbox[2] * bbox[3]), "iscrowd": 0}
            if det:
                a["score"] = 1.0 if o.score is None else float(o.score)
            out.append(a)
        return out

    result: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for kind in ("bbox", "segm"):
            g = COCO()
            g.dataset = {"images": [{"id": i, "height": s[0], "width": s[1]} for i, s in images],
                         "categories": [{"id": v, "name": k} for k, v in cats.items()],
                         "annotations": anns(gt, False)}
            if kind == "segm":
                for a in g.dataset["annotations"]:
                    a["area"] = float(mask_utils.area(a["segmentation"]))
            g.createIndex()
            d = g.loadRes(anns(dt, True))
            ev = COCOeval(g, d, kind)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            result[kind] = {"map": _nan_none(ev.stats[0]), "ap50": _nan_none(ev.stats[1]),
                            "ap75": _nan_none(ev.stats[2])}
    return result


def _nan_none(v: float) -> float | None:
    v = float(v)
    return None if v < 0 or math.isnan(v) else v


def _iou_distances(gt: Sequence[Sequence[float]], hy: Sequence[Sequence[float]]
                   ) -> np.ndarray:
    """motmetrics' ``distances.iou_matrix(gt, hy, max_iou=0.5)``: 1 - IoU, NaN (no match)
    above 0.5 (that function calls ``np.asfarray``, gone in numpy 2)."""
    d = np.full((len(gt), len(hy)), np.nan)
    for r, a in enumerate(gt):
        for c, b in enumerate(hy):
            v = 1.0 - box_iou(a, b)
            if v <= 1 - IOU_THRESHOLD:
                d[r, c] = v
    return d


def mot_metrics(items: Sequence[tuple[ItemData, ItemData]]) -> dict[str, Any] | None:
    """MOTA, IDF1 (and their counts) of the second's tracks against the first's, by
    motmetrics, over every video both have tracks on (IoU >= 0.5). None without tracks."""
    if not items:
        return None
    try:
        import motmetrics as mm
    except ImportError:
        return {"unavailable": "MOTA and IDF1 need motmetrics (pip install motmetrics)."}
    accs, names = [], []
    for ra, rb in items:
        acc = mm.MOTAccumulator(auto_id=False)
        ids = {t: n for n, t in enumerate(list(ra.tracks) + list(rb.tracks))}  # ints only
        frames = sorted({f for _, boxes in list(ra.tracks.values()) + list(rb.tracks.values())
                         for f in boxes})
        for f in frames:
            gt = [(t, b[f]) for t, (_, b) in ra.tracks.items() if f in b]
            hy = [(t, b[f]) for t, (_, b) in rb.tracks.items() if f in b]
            d = _iou_distances([x for _, x in gt], [x for _, x in hy])
            acc.update([ids[t] for t, _ in gt], [ids[t] for t, _ in hy], d, frameid=f)
        accs.append(acc)
        names.append(ra.name)
    mh = mm.metrics.create()
    summary = mh.compute_many(accs, metrics=["mota", "idf1", "num_switches", "num_misses",
                                             "num_false_positives", "num_objects"],
                              names=names, generate_overall=True)
    row = summary.loc["OVERALL"]
    return {"mota": _nan_none(row["mota"]) if row["mota"] >= -1e9 else None,
            "idf1": _nan_none(row["idf1"]), "switches": int(row["num_switches"]),
            "misses": int(row["num_misses"]),
            "false_positives": int(row["num_false_positives"]),
            "objects": int(row["num_objects"])}


# ------------------------------------------------------------------ classifications
def _classifications(groups: Sequence[Group], labels: Sequence[str]) -> list[dict[str, Any]]:
    """One row per question: ``class`` of objects, each object attribute, presence of each
    tag class and each tag attribute; with Cohen's kappa per pair, Fleiss' kappa and
    Krippendorff's alpha across all."""
    questions: dict[str, list[list[Any]]] = defaultdict(list)
    n = len(labels)
    # tags: presence of each tag class any annotator used, on every item; tag attributes
    tag_classes = sorted({c for g in groups for m in g.members if m is not None
                          for c in m.tags})
    for g in groups:
        members = [m for m in g.members if m is not None]
        for c in tag_classes:
            questions[f"tag {c}"].append(["yes" if c in m.tags else "no" for m in members])
            names = sorted({k for m in members for k in m.tags.get(c, {})})
            for k in names:
                questions[f"tag {c}.{k}"].append([m.tags[c].get(k) if c in m.tags else None
                                                  for m in members])
        # objects: anchored on the reference's, matched class-agnostically by IoU
        ref = members[0]
        for key, objs in ref.places.items():
            oa = _area_objs(objs)
            if not oa:
                continue
            size = ref.plane[key]
            rows: list[list[Obj | None]] = [[o] + [None] * (n - 1) for o in oa]
            for j in range(1, n):
                ob = _area_objs(members[j].places.get(key, []))
                for r, c, _ in hungarian(iou_matrix(oa, ob, size), IOU_THRESHOLD):
                    rows[r][j] = ob[c]
            for row in rows:
                questions["object class"].append([o.cls if o else None for o in row])
                names = sorted({k for o in row if o for k in o.attributes})
                for k in names:
                    questions[f"{row[0].cls}.{k}"].append(  # type: ignore[union-attr]
                        [o.attributes.get(k) if o else None for o in row])
    out = []
    for q, units in questions.items():
        data = [[u[r] for u in units] for r in range(n)]
        pairs = []
        for a, b in combinations(range(n), 2):
            both = [(x, y) for x, y in zip(data[a], data[b]) if x is not None and y is not None]
            pairs.append({"pair": f"{labels[a]} vs {labels[b]}", "units": len(both),
                          "cohen_kappa": cohen_kappa([x for x, _ in both], [y for _, y in both]),
                          "percent_agreement": _mean([float(x == y) for x, y in both])})
        full = [u for u in units if all(v is not None for v in u)]
        out.append({"question": q, "units": len(units), "pairs": pairs,
                    "fleiss_kappa": fleiss_kappa(full) if n > 2 else None,
                    "krippendorff_alpha": krippendorff_alpha(data)})
    return out


# ------------------------------------------------------------------ text summary
def summary_lines(result: dict[str, Any]) -> list[str]:
    """A few plain lines for the terminal."""
    def f(v: Any) -> str:
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    lines = [f"Compared {result['media']['compared']} media item(s) of "
             f"{', '.join(result['annotators'])} (reference: {result['reference']})"]
    for m in result["media"]["missing"]:
        lines.append(f"  not in every project: {m['item']} (missing from "
                     f"{', '.join(m['missing_from'])})")
    for p in result["pairs"]:
        o = p["objects"]
        lines.append(f"{p['pair']}: objects P {f(o['precision'])} R {f(o['recall'])} "
                     f"F1 {f(o['f1'])} mean IoU {f(o['mean_iou'])}")
        coco = p["coco"]
        if coco.get("bbox"):
            lines.append(f"  COCO mAP (bbox) {f(coco['bbox']['map'])}, "
                         f"AP50 {f(coco['bbox']['ap50'])}")
        for m in p["masks"]:
            lines.append(f"  {m['class']}: Dice {f(m['dice'])} Jaccard {f(m['jaccard'])} "
                         f"HD95 {f(m['hd95_mm'])} volume diff {f(m['volume_difference'])}")
        for k in p["keypoints"]:
            lines.append(f"  {k['class']}: mean OKS {f(k['mean_oks'])} ({k['matches']} matched)")
        t = p["tracks"]
        if t and "mota" in t:
            lines.append(f"  tracks: MOTA {f(t['mota'])} IDF1 {f(t['idf1'])}")
    for q in result["classifications"]:
        ks = ", ".join(f(p["cohen_kappa"]) for p in q["pairs"])
        lines.append(f"{q['question']}: Cohen's kappa {ks}; Fleiss {f(q['fleiss_kappa'])}; "
                     f"Krippendorff's alpha {f(q['krippendorff_alpha'])} ({q['units']} units)")
    return lines


def jsonable(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None and numpy numbers as Python ones."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return None if math.isnan(v) or math.isinf(v) else v
    return obj


def labels_for(paths: Sequence[str]) -> list[str]:
    """Distinct annotator labels for project paths (folder names, numbered if repeated)."""
    from app.core.store import project_file

    base = []
    for p in paths:
        try:
            base.append(_project_label(project_file(p)))
        except Exception:  # noqa: BLE001 - only a label; opening reports the real problem
            base.append(os.path.basename(os.path.normpath(p)))
    seen: Counter[str] = Counter(base)
    count: Counter[str] = Counter()
    out = []
    for b in base:
        count[b] += 1
        out.append(f"{b} ({count[b]})" if seen[b] > 1 else b)
    return out
