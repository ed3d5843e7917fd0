"""The image mode: a photo on the window's canvas, like the video and volume modes a
:class:`~app.widgets.presenters.Presenter` (registered in :mod:`app.widgets.modes`).

The picture is decoded off the UI thread by a :class:`~app.widgets.loading.FrameCache` (the
last few pictures with their display pyramids, within a byte budget). While it loads the
canvas is empty, edits are refused ("… is still loading") and the status bar says
"Loading …"; a picture that cannot be read is replaced on the canvas by the reason, and the
media list marks the item. Once shown, the photo's pixels are the source of the window's plain
surface (the one tools get; segment anything reads them), the zoom and centre the user left on
it are applied once (:mod:`app.widgets.view_memory`), the status bar shows the zoom and the
pixel under the pointer, and the item F goes to next is decoded ahead (one neighbour, in the
media list's order and filter). Brightness and contrast are the canvas's (window-wide).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QTimer

from app.core.errors import VellumError
from app.core.media import MediaItem, MediaKind
from app.io.planes import RGBSource
from app.widgets.loading import FrameCache
from app.widgets.tiles import ImagePyramid

if TYPE_CHECKING:
    from app.widgets.presenters import ModeHost

CACHE_IMAGES = 4  # decoded pictures kept (within loading.CACHE_BYTES)


class ImagePresenter:
    """Shows photos (see the module doc)."""

    def __init__(self, host: ModeHost) -> None:
        self.host = host
        self.image: np.ndarray | None = None  # the photo shown (None: loading, or unreadable)
        self.frames = FrameCache(self._loaded, self._failed, CACHE_IMAGES)
        self._prefetch_soon = QTimer(singleShot=True, interval=0)
        self._prefetch_soon.timeout.connect(self._prefetch_next)
        self._mounted = False
        self._remove: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ Presenter
    def show(self, item: MediaItem) -> None:
        """Show ``item``'s picture at once when it is decoded already, else load it off the UI
        thread (cancelling the loads of pictures no longer wanted)."""
        self._mount()
        state = self.host.state
        state.surface.source = None  # until this item's picture is on the canvas
        frame = state.frame or 0
        picture = self.frames.get(item.id, frame)
        if picture is not None:
            self.frames.cancel_except((item.id, frame))
            self._display(picture)
            return
        self.image = None
        state.set(refusal=f"{item.name} is still loading.")
        self.host.canvas.show_image(None)
        self.frames.load(self.host.doc, item, frame)  # cancels loads no longer wanted
        self.host.message(f"Loading {item.name}…", 0)

    def leave(self) -> None:
        """A video or volume is shown now: a picture still loading is no longer wanted (the
        decoded ones are kept for coming back)."""
        self.frames.cancel_except(None)
        self._prefetch_soon.stop()
        for remove in reversed(self._remove):
            remove()
        self._remove.clear()
        self._mounted = False
        self.image = None

    def step(self, delta: int) -> bool:
        """F / D change the item: nothing to step through within a photo."""
        return False

    def close(self) -> None:
        """The project closes or the window quits: forget every picture and cancel every
        load (a huge picture still decoding is not waited for)."""
        self._prefetch_soon.stop()
        self.frames.clear()

    # ------------------------------------------------------------------ putting up
    def _mount(self) -> None:
        if self._mounted:
            return
        self._mounted = True
        canvas = self.host.canvas
        canvas.cursor_moved.connect(self._cursor)
        self._remove = [lambda: canvas.cursor_moved.disconnect(self._cursor),
                        self.host.on_list_changed(self._prefetch_soon.start)]

    def _shown(self) -> np.ndarray | None:
        """The photo's pixels while it is on the canvas (not while it loads, after it failed,
        or once its item was removed)."""
        return self.image if self.host.canvas.showing() == "image" else None

    def _cursor(self, x: float, y: float) -> None:
        self.host.status.show_cursor(x, y, self._shown())

    # ------------------------------------------------------------------ loading
    def _loaded(self, media_id: str, picture: ImagePyramid) -> None:
        self.host.mark_unshowable(media_id, None)
        if self._mounted and media_id == self.host.state.media_id:
            self._display(picture)

    def _failed(self, media_id: str, exc: Exception) -> None:
        message = str(exc) if isinstance(exc, VellumError) else f"Cannot show this item ({exc})."
        self.host.mark_unshowable(media_id, message)
        if not self._mounted or media_id != self.host.state.media_id:
            return
        host = self.host
        host.take_message("Loading ")
        self.image = None
        host.state.set(refusal=message)
        host.status.show_cursor(0, 0, None)
        host.status.show_zoom(0)
        host.canvas.show_error(message + "\n\nThe rest of the project is unaffected: fix or "
                               "replace the file, or press F for the next item.")

    def _display(self, picture: ImagePyramid) -> None:
        host = self.host
        state = host.state
        self.image = picture.image
        state.set(refusal="")
        host.canvas.show_image(picture)
        if state.place is not None:  # the pixels segment anything reads
            state.surface.source = RGBSource(state.place, picture.image)
        host.picture_shown()  # the zoom left on this item, and the zoom in the status bar
        host.take_message("Loading ")
        self._prefetch_soon.start()

    def _prefetch_next(self) -> None:
        """Decode the item F / PgDown shows next (the media list's order and filter) while the
        current picture is looked at: one neighbour, within the cache's byte budget."""
        doc = self.host.doc
        if not self._mounted or doc is None or self._shown() is None:
            return
        item = self.host.next_item()
        if item is not None and item.kind is MediaKind.IMAGE:
            self.frames.prefetch(doc, item)
