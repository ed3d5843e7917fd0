"""Work the main window runs off the UI thread: decoding a picture, probing files to add.

Pictures decode on their own daemon threads (:class:`FrameCache`): a load no longer wanted is
cancelled and never waited for, and one neighbour is decoded ahead within a byte budget.
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
from PySide6.QtCore import QObject, Signal, Slot

from app.core.document import Document
from app.core.errors import UnsupportedFormatError
from app.core.media import MediaItem, MediaKind
from app.io.ingest import known_paths
from app.widgets.jobs import Job
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


CACHE_BYTES = 768 << 20  # decoded pictures kept, pyramids included (the shown one always)
MAX_LOADS = 3  # decodes running at once, abandoned ones included (each holds its picture)


def picture_bytes(width: int, height: int) -> int:
    """Memory of a decoded RGB picture with its display pyramid (about 4/3 of level 0)."""
    return width * height * 4


class _Load:
    """One picture being decoded on its own thread; ``cancelled`` is set when it is no longer
    wanted (the user went on, the project closed): it then stops at its next step."""

    def __init__(self, cache: FrameCache, key: tuple[str, int], path: Path, kind: MediaKind
                 ) -> None:
        self.cache, self.key, self.path, self.kind = cache, key, path, kind
        self.cancelled = threading.Event()

    def run(self) -> None:
        """Worker thread: decode, then build the pyramid level by level, checking between
        steps; whatever happens, report back (the UI thread keeps count of running loads)."""
        picture, error = None, None
        try:
            if not self.cancelled.is_set():
                rgb = read_frame(self.path, self.kind, self.key[1])
                pyramid = ImagePyramid(rgb)
                for n in range(1, pyramid.max_level() + 1):
                    if self.cancelled.is_set():
                        break
                    pyramid.level(n)
                else:
                    picture = pyramid
        except Exception as exc:  # noqa: BLE001 - shown as one sentence in place of the picture
            error = exc
        try:
            _delivery().finished.emit(self, picture, error)
        except RuntimeError:  # the application is gone: nobody to tell
            pass


class _Delivery(QObject):
    """Carries finished loads to the UI thread. One for the process, never deleted: a load
    that outlives its window (quitting does not wait for a decode) still reports somewhere."""

    finished = Signal(object, object, object)  # (_Load, ImagePyramid or None, error or None)

    @Slot(object, object, object)
    def _route(self, load: _Load, picture: Any, error: Any) -> None:
        load.cache._finished(load, picture, error)


_DELIVERY: list[_Delivery] = []


def _delivery() -> _Delivery:
    if not _DELIVERY:  # made on the UI thread by the first FrameCache
        d = _Delivery()
        d.finished.connect(d._route)
        _DELIVERY.append(d)
    return _DELIVERY[0]


class FrameCache:
    """The last few decoded pictures (LRU within ``size`` pictures and ``budget`` bytes, the
    wanted one always kept), keyed by media id and frame, with their display pyramids.

    :meth:`load` asks for the picture to show: every other load under way is cancelled, so a
    huge picture the user has moved on from never delays the next one nor quitting (loads
    run on daemon threads; a decode stops at its next step). :meth:`prefetch` decodes one
    neighbour once nothing else is loading, when it fits in the budget beside the shown one.
    ``ready(media_id, picture)`` / ``failed(media_id, exc)`` are called on the UI thread."""

    def __init__(self, ready: Callable[[str, ImagePyramid], None],
                 failed: Callable[[str, Exception], None], size: int = 4,
                 budget: int | None = None) -> None:
        self._ready, self._failed, self._size = ready, failed, size
        self._budget = CACHE_BYTES if budget is None else budget
        self._images: OrderedDict[tuple[str, int], ImagePyramid] = OrderedDict()
        self._pending: dict[tuple[str, int], _Load] = {}  # the wanted load and the prefetch
        self._running: set[_Load] = set()  # every decode still running, abandoned ones too
        self._queued: _Load | None = None  # the wanted load, waiting for a free thread
        self._next: tuple[Document, MediaItem] | None = None  # a prefetch waiting for quiet
        self._wanted: tuple[str, int] | None = None
        _delivery()

    def clear(self) -> None:
        """Forget every picture and cancel every load (a project closes, the window quits)."""
        self.cancel_except(None)
        self._images.clear()

    def cancel_except(self, key: tuple[str, int] | None) -> None:
        """Cancel every load but the one of ``key`` (the picture now wanted)."""
        self._wanted, self._next = key, None
        for k, load in list(self._pending.items()):
            if k != key:
                load.cancelled.set()
                del self._pending[k]
        if self._queued is not None and self._queued.key != key:
            self._queued = None

    def get(self, media_id: str, frame: int = 0) -> ImagePyramid | None:
        rgb = self._images.get((media_id, frame))
        if rgb is not None:
            self._images.move_to_end((media_id, frame))
        return rgb

    def loading(self) -> int:
        """Decodes still running (cancelled ones included, until they stop)."""
        return len(self._running)

    def load(self, doc: Document, item: MediaItem, frame: int = 0) -> None:
        """Decode ``item`` (frame ``frame``), the picture to show, in the background unless
        already under way; every other load is cancelled."""
        key = (item.id, frame)
        self.cancel_except(key)
        if key in self._pending or key in self._images:
            return
        self._start(_Load(self, key, doc.media_path(item), item.kind))

    def prefetch(self, doc: Document, item: MediaItem) -> None:
        """Decode ``item`` ahead of time: once no other decode runs, and only when it fits in
        the byte budget beside the picture shown."""
        key = (item.id, 0)
        if key in self._pending or key in self._images:
            return
        shown = self._images.get(self._wanted) if self._wanted else None
        used = picture_bytes(shown.width, shown.height) if shown is not None else 0
        if used + picture_bytes(item.width, item.height) > self._budget:
            return
        if self._running or self._queued is not None:
            self._next = (doc, item)
            return
        self._next = None
        self._start(_Load(self, key, doc.media_path(item), item.kind))

    def _start(self, load: _Load) -> None:
        self._pending[load.key] = load
        if len(self._running) >= MAX_LOADS:
            self._queued = load  # bounded: abandoned decodes still hold their memory
            return
        self._running.add(load)
        threading.Thread(target=load.run, name=f"picture {load.path.name}",
                         daemon=True).start()

    def _finished(self, load: _Load, picture: ImagePyramid | None, error: Any) -> None:
        self._running.discard(load)
        if self._pending.get(load.key) is load and not load.cancelled.is_set():
            del self._pending[load.key]
            if error is not None:
                self._failed(load.key[0], error)
            elif picture is not None:
                self._keep(load.key, picture)
                self._ready(load.key[0], picture)
        if self._queued is not None and len(self._running) < MAX_LOADS:
            queued, self._queued = self._queued, None
            self._pending.pop(queued.key, None)
            self._start(queued)
        elif self._next is not None and not self._running:
            doc, item = self._next
            self._next = None
            self.prefetch(doc, item)

    def _keep(self, key: tuple[str, int], picture: ImagePyramid) -> None:
        self._images[key] = picture
        self._images.move_to_end(key)

        def total() -> int:
            return sum(picture_bytes(p.width, p.height) for p in self._images.values())

        while len(self._images) > 1 and (len(self._images) > self._size
                                         or total() > self._budget):
            victim = next((k for k in self._images if k != self._wanted), None)
            if victim is None:
                break
            del self._images[victim]


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
