"""Fuzz ``vellum models import`` with damaged manifests, model files and archives (folder,
.vellum-models zip, tar.gz; hostile members) (see tests/fuzz/README.md)."""

import pytest

from fuzz_case_models import models_import

pytestmark = pytest.mark.slow


def test_fuzz_models_import(fuzzer):
    fuzzer.run("models_import", 55, models_import)
