"""labelme JSON in: one JSON per image (or a folder of them) as one undoable command
(see :mod:`app.io.labelme`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, VellumError
from app.io.formats import Outcome, shapes_command
from app.io.labelme.common import (KEY, MAX_BYTES, MAX_COORD, TOP_KEYS, _circle, _digest,
                                   _png_mask)


def _json_files(p: Path) -> list[Path]:
    from app.io.inputs import require_readable

    root = require_readable(p, folders=True, what="a labelme JSON or folder")
    if root.is_file():
        return [root]
    files = sorted(q for q in root.rglob("*.json") if not any(
        part.startswith(".") for part in q.relative_to(root).parts))
    if not files:
        raise BadInputError(f"{root} holds no labelme .json file.", root)
    return [require_readable(f, what="a labelme JSON") for f in files]


def _load(f: Path) -> dict[str, Any]:
    from app.io.inputs import read_json_file

    data = read_json_file(f, what="labelme JSON", max_bytes=MAX_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list) \
            or not isinstance(data.get("imagePath"), str) or not data["imagePath"]:
        raise BadInputError(f"{f} is not a labelme JSON (it needs \"shapes\" and "
                            "\"imagePath\").", f)
    return data


class _Images:
    """The project's images, found by resolved path or by trailing path name."""

    def __init__(self, doc: Any) -> None:
        from app.core.media import MediaKind

        self.items = [m for m in doc.media() if m.kind is MediaKind.IMAGE]
        self.by_path: dict[Path, Any] = {}
        for m in self.items:
            try:
                self.by_path[doc.media_path(m).resolve()] = m
            except (OSError, RuntimeError):
                continue

    def find(self, json_file: Path, image_path: str) -> Any:
        rel = image_path.replace("\\", "/")
        try:
            hit = self.by_path.get((json_file.parent / rel).resolve())
        except (OSError, RuntimeError, ValueError):
            hit = None
        if hit is not None:
            return hit
        parts = [q for q in rel.split("/") if q not in ("", ".", "..")]
        for n in range(len(parts)):  # the longest trailing part that names one image
            tail = "/".join(parts[n:])
            found = [m for m in self.items
                     if m.path == tail or m.path.endswith("/" + tail)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1 and n == len(parts) - 1:
                raise BadInputError(f"{json_file}: imagePath {image_path!r} matches "
                                    f"{len(found)} images of the project; it must name one.",
                                    json_file)
        raise BadInputError(f"{json_file}: imagePath {image_path!r} is no image of the "
                            "project (add the image first).", json_file)


def _points(raw: Any, where: str, f: Path) -> list[tuple[float, float]]:
    ok = isinstance(raw, list) and bool(raw)
    out: list[tuple[float, float]] = []
    for pt in raw if ok else ():
        if not (isinstance(pt, list) and len(pt) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in pt)):
            ok = False
            break
        try:  # a JSON integer past a float's range overflows instead of becoming inf
            x, y = float(pt[0]), float(pt[1])
        except OverflowError:
            x = y = math.inf
        if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > MAX_COORD:
            raise BadInputError(f"{f}: {where} has a point out of range "
                                f"({str(pt[0])[:24]}, {str(pt[1])[:24]}).", f)
        out.append((x, y))
    if not ok:
        raise BadInputError(f"{f}: {where} has no list of [x, y] points.", f)
    return out


def _shape_of(s: dict[str, Any], item: Any, where: str, f: Path,
              kept: dict[str, Any]) -> Any:
    """The Vellum shape of one labelme shape; ``kept`` gets what must be written back."""
    import numpy as np

    from app.core.rle import encode
    from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline

    kind = s.get("shape_type") or "polygon"
    pts = _points(s.get("points"), where, f)
    n = len(pts)
    need = {"rectangle": 2, "circle": 2, "line": 2, "point": 1, "mask": 2,
            "oriented_rectangle": 4}
    if kind in need and n != need[kind] or kind == "polygon" and n < 3 \
            or kind == "linestrip" and n < 2:
        raise BadInputError(f"{f}: {where} ({kind}) has {n} point(s), which labelme does not "
                            "allow.", f)
    if kind == "rectangle":
        return Box.from_corners(*pts[0], *pts[1])
    if kind == "polygon":
        return Polygon(pts)
    if kind in ("line", "linestrip"):
        return Polyline(pts)
    if kind in ("point", "points"):
        full = s.get("vellum_keypoints")  # a set Vellum wrote: unlabelled points, occlusion
        kept.pop("vellum_keypoints", None)
        try:
            shape = Keypoints(tuple(tuple(t) for t in full))
            if [(x, y) for x, y, v in shape.points if v] != pts:
                raise ValueError
            return shape
        except (TypeError, ValueError):
            if full is not None:
                kept["vellum_keypoints"] = full
        return Keypoints(tuple((x, y, 2) for x, y in pts))
    if kind in ("circle", "oriented_rectangle"):
        shape = Polygon(_circle(pts[0], pts[1]) if kind == "circle" else pts)
        kept.update(vellum_points=[list(p) for p in pts], vellum_sha=_digest(shape))
        return shape
    if kind == "mask":
        if not isinstance(s.get("mask"), str):
            raise BadInputError(f"{f}: {where} is a mask without its base64 PNG.", f)
        (x1, y1), (x2, y2) = ((int(x), int(y)) for x, y in pts)
        if not (x1 == pts[0][0] and y1 == pts[0][1] and x2 == pts[1][0] and y2 == pts[1][1]) \
                or not (0 <= x1 <= x2 < item.width and 0 <= y1 <= y2 < item.height):
            raise BadInputError(f"{f}: {where} is a mask whose box {pts} is not whole pixels "
                                f"inside the {item.width}x{item.height} image.", f)
        crop = _png_mask(s["mask"], where, f, (x2 - x1 + 1, y2 - y1 + 1))
        if crop.shape != (y2 - y1 + 1, x2 - x1 + 1):
            raise BadInputError(f"{f}: {where} is a mask of {crop.shape[1]}x{crop.shape[0]} "
                                f"pixels for a box of {x2 - x1 + 1}x{y2 - y1 + 1}.", f)
        full = np.zeros((item.height, item.width), bool)
        full[y1:y2 + 1, x1:x2 + 1] = crop
        shape = Mask(encode(full))
        kept.update(vellum_points=[[x1, y1], [x2, y2]], vellum_sha=_digest(shape))
        return shape
    raise BadInputError(f"{f}: {where} has shape_type {kind!r}, which labelme 5 does not "
                        "write.", f)


def read(doc: Any, path: Any, options: dict[str, Any], progress: Any, cancelled: Any,
         notes: list[str]) -> Outcome:
    from dataclasses import replace

    from app.core.annotations import Annotation
    from app.core.places import Place
    from app.core.schema import PALETTE, LabelClass
    from app.core.shapes import Tag

    p = Path(path)
    files = _json_files(p)
    images = _Images(doc)
    schema = doc.schema
    anns: list[Annotation] = []
    seen_ids: set[str] = set()
    image_foreign: dict[str, Any] = {}
    circles = 0

    def class_of(name: str) -> Any:
        nonlocal schema
        cls = schema.class_by_name(name)
        if cls is None:
            cls = LabelClass(name, PALETTE[len(schema.classes) % len(PALETTE)])
            schema = schema.with_class(cls)
        return cls

    for n, f in enumerate(files):
        if cancelled():
            raise VellumError(f"Import of {path} was cancelled; nothing was written.", p)
        progress(n, len(files), f.name)
        data = _load(f)
        item = images.find(f, data["imagePath"])
        for key, size in (("imageWidth", item.width), ("imageHeight", item.height)):
            v = data.get(key)
            if v is not None and v != size:
                raise BadInputError(f"{f}: {key} is {v!r} but image {item.path} is "
                                    f"{item.width}x{item.height} pixels.", f)
        flags = data.get("flags") or {}
        if not isinstance(flags, dict) or not all(isinstance(v, bool) for v in flags.values()):
            raise BadInputError(f"{f}: \"flags\" is not an object of true/false values.", f)
        for name, on in flags.items():
            if on:
                if not str(name).strip():
                    raise BadInputError(f"{f}: a flag has an empty name.", f)
                anns.append(Annotation(place=Place(item.id), shape=Tag(),
                                       class_id=class_of(str(name)).id))
        top = {k: v for k, v in data.items() if k not in TOP_KEYS or k == "version"}
        top["flags"] = list(flags)  # the order and the false ones
        if data.get("imageData"):
            top["vellum_had_image_data"] = True
        image_foreign[item.id] = top
        for i, s in enumerate(data["shapes"]):
            where = f"shape {i}"
            if not isinstance(s, dict) or not isinstance(s.get("label"), str) \
                    or not s["label"].strip():
                raise BadInputError(f"{f}: {where} has no label.", f)
            for key, kinds in (("group_id", int), ("description", str), ("flags", dict),
                               ("shape_type", str)):
                v = s.get(key)
                if v is not None and (not isinstance(v, kinds) or isinstance(v, bool)):
                    raise BadInputError(f"{f}: {where} has a {key} of the wrong type.", f)
            kept = {k: v for k, v in s.items() if k not in ("label", "points", "mask")}
            shape = _shape_of(s, item, where, f, kept)
            if s.get("shape_type") == "circle":
                circles += 1
            vid = kept.pop("vellum_id", None)
            attrs = kept.pop("attributes", None)
            extra: dict[str, Any] = {}
            if isinstance(vid, str) and vid and vid not in seen_ids \
                    and doc.annotation(item.id, vid) is None:
                extra["id"] = vid
                seen_ids.add(vid)
            elif vid is not None:
                kept["vellum_id"] = vid
            if isinstance(attrs, dict):
                extra["attributes"] = attrs
            elif attrs is not None:
                kept["attributes"] = attrs
            anns.append(Annotation(place=Place(item.id), shape=shape,
                                   class_id=class_of(s["label"].strip()).id,
                                   foreign={KEY: kept}, **extra))
    progress(len(files), len(files))
    if circles:
        notes.append(f"{circles} circle(s) became 64-sided polygons (written back as circles "
                     "while unedited).")
    lm = dict(schema.foreign.get(KEY) or {})
    lm["images"] = {**(lm.get("images") or {}), **image_foreign}
    schema = replace(schema, foreign={**schema.foreign, KEY: lm})
    command = shapes_command(doc, schema, anns, f"Import {p.name}", p)
    return Outcome(summary=f"Imported {len(anns)} annotations from {len(files)} labelme "
                           f"file(s) in {path}", command=command)
