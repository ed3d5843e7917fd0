"""Video input that is not what its name says, damaged, or not a file at all never kills,
hangs or tracebacks Vellum; every case runs the CLI in a child process.

* A still image named ``.mp4`` (a PNG with an ICC profile, a JPEG, a one-frame GIF) and a
  one-frame MP4 are one-frame videos, as ffmpeg counts them; so are PNG frames with an ICC
  profile in a MOV (FFmpeg names the profile in side data PyAV frees twice when it is read).
* A bit-flipped or cut MPEG-TS is read (with notes) or refused in one sentence naming it.
* A FIFO or ``/dev/zero`` given as a video is refused without being opened (never blocks).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from test_bad_input import assert_clean_failure
from test_video_decoder import ffmpeg_count

W, H = 64, 48


def run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """``vellum ARGS`` in a child process; a hang fails the test (TimeoutExpired)."""
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_survived(r: subprocess.CompletedProcess) -> None:
    """Ended by itself (no signal such as SIGSEGV) and without a traceback."""
    assert r.returncode >= 0, f"killed by signal {-r.returncode}: {r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr[-2000:]


def picture() -> np.ndarray:
    return (np.arange(H * W * 3) % 251).astype(np.uint8).reshape(H, W, 3)


# ----------------------------------------------------------------------------- stills
def png_with_icc(name: bytes = b"Test profile") -> bytes:
    """A PNG with an ``iCCP`` chunk: FFmpeg's decoder attaches the profile as side data and
    names it in that side data's own metadata dictionary."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(picture(), cv2.COLOR_RGB2BGR))
    assert ok
    png = buf.tobytes()
    body = name + b"\x00\x00" + zlib.compress(bytes(range(256)) * 4)
    chunk = struct.pack(">I", len(body)) + b"iCCP" + body \
        + struct.pack(">I", zlib.crc32(b"iCCP" + body))
    end = 8 + 25  # signature + IHDR
    return png[:end] + chunk + png[end:]


def _write_png_mov(path: Path, png: bytes, frames: int) -> None:
    """``frames`` copies of one PNG picture as the packets of a MOV (PNG video)."""
    import av

    with av.open(str(path), "w", format="mov") as out:
        st = out.add_stream("png", rate=25)
        st.width, st.height, st.pix_fmt = W, H, "rgb24"
        for i in range(frames):
            p = av.Packet(png)
            p.stream, p.pts, p.dts, p.time_base = st, i, i, Fraction(1, 25)
            p.is_keyframe = True
            out.mux(p)


def _encode(path: Path, fmt: str, codec: str, pix_fmt: str, frames: int) -> None:
    import av

    with av.open(str(path), "w", format=fmt) as out:
        st = out.add_stream(codec, rate=10)
        st.width, st.height, st.pix_fmt = W, H, pix_fmt
        for _ in range(frames):
            f = av.VideoFrame.from_ndarray(picture(), format="rgb24").reformat(format=pix_fmt)
            for p in st.encode(f):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def make_still(kind: str, folder: Path) -> tuple[Path, int]:
    """A file named as a video holding ``kind``, and the frames it has."""
    path = folder / ("clip.mov" if kind == "png_frames_in_mov" else "still.mp4")
    if kind == "png_with_icc_profile":
        path.write_bytes(png_with_icc())
        return path, 1
    if kind == "jpeg":
        ok, buf = cv2.imencode(".jpg", picture())
        path.write_bytes(buf.tobytes())
        return path, 1
    if kind == "gif":
        _encode(path, "gif", "gif", "rgb8", 1)
        return path, 1
    if kind == "one_frame_mp4":
        import av

        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        _encode(path, "mp4", codec, "yuv420p", 1)
        return path, 1
    _write_png_mov(path, png_with_icc(), 3)
    return path, 3


STILLS = ["png_with_icc_profile", "jpeg", "gif", "one_frame_mp4", "png_frames_in_mov"]


@pytest.mark.parametrize("kind", STILLS)
def test_a_still_image_named_as_video_is_a_one_frame_video(tmp_path, kind):
    path, frames = make_still(kind, tmp_path)
    if shutil.which("ffmpeg"):
        assert ffmpeg_count(path) == frames  # the count Vellum follows
    r = run("video", "info", path, "--json")
    assert_survived(r)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["frame_count"], info["width"], info["height"]) == (frames, W, H)
    out = tmp_path / "frame.png"
    r = run("video", "frame", path, frames - 1, "-o", out)
    assert_survived(r)
    assert r.returncode == 0, r.stderr
    got = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    if kind in ("png_with_icc_profile", "png_frames_in_mov"):  # lossless: the same pixels
        assert np.array_equal(got, picture())
    else:
        assert got.shape == (H, W, 3)


@pytest.mark.parametrize("kind", ["png_with_icc_profile", "png_frames_in_mov"])
def test_add_takes_a_still_named_as_video_as_a_video(tmp_path, kind):
    """File ▸ Add and ``vellum add`` run the same probe (plan_media)."""
    path, frames = make_still(kind, tmp_path)
    proj = tmp_path / "proj"
    assert run("new", proj).returncode == 0
    r = run("add", proj, path)
    assert_survived(r)
    assert r.returncode == 0, r.stderr
    assert "Added 1 video" in r.stdout
    r = run("info", proj)
    assert_survived(r)
    assert r.returncode == 0, r.stderr


# ----------------------------------------------------------------------------- damaged TS
@pytest.fixture(scope="module")
def transport_stream(tmp_path_factory) -> bytes:
    """A shared video remuxed to MPEG-TS by ffmpeg."""
    # (not 'from conftest import': tests/fuzz has a conftest module of its own)
    SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

    src = SHARED_DATA / "video" / "bikes.mp4"
    if not src.is_file():
        pytest.skip(f"{src} is absent on this machine")
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg (to remux the video to MPEG-TS) is not installed")
    out = tmp_path_factory.mktemp("ts") / "bikes.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-c", "copy",
                    "-f", "mpegts", str(out)], check=True, timeout=120)
    return out.read_bytes()


def bit_flipped(data: bytes, seed: int, flips: int = 200) -> bytes:
    """``flips`` bits flipped in the headers of random 188-byte TS packets (PIDs, counters,
    adaptation fields, PES headers): some make the demuxer find streams that were not there
    when the file was opened."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(flips):
        at = 188 * rng.randrange(len(out) // 188) + rng.randrange(24)
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


DAMAGE = [f"flip{seed}" for seed in range(6)] + ["cut0.001", "cut0.3", "cut0.9"]


def damaged(data: bytes, damage: str) -> bytes:
    if damage.startswith("flip"):
        return bit_flipped(data, int(damage[4:]))
    return data[:max(int(len(data) * float(damage[3:])), 1)]


@pytest.mark.parametrize("damage", DAMAGE)
def test_video_info_of_a_damaged_transport_stream_reports_or_refuses(tmp_path, transport_stream,
                                                                     damage):
    path = tmp_path / f"{damage}.ts"
    path.write_bytes(damaged(transport_stream, damage))
    r = run("video", "info", path, timeout=120)
    assert_survived(r)
    if r.returncode:
        assert_clean_failure(r, str(path))
    else:
        assert str(path) in r.stdout and "frames" in r.stdout


def test_add_of_damaged_transport_streams_adds_with_notes_or_skips_them(tmp_path,
                                                                        transport_stream):
    paths = []
    for damage in DAMAGE:
        paths.append(tmp_path / f"{damage}.ts")
        paths[-1].write_bytes(damaged(transport_stream, damage))
    proj = tmp_path / "proj"
    assert run("new", proj).returncode == 0
    r = run("add", proj, *paths, timeout=300)
    assert_survived(r)
    skipped = [ln for ln in r.stderr.splitlines() if ln.startswith("skipped: ")]
    assert all(ln.startswith(("skipped: ", "note: ")) for ln in r.stderr.splitlines()), r.stderr
    added = len(paths) - len(skipped)
    assert (f"Added {added} video" in r.stdout) if added else "Added nothing" in r.stdout
    for ln in skipped:  # one sentence naming the file
        assert any(p.name in ln for p in paths), ln
    r = run("info", proj)
    assert_survived(r)
    assert r.returncode == 0, r.stderr


def test_damaged_timestamps_do_not_cost_the_other_files_of_an_add(tmp_path, transport_stream):
    """A flipped PES header makes a timestamp go backwards: that video is added with a note
    (and no frame times), and the rest of the same add is not refused with it."""
    bad, good = tmp_path / "flip2.ts", tmp_path / "cut0.9.ts"
    bad.write_bytes(damaged(transport_stream, "flip2"))
    good.write_bytes(damaged(transport_stream, "cut0.9"))
    proj = tmp_path / "proj"
    assert run("new", proj).returncode == 0
    r = run("add", proj, bad, good, timeout=300)
    assert_survived(r)
    assert r.returncode == 0, r.stderr
    assert "Added 2 videos" in r.stdout
    assert any(ln.startswith("note: flip2.ts: Timestamps go backwards")
               for ln in r.stderr.splitlines()), r.stderr
    r = run("video", "info", bad)
    assert r.returncode == 0 and "go backwards" in r.stdout, r.stdout + r.stderr


# ----------------------------------------------------------------------------- not files
@pytest.fixture
def fifo(tmp_path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    path = tmp_path / "pipe.mp4"
    os.mkfifo(path)
    return path


def _special(which: str, fifo_path: Path) -> tuple[Path, str]:
    if which == "fifo":
        return fifo_path, "named pipe"
    if not Path("/dev/zero").exists():
        pytest.skip("/dev/zero is absent")
    return Path("/dev/zero"), "character device"


@pytest.mark.parametrize("which", ["fifo", "dev_zero"])
@pytest.mark.parametrize("command", ["info", "frame", "frames"])
def test_video_commands_refuse_a_fifo_or_device_without_blocking(tmp_path, fifo, which,
                                                                 command):
    path, words = _special(which, fifo)
    args = {"info": ("video", "info", path),
            "frame": ("video", "frame", path, 0, "-o", tmp_path / "f.png"),
            "frames": ("video", "frames", path, tmp_path / "frames")}[command]
    r = run(*args)
    assert_clean_failure(r, str(path), words)
    assert not (tmp_path / "f.png").exists() and not (tmp_path / "frames").exists()


@pytest.mark.parametrize("which", ["fifo", "dev_zero"])
def test_add_refuses_a_fifo_or_device_named_as_video_without_blocking(tmp_path, fifo, which):
    path, _ = _special(which, fifo)
    proj = tmp_path / "proj"
    assert run("new", proj).returncode == 0
    r = run("add", proj, path)
    assert_survived(r)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln]
    assert len(lines) == 1 and str(path) in lines[0], r.stderr
    assert "Added nothing" in r.stdout

