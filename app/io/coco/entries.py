"""One annotation to its COCO ``annotations`` entry (see :mod:`app.io.coco.geometry` for the
values computed for new and edited shapes).

An annotation imported from a COCO file and not edited since (its shape digest unchanged)
is written as it came: its ``bbox``, ``area``, ``segmentation`` form (RLE counts as a list or a
string, an empty list) and ``num_keypoints`` as given, no standard key it lacked, and every
unknown key. A keypoint set whose points were edited but not its box or region keeps the
given ``bbox``/``area``/``segmentation`` and gets a recomputed ``num_keypoints``.
"""

from __future__ import annotations

from typing import Any

from app.core.annotations import Annotation
from app.core.shapes import Box, Keypoints, Polygon, RotatedBox, Shape, Tag
from app.io.coco.foreign import (ABSENT, COUNTS, OSHA, OWN, OWN_KEYS, ROUND, SHA, coco_of,
                                 digest, object_digest)
from app.io.coco.geometry import coco_bbox, segmentation, simple_area

# Keys an entry gets from Vellum's own fields (foreign values of these are not copied over).
_COMPUTED = frozenset({"id", "image_id", "category_id", "segmentation", "area", "bbox",
                       "iscrowd", "keypoints", "num_keypoints", "score", "attributes"})


def _index(v: float) -> float | int:
    """A continuous keypoint coordinate back to COCO's pixel index (minus 0.5), printed as the
    file most likely wrote it: the shortest decimal within a few ulps (so 17.3 stays 17.3)."""
    x = v - 0.5
    if x == int(x) and abs(x) < 2 ** 53:
        return int(x) if float(int(x)) == x else x
    short = float(f"{x:.12g}")
    return short if abs(short - x) <= 4e-16 * max(1.0, abs(x)) * 4 else x


def keypoint_list(kp: Keypoints) -> list[Any]:
    out: list[Any] = []
    for x, y, v in kp.points:
        if v:
            out += (_index(x), _index(y), v)
        else:  # not a position: as the source wrote it
            out += (int(x) if x == int(x) else x, int(y) if y == int(y) else y, 0)
    return out


class Entry:
    """The entry of one annotation; ``area`` may be left for a batched pixel count."""

    def __init__(self, a: Annotation, image_id: Any, category_id: Any, h: int, w: int) -> None:
        self.a = a
        shape = a.shape
        f = coco_of(a)
        self.f = f
        same = f.get(SHA) is not None and f.get(SHA) == digest(shape)
        obj_same = same or (isinstance(shape, Keypoints) and f.get(OSHA) is not None
                            and f.get(OSHA) == object_digest(shape))
        self.edited = not same
        absent = set(f.get(ABSENT) or ()) if same else set()
        d: dict[str, Any] = {"image_id": image_id, "category_id": category_id}
        self.needs_area = False
        if not isinstance(shape, Tag):
            if obj_same and "segmentation" in f:
                d["segmentation"] = f["segmentation"]
            elif "segmentation" not in absent:
                d["segmentation"] = segmentation(shape, h, w, f.get(COUNTS) == "list")
            if obj_same and "area" in f:
                d["area"] = f["area"]
            elif "area" not in absent:
                area = simple_area(shape)
                if area is None:
                    self.needs_area = True
                d["area"] = area
            if obj_same and "bbox" in f:
                d["bbox"] = f["bbox"]
            elif "bbox" not in absent:
                digits = f.get(ROUND) if obj_same else None
                d["bbox"] = [round(float(v), digits) if type(digits) is int else float(v)
                             for v in coco_bbox(shape)]
            if "iscrowd" in f and bool(f["iscrowd"]) == a.iscrowd and f["iscrowd"] != "0":
                d["iscrowd"] = f["iscrowd"]
            elif not ("iscrowd" in absent and not a.iscrowd):
                d["iscrowd"] = int(a.iscrowd)
        if isinstance(shape, Keypoints):
            d["keypoints"] = keypoint_list(shape)
            d["num_keypoints"] = f["num_keypoints"] if same and "num_keypoints" in f \
                else shape.labelled
        if a.score is not None:
            d["score"] = a.score
        for k, v in f.items():
            if k not in _COMPUTED and k not in OWN_KEYS and k not in d:
                d[k] = v
        if "score" in f and "score" not in d:
            d["score"] = f["score"]
        self.d = d
        self.id = f.get("id")

    def attributes(self, extra: dict[str, Any]) -> None:
        """Write ``attributes``: the user's, plus Vellum's own keys (``vellum_id``, shape
        hints, ``extra``) for annotations made or edited in Vellum. An unedited annotation
        from another tool's file gets its attributes exactly as it had them (none if none);
        its identity on re-import is its COCO id on its image. One that came from Vellum's own
        export gets Vellum's keys again, so a round trip is stable to any depth."""
        a, shape = self.a, self.a.shape
        attrs: dict[str, Any] = {**a.attributes}
        if isinstance(attrs.get("occluded"), bool):
            attrs["occluded"] = a.occluded
        if self.f and not self.edited and not extra and not self.f.get(OWN):
            if attrs:
                self.d["attributes"] = attrs
            elif "attributes" in self.f:  # an empty dict (or a non-dict) given, as given
                self.d["attributes"] = self.f["attributes"]
            return
        attrs.update(extra)
        attrs["vellum_id"] = a.id
        attrs["vellum_shape"] = shape.kind
        if isinstance(shape, RotatedBox):
            attrs["rotation"] = shape.angle
            attrs["vellum_rotated_box"] = [shape.cx, shape.cy, shape.w, shape.h, shape.angle]
        elif isinstance(shape, Polygon) and shape.holes:
            attrs["vellum_polygon"] = {"exterior": shape.exterior.flat(),
                                       "holes": [r.flat() for r in shape.holes],
                                       "parts": [r.flat() for r in shape.parts]}
        elif isinstance(shape, Keypoints):
            attrs["vellum_parts"] = [p for p, v in (("box", shape.box),
                                                    ("region", shape.region)) if v is not None]
        self.d["attributes"] = attrs

    @property
    def shape(self) -> Shape:
        return self.a.shape


def is_box_like(shape: Shape) -> bool:
    return isinstance(shape, (Box, RotatedBox))
