"""COCO categories to Vellum classes, and back.

A category is matched to an existing class by its Vellum id (our own exports), else by the
COCO id and name an earlier import recorded, else by name; otherwise it becomes a new class.
Class names are unique in a schema, so a second category with a name already taken in the
same file becomes ``"name (2)"``; its own name is kept and written back on export. A skeleton
whose edges name keypoints that do not exist (CrowdPose copies COCO's 17-point edges onto 14
points, 1-based) keeps its valid edges; the skeleton as written is kept for export.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from app.core.schema import PALETTE, LabelClass, LabelSchema, Skeleton
from app.io.coco.foreign import CATEGORY_INTERPRETED, COCO, NAME, coco_of

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def color_of(value: Any) -> str | None:
    """A category ``color`` as ``#rrggbb``: hex strings (any case, # optional) or [r, g, b]."""
    if isinstance(value, str):
        m = _HEX.match(value.strip())
        return f"#{m.group(1).lower()}" if m else None
    if isinstance(value, list) and len(value) in (3, 4) and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value[:3]):
        return "#{:02x}{:02x}{:02x}".format(*value[:3])
    return None


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def skeleton_of(cat: dict[str, Any]) -> tuple[Skeleton | None, list[str]]:
    """The skeleton a category describes, and notes on what it could not hold as written."""
    names = cat.get("keypoints")
    if not isinstance(names, list) or not names:
        return None, []
    notes: list[str] = []
    points = [str(p) for p in names]
    seen: set[str] = set()
    for i, p in enumerate(points):
        if p in seen:
            points[i] = _unique(p, seen)
        seen.add(points[i])
    if points != [str(p) for p in names]:
        notes.append("repeats keypoint names (numbered in Vellum)")
    edges: list[tuple[int, int]] = []
    dropped = 0
    raw = cat.get("skeleton")
    for e in raw if isinstance(raw, list) else []:
        ok = (isinstance(e, list) and len(e) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) for v in e))
        a, b = (e[0] - 1, e[1] - 1) if ok else (-1, -1)
        if ok and 0 <= a < len(points) and 0 <= b < len(points) and a != b \
                and (a, b) not in edges:
            edges.append((a, b))
        else:
            dropped += 1
    if dropped:
        notes.append(f"has {dropped} skeleton edge(s) naming keypoints beyond its "
                     f"{len(points)} (kept in the file, not drawn)")
    return Skeleton(tuple(points), tuple(edges)), notes


def _written_skeleton(sk: Skeleton) -> list[list[int]]:
    return [[a + 1, b + 1] for a, b in sk.edges]


def category_foreign(cat: dict[str, Any], skeleton: Skeleton | None,
                     vellum_name: str | None) -> dict[str, Any]:
    """What the class keeps of a category (see :mod:`app.io.coco.foreign`)."""
    out = {k: v for k, v in cat.items() if k not in CATEGORY_INTERPRETED}
    if skeleton is not None:
        if list(skeleton.points) == [str(p) for p in cat.get("keypoints") or []] and all(
                isinstance(p, str) for p in cat.get("keypoints") or []):
            out.pop("keypoints", None)
        if _written_skeleton(skeleton) == cat.get("skeleton"):
            out.pop("skeleton", None)
    if vellum_name is not None:
        out[NAME] = vellum_name
    return out


class ClassMapper:
    """Maps the categories of one file onto the project's schema (growing it)."""

    def __init__(self, schema: LabelSchema) -> None:
        self.schema = schema
        self.taken_here: set[str] = set()  # class ids matched by this file's categories
        self.notes: list[str] = []

    def _match(self, cat: dict[str, Any], vid: Any) -> LabelClass | None:
        s = self.schema
        if isinstance(vid, str) and (c := s.class_by_id(vid)) is not None:
            return c
        for c in s.classes:
            f = coco_of(c)
            if c.id not in self.taken_here and f.get("id") == cat.get("id") and \
                    f.get("name") == cat.get("name") and "id" in f:
                return c
        name = cat.get("name")
        c = s.class_by_name(name) if isinstance(name, str) else None
        if c is not None and c.id not in self.taken_here:
            return c
        return None

    def add(self, cat: dict[str, Any], where: str) -> LabelClass | None:
        """The class for one category entry (None for Vellum's stand-in "no class")."""
        attrs = cat.get("attributes") if isinstance(cat.get("attributes"), dict) else {}
        if attrs.get("vellum_unlabeled"):
            return None
        skeleton, notes = skeleton_of(cat)
        raw_name = cat.get("name")
        label = raw_name.strip() if isinstance(raw_name, str) else ""
        for n in notes:
            self.notes.append(f"Category {cat.get('id')!r} ({label or 'unnamed'}) {n}.")
        cls = self._match(cat, attrs.get("vellum_id"))
        if cls is not None:
            self.taken_here.add(cls.id)
            changes: dict[str, Any] = {}
            if skeleton and not cls.skeleton:
                changes["skeleton"] = skeleton
            if not coco_of(cls):
                changes["foreign"] = {**cls.foreign, COCO: category_foreign(
                    cat, cls.skeleton or skeleton, None)}
            if changes:
                cls = replace(cls, **changes)
                self.schema = self.schema.with_class(cls)
            return cls
        taken = {c.name for c in self.schema.classes}
        name = _unique(label or f"category {cat.get('id')}", taken)
        if label and name != label:
            self.notes.append(f"Categories named {label!r} appear more than once; category "
                              f"{cat.get('id')!r} is class {name!r} in Vellum and keeps its "
                              "own name in the export.")
        color = (color_of(attrs.get("color")) or color_of(cat.get("color"))
                 or PALETTE[len(self.schema.classes) % len(PALETTE)])
        own = "vellum_id" in attrs
        foreign = {COCO: category_foreign(cat, skeleton, name if name != raw_name else None)}
        cls = LabelClass(name=name, color=color, skeleton=skeleton, foreign=foreign,
                         **({"id": attrs["vellum_id"]} if own and isinstance(
                             attrs.get("vellum_id"), str) else {}))
        self.schema = self.schema.with_class(cls)
        self.taken_here.add(cls.id)
        return cls


def export_name(cls: LabelClass) -> str:
    """The category name to write: the file's own name unless the class was renamed since."""
    f = coco_of(cls)
    if NAME in f and f[NAME] == cls.name and isinstance(f.get("name"), str):
        return f["name"]
    return cls.name


def export_color(cls: LabelClass) -> Any:
    """The category ``color`` to write: as the file had it while the class keeps that colour."""
    f = coco_of(cls)
    if "color" in f and color_of(f["color"]) == cls.color:
        return f["color"]
    return cls.color


def export_skeleton(cls: LabelClass) -> tuple[Any, Any]:
    """``keypoints`` and ``skeleton`` to write (as the file had them while unchanged)."""
    f = coco_of(cls)
    sk = cls.skeleton
    if sk is None:
        return f.get("keypoints"), f.get("skeleton")
    names: Any = list(sk.points)
    if isinstance(f.get("keypoints"), list):
        as_read, _ = skeleton_of({"keypoints": f["keypoints"]})
        if as_read is not None and as_read.points == sk.points:
            names = f["keypoints"]
    edges = _written_skeleton(sk)
    if "skeleton" in f:
        written, _ = skeleton_of({"keypoints": names, "skeleton": f["skeleton"]})
        if written is not None and written.edges == sk.edges:
            edges = f["skeleton"]
    return names, edges
