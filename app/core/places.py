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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.geometry import AXES

# For each slice axis: (row axis, column axis) of its picture.
PICTURE_AXES: dict[str, tuple[str, str]] = {"k": ("j", "i"), "j": ("k", "i"), "i": ("k", "j")}


@dataclass(frozen=True, order=True)
class Place:
    """A media item plus, for video, the frame index, or, for a volume, an array axis and the
    0-based index along it (see module doc)."""

    media_id: str
    frame: int | None = None
    axis: str | None = None
    index: int | None = None

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

    @property
    def key(self) -> tuple[int | None, str | None, int | None]:
        """``(frame, axis, index)``: the place within its media item."""
        return (self.frame, self.axis, self.index)

    @property
    def is_slice(self) -> bool:
        return self.axis is not None

    @property
    def is_frame(self) -> bool:
        return self.frame is not None

    def at_frame(self, frame: int) -> Place:
        return Place(self.media_id, frame=frame)

    def at_slice(self, axis: str, index: int) -> Place:
        return Place(self.media_id, axis=axis, index=index)

    def media_level(self) -> Place:
        """The media item as a whole (tags and events of a video or volume)."""
        return Place(self.media_id)

    def describe(self) -> str:
        """Short words for messages: 'frame 12', 'slice k=40', 'the image'."""
        if self.frame is not None:
            return f"frame {self.frame}"
        if self.axis is not None:
            return f"slice {self.axis}={self.index}"
        return "the whole item"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"media_id": self.media_id}
        if self.frame is not None:
            out["frame"] = self.frame
        if self.axis is not None:
            out["axis"], out["index"] = self.axis, self.index
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Place:
        return cls(str(obj["media_id"]), obj.get("frame"), obj.get("axis"), obj.get("index"))


def picture_shape(volume_shape: tuple[int, int, int], axis: str) -> tuple[int, int]:
    """(rows, columns) of the picture of a slice along ``axis`` of a ``(k, j, i)`` volume."""
    rows, cols = PICTURE_AXES[axis]
    size = dict(zip(AXES, volume_shape))
    return (size[rows], size[cols])
