"""Fuzz ``vellum add`` with damaged PNG, JPEG, TIFF and BMP files (see tests/fuzz/README.md)."""

import pytest

from fuzz_case_media import add_image

pytestmark = pytest.mark.slow


def test_fuzz_add_png(fuzzer):
    fuzzer.run("add_png", 35, add_image(".png"))


def test_fuzz_add_jpeg(fuzzer):
    fuzzer.run("add_jpeg", 35, add_image(".jpg"))


def test_fuzz_add_tiff(fuzzer):
    fuzzer.run("add_tiff", 35, add_image(".tif"))


def test_fuzz_add_bmp(fuzzer):
    fuzzer.run("add_bmp", 35, add_image(".bmp"))
