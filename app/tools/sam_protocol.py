"""The Qt-free interface between the segment-anything tool and whoever runs the models.

The tool (:mod:`app.tools.sam`) describes what it wants - a :class:`SamPicture` (the pixels of
a place as the encoder sees them, with their embedding-cache names) and a :class:`SamRequest`
(a box and points on it) - and a :class:`SamEngine` answers with a :class:`SamAnswer`, later,
on the UI thread. The window's engine (``app.widgets.sam_engine.QtSamEngine``) runs encoder and
decoder on a worker thread; tests use a tiny fake. Coordinates are continuous picture pixels
(CONVENTIONS.md); boxes ``(x, y, w, h)``; masks bool ``H x W`` of the picture.

Embedding-cache names match :class:`app.inference.sam.SamSession` and
:func:`app.inference.propagation.propagate_volume`: an image or video frame is content = media
fingerprint, key ``"<media id>:<frame>"``; a volume slice is content ``"<fingerprint>|<window
width>|<level>"``, key ``"k:40"`` - so a slice encoded for a click is not encoded again when
propagation starts from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from app.core.places import Place


@dataclass
class SamChoice:
    """The options bar's choices: model id (None: the first installed) and output, 'mask' or
    'polygon'. Held by the SAM tool (one per window, shared by every view); the window's
    options bar writes it."""

    model_id: str | None = None
    output: str = "mask"


@dataclass(frozen=True)
class SamModel:
    """An installed segmentation model: id, display name, and whether it was trained with box
    prompts only (LiteMedSAM: points alone give nothing)."""

    id: str
    name: str
    needs_box: bool = False


@dataclass(frozen=True, eq=False)
class SamPicture:
    """The picture prompts refer to, as the encoder sees it: ``image`` (RGB or grey uint8,
    H x W[, 3], or a function loading it); ``place`` and ``content`` (media fingerprint
    [+ window]) name it in the embedding cache."""

    place: Place
    image: np.ndarray | Callable[[], np.ndarray]
    content: str | None = None

    def pixels(self) -> np.ndarray:
        return self.image() if callable(self.image) else self.image


@dataclass(frozen=True)
class SamRequest:
    """One prompt to answer: ``box`` (x, y, w, h) or None, ``points`` (x, y) with ``labels``
    1 (on the object) / 0 (off it). ``channel`` names the asker: a newer ``serial`` on the same
    channel supersedes an older one (which may then never be answered)."""

    serial: int
    channel: str
    model_id: str
    picture: SamPicture
    box: tuple[float, float, float, float] | None
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    multimask: bool = False


@dataclass(frozen=True, eq=False)
class SamAnswer:
    """The model's best mask (bool H x W of the picture) with its predicted IoU, or ``error``
    (one sentence). ``ms``: the decoder and post-processing time; ``wait_ms``: the time spent
    getting the picture's embedding first (0 when it was cached or prefetched)."""

    serial: int
    mask: np.ndarray | None
    score: float
    source: str
    error: str = ""
    ms: float = 0.0
    wait_ms: float = 0.0


class SamEngine(Protocol):
    """What the tool needs from whoever runs the models. ``predict`` answers later (or at
    once) by calling ``reply`` on the UI thread; ``repaint(tool)`` redraws the views showing
    ``tool`` after an answer. Optionally (the window's engine has both) ``choice``, a
    :class:`SamChoice` its tools share, and ``prompted(tool)``, told of each prompted tool."""

    def models(self) -> list[SamModel]: ...

    def prepare(self, model_id: str, picture: SamPicture) -> None: ...

    def prefetch(self, model_id: str, pictures: Sequence[SamPicture]) -> None: ...

    def predict(self, request: SamRequest, reply: Callable[[SamAnswer], None]) -> None: ...

    def repaint(self, tool: Any) -> None: ...


class WindowMemo:
    """The percentile window of the last volume one SAM tool windowed (held by the tool, not
    the module): a weak reference to the volume array, so a new array is never mistaken for
    a freed one that had the same ``id``."""

    def __init__(self) -> None:
        self._ref: Any = None
        self._window: tuple[float, float] = (0.0, 0.0)

    def get(self, values: Any) -> tuple[float, float] | None:
        return self._window if self._ref is not None and self._ref() is values else None

    def put(self, values: Any, window: tuple[float, float]) -> None:
        import weakref

        try:
            self._ref, self._window = weakref.ref(values), window
        except TypeError:  # not weakly referenceable: nothing is remembered
            self._ref = None


def window_of(source: Any, memo: WindowMemo | None = None) -> tuple[float, float]:
    """(width, level) a scalar picture is windowed with: the mapping shown (``source.mapping``
    or ``source.window``, a WindowLevel), else the 1-99 percentiles of its whole volume (one
    window for every slice, so neighbours share it; ``memo`` remembers it between slices),
    else of the picture."""
    for name in ("mapping", "window"):
        wl = getattr(source, name, None)
        if wl is not None and hasattr(wl, "width") and hasattr(wl, "level"):
            return (float(wl.width), float(wl.level))
    from app.io.planes import WindowLevel

    values = getattr(source, "volume", None)
    if values is None:
        wl = WindowLevel.auto(source.pixels())
        return (float(wl.width), float(wl.level))
    window = memo.get(values) if memo is not None else None
    if window is None:
        wl = WindowLevel.auto(values)
        window = (float(wl.width), float(wl.level))
        if memo is not None:
            memo.put(values, window)
    return window


def fingerprint_of(state: Any, place: Place) -> str | None:
    item = state.doc.stored_media(place.media_id) if state.doc is not None else None
    return item.fingerprint if item is not None and item.fingerprint else None


def slice_picture(place: Place, plane: Callable[[], np.ndarray], window: tuple[float, float],
                  fingerprint: str | None) -> SamPicture:
    """A volume slice as the encoder sees it: ``plane()`` (real units) windowed to 8-bit with
    ``window`` (width, level); cached as ``SamSession.set_slice`` and propagation name it."""
    from app.inference.masks import window_to_uint8

    width, level = window
    return SamPicture(place, lambda: window_to_uint8(plane(), width, level),
                      f"{fingerprint}|{width}|{level}" if fingerprint else None)


def sam_picture(state: Any, place: Place, source: Any, memo: WindowMemo | None = None
                ) -> SamPicture:
    """What the encoder sees at ``place`` shown by plane ``source`` (``memo``: see
    :func:`window_of`)."""
    fingerprint = fingerprint_of(state, place)
    if getattr(source, "is_scalar", False):
        if place.is_slice:
            return slice_picture(place, source.pixels, window_of(source, memo), fingerprint)
        from app.inference.masks import window_to_uint8

        width, level = window_of(source, memo)
        return SamPicture(place, lambda: window_to_uint8(source.pixels(), width, level),
                          f"{fingerprint}|{width}|{level}" if fingerprint else None)
    return SamPicture(place, source.pixels(), fingerprint)
