"""COCO import: check the whole file, then add it as one undoable command (see
:mod:`app.io.coco` for the shape mapping and conventions).

The file is streamed twice (:mod:`app.io.coco.stream`), never held whole: memory is about
what the imported annotations take in the project, not the JSON text plus Python lists of it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.annotations import Annotation, Track
from app.core.commands import Batch, Command, Put, SetSchema
from app.core.document import Document
from app.core.errors import BadInputError
from app.core.identity import utc_now
from app.core.media import MediaItem, MediaKind
from app.core.schema import LabelClass, LabelSchema
from app.core.shapes import Event, Polyline, Tag
from app.io.coco.classes import ClassMapper
from app.io.coco.decode import Decoder
from app.io.coco.foreign import COCO, coco_of, is_id
from app.io.coco.media_map import MediaMapper
from app.io.coco.review import import_review
from app.io.coco.stream import Header, iter_annotations, read_header

Progress = Callable[[int, int], None]
CHUNK = 5_000  # annotations per Put of the import (bounds the store's row buffer)
KNOWN_TOP = frozenset({"images", "annotations", "categories", "videos", "info", "licenses",
                       "tracks", "vellum_review"})


class AlreadyImported(BadInputError):
    """The same file (by content) was imported into this project before."""

    def __init__(self, message: str, path: Path, when: str, count: int) -> None:
        super().__init__(message, path)
        self.when, self.count = when, count


class _Reader:
    """Checks a COCO file completely before anything is written, then builds one command."""

    def __init__(self, doc: Document, path: Path, images_dir: Path,
                 progress: Progress | None, cancelled: Callable[[], bool] | None) -> None:
        self.doc, self.path, self.images_dir = doc, path, images_dir
        self.progress, self.cancelled = progress, cancelled
        self.notes: list[str] = []

    def fail(self, message: str) -> None:
        raise BadInputError(f"{self.path}: {message}.", self.path)

    def step(self, done: int, total: int) -> None:
        if self.cancelled and self.cancelled():
            raise BadInputError(f"Import of {self.path} was cancelled; nothing was written.",
                                self.path)
        if self.progress:
            self.progress(done, total)

    # ---------------------------------------------------------------- the file
    def header(self) -> Header:
        head = read_header(self.path, lambda d, t: self.step(d // 2, max(t, 1)), self.cancelled)
        data = head.data
        if not ({"images", "annotations", "categories"} & (set(data) | (
                {"annotations"} if head.annotations_type else set()))):
            self.fail("is not a COCO file (it has none of 'images', 'annotations', "
                      "'categories')")
        for key in ("images", "categories", "videos", "licenses", "tracks"):
            if key in data and not isinstance(data[key], list):
                self.fail(f"the list '{key}' is not a list")
        if head.annotations_type not in (None, "list"):
            self.fail("the list 'annotations' is not a list")
        if "images" not in data and any(isinstance(v, dict) and "file_names" in v
                                        for v in data.get("videos") or []):
            self.fail("is a YouTube-VIS file (frames listed inside 'videos', masks per video "
                      "in 'segmentations'); Vellum reads COCO-style video files whose frames "
                      "are images (CocoVID, TAO, or YouTube-VIS converted by mmtracking)")
        return head

    def already(self, head: Header) -> None:
        for entry in (self.doc.schema.foreign.get(COCO) or {}).get("imports") or []:
            if isinstance(entry, dict) and entry.get("sha256") == head.sha256:
                when = str(entry.get("at", "before"))
                raise AlreadyImported(
                    f"{self.path} was already imported into {self.doc.path} ({when}); "
                    f"importing it again would add its {head.annotations} annotations a second "
                    "time (use --again to import it anyway).", self.path, when,
                    head.annotations)

    def file_level(self, schema: LabelSchema, data: dict[str, Any], head: Header,
                   sequences: list[dict[str, Any]], now: str) -> LabelSchema:
        fl = dict(schema.foreign.get(COCO) or {})
        info = data.get("info")
        if "info" in data and "info" not in fl and not (
                isinstance(info, dict) and "vellum_version" in info):
            fl["info"] = info

        def merge(key: str, entries: list[Any]) -> None:
            have = list(fl.get(key) or [])
            ids = {e.get("id") for e in have if isinstance(e, dict)}
            for e in entries:
                if isinstance(e, dict) and e.get("id") in ids:
                    continue
                have.append(e)
                if isinstance(e, dict):
                    ids.add(e.get("id"))
            fl[key] = have

        if "licenses" in data:
            merge("licenses", data["licenses"])
        if sequences:
            merge("videos", sequences)
        if "tracks" in data:
            merge("tracks", data["tracks"])
        top = dict(fl.get("top") or {})
        for k, v in data.items():
            if k not in KNOWN_TOP and k not in top:
                top[k] = v
        if top:
            fl["top"] = top
        fl["imports"] = [*(fl.get("imports") or []), {
            "sha256": head.sha256, "file": self.path.name, "at": now,
            "images": str(self.images_dir)}]
        return LabelSchema(schema.classes, {**schema.foreign, COCO: fl})

    def matcher(self, data: dict[str, Any], new: set[str]):
        """For Vellum's own exports (images carry ``attributes.vellum_id``): the annotation
        already in the project that an entry without a Vellum id is (same image, same COCO
        id), so that re-importing an export updates instead of duplicating."""
        own = any(isinstance(im, dict) and isinstance(im.get("attributes"), dict)
                  and "vellum_id" in im["attributes"] for im in data.get("images") or [])
        if not own:
            return None
        cache: dict[str, dict[Any, str]] = {}

        def match(item: MediaItem, coco_id: Any) -> str | None:
            if item.id in new:
                return None
            if item.id not in cache:
                found: dict[Any, str] = {}
                for a in self.doc.annotations(item.id, all_frames=True):
                    cid = coco_of(a).get("id")
                    if cid is not None and isinstance(cid, (int, str)):
                        found.setdefault(cid, a.id)
                cache[item.id] = found
            return cache[item.id].get(coco_id) if isinstance(coco_id, (int, str)) else None
        return match

    # ---------------------------------------------------------------- everything
    def read(self, again: bool) -> tuple[Command, dict[str, Any]]:
        head = self.header()
        if not again:
            self.already(head)
        data = head.data
        now = utc_now()
        mapper = ClassMapper(self.doc.schema)
        by_cat: dict[Any, LabelClass | None] = {}
        for n, cat in enumerate(data.get("categories") or []):
            if not isinstance(cat, dict) or "id" not in cat:
                self.fail(f"category {n} needs an id and a name")
            if not is_id(cat["id"]):
                self.fail(f"category {n} has an id that is not a number or text")
            if cat["id"] in by_cat:
                self.fail(f"category id {cat['id']!r} is used twice")
            by_cat[cat["id"]] = mapper.add(cat, f"category {n}")
        media = MediaMapper(self.doc, self.images_dir, self.fail)
        media.videos(data.get("videos") or [])
        media.images(data.get("images") or [])
        plan = media.plan

        def unknown_category(cat_id: Any) -> LabelClass:
            cls = mapper.add({"id": cat_id, "name": str(cat_id)}, f"category id {cat_id!r}")
            assert cls is not None
            return cls

        dec = Decoder(self.fail, plan.images, by_cat, self.doc.author, now,
                      self.matcher(data, {m.id for m in plan.new}), unknown_category)
        tracks: dict[tuple[str, Any], Track] = {}

        def track_id(ann: dict, item: MediaItem, cls: LabelClass | None, attrs: dict
                     ) -> str | None:
            if ann.get("track_id") is None or item.kind is not MediaKind.VIDEO:
                return None
            if not is_id(ann["track_id"]):
                self.fail(f"annotation {ann.get('id')!r} has a track_id that is not a number "
                          "or text")
            key = (item.id, ann["track_id"])
            if key not in tracks:
                tid = attrs.get("vellum_track_id")
                static = {k: v for k, v in cls.split_attributes(attrs)[0].items()
                          if not k.startswith("vellum_")} if cls is not None else {}
                tracks[key] = Track(media_id=item.id, class_id=cls.id if cls else None,
                                    attributes=static,
                                    **({"id": tid} if isinstance(tid, str) else {}))
            return tracks[key].id

        anns: list[Annotation] = []
        total = max(head.annotations, 1)
        if head.annotations:
            for n, ann in enumerate(iter_annotations(self.path)):
                if n == 0 and isinstance(ann, dict) and "segments_info" in ann:
                    self.fail("is a COCO panoptic file (segments_info with PNG masks); "
                              "Vellum imports COCO instance, keypoint, caption and video "
                              "files, not panoptic ones")
                if _interpolated(ann):
                    continue  # a frame our export computed between keyframes: not stored
                anns.append(dec.decode(ann, n, track_id))
                if n % 5000 == 0:
                    self.step(total + n, 2 * total)
        anns.extend(self.own_image_labels(data, plan, by_cat, dec))
        schema = self.file_level(mapper.schema, data, head, plan.sequences, now)
        self.notes += mapper.notes + plan.notes + dec.finish_notes()
        command = self.command(schema, plan.new + list(plan.updated.values()),
                               list(tracks.values()), anns)
        review, review_notes = import_review(data, plan, {a.id: a.media_id for a in anns},
                                             self.fail)
        self.notes += review_notes
        if review is not None:  # review states and comments of Vellum's own export
            command = Batch((*command.commands, review), label=command.label)
        return command, {"media": len(plan.new), "annotations": len(anns),
                         "tracks": len(tracks),
                         "classes": len(mapper.schema.classes) - len(self.doc.schema.classes),
                         "notes": self.notes, "warnings": plan.warnings}

    def own_image_labels(self, data: dict[str, Any], plan, by_cat, dec: Decoder
                         ) -> list[Annotation]:
        """Tags, events and lines of Vellum's own exports (kept beside COCO's objects)."""
        out: list[Annotation] = []

        def label(cls_key: Any, obj: dict, item: MediaItem, frame: int | None, shape,
                  ts: Any = None) -> Annotation:
            if not is_id(cls_key) or cls_key not in by_cat:
                self.fail(f"a label on {item.name} has unknown category {cls_key!r}")
            cls = by_cat[cls_key]
            attrs = obj.get("attributes") if isinstance(obj.get("attributes"), dict) else {}
            return Annotation(place=dec.place(item, frame), shape=shape,
                              class_id=cls.id if cls else None,
                              attributes={k: v for k, v in attrs.items()
                                          if not k.startswith("vellum_")},
                              timestamp=ts if isinstance(ts, (int, float)) else None,
                              creator=dec.author, created=dec.created,
                              id=dec.stable_id(attrs))

        def entries(obj: dict, key: str, where: str) -> list[Any]:
            value = obj.get(key)
            if value is not None and not isinstance(value, list):
                self.fail(f"{where}'s '{key}' is not a list")
            return value or []

        for im in data.get("images") or []:
            item, frame, ts = plan.images[im["id"]]
            for t in entries(im, "tags", f"image {im['id']!r}"):
                if not isinstance(t, dict):
                    self.fail(f"image {im['id']!r} has a tag that is not an object")
                out.append(label(t.get("category_id"), t, item, frame, Tag(), ts))
            attrs = im.get("attributes") if isinstance(im.get("attributes"), dict) else {}
            for line in entries(attrs, "vellum_polylines", f"image {im['id']!r}"):
                if not isinstance(line, dict):
                    self.fail(f"image {im['id']!r} has a line that is not an object")
                pts = dec.array(line.get("points"), f"a line on image {im['id']!r}")
                try:
                    shape = Polyline(pts.reshape(-1, 2))
                except ValueError as exc:
                    self.fail(f"a line on image {im['id']!r} is not valid ({exc})")
                out.append(label(line.get("category_id"), line, item, frame, shape, ts))
        for v in data.get("videos") or []:
            item = plan.videos.get(v.get("id")) if isinstance(v, dict) else None
            if item is None:
                continue
            for t in entries(v, "tags", f"video {v['id']!r}"):
                if not isinstance(t, dict):
                    self.fail(f"video {v['id']!r} has a tag that is not an object")
                out.append(label(t.get("category_id"), t, item, None, Tag()))
            for e in entries(v, "events", f"video {v['id']!r}"):
                if not isinstance(e, dict):
                    self.fail(f"video {v['id']!r} has an event that is not an object")
                try:
                    shape = Event(int(e["start_frame"]), int(e["end_frame"]))
                except (KeyError, TypeError, ValueError, OverflowError) as exc:
                    self.fail(f"video {v['id']!r} has a bad event ({exc})")
                out.append(label(e.get("category_id"), e, item, None, shape))
        return out

    def command(self, schema: LabelSchema, media: list[MediaItem], tracks: list[Track],
                anns: list[Annotation]) -> Command:
        steps: list[Command] = []
        if schema != self.doc.schema:
            steps.append(SetSchema(schema, label="Import"))
        if media:
            steps.append(Put(tuple(media), label="Import"))
        existing = {t.id for m in {t.media_id for t in tracks} for t in self.doc.tracks(m)}
        new_tracks = [t for t in tracks if t.id not in existing]
        if new_tracks:
            steps.append(Put(tuple(new_tracks), label="Import"))
        for n in range(0, len(anns), CHUNK):
            steps.append(Put(tuple(anns[n:n + CHUNK]), label="Import"))
        return Batch(tuple(steps), label=f"Import {self.path.name}")


def plan_import(doc: Document, path: str | Path, images_dir: str | Path | None = None, *,
                again: bool = False, progress: Progress | None = None,
                cancelled: Callable[[], bool] | None = None) -> tuple[Command, dict[str, Any]]:
    """Read and check a COCO file against ``doc`` without writing anything: the one command
    that would import it, and a report (counts of ``media``, ``annotations``, ``tracks``,
    ``classes`` added; ``notes`` and ``warnings``: sentences). Only reads ``doc`` (a worker
    thread may call it on its own connection). Raises :class:`AlreadyImported` when the same
    file was imported before, unless ``again``."""
    p = Path(path)
    root = Path(images_dir) if images_dir else p.parent
    if not root.is_dir():
        raise BadInputError(f"{root} is not a folder (the folder {p.name}'s file names are "
                            "relative to).", root)
    return _Reader(doc, p, root, progress, cancelled).read(again)


def import_coco(doc: Document, path: str | Path, images_dir: str | Path | None = None, *,
                again: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Import a COCO JSON file (from Vellum or another tool) into ``doc`` as one undoable step.

    Image ``file_name``s are resolved against ``images_dir`` (default: the JSON's folder).
    Everything is checked before anything is written: on any problem a
    :class:`BadInputError` names the file and the problem, and the project is unchanged.
    """
    p = Path(path)
    command, report = plan_import(doc, p, images_dir, again=again, progress=progress)
    try:
        doc.execute(command)
    except ValueError as exc:
        raise BadInputError(f"{p}: {str(exc).rstrip('.')}.", p) from exc
    return report


def _interpolated(ann: Any) -> bool:
    """An entry Vellum's export wrote for a frame between a track's stored shapes (it is
    computed from them by core's interpolate, so importing it would only duplicate them)."""
    attrs = ann.get("attributes") if isinstance(ann, dict) else None
    return isinstance(attrs, dict) and attrs.get("vellum_interpolated") is True \
        and isinstance(attrs.get("vellum_id"), str)
