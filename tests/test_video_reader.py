"""VideoReader behaviour: exact frames from any thread, a byte-bounded cache, prefetch for
stepping, cheap previous frames, sequential iteration, clear errors."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest
from test_video_decoder import _private_cache, ffmpeg_frames, psnr, video_media  # noqa: F401

from app.core.errors import VellumError
from app.core.geometry import VideoGeometry
from app.io.video import open_video


def _wait(cond, timeout=10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_frames_are_read_only_rgb_in_display_orientation(video_media):
    with open_video(video_media["rotate90"]) as v:
        assert isinstance(v.geometry, VideoGeometry)
        assert VideoGeometry.from_json(v.geometry.to_json()) == v.geometry
        rgb = v.frame(3)
        assert rgb.dtype == np.uint8 and rgb.shape == (160, 96, 3)
        assert not rgb.flags.writeable
        with pytest.raises(ValueError):
            rgb[0, 0, 0] = 1
        assert not v.timestamps.flags.writeable and not v.keyframes.flags.writeable


def test_bad_frame_numbers_are_sentences(video_media):
    with open_video(video_media["bframes"]) as v:
        for bad in (-1, 48, 10**9, 2.5, "x", None):
            with pytest.raises(VellumError, match="bframes.mp4") as err:
                v.frame(bad)
            assert not isinstance(err.value, IndexError)
    v.close()
    with pytest.raises(VellumError, match="closed"):
        v.frame(0)


def test_many_threads_get_the_right_frames(video_media):
    path = video_media["opengop_ts"]
    with open_video(path, cache_bytes=20 * 160 * 96 * 3) as v:
        ref = ffmpeg_frames(path, range(v.frame_count))
        errors: list[str] = []

        def work(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(40):
                n = rng.randrange(v.frame_count)
                if rng.random() < 0.5:
                    v.prefetch(n, rng.choice((1, -1)))
                if psnr(v.frame(n), ref[n]) < 40:
                    errors.append(f"frame {n}")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors


def test_cache_stays_under_its_byte_cap(video_media):
    path = video_media["bframes"]
    cap = 6 * 160 * 96 * 3
    ref = ffmpeg_frames(path, range(48))
    with open_video(path, cache_bytes=cap) as v:
        rng = random.Random(1)
        for _ in range(60):
            n = rng.randrange(48)
            assert psnr(v.frame(n), ref[n]) > 40
            assert v.cache.nbytes <= cap
        v.prefetch(10, 1)
        time.sleep(0.2)
        assert v.cache.nbytes <= cap


def test_prefetch_decodes_the_next_frames(video_media):
    with open_video(video_media["bframes"]) as v:
        v.frame(20)
        v.prefetch(20, 1)
        assert _wait(lambda: all(v.cache.peek(m) == "rgb" for m in range(21, 25)))
        v.frame(30)
        v.frame(31)  # stepping forward hints by itself
        assert _wait(lambda: v.cache.peek(33) == "rgb")


def test_previous_frame_after_a_jump_needs_no_decoding(video_media):
    """Frames decoded on the way to a target stay cached (as decoder frames)."""
    with open_video(video_media["bframes"]) as v:
        # (no prefetching here: stepping back from 12 would decode the GOP before it in the
        # background, at a moment no test can pin, and that is not what is counted)
        v.prefetch = lambda *a, **k: None
        v.frame(22)  # its GOP starts at 12: 12..21 were decoded on the way
        decoded = v._session.decoded
        for n in range(21, 11, -1):
            v.frame(n)
        assert v._session.decoded == decoded


def test_backward_prefetch_reaches_into_the_previous_gop(video_media):
    with open_video(video_media["bframes"]) as v:
        v.frame(13)
        v.frame(12)  # stepping back: frames before the GOP start get decoded ahead
        assert _wait(lambda: v.cache.peek(11) is not None and v.cache.peek(8) is not None)


def test_sequential_iteration_matches_random_access(video_media):
    path = video_media["vfr"]
    with open_video(path) as v:
        got = list(v.frames(3, 30, 4))
        assert [n for n, _ in got] == list(range(3, 30, 4))
        for n, rgb in got:
            assert np.array_equal(rgb, v.frame(n))
        assert [n for n, _ in v.frames(v.frame_count - 2)] == [v.frame_count - 2,
                                                              v.frame_count - 1]
        assert list(v.frames(5, 5)) == []
        with pytest.raises(VellumError):
            list(v.frames(0, 10, 0))


def test_open_gop_leading_frames_after_a_seek(video_media):
    """Frames shown before an open-GOP keyframe but decoded after it come out right even
    when asked for first (the decoder starts one GOP earlier)."""
    path = video_media["opengop_ts"]
    with open_video(path) as v:
        keys = np.flatnonzero(v.keyframes)
        leading = [int(k) - i for k in keys[1:] for i in (1, 2, 3)]
        ref = ffmpeg_frames(path, leading)
    for n in leading:
        with open_video(path) as v:  # a fresh decoder each time: no history to lean on
            assert psnr(v.frame(n), ref[n]) > 40, n
