"""Fuzz ``vellum add`` and ``vellum video info`` with damaged H.264 MP4/MKV, VP9 WebM and
MPEG-2 TS files (see tests/fuzz/README.md)."""

import pytest

from fuzz_case_media import add_video, video_info

pytestmark = pytest.mark.slow


def test_fuzz_add_mp4(fuzzer):
    fuzzer.run("add_mp4", 30, add_video(("clip.mp4",)))


def test_fuzz_add_webm_mkv(fuzzer):
    fuzzer.run("add_webm_mkv", 30, add_video(("clip.webm", "clip.mkv")))


def test_fuzz_add_ts(fuzzer):
    fuzzer.run("add_ts", 25, add_video(("clip.ts",)))


def test_fuzz_video_info(fuzzer):
    fuzzer.run("video_info", 40, video_info)
