"""labelme JSON out: one JSON per image, ``imagePath`` relative to it, no ``imageData``,
all or nothing (see :mod:`app.io.labelme`)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from app.core.errors import VellumError
from app.io.formats import Outcome
from app.io.labelme.common import KEY, VERSION, _digest, _png_bytes


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
