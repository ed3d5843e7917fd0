"""COCO export and import: the one module that owns the COCO JSON format.

Conventions at this boundary (see CONVENTIONS.md): boxes and polygons are continuous pixel
coordinates and pass unchanged; COCO keypoints are integer pixel *indices*, so export subtracts
0.5 and import adds it; masks are compressed RLE exactly as pycocotools writes them.
Vellum-only details ride in each object's ``attributes`` (``vellum_id``, ``vellum_shape``, ...)
so a round trip is lossless while other tools still read plain COCO.

Shape mapping: box → polygon of its corners + bbox; rotated box → polygon of its corners,
enclosing bbox, ``attributes.rotation`` (degrees, clockwise); polygon → polygon, or RLE when it
has holes; polyline → the zero-area polygon walking it out and back; keypoints → ``keypoints``
with an empty RLE segmentation; mask → RLE. Image-level tags go to ``images[].tags``; frame-range
events to ``videos[].events``; video frames become images with ``video_id``/``frame_index``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from app import __version__
from app.core.annotations import Annotation, Track
from app.core.commands import (AddAnnotations, AddMedia, AddTracks, Batch, Command, SetSchema,
                               UpdateAnnotations)
from app.core.document import Document
from app.core.errors import BadInputError, VellumError
from app.core.identity import utc_now
from app.core.media import MediaItem, MediaKind, fingerprint, relative_path
from app.core.raster import flat, rasterize, shape_polygons
from app.core.rle import Rle, area as rle_area, encode, polygon_areas, rasterize_polygons
from app.core.schema import PALETTE, LabelClass, LabelSchema, Skeleton
from app.core.shapes import (Box, Event, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape,
                             Tag)
from app.io.atomic import atomic_write
from app.io.probe import probe

Progress = Callable[[int, int], None]


def frame_file_name(video: MediaItem, frame: int) -> str:
    """Name under which a video frame is exported as an image: ``<video path>/frame_000123.png``
    (frame index 0-based, presentation order)."""
    stem = video.path.rsplit(".", 1)[0] if "." in video.name else video.path
    return f"{stem}/frame_{frame:06d}.png"


def _bbox_list(b) -> list[float]:
    return [float(v) for v in b]


class _Exporter:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.schema = doc.schema
        self.categories: list[dict[str, Any]] = []
        self.cat_ids: dict[str | None, int] = {}
        for n, cls in enumerate(self.schema.classes, start=1):
            parent = self.schema.class_by_id(cls.parent_id)
            cat: dict[str, Any] = {"id": n, "name": cls.name,
                                   "supercategory": parent.name if parent else "",
                                   "attributes": {"vellum_id": cls.id, "color": cls.color}}
            if cls.skeleton:
                cat["keypoints"] = list(cls.skeleton.points)
                cat["skeleton"] = [[a + 1, b + 1] for a, b in cls.skeleton.edges]
            self.categories.append(cat)
            self.cat_ids[cls.id] = n
        self.images: list[dict[str, Any]] = []
        self.videos: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.image_ids: dict[tuple[str, int | None], int] = {}
        self.video_ids: dict[str, int] = {}
        self.track_ids: dict[str, int] = {}
        self._empty: dict[tuple[int, int], dict[str, Any]] = {}
        self._pending_area: dict[tuple[int, int], list[tuple[dict, list[float]]]] = {}

    def finish(self) -> None:
        """Fill in the pixel areas of polygonal annotations (batched per image size)."""
        for (h, w), pending in self._pending_area.items():
            areas = polygon_areas([poly for _, poly in pending], h, w)
            for (out, _), a in zip(pending, areas):
                out["area"] = float(a)
        self._pending_area.clear()

    def empty_rle(self, h: int, w: int) -> dict[str, Any]:
        if (h, w) not in self._empty:
            self._empty[(h, w)] = encode(np.zeros((h, w), bool)).to_coco()
        return dict(self._empty[(h, w)])

    def category(self, class_id: str | None) -> int:
        if class_id not in self.cat_ids:  # annotations without a class
            n = len(self.categories) + 1
            self.categories.append({"id": n, "name": "unlabeled", "supercategory": ""})
            self.cat_ids[class_id] = n
        return self.cat_ids[class_id]

    def image_for(self, item: MediaItem, frame: int | None, timestamp: float | None) -> dict:
        key = (item.id, frame if item.kind is MediaKind.VIDEO else None)
        if key in self.image_ids:
            return self.images[self.image_ids[key] - 1]
        entry: dict[str, Any] = {"id": len(self.images) + 1, "width": item.width,
                                 "height": item.height}
        if item.kind is MediaKind.VIDEO and frame is not None:
            entry.update(file_name=frame_file_name(item, frame), video_id=self.video(item),
                         frame_index=frame, timestamp=timestamp,
                         attributes={"vellum_id": item.id})
        else:
            entry.update(file_name=item.path, attributes={"vellum_id": item.id,
                                                          "status": item.status.value})
        self.images.append(entry)
        self.image_ids[key] = entry["id"]
        return entry

    def video(self, item: MediaItem) -> int:
        if item.id not in self.video_ids:
            self.videos.append({"id": len(self.videos) + 1, "file_name": item.path,
                                "width": item.width, "height": item.height,
                                "frame_count": item.frames, "fps": item.meta.get("fps"),
                                "tags": [], "events": [], "attributes": {"vellum_id": item.id}})
            self.video_ids[item.id] = len(self.videos)
        return self.video_ids[item.id]

    def label(self, a: Annotation) -> dict[str, Any]:
        return {"category_id": self.category(a.class_id),
                "attributes": {**a.attributes, "vellum_id": a.id}}

    def add(self, a: Annotation, item: MediaItem) -> None:
        if item.kind is MediaKind.VOLUME:
            return  # volume labels leave through the NIfTI exporter
        shape = a.shape
        if isinstance(shape, Event):
            video = self.videos[self.video(item) - 1]
            video["events"].append({**self.label(a), "start_frame": shape.start,
                                    "end_frame": shape.end})
            return
        if isinstance(shape, Tag):
            if item.kind is MediaKind.VIDEO and a.frame is None:
                self.videos[self.video(item) - 1]["tags"].append(self.label(a))
            else:
                self.image_for(item, a.frame, a.timestamp).setdefault("tags", []).append(
                    self.label(a))
            return
        image = self.image_for(item, a.frame, a.timestamp)
        h, w = item.height, item.width
        out: dict[str, Any] = {"id": len(self.annotations) + 1, "image_id": image["id"],
                               **self.label(a), "iscrowd": int(a.iscrowd)}
        attrs = out["attributes"]
        attrs["vellum_shape"] = shape.kind
        polys = shape_polygons(shape)
        if isinstance(shape, Keypoints):
            out["segmentation"] = self.empty_rle(h, w)
            out["keypoints"] = [v for x, y, vis in shape.points
                                for v in ((x - 0.5, y - 0.5, vis) if vis
                                          else (0, 0, 0))]
            out["num_keypoints"] = shape.labelled
            bb = shape.bbox()
            out["bbox"] = _bbox_list(bb)
            out["area"] = float(bb[2] * bb[3])
        elif polys is not None:
            # full precision: pycocotools must rasterise exactly the vertices we do
            out["segmentation"] = polys
            out["bbox"] = _bbox_list(shape.bbox())
            if isinstance(shape, Box):
                out["area"] = float(shape.w * shape.h)
            else:  # pixel area, computed for all polygons of one image size in one batch
                self._pending_area.setdefault((h, w), []).append((out, polys[0]))
            if isinstance(shape, RotatedBox):
                attrs["rotation"] = shape.angle
                attrs["vellum_rotated_box"] = [shape.cx, shape.cy, shape.w, shape.h, shape.angle]
        else:  # polygon with holes, or mask
            rle = encode(rasterize(shape, h, w)) if isinstance(shape, Polygon) else shape.rle
            out["segmentation"] = rle.to_coco()
            out["area"] = float(rle_area(rle))
            out["bbox"] = _bbox_list(shape.bbox())
            if isinstance(shape, Polygon):
                attrs["vellum_polygon"] = {"exterior": flat(shape.exterior),
                                           "holes": [flat(r) for r in shape.holes]}
        if a.track_id:
            out["track_id"] = self.track_ids.setdefault(a.track_id, len(self.track_ids) + 1)
            attrs["vellum_track_id"] = a.track_id
            attrs["keyframe"] = True
            attrs["outside"] = a.outside
        if a.frame is not None:
            attrs["frame_index"] = a.frame
        self.annotations.append(out)


def export_coco(doc: Document, out: str | Path, progress: Progress | None = None,
                cancelled: Callable[[], bool] | None = None) -> dict[str, int]:
    """Write the project's 2D labels as COCO JSON to ``out`` (atomically). Every image in the
    project is listed, labelled or not; video frames are listed where they carry labels.
    Returns counts of what was written."""
    exp = _Exporter(doc)
    media = {m.id: m for m in doc.media()}
    for item in media.values():
        if item.kind is MediaKind.IMAGE:
            exp.image_for(item, None, None)
    total = doc.store.count("annotations")
    for n, a in enumerate(doc.iter_annotations()):
        if cancelled and cancelled():
            raise VellumError(f"Export to {out} was cancelled; nothing was written.", out)
        item = media.get(a.media_id)
        if item is not None:
            exp.add(a, item)
        if progress and n % 2000 == 0:
            progress(n, total)
    exp.finish()
    payload = {
        "info": {"description": doc.name, "version": "1.0", "date_created": utc_now(),
                 "contributor": doc.author, "url": "", "year": int(utc_now()[:4]),
                 "vellum_version": __version__},
        "licenses": [],
        "categories": exp.categories,
        "videos": exp.videos,
        "images": exp.images,
        "annotations": exp.annotations,
    }
    text = json.dumps(payload, separators=(",", ":"))
    with atomic_write(out) as f:
        f.write(text)
    if progress:
        progress(total, total)
    return {"images": len(exp.images), "annotations": len(exp.annotations),
            "categories": len(exp.categories), "videos": len(exp.videos)}


# ============================================================================ import
class _Reader:
    """Checks a COCO file completely before anything is written, then builds one command."""

    def __init__(self, doc: Document, path: Path, images_dir: Path) -> None:
        self.doc, self.path, self.images_dir = doc, path, images_dir

    def fail(self, message: str) -> None:
        raise BadInputError(f"{self.path}: {message}.", self.path)

    def need(self, ok: bool, message: str) -> None:
        if not ok:
            self.fail(message)

    def load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInputError(f"{self.path} does not exist.", self.path) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"{self.path} cannot be read ({exc}).", self.path) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"{self.path} is not valid JSON (line {exc.lineno}, column "
                                f"{exc.colno}: {exc.msg}).", self.path) from None
        self.need(isinstance(data, dict), "the top level must be a JSON object")
        for key in ("images", "annotations", "categories"):
            self.need(isinstance(data.get(key), list), f"the required list '{key}' is missing "
                      "or not a list")
        return data

    # ---------------------------------------------------------------- pieces
    def number(self, v: Any, what: str) -> float:
        self.need(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v),
                  f"{what} must be a number, got {v!r}")
        return float(v)

    def media_file(self, name: Any, what: str) -> Path:
        self.need(isinstance(name, str) and name.strip() != "", f"{what} has no file_name")
        p = Path(name)
        p = p if p.is_absolute() else self.images_dir / p
        self.need(p.exists(), f"{what} names {name!r}, which is not in {self.images_dir}")
        return p

    def polygon_list(self, segm: list, where: str) -> list[list[float]]:
        polys = []
        for n, poly in enumerate(segm):
            self.need(isinstance(poly, list), f"{where}: polygon {n} is not a list of numbers")
            coords = [self.number(v, f"{where}: polygon {n} coordinate") for v in poly]
            self.need(len(coords) % 2 == 0, f"{where}: polygon {n} has an odd number of "
                      "coordinates")
            self.need(len(coords) >= 6, f"{where}: polygon {n} has {len(coords) // 2} point(s); "
                      "a polygon needs at least 3")
            polys.append(coords)
        return polys

    def rle(self, segm: dict, h: int, w: int, where: str) -> Rle:
        size = segm.get("size")
        if isinstance(size, list) and len(size) == 2 and list(size) != [h, w]:
            self.fail(f"{where}: RLE mask size {size[1]}x{size[0]} differs from its image "
                      f"({w}x{h})")
        try:
            rle = Rle.from_coco(segm)
        except (ValueError, TypeError, KeyError) as exc:
            self.fail(f"{where}: bad RLE mask ({exc})")
        self.need((rle.height, rle.width) == (h, w), f"{where}: RLE mask size "
                  f"{rle.width}x{rle.height} differs from its image ({w}x{h})")
        return rle

    # ---------------------------------------------------------------- schema
    def classes(self, data: dict[str, Any]) -> tuple[LabelSchema, dict[Any, LabelClass]]:
        schema = self.doc.schema
        by_cat: dict[Any, LabelClass] = {}
        for n, cat in enumerate(data["categories"]):
            where = f"category {n}"
            self.need(isinstance(cat, dict) and "id" in cat and isinstance(cat.get("name"), str),
                      f"{where} needs an id and a name")
            self.need(cat["id"] not in by_cat, f"category id {cat['id']} is used twice")
            attrs = cat.get("attributes") if isinstance(cat.get("attributes"), dict) else {}
            names = cat.get("keypoints") or []
            skeleton = None
            if names:
                edges = cat.get("skeleton") or []
                try:
                    skeleton = Skeleton(tuple(str(p) for p in names),
                                        tuple((int(a) - 1, int(b) - 1) for a, b in edges))
                except (ValueError, TypeError) as exc:
                    self.fail(f"{where} ({cat['name']}) has a bad skeleton ({exc})")
            cls = (schema.class_by_id(attrs.get("vellum_id")) or schema.class_by_name(cat["name"]))
            if cls is None:
                color = attrs.get("color") if isinstance(attrs.get("color"), str) else \
                    PALETTE[len(schema.classes) % len(PALETTE)]
                try:
                    cls = LabelClass(name=cat["name"], color=color, skeleton=skeleton,
                                     **({"id": attrs["vellum_id"]} if isinstance(
                                         attrs.get("vellum_id"), str) else {}))
                except ValueError as exc:
                    self.fail(f"{where} ({cat['name']}) is not a valid class ({exc})")
                schema = schema.with_class(cls)
            elif skeleton and not cls.skeleton:
                cls = replace(cls, skeleton=skeleton)
                schema = schema.with_class(cls)
            by_cat[cat["id"]] = cls
        return schema, by_cat

    # ---------------------------------------------------------------- media
    def media(self, data: dict[str, Any]) -> tuple[list[MediaItem], dict[Any, tuple]]:
        """New media items, and image id -> (media item, frame index or None, timestamp)."""
        known = {m.fingerprint: m for m in self.doc.media(include_removed=True)}
        new: list[MediaItem] = []
        position = self.doc.next_position()

        def item_for(path: Path, vellum_id: Any) -> MediaItem:
            nonlocal position
            fp = fingerprint(path)
            if fp in known:
                return known[fp]
            try:
                info = probe(path)
            except VellumError as exc:
                self.fail(f"its media {path} cannot be read ({exc})")
            kw = {"id": vellum_id} if isinstance(vellum_id, str) and not any(
                m.id == vellum_id for m in known.values()) else {}
            item = MediaItem(kind=info.kind, path=relative_path(path, self.doc.folder),
                             fingerprint=fp, size_bytes=path.stat().st_size, width=info.width,
                             height=info.height, frames=info.frames, meta=info.meta,
                             position=position, **kw)
            position += 1
            known[fp] = item
            new.append(item)
            return item

        videos: dict[Any, MediaItem] = {}
        for n, v in enumerate(data.get("videos") or []):
            self.need(isinstance(v, dict) and "id" in v, f"video {n} needs an id")
            videos[v["id"]] = item_for(self.media_file(v.get("file_name"), f"video {v['id']}"),
                                       (v.get("attributes") or {}).get("vellum_id"))
        images: dict[Any, tuple] = {}
        for n, im in enumerate(data["images"]):
            self.need(isinstance(im, dict) and "id" in im, f"image {n} needs an id")
            self.need(im["id"] not in images, f"image id {im['id']} is used twice")
            where = f"image {im['id']}"
            if im.get("video_id") is not None:
                self.need(im["video_id"] in videos, f"{where} names unknown video "
                          f"{im['video_id']}")
                frame = im.get("frame_index")
                self.need(isinstance(frame, int) and frame >= 0, f"{where} needs a frame_index")
                item = videos[im["video_id"]]
                self.need(frame < item.frames, f"{where}: frame {frame} is past the end of "
                          f"{item.path} ({item.frames} frames)")
                images[im["id"]] = (item, frame, im.get("timestamp"))
                continue
            item = item_for(self.media_file(im.get("file_name"), where),
                            (im.get("attributes") or {}).get("vellum_id"))
            for key, real in (("width", item.width), ("height", item.height)):
                if key in im:
                    self.need(im[key] == real, f"{where} ({im.get('file_name')}) says {key} "
                              f"{im[key]}, but the file is {item.width}x{item.height}")
            images[im["id"]] = (item, None, None)
        return new, images

    # ---------------------------------------------------------------- annotations
    def shapes(self, ann: dict[str, Any], cls: LabelClass, item: MediaItem,
               where: str) -> list[Shape]:
        h, w = item.height, item.width
        attrs = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
        hint = attrs.get("vellum_shape")
        segm = ann.get("segmentation")
        out: list[Shape] = []
        kps = ann.get("keypoints")
        if kps:
            self.need(isinstance(kps, list) and len(kps) % 3 == 0,
                      f"{where}: keypoints must be a list of x, y, v triples")
            expected = len(cls.skeleton.points) if cls.skeleton else len(kps) // 3
            self.need(len(kps) // 3 == expected, f"{where}: {len(kps) // 3} keypoints, but its "
                      f"category has {expected}")
            pts = []
            for n in range(0, len(kps), 3):
                x, y = (self.number(kps[n + i], f"{where}: keypoint") for i in (0, 1))
                v = kps[n + 2]
                self.need(v in (0, 1, 2), f"{where}: keypoint visibility must be 0, 1 or 2")
                pts.append((x + 0.5, y + 0.5, int(v)) if v else (0.0, 0.0, 0))
            out.append(Keypoints(tuple(pts)))
            if hint == "keypoints":
                return out
        bbox = ann.get("bbox")
        if hint == "box" and isinstance(bbox, list) and len(bbox) == 4:
            return [Box(*(self.number(v, f"{where}: bbox") for v in bbox))]
        if hint == "rotated_box" and isinstance(attrs.get("vellum_rotated_box"), list):
            cx, cy, bw, bh, angle = (self.number(v, f"{where}: rotated box")
                                     for v in attrs["vellum_rotated_box"])
            return [RotatedBox(cx, cy, bw, bh, angle)]
        if isinstance(segm, list) and segm:
            polys = self.polygon_list(segm, where)
            if hint == "polyline":
                ring = list(zip(polys[0][::2], polys[0][1::2]))
                return out + [Polyline(tuple(ring[:(len(ring) + 1) // 2]))]
            if len(polys) == 1:
                return out + [Polygon(tuple(zip(polys[0][::2], polys[0][1::2])))]
            return out + [Mask(encode(rasterize_polygons(polys, h, w)))]
        if isinstance(segm, dict):
            rle = self.rle(segm, h, w, where)
            vp = attrs.get("vellum_polygon")
            if hint == "polygon" and isinstance(vp, dict):
                pts = lambda f: tuple(zip(f[::2], f[1::2]))  # noqa: E731
                return out + [Polygon(pts(vp["exterior"]), tuple(pts(r) for r in vp["holes"]))]
            if out and rle_area(rle) == 0:
                return out
            return out + [Mask(rle)]
        if out:
            return out
        self.need(isinstance(bbox, list) and len(bbox) == 4,
                  f"{where} has neither a segmentation nor a bbox")
        x, y, bw, bh = (self.number(v, f"{where}: bbox") for v in bbox)
        self.need(bw >= 0 and bh >= 0, f"{where}: bbox has a negative width or height")
        return [Box(x, y, bw, bh)]

    def labels(self, cls: LabelClass, obj: dict[str, Any], item: MediaItem, frame: int | None,
               shape: Shape, timestamp: Any = None, track_id: str | None = None,
               ann_id: str | None = None) -> Annotation:
        attrs = obj.get("attributes") if isinstance(obj.get("attributes"), dict) else {}
        user = {k: v for k, v in attrs.items() if k not in _EXPORT_KEYS}
        kw = {"id": ann_id} if ann_id else {}
        return Annotation(media_id=item.id, shape=shape, class_id=cls.id, frame=frame,
                          track_id=track_id, attributes=user, iscrowd=bool(obj.get("iscrowd")),
                          outside=bool(attrs.get("outside", False)),
                          timestamp=timestamp if isinstance(timestamp, (int, float)) else None,
                          creator=self.doc.author, **kw)

    def read(self) -> tuple[Command, dict[str, int]]:
        data = self.load()
        schema, by_cat = self.classes(data)
        new_media, images = self.media(data)
        media_by_id = {m.id: m for m in self.doc.media(include_removed=True)}
        media_by_id.update((m.id, m) for m in new_media)
        anns: list[Annotation] = []
        seen_ids: set[Any] = set()
        used: set[str] = set()
        tracks: dict[tuple[str, Any], Track] = {}

        def stable_id(attrs: Any) -> str | None:
            vid = attrs.get("vellum_id") if isinstance(attrs, dict) else None
            if isinstance(vid, str) and vid not in used:
                used.add(vid)
                return vid
            return None

        for n, ann in enumerate(data["annotations"]):
            self.need(isinstance(ann, dict), f"annotation {n} is not an object")
            where = f"annotation {ann.get('id', n)}"
            self.need("id" in ann and ann["id"] not in seen_ids,
                      f"{where} has a missing or repeated id")
            seen_ids.add(ann["id"])
            self.need(ann.get("image_id") in images, f"{where} refers to image "
                      f"{ann.get('image_id')!r}, which is not in 'images'")
            self.need(ann.get("category_id") in by_cat, f"{where} has category_id "
                      f"{ann.get('category_id')!r}, which is not in 'categories'")
            item, frame, ts = images[ann["image_id"]]
            cls = by_cat[ann["category_id"]]
            attrs = ann.get("attributes") or {}
            track = None
            if ann.get("track_id") is not None and item.kind is MediaKind.VIDEO:
                key = (item.id, ann["track_id"])
                if key not in tracks:
                    tid = attrs.get("vellum_track_id") if isinstance(attrs, dict) else None
                    tracks[key] = Track(media_id=item.id, class_id=cls.id,
                                        **({"id": tid} if isinstance(tid, str) else {}))
                track = tracks[key].id
            for i, shape in enumerate(self.shapes(ann, cls, item, where)):
                anns.append(self.labels(cls, ann, item, frame, shape, ts, track,
                                        stable_id(attrs) if i == 0 else None))
        for im in data["images"]:
            item, frame, ts = images[im["id"]]
            for t in im.get("tags") or []:
                self.need(isinstance(t, dict) and t.get("category_id") in by_cat,
                          f"image {im['id']} has a tag with an unknown category")
                anns.append(self.labels(by_cat[t["category_id"]], t, item, frame, Tag(), ts,
                                        ann_id=stable_id(t.get("attributes"))))
        for v in data.get("videos") or []:
            item = self._video_item(v, media_by_id, new_media)
            for t in v.get("tags") or []:
                self.need(isinstance(t, dict) and t.get("category_id") in by_cat,
                          f"video {v['id']} has a tag with an unknown category")
                anns.append(self.labels(by_cat[t["category_id"]], t, item, None, Tag(),
                                        ann_id=stable_id(t.get("attributes"))))
            for e in v.get("events") or []:
                self.need(isinstance(e, dict) and e.get("category_id") in by_cat,
                          f"video {v['id']} has an event with an unknown category")
                try:
                    shape = Event(int(e["start_frame"]), int(e["end_frame"]))
                except (KeyError, TypeError, ValueError) as exc:
                    self.fail(f"video {v['id']} has a bad event ({exc})")
                anns.append(self.labels(by_cat[e["category_id"]], e, item, None, shape,
                                        ann_id=stable_id(e.get("attributes"))))
        return self.command(schema, new_media, list(tracks.values()), anns), {
            "media": len(new_media), "annotations": len(anns), "tracks": len(tracks),
            "classes": len(schema.classes) - len(self.doc.schema.classes)}

    def _video_item(self, v: dict, media_by_id: dict, new_media: list) -> MediaItem:
        path = self.media_file(v.get("file_name"), f"video {v['id']}")
        fp = fingerprint(path)
        return next(m for m in list(media_by_id.values()) + new_media if m.fingerprint == fp)

    def command(self, schema: LabelSchema, media: list[MediaItem], tracks: list[Track],
                anns: list[Annotation]) -> Command:
        steps: list[Command] = []
        if schema != self.doc.schema:
            steps.append(SetSchema(self.doc.schema, schema))
        if media:
            steps.append(AddMedia(tuple(media)))
        existing_tracks = {t.id for m in {t.media_id for t in tracks} for t in
                           self.doc.tracks(m)}
        new_tracks = tuple(t for t in tracks if t.id not in existing_tracks)
        if new_tracks:
            steps.append(AddTracks(new_tracks))
        old, new = [], []
        for a in anns:
            prev = self.doc.annotation(a.media_id, a.id) if a.media_id in {
                m.id for m in self.doc.media(include_removed=True)} else None
            (old if prev else new).append((prev, a))
        if new:
            steps.append(AddAnnotations(tuple(a for _, a in new), label="Import"))
        if old:
            steps.append(UpdateAnnotations(tuple(p for p, _ in old), tuple(a for _, a in old),
                                           label="Import"))
        return Batch(tuple(steps), label=f"Import {self.path.name}")


_EXPORT_KEYS = frozenset({"vellum_id", "vellum_shape", "vellum_polygon", "vellum_rotated_box",
                          "vellum_track_id", "rotation", "keyframe", "outside", "frame_index"})


def import_coco(doc: Document, path: str | Path, images_dir: str | Path | None = None
                ) -> dict[str, int]:
    """Import a COCO JSON file (from Vellum or another tool) into ``doc`` as one undoable step.

    Image ``file_name``s are resolved against ``images_dir`` (default: the JSON's folder).
    Everything is checked before anything is written: on any problem a
    :class:`BadInputError` names the file and the problem, and the project is unchanged.
    """
    p = Path(path)
    reader = _Reader(doc, p, Path(images_dir) if images_dir else p.parent)
    command, counts = reader.read()
    try:
        doc.execute(command)
    except ValueError as exc:
        raise BadInputError(f"{p}: {exc}.", p) from exc
    return counts
