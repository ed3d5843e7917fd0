"""Fuzz ``vellum add`` and ``vellum volume info`` with damaged DICOM series (uncompressed, RLE,
JPEG 2000) and NIfTI files (see tests/fuzz/README.md)."""

import pytest

from fuzz_case_dicom import add_dicom
from fuzz_case_media import add_nifti, volume_info

pytestmark = pytest.mark.slow


def test_fuzz_add_dicom(fuzzer):
    fuzzer.run("add_dicom", 55, add_dicom)


def test_fuzz_add_nifti(fuzzer):
    fuzzer.run("add_nifti", 45, add_nifti)


def test_fuzz_volume_info(fuzzer):
    fuzzer.run("volume_info", 45, volume_info)
