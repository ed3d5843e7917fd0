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


@pytest.fixture
def shared_data() -> Path:
    """../shared/data; the test is skipped (with the reason) only where the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent on this machine")
    return SHARED_DATA
