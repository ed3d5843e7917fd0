"""Prepared video: a frame-exact display proxy for far jumps on long-GOP footage.

A long-GOP file (a keyframe every 250 frames, B-frames) costs a whole GOP decode per far jump
(0.5-1 s at 1080p on two cores). Preparing a video re-encodes every frame, read through the
exact reader (so proxy frame N is source frame N: edit lists, rotation, VFR, open GOP), at a
display size (longest side at most 1280 px, never upscaled, even sides) as short independent
H.264 chunks with a keyframe every 8 frames: a jump then decodes at most 8 small pictures.

    from app.io.video.proxy import build_proxy, open_proxy, proxy_state
    info = build_proxy(path, should_stop=None, progress=None)   # resumes; ProxyInfo
    proxy = open_proxy(path)           # ProxyReader, or None when not prepared / stale
    if proxy and proxy.ready(n):
        rgb = proxy.frame(n)           # (h, w, 3) RGB uint8 at proxy.size
    proxy_state(path)                  # ProxyState: none / partial (done, total) / ready

Storage: ``<cache>/video-proxy/<content fingerprint>/`` (:mod:`app.io.video.proxy_store`),
all proxies together within ``$VELLUM_PROXY_MB`` (MiB, default 20000; least recently used
whole proxies are deleted first, never one being read or built). Building:
:mod:`app.io.video.proxy_build`; reading: :mod:`app.io.video.proxy_read`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.io.video.proxy_build import MAX_SIDE, ProxyInfo, build_proxy, proxy_size
from app.io.video.proxy_read import ProxyReader, current_manifest, open_proxy
from app.io.video.proxy_store import budget_bytes, complete_chunks, folder_bytes, proxy_root

__all__ = ["MAX_SIDE", "ProxyInfo", "ProxyReader", "ProxyState", "budget_bytes", "build_proxy",
           "open_proxy", "proxy_root", "proxy_size", "proxy_state"]


@dataclass
class ProxyState:
    """How far the proxy of a file is prepared: ``state`` is ``"none"``, ``"partial"``
    (``done`` of ``total`` frames) or ``"ready"``; ``bytes`` on disk; sizes in px."""

    state: str
    done: int
    total: int
    bytes: int
    folder: str
    width: int = 0
    height: int = 0
    missing: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if self.state == "none":
            return "not prepared (vellum video prepare FILE makes far jumps fast)"
        mb = self.bytes / 1e6
        if self.state == "partial":
            return (f"partly prepared: {self.done} of {self.total} frames "
                    f"({self.width}x{self.height}, {mb:.1f} MB in {self.folder})")
        extra = f", {self.missing} frames could not be decoded" if self.missing else ""
        return f"prepared ({self.width}x{self.height}, {mb:.1f} MB in {self.folder}{extra})"


def proxy_state(path: str | Path) -> ProxyState:
    """The proxy state of ``path`` (reads the manifest and lists the folder; decodes
    nothing). :class:`VellumError` for a path that is no readable file."""
    m, folder = current_manifest(Path(path))
    if m is None:
        return ProxyState("none", 0, 0, 0, str(folder))
    have = complete_chunks(folder, m)
    done = sum(m.frames_in(k) for k in have)
    state = "ready" if len(have) == m.chunk_count else ("partial" if have else "none")
    return ProxyState(state, done, m.frame_count, folder_bytes(folder), str(folder), m.width,
                      m.height, len(m.missing))
