"""``vellum video info | frame | frames | prepare | jumps``: the decoder from the command line.

Frame numbers are 0-based indices in presentation order, the frames ``ffmpeg -i FILE -map 0:v:0
-fps_mode passthrough`` outputs (edit lists and display rotation applied). Nothing heavy is
imported until a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli_registry import CommandRegistry, Group
from app.core.errors import VellumError

INFO_EPILOG = """\
JSON keys: frame_count, width, height (displayed, after rotation), rotation (degrees
clockwise), avg_fps, nominal_fps, is_vfr, duration_s, start_time (stream pts of frame 0, s),
codec, pix_fmt, duplicated_timestamps, decode_errors (sentences), verified, notes, ...
With --frames also: frames (pts in seconds of every frame, as the stream stores it) and
timestamps (seconds from the first displayed frame, as Vellum stores and exports them).

The decode check (every frame decoded once, to count decode errors exactly) runs by default
for short videos; --verify forces it, --no-verify skips it (container only)."""

FRAMES_EPILOG = """\
Files are named by frame index, zero-padded (000000.png, 000001.png, ...).
--range A B selects frames A to B INCLUSIVE (0-based); --every K keeps every K-th frame of
that range, starting at A."""

PREPARE_EPILOG = """\
Makes the display proxy of VIDEO: every frame, longest side at most 1280 px, in short H.264
chunks in the user cache folder (video-proxy/), so that far jumps decode a few small
pictures instead of a whole GOP. Frame N of the proxy is frame N of the video. Stopping
(Ctrl+C) keeps the finished chunks; running it again resumes. All proxies together stay
within VELLUM_PROXY_MB MiB (default 20000): the least recently used are deleted first.
JSON keys: path, folder, frame_count, done_frames, width, height, source_width,
source_height, chunk_count, chunks_built, bytes, seconds, complete, stopped, missing."""

JUMPS_EPILOG = """\
Times K far jumps to random frames (each at least a tenth of the video, up to 250 frames,
from the one before) through the exact decoder and, when VIDEO is prepared, through its
proxy; the decoded-frame caches are emptied before each jump. Prints the median and 95th
percentile in milliseconds and source/proxy. JSON keys: count, seed, frames, source, proxy
({median_ms, p95_ms, max_ms} or null), ratio_median, ratio_p95."""


def register(cli: CommandRegistry) -> None:
    parser = cli.command("video", None, "inspect a video, extract exact frames",
                         description="Video files as Vellum numbers their frames: frame N is "
                         "the N-th frame ffmpeg outputs with -fps_mode passthrough (0-based).")
    group = Group(parser, "video_command")

    p = group.add("info", cmd_info, "import report: frames, rates, rotation, problems",
                  epilog=INFO_EPILOG)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print JSON instead of the report")
    p.add_argument("--frames", action="store_true",
                   help="with --json: include the pts of every frame")
    check = p.add_mutually_exclusive_group()
    check.add_argument("--verify", dest="verify", action="store_const", const="always",
                       default="auto", help="decode every frame, however long the video")
    check.add_argument("--no-verify", dest="verify", action="store_const", const="needed",
                       help="read the container only (no decode check unless it is damaged)")

    p = group.add("frame", cmd_frame, "write one frame as PNG (RGB, display orientation)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("n", metavar="N", type=int, help="frame index, 0-based")
    p.add_argument("out", metavar="OUT", nargs="?",
                   help="output image (.png, or .jpg/.jpeg for JPEG); or give -o")
    p.add_argument("-o", "--output", metavar="OUT.png",
                   help="output image (.png, or .jpg/.jpeg for JPEG)")
    p.add_argument("--proxy", action="store_true",
                   help="the prepared proxy's picture (see `vellum video prepare`)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.png if it exists")

    p = group.add("frames", cmd_frames, "write frames as PNG or JPEG files named by index",
                  epilog=FRAMES_EPILOG)
    p.add_argument("file", metavar="FILE")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--every", metavar="K", type=int, default=1, help="every K-th frame")
    p.add_argument("--range", metavar=("A", "B"), type=int, nargs=2,
                   help="frames A to B, both included")
    p.add_argument("--format", choices=("png", "jpg"), default="png", help="default: png")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100 (default 95)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace frame files that already exist in OUT_DIR")

    p = group.add("prepare", cmd_prepare, "make the display proxy for fast far jumps",
                  epilog=PREPARE_EPILOG)
    p.add_argument("file", metavar="VIDEO")
    p.add_argument("--json", action="store_true", help="print JSON instead of a sentence")

    p = group.add("jumps", cmd_jumps, "time random far jumps: source decoder and proxy",
                  epilog=JUMPS_EPILOG)
    p.add_argument("file", metavar="VIDEO")
    p.add_argument("--count", metavar="K", type=int, default=30, help="jumps (default 30)")
    p.add_argument("--seed", metavar="S", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the figures")


def info_json(reader: Any, with_frames: bool = False) -> dict[str, Any]:
    """The ``vellum video info --json`` object of an open reader."""
    g = reader.geometry
    out = reader.report.to_json()
    out.update({"frame_count": g.frame_count, "width": g.width, "height": g.height,
                "rotation": g.rotation, "avg_fps": g.avg_fps, "nominal_fps": g.nominal_fps,
                "is_vfr": g.is_vfr, "duration_s": g.duration_s, "codec": g.codec,
                "pix_fmt": g.pix_fmt,
                "time_base": [g.time_base.numerator, g.time_base.denominator]})
    if with_frames:
        out["frames"] = [round(float(t), 9) for t in reader.index.pts_seconds()]
        out["timestamps"] = [round(float(t), 9) for t in reader.timestamps]
    return out


def cmd_info(args: argparse.Namespace) -> int:
    from app.io.video import open_video
    from app.progress import terminal_progress

    with terminal_progress("Reading", unit="packet") as progress:
        reader = open_video(args.file, verify=args.verify, progress=progress)
    from app.io.video.proxy import proxy_state

    with reader:
        state = proxy_state(args.file)
        if args.json:
            out = info_json(reader, args.frames)
            out["proxy"] = state.to_json()
            json.dump(out, sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            print(reader.report.text())
            print(f"  proxy: {state.text()}")
    return 0


def _encode(rgb: Any, path: Path, fmt: str, quality: int) -> bytes:
    """``rgb`` as PNG or JPEG bytes."""
    import cv2

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if fmt == "png":
        ok, buf = cv2.imencode(".png", bgr)
    else:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VellumError(f"Cannot encode {path} as {fmt.upper()}.", path)
    return buf.tobytes()


def _writer(path: Path, fmt: str, quality: int):
    """Encode RGB and write atomically; returns a function ``write(rgb)``."""
    from app.io.atomic import atomic_write

    def write(rgb: Any) -> None:
        data = _encode(rgb, path, fmt, quality)
        with atomic_write(path, "wb") as f:
            f.write(data)

    return write


def cmd_frame(args: argparse.Namespace) -> int:
    from app.io.outputs import prepare_output
    from app.io.video import open_video

    src = Path(args.file)
    if (args.out is None) == (args.output is None):
        raise VellumError("Give the output image once: as OUT after N, or with -o OUT.", src)
    out = prepare_output(args.out or args.output, formats=(".png", ".jpg", ".jpeg"),
                         overwrite=args.overwrite, inputs=[src])
    suffix = out.suffix.lower()
    if args.proxy:
        return _proxy_frame(src, args.n, out)
    with open_video(src, cache_bytes=64 << 20) as reader:
        rgb = reader.frame(args.n)
        t = float(reader.timestamps[args.n])
        _writer(out, "png" if suffix == ".png" else "jpg", 95)(rgb)
    print(f"Wrote {out} (frame {args.n}, {t:.6f} s, {rgb.shape[1]}x{rgb.shape[0]})")
    return 0


def cmd_frames(args: argparse.Namespace) -> int:
    from app.io.outputs import StagedOutput, prepare_folder, prepare_outputs
    from app.io.video import open_video
    from app.progress import terminal_progress

    src, out_dir = Path(args.file), prepare_folder(args.out_dir)
    if args.every < 1:
        raise VellumError(f"--every must be 1 or more, not {args.every}.", src)
    if not 1 <= args.quality <= 100:
        raise VellumError(f"--quality must be between 1 and 100, not {args.quality}.", src)
    with open_video(src, cache_bytes=64 << 20) as reader:
        count = reader.frame_count
        a, b = (args.range if args.range else (0, count - 1))
        if a < 0 or b < a or a >= count:
            raise VellumError(f"--range {a} {b} does not select frames of {src}, which has "
                              f"frames 0 to {count - 1}.", src)
        b = min(b, count - 1)
        width = max(6, len(str(count - 1)))
        wanted = len(range(a, b + 1, args.every))
        ext = "png" if args.format == "png" else "jpg"
        prepare_outputs((out_dir / f"{n:0{width}d}.{ext}" for n in range(a, b + 1, args.every)),
                        overwrite=args.overwrite, inputs=[src])
        done = 0
        # all or none: staged in a hidden folder in OUT_DIR, moved into place at the end
        with terminal_progress("Writing frames", unit="frame") as progress, \
                StagedOutput(out_dir) as stage:
            progress(0, wanted)
            for n, rgb in reader.frames(a, b + 1, args.every):
                path = out_dir / f"{n:0{width}d}.{ext}"
                stage.write_bytes(path, _encode(rgb, path, args.format, args.quality))
                done += 1
                progress(done, wanted, path.name)
    print(f"Wrote {done} frames to {out_dir}")
    return 0


def _proxy_frame(src: Path, n: int, out: Path) -> int:
    """``vellum video frame VIDEO N OUT --proxy``."""
    from app.io.video.proxy import open_proxy

    proxy = open_proxy(src)
    if proxy is None:
        raise VellumError(f"{src} is not prepared; run `vellum video prepare {src}` first.",
                          src)
    with proxy:
        if 0 <= n < proxy.frame_count and not proxy.ready(n):
            raise VellumError(f"Frame {n} of {src} is not prepared yet; run `vellum video "
                              f"prepare {src}` to finish.", src)
        rgb = proxy.frame(n)
    _writer(out, "png" if out.suffix.lower() == ".png" else "jpg", 95)(rgb)
    print(f"Wrote {out} (frame {n} of the proxy, {rgb.shape[1]}x{rgb.shape[0]})")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from app.io.video.proxy import build_proxy
    from app.progress import terminal_progress

    src = Path(args.file)
    with terminal_progress("Preparing", unit="frame") as progress:
        info = build_proxy(src, progress=progress)
    if args.json:
        json.dump(info.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    resumed = info.chunk_count - info.chunks_built
    print(f"Prepared {src}: {info.frame_count} frames at {info.width}x{info.height} in "
          f"{info.folder}, {info.bytes / 1e6:.1f} MB, {info.seconds:.1f} s"
          + (f" ({resumed} of {info.chunk_count} chunks were ready already)" if resumed
             else "") + ".")
    if info.missing:
        print(f"{len(info.missing)} frames could not be decoded and are not in the proxy "
              f"(first: {', '.join(map(str, info.missing[:10]))}); they are read from the "
              f"video itself.")
    return 0


def far_targets(count: int, frames: int, seed: int) -> list[int]:
    """``count`` random frame indices, each at least ``min(frames // 10, 250)`` (1 at least)
    from the one before (so that no jump is a short step)."""
    import random

    rng = random.Random(seed)
    far = max(1, min(frames // 10, 250))
    out: list[int] = []
    while len(out) < count:
        n = rng.randrange(frames)
        if frames > 2 * far and out and abs(n - out[-1]) < far:
            continue
        out.append(n)
    return out


def _stats(times: list[float]) -> dict[str, float]:
    import numpy as np

    ms = np.asarray(times) * 1000.0
    return {"median_ms": round(float(np.median(ms)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "max_ms": round(float(ms.max()), 3)}


def cmd_jumps(args: argparse.Namespace) -> int:
    import time

    from app.io.video import open_video
    from app.io.video.proxy import open_proxy
    from app.progress import terminal_progress

    src = Path(args.file)
    if args.count < 1:
        raise VellumError(f"--count must be 1 or more, not {args.count}.", src)
    with terminal_progress("Reading", unit="packet") as progress:
        reader = open_video(src, progress=progress)
    with reader:
        targets = far_targets(args.count, reader.frame_count, args.seed)
        source: list[float] = []
        reader.frame(targets[0])  # the decoder opened; not timed
        for n in targets:
            reader.cache.clear()
            t = time.perf_counter()
            reader.frame(n)
            source.append(time.perf_counter() - t)
    proxy = open_proxy(src)
    timed: list[float] = []
    if proxy is not None:
        with proxy:
            ready = [n for n in targets if proxy.ready(n)]
            if ready:
                proxy.frame(ready[0])
            for n in ready:
                proxy.clear_cache()
                t = time.perf_counter()
                proxy.frame(n)
                timed.append(time.perf_counter() - t)
    out: dict[str, Any] = {"count": len(targets), "seed": args.seed, "frames": targets,
                           "source": _stats(source), "proxy": _stats(timed) if timed else None,
                           "ratio_median": None, "ratio_p95": None}
    if timed:
        out["ratio_median"] = round(out["source"]["median_ms"] / out["proxy"]["median_ms"], 2)
        out["ratio_p95"] = round(out["source"]["p95_ms"] / out["proxy"]["p95_ms"], 2)
    if args.json:
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    s = out["source"]
    print(f"{src}: {len(targets)} random far jumps")
    print(f"  source decoder: median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms")
    if timed:
        p = out["proxy"]
        print(f"  proxy:          median {p['median_ms']:.1f} ms, p95 {p['p95_ms']:.1f} ms"
              + (f" ({len(timed)} of the jumps land on prepared frames)"
                 if len(timed) < len(targets) else ""))
        print(f"  source/proxy:   {out['ratio_median']:.1f}x (median), "
              f"{out['ratio_p95']:.1f}x (p95)")
    else:
        print(f"  proxy: not prepared (vellum video prepare {src})")
    return 0
