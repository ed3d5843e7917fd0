"""Consensus of several annotators: ``vellum consensus A B C -o MERGED`` (Qt-free).

The projects (or work packages) are read as :mod:`app.io.compare` reads them
(:func:`~app.io.compare.load_project`) and their media matched the same way (content
fingerprint, else file name; :func:`~app.io.compare.match_media`). For each media item, with
``n`` the number of annotators who have it, a **majority** is ``n // 2 + 1`` (2 of 2, 2 of 3,
3 of 4, 3 of 5). The fused labels go into a NEW project MERGED (an existing path is refused;
nothing is written into the inputs or their media; media items keep the first annotator's id
and point at its media files by absolute path).

Rules, per place (an image, a video frame, a volume slice):

* **Clusters.** Objects of a kind family (boxes; polygons and rotated boxes; masks) are
  clustered ignoring their class, at most one object per annotator in a cluster. Boxes follow
  weighted box fusion (WBF, Solovyev, Wang & Gabruseva 2021): boxes in descending score order
  (a hand-drawn box has score 1; ties keep annotator order, then drawing order), each joins the
  cluster whose *fused* box it overlaps most with IoU > T (``--iou``, default 0.5) and that has
  no box of its annotator yet, else starts a cluster. Polygons and masks join the cluster whose
  first object they overlap most (pixel IoU > T), on the same terms.
* **Kept** when drawn by at least a majority; a cluster drawn by fewer is dropped and listed.
* **Boxes**: WBF of the cluster: corners ``x = sum(c_i x_i) / sum(c_i)`` (c_i the scores), the
  score ``sum(c_i) / k * min(k, n) / n`` for k boxes of n annotators (the paper's rescaling).
* **Polygons and rotated boxes**: the **medoid**, the member with the highest mean pixel IoU
  to the other members (ties: the earlier annotator).
* **Masks** (2D mask shapes): binary **STAPLE** (SimpleITK ``STAPLEImageFilter``, foreground
  1, at most 1000 iterations: SimpleITK's default has no bound) of every annotator's mask of
  the cluster over the whole picture (an annotator without one contributes an empty mask);
  fused = probability >= 0.5; an empty estimate is not kept.
* **Label maps** (volumes): every annotator's label maps as one label image (the value of a
  class is its 1-based place in the sorted class names), fused by **multi-label STAPLE**
  (SimpleITK ``MultiLabelSTAPLEImageFilter``, at most 1000 iterations); undecided voxels
  (SimpleITK's label max + 1) become background and are counted.
* **Classes and attributes**: majority vote (plurality) of the cluster's members; a tie goes to
  the value of the earliest annotator (command-line order) among the tied. An attribute voted
  "absent" is left out. **Tags** (item classifications): a tag class is kept when a majority
  set it; its attributes by vote among those who did.
* **Video tracks** (the boxes each track shows on each frame, interpolated as the exports
  do): clustered by :func:`track_similarity` > T with each cluster's first track (one track
  per annotator), kept with a majority; on each frame where at least a majority of the
  cluster's tracks show a box, the WBF of those boxes (equal weights), stored as a box
  keyframe, with an ``outside`` marker after each run of frames. Class by majority vote.
* Keypoints and polylines are not fused (counted under ``not_fused``).

**Flags** for review: a cluster or tag drawn by fewer than all annotators, a vote that is not
unanimous, a fused box, polygon or track whose members' mean IoU to it is below X
(``--flag-below``, default 0.8), track frames left out for want of a majority, a mask whose
STAPLE sensitivity of some annotator is below X, a label map class whose sensitivity of some
annotator against the fused label map (|annotator & fused| / |fused|) is below X, undecided
voxels. Each fused object carries the
attribute ``consensus`` = ``{"agree": k, "of": n, "review": bool[, "flags": [...]]}``, every
flag (dropped clusters too) is listed in the result, and an item with a flag is left with the
status Needs review in MERGED.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import VellumError
from app.io.consensus_rules import (MARK, MAX_ITERATIONS, tally, vote_attributes,
                                    Cluster, Member, score_of, cluster_boxes, cluster_regions,
                                    majority, medoid, multilabel_staple, staple,
                                    track_similarity, vote, wbf)

DEFAULT_IOU = 0.5
DEFAULT_FLAG_BELOW = 0.8
SOURCE = "consensus"
Progress = Callable[[int, int, str], None]


# ------------------------------------------------------------------ the fusion
@dataclass
class Fused:
    """One fused object: its class name, shape, attributes (with ``consensus``), score."""

    cls: str
    shape: Any
    attributes: dict[str, Any]
    score: float | None = None


@dataclass
class ItemResult:
    """What the fusion made of one media item."""

    name: str
    of: int
    raters: list[int]
    places: dict[str, list[Fused]] = field(default_factory=dict)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    labelmap: tuple[np.ndarray, list[str]] | None = None
    tracks: list[tuple[str, dict[int, tuple[float, float, float, float]], dict[str, Any]]] = \
        field(default_factory=list)


class _Fuser:
    def __init__(self, labels: Sequence[str], iou: float, flag_below: float) -> None:
        self.labels = list(labels)
        self.iou = iou
        self.flag_below = flag_below
        self.flags: list[dict[str, Any]] = []
        self.kept = self.dropped = 0
        self.not_fused: Counter[str] = Counter()

    def flag(self, item: str, place: str, kind: str, cls: str, agree: int, of: int,
             reasons: list[str], kept: bool) -> None:
        self.flags.append({"item": item, "place": place or "image", "kind": kind,
                           "class": cls, "agree": agree, "of": of, "kept": kept,
                           "reasons": list(reasons)})

    def item(self, name: str, members: Sequence[Any]) -> ItemResult:
        raters = [r for r, m in enumerate(members) if m is not None]
        present = [members[r] for r in raters]
        n = len(raters)
        out = ItemResult(name, n, raters)
        keys = sorted({k for m in present for k in m.places})
        for key in keys:
            size = next(m.plane[key] for m in present if key in m.plane)
            fams: dict[str, list[Member]] = {"box": [], "region": [], "mask": []}
            for r, m in zip(raters, present):
                for order, o in enumerate(m.places.get(key, [])):
                    kind = o.shape.kind
                    fam = {"box": "box", "polygon": "region", "rotated_box": "region",
                           "mask": "mask"}.get(kind)
                    if fam is None:
                        self.not_fused[kind] += 1
                        continue
                    fams[fam].append(Member(r, o, order))
            fused: list[Fused] = []
            if fams["box"]:
                for c in cluster_boxes(fams["box"], n, self.iou):
                    fused += self._box(name, key, c, n)
            for fam in ("region", "mask"):
                if fams[fam]:
                    clusters, m = cluster_regions(fams[fam], size, self.iou)
                    index = {id(x): i for i, x in enumerate(fams[fam])}
                    for c in clusters:
                        c.members.sort(key=lambda x: (x.rater, x.order))
                        sub = m[np.ix_([index[id(x)] for x in c.members],
                                       [index[id(x)] for x in c.members])]
                        fused += (self._region(name, key, c, n, sub) if fam == "region"
                                  else self._mask(name, key, c, n, raters, size))
            if fused:
                out.places[key] = fused
        self._tags(name, present, n, out)
        if any(m.tracks for m in present):
            out.tracks = self._tracks(name, raters, present, n)
        if any(m.labelmaps for m in present):
            out.labelmap = self._labelmaps(name, present, n)
        return out

    def _common(self, name: str, key: str, kind: str, c: Cluster, n: int,
                reasons: list[str], possible: bool = True) -> tuple[bool, str, dict[str, Any]]:
        """Majority and votes of a cluster: (kept, class, attributes with ``consensus``);
        not kept without a majority or where the fused shape is empty (``possible``)."""
        k = len(c.members)
        members = sorted(c.members, key=lambda x: (x.rater, x.order))
        cls, count = vote([x.obj.cls for x in members])
        if count < k:
            reasons.insert(0, f"class: {tally([x.obj.cls for x in members])}")
        if k < n:
            who = ", ".join(self.labels[x.rater] for x in members)
            reasons.insert(0, f"drawn by {k} of {n} ({who})")
        attrs = vote_attributes([x.obj.attributes for x in members], reasons)
        kept = k >= majority(n) and possible
        if not kept:
            self.dropped += 1
            self.flag(name, key, kind, cls, k, n, reasons, False)
        else:
            self.kept += 1
            attrs[MARK] = {"agree": k, "of": n, "review": bool(reasons)}
            if reasons:
                attrs[MARK]["flags"] = list(reasons)
                self.flag(name, key, kind, cls, k, n, reasons, True)
        return kept, cls, attrs

    def _box(self, name: str, key: str, c: Cluster, n: int) -> list[Fused]:
        from app.core.shapes import Box
        from app.io.compare import box_iou

        members = sorted(c.members, key=lambda x: (x.rater, x.order))
        box, score = wbf([x.obj.shape.bbox() for x in members],
                         [score_of(x.obj) for x in members], n)
        reasons: list[str] = []
        if len(members) > 1:
            mean = float(np.mean([box_iou(box, x.obj.shape.bbox()) for x in members]))
            if mean < self.flag_below:
                reasons.append(f"mean IoU to the fused box {mean:.3f} < {self.flag_below}")
        kept, cls, attrs = self._common(name, key, "box", c, n, reasons)
        return [Fused(cls, Box(*box), attrs, score)] if kept else []

    def _region(self, name: str, key: str, c: Cluster, n: int, ious: np.ndarray
                ) -> list[Fused]:
        i = medoid(ious)
        reasons: list[str] = []
        k = len(c.members)
        if k > 1:
            mean = float((ious[i].sum() - ious[i, i]) / (k - 1))
            if mean < self.flag_below:
                reasons.append(f"mean IoU to the kept polygon {mean:.3f} < {self.flag_below}")
        kept, cls, attrs = self._common(name, key, c.members[i].obj.shape.kind, c, n, reasons)
        return [Fused(cls, c.members[i].obj.shape, attrs)] if kept else []

    def _mask(self, name: str, key: str, c: Cluster, n: int, raters: list[int],
              size: tuple[int, int]) -> list[Fused]:
        from app.core.raster import rasterize
        from app.core.rle import encode
        from app.core.shapes import Mask

        by_rater = {x.rater: rasterize(x.obj.shape, *size).astype(bool) for x in c.members}
        reasons: list[str] = []
        if n > 1:
            masks = [by_rater.get(r, np.zeros(size, bool)) for r in raters]
            fused, sens, _, converged = staple(masks)
            if not converged:
                reasons.append(f"STAPLE did not converge in {MAX_ITERATIONS} iterations")
            low = [f"{self.labels[r]} {s:.3f}" for r, s in zip(raters, sens)
                   if r in by_rater and not s >= self.flag_below]
            if low:
                reasons.append(f"STAPLE sensitivity below {self.flag_below}: {', '.join(low)}")
        else:
            fused = next(iter(by_rater.values()))
        if not fused.any():
            reasons.append("the STAPLE estimate is empty (probability < 0.5 everywhere)")
        kept, cls, attrs = self._common(name, key, "mask", c, n, reasons,
                                        possible=bool(fused.any()))
        return [Fused(cls, Mask(encode(fused)), attrs)] if kept else []

    def _tracks(self, name: str, raters: list[int], present: Sequence[Any], n: int
                ) -> list[tuple[str, dict[int, Any], dict[str, Any]]]:
        """Video tracks: clustered by :func:`track_similarity` > T with each cluster's first
        track (annotator order, one track per annotator), kept with a majority; on each frame
        where a majority of the annotators' tracks show a box, their WBF (equal weights)."""
        from app.io.compare import box_iou

        clusters: list[list[tuple[int, str, dict[int, Any]]]] = []
        for r, m in zip(raters, present):
            for cls, boxes in m.tracks.values():
                if not boxes:
                    continue
                best, best_sim = None, self.iou
                for c in clusters:
                    if any(x[0] == r for x in c):
                        continue
                    sim = track_similarity(c[0][2], boxes)
                    if sim > best_sim:
                        best, best_sim = c, sim
                if best is None:
                    clusters.append([(r, cls, boxes)])
                else:
                    best.append((r, cls, boxes))
        out = []
        need = majority(n)
        for c in clusters:
            k = len(c)
            reasons: list[str] = []
            fused: dict[int, Any] = {}
            short = 0
            ious = []
            for f in sorted({f for _, _, b in c for f in b}):
                boxes = [b[f] for _, _, b in c if f in b]
                if len(boxes) < need:
                    short += 1
                    continue
                fused[f] = wbf(boxes, [1.0] * len(boxes), n)[0]
                if len(boxes) > 1:
                    ious += [box_iou(fused[f], b) for b in boxes]
            cls, count = vote([x[1] for x in c])
            if k < n:
                who = ", ".join(self.labels[x[0]] for x in c)
                reasons.append(f"tracked by {k} of {n} ({who})")
            if count < k:
                reasons.append(f"class: {tally([x[1] for x in c])}")
            if short and k >= need:
                reasons.append(f"{short} frame(s) shown by fewer than {need} left out")
            if ious and float(np.mean(ious)) < self.flag_below:
                reasons.append(f"mean IoU to the fused boxes {float(np.mean(ious)):.3f} < "
                               f"{self.flag_below}")
            kept = k >= need and bool(fused)
            if kept:
                self.kept += 1
                attrs = {MARK: {"agree": k, "of": n, "review": bool(reasons)}}
                if reasons:
                    attrs[MARK]["flags"] = list(reasons)
                out.append((cls, fused, attrs))
            else:
                self.dropped += 1
            if reasons or not kept:
                self.flag(name, "video", "track", cls, k, n, reasons, kept)
        return out

    def _tags(self, name: str, present: Sequence[Any], n: int, out: ItemResult) -> None:
        for cls in sorted({c for m in present for c in m.tags}):
            having = [m.tags[cls] for m in present if cls in m.tags]
            reasons: list[str] = []
            k = len(having)
            if k < n:
                reasons.append(f"set by {k} of {n}")
            attrs = vote_attributes(having, reasons)
            kept = k >= majority(n)
            if kept:
                attrs[MARK] = {"agree": k, "of": n, "review": bool(reasons)}
                if reasons:
                    attrs[MARK]["flags"] = list(reasons)
                out.tags[cls] = attrs
            if reasons:
                self.flag(name, "", "tag", cls, k, n, reasons, kept)

    def _labelmaps(self, name: str, present: Sequence[Any], n: int
                   ) -> tuple[np.ndarray, list[str]] | None:
        classes = sorted({c for m in present for c in m.labelmaps})
        shape = (present[0].frames, present[0].height, present[0].width)
        images = []
        for m in present:
            img = np.zeros(shape, np.uint16)
            for v, cls in enumerate(classes, start=1):
                got = m.labelmaps.get(cls)
                if got is None:
                    continue
                if got.shape != shape:
                    self.flag(name, "volume", "labelmap", cls, 0, n,
                              [f"label maps of {got.shape} and {shape} voxels cannot be fused"],
                              False)
                    return None
                img[got] = v
            images.append(img)
        if n > 1:
            fused, undecided = multilabel_staple(images)
        else:
            fused, undecided = images[0], 0
        for v, cls in enumerate(classes, start=1):
            f = fused == v
            k = sum(1 for img in images if (img == v).any())
            reasons = []
            if k < n:
                reasons.append(f"segmented by {k} of {n}")
            total = int(np.count_nonzero(f))
            if total and n > 1:
                low = [f"{self.labels[r]} {s:.3f}" for r, s in
                       ((r, np.count_nonzero(f & (img == v)) / total)
                        for r, img in zip(range(n), images)) if s < self.flag_below]
                if low:
                    reasons.append(f"sensitivity against the fused label map below "
                                   f"{self.flag_below}: {', '.join(low)}")
            if reasons:
                self.flag(name, "volume", "labelmap", cls, k, n, reasons, total > 0)
        if undecided:
            self.flag(name, "volume", "labelmap", "", n, n,
                      [f"{undecided} undecided voxel(s) left as background"], True)
        return fused, classes


# ------------------------------------------------------------------ the command
def consensus(projects: Sequence[str], out: str | Path, iou: float = DEFAULT_IOU,
              flag_below: float = DEFAULT_FLAG_BELOW, labels: Sequence[str] | None = None,
              progress: Progress | None = None) -> dict[str, Any]:
    """Fuse ``projects`` into the new project ``out`` (see the module doc); return the
    JSON-ready result (annotators, output, rules, counts, flags). All or nothing: the project
    is built in a hidden folder beside ``out`` and renamed into place when whole."""
    from app.core.document import Document
    from app.core.identity import new_id
    from app.io.compare import labels_for, load_project, match_media

    if len(projects) < 2:
        raise VellumError("Give at least two projects to fuse (vellum consensus A B [C ...] "
                          "-o MERGED).")
    if not 0.0 <= iou < 1.0:
        raise VellumError(f"--iou must be in [0, 1), got {iou}.")
    target = Path(out)
    if os.path.lexists(target):
        raise VellumError(f"{target} already exists; consensus writes a new project (choose "
                          "another path).")
    resolved = target.resolve()
    for p in projects:
        folder = Path(p).resolve()
        folder = folder.parent if folder.suffix == ".vellum" else folder
        if resolved == folder or folder in resolved.parents:
            raise VellumError(f"{target} is inside the input project {p}; write the "
                              "consensus elsewhere.")
    from app.core.store import project_file
    from app.io.outputs import Guard, project_files

    protected = []
    for p in projects:  # their files, journals, locks and media (a media folder too)
        protected += project_files(project_file(p))
    Guard(protected).check(target)
    labels = list(labels or labels_for(projects))
    data = [load_project(p, lab) for p, lab in zip(projects, labels)]
    sources = []
    for p in projects:
        with Document.open(p) as doc:
            sources.append(({(m.name, m.fingerprint): (replace(
                m, path=doc.media_path(m).resolve().as_posix()), doc.frame_times(m.id))
                for m in doc.media()}, doc.schema))
    groups = match_media(data)
    fuser = _Fuser(labels, iou, flag_below)
    results: list[tuple[Any, Any, ItemResult]] = []
    partial = []
    for n, g in enumerate(groups):
        first = next(r for r, m in enumerate(g.members) if m is not None)
        item = g.members[first]
        media, times = sources[first][0][(item.name, item.fingerprint)]
        res = fuser.item(g.name, g.members)
        if res.of < len(projects):
            partial.append({"item": g.name, "in": [labels[r] for r in res.raters]})
        results.append((media, times, res))
        if progress is not None:
            progress(n + 1, len(groups), g.name)
    schema = _merged_schema([s for _, s in sources])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VellumError(f"Cannot create {target.parent} ({exc.strerror}).") from exc
    tmp = target.parent / f".{target.name}.{new_id()[:8]}.partial"
    try:
        with Document.create(tmp, name=f"Consensus of {', '.join(labels)}") as doc:
            _write(doc, schema, results, {f["item"] for f in fuser.flags})
        if os.path.lexists(target):
            raise VellumError(f"{target} appeared while fusing; nothing was written there.")
        os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {"annotators": labels, "output": str(target), "iou_threshold": iou,
            "flag_below": flag_below, "majority": "n // 2 + 1 of the n annotators of an item",
            "media": {"fused": len(results), "partial": partial},
            "objects": {"kept": fuser.kept, "dropped": fuser.dropped},
            "not_fused": dict(sorted((k, v) for k, v in fuser.not_fused.items() if v)),
            "flags": fuser.flags}


def _merged_schema(schemas: Sequence[Any]) -> Any:
    """The first project's classes, then the others' classes of new names (a hotkey or id
    already taken dropped or renewed, a missing parent unlinked)."""
    from app.core.identity import new_id
    from app.core.schema import LabelSchema

    classes = list(schemas[0].classes)
    for s in schemas[1:]:
        for c in s.classes:
            if any(x.name == c.name for x in classes):
                continue
            ids = {x.id for x in classes}
            keys = {x.hotkey for x in classes if x.hotkey}
            classes.append(replace(c, id=new_id() if c.id in ids else c.id,
                                   hotkey=None if c.hotkey in keys else c.hotkey,
                                   parent_id=c.parent_id if c.parent_id in ids else None))
    return LabelSchema(classes=tuple(classes))


def _write(doc: Any, schema: Any, results: Sequence[tuple[Any, Any, ItemResult]],
           flagged: set[str]) -> None:
    """Put the fused media, schema and labels into the new project ``doc``; an item with a
    flag ends Needs review."""
    from app.core.annotations import Annotation, Track
    from app.core.commands import Batch, ModifyLabelMap, Put, SetSchema
    from app.core.labelmap import LabelMapInfo, Mode, Segment
    from app.core.media import MediaStatus
    from app.core.places import Place
    from app.core.shapes import Tag

    media = [replace(m, status=MediaStatus.UNLABELED, position=n)
             for n, (m, _, _) in enumerate(results)]
    times = [t for _, t, _ in results if t is not None]
    doc.execute(Put(tuple(media) + tuple(times), label="Add media"))
    doc.execute(SetSchema(schema))
    records: list[Any] = []
    voxels: list[Any] = []
    for m, (_, _, res) in zip(media, results):
        for key, objs in res.places.items():
            place = _place(m.id, key)
            for o in objs:
                c = schema.class_by_name(o.cls)
                records.append(Annotation(place=place, shape=o.shape,
                                          class_id=c.id if c else None,
                                          attributes=o.attributes, source=SOURCE,
                                          score=o.score))
        for cls, attrs in res.tags.items():
            c = schema.class_by_name(cls)
            records.append(Annotation(place=Place(m.id), shape=Tag(),
                                      class_id=c.id if c else None, attributes=attrs,
                                      source=SOURCE))
        for cls, boxes, attrs in res.tracks:
            c = schema.class_by_name(cls)
            track = Track(media_id=m.id, class_id=c.id if c else None, attributes=attrs)
            records.append(track)
            records += _track_shapes(track, boxes, m.frames)
        if res.labelmap is not None:
            fused, classes = res.labelmap
            segs = []
            for v, cls in enumerate(classes, start=1):
                c = schema.class_by_name(cls)
                segs.append(Segment(v, cls, color=c.color if c else "#3cb44b",
                                    class_id=c.id if c else None))
            info = LabelMapInfo(m.id, *fused.shape, name="Consensus", segments=tuple(segs))
            records.append(info)
            for v in range(1, len(classes) + 1):
                if (fused == v).any():
                    voxels.append(ModifyLabelMap(info.id, (0, 0, 0), fused == v, Mode.ADD, v))
    if records:
        doc.execute(Put(tuple(records), label="Consensus"))
    if voxels:
        doc.execute(Batch(tuple(voxels), label="Consensus segmentation"))
    review = [replace(doc.media_item(m.id), status=MediaStatus.NEEDS_REVIEW)
              for m, (_, _, res) in zip(media, results) if res.name in flagged]
    if review:
        doc.execute(Put(tuple(review), label="Needs review"))


def _track_shapes(track: Any, boxes: dict[int, Sequence[float]], frame_count: int
                  ) -> list[Any]:
    """A fused track's keyframes: a box on every frame it shows, and an ``outside`` marker on
    the frame after each run of frames (a stored shape holds to the video's end otherwise)."""
    from app.core.annotations import Annotation
    from app.core.places import Place
    from app.core.shapes import Box

    out = []
    for f in sorted(boxes):
        out.append(Annotation(place=Place(track.media_id, f), shape=Box(*boxes[f]),
                              class_id=track.class_id, track_id=track.id, source=SOURCE))
        if f + 1 not in boxes and f + 1 < frame_count:
            out.append(Annotation(place=Place(track.media_id, f + 1), shape=Box(*boxes[f]),
                                  class_id=track.class_id, track_id=track.id, outside=True,
                                  source=SOURCE))
    return out


def _place(media_id: str, key: str) -> Any:
    """The :class:`~app.core.places.Place` of a compare place key."""
    from app.core.places import Place

    if key.startswith("f"):
        return Place(media_id, int(key[1:]))
    if ":" in key:
        axis, index = key.split(":")
        return Place(media_id, axis=axis, index=int(index))
    return Place(media_id)


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A few plain lines for the terminal: counts, then one line per flag."""
    o = result["objects"]
    lines = [f"Fused {result['media']['fused']} media item(s) of "
             f"{', '.join(result['annotators'])} into {result['output']}: {o['kept']} "
             f"object(s) kept, {o['dropped']} dropped (no majority), "
             f"{len(result['flags'])} flag(s) for review"]
    for p in result["media"]["partial"]:
        lines.append(f"  not in every project: {p['item']} (in {', '.join(p['in'])})")
    for k, v in result["not_fused"].items():
        lines.append(f"  not fused: {v} {k}(s)")
    for f in result["flags"]:
        state = "kept" if f["kept"] else "dropped"
        lines.append(f"  {f['item']} {f['place']} {f['kind']} {f['class'] or '-'} "
                     f"({f['agree']} of {f['of']}, {state}): {'; '.join(f['reasons'])}")
    return lines
