"""The one frame-accurate video decoder of Vellum (PyAV / FFmpeg).

Frame N is the N-th frame in presentation order, 0-based, exactly as ``ffmpeg -i F -map 0:v:0
-fps_mode passthrough`` outputs them: edit lists applied, display rotation applied, RGB uint8.
Timestamps are seconds from the first displayed frame. See ``../shared/CONVENTIONS.md``.

    from app.io.video import open_video
    with open_video(path) as v:
        v.geometry, v.frame_count, v.timestamps, v.keyframes, v.report
        rgb = v.frame(120)
        for n, rgb in v.frames(0, None, 5): ...

    from app.io.video import build_proxy, open_proxy   # the prepared display proxy
    build_proxy(path); proxy = open_proxy(path); proxy.frame(120)  # see app.io.video.proxy

Names are imported on first use, so ``import app.io.video.commands`` (the CLI) stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_CACHE_BYTES", "ProxyInfo", "ProxyReader", "ProxyState", "VideoReader",
           "VideoReport", "build_proxy", "load_index", "open_proxy", "open_video",
           "proxy_state"]
_PROXY = ("ProxyInfo", "ProxyReader", "ProxyState", "build_proxy", "open_proxy", "proxy_state")


def __getattr__(name: str) -> Any:
    if name in ("DEFAULT_CACHE_BYTES", "VideoReader", "open_video"):
        from app.io.video import reader

        return getattr(reader, name)
    if name == "load_index":
        from app.io.video.store import load_index

        return load_index
    if name in _PROXY:
        from app.io.video import proxy

        return getattr(proxy, name)
    if name == "VideoReport":
        from app.io.video.report import VideoReport

        return VideoReport
    raise AttributeError(f"module 'app.io.video' has no attribute {name!r}")
