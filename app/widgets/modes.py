"""Which kinds of media the window can show, and what it says about the others: one place.

The 2D canvas shows still images. Video and volume modes are being built; until a mode
registers itself here (:func:`register`), an item of that kind is shown as a plain notice: the
mode is coming, the item and its labels are safe in the project, nothing is lost. The media
list marks such items with the short form, in a neutral colour (they are not broken).
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
    :class:`~app.widgets.presenters.ModeHost`); None: the kind is only announced."""

    kind: MediaKind
    name: str
    open: Callable[[Any], Any] | None = None


_MODES: dict[MediaKind, Mode] = {
    MediaKind.IMAGE: Mode(MediaKind.IMAGE, "image"),
    MediaKind.VIDEO: Mode(MediaKind.VIDEO, "video"),
    MediaKind.VOLUME: Mode(MediaKind.VOLUME, "volume"),
}
_READY = {MediaKind.IMAGE}


# Packages of the media modes; importing one registers its mode (a missing one is skipped).
MODE_PACKAGES = ("app.widgets.video", "app.widgets.volume")


def load_modes() -> None:
    """Import every mode package present in this build (each calls :func:`register`)."""
    import importlib

    for name in MODE_PACKAGES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not (name + ".").startswith(exc.name + "."):
                raise


def register(kind: MediaKind, name: str, open: Callable[[Any], Any]) -> None:  # noqa: A002
    """Called by a media mode (video, volume) when it can show its kind."""
    _MODES[kind] = Mode(kind, name, open)
    _READY.add(kind)


def mode_of(item: MediaItem) -> Mode:
    return _MODES[item.kind]


def ready(item: MediaItem) -> bool:
    """Whether this build of the window can show the item."""
    return item.kind in _READY


def notice(item: MediaItem) -> str | None:
    """The plain sentence shown in place of an item whose mode is still to come (None when
    the window can show it)."""
    if ready(item):
        return None
    name = _MODES[item.kind].name
    what = {MediaKind.VIDEO: f"{item.frames} frames, {item.width}×{item.height}",
            MediaKind.VOLUME: f"{item.frames} slices of {item.width}×{item.height}"}.get(
                item.kind, "")
    return (f"{item.name} is a {name}{f' ({what})' if what else ''}. The {name} mode of "
            f"this window is coming in a next version; until then the {name} stays in the "
            f"project with all its labels: nothing is lost.\n\n"
            f"Press F for the next item.")


def short_notice(item: MediaItem) -> str | None:
    """The media list's one-line form of :func:`notice`."""
    if ready(item):
        return None
    return f"{_MODES[item.kind].name.capitalize()} mode coming"
