"""COCO export (see :mod:`app.io.coco` for the shape mapping and conventions).

Ids are the file's own where the project has them (images, annotations, categories); new
objects get fresh ids above every kept one, so nothing collides. ``file_name`` is relative to
the images folder (``images_root``; default: the folder the images were imported from, else
the deepest folder holding all exported media), never ``../``. The output is written
atomically with the user's umask, and never onto the project's own files or its media.

Video frames are images with ``video_id``, ``frame_index`` (0-based, presentation order),
``timestamp`` (s) and, on tracks, ``track_id``: every frame a track shows is exported - its
stored shapes (keyframes, a tracker's shapes, outside markers flagged ``outside``) and the
frames between them through core's one :func:`~app.core.interpolate.interpolate`, exactly the
frames and boxes the MOT export writes (interpolated entries carry
``attributes.vellum_interpolated``; an import of our own file skips them and gets the
keyframes back). ``with_images`` also writes those frames as PNG beside the JSON
(:mod:`app.io.coco.video_frames`), their ``file_name`` relative to the JSON's folder.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from app import __version__
from app.core.annotations import INTERPOLATED, Annotation
from app.core.document import Document
from app.core.errors import VellumError
from app.core.identity import utc_now
from app.core.media import MediaItem, MediaKind
from app.core.raster import pixel_areas
from app.core.shapes import Event, Polyline, Tag
from app.io.atomic import atomic_write, protected_files
from app.io.outputs import prepare_output
from app.io.coco.classes import export_color, export_name, export_skeleton
from app.io.coco.entries import Entry
from app.io.coco.foreign import COCO, coco_of
from app.io.coco.review import KEY as REVIEW_KEY
from app.io.coco.review import export_review
from app.io.coco.video_frames import track_frames, with_track_attributes
from app.io.gc_pause import gc_paused

Progress = Callable[[int, int], None]


def frame_file_name(video: MediaItem, frame: int, video_name: str | None = None) -> str:
    """Name under which a video frame is exported as an image: ``<video name>/frame_000123.png``
    (frame index 0-based, presentation order); ``video_name`` is the video's exported name
    (default: its project path)."""
    name = video_name or video.path
    stem = name.rsplit(".", 1)[0] if "." in PurePosixPath(name).name else name
    return f"{stem}/frame_{frame:06d}.png"


# One encoder for every entry: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _dumps(obj: Any) -> str:
    return _ENCODER.encode(obj)


class _Ids:
    """Kept ids where unique, fresh ones (above every kept integer id) for the rest;
    :meth:`lowest` gives the smallest free one instead."""

    def __init__(self, kept: Iterable[Any]) -> None:
        self.used: set[Any] = set()
        self.next = 1 + max((i for i in kept if type(i) is int), default=0)
        self.low = 1

    def keep(self, wanted: Any) -> Any:
        """``wanted`` when still free (None: a fresh id)."""
        if wanted is not None and isinstance(wanted, (int, str)) and wanted not in self.used:
            self.used.add(wanted)
            return wanted
        return None

    def lowest(self) -> int:
        """The smallest free id (for entries that are not stored, such as the frames a track
        shows between keyframes: they get the same ids again on every export)."""
        while self.low in self.used:
            self.low += 1
        self.used.add(self.low)
        return self.low

    def fresh(self) -> int:
        while self.next in self.used:
            self.next += 1
        self.used.add(self.next)
        return self.next


def absolute_media_path(doc: Document, item: MediaItem) -> Path:
    """A media item's absolute path, normalised, from the project folder resolved once per
    document (resolving 10,000 paths one by one costs seconds)."""
    folder = _resolved_folder(str(doc.folder))
    return Path(os.path.normpath(os.path.join(folder, item.path)))


@functools.lru_cache(maxsize=8)
def _resolved_folder(folder: str) -> str:
    return str(Path(folder).resolve())


def default_root(doc: Document, media: list[MediaItem]) -> Path:
    """Default folder for ``file_name``: where the images were imported from (the path less
    its COCO ``file_name``), else their folder; the deepest folder holding all of them."""
    roots: list[str] = []
    for m in media:
        p = absolute_media_path(doc, m)
        fn = coco_of(m).get("file_name")
        root = p.parent
        if isinstance(fn, str) and fn and not PurePosixPath(fn).is_absolute():
            parts = [s for s in PurePosixPath(fn.replace("\\", "/")).parts if s != "."]
            if parts and ".." not in parts and list(p.parts[-len(parts):]) == parts:
                root = Path(*p.parts[:-len(parts)])
        roots.append(str(root))
    if not roots:
        return doc.folder.resolve()
    try:
        return Path(os.path.commonpath(roots))
    except ValueError:  # different drives
        return doc.folder.resolve()


class _Exporter:
    def __init__(self, doc: Document, root: Path, frames_beside: bool = False) -> None:
        self.doc, self.root = doc, root
        self.frames_beside = frames_beside
        self.frame_names: dict[str, str] = {}  # video id -> the name its frames are under
        self.notes: list[str] = []
        self.outside = 0
        self.media = [m for m in doc.media() if m.kind is not MediaKind.VOLUME]
        self.by_id = {m.id: m for m in doc.media()}
        fl = doc.schema.foreign.get(COCO) or {}
        self.file_level = fl
        self.sequences = [v for v in fl.get("videos") or [] if isinstance(v, dict)]
        self.cat_ids = _Ids(coco_of(c).get("id") for c in doc.schema.classes)
        self.categories: list[dict[str, Any]] = []
        self.category_of: dict[str | None, Any] = {}
        for cls in doc.schema.classes:
            self.category_of[cls.id] = self.cat_ids.keep(coco_of(cls).get("id"))
        for cls in doc.schema.classes:
            if self.category_of[cls.id] is None:
                self.category_of[cls.id] = self.cat_ids.fresh()
            self.categories.append(self.category(cls))
        self.image_ids = _Ids(coco_of(m).get("id") for m in self.media)
        self.images: list[dict[str, Any]] = []
        self.image_index: dict[tuple[str, int | None], int] = {}
        self.video_ids = _Ids(v.get("id") for v in self.sequences)
        for v in self.sequences:
            self.video_ids.keep(v.get("id"))
        self.videos: list[dict[str, Any]] = []
        self.video_entry: dict[str, dict[str, Any]] = {}
        self.track_ids: dict[str, int] = {}
        self.polylines = 0

    def category(self, cls) -> dict[str, Any]:
        f = coco_of(cls)
        parent = self.doc.schema.class_by_id(cls.parent_id)
        cat: dict[str, Any] = {"id": self.category_of[cls.id], "name": export_name(cls),
                               "supercategory": parent.name if parent else
                               f.get("supercategory", "")}
        names, edges = export_skeleton(cls)
        if names is not None:
            cat["keypoints"] = names
            cat["skeleton"] = edges if edges is not None else []
        if "color" in f:
            cat["color"] = export_color(cls)
        for k, v in f.items():
            if k not in cat and not k.startswith("vellum_"):
                cat[k] = v
        cat["attributes"] = {"vellum_id": cls.id, "color": cls.color}
        return cat

    def unlabeled(self) -> Any:
        if None not in self.category_of:
            cid = self.cat_ids.fresh()
            self.category_of[None] = cid
            self.categories.append({"id": cid, "name": "unlabeled", "supercategory": "",
                                    "attributes": {"vellum_unlabeled": True}})
        return self.category_of[None]

    def file_name(self, item: MediaItem) -> str:
        p = absolute_media_path(self.doc, item)
        try:
            rel = Path(os.path.relpath(p, self.root)).as_posix()
        except ValueError:
            rel = "../"
        if rel.startswith("../") or rel == "..":
            self.outside += 1
            return p.as_posix()
        return rel

    # ---------------------------------------------------------------- images and videos
    def image_for(self, item: MediaItem, frame: int | None, timestamp: float | None) -> dict:
        key = (item.id, frame if item.kind is MediaKind.VIDEO else None)
        if key in self.image_index:
            return self.images[self.image_index[key]]
        f = coco_of(item)
        if item.kind is MediaKind.VIDEO:
            video = self.video(item)
            entry: dict[str, Any] = {"id": self.image_ids.fresh(), "width": item.width,
                                     "height": item.height,
                                     "file_name": frame_file_name(
                                         item, frame or 0, self.frame_name(item, video)),
                                     "video_id": video["id"], "frame_index": frame,
                                     "timestamp": timestamp,
                                     "attributes": {"vellum_id": item.id}}
        else:
            iid = self.image_ids.keep(f.get("id"))
            if iid is None:
                iid = self.image_ids.fresh()
            entry = {"id": iid, "width": item.width, "height": item.height,
                     "file_name": self.file_name(item)}
            for k, v in f.items():
                if k not in entry and k != "attributes":
                    entry[k] = v
            given = f.get("attributes") if isinstance(f.get("attributes"), dict) else {}
            entry["attributes"] = {**given, "vellum_id": item.id, "status": item.status.value}
        self.image_index[key] = len(self.images)
        self.images.append(entry)
        return entry

    def frame_name(self, item: MediaItem, video: dict[str, Any]) -> str:
        """The name a video's frames are named after: its exported ``file_name``; with frames
        written beside the JSON, a relative name of its own (never ``../``, never another
        video's)."""
        if item.id in self.frame_names:
            return self.frame_names[item.id]
        name = video["file_name"]
        if self.frames_beside:
            if PurePosixPath(name).is_absolute() or name.startswith("../"):
                name = item.file_name
            stem, dot, ext = name.rpartition(".") if "." in PurePosixPath(name).name \
                else (name, "", "")
            taken = set(self.frame_names.values())
            n = 1
            while name in taken:
                n += 1
                name = f"{stem}_{n}{dot}{ext}"
        self.frame_names[item.id] = name
        return name

    def list_images(self) -> None:
        for item in self.media:
            if item.kind is MediaKind.IMAGE:
                self.image_for(item, None, None)

    def video(self, item: MediaItem) -> dict[str, Any]:
        if item.id not in self.video_entry:
            v = {"id": self.video_ids.fresh(), "file_name": self.file_name(item),
                 "width": item.width, "height": item.height, "frame_count": item.frames,
                 "fps": item.video.avg_fps if item.video else None,
                 "tags": [], "events": [], "attributes": {"vellum_id": item.id}}
            self.video_entry[item.id] = v
            self.videos.append(v)
        return self.video_entry[item.id]

    # ---------------------------------------------------------------- annotations
    def label(self, a: Annotation) -> dict[str, Any]:
        return {"category_id": self.cat(a), "attributes": {**a.attributes, "vellum_id": a.id}}

    def cat(self, a: Annotation) -> Any:
        if a.class_id is None:
            f = coco_of(a)
            return f["category_id"] if "category_id" in f else self.unlabeled()
        cid = self.category_of.get(a.class_id)
        return cid if cid is not None else self.unlabeled()

    def group(self, anns: list[Annotation], item: MediaItem) -> list[Entry]:
        """Entries of one media item's annotations (tags, events and lines go elsewhere).
        Entries with ``needs_area`` get their pixel area from :func:`fill_areas`."""
        out: list[Entry] = []
        for a in anns:
            shape = a.shape
            if isinstance(shape, Event):
                self.video(item)["events"].append(
                    {**self.label(a), "start_frame": shape.start, "end_frame": shape.end})
                continue
            if isinstance(shape, Tag) and not coco_of(a):
                if item.kind is MediaKind.VIDEO and a.frame is None:
                    self.video(item)["tags"].append(self.label(a))
                else:
                    self.image_for(item, a.frame, a.timestamp).setdefault("tags", []).append(
                        self.label(a))
                continue
            image = self.image_for(item, a.frame, a.timestamp)
            if isinstance(shape, Polyline):  # COCO has no lines: kept in the image's attributes
                self.polylines += 1
                image["attributes"].setdefault("vellum_polylines", []).append(
                    {**self.label(a), "points": shape.points.flat()})
                continue
            e = Entry(a, image["id"], self.cat(a), item.height, item.width)
            extra: dict[str, Any] = {}
            if a.track_id:
                e.d["track_id"] = self.track_ids.setdefault(a.track_id, len(self.track_ids) + 1)
                extra = {"vellum_track_id": a.track_id, "keyframe": a.keyframe,
                         "outside": a.outside, "occluded": a.occluded}
                if a.source == INTERPOLATED:
                    extra["vellum_interpolated"] = True
            if a.frame is not None:
                extra["frame_index"] = a.frame
            e.attributes(extra)
            out.append(e)
        return out


# Entries held back at most before their areas are computed and their JSON written: large
# enough that the pixel areas of many small images are counted in one batch.
_AREA_BATCH = 20_000


def fill_areas(entries: Sequence[tuple[Entry, MediaItem]]) -> None:
    """Set ``area`` of every entry that ``needs_area``: its shape's pixel count on its image,
    computed in one :func:`pixel_areas` batch per image size (height, width)."""
    by_size: dict[tuple[int, int], list[Entry]] = {}
    for e, item in entries:
        if e.needs_area:
            by_size.setdefault((item.height, item.width), []).append(e)
    for (h, w), group in by_size.items():
        for e, area in zip(group, pixel_areas([e.shape for e in group], h, w)):
            e.d["area"] = float(area)


def export_coco(doc: Document, out: str | Path, progress: Progress | None = None,
                cancelled: Callable[[], bool] | None = None,
                images_root: str | Path | None = None, with_images: bool = False,
                frame_progress: Progress | None = None, *,
                overwrite: bool = False) -> dict[str, Any]:
    """Write the project's 2D labels as COCO JSON to ``out`` (atomically). Every image in the
    project is listed, labelled or not; video frames are listed where they carry labels (a
    track's every frame in view). ``with_images``: the frames' pictures are written beside
    the JSON too (``frame_progress(done, total)``), all or none.
    Returns counts of what was written and ``notes``: sentences on what COCO could not hold.
    The cyclic garbage collector is paused meanwhile (:mod:`app.io.gc_pause`)."""
    with gc_paused():
        return _export_coco(doc, out, progress, cancelled, images_root, with_images,
                            frame_progress, overwrite)


def _export_coco(doc: Document, out: str | Path, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None,
                 images_root: str | Path | None = None, with_images: bool = False,
                 frame_progress: Progress | None = None,
                 overwrite: bool = False) -> dict[str, Any]:
    target = Path(out)
    prepare_output(target, formats=(".json",), overwrite=overwrite, doc=doc)
    media = [m for m in doc.media() if m.kind is not MediaKind.VOLUME]
    root = Path(images_root).resolve() if images_root else default_root(doc, media)
    exp = _Exporter(doc, root, frames_beside=with_images)
    exp.list_images()
    total = doc.store.count("annotations")
    rows: list[tuple[int, int, Any, str]] = []  # (image order, n, kept id or None, json)
    kept_ids: list[Any] = []
    created: list[str] = []
    derived: list[bool] = []  # the frames a track shows between keyframes (not stored)
    skipped_volume = 0
    done = 0
    waiting: list[tuple[Entry, MediaItem]] = []
    exported: set[str] = set()  # annotation ids written (reviews name them)

    def flush() -> None:
        """Pixel areas of the waiting entries (batched by image size), then their JSON rows."""
        fill_areas(waiting)
        for e, item in waiting:
            try:
                text = _dumps(e.d)
            except ValueError:
                raise VellumError(f"Cannot write {target}: annotation {e.a.id} on {item.name} "
                                  "has a value that is not a finite number.", target) from None
            order = exp.image_index.get((item.id, e.a.frame if item.kind is MediaKind.VIDEO
                                         else None), 0)
            rows.append((order, len(rows), e.id, text))
            kept_ids.append(e.id)
            created.append(e.a.created)
            derived.append(e.a.source == INTERPOLATED)
            exported.add(e.a.id)
        waiting.clear()

    for item_id, anns in _by_media(doc.iter_annotations()):
        item = exp.by_id.get(item_id)
        if cancelled and cancelled():
            raise VellumError(f"Export to {target} was cancelled; nothing was written.", target)
        if item is None:
            continue
        if item.kind is MediaKind.VOLUME:
            skipped_volume += len(anns)
            continue
        if item.kind is MediaKind.VIDEO:
            # frames in order, so that their image ids follow (video, frame) order
            anns = sorted(with_track_attributes(doc, anns + track_frames(doc, item, anns)),
                          key=_frame_order)
        entries = exp.group(anns, item)
        waiting.extend((e, item) for e in entries)
        if len(waiting) >= _AREA_BATCH:
            flush()
        done += len(anns)
        if progress:
            progress(done, total)
    flush()
    ann_ids = _Ids(kept_ids)
    ids: list[Any] = [None] * len(rows)
    # where two annotations carry one COCO id (a pasted copy keeps its original's foreign
    # data), the one created first keeps it
    for n in sorted(range(len(rows)), key=lambda n: (created[n], n)):
        ids[n] = ann_ids.keep(rows[n][2])
    repeated = sum(1 for i, (_, _, w, _) in zip(ids, rows) if i is None and w is not None)
    by_place = sorted(range(len(rows)), key=lambda n: rows[n][:2])
    for n in by_place:  # fresh ids in image order, after every kept one; between keyframes
        if ids[n] is None:  # the lowest free ones, so that they are the last export's again
            ids[n] = ann_ids.lowest() if derived[n] else ann_ids.fresh()
    order = sorted(range(len(rows)), key=lambda n: ids[n]) if all(
        type(i) is int for i in ids) else by_place
    if repeated:
        exp.notes.append(f"{repeated} annotation(s) repeated another's COCO id; they got "
                         "fresh ids.")
    if exp.polylines:
        exp.notes.append(f"{exp.polylines} polyline(s) are kept in images[].attributes."
                         "vellum_polylines only: COCO has no lines, and other tools would "
                         "fill a line written as a polygon.")
    if skipped_volume:
        exp.notes.append(f"{skipped_volume} label(s) on volumes are not COCO; export them "
                         "as NIfTI.")
    if exp.outside:
        exp.notes.append(f"{exp.outside} media file(s) lie outside {root}; their file_name is "
                         "absolute.")
    fl = exp.file_level
    info = fl.get("info") if "info" in fl else {
        "description": doc.name, "version": "1.0", "date_created": utc_now(),
        "contributor": doc.author, "url": "", "year": int(utc_now()[:4]),
        "vellum_version": __version__}
    head: dict[str, Any] = {"info": info, "licenses": fl.get("licenses") or []}
    for k, v in (fl.get("top") or {}).items():
        head.setdefault(k, v)
    review, review_left = export_review(doc, exp, exported)
    head.pop(REVIEW_KEY, None)  # never a stale one kept from an earlier import
    if review is not None:
        head[REVIEW_KEY] = review
    if review_left:
        exp.notes.append(f"{review_left} review record(s) on volumes or on objects COCO does "
                         "not hold were left out.")
    head["categories"] = exp.categories
    videos = exp.sequences + exp.videos
    if videos:
        head["videos"] = videos
    head["images"] = exp.images
    if fl.get("tracks"):
        head["tracks"] = fl["tracks"]
    try:
        parts = {k: _dumps(v) for k, v in head.items()}
    except ValueError:
        raise VellumError(f"Cannot write {target}: a value is not a finite number.",
                          target) from None
    frames = None
    if with_images:  # the frames and the JSON land together, or nothing does
        from app.io.coco.video_frames import FrameImages

        with FrameImages(doc, target, overwrite=overwrite) as frames:
            frames.write(exp.images, frame_progress, cancelled)
            _write_json(frames.path(target), parts, rows, ids, order)
    else:
        _write_json(target, parts, rows, ids, order)
    if progress:
        progress(total, total)
    return {"images": len(exp.images), "annotations": len(rows),
            "categories": len(exp.categories), "videos": len(videos), "notes": exp.notes,
            "frame_images": frames.count if frames is not None else 0}


def _frame_order(a: Annotation) -> int:
    return -1 if a.frame is None else a.frame


def _write_json(target: Path, parts: dict[str, str], rows: list[tuple[int, int, Any, str]],
                ids: list[Any], order: list[int]) -> None:
    with atomic_write(target) as f:
        # A file name that is not UTF-8 reaches here as lone surrogates (PEP 383); they can
        # only stand inside JSON strings, where this writes them as the JSON escape \udcff
        # (as ensure_ascii would): the file stays UTF-8, and Python reads the same name back.
        f.reconfigure(errors="backslashreplace")
        f.write("{")
        for k in ("info", "licenses", *[k for k in parts if k not in (
                "info", "licenses", "categories", "videos", "images", "tracks")],
                  "categories", "videos", "images"):
            if k in parts:
                f.write(f"{_dumps(k)}:{parts[k]},")
        f.write('"annotations":[')
        for n, i in enumerate(order):
            f.write(("," if n else "") + '{"id":' + _dumps(ids[i]) + "," + rows[i][3][1:])
        f.write("]")
        if "tracks" in parts:
            f.write(f',"tracks":{parts["tracks"]}')
        f.write("}")


def _by_media(anns: Iterable[Annotation]) -> Iterable[tuple[str, list[Annotation]]]:
    """Consecutive runs of one media item's annotations (the store yields them grouped)."""
    current: str | None = None
    group: list[Annotation] = []
    for a in anns:
        if a.media_id != current:
            if group:
                yield current, group  # type: ignore[misc]
            current, group = a.media_id, []
        group.append(a)
    if group:
        yield current, group  # type: ignore[misc]
