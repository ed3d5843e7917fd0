"""A real, non-editable install carries the model manifests: the wheel built from the sources
holds ``app/models/*.json``, and once it is installed into a fresh virtual environment (no
network; the dependencies are made visible from this environment through a ``.pth`` file),
``vellum models import`` of the shared LiteMedSAM and NanoTrack folders succeeds and ``vellum
models list`` shows them, with ``app`` imported from the installed wheel, not the checkout."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
SOURCES = ("app", "resources", "pyproject.toml", "README.md", "LICENSE")


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done


def _build_wheel(tmp: Path) -> Path:
    """Build the wheel offline from a copy of the sources (the checkout gets no build/)."""
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__",
                                                                           "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    import setuptools

    major = int(setuptools.__version__.split(".")[0])
    assert major >= 77, (f"setuptools {setuptools.__version__} cannot build this project "
                         "(it needs 77 or newer): install the test extras, pip install -e "
                         "'.[test]'")
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", str(dist), str(src)], cwd=tmp)
    (wheel,) = dist.glob("vellum-*.whl")
    return wheel


@pytest.mark.slow
def test_a_wheel_install_imports_the_shared_model_packs(tmp_path):
    litemedsam, nanotrack = SHARED_MODELS / "litemedsam", SHARED_MODELS / "nanotrack"
    for folder in (litemedsam, nanotrack):
        if not folder.is_dir():
            pytest.skip(f"{folder} is absent on this machine")
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    manifests = sorted(p.name for p in (REPO / "app" / "models").glob("*.json"))
    assert manifests == ["litemedsam.json", "nanotrack-v2.json", "nanotrack-v3.json",
                         "sam-vit-onnx.json"]
    assert {f"app/models/{m}" for m in manifests} <= names, sorted(names)[:20]
    assert "app/models/README.md" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    py, vellum = venv / "bin" / "python", venv / "bin" / "vellum"
    _run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir",
          str(wheel)])
    new_site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                        "['purelib'])"]).stdout.strip())
    ours = [p for p in {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}
            if Path(p).is_dir()]
    (new_site / "vellum-test-deps.pth").write_text("".join(f"{p}\n" for p in ours))

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), QT_QPA_PLATFORM="offscreen",
               VELLUM_MODELS_DIR=str(tmp_path / "models"))
    outside = tmp_path / "elsewhere"  # never the checkout: its app/ must not be imported
    outside.mkdir()
    where = json.loads(_run([str(py), "-c", "import json, app; from app.inference.manifest "
                             "import bundled_folder; print(json.dumps([app.__file__, "
                             "str(bundled_folder())]))"], cwd=outside, env=env).stdout)
    assert all(Path(p).is_relative_to(venv) for p in where), where

    done = _run([str(vellum), "models", "import", str(litemedsam)], cwd=outside, env=env)
    assert "Installed litemedsam (decoder, encoder)" in done.stdout and "complete" in done.stdout
    done = _run([str(vellum), "models", "import", str(nanotrack)], cwd=outside, env=env)
    for model_id in ("nanotrack-v2", "nanotrack-v3"):
        assert f"Installed {model_id} (backbone, head)" in done.stdout, done.stdout
    listing = json.loads(_run([str(vellum), "models", "list", "--json"], cwd=outside,
                              env=env).stdout)
    assert sorted(m["id"] for m in listing["models"] if m["complete"]) == [
        "litemedsam", "nanotrack-v2", "nanotrack-v3"]
    assert listing["importable"] == []
