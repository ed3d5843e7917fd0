"""Where Vellum keeps the user's own data (the demo project, the log, installed models):
``<user data>/vellum``. Caches live elsewhere (:mod:`app.io.video.cachedir`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_data_folder() -> Path:
    """``<user data>/vellum``: XDG_DATA_HOME on Linux, %LOCALAPPDATA% on Windows,
    ~/Library/Application Support on macOS (not created here)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "vellum"
