"""Where Vellum keeps rebuildable caches (video frame indexes): never inside a project.

``$VELLUM_CACHE_DIR`` when set; else ``$XDG_CACHE_HOME/vellum`` (``~/.cache/vellum``) on Linux
and other Unix, ``~/Library/Caches/vellum`` on macOS, ``%LOCALAPPDATA%\\vellum\\Cache`` on
Windows. Everything in it may be deleted at any time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_folder() -> Path:
    """The user cache folder for Vellum (not created here)."""
    env = os.environ.get("VELLUM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "vellum" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "vellum"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vellum"


def video_index_folder() -> Path:
    """``<cache>/video-index``: one file per video, named by its content fingerprint."""
    return cache_folder() / "video-index"
