"""Places: where on a media item an annotation, a prompt or a pointer event sits.

One value covers every media kind:

- a still image (or media-level tags and events): ``Place(media_id)``;
- a video frame: ``Place(media_id, frame=N)``, N the 0-based frame index in presentation order;
- a volume slice: ``Place(media_id, axis="k", index=40)`` - the 41st plane along array axis k.
  Volumes are keyed by **array axis**, never by a pane's name, so an annotation keeps its
  place whichever pane (axial/coronal/sagittal) shows it.

The picture of a volume place is the 2D array left when the place's axis is fixed, in numpy
order of the other two axes: axis k -> ``[j, i]`` (x = i, y = j); axis j -> ``[k, i]``
(x = i, y = k); axis i -> ``[k, j]`` (x = j, y = k). Shapes on that picture use the continuous
pixel coordinates of CONVENTIONS.md on that array; display flips are the plane source's job.

Further named axes (a channel, the time point ``t`` of a 4D series, a pyramid level) ride in
``more``: ``Place(media_id, frame=3).with_axis("t", 2)``. They are part of the place (t=2 is
not the same place as no t), sorted by name, and stored as one JSON object, so a new axis needs
no change of the project format. A place without them behaves, compares and serialises exactly
as before they existed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.core.geometry import AXES

# For each slice axis: (row axis, column axis) of its picture.
PICTURE_AXES: dict[str, tuple[str, str]] = {"k": ("j", "i"), "j": ("k", "i"), "i": ("k", "j")}

# A further axis's name: a short lowercase identifier, never one the place already has.
_AXIS_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")
RESERVED_AXES = frozenset(("frame", *AXES))
MoreAxes = tuple[tuple[str, int], ...]
MoreAxesLike = MoreAxes | Mapping[str, int] | Iterable[tuple[str, int]]


def _whole(value: Any, what: str) -> int:
    """``value`` as an int if it is a whole number >= 0, else :class:`ValueError`."""
    try:
        ok = not isinstance(value, bool) and int(value) == value and value >= 0
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{what} must be a whole number >= 0, got {value!r}")
    return int(value)


def _axis_name(name: Any) -> str:
    if not isinstance(name, str) or not _AXIS_NAME.fullmatch(name):
        raise ValueError(f"an axis name must be a short lowercase identifier (a letter, then up "
                         f"to 15 letters, digits or _), got {name!r}")
    if name in RESERVED_AXES:
        raise ValueError(f"{name!r} is not a further axis: frame and the array axes "
                         f"{', '.join(AXES)} have their own fields")
    return name


def more_axes(more: MoreAxesLike) -> MoreAxes:
    """Further axes checked and sorted by name (from a mapping or ``(name, index)`` pairs)."""
    if isinstance(more, Mapping):
        pairs: Iterable[Any] = more.items()
    elif isinstance(more, Iterable) and not isinstance(more, (str, bytes)):
        pairs = more
    else:
        raise ValueError(f"further axes are name: index pairs, got {more!r}")
    out: dict[str, int] = {}
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValueError(f"a further axis is a (name, index) pair, got {pair!r}")
        name = _axis_name(pair[0])
        if name in out:
            raise ValueError(f"axis {name!r} is named twice")
        out[name] = _whole(pair[1], f"the index along axis {name!r}")
    return tuple(sorted(out.items()))


@dataclass(frozen=True, order=True)
class Place:
    """A media item plus, for video, the frame index, or, for a volume, an array axis and the
    0-based index along it, plus any further named axes, sorted by name (see module doc)."""

    media_id: str
    frame: int | None = None
    axis: str | None = None
    index: int | None = None
    more: MoreAxes = ()

    def __post_init__(self) -> None:
        if not isinstance(self.media_id, str) or not self.media_id:
            raise ValueError("a place needs a media id")
        if self.frame is not None:
            if isinstance(self.frame, bool) or int(self.frame) != self.frame or self.frame < 0:
                raise ValueError(f"a frame index must be a whole number >= 0, got {self.frame!r}")
            object.__setattr__(self, "frame", int(self.frame))
        if (self.axis is None) != (self.index is None):
            raise ValueError("a volume place needs both an array axis and an index")
        if self.axis is not None:
            if self.frame is not None:
                raise ValueError("a place is either a video frame or a volume slice, not both")
            if self.axis not in AXES:
                raise ValueError(f"a volume axis must be one of {AXES}, got {self.axis!r}")
            if isinstance(self.index, bool) or int(self.index) != self.index or self.index < 0:
                raise ValueError(f"a slice index must be a whole number >= 0, got {self.index!r}")
            object.__setattr__(self, "index", int(self.index))
        if self.more:  # the common place has none: no work for it
            object.__setattr__(self, "more", more_axes(self.more))
        elif self.more != ():
            object.__setattr__(self, "more", ())

    @property
    def key(self) -> tuple[int | None, str | None, int | None, MoreAxes]:
        """``(frame, axis, index, more)``: the place within its media item."""
        return (self.frame, self.axis, self.index, self.more)

    @property
    def is_slice(self) -> bool:
        return self.axis is not None

    @property
    def is_frame(self) -> bool:
        return self.frame is not None

    def at_frame(self, frame: int) -> Place:
        """This place on another frame (further axes kept)."""
        return Place(self.media_id, frame=frame, more=self.more)

    def at_slice(self, axis: str, index: int) -> Place:
        """This place on another slice (further axes kept)."""
        return Place(self.media_id, axis=axis, index=index, more=self.more)

    def media_level(self) -> Place:
        """The media item as a whole (tags and events of a video or volume)."""
        return Place(self.media_id)

    def get(self, name: str) -> int | None:
        """The index along a named axis: ``"frame"``, the slice's array axis (``"k"`` of a
        k-slice) or a further axis; None where the place has none."""
        if name == "frame":
            return self.frame
        if self.axis is not None and name == self.axis:
            return self.index
        for key, value in self.more:
            if key == name:
                return value
        return None

    def with_axis(self, name: str, value: int | None) -> Place:
        """This place with the index along ``name`` set (None: without that axis). ``"frame"``
        sets the frame, an array axis the slice (a place is a slice along one array axis only),
        any other name a further axis."""
        if name == "frame":
            return replace(self, frame=value)
        if name in AXES:
            if self.axis is not None and name != self.axis and value is not None:
                raise ValueError(f"this place is a slice along {self.axis}; a place is a slice "
                                 f"along one array axis, so it cannot also have {name}")
            if value is None:
                return replace(self, axis=None, index=None) if name == self.axis else self
            return replace(self, axis=name, index=value)
        more = dict(self.more)
        if value is None:
            more.pop(_axis_name(name), None)
        else:
            more[name] = value
        return replace(self, more=more_axes(more))

    def axes(self) -> dict[str, int]:
        """Every named index of the place: ``{"frame": 12}`` or ``{"k": 40}``, then the further
        axes (a whole-item place without them: ``{}``)."""
        out: dict[str, int] = {}
        if self.frame is not None:
            out["frame"] = self.frame
        if self.axis is not None:
            out[self.axis] = self.index  # type: ignore[assignment]
        out.update(self.more)
        return out

    def describe(self) -> str:
        """Short words for messages: 'frame 12', 'slice k=40', 'frame 12, t=3', 'the whole
        item'."""
        words = [f"{name}={value}" for name, value in self.more]
        if self.frame is not None:
            words.insert(0, f"frame {self.frame}")
        elif self.axis is not None:
            words.insert(0, f"slice {self.axis}={self.index}")
        return ", ".join(words) or "the whole item"

    def to_json(self) -> dict[str, Any]:
        """``{"media_id", "frame"}`` / ``{"media_id", "axis", "index"}``, plus ``"more"``
        (an object of the further axes) only when there are some."""
        out: dict[str, Any] = {"media_id": self.media_id}
        if self.frame is not None:
            out["frame"] = self.frame
        if self.axis is not None:
            out["axis"], out["index"] = self.axis, self.index
        if self.more:
            out["more"] = dict(self.more)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Place:
        more = obj.get("more")
        if more is not None and not isinstance(more, dict):
            raise ValueError(f"a place's further axes are an object of name: index, got {more!r}")
        return cls(str(obj["media_id"]), obj.get("frame"), obj.get("axis"), obj.get("index"),
                   more or ())


def picture_shape(volume_shape: tuple[int, int, int], axis: str) -> tuple[int, int]:
    """(rows, columns) of the picture of a slice along ``axis`` of a ``(k, j, i)`` volume."""
    rows, cols = PICTURE_AXES[axis]
    size = dict(zip(AXES, volume_shape))
    return (size[rows], size[cols])
