"""Air-gapped delivery for real (slow; issue 16): build a wheelhouse for this machine, install
it into a fresh virtual environment inside a network namespace with no interfaces
(``unshare -n``), and check that Vellum works there; and build the CPU bundle with
``scripts/build_bundle.sh`` and check it the same way. Each needs the package index (to
collect the wheels; pip's cache makes a second run fast) and skips with the reason without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _index_reachable() -> str:
    """'' when pip's index answers, else why not."""
    url = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/") + "/pip/"
    try:
        with urllib.request.urlopen(url, timeout=10):
            return ""
    except Exception as exc:  # noqa: BLE001 - any failure means: cannot collect wheels here
        return f"the package index {url} is unreachable ({exc})"


def _no_network_allowed() -> str:
    if not shutil.which("unshare"):
        return "unshare is not installed"
    done = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    return "" if done.returncode == 0 else f"unshare -n is not allowed here ({done.stderr.strip()})"


def _offline_env() -> dict[str, str]:
    """No pip configuration (this machine's may point at local wheel folders), no PYTHONPATH
    (the checkout must not stand in for the installed package)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON")) and k != "VIRTUAL_ENV"}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


@pytest.fixture
def can_build():
    why = _index_reachable() or _no_network_allowed()
    if why:
        pytest.skip(why)


def test_wheelhouse_installs_and_runs_without_network(tmp_path, can_build):
    try:
        _wheelhouse_installs_and_runs_without_network(tmp_path)
    finally:  # ~1.5 GB: do not leave it in the temporary folder
        shutil.rmtree(tmp_path, ignore_errors=True)


def _wheelhouse_installs_and_runs_without_network(tmp_path):
    house = tmp_path / "wheelhouse"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_wheelhouse.py"),
                           "--out", str(house), "--quiet"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    names = {p.name.split("-")[0].lower() for p in house.glob("*.whl")}
    assert {"vellum", "setuptools", "numpy", "pyside6_essentials"} <= names, names
    assert (house / "SHA256SUMS").is_file() and (house / "INSTALL.txt").is_file()
    check = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=house)
    assert check.returncode == 0

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    env = _offline_env()
    # the README's command, with no network at all
    install = subprocess.run(["unshare", "-n", str(py), "-m", "pip", "install", "-q",
                              "--no-index", "--find-links", str(house), "vellum"],
                             env=env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    # and from a source checkout: the build backend (setuptools>=77) is in the wheelhouse too
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from make_wheelhouse import copy_source
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    src = copy_source(ROOT, tmp_path)
    source = subprocess.run(["unshare", "-n", str(py), "-m", "pip", "install", "-q",
                             "--no-index", "--find-links", str(house), "--no-deps",
                             "--force-reinstall", str(src)], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert source.returncode == 0, source.stderr[-3000:]

    checked = subprocess.run(["bash", str(ROOT / "scripts" / "check_offline.sh"),
                              str(venv / "bin" / "vellum")], env=env, capture_output=True,
                             text=True, timeout=600)
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
    assert "network: none" in checked.stdout and "offline check passed" in checked.stdout


def test_bundle_builds_and_runs_without_network(tmp_path, can_build):
    if not shutil.which("objdump"):
        pytest.skip("objdump (binutils) is not installed")
    try:
        _bundle_builds_and_runs_without_network(tmp_path)
    finally:  # ~3 GB (build environment, wheels, app, tarball)
        shutil.rmtree(tmp_path, ignore_errors=True)


def _bundle_builds_and_runs_without_network(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "build_bundle.sh"), "--variant",
                           "cpu", "--out", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert "network: none" in done.stdout and "offline check passed" in done.stdout
    (tarball,) = tmp_path.glob("vellum-*-linux-*.tar.gz")
    listing = subprocess.run(["tar", "-tzf", str(tarball)], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    top = listing[0].split("/")[0]
    for member in ("install.sh", "vellum.desktop", "vellum.svg", "SHA256SUMS", "BUNDLE.txt",
                   "vellum/vellum", "vellum/licenses/THIRD-PARTY.md",
                   "vellum/_internal/resources/fonts/DejaVuSans.ttf"):
        assert f"{top}/{member}" in listing, member
    assert any("onnxruntime-" in m and m.endswith("METADATA") for m in listing)
    assert not any("providers_cuda" in m for m in listing), "CPU bundle with the CUDA provider"
