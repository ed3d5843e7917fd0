"""Non-negotiables: nothing opens a network connection; app/core and app/io never import Qt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_full_workflow_opens_no_socket(tmp_path, shared_data):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, str(Path(__file__).with_name(
        "offline_workflow.py")), str(tmp_path), str(shared_data / "images")],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last == "NETWORK-EVENTS: []", last


def test_core_and_io_never_import_qt():
    code = ("import pkgutil, importlib, sys, app.core, app.io\n"
            "for pkg in (app.core, app.io):\n"
            "    for m in pkgutil.iter_modules(pkg.__path__):\n"
            "        importlib.import_module(pkg.__name__ + '.' + m.name)\n"
            "bad = sorted(n for n in sys.modules if n.startswith(('PySide6', 'PyQt', 'shiboken')))\n"
            "print(bad)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_network_code_in_the_app():
    """No module of the app imports a networking library at all."""
    banned = ("import socket", "import urllib", "import requests", "import http.client",
              "from urllib", "from http", "QtNetwork", "import httpx", "import aiohttp")
    offenders = [f"{p.relative_to(REPO)}: {b}" for p in (REPO / "app").rglob("*.py")
                 for b in banned if b in p.read_text(encoding="utf-8")]
    assert offenders == []
