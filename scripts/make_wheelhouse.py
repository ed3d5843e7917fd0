#!/usr/bin/env python3
"""Build an offline wheelhouse for Vellum on a connected machine: one folder holding Vellum's
own wheel, every dependency for a named target (Python version, platform tags), the build
backend (so a source checkout installs offline too) and, with ``--gpu``, the CUDA and cuDNN
runtime wheels ONNX Runtime's CUDA provider loads; plus ``SHA256SUMS`` and ``INSTALL.txt``.

Carry the folder to the offline machine, check it and install (no network is touched)::

    cd WHEELHOUSE && sha256sum -c SHA256SUMS
    python3 -m pip install --no-index --find-links WHEELHOUSE vellum

Uses only the standard library and pip (run it with any Python >= 3.9 that has pip; the
target can differ from this interpreter). Independent of Vellum: it never imports ``app``.

Targets: without ``--python-version``/``--platform`` the wheelhouse is for this interpreter
and machine. Otherwise pip downloads for the given tags; note that pip still evaluates
environment markers (``platform_system``, ``platform_machine``) on *this* machine, so build a
Linux wheelhouse on Linux and a Windows one on Windows (same CPU architecture).

Examples::

    python scripts/make_wheelhouse.py --out /tmp/wheelhouse
    python scripts/make_wheelhouse.py --out /tmp/wh-rhel8 --python-version 3.11 --glibc 2.28
    python scripts/make_wheelhouse.py --out /tmp/wh-gpu --gpu
    py -3.11 scripts\\make_wheelhouse.py --out C:\\wheelhouse --platform win_amd64
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GPU_REQUIREMENT = "onnxruntime-gpu[cuda,cudnn]"
SKIP_COPY = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache",
             "screenshots", "out"}


def build_requires(source: Path) -> list[str]:
    """``[build-system] requires`` of the project (the build backend pip needs from source)."""
    text = (source / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib

        return list(tomllib.loads(text).get("build-system", {}).get("requires", []))
    except ImportError:  # Python < 3.11: the one list we need, read plainly
        block = re.search(r"\[build-system\][^\[]*?requires\s*=\s*\[(.*?)\]", text, re.S)
        return re.findall(r"[\"']([^\"']+)[\"']", block.group(1)) if block else []


def manylinux_tags(glibc: str, arch: str) -> list[str]:
    """Every manylinux tag a machine with ``glibc`` (e.g. '2.28') accepts, newest first: pip's
    ``--platform`` takes tags literally and does not add the older ones."""
    major, minor = (int(x) for x in glibc.split(".")[:2])
    if major != 2 or minor < 5:
        raise SystemExit(f"--glibc {glibc}: expected 2.5 or newer, like 2.28")
    tags = [f"manylinux_2_{m}_{arch}" for m in range(minor, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags += [f"{name}_{arch}" for m, name in legacy.items() if m <= minor]
    return tags


def copy_source(source: Path, dest: Path) -> Path:
    """A clean copy of the source tree (so a stale ``build/`` never leaks into the wheel and
    the checkout gains no build folders)."""
    files: list[str] | None = None
    if (source / ".git").exists() and shutil.which("git"):
        done = subprocess.run(["git", "-C", str(source), "ls-files", "-co", "--exclude-standard",
                               "-z"], capture_output=True)
        if done.returncode == 0:
            files = [f for f in done.stdout.decode().split("\0") if f]
    target = dest / "src"
    if files is None:
        shutil.copytree(source, target, ignore=lambda d, names: [
            n for n in names if n in SKIP_COPY or n.endswith(".egg-info")])
        return target
    for name in files:
        src = source / name
        if src.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / name)
    return target


def run(cmd: list[str], quiet: bool) -> None:
    print("+ " + " ".join(cmd), flush=True)
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL if quiet else None)
    if done.returncode != 0:
        raise SystemExit(f"failed (exit {done.returncode}): {' '.join(cmd)}")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_sums(out: Path) -> Path:
    names = sorted(p.name for p in out.iterdir() if p.is_file() and p.name != "SHA256SUMS")
    sums = out / "SHA256SUMS"
    sums.write_text("".join(f"{sha256(out / n)}  {n}\n" for n in names), encoding="utf-8")
    return sums


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Install on the offline machine with:\n  python3 -m pip "
                                 "install --no-index --find-links WHEELHOUSE vellum")
    ap.add_argument("--out", required=True, type=Path, help="the wheelhouse folder (created)")
    ap.add_argument("--source", type=Path, default=ROOT,
                    help="Vellum's source folder (default: this checkout)")
    ap.add_argument("--python", default=sys.executable,
                    help="the Python whose pip builds and downloads (default: this one)")
    ap.add_argument("--python-version", help="target Python, e.g. 3.11 (default: this one)")
    ap.add_argument("--platform", action="append", default=[],
                    help="target platform tag, repeatable (win_amd64, manylinux_2_28_x86_64...)")
    ap.add_argument("--glibc", help="target Linux glibc, e.g. 2.28: adds every manylinux tag "
                    "it accepts (x86_64 unless --arch)")
    ap.add_argument("--arch", default=platform.machine() or "x86_64",
                    help="CPU architecture for --glibc (default: this machine's)")
    ap.add_argument("--gpu", action="store_true",
                    help=f"add {GPU_REQUIREMENT}: the CUDA and cuDNN runtime wheels (1.3 GB more)")
    ap.add_argument("--extra", action="append", default=[],
                    help="also collect a Vellum extra, e.g. test (repeatable)")
    ap.add_argument("--constraint", type=Path, action="append", default=[],
                    help="pip constraints file, e.g. pinning PySide6-Essentials==6.9.3 (the "
                    "newest manylinux_2_28 Qt) for glibc 2.28 targets")
    ap.add_argument("--wheel", type=Path,
                    help="use this Vellum wheel instead of building one from --source")
    ap.add_argument("--quiet", action="store_true", help="less pip output")
    args = ap.parse_args(argv)

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    py = args.python
    pip = [py, "-m", "pip"]
    q = ["-q"] if args.quiet else []

    # 1. Vellum's own wheel, built from a clean copy of the source.
    if args.wheel:
        wheel = out / args.wheel.name
        if args.wheel.resolve() != wheel:
            shutil.copy2(args.wheel, wheel)
    else:
        for old in out.glob("vellum-*.whl"):
            old.unlink()
        with tempfile.TemporaryDirectory(prefix="vellum-wheel-") as tmp:
            src = copy_source(args.source.resolve(), Path(tmp))
            run(pip + ["wheel", *q, "--no-deps", "--wheel-dir", str(out), str(src)], args.quiet)
        wheels = sorted(out.glob("vellum-*.whl"))
        if not wheels:
            raise SystemExit("building Vellum's wheel made no vellum-*.whl")
        wheel = wheels[-1]

    # 2. Every dependency (and the build backend) for the target, wheels only.
    target: list[str] = []
    platforms = list(args.platform)
    if args.glibc:
        platforms += manylinux_tags(args.glibc, args.arch)
    for tag in platforms:
        target += ["--platform", tag]
    if args.python_version:
        target += ["--python-version", args.python_version, "--implementation", "cp"]
    for c in args.constraint:
        target += ["--constraint", str(c.resolve())]
    extras = f"[{','.join(args.extra)}]" if args.extra else ""
    wanted = [f"{wheel}{extras}"] + ([GPU_REQUIREMENT] if args.gpu else [])
    run(pip + ["download", *q, "--only-binary=:all:", "--dest", str(out), *target, *wanted],
        args.quiet)
    backend = build_requires(args.source.resolve())
    if backend:
        run(pip + ["download", *q, "--only-binary=:all:", "--dest", str(out), *target,
                   *backend], args.quiet)

    # 3. Checksums and the one command that installs it.
    names = sorted(p.name for p in out.iterdir() if p.is_file() and p.suffix == ".whl")
    command = "python3 -m pip install --no-index --find-links WHEELHOUSE vellum" + (
        f' "{GPU_REQUIREMENT}"' if args.gpu else "")
    described = (f"Python {args.python_version or '.'.join(map(str, sys.version_info[:2]))}, "
                 f"platform {', '.join(platforms) or 'of the machine that built it'}")
    (out / "INSTALL.txt").write_text(
        f"Vellum offline wheelhouse ({wheel.name}; {len(names)} wheels; {described}"
        f"{'; with the CUDA/cuDNN runtime wheels' if args.gpu else ''}).\n\n"
        "On the offline machine (WHEELHOUSE = this folder):\n\n"
        "  cd WHEELHOUSE && sha256sum -c SHA256SUMS\n"
        "  python3 -m venv ~/vellum-env && . ~/vellum-env/bin/activate\n"
        f"  {command}\n"
        "  vellum --version && vellum models doctor\n\n"
        "From a source checkout instead of the wheel (the build backend is here too):\n\n"
        "  python3 -m pip install --no-index --find-links WHEELHOUSE ./vellum-source\n",
        encoding="utf-8")
    write_sums(out)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"Wheelhouse {out}: {len(names)} wheels, {size / 1e6:.0f} MB, SHA256SUMS written.")
    print(f"Install offline: {command.replace('WHEELHOUSE', str(out))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
