"""Atomic file output: write to a temporary file beside the target, fsync, then rename.

A reader (or a crash) sees either the old file or the complete new one, never half of it.
The new file gets the permissions a plain ``open(path, "w")`` would give (``0666`` less the
user's umask), or keeps those of the file it replaces. :func:`refuse_overwrite` guards the
files an output must never replace (a project, its media).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from app.core.errors import VellumError
from app.core.lock import lock_path


def user_umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read-by-setting, restored at once
    os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~user_umask()


def check_target(target: Path) -> None:
    """One sentence (a :class:`VellumError`) when ``target`` cannot be an output file."""
    if target.is_dir():
        raise VellumError(f"{target} is a folder; give the name of a file to write.", target)
    if target.parent.exists() and not target.parent.is_dir():
        raise VellumError(f"Cannot write {target}: {target.parent} is not a folder.", target)


_WHY = {errno.ENOSPC: "the disk is full",
        getattr(errno, "EDQUOT", -1): "the disk quota is used up",
        errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
        errno.EPERM: "permission denied", errno.EFBIG: "the file is too large for the disk"}


def write_error(target: str | Path, exc: OSError) -> VellumError:
    """One sentence for an ``OSError`` met while writing ``target`` (a full disk, a quota, a
    read-only file system...): the caller removed what it had written."""
    why = _WHY.get(exc.errno or 0) or (exc.strerror or str(exc) or "an error").rstrip(".")
    return VellumError(f"Cannot write {target}: {why}; nothing was written.", target)


def _resolved(p: Path) -> Path:
    try:
        return p.resolve()
    except OSError:
        return p.absolute()


def refuse_overwrite(target: str | Path, protected: Iterable[tuple[Path, str]]) -> None:
    """Raise one sentence if writing ``target`` would replace or change a protected file.

    ``protected`` pairs a path with what it is ("the project file", "media file of the
    project"). A target is refused when it is that file by identity (the same device and
    inode: symbolic and hard links both count) or, for a protected path that does not exist
    now, by resolved path; or when it lies inside a protected folder (a DICOM series). Also
    refuses a folder as target (:func:`check_target`). One ``stat`` per protected path: a
    project of 10,000 media files is checked in milliseconds."""
    t = Path(target)
    try:
        st = os.stat(t)
        t_id: tuple[int, int] | None = (st.st_dev, st.st_ino)
    except OSError:
        t_id = None
    t_resolved: Path | None = None
    for path, what in protected:
        try:
            sp = os.stat(path)
        except OSError:
            sp = None
        if sp is not None and t_id == (sp.st_dev, sp.st_ino):
            hit = True
        elif sp is None or stat.S_ISDIR(sp.st_mode):
            if t_resolved is None:
                t_resolved = _resolved(t)
            r = _resolved(path)
            hit = t_resolved == r or (sp is not None and t_resolved.is_relative_to(r))
        else:
            hit = False
        if hit:
            raise VellumError(f"Refusing to write {t}: it is {what} {path}; choose another "
                              "output file.", t)
    check_target(t)


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8"
                 ) -> Iterator[IO]:
    """Open a temporary file for writing; on success it replaces ``path`` atomically, on any
    error it is removed and ``path`` is left as it was."""
    target = Path(path)
    check_target(target)
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        _remove_empty(made)
        raise write_error(target, exc) from exc
    try:
        os.chmod(tmp, _mode_for(target))
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:  # a full disk, a quota...: no temporary file left, target unchanged
        Path(tmp).unlink(missing_ok=True)
        _remove_empty(made)
        raise write_error(target, exc) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        _remove_empty(made)
        raise


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed write made (innermost first; a folder not empty stays)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def protected_files(doc: Any) -> list[tuple[Path, str]]:
    """Files an export must never replace (for :func:`refuse_overwrite`): the project of
    ``doc`` (a Document), its journal and lock, its media."""
    db = doc.path
    out = [(db, "the project file"), (lock_path(db), "the lock file of project")]
    out += [(db.with_name(db.name + s), "a journal file of project") for s in
            ("-wal", "-shm", "-journal")]
    out += [(doc.media_path(m), "a media file of the project:") for m in doc.media(True)]
    return out

