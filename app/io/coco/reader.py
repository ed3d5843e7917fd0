"""COCO import: check the whole file, then add it as one undoable command (see
:mod:`app.io.coco` for the shape mapping and conventions)."""


from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.places import Place
from app.core.commands import Batch, Command, Put, SetSchema
from app.core.document import Document
from app.core.errors import BadInputError, VellumError
from app.core.media import MediaItem, MediaKind, fingerprint, relative_path
from app.core.polygon_raster import rasterize_polygons
from app.core.rle import Rle, area as rle_area, encode
from app.core.schema import PALETTE, LabelClass, LabelSchema, Skeleton
from app.core.shapes import (Box, Event, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape,
                             Tag)
from app.io.coco.export import EXPORT_KEYS
from app.io.ingest import media_item
from app.io.probe import probe


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
        by_cat: dict[Any, LabelClass | None] = {}
        for n, cat in enumerate(data["categories"]):
            where = f"category {n}"
            self.need(isinstance(cat, dict) and "id" in cat and isinstance(cat.get("name"), str),
                      f"{where} needs an id and a name")
            self.need(cat["id"] not in by_cat, f"category id {cat['id']} is used twice")
            attrs = cat.get("attributes") if isinstance(cat.get("attributes"), dict) else {}
            if attrs.get("vellum_unlabeled"):  # Vellum's stand-in for "no class"
                by_cat[cat["id"]] = None
                continue
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
    def media(self, data: dict[str, Any]
              ) -> tuple[list[MediaItem], dict[Any, tuple], dict[Any, MediaItem]]:
        """New media items, image id -> (media item, frame index or None, timestamp), and
        video id -> media item."""
        known = {m.path: m for m in self.doc.media(include_removed=True)}
        new: list[MediaItem] = []
        position = self.doc.next_position()

        def item_for(path: Path, vellum_id: Any) -> MediaItem:
            nonlocal position
            rel = relative_path(path, self.doc.folder)
            if rel in known:  # identity is the path (same bytes under two names: two items)
                return known[rel]
            try:
                info = probe(path)
            except VellumError as exc:
                self.fail(f"its media {path} cannot be read ({exc})")
            kw = {"id": vellum_id} if isinstance(vellum_id, str) and not any(
                m.id == vellum_id for m in known.values()) else {}
            item = replace(media_item(info, rel, fingerprint(path), path.stat().st_size, position),
                           **kw)
            position += 1
            known[rel] = item
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
        return new, images, videos

    # ---------------------------------------------------------------- annotations
    def shapes(self, ann: dict[str, Any], cls: LabelClass | None, item: MediaItem,
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
            expected = len(cls.skeleton.points) if cls and cls.skeleton else len(kps) // 3
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
        rotation = attrs.get("rotation")
        if isinstance(rotation, (int, float)) and rotation % 360:
            # CVAT's convention: bbox is the box before rotation, turned clockwise (degrees)
            # about its centre: the same as ours.
            return [RotatedBox(x + bw / 2, y + bh / 2, bw, bh, float(rotation))]
        return [Box(x, y, bw, bh)]

    def labels(self, cls: LabelClass | None, obj: dict[str, Any], item: MediaItem,
               frame: int | None, shape: Shape, timestamp: Any = None, track_id: str | None = None,
               ann_id: str | None = None) -> Annotation:
        attrs = obj.get("attributes") if isinstance(obj.get("attributes"), dict) else {}
        user = {k: v for k, v in attrs.items() if k not in EXPORT_KEYS}
        kw = {"id": ann_id} if ann_id else {}
        return Annotation(place=Place(item.id, frame), shape=shape,
                          class_id=cls.id if cls else None, track_id=track_id, attributes=user, iscrowd=bool(obj.get("iscrowd")),
                          outside=bool(attrs.get("outside", False)),
                          timestamp=timestamp if isinstance(timestamp, (int, float)) else None,
                          creator=self.doc.author, **kw)

    def read(self) -> tuple[Command, dict[str, int]]:
        data = self.load()
        schema, by_cat = self.classes(data)
        new_media, images, videos = self.media(data)
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
                    tracks[key] = Track(media_id=item.id, class_id=cls.id if cls else None,
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
            item = videos[v["id"]]
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

    def command(self, schema: LabelSchema, media: list[MediaItem], tracks: list[Track],
                anns: list[Annotation]) -> Command:
        steps: list[Command] = []
        if schema != self.doc.schema:
            steps.append(SetSchema(schema))
        if media:
            steps.append(Put(tuple(media)))
        existing_tracks = {t.id for m in {t.media_id for t in tracks} for t in
                           self.doc.tracks(m)}
        new_tracks = [t for t in tracks if t.id not in existing_tracks]
        records = [*new_tracks, *anns]
        if records:
            steps.append(Put(tuple(records), label="Import"))
        return Batch(tuple(steps), label=f"Import {self.path.name}")




def plan_import(doc: Document, path: str | Path, images_dir: str | Path | None = None
                ) -> tuple[Command, dict[str, int]]:
    """Read and check a COCO file against ``doc`` without writing anything: the one command
    that would import it, and counts of what it adds. Only reads ``doc`` (a worker thread may
    call it on its own connection to the project)."""
    p = Path(path)
    return _Reader(doc, p, Path(images_dir) if images_dir else p.parent).read()


def import_coco(doc: Document, path: str | Path, images_dir: str | Path | None = None
                ) -> dict[str, int]:
    """Import a COCO JSON file (from Vellum or another tool) into ``doc`` as one undoable step.

    Image ``file_name``s are resolved against ``images_dir`` (default: the JSON's folder).
    Everything is checked before anything is written: on any problem a
    :class:`BadInputError` names the file and the problem, and the project is unchanged.
    """
    p = Path(path)
    command, counts = plan_import(doc, p, images_dir)
    try:
        doc.execute(command)
    except ValueError as exc:
        raise BadInputError(f"{p}: {exc}.", p) from exc
    return counts
