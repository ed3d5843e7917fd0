"""ONNX Runtime's telemetry never runs: one module imports onnxruntime and turns it off first.

onnxruntime 1.2x+ on Linux writes ``$XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime/
deviceid`` (and looks up a telemetry host) unless ``ORT_DISABLE_TELEMETRY=1`` is set before it
loads. Each command runs in a subprocess with its own HOME and XDG folders and *without*
``ORT_DISABLE_TELEMETRY`` in its environment (this test process may have set it), so what is
checked is the app's own doing. The slow test traces ``connect``/``sendto`` with strace on
``models doctor``, ``segment`` (the real LiteMedSAM pack), ``track`` (real NanoTrack v2 on a
shared video) and ``vellum --demo`` (offscreen, stopped after 10 s).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from test_inference_tiny_models import medsam_pack

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
THE_ONE = "app/inference/runtime.py"


def home_env(tmp: Path, **extra: str) -> dict[str, str]:
    """An environment with HOME and the XDG folders inside ``tmp`` and no telemetry switch."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORT_DISABLE_TELEMETRY", "VELLUM_MODELS_DIR")}
    env.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "home" / ".cache"),
               XDG_DATA_HOME=str(tmp / "home" / ".local" / "share"),
               XDG_CONFIG_HOME=str(tmp / "home" / ".config"),
               VELLUM_MODELS_DIR=str(tmp / "models"), QT_QPA_PLATFORM="offscreen", **extra)
    (tmp / "home").mkdir(exist_ok=True)
    return env


def deviceids(tmp: Path) -> list[Path]:
    return sorted(tmp.rglob("deviceid"))


def vellum(*args: str | Path, env: dict[str, str],
           timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


# -- one importer -------------------------------------------------------------------------


def _imports_onnxruntime(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
                a.name.split(".")[0] == "onnxruntime" for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == (
                "onnxruntime"):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and node.args and isinstance(
                node.args[0], ast.Constant) and str(node.args[0].value).split(".")[0] == (
                "onnxruntime"):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__", "find_spec"):
                lines.append(node.lineno)
    return lines


def test_only_the_runtime_module_imports_onnxruntime():
    files = [p for folder in ("app", "benchmarks", "scripts")
             for p in (REPO / folder).rglob("*.py")] + [REPO / "build_installer.spec"]
    found = {}
    for path in files:
        if path.is_file():
            lines = _imports_onnxruntime(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                found[str(path.relative_to(REPO))] = lines
    assert set(found) == {THE_ONE}, found


def test_the_runtime_sets_the_switch_before_importing(tmp_path):
    code = ("import os, sys\nassert 'onnxruntime' not in sys.modules\n"
            "from app.inference.runtime import load_onnxruntime, telemetry_status\n"
            "assert 'onnxruntime' not in sys.modules, 'imported too early'\n"
            "load_onnxruntime()\nprint(os.environ['ORT_DISABLE_TELEMETRY'])\n"
            "print(telemetry_status()['off'])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=home_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "True"]
    assert deviceids(tmp_path) == []


# -- no device id -------------------------------------------------------------------------


def test_models_doctor_says_telemetry_is_off_and_no_deviceid_appears(tmp_path):
    env = home_env(tmp_path)
    done = vellum("models", "doctor", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "telemetry: off (ORT_DISABLE_TELEMETRY=1" in done.stdout
    assert deviceids(tmp_path) == []
    report = json.loads(vellum("models", "doctor", "--json", env=env).stdout)
    assert report["telemetry"]["off"] is True
    assert deviceids(tmp_path) == []


def test_doctor_says_so_when_onnxruntime_was_loaded_behind_its_back(tmp_path):
    """The check is real: onnxruntime imported before Vellum's module makes doctor warn."""
    code = ("import sys, onnxruntime\nfrom app.inference.doctor import doctor, format_doctor\n"
            "r = doctor(open_models=False)\nprint('\\n'.join(format_doctor(r)))\n"
            "sys.exit(0 if r['telemetry']['off'] else 3)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=home_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "telemetry: NOT OFF" in done.stdout and "imported before Vellum" in done.stdout


def test_import_and_segment_write_no_deviceid(tmp_path):
    env = home_env(tmp_path)
    pack = medsam_pack(tmp_path / "pack")
    done = vellum("models", "import", pack, env=env)
    assert done.returncode == 0, done.stderr
    assert deviceids(tmp_path) == [], "models import started onnxruntime's telemetry"
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (60, 80, 3), np.uint8))
    done = vellum("segment", image, "--model", "tiny-medsam", "--box", "10", "10", "30", "20",
                  "-o", tmp_path / "mask.png", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mask.png").is_file()
    assert deviceids(tmp_path) == [], "segment started onnxruntime's telemetry"


# -- the acceptance trace -----------------------------------------------------------------


def _traced(tmp: Path, name: str, argv: list[str], env: dict[str, str],
            timeout: float = 600) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``argv`` under ``strace -f -e trace=connect,sendto``; the call lines it wrote."""
    out = tmp / f"{name}.strace"
    done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect,sendto", "-e",
                           "signal=none", "-o", str(out), *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in out.read_text().splitlines() if "connect(" in ln or "sendto(" in ln]
    return done, lines


def _inet(lines: list[str]) -> list[str]:
    return [ln for ln in lines if "AF_INET" in ln]  # AF_INET and AF_INET6; AF_UNIX is fine


@pytest.mark.slow
def test_no_network_call_and_no_deviceid_under_strace(tmp_path):
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    litemedsam, v2 = SHARED / "models" / "litemedsam", SHARED / "models" / "nanotrack" / "v2"
    video, image = SHARED / "data" / "video" / "track_patch.mp4", (
        SHARED / "data" / "images" / "coins.png")
    for needed in (litemedsam, v2, video, image):
        if not needed.exists():
            pytest.skip(f"{needed} is absent on this machine")
    env = home_env(tmp_path)
    py = [sys.executable, "-m", "app"]
    # the control: strace sees a connect call (AF_UNIX, to nowhere: no network is touched)
    _, control = _traced(tmp_path, "control", [sys.executable, "-c", (
        "import socket; socket.socket(socket.AF_UNIX).connect_ex('/nonexistent-vellum')")],
        env)
    assert any("AF_UNIX" in ln and "nonexistent-vellum" in ln for ln in control), control
    runs = {
        "import-litemedsam": py + ["models", "import", str(litemedsam)],
        "import-nanotrack": py + ["models", "import", str(v2)],
        "doctor": py + ["models", "doctor"],
        "segment": py + ["segment", str(image), "--model", "litemedsam", "--box", "40", "40",
                         "120", "120", "-o", str(tmp_path / "mask.png")],
        "track": py + ["track", str(video), "--model", "nanotrack-v2", "--box", "285", "137",
                       "70", "70", "--start", "0", "--end", "20", "--json"],
    }
    for name, argv in runs.items():
        done, lines = _traced(tmp_path, name, argv, env)
        assert done.returncode == 0, (name, done.stderr[-2000:])
        assert _inet(lines) == [], (name, _inet(lines))
        assert deviceids(tmp_path) == [], name
    # the window on the demo project, stopped after 10 s (exit 124 from timeout)
    done, lines = _traced(tmp_path, "demo", ["timeout", "-k", "5", "10", *py, "--demo"], env)
    assert done.returncode == 124, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert _inet(lines) == [], _inet(lines)
    assert deviceids(tmp_path) == []
