"""Building a :class:`~app.io.video.index.FrameIndex`: demux every packet once (no decoding),
then decode only what demuxing cannot tell.

Always decoded: the first picture (decoded size, pixel format, display matrix). Decoded when
the stream does not start cleanly (first packet not a keyframe, or open-GOP leading pictures
after it): the packets up to the second keyframe, to learn which of them the decoder drops.
Decoded in full ("verified") when demuxing shows damage or cannot predict the decoder: demux
errors, corrupt packets, missing or duplicated timestamps, no keyframe, a codec where a packet
is not always one picture; on request; or, with ``verify="auto"``, when the file is small
enough (:data:`AUTO_VERIFY_PIXELS`) that decoding it is quick.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import BadInputError
from app.io.video.convert import display_transform
from app.io.video.decoding import (HEAD_CAP, _Decoded, _decode_pass, _picture_info, _reason,
                                   open_container, packets, video_stream)
from app.io.video.index import (BADKEY, CORRUPT, DISCARD, INDEX_VERSION, KEY, NOFRAME, NOPTS,
                                FrameIndex)

# Codecs where one non-discarded packet is one output picture in every stream we know.
TRUSTED_CODECS = frozenset({"h264", "hevc", "vp9", "av1", "mpeg2video", "mpeg1video", "mjpeg",
                            "prores", "dnxhd", "ffv1", "png", "rawvideo", "libdav1d", "qtrle",
                            "utvideo", "huffyuv", "ffvhuff", "magicyuv", "cfhd", "jpeg2000"})
AUTO_VERIFY_PIXELS = 1_000_000_000  # frames x width x height decoded by verify="auto"
MAX_SENTENCES = 12


def _stream_info(container: Any, stream: Any) -> dict[str, Any]:
    cc = stream.codec_context
    tb = stream.time_base
    rate = stream.base_rate or stream.guessed_rate or stream.average_rate
    codec = cc.codec
    return {"time_base": [tb.numerator, tb.denominator] if tb else [1, 90000],
            "codec": cc.name or "", "codec_long": getattr(codec, "long_name", "") or "",
            "profile": stream.profile or "", "container": container.format.name or "",
            "nominal_fps": float(rate) if rate else None,
            "container_avg_fps": float(stream.average_rate) if stream.average_rate else None,
            "declared_frames": int(stream.frames or 0),
            "container_duration_s": float(container.duration) / 1e6 if container.duration
            else None,
            "stream_pix_fmt": cc.pix_fmt or "", "stream_width": cc.width or 0,
            "stream_height": cc.height or 0, "has_b_frames": bool(cc.has_b_frames)}


def _demux(container: Any, stream: Any, progress: Any
           ) -> tuple[dict[str, np.ndarray], str | None, _Decoded]:
    """Every packet's pts, dts, position and flags; the first packets are also decoded,
    until the first picture comes out (its size, format and display matrix)."""
    import av

    pts: list[int] = []
    dts: list[int] = []
    pos: list[int] = []
    flags: list[int] = []
    error = None
    head = _Decoded()
    cc = stream.codec_context
    cc.thread_type = "SLICE"  # the first picture as soon as possible
    total = max(int(stream.frames or 0), 1)
    try:
        for p in packets(container, stream):
            pts.append(NOPTS if p.pts is None else p.pts)
            dts.append(NOPTS if p.dts is None else p.dts)
            pos.append(-1 if p.pos is None else p.pos)
            flags.append((KEY if p.is_keyframe else 0) | (DISCARD if p.is_discard else 0)
                         | (CORRUPT if p.is_corrupt else 0))
            if head.first is None and len(pts) <= HEAD_CAP:
                i = len(pts) - 1
                p.pts = i  # the decoder passes pts through: it names the packet
                try:
                    for f in cc.decode(p):
                        head.out_pkt.append(int(f.pts) if f.pts is not None else -1)
                        if head.first is None:
                            head.first = _picture_info(f, cc.name or "")
                except av.error.FFmpegError as exc:
                    head.errors.append((i, _reason(exc)))
            if progress is not None and len(pts) % 4096 == 0:
                progress(len(pts), max(total, len(pts)))
    except av.error.FFmpegError as exc:
        error = _reason(exc)
    return ({"pts": np.asarray(pts, dtype=np.int64), "dts": np.asarray(dts, dtype=np.int64),
             "pos": np.asarray(pos, dtype=np.int64), "flags": np.asarray(flags, dtype=np.uint8)},
            error, head)


def _predicted(pts: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Frame-making packets in presentation order (pts, then decode order)."""
    cand = np.flatnonzero((flags & (DISCARD | NOFRAME)) == 0)
    order = np.lexsort((cand, pts[cand]))
    return cand[order]


def _head_stop(pts: np.ndarray, flags: np.ndarray) -> int | None:
    """Where the start-of-stream check must decode to, or None when the stream starts on a
    keyframe shown first."""
    keys = np.flatnonzero(flags & KEY)
    if not len(keys):
        return len(pts)
    fk = int(keys[0])
    later = np.arange(fk + 1, min(len(pts), fk + 64))
    shown = later[(flags[later] & DISCARD) == 0]
    leading = bool(np.any(pts[shown] < pts[fk])) if len(shown) else False
    if fk == 0 and not leading:
        return None
    nxt = int(keys[1]) if len(keys) > 1 else len(pts)
    return min(nxt, fk + HEAD_CAP)


def _ranges(values: list[int]) -> str:
    """'3, 7-9, 12' for sorted ints."""
    parts: list[str] = []
    for v in values:
        if parts and isinstance(parts[-1], list) and v == parts[-1][1] + 1:
            parts[-1][1] = v
        else:
            parts.append([v, v])  # type: ignore[arg-type]
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in parts)  # type: ignore[misc]


def build_index(path: Path, fingerprint: str, verify: str = "needed",
                progress: Any = None) -> FrameIndex:
    """Demux ``path`` and build its frame index. ``verify``: ``"needed"`` (decode everything
    only when demuxing cannot be trusted), ``"auto"`` (also when the file is small) or
    ``"always"``. Raises :class:`BadInputError` / :class:`UnsupportedFormatError`."""
    t0 = time.perf_counter()
    container = open_container(path)
    try:
        stream = video_stream(container, path)
        meta = _stream_info(container, stream)
        pk, demux_error, head = _demux(container, stream, progress)
    finally:
        container.close()
    pts, flags = pk["pts"], pk["flags"]
    if not len(pts):
        raise BadInputError(f"{path} has a video stream with no pictures in it.", path)
    reasons: list[str] = []
    if demux_error:
        reasons.append(f"reading stopped early ({demux_error})")
    if np.any(flags & CORRUPT):
        reasons.append(f"{int(np.count_nonzero(flags & CORRUPT))} damaged or cut-short packets")
    if meta["codec"] not in TRUSTED_CODECS:
        reasons.append(f"{meta['codec'] or 'unknown'} packets are not always one picture each")
    cand = np.flatnonzero((flags & DISCARD) == 0)
    if np.any(pts[cand] == NOPTS):
        reasons.append("some packets have no timestamp")
    elif len(np.unique(pts[cand])) != len(cand):
        reasons.append("some packets share a timestamp")
    if not np.any(flags & KEY):
        reasons.append("no packet is flagged as a keyframe")
    # AVI stores decode times only: its "pts" are decode times, and ffmpeg's frame times are
    # then the decode-time stamps the decoder hands back with each picture
    decode_times_only = meta["container"] == "avi"
    if decode_times_only and meta["has_b_frames"]:
        reasons.append("the container stores decode times only, not presentation times")

    stop = _head_stop(pts, flags)
    if stop is not None:
        head = _decode_pass(path, pts, stop, first_only=False)
    if head.first is None:  # e.g. a one-picture stream: it comes out only when drained
        first = _decode_pass(path, pts, None, first_only=True)
        head = head if stop is not None else first
        head.first = first.first
    if head.first is None:
        raise BadInputError(f"{path} has a video stream but none of its pictures can be "
                            f"decoded.", path)
    if stop is None and head.out_pkt and head.out_pkt[0] != int(_predicted(pts, flags)[0]):
        reasons.append("the decoder shows another picture first")
    if stop is not None and not reasons:
        made = set(k for k in head.out_pkt if 0 <= k < stop)
        for k in range(stop):
            if k not in made and not (flags[k] & DISCARD):
                flags[k] |= NOFRAME
        if head.errors:
            reasons.append("the first pictures do not decode cleanly")
        elif [k for k in head.out_pkt if k >= 0] != [int(k) for k in _predicted(pts, flags)
                                                     if k < stop]:
            reasons.append("the decoder shows the first pictures in another order")
    first = head.first
    npx = len(cand) * first["width"] * first["height"]
    full = verify == "always" or bool(reasons) or (verify == "auto"
                                                   and npx <= AUTO_VERIFY_PIXELS)
    sentences: list[str] = []
    corrupt_frames: list[int] = []
    threads = "SLICE" if (demux_error or np.any(flags & CORRUPT)) else "AUTO"
    if full:
        # Frame threads can lose pictures next to a packet that fails; decode such files
        # with slice threads only (as the reference ffmpeg's output count shows).
        dec = _decode_pass(path, pts, None, False, progress, threads)
        if dec.errors and threads == "AUTO":
            threads = "SLICE"
            dec = _decode_pass(path, pts, None, False, progress, threads)
        flags &= ~np.uint8(NOFRAME)
        frame_pkt = np.asarray([k if k >= 0 else max(dec.fed - 1, 0) for k in dec.out_pkt],
                               dtype=np.int64)
        shown_pts = [NOPTS] * len(dec.out_pts) if decode_times_only else dec.out_pts
        frame_pts = _fill_missing(_best_effort(shown_pts, dec.out_dts))
        made = np.zeros(len(pts), dtype=bool)
        made[frame_pkt] = True
        flags[~made & ((flags & DISCARD) == 0)] |= NOFRAME
        corrupt_frames = [i for i, c in enumerate(dec.out_corrupt) if c]
        # a keyframe that failed or was concealed (from earlier pictures) is no place to
        # start: decoding from it would not give what decoding through it gives
        for i in corrupt_frames:
            if flags[frame_pkt[i]] & KEY:
                flags[frame_pkt[i]] |= BADKEY
        for k, _ in dec.errors:
            if 0 <= k < len(flags) and flags[k] & KEY:
                flags[k] |= BADKEY
        sentences = _error_sentences(dec.errors, pts, frame_pts, meta)
        # Packed B-frames (MPEG-4 part 2 in AVI): one packet holds two pictures and a
        # placeholder packet holds none, so pictures cannot be found by packet after a seek;
        # such a file is read by counting pictures from its start.
        failed = {k for k, _ in dec.errors}
        keys = np.flatnonzero(flags & KEY)
        silent = [k for k in np.flatnonzero(flags & NOFRAME)
                  if k not in failed and len(keys) and k > keys[0]]
        packed = (meta["codec"] == "mpeg4" and meta["container"] == "avi"
                  and bool(np.any(np.diff(frame_pkt) < 0)))  # B-frames in AVI: packed
        if meta["codec"] not in TRUSTED_CODECS and (
                packed or len(np.unique(frame_pkt)) != len(frame_pkt) or silent):
            meta["sequential_only"] = True
    else:
        frame_pkt = _predicted(pts, flags)
        frame_pts = pts[frame_pkt]
    if not len(frame_pkt):
        raise BadInputError(f"{path} has a video stream but none of its pictures can be "
                            f"decoded.", path)
    if corrupt_frames:
        sentences.append(f"Frames {_ranges(corrupt_frames[:200])} were decoded with errors "
                         f"and may show damaged pictures.")
    if demux_error:
        sentences.insert(0, f"Reading stopped after packet {len(pts)}: {demux_error}.")
    transform, theta = display_transform(first["matrix"])
    meta.update({"version": INDEX_VERSION, "fingerprint": fingerprint,
                 "size_bytes": path.stat().st_size, "pix_fmt": first["pix_fmt"],
                 "bit_depth": first["bit_depth"], "coded_width": first["width"],
                 "coded_height": first["height"], "matrix": first["matrix"],
                 "transform": transform, "theta": theta, "colorspace": first["colorspace"],
                 "color_range": first["color_range"], "verified": bool(full),
                 "verify_reasons": reasons, "errors": sentences,
                 "corrupt_frames": corrupt_frames[:10000],
                 "discarded": int(np.count_nonzero(flags & DISCARD)),
                 "no_picture": int(np.count_nonzero(flags & NOFRAME)),
                 "threads": threads, "build_s": round(time.perf_counter() - t0, 4)})
    return FrameIndex(pkt_pts=pts, pkt_dts=pk["dts"], pkt_pos=pk["pos"], pkt_flags=flags,
                      frame_pkt=frame_pkt, frame_pts=frame_pts, meta=meta)


def _best_effort(pts: list[int], dts: list[int]) -> np.ndarray:
    """Each picture's time as libavcodec's ``best_effort_timestamp`` (what ffmpeg uses):
    the reordered pts unless pts have gone backwards more often than the decode-time
    stamps have (e.g. AVI, which stores decode times only)."""
    out = []
    faulty_pts = faulty_dts = 0
    last_pts = last_dts = NOPTS
    for p, d in zip(pts, dts):
        if d != NOPTS:
            faulty_dts += d <= last_dts
            last_dts = d
        if p != NOPTS:
            faulty_pts += p <= last_pts
            last_pts = p
        out.append(p if p != NOPTS and (faulty_pts <= faulty_dts or d == NOPTS) else d)
    return np.asarray(out, dtype=np.int64)


def _fill_missing(p: np.ndarray) -> np.ndarray:
    """Frames the decoder gave no pts: one typical frame step after the previous frame."""
    bad = p == NOPTS
    if not bad.any():
        return p
    good = p[~bad]
    step = int(np.median(np.diff(good))) if len(good) > 1 else 1
    out = p.copy()
    prev = None
    for i in range(len(out)):
        if out[i] == NOPTS:
            out[i] = (prev + max(step, 1)) if prev is not None else 0
        prev = out[i]
    return out


def _error_sentences(errors: list[tuple[int, str]], pts: np.ndarray, frame_pts: np.ndarray,
                     meta: dict[str, Any]) -> list[str]:
    """Readable sentences for the packets that failed to decode."""
    tb = meta["time_base"][0] / meta["time_base"][1]
    start = int(frame_pts.min()) if len(frame_pts) else 0
    sorted_pts = np.sort(frame_pts)
    out = []
    for k, reason in errors[:MAX_SENTENCES]:
        where = ""
        if 0 <= k < len(pts) and pts[k] != NOPTS:
            t = (int(pts[k]) - start) * tb
            near = int(np.searchsorted(sorted_pts, pts[k]))
            where = f" (at {t:.3f} s, near frame {near})"
        out.append(f"Packet {k}{where} could not be decoded: {reason}; the frame it held is "
                   f"skipped.")
    if len(errors) > MAX_SENTENCES:
        out.append(f"{len(errors) - MAX_SENTENCES} more packets could not be decoded.")
    return out
