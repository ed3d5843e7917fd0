"""Media items (image, video, volume) and the content fingerprint used to relink moved files.

A media item is referenced by a path relative to the project folder (POSIX separators) plus a
fingerprint of its content, so that a moved folder can be found again by content.
Sizes: ``width`` x ``height`` in pixels; ``frames`` = number of video frames, or of volume
slices along the array's k axis (1 for a still image).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from app.core.identity import new_id, utc_now

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
class MediaItem:
    """One image, video or volume in a project. ``removed`` items are kept (with their labels)
    until purged, so that removing media is undoable and loses nothing."""

    kind: MediaKind
    path: str
    fingerprint: str
    size_bytes: int
    width: int
    height: int
    frames: int = 1
    status: MediaStatus = MediaStatus.UNLABELED
    meta: dict[str, Any] = field(default_factory=dict)
    position: int = 0
    removed: bool = False
    added: str = field(default_factory=utc_now)
    id: str = field(default_factory=new_id)

    @property
    def name(self) -> str:
        """File or folder name, for display."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind.value, "path": self.path,
                "fingerprint": self.fingerprint, "size_bytes": self.size_bytes,
                "width": self.width, "height": self.height, "frames": self.frames,
                "status": self.status.value, "meta": self.meta, "position": self.position,
                "removed": self.removed, "added": self.added}


def fingerprint(path: str | Path) -> str:
    """Content fingerprint ``sha256:<hex>`` of a file or folder.

    Files: SHA-256 over the size and the first and last MiB (terabyte videos cannot be hashed
    whole on every add). Folders (e.g. a DICOM series): over each file's relative name and
    fingerprint, in sorted order.
    """
    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        for sub in sorted(q for q in p.rglob("*") if q.is_file()):
            h.update(sub.relative_to(p).as_posix().encode())
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
