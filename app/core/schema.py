"""The label schema: classes, their attributes and skeletons: one ontology for photos, video
and volumes (label-map segments link to these classes; see :mod:`app.core.labelmap`).

A schema is an immutable value; editing it makes a new one (so undo is a swap). Ids are stable
strings; names are what users see and must be unique among classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from app.core.identity import new_id
from app.core.shapes import SHAPE_KINDS

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class AttributeType(str, Enum):
    BOOL = "bool"
    ENUM = "enum"
    NUMBER = "number"
    TEXT = "text"


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute of a class. ``dynamic`` attributes may change per frame on video tracks;
    static ones hold for the whole object."""

    name: str
    type: AttributeType
    options: tuple[str, ...] = ()
    default: Any = None
    dynamic: bool = False
    minimum: float | None = None
    maximum: float | None = None
    id: str = field(default_factory=new_id)

    def initial(self) -> Any:
        """The value a new object starts with."""
        if self.default is not None:
            return self.default
        return {AttributeType.BOOL: False, AttributeType.ENUM: self.options[0] if self.options
                else "", AttributeType.NUMBER: self.minimum or 0.0,
                AttributeType.TEXT: ""}[self.type]

    def check(self, value: Any) -> Any:
        """Return ``value`` coerced to this attribute's type, or raise ``ValueError``."""
        if self.type is AttributeType.BOOL:
            if isinstance(value, bool):
                return value
            raise ValueError(f"attribute {self.name!r} must be true or false, got {value!r}")
        if self.type is AttributeType.ENUM:
            if value in self.options:
                return value
            raise ValueError(f"attribute {self.name!r} must be one of {list(self.options)}, "
                             f"got {value!r}")
        if self.type is AttributeType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"attribute {self.name!r} must be a number, got {value!r}")
            if (self.minimum is not None and value < self.minimum) or (
                    self.maximum is not None and value > self.maximum):
                raise ValueError(f"attribute {self.name!r} must lie in "
                                 f"[{self.minimum}, {self.maximum}], got {value}")
            return value
        return str(value)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type.value,
                "options": list(self.options), "default": self.default, "dynamic": self.dynamic,
                "minimum": self.minimum, "maximum": self.maximum}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> AttributeSpec:
        return cls(name=str(obj["name"]), type=AttributeType(obj["type"]),
                   options=tuple(obj.get("options") or ()), default=obj.get("default"),
                   dynamic=bool(obj.get("dynamic", False)), minimum=obj.get("minimum"),
                   maximum=obj.get("maximum"), id=str(obj.get("id") or new_id()))


@dataclass(frozen=True)
class Skeleton:
    """Keypoint skeleton: point names in order and edges as 0-based index pairs."""

    points: tuple[str, ...]
    edges: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.points)
        if n == 0:
            raise ValueError("a skeleton needs at least one point")
        if len(set(self.points)) != n:
            raise ValueError("skeleton point names must be unique")
        for a, b in self.edges:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise ValueError(f"skeleton edge ({a}, {b}) does not join two of its {n} points")

    def to_json(self) -> dict[str, Any]:
        return {"points": list(self.points), "edges": [list(e) for e in self.edges]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Skeleton:
        return cls(tuple(str(p) for p in obj["points"]),
                   tuple((int(a), int(b)) for a, b in obj.get("edges", [])))


@dataclass(frozen=True)
class LabelClass:
    """A class users label with. ``kinds`` lists the allowed shape kinds (empty: any);
    ``parent_id`` nests classification classes (e.g. weather > rain). ``foreign`` keeps, per
    file format, what another tool wrote for this class (a COCO category's id, name,
    supercategory...) so that export gives it back."""

    name: str
    color: str = "#e6194b"
    kinds: tuple[str, ...] = ()
    hotkey: str | None = None
    attributes: tuple[AttributeSpec, ...] = ()
    skeleton: Skeleton | None = None
    parent_id: str | None = None
    foreign: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a class needs a name")
        if not _COLOR.match(self.color):
            raise ValueError(f"class {self.name!r} colour must look like #rrggbb, "
                             f"got {self.color!r}")
        bad = [k for k in self.kinds if k not in SHAPE_KINDS]
        if bad:
            raise ValueError(f"class {self.name!r} allows unknown shape kinds {bad}")

    def allows(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def attribute(self, name_or_id: str) -> AttributeSpec | None:
        return next((a for a in self.attributes if name_or_id in (a.id, a.name)), None)

    def default_attributes(self) -> dict[str, Any]:
        """Initial attribute values keyed by attribute name."""
        return {a.name: a.initial() for a in self.attributes}

    def split_attributes(self, values: dict[str, Any]
                         ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(static, per-frame) attribute values: on a video track the static ones belong to
        the track, the per-frame ("dynamic") ones to its shapes. Keys this class does not
        know count as per-frame."""
        static: dict[str, Any] = {}
        per_frame: dict[str, Any] = {}
        for k, v in values.items():
            spec = self.attribute(k)
            (static if spec is not None and not spec.dynamic else per_frame)[k] = v
        return static, per_frame

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "color": self.color, "kinds": list(self.kinds),
                "hotkey": self.hotkey, "attributes": [a.to_json() for a in self.attributes],
                "skeleton": self.skeleton.to_json() if self.skeleton else None,
                "parent_id": self.parent_id, "foreign": self.foreign}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LabelClass:
        return cls(name=str(obj["name"]), color=str(obj.get("color", "#e6194b")),
                   kinds=tuple(obj.get("kinds") or ()), hotkey=obj.get("hotkey"),
                   attributes=tuple(AttributeSpec.from_json(a) for a in obj.get("attributes", [])),
                   skeleton=Skeleton.from_json(obj["skeleton"]) if obj.get("skeleton") else None,
                   parent_id=obj.get("parent_id"), foreign=dict(obj.get("foreign") or {}),
                   id=str(obj.get("id") or new_id()))


@dataclass(frozen=True)
class LabelSchema:
    """All classes of a project, in display order. ``foreign`` keeps, per file format, what
    other tools wrote at file level for the whole dataset (COCO's ``info``, ``licenses``,
    ``videos`` of image sequences, unknown top-level keys, the files already imported), so that
    export gives it back; it changes with the schema, so undoing an import undoes it too."""

    classes: tuple[LabelClass, ...] = ()
    foreign: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [c.name for c in self.classes]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"class names must be unique; repeated: {sorted(dup)}")
        keys = [c.hotkey for c in self.classes if c.hotkey]
        if len(keys) != len(set(keys)):
            raise ValueError("two classes share a hotkey")
        ids = {c.id for c in self.classes}
        for c in self.classes:
            if c.parent_id is not None and c.parent_id not in ids:
                raise ValueError(f"class {c.name!r} names a parent that does not exist")

    def class_by_id(self, class_id: str | None) -> LabelClass | None:
        return next((c for c in self.classes if c.id == class_id), None)

    def class_by_name(self, name: str) -> LabelClass | None:
        return next((c for c in self.classes if c.name == name), None)

    def with_class(self, cls: LabelClass) -> LabelSchema:
        """Add ``cls``, or replace the class with the same id."""
        if any(c.id == cls.id for c in self.classes):
            return replace(self, classes=tuple(cls if c.id == cls.id else c for c in self.classes))
        return replace(self, classes=self.classes + (cls,))

    def without_class(self, class_id: str) -> LabelSchema:
        return replace(self, classes=tuple(c for c in self.classes if c.id != class_id))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"classes": [c.to_json() for c in self.classes]}
        if self.foreign:
            out["foreign"] = self.foreign
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LabelSchema:
        return cls(tuple(LabelClass.from_json(c) for c in obj.get("classes", [])),
                   dict(obj.get("foreign") or {}))


# Distinct, colour-blind-friendly-ish palette for new classes (Sasha Trubetskoy's 20 colours).
PALETTE: tuple[str, ...] = (
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
    "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
    "#808000", "#ffd8b1", "#000075", "#808080")
