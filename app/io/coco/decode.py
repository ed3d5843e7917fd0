"""One COCO annotation entry to one Vellum annotation.

Geometry: ``segmentation`` polygons become a :class:`Polygon` (several rings: one multi-part
polygon), an RLE a :class:`Mask`; ``keypoints`` a :class:`Keypoints` that carries the entry's
``bbox`` as its box and its segmentation as its region (one COCO person is one object);
otherwise ``bbox`` a :class:`Box` (a :class:`RotatedBox` with CVAT's ``attributes.rotation``,
clockwise degrees about the centre); an entry with no geometry at all (datumaro's label and
caption files) is a :class:`Tag` of its image. COCO keypoints are integer pixel indices, so
labelled points get +0.5 (CONVENTIONS.md); unlabelled ones (v = 0) are kept as written.
Vellum's own exports carry hints in ``attributes`` (``vellum_shape``, ...) that restore shapes
COCO cannot hold (holes, rotated boxes, lines).
"""

from __future__ import annotations

from collections.abc import Callable
from sys import intern
from typing import Any

import numpy as np

from app.core.annotations import Annotation
from app.core.identity import new_id
from app.core.media import MediaItem
from app.core.places import Place
from app.core.rings import Ring, Triples
from app.core.rle import Rle
from app.core.schema import LabelClass
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape, Tag
from app.io.coco.foreign import (ABSENT, ANN_INTERPRETED, COCO, COUNTS, MAX_COORD, OSHA, OWN,
                                 ROUND, SHA, STANDARD, absent_keys, digest, object_digest)
from app.io.coco.geometry import coco_bbox

_NUMBER = (int, float)
_DERIVED_ON_FRAMES = ("keyframe", "outside", "frame_index")
# One empty attributes dict shared by every imported annotation that has none (annotations are
# immutable values: nothing mutates their dicts in place; 64 bytes each on a million).
_NO_ATTRIBUTES: dict[str, Any] = {}


def _is_number(v: Any) -> bool:
    return type(v) in _NUMBER


class Decoder:
    """Turns annotation entries into annotations; ``fail(sentence)`` raises for the file."""

    def __init__(self, fail: Callable[[str], Any], images: dict[Any, tuple],
                 by_cat: dict[Any, LabelClass | None], author: str, created: str,
                 match: Callable[[MediaItem, Any], str | None] | None = None,
                 unknown: Callable[[Any], LabelClass] | None = None) -> None:
        self.fail, self.images, self.by_cat = fail, images, by_cat
        self.match = match
        # a category id the file uses but does not list (TAO, mmtracking): its stand-in class
        self.unknown = unknown
        self.unknown_uses: dict[Any, int] = {}
        self.author, self.created = author, created
        self.places: dict[tuple[str, int | None], Place] = {}
        self.used_ids: set[str] = set()
        self.notes: list[str] = []
        self._degenerate = 0

    # ---------------------------------------------------------------- numbers
    def array(self, values: Any, where: str) -> np.ndarray:
        """A flat list of JSON numbers as float64 (no Python loop over the numbers)."""
        if not isinstance(values, list):
            self.fail(f"{where} must be a list of numbers")
        try:
            raw = np.asarray(values)
        except (OverflowError, ValueError):
            raw = None
        if raw is None or raw.ndim != 1 or raw.dtype.kind not in "iuf" and raw.size:
            if raw is not None and raw.dtype == object and all(
                    _is_number(v) for v in values):  # integers beyond 64 bits
                self.fail(f"{where} has a number beyond ±{MAX_COORD:.0f} pixels")
            self.fail(f"{where} must be a list of numbers")
        a = raw.astype(np.float64)
        if a.size and not (np.abs(a).max() <= MAX_COORD):
            self.fail(f"{where} has a coordinate ({float(np.abs(a).max()):g}) beyond "
                      f"±{MAX_COORD:.0f} pixels, which no COCO tool can draw")
        return a

    def bbox(self, value: Any, where: str) -> Box | None:
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != 4:
            self.fail(f"{where}: bbox must be four numbers [x, y, width, height]")
        x, y, w, h = self.array(value, f"{where}: bbox").tolist()
        if w < 0 or h < 0:
            self.fail(f"{where}: bbox has a negative width or height")
        return Box(x, y, w, h)

    # ---------------------------------------------------------------- geometry
    def polygons(self, segm: list, where: str) -> tuple[Polygon, bool]:
        """The polygon of a segmentation list, and whether degenerate parts were left out."""
        rings: list[Ring] = []
        dropped = False
        for i, poly in enumerate(segm):
            a = self.array(poly, f"{where}: polygon {i}")
            if a.size % 2:
                self.fail(f"{where}: polygon {i} has an odd number of coordinates")
            k = a.size // 2
            if k < 3:
                if i == 0:
                    self.fail(f"{where}: polygon {i} has only {k} point{'s' if k != 1 else ''}"
                              " (a polygon needs 3)")
                dropped = True
                continue
            rings.append(Ring.from_flat(a))
        return Polygon(rings[0], (), tuple(rings[1:])), dropped

    def rle(self, segm: dict, item: MediaItem, where: str) -> Mask:
        h, w = item.height, item.width
        size = segm.get("size")
        if isinstance(size, list) and len(size) == 2 and list(size) != [h, w]:
            self.fail(f"{where}: RLE mask size {size[1]}x{size[0]} differs from its image "
                      f"({w}x{h})")
        try:
            rle = Rle.from_coco(segm)
        except (ValueError, TypeError, KeyError) as exc:
            self.fail(f"{where}: bad RLE mask ({str(exc).rstrip('.')})")
        if (rle.height, rle.width) != (h, w):
            self.fail(f"{where}: RLE mask size {rle.width}x{rle.height} differs from its image "
                      f"({w}x{h})")
        return Mask(rle)

    def own_shape(self, ann: dict[str, Any], attrs: dict[str, Any], item: MediaItem,
                  where: str) -> Shape | None:
        """Shapes COCO cannot hold, from the hints of Vellum's own export."""
        hint = attrs.get("vellum_shape")
        try:
            return self._own_shape(hint, ann, attrs, where)
        except ValueError as exc:  # the hint's numbers make no shape (odd count, 2 points...)
            source = {"rotated_box": "attributes.vellum_rotated_box",
                      "polygon": "attributes.vellum_polygon"}.get(hint, "segmentation")
            self.fail(f"{where}: its {str(hint).replace('_', ' ')} ({source}) is not valid "
                      f"({str(exc).rstrip('.')})")

    def _own_shape(self, hint: Any, ann: dict[str, Any], attrs: dict[str, Any], where: str
                   ) -> Shape | None:
        if hint == "box" and isinstance(ann.get("bbox"), list):
            return self.bbox(ann["bbox"], where)
        if hint == "rotated_box" and isinstance(attrs.get("vellum_rotated_box"), list):
            values = self.array(attrs["vellum_rotated_box"], f"{where}: rotated box").tolist()
            if len(values) != 5:
                raise ValueError(f"{len(values)} numbers where a rotated box has 5: "
                                 "cx, cy, width, height, angle")
            return RotatedBox(*values)
        vp = attrs.get("vellum_polygon")
        if hint == "polygon" and isinstance(vp, dict):
            flat = lambda f: Ring.from_flat(self.array(f, f"{where}: polygon"))  # noqa: E731

            def rings(key: str) -> tuple[Ring, ...]:
                value = vp.get(key, [])
                if not isinstance(value, list):
                    raise ValueError(f"its {key} must be a list of point lists")
                return tuple(flat(r) for r in value)

            return Polygon(flat(vp.get("exterior")), rings("holes"), rings("parts"))
        segm = ann.get("segmentation")
        if hint == "polyline" and isinstance(segm, list) and segm:  # exports before 0.2
            line = self.array(segm[0], f"{where}: line")
            if line.size % 2:
                raise ValueError("an odd count of numbers")
            ring = line.reshape(-1, 2)
            return Polyline(ring[:(len(ring) + 1) // 2])
        return None

    # ---------------------------------------------------------------- the entry
    def place(self, item: MediaItem, frame: int | None) -> Place:
        key = (item.id, frame)
        p = self.places.get(key)
        if p is None:
            p = self.places[key] = Place(item.id, frame)
        return p

    def stable_id(self, attrs: dict[str, Any]) -> str:
        vid = attrs.get("vellum_id")
        if isinstance(vid, str) and vid and vid not in self.used_ids:
            self.used_ids.add(vid)
            return vid
        return new_id()

    def same_object(self, item: MediaItem, coco_id: Any) -> str:
        """The id of the annotation this entry already is (Vellum's own export of an
        unedited annotation from another tool: matched by its COCO id on its image)."""
        vid = self.match(item, coco_id) if self.match and coco_id is not None else None
        if vid is not None and vid not in self.used_ids:
            self.used_ids.add(vid)
            return vid
        return new_id()

    def decode(self, ann: Any, n: int, track_id: Callable[..., str | None]) -> Annotation:
        if not isinstance(ann, dict):
            self.fail(f"annotation {n} is not an object")
        where = f"annotation {ann.get('id', n)!r}"
        image_id = ann.get("image_id")
        try:
            item, frame, ts = self.images[image_id]
        except (KeyError, TypeError):
            self.fail(f"{where} refers to image {image_id!r}, which is not in 'images'")
        # the parser makes new key strings for every entry: keep the one shared copy of each
        rest = {intern(k): v for k, v in ann.items() if k not in ANN_INTERPRETED}
        cat = ann.get("category_id")
        try:
            cls = self.by_cat[cat]
        except (KeyError, TypeError):
            if cat is not None and cat != 0:
                if self.unknown is None or type(cat) not in (int, str):
                    self.fail(f"{where} has category_id {cat!r}, which is not in "
                              "'categories'")
                self.by_cat[cat] = cls = self.unknown(cat)
                self.unknown_uses[cat] = 0
            else:
                cls = None  # datumaro's captions (category 0) and labels without a category
        if cat in self.unknown_uses:
            self.unknown_uses[cat] += 1
        if "category_id" in ann and (cls is None or cat not in self.by_cat):
            rest["category_id"] = cat
        raw_attrs = ann.get("attributes")
        attrs = raw_attrs if isinstance(raw_attrs, dict) else {}
        if raw_attrs is not None and not isinstance(raw_attrs, dict) or raw_attrs == {}:
            rest["attributes"] = raw_attrs  # not a dict, or an empty one: written back as is
        own = "vellum_id" in attrs
        shape, box_given = self.shape(ann, attrs, cls, item, where, rest, own)
        user = {k: v for k, v in attrs.items() if not k.startswith("vellum_")} if attrs \
            else _NO_ATTRIBUTES
        if own:
            if isinstance(shape, RotatedBox):
                user.pop("rotation", None)
            if frame is not None:
                for k in _DERIVED_ON_FRAMES:
                    user.pop(k, None)
        crowd = ann.get("iscrowd", 0)
        if "iscrowd" in ann and type(crowd) is not int:
            rest["iscrowd"] = crowd
        score = ann.get("score")
        if "score" in ann and not (_is_number(score) and 0.0 <= score <= 1.0):
            rest["score"] = score
            score = None
        if box_given:
            rest.pop("bbox", None)
        absent = tuple(k for k in STANDARD if k not in ann)
        if absent:
            rest[ABSENT] = absent_keys(absent)
        rest[SHA] = digest(shape)
        if own:
            rest[OWN] = 1
        if isinstance(shape, Keypoints) and (shape.box is not None or shape.region is not None):
            rest[OSHA] = object_digest(shape)
        tid = track_id(ann, item, cls, attrs) if frame is not None else None
        if tid is not None and cls is not None and user:  # static attributes: on the track
            user = cls.split_attributes(user)[1]
        occluded = attrs.get("occluded")
        if own and tid is not None and "occluded" in user:  # the track shape's state
            user = {k: v for k, v in user.items() if k != "occluded"}
        return Annotation(
            place=self.place(item, frame), shape=shape, class_id=cls.id if cls else None,
            track_id=tid, keyframe=bool(attrs.get("keyframe", True)) if own and tid else True,
            attributes=user, iscrowd=bool(crowd) and crowd != "0",
            occluded=occluded is True, outside=bool(attrs.get("outside", False)) if own else False,
            score=score if _is_number(score) else None,
            timestamp=ts, foreign={COCO: rest}, creator=self.author, created=self.created,
            id=self.stable_id(attrs) if own else self.same_object(item, ann.get("id")))

    def shape(self, ann: dict[str, Any], attrs: dict[str, Any], cls: LabelClass | None,
              item: MediaItem, where: str, rest: dict[str, Any], own: bool
              ) -> tuple[Shape, bool]:
        """The shape, and whether the entry's bbox equals the one export would compute."""
        segm = ann.get("segmentation")
        if own and (shape := self.own_shape(ann, attrs, item, where)) is not None:
            if isinstance(segm, dict) and segm:  # what other tools read must be sound too
                self.rle(segm, item, where)
            elif isinstance(segm, list):
                for i, ring in enumerate(segm):
                    self.array(ring, f"{where}: polygon {i}")
            return shape, False
        region: Polygon | Mask | None = None
        if isinstance(segm, list) and segm:
            if not all(isinstance(p, list) for p in segm):
                self.fail(f"{where}: segmentation must be a list of polygons (lists of "
                          "numbers) or an RLE object")
            region, dropped = self.polygons(segm, where)
            if dropped:
                rest["segmentation"] = segm
                self._degenerate += 1
        elif isinstance(segm, dict) and segm:
            region = self.rle(segm, item, where)
            if isinstance(segm.get("counts"), list):
                rest[COUNTS] = "list"  # uncompressed run lengths: written back that way
        elif "segmentation" in ann:
            rest["segmentation"] = segm  # [], {} or null: written back as it was
        kps = ann.get("keypoints")
        box = self.bbox(ann.get("bbox"), where) if "bbox" in ann else None
        if isinstance(kps, list) and kps:
            a = self.array(kps, f"{where}: keypoints")
            if a.size % 3:
                self.fail(f"{where}: keypoints must be a list of x, y, v triples")
            expected = len(cls.skeleton.points) if cls and cls.skeleton else a.size // 3
            if a.size // 3 != expected:
                self.fail(f"{where}: {a.size // 3} keypoints, but its category has {expected}")
            try:
                points = Triples.from_flat(a, 0.5)
            except ValueError as exc:
                self.fail(f"{where}: {exc}")
            parts = attrs.get("vellum_parts") if own else None
            if isinstance(parts, list):  # our own export says what the set carries
                box = box if "box" in parts else None
                region = region if "region" in parts else None
            kp = Keypoints(points, box, region)
            return kp, kp.box is not None
        if "keypoints" in ann:
            rest["keypoints"] = kps
        if region is not None:
            if box is not None:
                self.same_bbox(ann["bbox"], coco_bbox(region), rest)
            return region, False
        if box is not None:
            rotation = attrs.get("rotation")
            if _is_number(rotation) and rotation % 360:
                # CVAT: bbox is the box before rotation, turned clockwise about its centre
                return RotatedBox(box.x + box.w / 2, box.y + box.h / 2, box.w, box.h,
                                  float(rotation)), False
            return box, True
        return Tag(), False

    @staticmethod
    def same_bbox(given: list, computed: tuple | None, rest: dict[str, Any]) -> None:
        """Leave the given bbox out of ``rest`` where export recomputes it exactly: equal to
        the computed one, or equal to it rounded to 1-4 decimals (noted in ``rest``)."""
        if computed is None:
            return
        if list(computed) == given:
            rest.pop("bbox", None)
            return
        for d in (2, 3, 1, 4):
            if [round(v, d) for v in computed] == given:
                rest.pop("bbox", None)
                rest[ROUND] = d
                return

    def finish_notes(self) -> list[str]:
        if self.unknown_uses:
            ids = sorted(self.unknown_uses, key=repr)
            shown = ", ".join(repr(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
            self.notes.append(
                f"{sum(self.unknown_uses.values())} annotation(s) use category id(s) {shown} "
                "that 'categories' does not list; each is kept as a class named by its id "
                "and written back with the same id.")
        if self._degenerate:
            self.notes.append(f"{self._degenerate} annotation(s) have polygon parts of fewer "
                              "than 3 points, which draw nothing; they are left out of the "
                              "shape and written back unchanged while it is not edited.")
        return self.notes
