"""Frame N of the decoder is ffmpeg's frame N: same count, same picture (PSNR > 40 dB, and
lower against the neighbouring frames), on the shared videos and on tiny videos made here for
each hard case (edit list, rotation, open GOP in MPEG-TS with a start offset, a TS cut
mid-stream, VFR with jitter, duplicated timestamps, HEVC 10-bit, VP9, truncated files).

The reference is the ffmpeg command itself: ``ffmpeg -i F -map 0:v:0 -fps_mode passthrough``
(autorotate on, as by default) writing RGB. Other test files import ``video_media``,
``ffmpeg_count`` and ``ffmpeg_frames`` from here.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="ffmpeg is the reference and is not installed")

W, H = 160, 96
SRC = ["-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25"]


# ----------------------------------------------------------------------------- reference
def ffmpeg_count(path: Path) -> int:
    """Frames ``ffmpeg -map 0:v:0 -fps_mode passthrough`` outputs."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0",
                          "-fps_mode", "passthrough", "-f", "null", "-", "-progress", "pipe:1"],
                         capture_output=True, text=True, timeout=120).stdout
    return int([line for line in out.splitlines() if line.startswith("frame=")][-1][6:])


def _read_ppms(data: bytes) -> list[np.ndarray]:
    out, i = [], 0
    while i < len(data):
        fields: list[bytes] = []
        while len(fields) < 4:
            while data[i:i + 1].isspace():
                i += 1
            j = i
            while not data[j:j + 1].isspace():
                j += 1
            fields.append(data[i:j])
            i = j
        i += 1  # one whitespace byte after maxval
        w, h = int(fields[1]), int(fields[2])
        out.append(np.frombuffer(data[i:i + w * h * 3], np.uint8).reshape(h, w, 3))
        i += w * h * 3
    return out


def ffmpeg_frames(path: Path, indices) -> dict[int, np.ndarray]:
    """ffmpeg's RGB pictures of the given frame indices (selected by output frame number)."""
    wanted = sorted(set(int(i) for i in indices))
    out: dict[int, np.ndarray] = {}
    for at in range(0, len(wanted), 40):  # ffmpeg's expressions stay short
        chunk = wanted[at:at + 40]
        sel = "+".join(f"eq(n\\,{i})" for i in chunk)
        data = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map",
                               "0:v:0", "-vf", f"select='{sel}'", "-fps_mode", "passthrough",
                               "-pix_fmt", "rgb24", "-f", "image2pipe", "-c:v", "ppm", "-"],
                              capture_output=True, timeout=120).stdout
        pics = _read_ppms(data)
        assert len(pics) == len(chunk), f"ffmpeg gave {len(pics)} of {len(chunk)} frames"
        out.update(zip(chunk, pics))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return 0.0
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def check_frames(path: Path, picks: int, seed: int = 0) -> None:
    """Count equals ffmpeg's; first, last and ``picks`` random frames match ffmpeg's."""
    from app.io.video import open_video

    count = ffmpeg_count(path)
    with open_video(path) as v:
        assert v.frame_count == count, f"{path.name}: {v.frame_count} frames, ffmpeg {count}"
        rng = random.Random(seed)
        pool = list(range(count))
        rng.shuffle(pool)
        chosen = sorted(set([0, count - 1] + pool[:picks]))
        rng.shuffle(chosen)  # random access order, not sequential
        ref = ffmpeg_frames(path, {j for i in chosen for j in (i - 1, i, i + 1)
                                   if 0 <= j < count})
        g = v.geometry
        for n in chosen:
            ours = v.frame(n)
            assert ours.shape == (g.height, g.width, 3) == ref[n].shape, (path.name, n)
            here = psnr(ours, ref[n])
            assert here > 40, f"{path.name} frame {n}: {here:.1f} dB against ffmpeg's"
            for m in (n - 1, n + 1):
                if m in ref and not np.array_equal(ref[m], ref[n]):
                    assert psnr(ours, ref[m]) < here, f"{path.name} frame {n} looks like {m}"


# ----------------------------------------------------------------------------- the videos
def _ff(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=120)


def picture(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A frame that differs clearly from its neighbours: gradient, number, moving block."""
    import cv2

    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // w + i * 7) % 256, (y * 255 // h + i * 13) % 256,
                    np.full_like(x, (i * 37) % 256)], -1).astype(np.uint8)
    cv2.putText(img, str(i), (10, 70), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 4)
    left = (i * 5) % (w - 20)
    cv2.rectangle(img, (left, 5), (left + 15, 20), (0, 0, 0), -1)
    return img


def _pyav_write(path: Path, pts_ms: list[int], options: dict[str, str],
                rotation: float | None = None) -> None:
    import av

    tb = Fraction(1, 1000)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.time_base = s.codec_context.time_base = tb
        s.options = options
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i, t in enumerate(pts_ms):
            f = av.VideoFrame.from_ndarray(picture(i), format="rgb24")
            f.pts, f.time_base = t, tb
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)


def _cut_bytes(src: Path, dst: Path, start: float, stop: float, align: int = 1) -> None:
    data = src.read_bytes()
    a = int(len(data) * start) // align * align
    dst.write_bytes(data[a:int(len(data) * stop)])


def _make_media(d: Path) -> dict[str, Path]:
    x264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    m: dict[str, Path] = {}
    m["bframes"] = d / "bframes.mp4"
    _ff(*SRC, "-frames:v", "48", *x264, "-bf", "3", "-g", "12", str(m["bframes"]))
    m["editlist"] = d / "editlist.mp4"  # stream copy from a non-keyframe: an edit list
    _ff("-ss", "0.5", "-i", str(m["bframes"]), "-c", "copy", str(m["editlist"]))
    m["editlist2"] = d / "editlist2.mp4"
    _ff("-ss", "0.3", "-i", str(m["bframes"]), "-t", "1.1", "-c", "copy", str(m["editlist2"]))
    for deg in (90, 180, 270):  # display matrix from the legacy rotate tag
        m[f"rotate{deg}"] = d / f"rotate{deg}.mp4"
        _ff("-i", str(m["bframes"]), "-c", "copy", "-metadata:s:v:0", f"rotate={deg}",
            str(m[f"rotate{deg}"]))
    m["rotate_pyav"] = d / "rotate_pyav.mp4"  # display matrix written by PyAV
    _pyav_write(m["rotate_pyav"], [i * 40 for i in range(12)], {"bf": "2"}, rotation=-90)
    m["opengop_ts"] = d / "opengop.ts"
    _ff(*SRC, "-frames:v", "48", *x264, "-bf", "3", "-x264-params",
        "open-gop=1:keyint=12:min-keyint=12:scenecut=0", "-output_ts_offset", "10", "-f",
        "mpegts", str(m["opengop_ts"]))
    m["ts_cut"] = d / "ts_cut.ts"  # a capture that starts mid-GOP
    _cut_bytes(m["opengop_ts"], m["ts_cut"], 0.37, 1.0, align=188)
    rng = random.Random(3)
    pts, t = [], 0
    for _ in range(40):
        pts.append(t)
        t += rng.choice([17, 33, 40, 50, 67])
    m["vfr"] = d / "vfr.mkv"
    _pyav_write(m["vfr"], pts, {"bf": "2", "g": "12"})
    dup = [i * 40 for i in range(30)]
    dup[10] = dup[9]
    m["duplicated"] = d / "duplicated.mkv"
    _pyav_write(m["duplicated"], dup, {"bf": "0", "g": "12"})
    m["hevc10"] = d / "hevc10.mkv"
    _ff(*SRC, "-frames:v", "24", "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params",
        "log-level=error:keyint=12", str(m["hevc10"]))
    m["vp9"] = d / "vp9.webm"
    _ff(*SRC, "-frames:v", "24", "-c:v", "libvpx-vp9", "-g", "12", "-b:v", "200k",
        "-deadline", "realtime", "-cpu-used", "8", str(m["vp9"]))
    faststart = d / "faststart.mp4"
    _ff("-i", str(m["bframes"]), "-c", "copy", "-movflags", "+faststart", str(faststart))
    m["truncated_mp4"] = d / "truncated.mp4"
    _cut_bytes(faststart, m["truncated_mp4"], 0.0, 0.6)
    mkv = d / "whole.mkv"
    _ff("-i", str(m["bframes"]), "-c", "copy", str(mkv))
    m["truncated_mkv"] = d / "truncated.mkv"
    _cut_bytes(mkv, m["truncated_mkv"], 0.0, 0.6)
    m["xvid_avi"] = d / "xvid.avi"  # MPEG-4 part 2 with packed B-frames
    _ff(*SRC, "-frames:v", "40", "-c:v", "libxvid", "-bf", "2", "-g", "12", str(m["xvid_avi"]))
    m["h264_avi"] = d / "h264.avi"  # AVI stores decode times only
    _ff(*SRC, "-frames:v", "40", *x264, "-bf", "3", "-g", "12", str(m["h264_avi"]))
    m["truncated_ts"] = d / "truncated.ts"
    _cut_bytes(m["opengop_ts"], m["truncated_ts"], 0.0, 0.7)
    return m


_MEDIA: dict[str, Path] = {}


@pytest.fixture(scope="session")
def video_media(tmp_path_factory) -> dict[str, Path]:
    """Tiny videos for each hard case, made once per test session."""
    if not _MEDIA:
        _MEDIA.update(_make_media(tmp_path_factory.mktemp("video_media")))
    return _MEDIA


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Each test builds its frame indexes in a cache folder of its own."""
    monkeypatch.setenv("VELLUM_CACHE_DIR", str(tmp_path / "cache"))


CASES = ["bframes", "editlist", "editlist2", "rotate90", "rotate180", "rotate270",
         "rotate_pyav", "opengop_ts", "ts_cut", "vfr", "duplicated", "hevc10", "vp9",
         "truncated_mp4", "truncated_mkv", "truncated_ts", "xvid_avi", "h264_avi"]
SHARED = ["bikes.mp4", "cfr_h264_bframes.mp4", "vfr_h264.mkv", "bigbuckbunny.mp4",
          "track_patch.mp4"]


# ----------------------------------------------------------------------------- acceptance
@pytest.mark.parametrize("case", CASES)
def test_made_videos_match_ffmpeg(video_media, case):
    check_frames(video_media[case], picks=5, seed=zlib.crc32(case.encode()))


@pytest.mark.parametrize("name", SHARED)
def test_shared_videos_match_ffmpeg(shared_data, name):
    check_frames(shared_data / "video" / name, picks=4)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_made_videos_match_ffmpeg_50_random(video_media, case):
    check_frames(video_media[case], picks=50, seed=7)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHARED)
def test_shared_videos_match_ffmpeg_50_random(shared_data, name):
    check_frames(shared_data / "video" / name, picks=50, seed=7)


def test_every_shared_video_is_covered(shared_data):
    """A video added to ../shared/data/video is checked too (count and three frames)."""
    for path in sorted((shared_data / "video").iterdir()):
        if path.name not in SHARED:
            check_frames(path, picks=1)


def test_rotation_is_ffmpegs_and_sizes_are_displayed(video_media):
    from app.io.video import open_video

    for deg, turned in ((90, True), (180, False), (270, True)):
        with open_video(video_media[f"rotate{deg}"]) as v:
            g = v.geometry
            assert (g.width, g.height) == ((H, W) if turned else (W, H))
            assert g.rotation in (90, 180, 270) and (g.rotation in (90, 270)) == turned
            assert v.frame(0).shape == (g.height, g.width, 3)
    with open_video(video_media["bframes"]) as v:
        assert v.geometry.rotation == 0 and (v.geometry.width, v.geometry.height) == (W, H)


def test_rotation_angle_follows_the_display_matrix(video_media):
    """Clockwise degrees = minus ffprobe's display-matrix rotation (counter-clockwise)."""
    from app.io.video import open_video

    for case in ("rotate90", "rotate180", "rotate270", "rotate_pyav"):
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                              "-show_entries", "stream_side_data=rotation", "-of",
                              "default=nw=1:nk=1", str(video_media[case])],
                             capture_output=True, text=True).stdout.split()
        ccw = int(float(out[0]))
        with open_video(video_media[case]) as v:
            assert v.geometry.rotation == (-ccw) % 360, case


def test_timestamps_are_ffprobes_from_the_first_frame(video_media):
    from app.io.video import open_video

    for case in ("vfr", "opengop_ts", "editlist", "bframes"):
        path = video_media[case]
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                              "-show_entries", "frame=pts_time", "-of", "csv=p=0",
                              str(path)], capture_output=True, text=True).stdout
        ref = np.array([float(x.split(",")[0]) for x in out.split()])
        with open_video(path) as v:
            assert len(ref) == v.frame_count
            assert np.allclose(v.timestamps, ref - ref[0], atol=1e-6), case
            assert v.timestamps[0] == 0.0
    with open_video(video_media["vfr"]) as v:
        assert v.geometry.is_vfr
    with open_video(video_media["bframes"]) as v:
        assert not v.geometry.is_vfr and abs(v.geometry.avg_fps - 25) < 1e-9


def test_avi_frame_times_are_ffmpegs_best_effort_times(video_media):
    """AVI has no presentation times: ffmpeg times frames by the decoder's best effort."""
    from app.io.video import open_video

    for case in ("xvid_avi", "h264_avi"):
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                              "-show_entries", "frame=best_effort_timestamp_time", "-of",
                              "csv=p=0", str(video_media[case])],
                             capture_output=True, text=True).stdout
        # (ffprobe leaves a frame it cannot time as N/A; Vellum times it one step on)
        ref = np.array([float(x.split(",")[0]) for x in out.split()
                        if x.split(",")[0] not in ("", "N/A")])
        with open_video(video_media[case]) as v:
            assert np.allclose(v.timestamps[:len(ref)], ref - ref[0], atol=1e-6), case
            assert not v.geometry.is_vfr


def test_keyframes_are_ffprobes(video_media):
    from app.io.video import open_video

    for case in ("bframes", "opengop_ts", "vp9", "editlist"):
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                              "-show_entries", "packet=pts,flags", "-of", "csv=p=0",
                              str(video_media[case])], capture_output=True, text=True).stdout
        keyed = {int(r.split(",")[0]): r.split(",")[1].startswith("K")
                 for r in out.split() if r.split(",")[0].lstrip("-").isdigit()
                 and "D" not in r.split(",")[1]}
        with open_video(video_media[case]) as v:
            assert v.keyframes.dtype == bool and len(v.keyframes) == v.frame_count
            ref = np.array([keyed[int(p)] for p in v.index.frame_pts])
            assert np.array_equal(v.keyframes, ref), case
