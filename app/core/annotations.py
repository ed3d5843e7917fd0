"""Annotations and tracks: what users label, keyed to a place in a media item.

Where an annotation sits: ``media_id`` plus ``frame`` (0-based frame index in presentation
order for video; slice index for a volume, with ``plane`` naming the patient-space orientation
'axial' | 'coronal' | 'sagittal'; ``None`` for a still image or a media-level tag/event).
An annotation with a ``track_id`` is that track's keyframe at ``frame``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.identity import author, new_id, utc_now
from app.core.shapes import Shape, shape_from_json

PLANES = ("axial", "coronal", "sagittal")

_HIDDEN, _LOCKED, _CROWD, _OUTSIDE = 1, 2, 4, 8


@dataclass(frozen=True)
class Annotation:
    """One labelled shape (or tag/event). Immutable: edits make a new value with the same id."""

    media_id: str
    shape: Shape
    class_id: str | None = None
    frame: int | None = None
    plane: str | None = None
    track_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    z: int = 0
    hidden: bool = False
    locked: bool = False
    iscrowd: bool = False
    outside: bool = False
    timestamp: float | None = None
    creator: str = field(default_factory=author)
    created: str = field(default_factory=utc_now)
    modified: str = ""
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if not self.modified:
            object.__setattr__(self, "modified", self.created)
        if self.plane is not None and self.plane not in PLANES:
            raise ValueError(f"plane must be one of {PLANES}, got {self.plane!r}")
        if self.frame is not None and int(self.frame) < 0:
            raise ValueError(f"frame index must be >= 0, got {self.frame}")

    @property
    def kind(self) -> str:
        return self.shape.kind

    @property
    def flags(self) -> int:
        """Bit set of hidden/locked/iscrowd/outside as stored on disk."""
        return (_HIDDEN * self.hidden) | (_LOCKED * self.locked) | (_CROWD * self.iscrowd) | (
            _OUTSIDE * self.outside)

    @staticmethod
    def flag_values(flags: int) -> dict[str, bool]:
        return {"hidden": bool(flags & _HIDDEN), "locked": bool(flags & _LOCKED),
                "iscrowd": bool(flags & _CROWD), "outside": bool(flags & _OUTSIDE)}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "media_id": self.media_id, "class_id": self.class_id,
                "frame": self.frame, "plane": self.plane, "track_id": self.track_id,
                "shape": self.shape.to_json(), "attributes": self.attributes, "z": self.z,
                "flags": self.flags, "timestamp": self.timestamp, "creator": self.creator,
                "created": self.created, "modified": self.modified}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Annotation:
        return cls(media_id=obj["media_id"], shape=shape_from_json(obj["shape"]),
                   class_id=obj.get("class_id"), frame=obj.get("frame"), plane=obj.get("plane"),
                   track_id=obj.get("track_id"), attributes=dict(obj.get("attributes") or {}),
                   z=int(obj.get("z", 0)), timestamp=obj.get("timestamp"),
                   creator=obj.get("creator", ""), created=obj.get("created", ""),
                   modified=obj.get("modified", ""), id=obj["id"],
                   **cls.flag_values(int(obj.get("flags", 0))))


@dataclass(frozen=True)
class Track:
    """An object's identity across video frames; its keyframes are annotations with its id.
    Interpolation between keyframes is computed, never stored."""

    media_id: str
    class_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    creator: str = field(default_factory=author)
    created: str = field(default_factory=utc_now)
    modified: str = ""
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if not self.modified:
            object.__setattr__(self, "modified", self.created)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "media_id": self.media_id, "class_id": self.class_id,
                "attributes": self.attributes, "creator": self.creator, "created": self.created,
                "modified": self.modified}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Track:
        return cls(media_id=obj["media_id"], class_id=obj.get("class_id"),
                   attributes=dict(obj.get("attributes") or {}), creator=obj.get("creator", ""),
                   created=obj.get("created", ""), modified=obj.get("modified", ""),
                   id=obj["id"])
