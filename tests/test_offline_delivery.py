"""Air-gapped delivery (issue 16): the wheelhouse and bundle scripts, the bundle's installer and
what ``models doctor`` says about a missing CUDA library. Fast checks here; the real wheelhouse
install and bundle build are in tests/test_offline_install_slow.py (marked slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.inference.cuda_libs import library_source, missing_library

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


@pytest.mark.parametrize("script", ["build_bundle.sh", "check_offline.sh", "bundle/install.sh"])
def test_shell_scripts_parse_and_explain_themselves(script):
    path = SCRIPTS / script
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    done = subprocess.run(["bash", str(path), "--help"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0 and len(done.stdout.splitlines()) >= 3, done.stderr
    assert os.access(path, os.X_OK), f"{script} is not executable"


@pytest.mark.parametrize("script", ["make_wheelhouse.py", "bundle/collect_licenses.py"])
def test_python_scripts_need_nothing_but_the_standard_library(script):
    done = subprocess.run([sys.executable, "-I", str(SCRIPTS / script), "--help"],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower() or "Run with" in done.stdout
    text = (SCRIPTS / script).read_text()
    assert "import app" not in text and "from app" not in text


def test_the_spec_compiles_and_names_the_runtime_hook():
    spec = (ROOT / "build_installer.spec").read_text()
    compile(spec, "build_installer.spec", "exec")
    assert "rthook_vellum.py" in spec and (SCRIPTS / "bundle" / "rthook_vellum.py").is_file()
    assert "copy_metadata" in spec and '"resources"' in spec


def test_manylinux_tags_cover_every_older_glibc():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import make_wheelhouse
    finally:
        sys.path.remove(str(SCRIPTS))
    tags = make_wheelhouse.manylinux_tags("2.28", "x86_64")
    assert tags[0] == "manylinux_2_28_x86_64" and "manylinux_2_17_x86_64" in tags
    assert "manylinux2014_x86_64" in tags and "manylinux_2_34_x86_64" not in tags
    assert any(r.startswith("setuptools") for r in make_wheelhouse.build_requires(ROOT))


def test_a_missing_gpu_library_names_what_provides_it():
    assert "cuDNN 9" in library_source("libcudnn.so.9")
    assert 'onnxruntime-gpu[cuda,cudnn]' in library_source("libcudnn.so.9")
    assert "CUDA 13" in library_source("libcublasLt.so.13")
    assert "CUDA 12" in library_source("/usr/lib/libcudart.so.12")
    assert "NVIDIA driver" in library_source("libcuda.so.1")
    assert "TensorRT 10" in library_source("libnvinfer.so.10")
    assert "cuDNN 9" in library_source("cudnn64_9.dll")
    assert library_source("libfoo.so.1") == ""


def test_the_frozen_apps_wrapper_is_seen_through():
    """PyInstaller's ctypes wrapper says 'Most likely this dynlib/dll was not found when the
    application was frozen'; the loader's own message under it names the library."""
    try:
        try:
            raise OSError("libcudnn.so.9: cannot open shared object file: No such file or "
                          "directory")
        except OSError as inner:
            raise OSError("Failed to load dynlib/dll '/opt/vellum/_internal/onnxruntime/capi/"
                          "libonnxruntime_providers_cuda.so'. Most likely this dynlib/dll "
                          "was not found when the application was frozen.") from inner
    except OSError as exc:
        assert missing_library(exc) == "libcudnn.so.9"
    assert missing_library(OSError("libcublasLt.so.13: cannot open shared object file")) \
        == "libcublasLt.so.13"


def _fake_bundle(folder: Path) -> Path:
    stage = folder / "vellum-0.0-linux-x86_64"
    app = stage / "vellum"
    (app / "_internal").mkdir(parents=True)
    exe = app / "vellum"
    exe.write_text("#!/bin/sh\necho vellum 0.0\n")
    exe.chmod(0o755)
    for name in ("install.sh", "vellum.desktop", "vellum.svg"):
        (stage / name).write_bytes((SCRIPTS / "bundle" / name).read_bytes())
    (stage / "install.sh").chmod(0o755)
    (stage / "BUNDLE.txt").write_text("oldest glibc: 2.17 (test)\n")
    subprocess.run("find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS",
                   shell=True, cwd=stage, check=True)
    return stage


def test_install_sh_installs_per_user_without_network_and_uninstalls(tmp_path):
    stage = _fake_bundle(tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    done = subprocess.run([str(stage / "install.sh"), "--user"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    app = home / ".local" / "opt" / "vellum"
    assert (app / "vellum").is_file() and (app / "_internal").is_dir()
    link = home / ".local" / "bin" / "vellum"
    assert link.is_symlink() and os.readlink(link) == str(app / "vellum")
    desktop = (home / ".local/share/applications/vellum.desktop").read_text()
    assert f"Exec={app}/vellum" in desktop and "@EXEC@" not in desktop
    assert (home / ".local/share/icons/hicolor/scalable/apps/vellum.svg").is_file()
    # a damaged copy is refused before anything is touched
    (stage / "vellum" / "vellum").write_text("#!/bin/sh\necho damaged\n")
    bad = subprocess.run([str(stage / "install.sh"), "--user"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 1 and "SHA256SUMS" in bad.stderr
    assert "damaged" not in (app / "vellum").read_text()
    gone = subprocess.run([str(stage / "install.sh"), "--user", "--uninstall"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert gone.returncode == 0 and not app.exists() and not link.is_symlink()


def test_install_sh_refuses_a_glibc_older_than_the_bundle_needs(tmp_path):
    stage = _fake_bundle(tmp_path / "unpacked")
    (stage / "BUNDLE.txt").write_text("oldest glibc: 9.99 (test)\n")
    done = subprocess.run([str(stage / "install.sh"), "--user", "--no-verify"],
                          env={"HOME": str(tmp_path), "PATH": os.environ["PATH"]},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "glibc 9.99" in done.stderr
    assert not (tmp_path / ".local" / "opt" / "vellum").exists()
