"""``vellum video info | frame | frames`` as scripts call them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from test_video_decoder import (_private_cache, ffmpeg_count, ffmpeg_frames, psnr,  # noqa: F401
                                video_media)


def vellum(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def _png(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_info_json_keys_and_values(video_media):
    path = video_media["rotate90"]
    r = vellum("video", "info", path, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    for key in ("frame_count", "width", "height", "rotation", "avg_fps", "is_vfr",
                "duration_s", "codec", "pix_fmt", "nominal_fps", "duplicated_timestamps",
                "decode_errors", "start_time"):
        assert key in info, key
    assert info["frame_count"] == ffmpeg_count(path) == 48
    assert (info["width"], info["height"]) == (96, 160)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["rotation"] in (90, 270) and info["is_vfr"] is False
    assert abs(info["avg_fps"] - 25) < 1e-6 and abs(info["duration_s"] - 48 / 25) < 1e-6
    assert info["decode_errors"] == [] and "frames" not in info


def test_info_frames_lists_every_pts(video_media):
    path = video_media["opengop_ts"]
    info = json.loads(vellum("video", "info", path, "--json", "--frames").stdout)
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=pts_time", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True).stdout
    ref = [float(x.split(",")[0]) for x in out.split()]
    assert len(info["frames"]) == info["frame_count"] == len(ref)
    assert np.allclose(info["frames"], ref, atol=1e-6)
    assert np.allclose(info["timestamps"], np.array(ref) - ref[0], atol=1e-6)
    assert info["start_time"] == ref[0]


def test_info_report_reads_well(video_media):
    r = vellum("video", "info", video_media["truncated_mp4"])
    assert r.returncode == 0, r.stderr
    assert "frames" in r.stdout and "decode errors" in r.stdout
    r = vellum("video", "info", video_media["editlist"], "--no-verify")
    assert "edit list" in r.stdout and "not run" in r.stdout


def test_frame_is_ffmpegs_frame(video_media, tmp_path):
    for case, n in (("rotate270", 17), ("editlist", 0), ("hevc10", 23), ("ts_cut", 5)):
        path = video_media[case]
        out = tmp_path / f"{case}.png"
        r = vellum("video", "frame", path, n, "-o", out)
        assert r.returncode == 0, r.stderr
        assert psnr(_png(out), ffmpeg_frames(path, [n])[n]) > 40, case


def test_frame_refuses_bad_requests(video_media, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(video_media["bframes"].read_bytes())
    before = path.read_bytes()
    for args, words in (((path, 0, "-o", path), "overwrite"),
                        ((path, 99, "-o", tmp_path / "x.png"), "outside"),
                        ((path, 0, "-o", tmp_path / "x.gif"), ".png"),
                        ((tmp_path / "none.mp4", 0, "-o", tmp_path / "x.png"), "does not exist")):
        r = vellum("video", "frame", *args)
        assert r.returncode != 0 and words in r.stderr and "Traceback" not in r.stderr
    assert path.read_bytes() == before and not (tmp_path / "x.png").exists()


def test_frames_every_and_inclusive_range(video_media, tmp_path):
    path = video_media["vfr"]
    out = tmp_path / "frames"
    r = vellum("video", "frames", path, out, "--every", 5, "--range", 10, 30)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{n:06d}.png" for n in (10, 15, 20, 25, 30)]
    ref = ffmpeg_frames(path, [10, 30])
    assert psnr(_png(out / "000030.png"), ref[30]) > 40
    jpg = tmp_path / "jpg"
    r = vellum("video", "frames", path, jpg, "--format", "jpg", "--range", 0, 2)
    assert r.returncode == 0 and sorted(p.name for p in jpg.iterdir()) == [
        "000000.jpg", "000001.jpg", "000002.jpg"]
    r = vellum("video", "frames", path, out, "--range", 50, 60)
    assert r.returncode != 0 and "--range" in r.stderr
    assert "INCLUSIVE" in vellum("video", "frames", "--help").stdout
