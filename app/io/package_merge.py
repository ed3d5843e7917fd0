"""``vellum merge PROJECT PACKAGE...``: bring work packages (:mod:`app.io.packages`) back.

Per package, one undoable command in PROJECT (:meth:`Document.execute`; none when the package
brings nothing new). An object (``annotation:``, ``track:``, ``labelmap:``, ``brick:`` or
``status:`` key, compared by content fingerprint without who/when fields) *changed in the
package* when its package version differs from the *baseline*: the manifest's split-time
snapshot, or after a merge the package as merged then (kept in PROJECT's note
``package:<package id>``, written in the same command).

- PROJECT still has the baseline version: the package's version lands (a deletion too).
- PROJECT already has the package's version: nothing to do (so merging again is a no-op).
- Otherwise PROJECT changed it too (an edit since the split, or another package merged
  first): a *conflict*, listed and kept both ways. PROJECT keeps its version; the package's
  goes in as a copy with a new id (derived from package, object and content, so merging
  again adds nothing) marked by the attribute ``merge_conflict`` = ``{"of": id, "package":
  name}`` (an annotation copy stands alone, off its track); voxels of a brick changed on both
  sides go into a copy of the label map named "... (conflict, package-i)". A deletion against
  a changed object is not applied; a change against a deletion in PROJECT brings the
  package's version back (listed).
- A track whose deletion would orphan shapes PROJECT still has stays (listed); labels on a
  media item PROJECT lacks are listed, not merged; classes the package added are added.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.commands import Batch, Command, Put, Remove, SetMeta, SetSchema
from app.core.document import Document
from app.core.errors import VellumError
from app.core.labelmap import LabelMapInfo
from app.core.store import project_file
from app.io.gold import gold_marks
from app.io.packages import (MARKER, Objects, brick_fp, brick_values, labelmap_writes,
                             package_objects, read_manifest, record_fp)

BrickKey3 = tuple[int, int, int]


@dataclass
class MergeResult:
    """What one package's merge did: objects landed, deleted, conflict copies made, and one
    sentence per conflict."""

    package: str
    landed: int = 0
    deleted: int = 0
    copies: int = 0
    conflicts: list[str] = field(default_factory=list)
    gold: int = 0  # package objects on PROJECT's gold items, not merged (see visit)

    @property
    def summary(self) -> str:
        if not (self.landed or self.deleted or self.copies or self.conflicts):
            return "nothing new (already merged)"
        return (f"{self.landed} object(s) added or changed, {self.deleted} deleted, "
                f"{len(self.conflicts)} conflict(s), {self.copies} conflict copy(ies)"
                + (f", {self.gold} on gold items left for 'vellum score'" if self.gold else ""))

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "landed": self.landed, "deleted": self.deleted,
                "copies": self.copies, "conflicts": self.conflicts, "gold": self.gold}


def _project_version(doc: Document, key: str) -> tuple[str | None, Any]:
    """PROJECT's fingerprint and record of ``key`` (None, None: not there; a brick's record
    is (label map, brick key, blob))."""
    kind, _, rest = key.partition(":")
    if kind == "annotation":
        found = doc.store.get_annotations([rest])
        return (record_fp(found[0]), found[0]) if found else (None, None)
    if kind == "track":
        t = doc.track(rest)
        return (record_fp(t), t) if t else (None, None)
    if kind == "labelmap":
        info = doc.stored_labelmap(rest)
        return (record_fp(info), info) if info else (None, None)
    if kind == "status":
        m = doc.stored_media(rest)
        return (m.status.value, m) if m else (None, None)
    if kind == "brick":
        lm, _, ijk = rest.partition(":")
        key3 = tuple(int(v) for v in ijk.split(","))
        info = doc.stored_labelmap(lm)
        blob = doc.store.load_brick(lm, key3) if info else None  # type: ignore[arg-type]
        return brick_fp(blob), (info, key3, blob)
    return None, None


def _describe(key: str, record: Any) -> str:
    kind, _, rest = key.partition(":")
    if isinstance(record, Annotation):
        where = f" on frame {record.frame}" if record.frame is not None else ""
        return f"{record.kind.replace('_', ' ')} {record.id}{where}"
    return f"{kind} {rest}"


def _media_of(record: Any) -> str | None:
    """The media item a package record lies on (a brick: its label map's)."""
    if isinstance(record, tuple):
        record = record[0]
    return getattr(record, "media_id", None) if record is not None else None


class _Merge:
    """One package's merge into the open PROJECT: collects what lands, then one command."""

    def __init__(self, doc: Document, package: Path, manifest: dict[str, Any],
                 baseline: dict[str, str], objs: Objects,
                 values: dict[str, np.ndarray]) -> None:
        self.doc, self.package, self.manifest = doc, package, manifest
        self.baseline, self.objs, self.values = baseline, objs, values
        self.name = str(manifest.get("name") or package.name)
        self.result = MergeResult(f"{self.name} ({package})")
        self.puts: dict[str, Any] = {}
        self.removes: dict[str, Any] = {}
        self.bricks: list[tuple[LabelMapInfo, BrickKey3, np.ndarray | None]] = []
        self.conflict_maps: dict[str, LabelMapInfo] = {}
        self.gold = set(gold_marks(doc))  # an annotator's labels there are rated, not merged

    def copy_id(self, key: str, fp: str) -> str:
        return uuid.uuid5(uuid.NAMESPACE_URL,
                          f"vellum-merge:{self.manifest['package_id']}:{key}:{fp}").hex

    def conflict(self, text: str) -> None:
        self.result.conflicts.append(text)

    # ---- one object
    def visit(self, key: str) -> None:
        b, p = self.baseline.get(key), self.objs.fps.get(key)
        if p == b:
            return  # the package did not change it
        d, drec = _project_version(self.doc, key)
        if d == p:
            return  # PROJECT already has it (merged before, or the same edit)
        prec = self.objs.records.get(key)
        kind = key.split(":")[0]
        if kind == "status" and (drec is None or prec is None):
            return  # an item PROJECT does not have (its labels are listed)
        media_id = _media_of(prec)
        if media_id in self.gold:
            self.result.gold += 1
        elif media_id is not None and self.doc.stored_media(media_id) is None:
            self.conflict(f"{_describe(key, prec)}: on media item {media_id}, which "
                          f"{self.doc.path} does not have (not merged)")
        elif d == b:
            self.land(key, kind, prec, drec)
        else:
            self.keep_both(key, kind, p, d, prec, drec)

    def land(self, key: str, kind: str, prec: Any, drec: Any) -> None:
        """PROJECT has the baseline: the package's version (or deletion) lands."""
        if kind == "brick":
            info = self.doc.stored_labelmap(key.split(":")[1]) or (prec[0] if prec else None)
            if info is not None:
                self.bricks.append((info, (prec or drec)[1], self.values.get(key)))
                self.result.landed += 1
        elif kind == "status":
            self.puts[key] = replace(drec, status=prec.status)
            self.result.landed += 1
        elif prec is None:
            if drec is not None:
                self.removes[key] = drec
                self.result.deleted += 1
        else:
            self.puts[key] = prec
            self.result.landed += 1

    def keep_both(self, key: str, kind: str, p: str | None, d: str | None, prec: Any,
                  drec: Any) -> None:
        """Both sides moved away from the baseline: PROJECT's stays, the package's is kept
        beside it (or back, where PROJECT deleted it)."""
        what = _describe(key, prec if prec is not None else drec)
        if kind == "brick":
            info = prec[0] if prec is not None else drec[0]
            copy = self._conflict_map(info)
            self.bricks.append((copy, (prec or drec)[1], self.values.get(key)))
            self.result.copies += 1
            self.conflict(f"{what}: voxels changed in the package and in the project (the "
                          f"package's are in label map {copy.id!r}, {copy.name!r})")
        elif kind == "status":
            self.conflict(f"status of {key.split(':')[1]}: {prec.status.value} in the package, "
                          f"{drec.status.value} in the project (the project's kept)")
        elif p is None:
            self.conflict(f"{what}: deleted in the package, changed in the project (kept)")
        elif d is None:
            self.puts[key] = prec
            self.result.landed += 1
            self.conflict(f"{what}: changed in the package, deleted in the project (the "
                          "package's version is back)")
        elif kind == "labelmap":
            self.conflict(f"{what}: segments changed in the package and in the project (the "
                          "project's kept)")
        else:
            cid = self.copy_id(key, p)
            marker = {MARKER: {"of": prec.id, "package": self.name}}
            if isinstance(prec, Annotation):
                copy = replace(prec, id=cid, track_id=None, keyframe=True,
                               attributes={**prec.attributes, **marker})
                there = bool(self.doc.store.get_annotations([cid]))
            else:
                copy = replace(prec, id=cid, attributes={**prec.attributes, **marker})
                there = self.doc.track(cid) is not None
            if not there:
                self.puts[f"{kind}:{cid}"] = copy
                self.result.copies += 1
            self.conflict(f"{what}: changed in the package and in the project (the project's "
                          f"kept, the package's as {kind} {cid} marked '{MARKER}')")

    def _conflict_map(self, info: LabelMapInfo) -> LabelMapInfo:
        """The copy of a label map that holds the package's side of conflicting bricks."""
        if info.id not in self.conflict_maps:
            cid = self.copy_id(f"labelmap:{info.id}", "bricks")
            stored = self.doc.stored_labelmap(cid)
            self.conflict_maps[info.id] = stored or replace(
                info, id=cid, name=f"{info.name} (conflict, {self.name})")
        return self.conflict_maps[info.id]

    # ---- the one command
    def keep_tracks_with_shapes(self) -> None:
        """A track goes only when none of its shapes stays in PROJECT."""
        gone = {r.id for r in self.removes.values() if isinstance(r, Annotation)}
        for key, track in list(self.removes.items()):
            if isinstance(track, Track):
                staying = set(self.doc.store.track_shape_ids(track.id)) - gone
                if staying:
                    del self.removes[key]
                    self.result.deleted -= 1
                    self.conflict(f"track {track.id}: deleted in the package, but the project "
                                  f"has {len(staying)} shape(s) on it (kept)")

    def steps(self, package_classes: tuple[Any, ...]) -> list[Command]:
        doc = self.doc
        steps: list[Command] = []
        new_classes = [c for c in package_classes if doc.schema.class_by_id(c.id) is None]
        if new_classes:
            taken = [c.name for c in new_classes if doc.schema.class_by_name(c.name)]
            if taken:
                raise VellumError(f"{self.package} has class(es) {', '.join(map(repr, taken))} "
                                  f"that {doc.path} also has under another identity; rename "
                                  "them in the package before merging.")
            steps.append(SetSchema(replace(doc.schema, classes=doc.schema.classes
                                           + tuple(new_classes))))
        gone_anns = tuple(r for r in self.removes.values() if isinstance(r, Annotation))
        if gone_anns:
            steps.append(Remove(gone_anns))
        new_maps = tuple(m for m in self.conflict_maps.values()
                         if doc.stored_labelmap(m.id) is None)
        stored = tuple(self.puts.values()) + new_maps
        if stored:
            steps.append(Put(stored))
        for info, key3, values in self.bricks:
            if f"labelmap:{info.id}" not in self.removes:  # else it goes with its voxels
                steps.extend(labelmap_writes(info, key3, values))
        gone_rest = tuple(r for r in self.removes.values() if not isinstance(r, Annotation))
        if gone_rest:
            steps.append(Remove(gone_rest))
        return steps


def _merge_one(doc: Document, package: Path) -> MergeResult:
    manifest = read_manifest(package)
    project_id = doc.store.meta().get("project_id")
    if manifest["source"].get("project_id") != project_id:
        raise VellumError(f"{package} is a package of another project "
                          f"({manifest['source'].get('name')!r}), not of {doc.path}.")
    note = f"package:{manifest['package_id']}"
    merged_before = doc.store.meta(note).get(note)
    try:
        baseline = json.loads(merged_before) if merged_before else dict(manifest["snapshot"])
    except ValueError:
        raise VellumError(f"{doc.path} holds a damaged note of an earlier merge of "
                          f"{package}.") from None
    with Document.open(package) as pkg:
        objs = package_objects(pkg)
        classes = pkg.schema.classes
        values = {k: brick_values(pkg, r[0], r[1]) for k, r in objs.records.items()
                  if k.startswith("brick:") and baseline.get(k) != objs.fps[k]}
    merge = _Merge(doc, package, manifest, baseline, objs, values)
    for key in sorted(set(baseline) | set(objs.fps)):
        merge.visit(key)
    merge.keep_tracks_with_shapes()
    steps = merge.steps(classes)
    if steps or objs.fps != baseline:  # an untouched package leaves no trace
        steps.append(SetMeta({note: json.dumps(objs.fps, sort_keys=True,
                                               separators=(",", ":"))}))
        doc.execute(Batch(tuple(steps), label=f"Merge {merge.name}"))
    return merge.result


def merge_into(doc: Document, packages: list[str | Path],
               progress: Callable[[int, int], Any] | None = None) -> list[MergeResult]:
    """Merge each package into the open project ``doc``, in the order given: one undoable
    command each (none for a package with nothing new)."""
    out = []
    for n, package in enumerate(packages):
        if progress:
            progress(n, len(packages))
        folder = Path(package)
        folder = folder.parent if folder.suffix == ".vellum" else folder
        if not project_file(folder).is_file():
            raise VellumError(f"{folder} is not a work package: no project in it.")
        out.append(_merge_one(doc, folder))
    return out


def merge_packages(project: str | Path, packages: list[str | Path],
                   progress: Callable[[int, int], Any] | None = None) -> list[MergeResult]:
    """Merge each package into ``project`` (see :func:`merge_into`)."""
    with Document.open(project) as doc:
        return merge_into(doc, packages, progress)
