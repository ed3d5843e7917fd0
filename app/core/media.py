"""Media items (image, video, volume) and the content fingerprint used to relink moved files.

A media item is referenced by a path relative to the project folder (POSIX separators) plus a
fingerprint of its content, so that a moved folder can be found again by content.
Sizes: ``width`` x ``height`` in pixels (displayed size for video, after rotation); ``frames`` =
number of video frames in presentation order, or of volume slices along array axis k (1 for a
still image). A video carries its :class:`~app.core.geometry.VideoGeometry`, a volume its
:class:`~app.core.geometry.VolumeGeometry` (``(frames, height, width)`` = its ``(k, j, i)``
shape) and :class:`VolumeSource`, once their readers have filled them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from app.core.geometry import VideoGeometry, VolumeGeometry
from app.core.identity import new_id, utc_now
from app.core.project_files import is_project_file

_BLOCK = 1 << 20  # bytes read from each end of a file for its fingerprint


class MediaKind(str, Enum):
    IMAGE = "image"
    VIDEO = "video"
    VOLUME = "volume"


class MediaStatus(str, Enum):
    UNLABELED = "unlabeled"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NEEDS_REVIEW = "needs_review"


@dataclass(frozen=True)
class VolumeSource:
    """Where a volume's voxels come from: ``format`` 'dicom' | 'nifti', the DICOM series
    (SeriesInstanceUID, modality, SeriesDescription) or the 0-based volume of a 4D NIfTI."""

    format: str
    series_uid: str = ""
    modality: str = ""
    description: str = ""
    volume_index: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "series_uid": self.series_uid,
                "modality": self.modality, "description": self.description,
                "volume_index": self.volume_index}


@dataclass(frozen=True)
class MediaItem:
    """One image, video or volume in a project. ``removed`` items are kept (with their labels)
    until purged, so that removing media is undoable and loses nothing. ``foreign`` keeps, per
    file format, fields another tool wrote for this item (e.g. a COCO image's ``id``,
    ``license``, ``coco_url``) so that export gives them back."""

    kind: MediaKind
    path: str
    fingerprint: str
    size_bytes: int
    width: int
    height: int
    frames: int = 1
    status: MediaStatus = MediaStatus.UNLABELED
    video: VideoGeometry | None = None
    volume: VolumeGeometry | None = None
    source: VolumeSource | None = None
    foreign: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    position: int = 0
    removed: bool = False
    added: str = field(default_factory=utc_now)
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.video is not None:
            if self.kind is not MediaKind.VIDEO:
                raise ValueError("only a video carries a video geometry")
            object.__setattr__(self, "width", self.video.width)
            object.__setattr__(self, "height", self.video.height)
            object.__setattr__(self, "frames", self.video.frame_count)
        if self.volume is not None:
            if self.kind is not MediaKind.VOLUME:
                raise ValueError("only a volume carries a volume geometry")
            k, j, i = self.volume.shape
            object.__setattr__(self, "frames", k)
            object.__setattr__(self, "height", j)
            object.__setattr__(self, "width", i)

    @property
    def name(self) -> str:
        """What to call it: its ``title`` (a DICOM series description) or file/folder name."""
        return self.title or self.file_name

    @property
    def file_name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def key(self) -> str:
        """Its identity in the project: the path, plus the series for one of several DICOM
        series kept in one folder (two files with the same bytes are still two items)."""
        if self.source is not None and self.source.series_uid:
            return f"{self.path}#{self.source.series_uid}"
        return self.path

    @property
    def volume_shape(self) -> tuple[int, int, int]:
        """``(k, j, i)`` voxels of a volume (from its geometry, else its sizes)."""
        if self.volume is not None:
            return self.volume.shape
        return (self.frames, self.height, self.width)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind.value, "path": self.path,
                "fingerprint": self.fingerprint, "size_bytes": self.size_bytes,
                "width": self.width, "height": self.height, "frames": self.frames,
                "status": self.status.value,
                "video": self.video.to_json() if self.video else None,
                "volume": self.volume.to_json() if self.volume else None,
                "source": self.source.to_json() if self.source else None,
                "foreign": self.foreign, "title": self.title, "position": self.position,
                "removed": self.removed, "added": self.added}


@dataclass(frozen=True)
class FrameTimes:
    """Presentation times of every frame of a video, by frame index: ``pts`` in the stream's
    time base, ``seconds`` from the first displayed frame, ``keyframe`` flags. Stored in a
    table of their own (one row per frame), written once when the video is added."""

    media_id: str
    pts: tuple[int, ...]
    seconds: tuple[float, ...]
    keyframe: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.seconds)
        if len(self.pts) != n or (self.keyframe and len(self.keyframe) != n):
            raise ValueError("frame times need one pts, one time and one keyframe flag per frame")
        if not self.keyframe:
            object.__setattr__(self, "keyframe", (False,) * n)

    @property
    def id(self) -> str:
        return self.media_id


def fingerprint(path: str | Path) -> str:
    """Content fingerprint ``sha256:<hex>`` of a file or folder.

    Files: SHA-256 over the size and the first and last MiB (terabyte videos cannot be hashed
    whole on every add). Folders (e.g. a DICOM series): over each file's relative name and
    fingerprint, in sorted order.
    """
    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        for sub in sorted(q for q in p.rglob("*") if q.is_file() and not is_project_file(q)):
            h.update(os.fsencode(sub.relative_to(p).as_posix()))
            h.update(fingerprint(sub).encode())
        return "sha256:" + h.hexdigest()
    size = p.stat().st_size
    h.update(str(size).encode())
    with open(p, "rb") as f:
        h.update(f.read(_BLOCK))
        if size > _BLOCK:
            f.seek(max(_BLOCK, size - _BLOCK))
            h.update(f.read(_BLOCK))
    return "sha256:" + h.hexdigest()


def relative_path(path: str | Path, project_dir: str | Path) -> str:
    """``path`` relative to the project folder with '/' separators, or absolute (POSIX form)
    when it lies on another drive."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(project_dir).resolve())).as_posix()
    except ValueError:  # different drive on Windows
        return Path(path).resolve().as_posix()
