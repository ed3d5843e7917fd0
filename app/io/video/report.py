"""The import report of a video: what an annotation lead must know before labelling starts.

Sizes are displayed pixels (after rotation); times are seconds from the first displayed frame
unless named ``start_time`` (the stream pts of that frame, in seconds); rates are frames per
second; intervals are milliseconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from app.core.geometry import VideoGeometry
from app.io.video.convert import TRANSFORMS
from app.io.video.index import DISCARD, NOFRAME, FrameIndex


@dataclass
class VideoReport:
    """Facts about one video stream as Vellum will number its frames."""

    path: str
    frame_count: int
    width: int
    height: int
    rotation: int
    mirrored: bool
    duration_s: float
    start_time: float
    nominal_fps: float | None
    avg_fps: float
    is_vfr: bool
    min_interval_ms: float
    max_interval_ms: float
    codec: str
    codec_long: str
    profile: str
    pix_fmt: str
    bit_depth: int
    container: str
    coded_width: int
    coded_height: int
    keyframes: int
    longest_gop: int
    b_frames: bool
    declared_frames: int
    discarded_packets: int
    no_picture_packets: int
    duplicated_timestamps: int
    duplicated_frames: list[int] = field(default_factory=list)
    decode_errors: list[str] = field(default_factory=list)
    verified: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        """A short readable report, one fact per line."""
        rate = f"{self.nominal_fps:g} fps nominal, " if self.nominal_fps else ""
        lines = [
            f"{self.path}",
            f"  {self.codec_long or self.codec} ({self.pix_fmt}, {self.bit_depth}-bit) in "
            f"{self.container}",
            f"  {self.frame_count} frames, {self.duration_s:.3f} s, {self.width}x{self.height} "
            f"displayed" + (f" (stored {self.coded_width}x{self.coded_height})"
                            if (self.coded_width, self.coded_height) != (self.width, self.height)
                            else ""),
            f"  frame rate: {rate}{self.avg_fps:.3f} fps average, "
            + ("VARIABLE" if self.is_vfr else "constant")
            + f" (frame interval {self.min_interval_ms:.2f}-{self.max_interval_ms:.2f} ms)",
            "  rotation: " + (f"{self.rotation} degrees clockwise" if self.rotation else "none")
            + (", mirrored" if self.mirrored else ""),
            f"  first displayed frame at {self.start_time:.3f} s of the stream (frame times "
            f"count from it)",
            f"  keyframes: {self.keyframes} (longest GOP {self.longest_gop} frames), B-frames: "
            + ("yes" if self.b_frames else "no"),
            f"  duplicated timestamps: {self.duplicated_timestamps or 'none'}",
            "  decode check: " + ("every frame decoded once" if self.verified
                                  else "not run (only the container was read; use --verify)"),
        ]
        if self.decode_errors:
            lines.append(f"  decode errors ({len(self.decode_errors)}):")
            lines.extend(f"    - {e}" for e in self.decode_errors)
        elif self.verified:
            lines.append("  decode errors: none")
        if self.notes:
            lines.append("  notes:")
            lines.extend(f"    - {n}" for n in self.notes)
        return "\n".join(lines)


def _intervals(index: FrameIndex) -> np.ndarray:
    return np.diff(index.frame_pts).astype(np.float64) * float(index.time_base)


def geometry_of(index: FrameIndex) -> VideoGeometry:
    """The typed geometry record of an indexed stream."""
    m = index.meta
    count = index.frame_count
    tb = index.time_base
    ticks = np.diff(index.frame_pts)
    positive = ticks[ticks > 0]
    nominal = m.get("nominal_fps")
    if len(positive):
        step = Fraction(float(np.median(positive))).limit_denominator(4) * tb
    else:
        step = Fraction(1 / nominal).limit_denominator(1 << 20) if nominal else Fraction(0)
    span = int(index.frame_pts[-1] - index.frame_pts[0]) * tb if count else Fraction(0)
    duration = span + step if count else Fraction(0)
    gaps = ticks.astype(np.float64) * float(tb)
    is_vfr = bool(len(positive) > 1 and np.max(np.abs(gaps - float(step)))
                  > max(1.5 * float(tb), 0.02 * float(step)))
    avg = float(count / duration) if duration > 0 else float(nominal or 0.0)
    rotation, _ = TRANSFORMS.get(m.get("transform", "none"), (0, False))
    w, h = int(m["coded_width"]), int(m["coded_height"])
    if rotation in (90, 270):
        w, h = h, w
    return VideoGeometry(frame_count=count, width=w, height=h, rotation=rotation,
                         time_base=index.time_base, avg_fps=avg,
                         nominal_fps=float(nominal) if nominal else None,
                         duration_s=float(duration),
                         is_vfr=is_vfr, codec=str(m.get("codec", "")),
                         pix_fmt=str(m.get("pix_fmt", "")))


def report_of(path: str, index: FrameIndex, geometry: VideoGeometry) -> VideoReport:
    m = index.meta
    gaps = _intervals(index) * 1000.0
    keys = index.keyframes()
    key_at = np.flatnonzero(keys)
    bounds = np.concatenate([key_at, [index.frame_count]]) if len(key_at) else np.array([0])
    longest = int(np.max(np.diff(bounds))) if len(bounds) > 1 else index.frame_count
    dup = np.flatnonzero(np.diff(index.frame_pts) == 0) + 1
    b_frames = bool(len(index.frame_pkt) > 1 and np.any(np.diff(index.frame_pkt) < 0))
    transform = m.get("transform", "none")
    report = VideoReport(
        path=path, frame_count=geometry.frame_count, width=geometry.width,
        height=geometry.height, rotation=geometry.rotation,
        mirrored=TRANSFORMS.get(transform, (0, False))[1], duration_s=geometry.duration_s,
        start_time=float(index.frame_pts[0] * float(index.time_base)) if index.frame_count
        else 0.0,
        nominal_fps=geometry.nominal_fps, avg_fps=geometry.avg_fps, is_vfr=geometry.is_vfr,
        min_interval_ms=float(gaps.min()) if len(gaps) else 0.0,
        max_interval_ms=float(gaps.max()) if len(gaps) else 0.0,
        codec=geometry.codec, codec_long=str(m.get("codec_long", "")),
        profile=str(m.get("profile", "")), pix_fmt=geometry.pix_fmt,
        bit_depth=int(m.get("bit_depth", 8)), container=str(m.get("container", "")),
        coded_width=int(m["coded_width"]), coded_height=int(m["coded_height"]),
        keyframes=int(len(key_at)), longest_gop=longest, b_frames=b_frames,
        declared_frames=int(m.get("declared_frames") or 0),
        discarded_packets=int(np.count_nonzero(index.pkt_flags & DISCARD)),
        no_picture_packets=int(np.count_nonzero(index.pkt_flags & NOFRAME)),
        duplicated_timestamps=int(len(dup)), duplicated_frames=[int(i) for i in dup[:50]],
        decode_errors=list(m.get("errors", [])), verified=index.verified)
    report.notes = _notes(report, index)
    return report


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _notes(r: VideoReport, index: FrameIndex) -> list[str]:
    out = []
    m = index.meta
    if r.declared_frames and r.declared_frames != r.frame_count:
        out.append(f"The container declares {r.declared_frames} frames; {r.frame_count} are "
                   f"shown (as ffmpeg shows them), and frame numbers follow those.")
    if r.discarded_packets:
        out.append(f"An edit list hides {_n(r.discarded_packets, 'packet')} (decoded as "
                   f"references, never shown); they are not frames.")
    if r.no_picture_packets:
        out.append(f"{_n(r.no_picture_packets, 'packet')} produce no picture (the stream "
                   f"does not start on a keyframe, or the data is damaged); they are not "
                   f"frames.")
    if r.is_vfr:
        out.append(f"Variable frame rate: frames are {r.min_interval_ms:.2f} to "
                   f"{r.max_interval_ms:.2f} ms apart. Annotations are keyed by frame index; "
                   f"never convert times to frames with the average rate.")
    if r.rotation or r.mirrored:
        out.append(f"The file asks for display rotation ({r.rotation} degrees clockwise"
                   + (", mirrored" if r.mirrored else "") + f"): frames and coordinates are "
                   f"those of the displayed {r.width}x{r.height} picture.")
    theta = float(m.get("theta", 0.0))
    if m.get("transform", "none") == "none" and abs(theta) > 1 and abs(theta - 360) > 1 \
            and abs(theta - 180) > 1:
        out.append(f"The display matrix asks for a {theta:g} degree rotation, which Vellum "
                   f"does not apply; frames are shown as stored.")
    if r.duplicated_timestamps:
        out.append(f"{_n(r.duplicated_timestamps, 'frame')} share their timestamp with the "
                   f"frame before (first: {', '.join(map(str, r.duplicated_frames[:5]))}).")
    back = index.backward_frames()
    if len(back):
        out.append(f"Timestamps go backwards at {_n(len(back), 'frame')} (first: "
                   f"{', '.join(map(str, back[:5]))}): the file's timing is damaged; frames "
                   f"are numbered in the order they are shown, and a project keeps no frame "
                   f"times for it.")
    if r.start_time:
        out.append(f"The stream starts at {r.start_time:.3f} s; exported timestamps count "
                   f"from the first displayed frame.")
    if m.get("verify_reasons"):
        out.append("Every frame was decoded to build the index because "
                   + "; ".join(m["verify_reasons"]) + ".")
    if m.get("reindexed"):
        out.append(str(m["reindexed"]))
    return out
