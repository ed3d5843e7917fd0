"""One rule for every file a command writes (``segment -o``, ``video frame(s)``, ``volume
convert``, ``export coco|nifti|mot``, the window's exports).

:func:`prepare_output` (one file) and :func:`prepare_outputs` (the files of a folder-style
output) refuse, in one sentence and before anything is written:

- a name whose extension does not fit the format (case-insensitive);
- a folder where a file is to be written;
- an existing file, unless ``overwrite`` (``--overwrite``);
- even with ``overwrite``: a project file, its lock, its ``-wal``/``-shm``/``-journal``, or a
  media file (or a file inside a DICOM folder) of the exported project or of any project
  found beside the target or in a folder above it; and the command's own input files.

Projects found that way are read with a read-only SQLite connection, never with ``open()`` (a
second descriptor on a project file would drop this process's SQLite locks on it); a damaged
or foreign ``*.vellum`` file still protects itself and its journal files, its media list is
skipped. :class:`StagedOutput` writes a set of files all or nothing: into a hidden folder
beside them first, then renamed into place; on any failure (a full disk included) nothing is
left under a final name and the temporary files are gone.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from app.core.errors import VellumError
from app.core.lock import lock_path
from app.io.atomic import check_target, protected_files, user_umask, write_error

NIFTI = (".nii", ".nii.gz")
Protected = list[tuple[Path, str]]


# ------------------------------------------------------------------ what must not be written
def _abs(p: Path) -> Path:
    try:
        return p.resolve()
    except (OSError, RuntimeError):
        return p.absolute()


def project_files(db: Path) -> Protected:
    """The files of the project ``db`` (a ``*.vellum`` file) no output may replace: the file
    itself, its lock and journals, and every media path it lists (read-only SQLite; a file
    that is not a readable project gives no media)."""
    out: Protected = [(db, "the project file"),
                      (lock_path(db), f"the lock file of project {db}:")]
    out += [(db.with_name(db.name + s), f"a journal file of project {db}:") for s in
            ("-wal", "-shm", "-journal")]
    for path in _media_paths(db):
        p = Path(path)
        out.append((p if p.is_absolute() else db.parent / p,
                    f"a media file of project {db}:"))
    return out


def _media_paths(db: Path) -> list[str]:
    """The media paths a project lists. A project nobody has open (no ``-wal``) is read as
    immutable: a read-only connection would leave a ``-wal`` and ``-shm`` beside it."""
    uri = _abs(db).as_uri()
    queries = ["?mode=ro&immutable=1"]
    if os.path.lexists(f"{db}-wal"):  # open elsewhere: read through its journal first
        queries.insert(0, "?mode=ro")
    for query in queries:
        try:
            conn = sqlite3.connect(uri + query, uri=True, timeout=1.0)
        except (sqlite3.Error, ValueError, OSError):
            continue
        try:
            rows = conn.execute("SELECT path FROM media").fetchall()
            # a name that is not UTF-8 is stored as the file system's bytes (a BLOB)
            paths = [os.fsdecode(r[0]) if isinstance(r[0], bytes) else r[0] for r in rows]
            return [p for p in paths if isinstance(p, str) and p and "\0" not in p]
        except (sqlite3.Error, ValueError, OSError):
            continue
        finally:
            conn.close()
    return []


def projects_near(*targets: str | Path) -> list[Path]:
    """Every ``*.vellum`` file in a target's folder or a folder above it (for each path as
    given and as resolved, so a link does not hide a project)."""
    found: list[Path] = []
    seen: set[Path] = set()
    starts = dict.fromkeys(p for t in targets
                           for p in (Path(t).absolute().parent, _abs(Path(t)).parent))
    for start in starts:
        for folder in (start, *start.parents):
            if folder in seen:
                continue
            seen.add(folder)
            try:
                with os.scandir(folder) as entries:
                    for e in entries:
                        if e.name.lower().endswith(".vellum"):
                            try:
                                if e.is_file():
                                    found.append(Path(e.path))
                            except OSError:
                                continue
            except OSError:
                continue
    return found


class Guard:
    """The protected files of one output, checked in one ``stat`` per target: the same rules
    as :func:`app.io.atomic.refuse_overwrite` (identity by device and inode, so links count;
    by resolved path for a missing protected path; anything inside a protected folder), and
    nothing inside a missing protected path either (a folder made at a project's ``-wal``
    path would break the project)."""

    def __init__(self, protected: Iterable[tuple[Path, str]]) -> None:
        self._ids: dict[tuple[int, int], tuple[Path, str]] = {}
        self._paths: dict[Path, tuple[Path, str]] = {}  # folders and missing paths, resolved
        for path, what in protected:
            try:
                st = os.stat(path)
            except (OSError, ValueError):
                self._paths.setdefault(_abs(path), (path, what))
                continue
            if stat.S_ISDIR(st.st_mode):
                self._paths.setdefault(_abs(path), (path, what))
            else:
                self._ids.setdefault((st.st_dev, st.st_ino), (path, what))

    def hit(self, target: str | Path) -> tuple[Path, str] | None:
        """The protected file ``target`` would replace or lie in, else None."""
        try:
            st = os.stat(target)
            found = self._ids.get((st.st_dev, st.st_ino))
            if found is not None:
                return found
        except (OSError, ValueError):
            pass
        r = _abs(Path(target))
        for p in (r, *r.parents):
            if p in self._paths:
                return self._paths[p]
        return None

    def check(self, target: str | Path) -> None:
        found = self.hit(target)
        if found is not None:
            path, what = found
            raise VellumError(f"Refusing to write {target}: it is {what} {path}, which no "
                              "output may overwrite.", target)


def guard_for(targets: Sequence[Path], doc: Any = None,
              inputs: Iterable[str | Path] = ()) -> Guard:
    """The :class:`Guard` of outputs ``targets``: the exported project ``doc``, every project
    beside or above a target, and the command's ``inputs``."""
    protected: Protected = list(protected_files(doc)) if doc is not None else []
    for db in dict.fromkeys(projects_near(*targets)):
        protected += project_files(db)
    protected += [(Path(p), "an input file of this command:") for p in inputs]
    return Guard(protected)


# ------------------------------------------------------------------ the checks
def _suffix_ok(name: str, formats: Sequence[str]) -> bool:
    return any(name.lower().endswith(s.lower()) and len(name) > len(s) for s in formats)


def _or(formats: Sequence[str]) -> str:
    return formats[0] if len(formats) == 1 else (", ".join(formats[:-1]) + " or " + formats[-1])


def _exists(p: Path) -> bool:
    return os.path.lexists(p)


class OutputExists(VellumError):
    """An output would replace a file that exists and ``overwrite`` was not given (the window
    asks, then writes again with ``overwrite``)."""


def refuse_existing(target: Path) -> None:
    raise OutputExists(f"Refusing to replace {target}: it already exists; give --overwrite to "
                       "replace it.", target)


def prepare_output(target: str | Path, *, formats: Sequence[str], overwrite: bool = False,
                   doc: Any = None, inputs: Iterable[str | Path] = ()) -> Path:
    """Check the one file an output writes (see the module doc); returns it as a Path."""
    t = Path(target)
    guard_for([t], doc, inputs).check(t)
    check_target(t)
    if not _suffix_ok(t.name, formats):
        raise VellumError(f"{t} must end in {_or(formats)}.", t)
    if _exists(t) and not overwrite:
        refuse_existing(t)
    return t


def inside(root: Path, relative: str | Path) -> Path:
    """``root / relative``, refused when ``relative`` (a name made from a file or a project)
    is absolute or climbs out of ``root``."""
    rel = Path(relative)
    if rel.is_absolute() or rel.anchor or any(p in ("", ".", "..") for p in rel.parts) \
            or not rel.parts:
        raise VellumError(f"Refusing to write {relative!s} under {root}: it is not a plain "
                          "relative name.", root)
    return root / rel


def prepare_folder(root: str | Path, doc: Any = None) -> Path:
    """Check the folder a folder-style output writes into: absent or a folder, and neither a
    protected path (a folder made at a project's ``-wal`` path) nor inside a DICOM folder."""
    r = Path(root)
    guard_for([r], doc).check(r)
    if _exists(r) and not r.is_dir():
        raise VellumError(f"{r} is a file; give a folder to write into.", r)
    return r


def prepare_outputs(targets: Iterable[Path], *, overwrite: bool = False, doc: Any = None,
                    inputs: Iterable[str | Path] = ()) -> list[Path]:
    """Check every file a folder-style output writes (see :func:`prepare_output`; their
    names are the command's own, so no extension check). Returns them in order."""
    files = [Path(t) for t in targets]
    guard = guard_for(files, doc, inputs)
    for t in files:
        check_target(t)
        guard.check(t)
    if not overwrite:
        for t in files:
            if _exists(t):
                refuse_existing(t)
    return files


# ------------------------------------------------------------------ all-or-nothing writing
def _os_error(exc: BaseException | None) -> OSError | None:
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


class StagedOutput:
    """Write several files all or nothing (``with StagedOutput(root) as stage:``).

    ``stage.path(final)`` is where to write ``final`` (a path under ``root``) meanwhile: the
    same relative path in a hidden folder inside ``root``; a writer may put more files beside
    it (a segment table beside a label map). On leaving the block without an error, every
    file staged is renamed to its place under ``root``. On an error (a full disk included)
    nothing is left: no staged file, no file this output placed, no folder it made; an
    ``OSError`` becomes one sentence naming ``name`` (default ``root``)."""

    def __init__(self, root: str | Path, name: str | Path | None = None) -> None:
        self.root = Path(root)
        self.name = Path(name) if name is not None else self.root
        self.stage: Path | None = None
        self.placed: list[Path] = []
        self._replaced: dict[Path, Path] = {}  # final -> a hard link to what it replaced
        self._made: list[Path] = []  # folders this output created, outermost first

    def __enter__(self) -> StagedOutput:
        try:
            self._mkdirs(self.root)
            self.stage = Path(tempfile.mkdtemp(prefix=".vellum-out-", dir=self.root))
        except OSError as exc:
            self._remove_folders()
            raise write_error(self.name, exc) from exc
        return self

    def path(self, final: str | Path) -> Path:
        """Where to write ``final`` until the commit (its folder is made)."""
        if self.stage is None:
            raise RuntimeError("StagedOutput.path outside its with block")
        staged = self.stage / Path(final).relative_to(self.root)
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def write_bytes(self, final: str | Path, data: bytes) -> None:
        """Stage ``data`` as ``final``, flushed to disk."""
        with open(self.path(final), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def write_text(self, final: str | Path, text: str) -> None:
        self.write_bytes(final, text.encode("utf-8"))

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            try:
                self._commit()
                return
            except BaseException as err:  # noqa: BLE001 - undone below, then raised
                exc = err
        self._rollback()
        err = _os_error(exc)
        if err is not None and (not isinstance(exc, VellumError) or self._names_stage(exc)):
            raise write_error(self.name, err) from exc
        if kind is None:  # the commit failed
            raise exc

    def _names_stage(self, exc: BaseException) -> bool:
        return ".vellum-out-" in str(exc)

    def _mkdirs(self, folder: Path) -> None:
        missing = []
        for f in (folder, *folder.parents):
            if os.path.isdir(f):
                break
            missing.append(f)
        for f in reversed(missing):
            f.mkdir()
            self._made.append(f)

    def _commit(self) -> None:
        assert self.stage is not None
        staged = sorted(p for p in self.stage.rglob("*") if p.is_file())
        old, new_mode = self.stage / ".replaced", 0o666 & ~user_umask()
        for n, p in enumerate(staged):  # a writer's own temporary file is gone by now
            final = self.root / p.relative_to(self.stage)
            self._mkdirs(final.parent)
            try:
                mode = stat.S_IMODE(os.stat(final).st_mode)
            except OSError:
                mode = new_mode
            else:
                try:  # a second name for the file it replaces, put back on failure
                    old.mkdir(exist_ok=True)
                    os.link(final, old / str(n), follow_symlinks=False)
                    self._replaced[final] = old / str(n)
                except OSError:
                    pass
            os.chmod(p, mode)
            os.replace(p, final)
            self.placed.append(final)
        for folder in {self.root, *(f.parent for f in self.placed)}:
            _sync_folder(folder)
        self._remove_stage()

    def _rollback(self) -> None:
        for final in self.placed:
            try:
                if final in self._replaced:
                    os.replace(self._replaced[final], final)  # the file it replaced
                else:
                    os.unlink(final)
            except OSError:
                pass
        self.placed, self._replaced = [], {}
        self._remove_stage()
        self._remove_folders()

    def _remove_stage(self) -> None:
        if self.stage is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage = None

    def _remove_folders(self) -> None:
        for f in reversed(self._made):
            try:
                f.rmdir()
            except OSError:
                pass
        self._made = []


def _sync_folder(folder: Path) -> None:
    """Make the renames into ``folder`` durable (where the system can sync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
