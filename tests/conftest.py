"""Shared test setup: Qt renders offscreen (no display in CI); paths to ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests that import onnxruntime themselves (not through app.inference.runtime) must not
# write its telemetry device id into the runner's home either.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory) -> None:
    """Video indexes and embedding caches of the tests go to a temporary folder, never the
    user's ~/.cache/vellum (subprocesses inherit it through the environment)."""
    os.environ["VELLUM_CACHE_DIR"] = str(tmp_path_factory.mktemp("vellum-cache"))


@pytest.fixture(autouse=True)
def _collect_cycles_on_the_main_thread():
    """Once a window has moved cyclic garbage collection to the UI thread's timer
    (app/widgets/ui_gc.py), a test that never spins the event loop collects nothing: collect
    after each test (on this, the main thread) so a long run's cycles never pile up."""
    yield
    import gc

    if not gc.isenabled():
        gc.collect()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data; the test is skipped (with the reason) only where the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent on this machine")
    return SHARED_DATA


# ---------------------------------------------------------------- CI is strict about skips
# A newcomer's clone without ../shared or pytest-qt skips those tests, with the reason. CI
# (CI=true) has both by construction: there such a skip means the checks did not run, so it
# is an error, never a quiet pass.
_MUST_RUN = ("is absent", "../shared", "shared/", "pytestqt", "pytest-qt", "pytest_qt",
             "datumaro", "labelme", "dcmqi", "dciodvfy", "highdicom",  # issue 18's references
             "Chromium", "no Xvfb", "no OpenGL")  # the HTML report, the 3D view (.ci/run)


def _strict() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _forbidden(reason: str) -> bool:
    return any(word in reason for word in _MUST_RUN)


def _reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _strict() and report.skipped and _forbidden(_reason(report.longrepr)):
        report.outcome = "failed"
        report.longrepr = f"CI=true, so this may not be skipped: {_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if _strict() and report.skipped and _forbidden(_reason(report.longrepr)):
        report.outcome = "failed"
        report.longrepr = f"CI=true, so this may not be skipped: {_reason(report.longrepr)}"
