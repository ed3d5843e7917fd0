"""The display proxy (``vellum video prepare``): proxy frame N is ffmpeg's frame N scaled to
the proxy size, for every frame of every hard case; a build resumes, stops, notices stale
content, keeps to its budget; the CLI spellings; bad input is one sentence.

The reference is ffmpeg's frame N (``-fps_mode passthrough``, RGB) resized to the proxy size
with ``cv2.INTER_AREA``. A frame passes when it is within 30 dB of that and closer to it than
to ffmpeg's frames N-1 and N+1 wherever those differ from N by more than the proxy's own
coding error (no off-by-one; two frames closer than that, e.g. a still scene, cannot be told
apart by any lossy proxy).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_video_decoder import CASES, _make_media, ffmpeg_count, ffmpeg_frames, psnr

from app.core.errors import VellumError

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="ffmpeg is the reference and is not installed")

_MEDIA: dict[str, Path] = {}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """The decoder tests' hard cases (edit lists, rotation, VFR, open GOP TS, ...)."""
    if not _MEDIA:
        _MEDIA.update(_make_media(tmp_path_factory.mktemp("proxy_media")))
    return _MEDIA


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Each test has its own cache folder (indexes and proxies)."""
    monkeypatch.setenv("VELLUM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("VELLUM_PROXY_MB", raising=False)


@pytest.fixture
def small_chunks(monkeypatch):
    """16-frame chunks, so the 48-frame clips have three."""
    from app.io.video import proxy_build

    monkeypatch.setattr(proxy_build, "CHUNK_FRAMES", 16)


def vellum(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def check_every_frame(path: Path, frames: list[int] | None = None) -> int:
    """Build the proxy of ``path`` and compare the given frames (default: all) with
    ffmpeg's; returns how many were compared."""
    from app.io.video.proxy import build_proxy, open_proxy

    info = build_proxy(path)
    count = ffmpeg_count(path)
    assert info.complete and info.frame_count == count, (path.name, info, count)
    wanted = list(range(count)) if frames is None else frames
    ref = ffmpeg_frames(path, {j for i in wanted for j in (i - 1, i, i + 1) if 0 <= j < count})
    with open_proxy(path, partial=False) as proxy:
        w, h = proxy.size
        assert max(w, h) <= 1280 and w % 2 == 0 and h % 2 == 0
        small = {i: cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
                 for i, f in ref.items()}
        for n in wanted:
            ours = proxy.frame(n)
            assert ours.shape == (h, w, 3) and ours.dtype == np.uint8
            here = psnr(ours, small[n])
            assert here >= 30, f"{path.name} frame {n}: {here:.1f} dB against ffmpeg's"
            for m in (n - 1, n + 1):
                # a neighbour closer to N than the proxy's coding error cannot be told apart
                if m in small and psnr(small[m], small[n]) < here:
                    assert psnr(ours, small[m]) < here, f"{path.name} frame {n} looks like {m}"
    return len(wanted)


# ----------------------------------------------------------------------------- exactness
FAST_CASES = ["bframes", "editlist", "rotate90", "opengop_ts", "vfr"]


@pytest.mark.parametrize("case", FAST_CASES)
def test_every_frame_matches_ffmpeg(media, case):
    check_every_frame(media[case])


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if c not in FAST_CASES])
def test_every_frame_matches_ffmpeg_all_cases(media, case):
    check_every_frame(media[case])


SHARED = ["bikes.mp4", "cfr_h264_bframes.mp4", "vfr_h264.mkv", "bigbuckbunny.mp4",
          "track_patch.mp4"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SHARED)
def test_every_frame_of_shared_videos_matches_ffmpeg(shared_data, name):
    """All frames (the five shared videos are 5-12 s each)."""
    assert check_every_frame(shared_data / "video" / name) == ffmpeg_count(
        shared_data / "video" / name)


def test_shared_video_sample_matches_ffmpeg(shared_data):
    """A quick sample of a shared 720p video: chunk edges, keyframe intervals, the end."""
    path = shared_data / "video" / "bikes.mp4"
    count = ffmpeg_count(path)
    check_every_frame(path, sorted({0, 1, 7, 8, 9, 63, 64, 100, count - 2, count - 1}))


def test_proxy_size_rules():
    from app.io.video.proxy import proxy_size

    assert proxy_size(1920, 1080) == (1280, 720)
    assert proxy_size(3840, 2160) == (1280, 720)
    assert proxy_size(1080, 1920) == (720, 1280)
    assert proxy_size(640, 360) == (640, 360)  # never upscaled
    assert proxy_size(161, 97) == (160, 96)  # even, never larger than the source
    assert proxy_size(1281, 721) == (1280, 720)
    for w, h in ((1283, 100), (4096, 2160), (7, 5), (2, 2000)):
        pw, ph = proxy_size(w, h)
        assert pw % 2 == ph % 2 == 0 and max(pw, ph) <= 1280 and pw >= 2 and ph >= 2


def test_rotated_video_has_displayed_proxy_size(media):
    from app.io.video.proxy import build_proxy, open_proxy

    build_proxy(media["rotate90"])
    with open_proxy(media["rotate90"]) as p:
        assert p.size == (96, 160) == p.source_size and p.scale == 1.0


# ----------------------------------------------------------------------------- reading
def test_stepping_forward_does_not_seek_and_back_is_cached(media, small_chunks):
    from app.io.video.proxy import build_proxy, open_proxy

    build_proxy(media["bframes"])
    with open_proxy(media["bframes"]) as p:
        p.frame(20)
        seeks, decoded = p.seeks, p.decoded
        for n in range(21, 31):
            p.frame(n)
        assert p.seeks == seeks and p.decoded == decoded + 10
        for n in range(30, 22, -1):  # the last keyframe interval is kept decoded
            p.frame(n)
        assert p.decoded == decoded + 10
        p.clear_cache()
        p.frame(45)  # a jump decodes from its keyframe (every 8th frame) only
        assert p.seeks == seeks + 1 and p.decoded == decoded + 10 + (45 - 40 + 1)


def test_frame_errors_are_sentences(media):
    from app.io.video.proxy import build_proxy, open_proxy

    build_proxy(media["vfr"])
    with open_proxy(media["vfr"]) as p:
        for bad in (-1, p.frame_count, 2.5, "x"):
            with pytest.raises(VellumError, match="vfr.mkv"):
                p.frame(bad)
    with pytest.raises(VellumError, match="has been closed"):
        p.frame(0)


# ----------------------------------------------------------------------------- building
def _count_writes(monkeypatch) -> list[int]:
    from app.io.video import proxy_build

    written: list[int] = []
    real = proxy_build.write_chunk

    def spy(folder, k, header, packets):
        written.append(k)
        return real(folder, k, header, packets)

    monkeypatch.setattr(proxy_build, "write_chunk", spy)
    return written


def test_cancel_then_resume_builds_only_missing_chunks(media, small_chunks, monkeypatch):
    from app.io.video.proxy import build_proxy, open_proxy, proxy_state

    path = media["bframes"]  # 48 frames: chunks 0-15, 16-31, 32-47
    written = _count_writes(monkeypatch)
    seen: list[tuple[int, int]] = []
    asked = [0]

    def stop() -> bool:
        asked[0] += 1
        return asked[0] > 20  # frames 0-19 encoded: chunk 0 whole, chunk 1 cut short

    info = build_proxy(path, should_stop=stop, progress=lambda d, t: seen.append((d, t)))
    assert info.stopped and not info.complete and info.chunks_built == 1 and written == [0]
    assert info.done_frames == 16 and seen[-1] == (16, 48)
    state = proxy_state(path)
    assert (state.state, state.done, state.total) == ("partial", 16, 48)
    folder = Path(info.folder)
    assert sorted(p.name for p in folder.glob("chunk-*")) == ["chunk-000000.vpc"]
    assert not list(folder.glob(".chunk-*"))  # nothing half-written is left
    with open_proxy(path) as p:
        assert p.ready(15) and not p.ready(16) and not p.ready(47) and not p.complete
        assert p.nearest_ready(40) == 15 and p.nearest_ready(3) == 3
        with pytest.raises(VellumError, match="not prepared"):
            p.frame(16)
        assert open_proxy(path, partial=False) is None

    written.clear()
    info = build_proxy(path)
    assert info.complete and info.chunks_built == 2 and sorted(written) == [1, 2]
    assert proxy_state(path).state == "ready"
    written.clear()
    assert build_proxy(path).chunks_built == 0 and written == []


def test_a_damaged_chunk_is_built_again(media, small_chunks):
    from app.io.video.proxy import build_proxy, open_proxy

    path = media["vfr"]
    folder = Path(build_proxy(path).folder)
    chunk = folder / "chunk-000001.vpc"
    chunk.write_bytes(chunk.read_bytes()[:-10])
    with open_proxy(path) as p:
        with pytest.raises(VellumError, match="prepare it again"):
            p.frame(17)
    info = build_proxy(path)
    assert info.chunks_built == 1
    check_every_frame(path)


def test_stale_proxy_is_ignored_and_rebuilt(media, tmp_path, small_chunks):
    from app.io.video.proxy import build_proxy, open_proxy, proxy_state

    path = tmp_path / "clip.mp4"
    shutil.copyfile(media["bframes"], path)
    first = build_proxy(path)
    assert open_proxy(path) is not None
    # the file changes: another content, another fingerprint
    path.unlink()
    shutil.copyfile(media["editlist"], path)
    assert open_proxy(path) is None and proxy_state(path).state == "none"
    again = build_proxy(path)
    assert again.folder != first.folder and again.chunks_built == again.chunk_count
    check_every_frame(path)
    # a manifest that names other content (or is damaged) is not trusted
    manifest = Path(again.folder) / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "fingerprint": "sha256:" + "0" * 64}))
    assert open_proxy(path) is None
    assert build_proxy(path).chunks_built == again.chunk_count
    manifest.write_text(json.dumps({**data, "frame_count": data["frame_count"] + 1}))
    assert open_proxy(path) is None


def test_budget_evicts_least_recently_used_never_one_in_use(media, monkeypatch, tmp_path):
    from app.io.video import proxy_store
    from app.io.video.proxy import build_proxy, open_proxy

    monkeypatch.setenv("VELLUM_CACHE_DIR", str(tmp_path / "elsewhere"))
    new = build_proxy(media["rotate90"]).bytes  # what the next proxy will take
    monkeypatch.setenv("VELLUM_CACHE_DIR", str(tmp_path / "cache"))
    infos = {c: build_proxy(media[c]) for c in ("bframes", "vfr", "duplicated")}
    size = {c: i.bytes for c, i in infos.items()}
    for age, c in enumerate(("bframes", "vfr", "duplicated")):  # oldest first
        os.utime(Path(infos[c].folder) / "used", (1000 + age, 1000 + age))
    # room for all but half of one: the next build must remove one (the oldest not open)
    assert size["vfr"] > 16384
    monkeypatch.setattr(proxy_store, "budget_bytes", lambda: sum(size.values()) + new + 8192
                        - size["vfr"] // 2)
    reading = open_proxy(media["bframes"])  # the oldest, but open: kept
    try:
        build_proxy(media["rotate90"])
        assert Path(infos["bframes"].folder).is_dir()
        assert not Path(infos["vfr"].folder).exists()  # the oldest not in use went
        assert reading.frame(3).shape == (96, 160, 3)
    finally:
        reading.close()
    # one proxy alone over the budget: stopped with a sentence, what was built stays usable
    monkeypatch.setattr(proxy_store, "budget_bytes", lambda: 1)
    with pytest.raises(VellumError, match="VELLUM_PROXY_MB"):
        build_proxy(media["opengop_ts"])


def test_budget_comes_from_the_environment(monkeypatch):
    from app.io.video.proxy_store import budget_bytes

    assert budget_bytes() == 20000 << 20
    monkeypatch.setenv("VELLUM_PROXY_MB", "300")
    assert budget_bytes() == 300 << 20
    monkeypatch.setenv("VELLUM_PROXY_MB", "lots")
    assert budget_bytes() == 20000 << 20


def test_frames_that_do_not_decode_are_recorded_not_faked(media, monkeypatch, small_chunks):
    """A build over damaged data keeps what decodes and says which frames are missing."""
    from app.io.video import reader as reader_mod
    from app.io.video.proxy import build_proxy, open_proxy, proxy_state

    bad = {20, 21}
    real_frames, real_frame = reader_mod.VideoReader.frames, reader_mod.VideoReader.frame

    def frames(self, start=0, stop=None, step=1):
        for n, rgb in real_frames(self, start, stop, step):
            if n in bad:
                raise VellumError(f"Frame {n} of {self.path} cannot be decoded (test).")
            yield n, rgb

    def frame(self, n):
        if n in bad:
            raise VellumError(f"Frame {n} of {self.path} cannot be decoded (test).")
        return real_frame(self, n)

    monkeypatch.setattr(reader_mod.VideoReader, "frames", frames)
    monkeypatch.setattr(reader_mod.VideoReader, "frame", frame)
    info = build_proxy(media["bframes"])
    assert info.complete and info.missing == [20, 21]
    assert proxy_state(media["bframes"]).missing == 2
    with open_proxy(media["bframes"]) as p:
        assert not p.ready(20) and not p.ready(21) and p.ready(19) and p.ready(22)
        assert p.nearest_ready(20) == 19 and p.nearest_ready(21) == 22
        with pytest.raises(VellumError, match="could not be decoded"):
            p.frame(20)
    monkeypatch.setattr(reader_mod.VideoReader, "frames", real_frames)
    monkeypatch.setattr(reader_mod.VideoReader, "frame", real_frame)
    ref = ffmpeg_frames(media["bframes"], [19, 22, 23])
    with open_proxy(media["bframes"]) as p:
        for n in (19, 22, 23):
            assert psnr(p.frame(n), ref[n]) >= 30


# ----------------------------------------------------------------------------- CLI
def test_cli_prepare_frame_jumps_info(media, tmp_path):
    path = media["opengop_ts"]
    out = tmp_path / "f.png"
    r = vellum("video", "frame", path, "5", out, "--proxy")
    assert r.returncode != 0 and "is not prepared" in r.stderr and str(path) in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = vellum("video", "info", path)
    assert "proxy: not prepared" in r.stdout

    r = vellum("video", "prepare", path, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["complete"] and info["frame_count"] == ffmpeg_count(path) == 48
    assert (info["width"], info["height"]) == (160, 96) and info["bytes"] > 0
    r = vellum("video", "prepare", path)
    assert r.returncode == 0 and "48 frames" in r.stdout and "were ready already" in r.stdout

    r = vellum("video", "frame", path, "5", out, "--proxy")
    assert r.returncode == 0, r.stderr
    png = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert psnr(png, ffmpeg_frames(path, [5])[5]) >= 30
    r = vellum("video", "frame", path, "6", "-o", tmp_path / "g.png")  # the old spelling
    assert r.returncode == 0, r.stderr

    r = vellum("video", "jumps", path, "--count", "5", "--seed", "3", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["count"] == 5 and j["seed"] == 3 and len(j["frames"]) == 5
    assert j["source"]["median_ms"] > 0 and j["proxy"]["p95_ms"] > 0 and j["ratio_median"] > 0
    r = vellum("video", "jumps", path, "--count", "4")
    assert r.returncode == 0 and "source/proxy" in r.stdout

    r = vellum("video", "info", path, "--json")
    assert json.loads(r.stdout)["proxy"]["state"] == "ready"
    assert "proxy: prepared" in vellum("video", "info", path).stdout


@pytest.mark.parametrize("kind", ["missing", "fifo", "garbage", "empty", "folder"])
def test_cli_bad_input_is_one_sentence(tmp_path, kind):
    path = tmp_path / "bad.mp4"
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this system")
        os.mkfifo(path)
    elif kind == "garbage":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    for args in (("prepare", path), ("frame", path, "0", tmp_path / "o.png", "--proxy"),
                 ("jumps", path, "--count", "2")):
        r = vellum("video", *args)
        assert r.returncode != 0 and "Traceback" not in r.stderr, (kind, args, r.stderr)
        assert str(path) in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_truncated_video_prepares_what_decodes(media):
    from app.io.video.proxy import build_proxy

    for case in ("truncated_mp4", "truncated_ts"):
        info = build_proxy(media[case])
        assert info.complete and info.frame_count == ffmpeg_count(media[case])


def test_open_proxy_refuses_bad_paths(tmp_path):
    from app.io.video.proxy import open_proxy, proxy_state

    with pytest.raises(VellumError, match="does not exist"):
        open_proxy(tmp_path / "none.mp4")
    with pytest.raises(VellumError, match="none.mp4"):
        proxy_state(tmp_path / "none.mp4")


def test_vellum_add_prepare_prepares_the_added_videos(media, tmp_path):
    """``vellum add PROJECT VIDEO --prepare``: the video is added and its proxy is ready."""
    from app.io.video.proxy import proxy_state

    clip = shutil.copy(media["bframes"], tmp_path / "clip.mp4")
    assert vellum("new", tmp_path / "p").returncode == 0
    done = vellum("add", tmp_path / "p", clip, "--prepare")
    assert done.returncode == 0, done.stderr
    assert "prepared clip.mp4" in done.stdout
    assert proxy_state(clip).state == "ready"
