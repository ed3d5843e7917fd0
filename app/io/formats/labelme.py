"""labelme JSON in the format registry: one JSON per image, as labelme 5 writes it.

Coordinates: labelme's points are continuous pixel coordinates with the origin at the top-left
corner of the top-left pixel, exactly Vellum's (CONVENTIONS.md), so points pass unchanged.
One exception, from labelme's own source (``labelme/utils/shape.py``, ``shapes_to_label``): a
``mask`` shape's two points are *integer pixel indices* ``(x1, y1), (x2, y2)`` of the first
and last (inclusive) column and row of its box, and ``mask`` is a base64 PNG of exactly
``(y2 - y1 + 1) x (x2 - x1 + 1)`` pixels (non-zero = inside).

Import (``vellum import labelme PROJECT FOLDER_OR_JSON``): each JSON's ``imagePath`` (relative
to the JSON) is matched to a project image (else by its trailing name); ``imageData`` is
ignored, never decoded. rectangle -> Box, polygon -> Polygon, line/linestrip -> Polyline,
point -> Keypoints of one point (as COCO and CVAT carry a point), points -> Keypoints,
circle and oriented_rectangle -> Polygon (a 64-gon for a circle; the original is kept and
written back while the polygon is unedited), mask -> Mask. ``group_id``, ``flags``,
``description`` and every other key of a shape are kept in ``foreign["labelme"]`` and
written back; image-level flags that are true become tags of that class.

Export (``vellum export labelme PROJECT OUT_FOLDER``): one JSON per labelled-or-not image,
named after the image (its path under the images' common folder), ``imagePath`` relative to
the JSON, ``imageData`` null. Written all or nothing through :mod:`app.io.outputs`.
"""

from __future__ import annotations

import base64
import math
import os
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, VellumError
from app.io.formats import Format, Outcome

KEY = "labelme"
VERSION = "5.5.0"  # the labelme version our files claim to be written by (labelme 5 layout)
SHAPE_KEYS = ("label", "points", "group_id", "description", "shape_type", "flags", "mask")
TOP_KEYS = ("version", "flags", "shapes", "imagePath", "imageData", "imageHeight",
            "imageWidth")
CIRCLE_SIDES = 64
MAX_COORD = 4.0e8
MAX_BYTES = 512 * 1024 * 1024


# ------------------------------------------------------------------ small helpers
def _digest(shape: Any) -> int:
    from app.io.coco.foreign import digest

    return digest(shape)


def _png_bytes(mask: Any) -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".png", mask.astype(np.uint8))
    if not ok:  # pragma: no cover - cv2 encodes any uint8 2D array
        raise VellumError("Cannot encode a mask as PNG.")
    return buf.tobytes()


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, None if ``data`` is no PNG (read before decoding,
    so that a small file claiming a huge image is refused without decoding it)."""
    import struct

    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def _png_mask(text: str, where: str, p: Path, size: tuple[int, int]) -> Any:
    """The boolean array of a base64 PNG of ``size`` (w, h) (non-zero = inside); one
    sentence if unusable."""
    import cv2
    import numpy as np

    try:
        data = base64.b64decode(text, validate=False)
        got = png_size(data)
        if got is not None and got != size:
            raise BadInputError(f"{p}: {where} is a mask of {got[0]}x{got[1]} pixels for a "
                                f"box of {size[0]}x{size[1]}.", p)
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) \
            if got is not None else None
    except (ValueError, TypeError, cv2.error):
        arr = None
    if arr is None:
        raise BadInputError(f"{p}: {where} has a mask that is not a base64 PNG.", p)
    if arr.ndim == 3:
        arr = arr[..., :3].any(axis=2) if arr.shape[2] >= 3 else arr[..., 0]
    return arr != 0


def _circle(c: tuple[float, float], q: tuple[float, float]) -> list[tuple[float, float]]:
    r = math.hypot(q[0] - c[0], q[1] - c[1])
    return [(c[0] + r * math.cos(2 * math.pi * n / CIRCLE_SIDES),
             c[1] + r * math.sin(2 * math.pi * n / CIRCLE_SIDES)) for n in range(CIRCLE_SIDES)]


# ------------------------------------------------------------------ import
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
    from app.core.commands import Batch, Put, SetSchema
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
    try:
        steps = ([SetSchema(schema)] if schema != doc.schema else []) + [
            Put(tuple(anns), label=f"Import {p.name}")]
        command = Batch(tuple(steps), label=f"Import {p.name}")
    except ValueError as exc:
        raise BadInputError(f"{p}: {str(exc).rstrip('.')}.", p) from exc
    return Outcome(summary=f"Imported {len(anns)} annotations from {len(files)} labelme "
                           f"file(s) in {path}", command=command)


# ------------------------------------------------------------------ export
def _json_names(doc: Any, items: list[Any]) -> dict[str, str]:
    """Each image's JSON name: its path under the images' deepest common folder, ``.json``."""
    paths = {m.id: doc.media_path(m).resolve() for m in items}
    try:
        common = Path(os.path.commonpath([str(q.parent) for q in paths.values()]))
    except ValueError:
        common = None
    out: dict[str, str] = {}
    taken: set[str] = set()
    for m in items:
        q = paths[m.id]
        rel = q.relative_to(common) if common is not None else Path(q.name)
        name = rel.with_suffix(".json").as_posix()
        stem, k = name[:-5], 2
        while name.lower() in taken:
            name, k = f"{stem} ({k}).json", k + 1
        taken.add(name.lower())
        out[m.id] = name
    return out


def _r(v: float) -> float | int:
    return float(v)


def _labelme_shapes(a: Any, label: str, group: int, counters: dict[str, int]) -> list[dict]:
    """The labelme shapes of one annotation (several for a multi-part polygon or a keypoint
    set); ``counters`` counts what labelme cannot hold."""
    import numpy as np

    from app.core.rle import decode
    from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox

    kept = dict((a.foreign or {}).get(KEY) or {})
    sha = kept.pop("vellum_sha", None)
    orig = kept.pop("vellum_points", None)
    kept.pop("vellum_id", None)
    base: dict[str, Any] = {"label": label, "points": [], "group_id": kept.pop("group_id", None),
                            "description": kept.pop("description", None) or "",
                            "shape_type": "", "flags": kept.pop("flags", None) or {},
                            "mask": None}
    kind = kept.pop("shape_type", None)
    s = a.shape

    def one(shape_type: str, pts: Any, **more: Any) -> dict[str, Any]:
        d = dict(base, shape_type=shape_type, points=[[_r(x), _r(y)] for x, y in pts], **more)
        d.update(kept)
        d["vellum_id"] = a.id
        if a.attributes:
            d["attributes"] = a.attributes
        return d

    if isinstance(s, Polygon) and orig is not None and kind in ("circle", "oriented_rectangle") \
            and sha == _digest(s):
        return [one(kind, orig)]
    if isinstance(s, Box):
        return [one("rectangle", [(s.x, s.y), (s.x + s.w, s.y + s.h)])]
    if isinstance(s, RotatedBox):
        counters["rotated"] += 1
        return [one("polygon", s.corners())]
    if isinstance(s, Polygon):
        if s.holes:
            counters["holes"] += 1
        out = [one("polygon", s.exterior)]
        if s.parts:
            counters["parts"] += 1
            if out[0]["group_id"] is None:
                out[0]["group_id"] = group
            out += [dict(out[0], points=[[_r(x), _r(y)] for x, y in r]) for r in s.parts]
        return out
    if isinstance(s, Polyline):
        t = kind if kind in ("line", "linestrip") and (kind != "line" or len(s.points) == 2) \
            else ("line" if len(s.points) == 2 and kind == "line" else "linestrip")
        return [one(t, s.points)]
    if isinstance(s, Keypoints):
        pts = [(x, y) for x, y, v in s.points if v]
        if len(pts) != len(s.points) or any(v == 1 for *_, v in s.points) \
                or s.box is not None or s.region is not None:
            counters["keypoints"] += 1
        if not pts:
            return []
        d = one("points" if kind == "points" or len(pts) > 1 else "point", pts)
        if len(pts) != len(s.points) or any(v == 1 for *_, v in s.points):
            # labelme draws the labelled points; the whole set rides along for Vellum
            d["vellum_keypoints"] = [[x, y, v] for x, y, v in s.points]
        return [d]
    if isinstance(s, Mask):
        m = decode(s.rle)
        rows, cols = np.any(m, axis=1), np.any(m, axis=0)
        if not rows.any():
            counters["empty"] += 1
            return []
        r0, r1 = np.flatnonzero(rows)[[0, -1]]
        c0, c1 = np.flatnonzero(cols)[[0, -1]]
        if kind == "mask" and orig is not None and sha == _digest(s):  # the box as read
            (c0, r0), (c1, r1) = orig
        crop = m[r0:r1 + 1, c0:c1 + 1]
        d = one("mask", [(int(c0), int(r0)), (int(c1), int(r1))])
        d["points"] = [[int(c0), int(r0)], [int(c1), int(r1)]]
        d["mask"] = base64.b64encode(_png_bytes(crop)).decode("ascii")
        return [d]
    counters["other"] += 1
    return []


def write(doc: Any, out: Any, options: dict[str, Any], progress: Any, cancelled: Any,
          notes: list[str]) -> Outcome:
    import json
    from collections import Counter

    from app.core.media import MediaKind
    from app.core.shapes import Tag
    from app.io.outputs import StagedOutput, inside, prepare_folder, prepare_outputs

    root = prepare_folder(out, doc)
    items = [m for m in doc.media() if m.kind is MediaKind.IMAGE]
    if not items:
        raise VellumError(f"{doc.path} has no images to write as labelme JSON.", doc.path)
    names = _json_names(doc, items)
    targets = {m.id: inside(root, names[m.id]) for m in items}
    prepare_outputs(targets.values(), overwrite=bool(options.get("overwrite")), doc=doc)
    classes = {c.id: c.name for c in doc.schema.classes}
    known = (doc.schema.foreign.get(KEY) or {}).get("images") or {}
    counters: Counter[str] = Counter()
    skipped = sum(1 for m in doc.media() if m.kind is not MediaKind.IMAGE)
    texts: dict[str, str] = {}
    total = 0
    for n, m in enumerate(items):
        if cancelled():
            raise VellumError(f"Export to {out} was cancelled; nothing was written.", out)
        progress(n, len(items), m.name)
        top = dict(known.get(m.id) or {})
        top.pop("vellum_had_image_data", None)
        flag_order = top.pop("flags", None) or []
        version = top.pop("version", VERSION)
        shapes: list[dict[str, Any]] = []
        tags: list[str] = []
        group = 1_000_000
        for a in doc.annotations(m.id):
            label = classes.get(a.class_id) or "unlabeled"
            if isinstance(a.shape, Tag):
                tags.append(label)
                continue
            if a.track_id is not None:
                counters["tracks"] += 1
            group += 1
            got = _labelme_shapes(a, label, group, counters)
            shapes += got
            total += bool(got)
        flags = {str(k): False for k in flag_order}
        flags.update((t, True) for t in tags)
        rel = os.path.relpath(doc.media_path(m).resolve(), targets[m.id].parent.resolve())
        payload = {"version": version, "flags": flags, "shapes": shapes,
                   "imagePath": Path(rel).as_posix(), "imageData": None,
                   "imageHeight": m.height, "imageWidth": m.width, **top}
        texts[m.id] = json.dumps(payload, ensure_ascii=False, indent=2)
    with StagedOutput(root) as stage:
        for mid, text in texts.items():
            stage.write_text(targets[mid], text)
    progress(len(items), len(items))
    said = {"holes": "polygon(s) with holes were written without their holes",
            "parts": "multi-part polygon(s) were written as one polygon per part with one "
                     "group_id",
            "rotated": "rotated box(es) were written as 4-point polygons",
            "keypoints": "keypoint set(s) are drawn by their labelled points only (unlabelled "
                         "points and occlusion ride along in \"vellum_keypoints\" for "
                         "Vellum; a box or region is lost)",
            "empty": "empty mask(s) were left out",
            "other": "annotation(s) of a kind labelme cannot hold (events) were left out",
            "tracks": "shape(s) of video tracks are not written (labelme holds images only)"}
    for key, words in said.items():
        if counters[key] and key != "tracks":
            notes.append(f"{counters[key]} {words}.")
    if skipped:
        notes.append(f"{skipped} video(s)/volume(s) were left out (labelme holds images only).")
    return Outcome(summary=f"Wrote {len(items)} labelme JSON file(s) with {total} annotations "
                           f"to {out}.")


FORMAT = Format(
    name="labelme", title="labelme JSON", patterns=("*.json",),
    holds=frozenset({"shapes"}), read=read, write=write,
    read_target="folder", write_target="folder",
    read_metavar="FOLDER_OR_JSON", write_metavar="OUT_FOLDER",
    read_help="labelme JSON (one file per image, or a folder of them)",
    read_description="Import labelme 5 JSON files (one, or every .json under a folder) as one "
                     "undoable step. Each file's imagePath must name an image of the project; "
                     "imageData is ignored. Labels become classes; group_id, flags and "
                     "description are kept and written back.",
    write_help="labelme JSON (one file per image)",
    write_description="Write one labelme 5 JSON per image into OUT_FOLDER (imagePath relative "
                      "to the JSON, no imageData), all or nothing. Tags become image flags; "
                      "what labelme cannot hold (holes, tracks, rotated boxes) is noted.",
    overwrite_help="replace JSON files of the same names that already exist; never the "
                   "project or its media",
)
