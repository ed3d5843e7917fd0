"""The video mode of the window: frames on the canvas, a timeline, tracks (see
:mod:`app.widgets.video.presenter`). Importing this package registers the mode."""

from __future__ import annotations

from typing import Any

from app.core.media import MediaKind
from app.widgets import modes


def _factory(host: Any) -> Any:
    from app.widgets.video.presenter import VideoPresenter

    return VideoPresenter(host)


modes.register(MediaKind.VIDEO, "video", _factory)
