"""``vellum models import PATH``: install model files from a file, a folder or an archive.

Every file is identified by its SHA-256 against the known manifests (the bundled ones, plus a
manifest the folder or archive brings for a known family), never by its name alone. A file
whose name a manifest lists but whose content differs is refused in one sentence naming it;
the other files still install. Copies go to a temporary file beside the target, are hashed as
they are written, and replace the target atomically; the source is only ever read.

A ``.vellum-models`` archive is a zip or tar file holding ``manifest.json`` and the files it
names (any folder depth; links and absolute or ``..`` member names are ignored).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import ModelError
from app.inference.graph_edit import apply_edit
from app.inference.manifest import (MANIFEST_VERSION, FileSpec, Manifest, bundled_manifests,
                                    parse_manifest)
from app.inference.packs import (InstalledPack, _read_installed, models_dir, sha256_file,
                                 write_installed)

ARCHIVE_SUFFIX = ".vellum-models"
MODEL_SUFFIXES = (".onnx", ".ort")
_MAX_DEPTH = 4
_FILE_MODE = 0o644  # mkstemp makes 0600 files; installed models are readable by all


@dataclass
class ImportReport:
    """What an import did: packs touched (id -> installed roles), sentences for refused files,
    and files looked at but not part of any known pack."""

    installed: dict[str, list[str]] = field(default_factory=dict)
    packs: dict[str, InstalledPack] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _walk(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        depth = len(Path(root).relative_to(folder).parts)
        dirs[:] = [] if depth >= _MAX_DEPTH else sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files)]
    return found


def _safe_member(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def _extract(archive: Path, into: Path) -> None:
    """Unpack a zip or tar archive's regular files under ``into``."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    if not info.is_dir() and _safe_member(info.filename):
                        target = into / info.filename
                        target.parent.mkdir(parents=True, exist_ok=True)
                        with z.open(info) as src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
            return
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                for member in t.getmembers():
                    if member.isfile() and _safe_member(member.name):
                        target = into / member.name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        src = t.extractfile(member)
                        assert src is not None
                        with src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
            return
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise ModelError(f"{archive} is a damaged model archive ({exc}).", archive) from exc
    raise ModelError(f"{archive} is not a model archive (expected a zip or tar file holding "
                     "manifest.json and the model files).", archive)


def _pack_manifests(files: list[Path], report: ImportReport) -> list[Manifest]:
    """Manifests found among ``files`` (JSON with ``"manifest": 1``); a broken one is reported."""
    found = []
    for path in files:
        if path.suffix.lower() != ".json":
            continue
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not (isinstance(raw, dict) and raw.get("manifest") == MANIFEST_VERSION):
            continue
        raw.pop("installed", None)
        try:
            found.append(parse_manifest(raw, str(path), origin="pack"))
        except ModelError as exc:
            report.errors.append(str(exc))
    return found


def _check_layout(path: Path, manifest: Manifest, spec: FileSpec) -> None:
    """A file from a pack-supplied manifest must have the inputs its family needs."""
    from app.inference.runtime import graph_io

    inputs, outputs = graph_io(path)
    missing = [n for n in spec.inputs if n not in inputs]
    extra = [n for n in inputs if n not in spec.inputs]
    if missing or extra:
        what = (f"missing {', '.join(missing)}" if missing else "") + (
            "; " if missing and extra else "") + (f"unexpected {', '.join(extra)}" if extra else "")
        raise ModelError(f"{path} does not have the inputs a {manifest.family} {spec.role} "
                         f"needs ({what}).", path)
    for name, shape in spec.inputs.items():
        have = inputs[name]
        if len(have) != len(shape) or any(isinstance(a, int) and isinstance(b, int) and a != b
                                           for a, b in zip(have, shape)):
            raise ModelError(f"{path} has input {name} of shape {have} where a "
                             f"{manifest.family} {spec.role} needs {shape}.", path)
    absent = [n for n in spec.outputs if n not in outputs]
    if absent:
        raise ModelError(f"{path} does not have the outputs a {manifest.family} {spec.role} "
                         f"gives (missing {', '.join(absent)}).", path)


def _copy_verified(src: Path, dst_dir: Path, spec: FileSpec) -> dict[str, Any]:
    """Copy ``src`` into ``dst_dir/spec.name`` atomically, hashing the bytes written; apply the
    spec's edit to the installed copy. Returns the installed record."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    target = dst_dir / str(spec.name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=dst_dir)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise ModelError(f"{src} changed while it was being copied; nothing was installed "
                             "from it.", src)
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
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"name": target.name, "sha256": spec.sha256, "installed_sha256": installed_sha,
            "bytes": size, "edit": spec.edit}


def _refusal(path: Path, sha: str, manifests: list[Manifest], explicit: bool) -> str | None:
    """The sentence for a file no manifest knows by hash, or None to ignore it quietly."""
    for m in manifests:
        for spec in m.files.values():
            if spec.name and spec.name == path.name:
                size = path.stat().st_size
                if spec.bytes and size < spec.bytes:
                    return (f"{path} is truncated ({size} of {spec.bytes} bytes): it is not the "
                            f"complete {m.id} {spec.role} file, so it was not installed.")
                return (f"{path} is not the {m.id} {spec.role} file its manifest names (SHA-256 "
                        "mismatch: damaged, altered or a different model), so it was not "
                        "installed.")
    if explicit:
        return (f"{path} matches no model pack Vellum knows (SHA-256 {sha[:12]}...), so it was "
                "not installed.")
    return None


def import_models(path: str | Path, root: Path | None = None,
                  progress: Callable[..., None] | None = None) -> ImportReport:
    """Install every known model file found at ``path`` (file, folder, archive or manifest)
    into ``root`` (default: :func:`models_dir`). Refusals are collected, not raised, unless
    nothing at all could be read (then :class:`ModelError`)."""
    src = Path(path)
    root = root or models_dir()
    if not src.exists():
        raise ModelError(f"{src} does not exist.", src)
    report = ImportReport()
    root.mkdir(parents=True, exist_ok=True)
    staging: Path | None = None
    try:
        explicit = src.is_file()
        if src.is_dir():
            files = _walk(src)
        elif zipfile.is_zipfile(src) or tarfile.is_tarfile(src) or src.name.endswith(
                ARCHIVE_SUFFIX):
            staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
            _extract(src, staging)
            files, explicit = _walk(staging), False
        elif src.suffix.lower() == ".json":
            files, explicit = _walk(src.parent), False
        else:
            files = [src]
        _install(files, root, report, explicit, str(src), progress)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return report


def _install(files: list[Path], root: Path, report: ImportReport, explicit: bool, source: str,
             progress: Callable[..., None] | None) -> None:
    known = bundled_manifests()
    for m in _pack_manifests(files, report):
        if m.id not in known:  # a pack cannot replace the hashes Vellum ships
            known[m.id] = m
    manifests = list(known.values())
    candidates = [f for f in files if f.suffix.lower() in MODEL_SUFFIXES or (
        explicit and f.suffix.lower() != ".json")]
    touched: dict[str, dict[str, dict[str, Any]]] = {}
    for n, path in enumerate(candidates):
        if progress:
            progress(n, len(candidates), path.name)
        try:
            sha = sha256_file(path)
        except OSError as exc:
            report.errors.append(f"{path} cannot be read ({exc.strerror}).")
            continue
        matches = [(m, m.file_by_hash(sha)) for m in manifests if m.file_by_hash(sha)]
        if not matches:
            sentence = _refusal(path, sha, manifests, explicit)
            if sentence:
                report.errors.append(sentence)
            else:
                report.ignored.append(str(path))
            continue
        for manifest, spec in matches:
            assert spec is not None
            try:
                if manifest.origin == "pack":
                    _check_layout(path, manifest, spec)
                record = _copy_verified(path, root / manifest.id, spec)
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
        report.packs[model_id] = write_installed(folder, manifest, merged, source)
    if progress:
        progress(len(candidates), len(candidates))
