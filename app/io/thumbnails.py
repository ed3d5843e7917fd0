"""A small picture of each media item, one function per media kind (Qt-free).

Every picture here is an (H, W, 3) ``uint8`` RGB array, rows top to bottom as the item's view
shows it; sizes are in pixels. A kind's function (:data:`THUMBNAILS`) gives its picture at the
size it decodes; :func:`thumbnail` dispatches on ``item.kind`` and fits that picture to the
asked size. Each uses the project's own reader for its kind, so a thumbnail looks like what the
view shows and a file that cannot be read raises the reader's :class:`VellumError` (one
sentence naming the file).

**How to add a media kind:** write ``def _mykind(path, item, check) -> np.ndarray`` and add
one line ``MediaKind.MYKIND: _mykind`` to :data:`THUMBNAILS`.

Readers are imported on first use, so importing this module (the media list does) stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.core.errors import UnsupportedFormatError
from app.core.media import MediaItem, MediaKind

Check = Callable[[], None]
"""Called now and then during a long read; may raise to stop it (a thumbnail no longer
wanted). The exception goes through untouched."""

Picture = Callable[[Path, MediaItem, "Check | None"], np.ndarray]
"""``(path, item, check) -> (H, W, 3) uint8 RGB`` at the size the kind's reader gives."""


def image_picture(path: Path, item: MediaItem, check: Check | None = None) -> np.ndarray:
    """The whole image, decoded by :func:`app.io.images.read_image` (RGB, EXIF orientation
    ignored as everywhere in Vellum)."""
    from app.io.images import read_image

    return read_image(path)


def video_picture(path: Path, item: MediaItem, check: Check | None = None) -> np.ndarray:
    """Frame 0 as the video mode shows it, from the project's one decoder (:mod:`app.io.video`:
    presentation order, edit lists and display rotation applied)."""
    from app.io.video import open_video

    with open_video(path, cache_bytes=16 << 20) as video:
        return np.array(video.frame(0))


def volume_picture(path: Path, item: MediaItem, check: Check | None = None) -> np.ndarray:
    """The middle slice along array axis k (read alone, no whole-volume load) of the item's
    series (``item.source``), in its modality's default window, as grey RGB."""
    from app.io.planes import default_window
    from app.io.volume.thumbnail import middle_slice

    plane, modality = middle_slice(path, item.source, check)
    grey = default_window(modality, plane).apply(plane)
    return np.repeat(grey[:, :, None], 3, axis=2)


THUMBNAILS: dict[MediaKind, Picture] = {
    MediaKind.IMAGE: image_picture,
    MediaKind.VIDEO: video_picture,
    MediaKind.VOLUME: volume_picture,
}
"""The picture function of each media kind."""


def fit(rgb: np.ndarray, size: int) -> np.ndarray:
    """``rgb`` scaled (area interpolation) so that its longest side is ``size`` pixels (a
    smaller picture is enlarged), aspect kept, each side at least 1 pixel; C-contiguous."""
    import cv2

    h, w = rgb.shape[:2]
    s = size / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA)
    return small.copy(order="C")


def thumbnail(path: str | Path, item: MediaItem, size: int,
              check: Check | None = None) -> np.ndarray:
    """The thumbnail of ``item`` whose file is at ``path`` (resolved by the caller, e.g.
    ``Document.media_path``; no Document is touched, so this runs on any thread): an
    (H, W, 3) ``uint8`` RGB array whose longest side is ``size`` pixels. Raises
    :class:`VellumError` naming the file when it cannot be read; ``check()`` may raise to stop
    a long volume scan early."""
    p = Path(path)
    picture = THUMBNAILS.get(item.kind)
    if picture is None:
        raise UnsupportedFormatError(f"{p} is {item.kind.value} media, which has no "
                                     "thumbnail in Vellum.", p)
    return fit(picture(p, item, check), size)
