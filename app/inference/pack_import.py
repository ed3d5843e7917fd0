"""``vellum models import PATH``: install model files from a file, a folder or an archive.

Every file is identified by its SHA-256 against the known manifests (the bundled ones, plus a
manifest the folder or archive brings for a known family), never by its name alone. A file
whose name a manifest lists but whose content differs is refused in one sentence naming it;
the other files still install. Files go to a temporary file inside the model folder, are
hashed as they are written, and replace the target atomically; the source is only ever read.
Only regular files and folders are read: a FIFO or a device given as PATH (or met in a
folder) is refused or skipped, never opened.

A ``.vellum-models`` archive is a zip or tar file (optionally gzip, bzip2 or xz compressed)
holding ``manifest.json`` and the files it names, beside it at any folder depth; files of the
packs Vellum ships may sit anywhere in it under their manifest names. Nothing is ever
extracted by a member's own name: only the members a manifest names are read, each streamed
into the model folder under a name of Vellum's choosing and capped at the size its manifest
gives (:data:`DEFAULT_FILE_CAP` where the manifest gives none). The whole archive is refused
in one sentence naming it, with nothing of it installed, when a manifest names a file with a
folder, ``..``, a drive or a control character in it; when it holds a symbolic or hard link, a
device or a FIFO; when a member unpacks past its cap; when it is damaged; or when it holds
more than :data:`MAX_MEMBERS` members or :data:`MAX_ARCHIVE_BYTES` bytes in all.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from app.core.errors import ModelError, VellumError
from app.inference.graph_edit import apply_edit
from app.inference.manifest import (MANIFEST_VERSION, FileSpec, Manifest, bundled_manifests,
                                    parse_manifest, require_bundled)
from app.inference.packs import (InstalledPack, _read_installed, models_dir, sha256_file,
                                 writable_models_dir, write_installed)
from app.io.inputs import load_json_text, read_json_file, require_readable

ARCHIVE_SUFFIX = ".vellum-models"
MODEL_SUFFIXES = (".onnx", ".ort")
MANIFEST_NAME = "manifest.json"
#: Cap on a file whose manifest gives no ``bytes`` (a SAM ViT-H encoder is about 2.5 GB).
DEFAULT_FILE_CAP = 4 * 1024**3
#: Most bytes an archive may unpack to in all, and most members it may hold.
MAX_ARCHIVE_BYTES = 16 * 1024**3
MAX_MEMBERS = 10_000
MAX_MANIFEST_BYTES = 1024 * 1024
_MAX_MANIFESTS = 16
_MAX_HEADER_READ = 16 * 1024 * 1024  # one tar header (a long name, pax data) at most
_TRAILING_LIMIT = 64 * 1024 * 1024  # bytes after a compressed tar's end-of-archive blocks
_MAX_DEPTH = 4
_CHUNK = 1 << 20
_FILE_MODE = 0o644  # mkstemp makes 0600 files; installed models are readable by all
_DAMAGE = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, tarfile.TarError,
           NotImplementedError, RuntimeError, ValueError, OverflowError)


@dataclass
class ImportReport:
    """What an import did: packs touched (id -> installed roles), sentences for refused files,
    and files looked at but not part of any known pack."""

    installed: dict[str, list[str]] = field(default_factory=dict)
    packs: dict[str, InstalledPack] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


@dataclass
class _Candidate:
    """A file to identify: where its bytes are, what to call it in sentences, its base name
    (matched against manifest names), and - for a file staged from an archive - its SHA-256,
    computed while it was written (the staged copy may then be moved, not copied)."""

    path: Path
    label: str
    name: str
    sha256: str | None = None
    staged: bool = False


# -- folders ------------------------------------------------------------------------------


def _regular(path: Path) -> bool:
    """A regular file (through a link) - never a FIFO, device or socket, which would block."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _walk(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        depth = len(Path(root).relative_to(folder).parts)
        dirs[:] = [] if depth >= _MAX_DEPTH else sorted(d for d in dirs if not d.startswith("."))
        # a manifest.json that is not a regular file is kept: reading it refuses it in one
        # sentence (never opened), instead of "nothing to import" hiding why
        found += [Path(root) / f for f in sorted(files)
                  if _regular(Path(root) / f) or f == MANIFEST_NAME]
    return found


def _not_manifest(raw: Any) -> str:
    """Why JSON read from a ``manifest.json`` is not a model manifest, in a few words."""
    if not isinstance(raw, dict):
        return "it is not a JSON object"
    if "manifest" not in raw:
        return 'it has no "manifest" version field'
    shown = repr(raw["manifest"])
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f'its "manifest" version is {shown}; this Vellum reads {MANIFEST_VERSION}'


def _pack_manifests(files: list[Path], report: ImportReport) -> list[Manifest]:
    """Manifests found among ``files`` (JSON with ``"manifest": 1``); a broken one is reported
    (a broken ``manifest.json`` always; other JSON files only when they are manifests)."""
    found = []
    for path in files:
        if path.suffix.lower() != ".json":
            continue
        try:
            raw = read_json_file(path, "model manifest", max_bytes=MAX_MANIFEST_BYTES)
        except VellumError as exc:
            if path.name == MANIFEST_NAME:
                report.errors.append(str(exc))
            continue
        if not (isinstance(raw, dict) and raw.get("manifest") == MANIFEST_VERSION):
            if path.name == MANIFEST_NAME:
                report.errors.append(f"{path} is not a usable model manifest "
                                     f"({_not_manifest(raw)}).")
            continue
        raw.pop("installed", None)
        try:
            found.append(parse_manifest(raw, str(path), origin="pack"))
        except ModelError as exc:
            report.errors.append(str(exc))
    return found


# -- archives -----------------------------------------------------------------------------


def _archive_kind(path: Path) -> str | None:
    """'zip', 'tar' (plain or compressed) or None, from the file's own bytes."""
    try:
        if zipfile.is_zipfile(path):
            return "zip"
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return "tar"
    if head[257:262] == b"ustar":
        return "tar"
    return None


class _Guarded:
    """A tar stream that refuses a single read bigger than a header may be, so a forged long
    name or pax header cannot make ``tarfile`` load gigabytes into memory."""

    def __init__(self, inner: IO[bytes], archive: Path) -> None:
        self.inner, self.archive = inner, archive

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > _MAX_HEADER_READ:
            raise ModelError(f"{self.archive} is not a usable model archive (a tar header "
                             f"asks for more than {_MAX_HEADER_READ} bytes), so nothing was "
                             "installed from it.", self.archive)
        return self.inner.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()


@dataclass
class _Member:
    name: str
    size: int
    handle: Any


class _Archive:
    """A zip or tar archive whose members are listed with their kind checked and read one at
    a time; nothing is ever extracted by its own name."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self._stream: Any = None
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self._raw: IO[bytes] = open(path, "rb")
        try:
            self._open(kind)
        except BaseException:
            self.close()
            raise

    def _open(self, kind: str) -> None:
        path = self.path
        if kind == "zip":
            self._zip = zipfile.ZipFile(self._raw)
        else:
            head = self._raw.read(6)
            self._raw.seek(0)
            opener = (gzip.GzipFile if head[:2] == b"\x1f\x8b" else bz2.BZ2File
                      if head[:3] == b"BZh" else lzma.LZMAFile if head[:6] == b"\xfd7zXZ\x00"
                      else None)
            self._stream = opener(fileobj=self._raw) if opener is gzip.GzipFile else (
                opener(self._raw) if opener else self._raw)
            self._tar = tarfile.open(fileobj=_Guarded(self._stream, path), mode="r:")

    def finish(self) -> None:
        """Read a compressed tar stream to its end, so its checksum (gzip CRC, xz check) is
        verified before anything from it is installed; trailing data has a limit too."""
        if self._stream is None or self._stream is self._raw:
            return
        left = _TRAILING_LIMIT
        while chunk := self._stream.read(_CHUNK):
            left -= len(chunk)
            if left < 0:
                raise self._refuse(f"goes on for more than {_TRAILING_LIMIT} bytes after its "
                                   "last member")

    def close(self) -> None:
        for thing in (self._zip, self._tar, self._stream, self._raw):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 - closing a damaged archive
                    pass

    def _refuse(self, why: str) -> ModelError:
        return ModelError(f"{self.path} {why}, so nothing was installed from it.", self.path)

    def _count(self, n: int, total: int) -> None:
        if n > MAX_MEMBERS:
            raise self._refuse(f"holds more than {MAX_MEMBERS} members, more than a model pack "
                               "ever needs")
        if total > MAX_ARCHIVE_BYTES:
            raise self._refuse(f"unpacks to more than {MAX_ARCHIVE_BYTES} bytes, more than a "
                               "model pack may")

    def members(self) -> list[_Member]:
        """The regular-file members; a link, device or FIFO member refuses the archive."""
        found: list[_Member] = []
        total = 0
        if self._zip is not None:
            infos = self._zip.infolist()
            self._count(len(infos), 0)
            for info in infos:
                kind = stat.S_IFMT(info.external_attr >> 16)
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    raise self._refuse(f"holds {info.filename!r}, which is "
                                       f"{_kind_words(kind)}, not a plain file")
                if info.flag_bits & 0x1:
                    raise self._refuse(f"holds {info.filename!r} encrypted")
                if info.is_dir():
                    continue
                total += info.file_size
                self._count(len(found) + 1, total)
                found.append(_Member(info.filename, info.file_size, info))
            return found
        assert self._tar is not None
        n = 0
        while (m := self._tar.next()) is not None:
            n += 1
            if m.issym() or m.islnk():
                raise self._refuse(f"holds {m.name!r}, a {'symbolic' if m.issym() else 'hard'} "
                                   f"link (to {m.linkname!r}), which a model pack never needs")
            if m.ischr() or m.isblk() or m.isfifo():
                what = ("a character device" if m.ischr() else "a block device"
                        if m.isblk() else "a named pipe (FIFO)")
                raise self._refuse(f"holds {m.name!r}, {what}, which a model pack never needs")
            if not (m.isreg() or m.isdir()) or m.sparse is not None:
                raise self._refuse(f"holds {m.name!r}, which is not a plain file")
            total += m.size
            self._count(n, total)  # before moving past its data
            if m.isreg():
                found.append(_Member(m.name, m.size, m))
        return found

    @contextmanager
    def open(self, member: _Member) -> Iterator[IO[bytes]]:
        if self._zip is not None:
            with self._zip.open(member.handle) as f:
                yield f
            return
        assert self._tar is not None
        f = self._tar.extractfile(member.handle)
        if f is None:
            raise self._refuse(f"holds {member.name!r}, which cannot be read as a file")
        with f:
            yield f


def _kind_words(kind: int) -> str:
    return {stat.S_IFLNK: "a symbolic link", stat.S_IFCHR: "a character device",
            stat.S_IFBLK: "a block device", stat.S_IFIFO: "a named pipe (FIFO)",
            stat.S_IFSOCK: "a socket"}.get(kind, "a special file")


def _member_dir(name: str) -> str:
    return posixpath.dirname(name.replace("\\", "/").rstrip("/"))


def _member_base(name: str) -> str:
    return posixpath.basename(name.replace("\\", "/").rstrip("/"))


def _archive_manifests(archive: _Archive, members: list[_Member]) -> list[tuple[str, Manifest]]:
    """(folder in the archive, manifest) for each ``manifest.json`` member that is a manifest;
    one that cannot be read or checked refuses the archive."""
    found = []
    for member in [m for m in members if _member_base(m.name) == MANIFEST_NAME][:_MAX_MANIFESTS]:
        where = f"{archive.path} ({member.name})"
        if member.size > MAX_MANIFEST_BYTES:
            raise ModelError(f"{where} is not a usable model manifest ({member.size} bytes is "
                             f"more than the {MAX_MANIFEST_BYTES} a manifest may hold), so "
                             "nothing was installed from it.", archive.path)
        with archive.open(member) as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise ModelError(f"{where} is not a usable model manifest (it unpacks to more than "
                             f"{MAX_MANIFEST_BYTES} bytes), so nothing was installed from it.",
                             archive.path)
        try:
            raw = load_json_text(data, where, "model manifest")
        except VellumError as exc:
            raise ModelError(str(exc), archive.path) from None
        if not (isinstance(raw, dict) and raw.get("manifest") == MANIFEST_VERSION):
            raise ModelError(f"{where} is not a usable model manifest ({_not_manifest(raw)}), "
                             "so nothing was installed from it.", archive.path)
        raw.pop("installed", None)
        found.append((_member_dir(member.name), parse_manifest(raw, where, origin="pack")))
    return found


def _stage_member(archive: _Archive, member: _Member, cap: int, capped_by: str,
                  staging: Path) -> _Candidate:
    """Stream ``member`` into a new file in ``staging``, hashing it; more than ``cap`` bytes
    (said up front by its header, or found while reading) refuses the archive."""
    def too_big() -> ModelError:
        return ModelError(f"{archive.path} holds {member.name!r}, which unpacks to more than "
                          f"the {cap} bytes {capped_by}, so nothing was installed from it.",
                          archive.path)

    if member.size > cap:
        raise too_big()
    fd, tmp_name = tempfile.mkstemp(prefix=".member-", suffix=".part", dir=staging)
    digest, written = hashlib.sha256(), 0
    with os.fdopen(fd, "wb") as out, archive.open(member) as src:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > cap:
                raise too_big()
            digest.update(chunk)
            out.write(chunk)
    return _Candidate(Path(tmp_name), f"{archive.path} ({member.name})",
                      _member_base(member.name), digest.hexdigest(), staged=True)


def _stage_archive(path: Path, kind: str, staging: Path, known: dict[str, Manifest],
                   report: ImportReport) -> list[_Candidate]:
    """Read the members the manifests name into ``staging``; add the archive's own manifests
    (for known families, ids Vellum does not ship) to ``known``."""
    archive: _Archive | None = None
    try:
        archive = _Archive(path, kind)
        members = archive.members()
        pack_manifests = _archive_manifests(archive, members)
        # member name -> (cap, how the cap was set)
        wanted: dict[str, tuple[int, str]] = {}

        def want(member: _Member, spec: FileSpec, m: Manifest) -> None:
            cap = spec.bytes or DEFAULT_FILE_CAP
            how = (f"its manifest gives for the {m.id} {spec.role} file" if spec.bytes else
                   f"Vellum allows for a file whose manifest gives no size ({m.id} "
                   f"{spec.role})")
            if member.name not in wanted or wanted[member.name][0] < cap:
                wanted[member.name] = (cap, how)

        by_name = {m.name: m for m in members}
        for folder, manifest in pack_manifests:
            if manifest.id not in known:  # a pack cannot replace the hashes Vellum ships
                known[manifest.id] = manifest
            for spec in manifest.files.values():
                member = by_name.get(posixpath.join(folder, str(spec.name)))
                if member is not None:
                    want(member, spec, manifest)
        for manifest in bundled_manifests().values():
            for spec in manifest.files.values():
                for member in members:
                    if _member_base(member.name) == spec.name:
                        want(member, spec, manifest)
        report.ignored += [f"{path} ({m.name})" for m in members if m.name not in wanted
                           and _member_base(m.name) != MANIFEST_NAME]
        staged = [_stage_member(archive, by_name[name], cap, how, staging)
                  for name, (cap, how) in wanted.items()]
        archive.finish()
        return staged
    except VellumError:
        raise
    except _DAMAGE as exc:
        raise ModelError(f"{path} is a damaged model archive ({_words(exc)}), so nothing was "
                         "installed from it.", path) from None
    finally:
        if archive is not None:
            archive.close()


def _words(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")[:200]


# -- installing ---------------------------------------------------------------------------


def _check_layout(path: Path, manifest: Manifest, spec: FileSpec, label: str) -> None:
    """A file from a pack-supplied manifest must have the inputs its family needs."""
    from app.inference.runtime import graph_io

    try:
        inputs, outputs = graph_io(path)
    except ModelError as exc:
        raise ModelError(str(exc).replace(str(path), label), label) from None
    missing = [n for n in spec.inputs if n not in inputs]
    extra = [n for n in inputs if n not in spec.inputs]
    if missing or extra:
        what = (f"missing {', '.join(missing)}" if missing else "") + (
            "; " if missing and extra else "") + (f"unexpected {', '.join(extra)}" if extra else "")
        raise ModelError(f"{label} does not have the inputs a {manifest.family} {spec.role} "
                         f"needs ({what}).", label)
    for name, shape in spec.inputs.items():
        have = inputs[name]
        if len(have) != len(shape) or any(isinstance(a, int) and isinstance(b, int) and a != b
                                           for a, b in zip(have, shape)):
            raise ModelError(f"{label} has input {name} of shape {have} where a "
                             f"{manifest.family} {spec.role} needs {shape}.", label)
    absent = [n for n in spec.outputs if n not in outputs]
    if absent:
        raise ModelError(f"{label} does not have the outputs a {manifest.family} {spec.role} "
                         f"gives (missing {', '.join(absent)}).", label)


def _target(dst_dir: Path, spec: FileSpec) -> Path:
    """``dst_dir / spec.name``, refusing anything that would not land directly in it (the
    manifest check already refuses such names; this is the last guard)."""
    name = str(spec.name)
    target = dst_dir / name
    if not name or target.parent != dst_dir or Path(name).name != name or name in (".", ".."):
        raise ModelError(f"The {spec.role} file name {name!r} is not a plain file name, so it "
                         "was not installed.", dst_dir)
    return target


def _copy_verified(src: _Candidate, dst_dir: Path, spec: FileSpec,
                   move: bool = False) -> dict[str, Any]:
    """Put ``src`` at ``dst_dir/spec.name`` atomically: copied into a temporary file beside
    the target (hashing the bytes written) or, for a staged file (``move``), renamed from the
    staging folder, which lies in the same model folder. The spec's edit is applied to the
    installed copy. Returns the installed record."""
    target = _target(dst_dir, spec)
    try:
        dst_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=dst_dir)
    except OSError as exc:
        raise ModelError(f"Cannot write {target} ({exc.strerror or exc}), so "
                         f"{src.label} was not installed.", target) from None
    tmp = Path(tmp_name)
    try:
        if move:
            os.close(fd)
            os.replace(src.path, tmp)
            sha = src.sha256
        else:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, open(src.path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
        if sha != spec.sha256:
            raise ModelError(f"{src.label} changed while it was being copied; nothing was "
                             "installed from it.", src.label)
        installed_sha = spec.sha256
        if spec.edit:
            edited = tmp.with_suffix(".edit")
            try:
                apply_edit(spec.edit, tmp, edited)
                os.replace(edited, tmp)
            finally:
                edited.unlink(missing_ok=True)
            installed_sha = sha256_file(tmp)
        size = tmp.stat().st_size
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"Cannot write {target} ({exc.strerror or exc}), so "
                         f"{src.label} was not installed.", target) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"name": target.name, "sha256": spec.sha256, "installed_sha256": installed_sha,
            "bytes": size, "edit": spec.edit}


def _refusal(src: _Candidate, sha: str, manifests: list[Manifest],
             explicit: bool) -> str | None:
    """The sentence for a file no manifest knows by hash, or None to ignore it quietly."""
    for m in manifests:
        for spec in m.files.values():
            if spec.name and spec.name == src.name:
                size = src.path.stat().st_size
                if spec.bytes and size < spec.bytes:
                    return (f"{src.label} is truncated ({size} of {spec.bytes} bytes): it is "
                            f"not the complete {m.id} {spec.role} file, so it was not "
                            "installed.")
                return (f"{src.label} is not the {m.id} {spec.role} file its manifest names "
                        "(SHA-256 mismatch: damaged, altered or a different model), so it was "
                        "not installed.")
    if explicit:
        return (f"{src.label} matches no model pack Vellum knows (SHA-256 {sha[:12]}...), so "
                "it was not installed.")
    return None


def import_models(path: str | Path, root: Path | None = None,
                  progress: Callable[..., None] | None = None) -> ImportReport:
    """Install every known model file found at ``path`` (file, folder, archive or manifest)
    into ``root`` (default: :func:`models_dir`). Refusals of single files are collected, not
    raised; a path that is not a regular file or folder, a hostile or damaged archive, or a
    model folder that cannot be written raises :class:`ModelError` in one sentence."""
    try:
        src = require_readable(path, folders=True, what="model file, folder or archive")
    except VellumError as exc:
        raise ModelError(str(exc), path) from None
    known = require_bundled()
    root = writable_models_dir(root or models_dir())
    report = ImportReport()
    staging: Path | None = None
    try:
        kind = None if src.is_dir() else _archive_kind(src)
        if src.is_dir():
            files, explicit = _walk(src), False
        elif kind is not None or src.name.endswith(ARCHIVE_SUFFIX):
            if kind is None:
                raise ModelError(f"{src} is not a model archive (expected a zip or tar file "
                                 "holding manifest.json and the model files).", src)
            try:
                staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
            except OSError as exc:
                raise ModelError(f"The model folder {root} is not writable "
                                 f"({exc.strerror or exc}).", root) from None
            candidates = _stage_archive(src, kind, staging, known, report)
            _install(candidates, root, report, known, False, str(src), progress)
            return report
        elif src.suffix.lower() == ".json":
            files, explicit = _walk(src.parent), False
        else:
            files, explicit = [src], True
        for m in _pack_manifests(files, report):
            if m.id not in known:  # a pack cannot replace the hashes Vellum ships
                known[m.id] = m
        from app.inference.detection_manifest import add_bare_detectors

        report.errors += add_bare_detectors(files, known)  # a detector .onnx + its names
        candidates = [_Candidate(f, str(f), f.name) for f in files
                      if f.suffix.lower() in MODEL_SUFFIXES
                      or (explicit and f.suffix.lower() != ".json")]
        _install(candidates, root, report, known, explicit, str(src), progress)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return report


def _install(candidates: list[_Candidate], root: Path, report: ImportReport,
             known: dict[str, Manifest], explicit: bool, source: str,
             progress: Callable[..., None] | None) -> None:
    manifests = list(known.values())
    touched: dict[str, dict[str, dict[str, Any]]] = {}
    for n, cand in enumerate(candidates):
        if progress:
            progress(n, len(candidates), cand.name)
        try:
            sha = cand.sha256 or sha256_file(cand.path)
        except OSError as exc:
            report.errors.append(f"{cand.label} cannot be read ({exc.strerror}).")
            continue
        matches = [(m, spec) for m in manifests if (spec := m.file_by_hash(sha)) is not None]
        if not matches:
            sentence = _refusal(cand, sha, manifests, explicit)
            if sentence:
                report.errors.append(sentence)
            else:
                report.ignored.append(cand.label)
            continue
        for i, (manifest, spec) in enumerate(matches):
            try:
                if manifest.origin == "pack":
                    _check_layout(cand.path, manifest, spec, cand.label)
                record = _copy_verified(cand, root / manifest.id, spec,
                                        move=cand.staged and i == len(matches) - 1)
            except ModelError as exc:
                report.errors.append(str(exc))
                continue
            touched.setdefault(manifest.id, {})[spec.role] = record
            report.installed.setdefault(manifest.id, []).append(spec.role)
    for model_id, records in touched.items():
        folder = root / model_id
        previous: dict[str, dict[str, Any]] = {}
        try:
            previous = dict(_read_installed(folder).files)
        except ModelError:
            pass
        manifest = known[model_id]
        merged = {r: rec for r, rec in previous.items() if r in manifest.files}
        merged.update(records)
        try:
            report.packs[model_id] = write_installed(folder, manifest, merged, source)
        except (OSError, VellumError) as exc:
            report.errors.append(f"Cannot write the manifest of {folder} "
                                 f"({getattr(exc, 'strerror', None) or exc}).")
            report.installed.pop(model_id, None)
    if progress:
        progress(len(candidates), len(candidates))
