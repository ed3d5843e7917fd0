"""Fixtures of the fuzz suite: the run's seed, one fork server and one set of seed files per
pytest process, and the :class:`Fuzzer` a test drives."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent):  # fuzz helpers; tests/ (factories, tiny model builders)
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from fuzz_harness import ForkServer  # noqa: E402
from fuzz_runner import Fuzzer  # noqa: E402


def _run_seed() -> int:
    """VELLUM_FUZZ_SEED if set; else one seed for the whole run (all xdist workers share the
    run's id), different on every run."""
    if os.environ.get("VELLUM_FUZZ_SEED"):
        return int(os.environ["VELLUM_FUZZ_SEED"])
    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if uid:
        return int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16)
    return int.from_bytes(os.urandom(4), "big")


SEED = _run_seed()


def pytest_report_header(config):
    return f"vellum fuzz seed: VELLUM_FUZZ_SEED={SEED}"


@pytest.fixture(scope="session")
def fuzz_server():
    if not hasattr(os, "fork") or not hasattr(os, "mkfifo"):
        pytest.skip("the fuzz suite forks its cases and makes FIFOs (POSIX only)")
    server = ForkServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def fuzz_seeds(tmp_path_factory):
    import logging
    import warnings

    import pydicom.config

    from fuzz_seeds import build

    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    logging.getLogger("pydicom").setLevel(logging.ERROR)  # it is asked to write odd values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build(tmp_path_factory.mktemp("fuzz-seeds"))


@pytest.fixture
def fuzzer(fuzz_server, fuzz_seeds, tmp_path) -> Fuzzer:
    return Fuzzer(SEED, fuzz_server, fuzz_seeds, tmp_path)
