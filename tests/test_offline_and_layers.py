"""Non-negotiables: nothing opens a network connection; app/core and app/io never import Qt."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _workflow(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, str(Path(__file__).with_name(
        "offline_workflow.py")), *args], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_full_workflow_opens_no_socket(tmp_path, shared_data):
    last = _workflow(str(tmp_path), str(shared_data / "images"), str(shared_data))
    assert last == "NETWORK-EVENTS: []", last


def test_the_audit_hook_does_see_a_socket():
    """Positive control: the hook that finds nothing above does see a socket being made."""
    assert "socket.__new__" in _workflow("--control")


def test_core_io_inference_and_tools_never_import_qt():
    """Every module (subpackages too) of the Qt-free rooms, imported in a fresh interpreter:
    no Qt module gets loaded."""
    code = ("import pkgutil, importlib, sys, app.core, app.io, app.inference, app.tools\n"
            "for pkg in (app.core, app.io, app.inference, app.tools):\n"
            "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
            "        importlib.import_module(m.name)\n"
            "bad = sorted(n for n in sys.modules if n.startswith(('PySide6', 'PyQt', 'shiboken')))\n"
            "print(bad)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


NETWORK_MODULES = {"socket", "ssl", "urllib", "http", "requests", "httpx", "aiohttp",
                   "ftplib", "smtplib", "xmlrpc", "websocket", "websockets", "webbrowser",
                   "asyncio", "socketserver"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a source file imports: import statements (anywhere, nested too) and
    literal names given to importlib.import_module / __import__."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("import_module", "__import__"):
                out.append((node.lineno, node.args[0].value))
    return out


# app/_offline.py imports socket only to switch urllib3's import-time IPv6 probe off
ALLOWED_IMPORTS = {("app/_offline.py", "socket")}


def test_no_module_of_the_app_imports_a_networking_library():
    offenders = [f"{p.relative_to(REPO)}:{line} imports {name}"
                 for p in sorted((REPO / "app").rglob("*.py")) for line, name in _imports(p)
                 if (name.split(".")[0] in NETWORK_MODULES or "QtNetwork" in name)
                 and (p.relative_to(REPO).as_posix(), name) not in ALLOWED_IMPORTS]
    assert offenders == []


def test_libraries_that_probe_the_network_stack_on_import_make_no_socket():
    """pydicom imports requests when it is installed (supervision needs it), and urllib3
    binds an IPv6 socket on import to learn whether the system has IPv6: with the app's
    import hook (app/_offline.py) no socket is made; without it (control) one is."""
    pytest.importorskip("urllib3")
    code = ("import sys\n"
            "events = []\n"
            "sys.addaudithook(lambda e, a: e.startswith('socket.') and events.append(e))\n"
            "import {first}\n"
            "import pydicom, urllib3.util.connection\n"
            "print(events)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    quiet = subprocess.run([sys.executable, "-c", code.format(first="app")],
                           capture_output=True, text=True, env=env, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "[]"
    control = subprocess.run([sys.executable, "-c", code.format(first="os")],
                             capture_output=True, text=True, env=env, timeout=120)
    assert "socket.__new__" in control.stdout, control.stdout


def test_the_import_scan_would_catch_every_form(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from urllib import request\n"
                      "import importlib\nimportlib.import_module('socket')\n"
                      "from PySide6 import QtNetwork\n")
    names = [n for _, n in _imports(sample)]
    assert "urllib" in names and "socket" in names and "PySide6.QtNetwork" in names


def test_core_depends_on_nothing_else_in_the_app():
    offenders = [f"{p.relative_to(REPO)}:{line} imports {name}"
                 for p in sorted((REPO / "app" / "core").rglob("*.py"))
                 for line, name in _imports(p)
                 if name.startswith("app.") and not name.startswith("app.core")]
    assert offenders == []
