"""Fuzz ``vellum import yolo | voc | cvat | labelme`` with damaged copies of Vellum's own
exports (see tests/fuzz/README.md): every case answers in one sentence or imports, never a
traceback, a hang or a changed project after a refusal."""

import pytest

from fuzz_case_formats import import_cvat, import_labelme, import_voc, import_yolo

pytestmark = pytest.mark.slow


def test_fuzz_import_yolo(fuzzer):
    fuzzer.run("import_yolo", 40, import_yolo)


def test_fuzz_import_voc(fuzzer):
    fuzzer.run("import_voc", 40, import_voc)


def test_fuzz_import_cvat(fuzzer):
    fuzzer.run("import_cvat", 40, import_cvat)


def test_fuzz_import_labelme(fuzzer):
    fuzzer.run("import_labelme", 40, import_labelme)
