"""Fuzz ``vellum import coco``, ``import mot`` and ``import nifti`` (label map with its JSON and
ITK-SNAP tables) with damaged files (see tests/fuzz/README.md)."""

import pytest

from fuzz_case_labels import import_coco, import_mot, import_nifti

pytestmark = pytest.mark.slow


def test_fuzz_import_coco(fuzzer):
    fuzzer.run("import_coco", 75, import_coco)


def test_fuzz_import_mot(fuzzer):
    fuzzer.run("import_mot", 50, import_mot)


def test_fuzz_import_nifti(fuzzer):
    fuzzer.run("import_nifti", 50, import_nifti)
