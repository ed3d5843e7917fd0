"""`vellum self-test`: one step for an IT person. It passes on this machine (quick and, with
the shared model packs installed, full), prints a table that fits 80 columns and a JSON list
that parses; a failing check (a model folder that is a file, a Qt plugin that cannot load, a
socket opened meanwhile) makes it exit non-zero with a sentence naming what to change, never a
traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
NAMES = ("Qt platform plugin", "fonts", "data folder writable", "model folder writable",
         "open image (PNG, JPEG)", "open video (H.264, B-frames)", "open DICOM series",
         "open DICOM (RLE lossless)", "open DICOM (JPEG 2000)", "open NIfTI volume",
         "export COCO, read back", "export MOT, read back", "export NIfTI labels, read back",
         "model manifests", "ONNX Runtime (built-in graph)", "telemetry off",
         "no network socket opened")


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HOME": str(tmp / "home"), "XDG_DATA_HOME": str(tmp / "data"),
                "XDG_CACHE_HOME": str(tmp / "cache"), "VELLUM_MODELS_DIR": str(tmp / "models"),
                "QT_QPA_PLATFORM": "offscreen", **extra})
    return env


def vellum(*args: str, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_quick_self_test_passes_prints_an_80_column_table_and_json(tmp_path):
    env = _env(tmp_path)
    done = vellum("self-test", "--quick", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["check", "result", "device", "ms"]
    # (a path longer than a line stays whole on its own line, so it can be copied)
    assert all(len(line) <= 80 or " " not in line.strip() for line in lines), \
        max(lines, key=len)
    rows = {line[:34].strip(): line[34:].split() for line in lines[2:] if line[:34].strip()}
    for name in NAMES:
        assert rows[name][0] == "pass", (name, rows.get(name))
        assert rows[name][-1].isdigit()  # the time in ms
    assert rows["ONNX Runtime (built-in graph)"][1] in ("CPU", "GPU")  # the provider used
    assert lines[-1].startswith(f"All {len(NAMES)} checks passed")
    # nothing left behind: no sample, no folder made in the user's data folder
    assert not (tmp_path / "data").exists() and not (tmp_path / "models").exists()

    done = vellum("self-test", "--quick", "--json", env=env)
    assert done.returncode == 0, done.stderr
    checks = json.loads(done.stdout)
    assert [c["check"] for c in checks] == list(NAMES)
    for c in checks:
        assert set(c) >= {"check", "result", "ok", "device", "ms", "detail"}
        assert c["ok"] is True and c["result"] == "pass" and c["detail"]
        assert isinstance(c["ms"], int) and c["ms"] >= 0
    by = {c["check"]: c for c in checks}
    assert "B-frames" in by["open video (H.264, B-frames)"]["detail"]
    assert "RLE Lossless" in by["open DICOM (RLE lossless)"]["detail"]
    assert "JPEG 2000" in by["open DICOM (JPEG 2000)"]["detail"]


def test_a_model_folder_that_is_a_file_fails_its_check_and_names_the_variable(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    done = vellum("self-test", "--quick", env=_env(tmp_path, VELLUM_MODELS_DIR=str(blocker)))
    assert done.returncode == 3, done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    row = next(line for line in done.stdout.splitlines()
               if line.startswith("model folder writable"))
    assert row.split()[3] == "FAIL"
    problems = " ".join(done.stdout.split("\n\n")[1].split())  # the sentences, unwrapped
    assert f"The model folder {blocker} is not writable" in problems
    assert "set VELLUM_MODELS_DIR to a writable folder" in problems
    assert done.stdout.splitlines()[-1].startswith("1 of 17 checks failed")

    done = vellum("self-test", "--quick", "--json",
                  env=_env(tmp_path, VELLUM_MODELS_DIR=str(blocker)))
    assert done.returncode == 3
    failed = [c for c in json.loads(done.stdout) if not c["ok"]]
    assert [c["check"] for c in failed] == ["model folder writable"]
    assert "VELLUM_MODELS_DIR" in failed[0]["detail"]


def test_a_data_folder_that_cannot_be_written_names_xdg_data_home(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = vellum("self-test", "--quick", "--json",
                  env=_env(tmp_path, XDG_DATA_HOME=str(blocker)))
    assert done.returncode == 3
    failed = {c["check"]: c["detail"] for c in json.loads(done.stdout) if not c["ok"]}
    assert "XDG_DATA_HOME" in failed["data folder writable"]
    assert str(blocker / "vellum") in failed["data folder writable"]


def test_a_qt_platform_plugin_that_cannot_load_is_one_sentence(tmp_path):
    done = vellum("self-test", "--quick", "--json",
                  env=_env(tmp_path, QT_QPA_PLATFORM="nosuchplatform"))
    assert done.returncode == 3
    failed = {c["check"]: c["detail"] for c in json.loads(done.stdout) if not c["ok"]}
    assert list(failed) == ["Qt platform plugin"]
    assert "QT_QPA_PLATFORM=nosuchplatform" in failed["Qt platform plugin"]


def test_the_socket_check_fails_when_anything_opens_a_network_socket():
    from app.selftest import Context, Step, run_step
    from app.selftest.netguard import NetworkGuard
    from app.selftest.system_checks import check_sockets

    with NetworkGuard() as guard:
        ctx = Context(quick=True)
        ctx.samples["guard"] = guard
        (clean,) = run_step(Step("no network socket opened", check_sockets), ctx)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # made, never connected
        s.close()
        (dirty,) = run_step(Step("no network socket opened", check_sockets), ctx)
    assert clean.ok, clean.detail
    assert not dirty.ok and "IPv4 socket was made" in dirty.detail
    with NetworkGuard() as later:  # a guard sees only what happens while it is open
        pass
    assert later.network == []


def test_the_table_fits_80_columns_whatever_the_names_and_sentences():
    from app.selftest import Check, format_table

    checks = [Check("a very long check name that goes on and on and on", False,
                    "word " * 60 + "/a/path/" * 30, "GPU (TensorRT) on a long device name",
                    1234567),
              Check("short", True, "fine", "CPU", 3)]
    lines = format_table(checks)
    # (a path longer than a line stays whole on its own line, so it can be copied)
    assert all(len(line) <= 80 or " " not in line.strip() for line in lines), \
        max(lines, key=len)
    assert lines[-1] == "1 of 2 checks failed (1234.6 s)."


def test_the_built_in_graph_is_computed_by_onnx_runtime_as_numpy_does():
    import numpy as np

    from app.inference.runtime import Runtime, RuntimeOptions
    from app.selftest.model_checks import tiny_graph

    data, x, want = tiny_graph()
    ort = Runtime(RuntimeOptions(providers=("CPUExecutionProvider",)))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.onnx"
        path.write_bytes(data)
        (got,) = ort.session(path).run(None, {"x": x})
    assert np.allclose(got, want, atol=1e-5) and (want > 0).any() and (want == 0).any()


def test_full_self_test_runs_each_installed_model_once(tmp_path):
    needed = [SHARED_MODELS / "litemedsam", SHARED_MODELS / "nanotrack" / "v2"]
    for folder in needed:
        if not folder.is_dir():
            pytest.skip(f"{folder} is absent on this machine")
    env = _env(tmp_path)
    for folder in needed:
        done = vellum("models", "import", str(folder), env=env)
        assert done.returncode == 0, done.stderr
    done = vellum("self-test", "--json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    by = {c["check"]: c for c in json.loads(done.stdout)}
    for model in ("litemedsam", "nanotrack-v2"):
        check = by[f"model {model}"]
        assert check["ok"], check
        assert check["device"] in ("CPU", "GPU (CUDA)", "GPU (TensorRT)"), check
        assert "not run" not in check["detail"]
    assert "segmented the sample box" in by["model litemedsam"]["detail"]
    assert "tracked the sample square" in by["model nanotrack-v2"]["detail"]
    done = vellum("self-test", "--quick", "--json", env=env)  # quick: present, not run
    by = {c["check"]: c for c in json.loads(done.stdout)}
    assert by["model litemedsam"]["ok"] and "not run" in by["model litemedsam"]["detail"]
