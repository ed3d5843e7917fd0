"""One editor at a time: an advisory lock beside the project file.

Two windows, or a window and ``vellum add``, editing one project would each write from their
own picture of it and undo each other (a deletion in one comes back with the other's next
edit). So the first to write takes ``<project>.lock`` (an OS file lock: released by the OS
when the process ends, even on SIGKILL, so it never goes stale) and keeps it until it closes;
any other writer is refused with one sentence saying who holds it. Readers (``vellum info``,
``export``, a read-only window) need no lock.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import IO, Any

from app.core.errors import StoreError
from app.core.identity import os_user, utc_now

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


def lock_path(project_file: Path) -> Path:
    return project_file.with_name(project_file.name + ".lock")


class EditLock:
    """The edit lock of one project file; :meth:`acquire` raises :class:`StoreError` when
    another process (or another open document in this one) holds it."""

    def __init__(self, project_file: Path) -> None:
        self.project_file = project_file
        self.path = lock_path(project_file)
        self._fh: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def holder(self) -> dict[str, Any]:
        """Who holds the lock, as its holder wrote it (empty when unknown)."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        if self._fh is not None:
            return
        try:
            fh = open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"Cannot take the edit lock {self.path} ({exc.strerror}).",
                             self.project_file) from exc
        try:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            fh.close()
            who = self.holder()
            by = (f" by {who.get('user', 'someone')} on {who.get('host', 'this machine')} "
                  f"(process {who.get('pid', '?')}, since {who.get('since', '?')})") if who else ""
            raise StoreError(f"{self.project_file} is open for editing elsewhere{by}; close it "
                             "there first (or open it read-only).", self.project_file) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "user": os_user(), "host": platform.node(),
                             "since": utc_now()}))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            fh.seek(0)
            fh.truncate()
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        except OSError:
            pass
        finally:
            fh.close()
