"""Review states, item verdicts and pinned comments (:mod:`app.core.review`) in a COCO file:
one top-level object ``vellum_review`` that other tools ignore and Vellum's import reads back.

    "vellum_review": {
      "objects":  [{"annotation": VELLUM_ID, "state": "rejected", "reason": "...",
                    "author": "...", "time": "..."}],        # VELLUM_ID: attributes.vellum_id
      "items":    [{"image_id": 3 | "video_id": 1, "verdict": "approved", "note": "...",
                    "author": "...", "time": "..."}],
      "comments": [{"image_id": 3 | "video_id": 1, "frame": 12, "x": 10.5, "y": 4.0,
                    "text": "...", "resolved": false, "author": "...", "time": "...",
                    "id": "..."}]}

Comment points are continuous pixels of the image or frame (as every COCO coordinate here);
``frame`` is the 0-based presentation index. Reviews on volumes are not COCO (they stay in
the project; the export says how many were left out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.media import MediaKind
from app.core.places import Place
from app.core.review import Comment, ItemVerdict, ObjectReview, SetReview, record_from_json

if TYPE_CHECKING:
    from app.core.document import Document

KEY = "vellum_review"


def export_review(doc: Document, exp: Any, exported_ids: set[str]) -> tuple[dict | None, int]:
    """The ``vellum_review`` object for an export (None when there is nothing to say) and how
    many review records were left out (on volumes, or of objects not exported). ``exp`` is the
    exporter (its images and videos are listed; a video's entry is made when needed)."""
    by_id = {m.id: m for m in doc.media()}
    left = 0

    def where(media_id: str, frame: int | None) -> dict[str, Any] | None:
        item = by_id.get(media_id)
        if item is None or item.kind is MediaKind.VOLUME:
            return None
        if item.kind is MediaKind.VIDEO:
            out: dict[str, Any] = {"video_id": exp.video(item)["id"]}
            if frame is not None:
                out["frame"] = frame
            return out
        key = (item.id, None)
        if key not in exp.image_index:
            return None
        return {"image_id": exp.images[exp.image_index[key]]["id"]}

    objects, items, comments = [], [], []
    for r in doc.object_reviews().values():
        if r.object_id not in exported_ids:
            left += 1
            continue
        j = r.to_json()
        objects.append({"annotation": r.object_id, **{k: j[k] for k in (
            "state", "reason", "author", "time")}})
    for v in doc.verdicts().values():
        at = where(v.media_id, None)
        if at is None:
            left += 1
            continue
        j = v.to_json()
        del j["media_id"]
        items.append({**at, **j})
    for c in doc.comments():
        at = where(c.media_id, c.place.frame)
        if at is None or c.place.is_slice or c.place.more:
            left += 1
            continue
        j = c.to_json()
        del j["place"]
        comments.append({**at, **j})
    if not (objects or items or comments):
        return None, left
    return {"objects": objects, "items": items, "comments": comments}, left


def import_review(data: dict[str, Any], plan: Any, imported_ids: dict[str, str],
                  fail: Any) -> tuple[SetReview | None, list[str]]:
    """The command that stores a file's ``vellum_review`` (None: it has none) and notes.
    ``imported_ids``: annotation id -> media id of what this import stores; ``fail(msg)``
    raises the reader's one-sentence error."""
    block = data.get(KEY)
    if block is None:
        return None, []
    if not isinstance(block, dict):
        fail(f"'{KEY}' is not an object")
    lists = {}
    for name in ("objects", "items", "comments"):
        value = block.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            fail(f"'{KEY}.{name}' is not a list of objects")
        lists[name] = value
    put: list[ObjectReview | ItemVerdict | Comment] = []
    skipped = 0

    def media_of(entry: dict[str, Any]) -> tuple[str | None, int | None]:
        if "image_id" in entry:
            hit = plan.images.get(entry["image_id"]) if _hashable(entry["image_id"]) else None
            return (hit[0].id, hit[1]) if hit else (None, None)
        if "video_id" in entry and _hashable(entry["video_id"]):
            item = plan.videos.get(entry["video_id"])
            return (item.id if item else None), entry.get("frame")
        return None, None

    try:
        for o in lists["objects"]:
            media = imported_ids.get(str(o.get("annotation")))
            if media is None:
                skipped += 1
                continue
            put.append(record_from_json("object", {**o, "object_id": o["annotation"],
                                                   "media_id": media}))
        for v in lists["items"]:
            media, _ = media_of(v)
            if media is None:
                skipped += 1
                continue
            put.append(record_from_json("item", {**v, "media_id": media}))
        for c in lists["comments"]:
            media, frame = media_of(c)
            if media is None:
                skipped += 1
                continue
            put.append(record_from_json("comment", {**c, "place": Place(
                media, frame).to_json()}))
    except (KeyError, TypeError, ValueError) as exc:
        fail(f"'{KEY}' has an entry Vellum cannot read ({exc})")
    seen: dict[tuple[str, str], Any] = {}
    for r in put:
        seen[r.key] = r  # a repeated entry: the last one counts
    notes = [f"{skipped} review record(s) in '{KEY}' name no imported object, image or "
             "video and were left out."] if skipped else []
    if not seen:
        return None, notes
    return SetReview(tuple(seen.values()), label="Import reviews"), notes


def _hashable(value: Any) -> bool:
    return not isinstance(value, (list, dict))
