"""Annotations and tracks: what users label, each at a :class:`~app.core.places.Place`.

An annotation sits at one place (an image, a video frame, a volume slice by array axis, or a
whole media item for tags and events). On video, an annotation with a ``track_id`` is that
track's shape at its frame: a **keyframe** when a person set it (``keyframe=True``), or a shape
a tracker or propagation wrote (``keyframe=False``, with its ``source`` and ``score``). A track
has at most one annotation per frame; shapes between them are computed by
:func:`app.core.interpolate.interpolate`, never stored.
"""

from __future__ import annotations

import functools

from dataclasses import dataclass, field
from typing import Any

from app.core.identity import author, new_id, utc_now
from app.core.places import Place
from app.core.shapes import Shape, shape_from_json

MANUAL = "manual"
INTERPOLATED = "interpolated"

_HIDDEN, _LOCKED, _CROWD, _OUTSIDE, _OCCLUDED = 1, 2, 4, 8, 16


@dataclass(frozen=True, slots=True, kw_only=True)
class _Authored:
    """What annotations and tracks both carry, given by keyword: the fields other tools wrote
    that Vellum keeps (``foreign``), who made it, when (``modified`` starts as ``created``),
    and its id."""

    foreign: dict[str, Any] = field(default_factory=dict)
    creator: str = field(default_factory=author)
    created: str = field(default_factory=utc_now)
    modified: str = ""
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if not self.modified:
            object.__setattr__(self, "modified", self.created)


@dataclass(frozen=True, slots=True)
class Annotation(_Authored):
    """One labelled shape (or tag/event). Immutable: edits make a new value with the same id.

    ``source`` says who made it: ``"manual"``, ``"interpolated"`` or a model id (e.g.
    ``"litemedsam"``), with that model's confidence in ``score`` (0..1). ``outside`` marks a
    track's object as out of view from this frame on; ``occluded`` as hidden behind something.
    ``foreign`` keeps, per file format, the fields another tool wrote that Vellum does not
    interpret (``{"coco": {...}}``), so a round trip gives them back (labelme's other_data).
    ``timestamp`` (seconds) is the frame's presentation time on video, filled by the document.
    """

    place: Place
    shape: Shape
    class_id: str | None = None
    track_id: str | None = None
    keyframe: bool = True
    attributes: dict[str, Any] = field(default_factory=dict)
    z: int = 0
    hidden: bool = False
    locked: bool = False
    iscrowd: bool = False
    outside: bool = False
    occluded: bool = False
    source: str = MANUAL
    score: float | None = None
    timestamp: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.place, Place):
            raise ValueError(f"an annotation's place must be a Place, got {self.place!r}")
        _Authored.__post_init__(self)
        if not self.source:
            raise ValueError("an annotation needs a source (manual, interpolated or a model)")
        if self.score is not None:
            s = float(self.score)
            if not 0.0 <= s <= 1.0:
                raise ValueError(f"an annotation score must lie in [0, 1], got {self.score}")
            object.__setattr__(self, "score", s)

    @property
    def media_id(self) -> str:
        return self.place.media_id

    @property
    def frame(self) -> int | None:
        """Video frame index (None off video)."""
        return self.place.frame

    @property
    def kind(self) -> str:
        return self.shape.kind

    @property
    def flags(self) -> int:
        """Bit set of hidden/locked/iscrowd/outside/occluded as stored on disk."""
        return ((_HIDDEN * self.hidden) | (_LOCKED * self.locked) | (_CROWD * self.iscrowd)
                | (_OUTSIDE * self.outside) | (_OCCLUDED * self.occluded))

    @staticmethod
    def flag_values(flags: int) -> dict[str, bool]:
        """Keyword arguments of a stored flag set (a fresh dict each call)."""
        return dict(_flag_values(int(flags)))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "place": self.place.to_json(), "class_id": self.class_id,
                "track_id": self.track_id, "keyframe": self.keyframe,
                "shape": self.shape.to_json(), "attributes": self.attributes, "z": self.z,
                "flags": self.flags, "source": self.source, "score": self.score,
                "timestamp": self.timestamp, "foreign": self.foreign, "creator": self.creator,
                "created": self.created, "modified": self.modified}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Annotation:
        return cls(place=Place.from_json(obj["place"]), shape=shape_from_json(obj["shape"]),
                   class_id=obj.get("class_id"), track_id=obj.get("track_id"),
                   keyframe=bool(obj.get("keyframe", True)),
                   attributes=dict(obj.get("attributes") or {}), z=int(obj.get("z", 0)),
                   source=str(obj.get("source") or MANUAL), score=obj.get("score"),
                   timestamp=obj.get("timestamp"), foreign=dict(obj.get("foreign") or {}),
                   creator=obj.get("creator", ""), created=obj.get("created", ""),
                   modified=obj.get("modified", ""), id=obj["id"],
                   **cls.flag_values(int(obj.get("flags", 0))))


@dataclass(frozen=True)
class Track(_Authored):
    """An object's identity across the frames of one video. ``attributes`` holds its static
    attributes (one value for the whole object); per-frame ("dynamic") attributes live on its
    annotations."""

    media_id: str
    class_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "media_id": self.media_id, "class_id": self.class_id,
                "attributes": self.attributes, "foreign": self.foreign,
                "creator": self.creator, "created": self.created, "modified": self.modified}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Track:
        return cls(media_id=obj["media_id"], class_id=obj.get("class_id"),
                   attributes=dict(obj.get("attributes") or {}),
                   foreign=dict(obj.get("foreign") or {}), creator=obj.get("creator", ""),
                   created=obj.get("created", ""), modified=obj.get("modified", ""),
                   id=obj["id"])


@functools.lru_cache(maxsize=64)
def _flag_values(flags: int) -> tuple[tuple[str, bool], ...]:
    return (("hidden", bool(flags & _HIDDEN)), ("locked", bool(flags & _LOCKED)),
            ("iscrowd", bool(flags & _CROWD)), ("outside", bool(flags & _OUTSIDE)),
            ("occluded", bool(flags & _OCCLUDED)))
