"""The user's preferences that Qt-free code reads too (the window edits them in Edit ▸
Preferences…): one small JSON file, ``<user data>/vellum/preferences.json``
(:func:`app.io.user_data.user_data_folder`), written atomically.

Keys: ``frame_cache_mb`` - the decoded-frame cache of each video opened from then on, in MiB
(:func:`app.io.video.reader.default_cache_bytes`; ``$VELLUM_FRAME_CACHE_MB`` wins over it);
``slice_keys`` - which keys step the slices of a volume pane: ``"vellum"`` (Up/Down, F/D; the
default) or ``"slicer"`` (3D Slicer's: Left/Right and B too; :func:`slice_keys`).
A missing, unreadable or malformed file reads as no preferences (the defaults hold); it is
never an error for what reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.io.user_data import user_data_folder

FILE_NAME = "preferences.json"
FRAME_CACHE_MB = "frame_cache_mb"
MIN_CACHE_MB, MAX_CACHE_MB = 16, 1 << 20  # MiB a frame cache may be given (16 MiB .. 1 TiB)
SLICE_KEYS = "slice_keys"
SLICE_KEY_SCHEMES = ("vellum", "slicer")  # the first is the default


def preferences_file() -> Path:
    return user_data_folder() / FILE_NAME


def load() -> dict[str, Any]:
    """The saved preferences ({} when none, or when the file cannot be read)."""
    from app.core.errors import VellumError
    from app.io.inputs import read_json_file

    path = preferences_file()
    if not path.is_file():
        return {}
    try:
        data = read_json_file(path, "preferences file", max_bytes=1 << 20)
    except (VellumError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def save(**values: Any) -> None:
    """Store ``values`` beside the other saved preferences (None removes a key); atomic."""
    from app.io.atomic import atomic_write

    data = load()
    for k, v in values.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    with atomic_write(preferences_file()) as f:
        json.dump(data, f, indent=2, sort_keys=True)


def frame_cache_mb() -> int | None:
    """The saved frame cache size in MiB (None: not set, or not a whole number in range)."""
    v = load().get(FRAME_CACHE_MB)
    if isinstance(v, int) and not isinstance(v, bool) and MIN_CACHE_MB <= v <= MAX_CACHE_MB:
        return v
    return None


def slice_keys() -> str:
    """The saved slice-key scheme, one of :data:`SLICE_KEY_SCHEMES` ("vellum" when not set or
    not one of them)."""
    v = load().get(SLICE_KEYS)
    return v if v in SLICE_KEY_SCHEMES else SLICE_KEY_SCHEMES[0]
