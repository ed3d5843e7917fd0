"""Prepared video (display proxy): far random jumps on long-GOP footage, before and after
``vellum video prepare``, beside decord's frame-accurate random access measured in the same
run.

Clips (made here with ffmpeg, grainy ``testsrc2`` so that neither codec gets an easy ride):
a 1080p 30 fps H.264 clip of :data:`SECONDS_1080` s and a 4K one of :data:`SECONDS_4K` s,
both with a 250-frame GOP and B-frames. For each: the proxy build time against the clip's
duration (the frame index is built first, as opening the video in the window does), random
far jumps (each at least 250 frames from the one before; decoded-frame caches emptied before
each) through the proxy, through our exact source reader (the decode floor without a proxy)
and through decord (``VideoReader[n]``), the proxy's MB per minute of video, and its PSNR
against ffmpeg's frame N scaled to the proxy size (``cv2.INTER_AREA``).

Goals (issue 19, item 1): once prepared, jump median <= 60 ms and p95 <= 150 ms at 1080p and
median <= 150 ms at 4K; build <= 1x real time for 1080p 30 fps on 2 cores; PSNR >= 30 dB.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

SECONDS_1080, SECONDS_4K, FPS, GOP = 60, 10, 30, 250
JUMPS = 40
DRAG_STEPS = 60
PSNR_FRAMES = 12


def make_clip(folder: Path, name: str, size: str, seconds: int) -> Path:
    """A long-GOP H.264 clip (GOP 250, 3 B-frames, temporal grain)."""
    path = folder / name
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={size}:rate={FPS}", "-t", str(seconds), "-vf",
                    "noise=alls=8:allf=t", "-c:v", "libx264", "-preset", "veryfast", "-g",
                    str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0", "-bf", "3",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def _ms(values: list[float]) -> tuple[float, float]:
    return (statistics.median(values) * 1000.0, float(np.percentile(values, 95)) * 1000.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return 0.0
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def ffmpeg_pictures(path: Path, frames: list[int], w: int, h: int) -> dict[int, np.ndarray]:
    """ffmpeg's RGB frames ``frames`` (by output number, passthrough), full size."""
    wanted = sorted(set(frames))
    sel = "+".join(f"eq(n\\,{i})" for i in wanted)
    data = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map",
                           "0:v:0", "-vf", f"select='{sel}'", "-fps_mode", "passthrough",
                           "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
                          capture_output=True, check=True).stdout
    size = w * h * 3
    pics = [np.frombuffer(data[i * size:(i + 1) * size], np.uint8).reshape(h, w, 3)
            for i in range(len(data) // size)]
    return dict(zip(wanted, pics))


def _decord_times(path: Path, targets: list[int]) -> list[float] | None:
    try:
        import decord
    except ImportError:
        return None
    vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=2)
    vr[targets[0]].asnumpy()  # opened (its index is built); not timed
    times = []
    for n in targets:
        t = time.perf_counter()
        vr[n].asnumpy()
        times.append(time.perf_counter() - t)
    del vr
    return times


def bench_clip(path: Path, label: str, seconds: int) -> list[dict]:
    import cv2

    from app.io.video import open_video
    from app.io.video.commands import far_targets
    from app.io.video.proxy import build_proxy, open_proxy

    t = time.perf_counter()
    with open_video(path) as reader:  # the index, as the window builds it on open
        frame_count = reader.frame_count
        g = reader.geometry
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    info = build_proxy(path)
    build_s = time.perf_counter() - t
    targets = far_targets(JUMPS, frame_count, seed=11)

    source: list[float] = []
    with open_video(path) as reader:
        reader.frame(targets[0])
        for n in targets:
            reader.cache.clear()
            t = time.perf_counter()
            reader.frame(n)
            source.append(time.perf_counter() - t)
    proxy_t: list[float] = []
    with open_proxy(path, partial=False) as proxy:
        proxy.frame(targets[0])
        for n in targets:
            proxy.clear_cache()
            t = time.perf_counter()
            proxy.frame(n)
            proxy_t.append(time.perf_counter() - t)
        picks = sorted(set(targets[:PSNR_FRAMES]) | {0, frame_count - 1})
        ref = ffmpeg_pictures(path, picks, g.width, g.height)
        scores = [psnr(proxy.frame(n), cv2.resize(ref[n], proxy.size,
                                                   interpolation=cv2.INTER_AREA))
                  for n in picks]
    decord_t = _decord_times(path, targets)
    drag = bench_drag(path, frame_count, g.width, g.height)

    pm, p95 = _ms(proxy_t)
    sm, s95 = _ms(source)
    mb_min = info.bytes / 1e6 / (seconds / 60.0)
    src_mb_min = path.stat().st_size / 1e6 / (seconds / 60.0)
    rows = [
        {"name": f"{label} proxy build ({frame_count} frames)", "ours_ms": build_s * 1000,
         "peer_ms": seconds * 1000.0, "peer": "clip duration (real time)",
         "notes": f"{build_s / seconds:.2f}x real time (goal <= 1x at 1080p); frame index "
                  f"before it {index_s:.1f} s; {os.cpu_count()} cores"},
        {"name": f"{label} far jump via proxy, median", "ours_ms": pm, "peer_ms": sm,
         "peer": "our exact source reader (decode floor)",
         "notes": f"{sm / pm:.0f}x faster; p95 proxy {p95:.1f} ms vs source {s95:.1f} ms"},
    ]
    if decord_t is not None:
        dm, d95 = _ms(decord_t)
        rows.append({"name": f"{label} far jump via proxy, median", "ours_ms": pm,
                     "peer_ms": dm, "peer": "decord VideoReader[n]",
                     "notes": f"p95 proxy {p95:.1f} ms vs decord {d95:.1f} ms"})
    else:
        rows.append({"name": f"{label} decord", "ours_ms": None, "peer_ms": None, "peer": "",
                     "notes": "skipped: decord is not installed (pip install decord)"})
    rows.append({"name": f"{label} far jump via proxy, p95", "ours_ms": p95, "peer_ms": s95,
                 "peer": "our exact source reader",
                 "notes": "goal: median <= 60 ms, p95 <= 150 ms at 1080p; median <= 150 ms "
                          "at 4K"})
    rows.append(drag)
    rows.append({"name": f"{label} proxy size and quality", "ours_ms": None, "peer_ms": None,
                 "peer": "", "notes": f"{info.width}x{info.height}, {info.bytes / 1e6:.1f} MB "
                 f"= {mb_min:.0f} MB per minute (source {src_mb_min:.0f} MB/min); PSNR vs "
                 f"ffmpeg's frame scaled: min {min(scores):.1f} dB, median "
                 f"{statistics.median(scores):.1f} dB over {len(scores)} frames"})
    return rows


def bench_drag(path: Path, frame_count: int, width: int, height: int) -> dict:
    """A timeline drag across the whole video (:data:`DRAG_STEPS` pointer positions, left to
    right): the window's feed decodes the newest position, builds its display pyramid and
    shows it, so the picture updates once per decode. Ours: the proxy preview the feed shows
    while dragging (``decode_preview``); peer: the exact source frame (``decode``), what a drag
    shows without a proxy. Goal: >= 15 updates/s."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.io.video import open_video
    from app.io.video.proxy import open_proxy
    from app.widgets.video.frames import decode, decode_preview

    steps = [round(i * (frame_count - 1) / (DRAG_STEPS - 1)) for i in range(DRAG_STEPS)]
    with open_proxy(path, partial=False) as proxy:
        t = time.perf_counter()
        for n in steps:
            decode_preview(proxy, n, width, height)
        ours = (time.perf_counter() - t) / len(steps)
    with open_video(path) as reader:
        t = time.perf_counter()
        for n in steps:
            decode(reader, n, False)
        peer = (time.perf_counter() - t) / len(steps)
    return {"name": f"{height}p timeline drag, per display update", "ours_ms": ours * 1000,
            "peer_ms": peer * 1000, "peer": "the exact source frame (no proxy)",
            "notes": f"{1 / ours:.0f} updates/s with the proxy vs {1 / peer:.1f} without "
                     f"(goal >= 15/s); {DRAG_STEPS} positions, every "
                     f"{frame_count / DRAG_STEPS:.0f} frames"}


def run() -> list[dict]:
    if shutil.which("ffmpeg") is None:
        return [{"name": "proxy benchmark", "ours_ms": None, "peer_ms": None, "peer": "",
                 "notes": "skipped: ffmpeg not installed"}]
    folder = Path(tempfile.mkdtemp(prefix="vellum-proxy-bench-"))
    old = os.environ.get("VELLUM_CACHE_DIR")
    os.environ["VELLUM_CACHE_DIR"] = str(folder / "cache")
    try:
        hd = make_clip(folder, "bench_1080p_gop250.mp4", "1920x1080", SECONDS_1080)
        rows = bench_clip(hd, "1080p", SECONDS_1080)
        hd.unlink()
        uhd = make_clip(folder, "bench_4k_gop250.mp4", "3840x2160", SECONDS_4K)
        rows += bench_clip(uhd, "4K", SECONDS_4K)
        return rows
    finally:
        if old is None:
            os.environ.pop("VELLUM_CACHE_DIR", None)
        else:
            os.environ["VELLUM_CACHE_DIR"] = old
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table("proxy_bench", run())
