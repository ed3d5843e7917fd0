"""COCO export (see :mod:`app.io.coco` for the shape mapping and conventions)."""


from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app import __version__
from app.core.annotations import Annotation
from app.core.document import Document
from app.core.errors import VellumError
from app.core.identity import utc_now
from app.core.media import MediaItem, MediaKind
from app.core.raster import flat, rasterize, shape_polygons
from app.core.polygon_raster import polygon_areas
from app.core.rle import area as rle_area, encode
from app.core.shapes import (Box, Event, Keypoints, Polygon, RotatedBox, Tag)
from app.io.atomic import atomic_write

Progress = Callable[[int, int], None]


EXPORT_KEYS = frozenset({"vellum_id", "vellum_shape", "vellum_polygon", "vellum_rotated_box",
                          "vellum_track_id", "rotation", "keyframe", "outside", "frame_index"})
"""Keys Vellum writes into COCO ``attributes`` for itself; import does not treat them as
user attributes."""


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
            self.categories.append({"id": n, "name": "unlabeled", "supercategory": "",
                                    "attributes": {"vellum_unlabeled": True}})
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
                                "frame_count": item.frames,
                                "fps": item.video.avg_fps if item.video else None,
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
