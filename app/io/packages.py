"""Work packages: ``vellum split`` cuts a project into N package projects for N annotators,
``vellum merge`` brings their work back.

A package is a normal Vellum project (``DIR/package-1`` ... ``DIR/package-N``; the names are
ours, never taken from an input file) whose media items keep their ids and point at the source
project's media files by absolute path (nothing is copied, no media file is written). It holds
its share of the items, the label schema, the existing labels of its share (same ids), and
``vellum-package.json``, the manifest: source project id, name and path, its share, the ids it
was given and a *snapshot* - a fingerprint of every object of the share at split time (the
object's JSON without who/when fields: creator, created, modified, frame timestamp).

Shares (``--by``):

- ``item``: whole media items in contiguous runs of project order, N runs of near-equal size;
- ``frames``: every video's frames cut into N contiguous ranges, package *i* holding the
  shapes of range *i*, every track record of the video (shapes stay by frame) and, the
  first, the video's frame-less labels (events, tags); other items are shared by item;
- ``volume``: whole volumes (with their label maps), each to the package with the fewest
  slices so far; other items by item. A project with no volume is refused.

Merge (:mod:`app.io.package_merge`) compares each object's package version with this
snapshot and PROJECT's version: what changed only in the package lands, what changed on both
sides is a conflict kept both ways (the other version as a copy marked ``merge_conflict``).
Nothing here reads or writes a media file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.commands import Batch, Command, ModifyLabelMap, Put, SetSchema
from app.core.document import Document
from app.core.errors import VellumError
from app.core.identity import new_id, utc_now
from app.core.labelmap import BRICK, LabelMapInfo, Mode, brick_shape
from app.core.media import MediaItem, MediaKind
from app.io.atomic import atomic_write
from app.io.gold import gold_marks

MANIFEST = "vellum-package.json"
FORMAT = 1
MARKER = "merge_conflict"
BYS = ("item", "frames", "volume")
_WHO_WHEN = ("creator", "created", "modified", "timestamp")
Progress = Callable[[int, int], Any]


# ------------------------------------------------------------------ fingerprints
def _fp(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()[:32]


def record_fp(record: Annotation | Track | LabelMapInfo) -> str:
    """What a record says, without who/when fields (equal content, equal fingerprint)."""
    body = record.to_json()
    for key in _WHO_WHEN:
        body.pop(key, None)
    return _fp(body)


def brick_fp(blob: bytes | None) -> str | None:
    return None if blob is None else hashlib.sha256(zlib.decompress(blob)).hexdigest()[:32]


def brick_key(labelmap_id: str, key: tuple[int, int, int]) -> str:
    return f"brick:{labelmap_id}:{key[0]},{key[1]},{key[2]}"


class Objects:
    """The comparable objects of one project (or of one share of it): key -> fingerprint,
    and key -> record. Keys: ``annotation:ID``, ``track:ID``, ``labelmap:ID``,
    ``brick:LABELMAP:K,J,I``, ``status:MEDIA``."""

    def __init__(self) -> None:
        self.fps: dict[str, str] = {}
        self.records: dict[str, Any] = {}

    def add(self, key: str, fp: str | None, record: Any = None) -> None:
        if fp is not None:
            self.fps[key] = fp
            self.records[key] = record


def share_objects(doc: Document, media: list[MediaItem],
                   frames: dict[str, tuple[int, int]], first: dict[str, bool]) -> Objects:
    """The objects of a share: everything on its items, only the frame range of a video cut
    by frames (and its frame-less labels where ``first``)."""
    out = Objects()
    for m in media:
        out.add(f"status:{m.id}", m.status.value, m)
        span = frames.get(m.id)
        for a in doc.annotations(m.id, all_frames=True):
            if span is not None and not (
                    (a.frame is None and first.get(m.id, False))
                    or (a.frame is not None and span[0] <= a.frame < span[1])):
                continue
            out.add(f"annotation:{a.id}", record_fp(a), a)
        for t in doc.tracks(m.id):
            out.add(f"track:{t.id}", record_fp(t), t)
        for info in doc.labelmaps(m.id):
            out.add(f"labelmap:{info.id}", record_fp(info), info)
            for key, blob in doc.store.load_bricks(info.id).items():
                out.add(brick_key(info.id, key), brick_fp(blob), (info, key, blob))
    return out


def package_objects(doc: Document) -> Objects:
    """Everything a package holds (its whole content is its share; an item removed from the
    package keeps its labels, as removing media does)."""
    return share_objects(doc, doc.media(include_removed=True), {}, {})


# ------------------------------------------------------------------ shares
@dataclass
class Share:
    """Package ``index``'s part of the work: media ids, and frame ranges [start, stop) of the
    videos cut by frames (a video there in every package)."""

    index: int
    media: list[str] = field(default_factory=list)
    frames: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"media": self.media, "frames": {k: list(v) for k, v in self.frames.items()}}


def _runs(n_items: int, n: int) -> list[range]:
    """``n`` contiguous runs of near-equal length covering ``range(n_items)``."""
    base, extra = divmod(n_items, n)
    out, start = [], 0
    for i in range(n):
        size = base + (1 if i < extra else 0)
        out.append(range(start, start + size))
        start += size
    return out


def plan_shares(items: list[MediaItem], n: int, by: str) -> list[Share]:
    """How ``items`` (project order) are shared among ``n`` packages (see the module doc)."""
    shares = [Share(i) for i in range(n)]
    rest = items
    if by == "frames":
        videos = [m for m in items if m.kind is MediaKind.VIDEO]
        for v in videos:
            if v.frames < n:
                raise VellumError(f"{v.name} has {v.frames} frame(s): too few to cut into {n} "
                                  "packages.")
            for share, run in zip(shares, _runs(v.frames, n)):
                share.media.append(v.id)
                share.frames[v.id] = (run.start, run.stop)
        rest = [m for m in items if m.kind is not MediaKind.VIDEO]
    elif by == "volume":
        volumes = [m for m in items if m.kind is MediaKind.VOLUME]
        if not volumes:
            raise VellumError("The project has no volume to share with --by volume.")
        slices = [0] * n
        for v in volumes:
            i = min(range(n), key=lambda s: (slices[s], s))
            shares[i].media.append(v.id)
            slices[i] += v.frames
        rest = [m for m in items if m.kind is not MediaKind.VOLUME]
    if rest and len(rest) < n and by == "item":
        raise VellumError(f"The project has {len(rest)} media item(s): too few for {n} "
                          "packages.")
    for share, run in zip(shares, _runs(len(rest), n)):
        share.media.extend(rest[i].id for i in run)
    for share in shares:
        if not share.media:
            raise VellumError(f"Package {share.index + 1} of {n} would hold nothing; make "
                              "fewer packages.")
    return shares


# ------------------------------------------------------------------ split
@dataclass
class MadePackage:
    folder: Path
    summary: str


def labelmap_writes(target: LabelMapInfo, key: tuple[int, int, int],
                     values: np.ndarray | None) -> list[Command]:
    """Commands that make brick ``key`` of ``target`` hold ``values`` (None: background):
    clear it, then add each segment value where it lies."""
    start = tuple(b * BRICK for b in key)
    shape = brick_shape(target, key)
    cmds: list[Command] = [ModifyLabelMap(target.id, start, np.ones(shape, bool), Mode.ERASE,
                                          0)]
    if values is not None:
        for v in np.unique(values):
            if v:
                cmds.append(ModifyLabelMap(target.id, start, values == v, Mode.ADD, int(v)))
    return cmds


def brick_values(doc: Document, info: LabelMapInfo, key: tuple[int, int, int]) -> np.ndarray:
    return doc.labelmap_region(info.id, tuple(b * BRICK for b in key), brick_shape(info, key))


def _fill_package(src: Document, pkg: Document, share: Share, n: int) -> Objects:
    """Put the share's items, schema and labels into the new package ``pkg``."""
    items = [src.media_item(m) for m in share.media]
    # media keep their ids and point at the source's files by absolute path
    moved = [replace(m, path=src.media_path(m).resolve().as_posix()) for m in items]
    times = [t for m in items if (t := src.frame_times(m.id)) is not None]
    pkg.execute(Put(tuple(moved) + tuple(times), label="Add media"))
    pkg.execute(SetSchema(src.schema))
    first = {m: share.frames[m][0] == 0 for m in share.frames}
    # gold items go out unlabelled: their labels are the answers `vellum score` rates against
    gold = set(gold_marks(src))
    objs = share_objects(src, [m for m in items if m.id not in gold], share.frames, first)
    records = [r for k, r in objs.records.items() if k.split(":")[0] in
               ("track", "labelmap", "annotation")]
    if records:
        pkg.execute(Put(tuple(records), label="Share labels"))
    bricks: list[Command] = []
    for k, (info, key, _) in ((k, r) for k, r in objs.records.items()
                              if k.startswith("brick:")):
        bricks.extend(labelmap_writes(info, key, brick_values(src, info, key)))
    if bricks:
        pkg.execute(Batch(tuple(bricks), label="Share segmentations"))
    # statuses back as the source has them (a first label moves an item to In progress)
    statuses = [m for m in items if pkg.media_item(m.id).status != m.status]
    if statuses:
        pkg.execute(Put(tuple(replace(pkg.media_item(m.id), status=m.status)
                              for m in statuses), label="Status"))
    return package_objects(pkg)


def split_project(project: str | Path, n: int, out: str | Path, by: str = "item",
                  progress: Progress | None = None) -> list[MadePackage]:
    """Make ``n`` packages of ``project`` under ``out`` (see the module doc). All or none:
    each is built in a hidden folder beside its final name and renamed into place when all
    are whole; an existing ``package-i`` is never replaced."""
    if by not in BYS:
        raise VellumError(f"--by must be one of {', '.join(BYS)}.")
    if n < 1:
        raise VellumError("--into needs at least 1 package.")
    out = Path(out)
    targets = [out / f"package-{i + 1}" for i in range(n)]
    for t in targets:
        if os.path.lexists(t):
            raise VellumError(f"{t} already exists; choose another output folder (a package "
                              "is never overwritten).")
    with Document.open(project) as src:
        meta = src.store.meta()
        shares = plan_shares(src.media(), n, by)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VellumError(f"Cannot create {out} ({exc.strerror}).") from exc
        staged: list[Path] = []
        made: list[MadePackage] = []
        try:
            for share, target in zip(shares, targets):
                tmp = out / f".{target.name}.{new_id()[:8]}.partial"
                staged.append(tmp)
                with Document.create(tmp, name=f"{meta.get('name', 'project')} - "
                                               f"package {share.index + 1} of {n}") as pkg:
                    snapshot = _fill_package(src, pkg, share, n)
                    package_id = new_id()
                    manifest = {
                        "format": FORMAT, "kind": "vellum-package", "package_id": package_id,
                        "name": target.name, "index": share.index + 1, "count": n, "by": by,
                        "created": utc_now(),
                        "source": {"project_id": meta.get("project_id"),
                                   "name": meta.get("name"), "path": str(src.path.resolve())},
                        "share": share.to_json(),
                        "ids": {kind: sorted(k.split(":", 1)[1] for k in snapshot.fps
                                             if k.startswith(kind + ":"))
                                for kind in ("annotation", "track", "labelmap")},
                        "snapshot": snapshot.fps}
                with atomic_write(tmp / MANIFEST) as f:
                    json.dump(manifest, f, indent=1, sort_keys=True)
                labels = len(manifest["ids"]["annotation"])
                made.append(MadePackage(target, f"{len(share.media)} item(s), {labels} "
                                        f"annotation(s), {len(manifest['ids']['track'])} "
                                        f"track(s)"))
                if progress:
                    progress(share.index + 1, n)
            for tmp, target in zip(staged, targets):
                os.rename(tmp, target)
            staged.clear()
        finally:
            for tmp in staged:
                shutil.rmtree(tmp, ignore_errors=True)
    return made


# ------------------------------------------------------------------ manifest
def read_manifest(package: str | Path) -> dict[str, Any]:
    """A package's manifest (``VellumError`` naming the file when absent or unreadable)."""
    from app.io.inputs import read_json_file

    folder = Path(package)
    folder = folder.parent if folder.suffix == ".vellum" else folder
    path = folder / MANIFEST
    if not path.is_file():
        raise VellumError(f"{folder} is not a work package: it has no {MANIFEST}.")
    data = read_json_file(path)
    if not (isinstance(data, dict) and data.get("kind") == "vellum-package"
            and isinstance(data.get("snapshot"), dict) and isinstance(data.get("source"), dict)
            and isinstance(data.get("package_id"), str)):
        raise VellumError(f"{path} is not a Vellum package manifest.")
    if data.get("format") != FORMAT:
        raise VellumError(f"{path} is a package manifest of format {data.get('format')!r}; "
                          f"this Vellum reads format {FORMAT}.")
    return data
