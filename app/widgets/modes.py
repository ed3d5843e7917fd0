"""How the window shows each kind of media: one place.

Each kind has a mode whose presenter (:mod:`app.widgets.presenters`) shows its items: photos
on the window's canvas (:mod:`app.widgets.image_presenter`, built in), video and volume each in
its own package (:data:`MODE_PACKAGES`) that registers here (:func:`register`) when the window
loads the modes (:func:`load_modes`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.media import MediaItem, MediaKind


@dataclass(frozen=True)
class Mode:
    """How the window shows one kind of media. ``open(host)`` makes the mode's
    :class:`~app.widgets.presenters.Presenter` (given a
    :class:`~app.widgets.presenters.ModeHost`); None: the mode has not been loaded (the window
    says it cannot show the item)."""

    kind: MediaKind
    name: str
    open: Callable[[Any], Any] | None = None


def _open_images(host: Any) -> Any:
    from app.widgets.image_presenter import ImagePresenter

    return ImagePresenter(host)


_MODES: dict[MediaKind, Mode] = {
    MediaKind.IMAGE: Mode(MediaKind.IMAGE, "image", _open_images),
    MediaKind.VIDEO: Mode(MediaKind.VIDEO, "video"),
    MediaKind.VOLUME: Mode(MediaKind.VOLUME, "volume"),
}

# Packages of the media modes; importing one registers its mode.
MODE_PACKAGES = ("app.widgets.video", "app.widgets.volume")


def load_modes() -> None:
    """Import every mode package (each calls :func:`register`)."""
    import importlib

    for name in MODE_PACKAGES:
        importlib.import_module(name)


def register(kind: MediaKind, name: str, open: Callable[[Any], Any]) -> None:  # noqa: A002
    """Called by a media mode (video, volume) when it can show its kind."""
    _MODES[kind] = Mode(kind, name, open)


def mode_of(item: MediaItem) -> Mode:
    return mode_for(item.kind)


def mode_for(kind: MediaKind) -> Mode:
    return _MODES[kind]
