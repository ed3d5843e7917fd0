"""Work the main window runs off the UI thread: decoding a picture, probing files to add.

Nothing here touches a widget; :class:`AddMediaJob` reads what it needs from the document on
the UI thread, plans in the worker (``app.io.ingest.plan_media``) and hands the command back for
the UI thread to execute (the document is not thread-safe).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app.core.document import Document
from app.core.errors import UnsupportedFormatError
from app.core.media import MediaItem, MediaKind
from app.io.ingest import known_paths
from app.widgets.jobs import Job, Jobs
from app.widgets.tiles import ImagePyramid


def read_frame(path: Path, kind: MediaKind, frame: int = 0) -> np.ndarray:
    """RGB uint8 picture of an image, or of video frame ``frame`` (0-based, presentation
    order, through the project's one decoder, its reader kept open: :func:`video_reader`);
    :class:`~app.core.errors.VellumError` naming the file when it cannot be shown."""
    if kind is MediaKind.IMAGE:
        from app.io.images import read_image

        return read_image(path)
    if kind is MediaKind.VIDEO:
        return np.array(video_reader(path).frame(frame))
    raise UnsupportedFormatError(f"{path.name} is a volume; open it in the volume view.", path)


_READERS: OrderedDict[Path, Any] = OrderedDict()
_READERS_LOCK = threading.Lock()
OPEN_READERS = 2  # videos kept open for read_frame (the video mode holds its own)


def video_reader(path: Path) -> Any:
    """A reader of ``path`` kept open between calls (the last few videos; safe from any
    thread): frames are never decoded by reopening the file."""
    from app.io.video import open_video

    key = Path(path).resolve()
    with _READERS_LOCK:
        reader = _READERS.get(key)
        if reader is not None:
            _READERS.move_to_end(key)
            return reader
    reader = open_video(key, cache_bytes=64 << 20)
    with _READERS_LOCK:
        if key in _READERS:  # another thread opened it meanwhile
            extra, reader = reader, _READERS[key]
            extra.close()
            return reader
        _READERS[key] = reader
        while len(_READERS) > OPEN_READERS:
            _READERS.popitem(last=False)[1].close()
    return reader


def read_picture(path: Path, kind: MediaKind, frame: int = 0) -> ImagePyramid:
    """:func:`read_frame` with its display pyramid built too (worker-thread work)."""
    return ImagePyramid(read_frame(path, kind, frame)).build()


class FrameCache:
    """The last few decoded pictures (LRU, keyed by media id and frame) with their display
    pyramids, and their loading jobs. ``ready(media_id, picture)`` / ``failed(media_id, exc)``
    are called on the UI thread."""

    def __init__(self, jobs: Jobs, ready: Callable[[str, ImagePyramid], None],
                 failed: Callable[[str, Exception], None], size: int = 4) -> None:
        self._jobs, self._ready, self._failed, self._size = jobs, ready, failed, size
        self._images: OrderedDict[tuple[str, int], ImagePyramid] = OrderedDict()
        self._pending: dict[tuple[str, int], Job] = {}

    def clear(self) -> None:
        for job in self._pending.values():
            job.cancel()
        self._pending.clear()
        self._images.clear()

    def get(self, media_id: str, frame: int = 0) -> ImagePyramid | None:
        rgb = self._images.get((media_id, frame))
        if rgb is not None:
            self._images.move_to_end((media_id, frame))
        return rgb

    def load(self, doc: Document, item: MediaItem, frame: int = 0, visible: bool = True) -> None:
        """Decode ``item`` (frame ``frame``) in the background unless already under way."""
        key = (item.id, frame)
        if key in self._pending or key in self._images:
            return
        path, kind = doc.media_path(item), item.kind
        self._pending[key] = self._jobs.start(
            f"Loading {item.name}", lambda job: read_picture(path, kind, frame),
            on_done=lambda rgb: self._done(key, rgb),
            on_error=lambda exc: self._error(key, exc), visible=visible)

    def prefetch_after(self, doc: Document, media_id: str) -> None:
        """Decode the image after ``media_id`` so stepping forward is instant."""
        items = doc.media()
        ids = [m.id for m in items]
        if media_id in ids:
            i = ids.index(media_id) + 1
            if i < len(items) and items[i].kind is MediaKind.IMAGE:
                self.load(doc, items[i], 0, visible=False)

    def _done(self, key: tuple[str, int], rgb: ImagePyramid) -> None:
        self._pending.pop(key, None)
        self._images[key] = rgb
        while len(self._images) > self._size:
            self._images.popitem(last=False)
        self._ready(key[0], rgb)

    def _error(self, key: tuple[str, int], exc: Exception) -> None:
        self._pending.pop(key, None)
        self._failed(key[0], exc)


class AddMediaJob:
    """Probe and fingerprint ``paths`` in a worker; :meth:`commit` adds them on the UI thread."""

    def __init__(self, doc: Document, paths: list[str]) -> None:
        # read on the UI thread; the worker never touches the document
        self._folder = doc.folder
        self._known = known_paths(doc)
        self._position = doc.next_position()
        self._paths = [Path(p) for p in paths]
        self._report: Any = None

    def run(self, job: Job) -> Any:
        from app.io.ingest import plan_media

        self._report = plan_media(self._paths, self._folder, self._known, self._position,
                                  progress=lambda done, total, _path: job.progress(done, total),
                                  cancelled=lambda: job.cancelled)
        return self._report

    def commit(self, state: Any) -> None:
        from app.io.ingest import add_command

        command = add_command(self._report) if self._report else None
        if command:
            state.execute(command)
