"""A project's own files, and the one rule about them: a process never opens them except
through its SQLite connection.

On POSIX, closing *any* descriptor of a file drops every ``fcntl`` lock the process holds on
it (SQLite's "How To Corrupt An SQLite Database File", §2.2). If anything in a window's process
opened and closed its project file, the window would silently lose its SQLite locks; the next
process to close the project (``vellum info``) would then checkpoint and delete the live WAL,
and every later edit of the window would go into a deleted file. So:

* the header check before SQLite opens a file (:func:`pin`, :func:`read_head`) reads it through
  one descriptor per file (device, inode) that is kept open for as long as a store of this
  process has that file open, and closed only after the last one has closed its connection
  (when SQLite holds no locks on it any more), as SQLite's own unix VFS does;
* readers of user-given files skip or refuse a project's files (:func:`is_project_file`).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

#: The project database (``*.vellum``), its journals, its edit lock, and the same for a project
#: still being created (``*.vellum.creating``).
_OWN_NAME = re.compile(r"\.vellum(\.creating)?(-wal|-shm|-journal|\.lock)?\Z")
_JOURNAL_NAME = re.compile(r"\.vellum(\.creating)?(-wal|-shm|-journal)\Z")

_FileKey = tuple[int, int]  # (st_dev, st_ino)


@dataclass
class _Entry:
    fds: list[int] = field(default_factory=list)
    users: int = 0


_guard = threading.Lock()
_pinned: dict[_FileKey, _Entry] = {}


@dataclass(frozen=True)
class Pin:
    """This process's hold on one project file: a descriptor that stays open until the last
    :func:`unpin` of the file."""

    key: _FileKey
    fd: int


def _key(st: os.stat_result) -> _FileKey:
    return (st.st_dev, st.st_ino)


def pin(path: str | Path) -> Pin:
    """Hold ``path`` open for this process (sharing the descriptor when it is already held);
    call before connecting to it and :func:`unpin` after closing the connection. Raises
    :class:`OSError` when the file cannot be opened."""
    with _guard:
        key = _key(os.stat(path))
        entry = _pinned.get(key)
        if entry is None:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
            # never closed early: the file may have been replaced since the stat above by
            # one this process holds (closing this descriptor would drop its locks)
            key = _key(os.fstat(fd))
            entry = _pinned.setdefault(key, _Entry())
            entry.fds.append(fd)
        entry.users += 1
        return Pin(key, entry.fds[0])


def unpin(held: Pin) -> None:
    """Release one :func:`pin`; the descriptor closes with the last one (call only after the
    connection to the file has closed)."""
    with _guard:
        entry = _pinned.get(held.key)
        if entry is None:
            return
        entry.users -= 1
        if entry.users <= 0:
            del _pinned[held.key]
            for fd in entry.fds:
                os.close(fd)


def read_head(held: Pin, size: int = 100) -> tuple[bytes, int]:
    """The first ``size`` bytes of a pinned file and its current length, read without opening
    or closing anything."""
    length = os.fstat(held.fd).st_size
    if hasattr(os, "pread"):
        return os.pread(held.fd, size, 0), length
    with _guard:  # pragma: no cover - Windows (no pread, and no fcntl-lock problem)
        os.lseek(held.fd, 0, os.SEEK_SET)
        return os.read(held.fd, size), length


def is_pinned(path: str | Path) -> bool:
    """Whether this process holds ``path`` open as a project file."""
    try:
        key = _key(os.stat(path))
    except (OSError, ValueError):
        return False
    with _guard:
        return key in _pinned


def is_project_file(path: str | Path) -> bool:
    """Whether ``path`` is one of a project's own files (database, journal, lock) by its name,
    or a project file this process has open (under any name): never media, never an input to
    open and read."""
    if _OWN_NAME.search(Path(path).name) and not os.path.isdir(path):
        return True
    return is_pinned(path)


def unsafe_to_open(path: str | Path) -> bool:
    """Whether opening ``path`` (with anything but SQLite) could drop SQLite locks of this
    process: a project file this process has open, or any project's journal."""
    return bool(_JOURNAL_NAME.search(Path(path).name)) or is_pinned(path)
