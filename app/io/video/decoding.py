"""Opening a video file and decoding it from the start: the passes the index builder runs.

One pass decodes packets ``[0, stop)`` in demux order and drains the decoder. Each packet's
pts is replaced by its index before decoding: decoders hand pts through to the picture
untouched, so every picture names the packet it came from (its real pts is in the index).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import BadInputError, UnsupportedFormatError
from app.io.inputs import require_readable
from app.io.video.convert import display_matrix
from app.io.video.index import NOPTS

HEAD_CAP = 600  # packets decoded at most to learn what the start of a stream drops


def require_video_file(path: Path) -> None:
    """Refuse, in one sentence naming it, a path that is not a regular file: missing, a
    folder, or a FIFO / device / socket (which would block the demuxer or feed it without
    end). Only looks at the path (``stat``), never opens it."""
    if not path.exists():
        raise BadInputError(f"{path} does not exist.", path)
    if path.is_dir():
        raise UnsupportedFormatError(f"{path} is a folder, not a video file.", path)
    require_readable(path, what="video")


def open_container(path: Path) -> Any:
    """``av.open`` with the error as one sentence naming the file."""
    import av

    require_video_file(path)
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BadInputError(f"{path} cannot be read as video ({reason}).", path) from exc
    except OSError as exc:
        raise BadInputError(f"{path} cannot be read ({exc.strerror}).", path) from exc


def video_stream(container: Any, path: Path) -> Any:
    """The first video stream (as ``-map 0:v:0``), other streams set to be skipped."""
    if not container.streams.video:
        raise UnsupportedFormatError(f"{path} has no video stream.", path)
    stream = container.streams.video[0]
    if getattr(stream, "codec_context", None) is None:  # PyAV: no decoder for its codec id
        raise BadInputError(f"{path} has a video stream whose codec cannot be identified (its "
                            "header is damaged, or the codec is one FFmpeg does not know); "
                            "it cannot be decoded.", path)
    for s in container.streams:
        if s.index != stream.index:
            try:
                s.discard = "all"
            except Exception:  # older PyAV: the demuxer reads and drops them
                pass
    return stream


def packets(container: Any, stream: Any) -> Iterator[Any]:
    """The non-empty packets of ``stream`` in demux order (``container.demux(stream)``).

    A damaged MPEG-TS can gain streams while it is read (a flipped bit makes a new PID):
    PyAV's end-of-file flush then looks up streams it never listed and raises IndexError
    after the last packet. That is the end of the file here, not an error."""
    it = container.demux(stream)
    while True:
        try:
            p = next(it)
        except (StopIteration, IndexError):
            return
        if p.size:
            yield p


@dataclass
class _Decoded:
    """What one decode pass saw: per output picture (in output order) its packet, pts and
    whether the decoder flagged it corrupt; per failed packet the error."""

    out_pkt: list[int] = field(default_factory=list)
    out_pts: list[int] = field(default_factory=list)
    out_dts: list[int] = field(default_factory=list)
    out_corrupt: list[bool] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    first: dict[str, Any] | None = None
    fed: int = 0


def _decode_pass(path: Path, pkt_pts: np.ndarray, stop: int | None, first_only: bool,
                 progress: Any = None, thread_type: str = "AUTO") -> _Decoded:
    """Decode packets ``[0, stop)`` from the start of the file (all when ``stop`` is None),
    then drain the decoder. ``first_only``: stop at the first picture."""
    import av

    out = _Decoded()
    container = open_container(path)
    try:
        stream = video_stream(container, path)
        cc = stream.codec_context
        cc.thread_type = "SLICE" if first_only else thread_type
        total = len(pkt_pts) if stop is None else stop
        i = 0

        def take(frames: list[Any]) -> None:
            for f in frames:
                k = int(f.pts) if f.pts is not None and 0 <= f.pts < len(pkt_pts) else -1
                out.out_pkt.append(k)
                out.out_pts.append(int(pkt_pts[k]) if k >= 0 else NOPTS)
                out.out_dts.append(NOPTS if f.dts is None else int(f.dts))
                out.out_corrupt.append(bool(getattr(f, "is_corrupt", False)))
                if out.first is None:
                    out.first = _picture_info(f, cc.name or "")

        try:
            for packet in packets(container, stream):
                if i >= total or (first_only and out.first is not None):
                    break
                packet.pts = i  # the decoder passes pts through: it names the packet
                try:
                    take(cc.decode(packet))
                except av.error.FFmpegError as exc:
                    out.errors.append((i, _reason(exc)))
                i += 1
                if progress is not None and i % 64 == 0:
                    progress(i, total)
        except av.error.FFmpegError as exc:  # the demuxer gave up: what was read stands
            out.errors.append((i, _reason(exc)))
        out.fed = i
        if not (first_only and out.first is not None):
            try:
                take(cc.decode(None))
            except av.error.FFmpegError as exc:
                out.errors.append((i, _reason(exc)))
        if progress is not None:
            progress(total, total)
    finally:
        container.close()
    return out


def _picture_info(f: Any, codec: str) -> dict[str, Any]:
    """Size, pixel format and display matrix of a picture decoded by ``codec``."""
    return {"width": f.width, "height": f.height, "pix_fmt": f.format.name,
            "bit_depth": int(f.format.components[0].bits), "matrix": display_matrix(f, codec),
            "colorspace": int(f.colorspace), "color_range": int(f.color_range)}


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).rstrip(".")
