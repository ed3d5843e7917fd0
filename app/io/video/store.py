"""Frame indexes on disk: one file per video content (fingerprint) in the user cache folder,
written atomically; a damaged or foreign file is ignored and the index rebuilt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, VellumError
from app.core.media import fingerprint
from app.io.video.build import build_index
from app.io.video.cachedir import video_index_folder
from app.io.video.decoding import require_video_file
from app.io.video.index import FrameIndex


def index_file(fp: str) -> Path:
    """Where the index of the content with fingerprint ``fp`` is kept."""
    return video_index_folder() / f"{fp.split(':')[-1]}.npz"


def load_index(path: Path, verify: str = "auto", use_cache: bool = True,
               progress: Any = None) -> tuple[FrameIndex, str]:
    """The frame index of ``path`` (from the cache when its content is unchanged), and the
    file's fingerprint. ``verify``: see :func:`~app.io.video.build.build_index`; a cached
    index is rebuilt only when it was checked less than ``verify`` asks."""
    if verify not in ("needed", "auto", "always"):
        raise ValueError(f"verify must be 'needed', 'auto' or 'always', not {verify!r}")
    path = Path(path)
    require_video_file(path)  # before anything reads it: a FIFO would block the fingerprint
    try:
        fp = fingerprint(path)
    except FileNotFoundError:
        raise BadInputError(f"{path} does not exist.", path) from None
    except OSError as exc:
        raise BadInputError(f"{path} cannot be read ({exc.strerror}).", path) from exc
    store = index_file(fp)
    if use_cache:
        index = FrameIndex.load(store, fp)
        if index is not None and (index.verified or verify == "needed"
                                  or (verify == "auto" and index.meta.get("auto_checked"))):
            return index, fp
    index = build_index(path, fp, verify=verify, progress=progress)
    index.meta["auto_checked"] = verify in ("auto", "always")
    if use_cache:
        save_index(index, store)
    return index, fp


def save_index(index: FrameIndex, store: Path) -> None:
    try:
        index.save(store)
    except (OSError, VellumError):  # a read-only cache folder only costs the next open
        pass
