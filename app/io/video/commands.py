"""``vellum video info | frame | frames``: the decoder from the command line.

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
    p.add_argument("-o", "--output", metavar="OUT.png", required=True,
                   help="output image (.png, or .jpg/.jpeg for JPEG)")
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
    with reader:
        if args.json:
            json.dump(info_json(reader, args.frames), sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            print(reader.report.text())
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
    out = prepare_output(args.output, formats=(".png", ".jpg", ".jpeg"),
                         overwrite=args.overwrite, inputs=[src])
    suffix = out.suffix.lower()
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
