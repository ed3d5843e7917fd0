"""Offline at import time: third-party modules that probe the network stack when imported are
imported with the probe switched off.

urllib3 (brought by ``requests``, which pydicom imports when it is installed, and which
supervision needs) creates an IPv6 socket and binds it to ``::1`` when it is imported, to learn
whether the system has IPv6. Nothing connects, but Vellum promises that no socket is ever
made: :func:`install` adds an import hook that imports ``urllib3.util.connection`` with
``socket.has_ipv6`` false for that moment, so the probe is skipped (urllib3 then assumes IPv4,
which nothing of Vellum ever uses). Installed by ``app/__init__.py`` before anything else of
the app runs.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import socket
import sys
from types import ModuleType
from typing import Any

PROBING = frozenset({"urllib3.util.connection"})


class _QuietLoader(importlib.abc.Loader):
    """Runs ``loader``'s module with ``socket.has_ipv6`` false."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        saved = socket.has_ipv6
        socket.has_ipv6 = False
        try:
            self._loader.exec_module(module)
        finally:
            socket.has_ipv6 = saved


class NoProbeFinder(importlib.abc.MetaPathFinder):
    """Finds the :data:`PROBING` modules as usual and gives them a :class:`_QuietLoader`."""

    def find_spec(self, name: str, path: Any = None, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if name not in PROBING:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Add the hook (once per process)."""
    if not any(isinstance(f, NoProbeFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, NoProbeFinder())
