"""``vellum models pack FOLDER -o NAME.vellum-models``: a verified archive for a site.

The archive is what :func:`app.inference.pack_import.import_models` installs from (a USB stick,
a share): a zip holding, per pack, ``<id>/manifest.json`` and the files it names beside it,
the licence file(s) the folder or the manifest has, and ``SHA256SUMS`` at the top (one line
per member, as ``sha256sum -c`` reads it after unpacking by hand).

Every model file is identified by its SHA-256 against the manifests Vellum ships, or against a
manifest the folder brings for a known family (``"extends": "sam-vit-onnx"``), exactly as an
import would. The folder is refused in one sentence, with nothing written, when it holds no
pack Vellum knows, when a file has a manifest's name but not its SHA-256, when a pack is
incomplete, or when its manifest cannot be read. The archive is written beside its final name
and renamed into place once every member was read back and checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from app.core.errors import ModelError, VellumError
from app.inference.manifest import Manifest, plain_file_name, require_bundled
from app.inference.pack_import import (ARCHIVE_SUFFIX, MODEL_SUFFIXES, ImportReport,
                                       _pack_manifests, _walk)
from app.inference.packs import sha256_file

SUMS_NAME = "SHA256SUMS"
#: Names of licence files found in a folder (case-insensitive prefixes).
LICENCE_PREFIXES = ("licence", "license", "copying", "notice")
_MAX_LICENCE_BYTES = 4 * 1024 * 1024
_CHUNK = 1 << 20


@dataclass
class PackedModel:
    """One pack in the archive: its manifest, role -> source file, and licence files."""

    manifest: Manifest
    files: dict[str, Path]
    licences: list[Path] = field(default_factory=list)


@dataclass
class PackReport:
    """What :func:`make_pack` wrote: the archive, its SHA-256, the packs, notes."""

    archive: Path
    sha256: str
    bytes: int
    packs: list[PackedModel]
    notes: list[str] = field(default_factory=list)


def _is_licence(path: Path) -> bool:
    return path.name.lower().startswith(LICENCE_PREFIXES) and path.suffix.lower() not in (
        *MODEL_SUFFIXES, ".json")


def _licences(folder: Path, files: list[Path], pack_files: list[Path],
              manifest: Manifest) -> list[Path]:
    """Licence files for a pack: those its manifest names (``licence_files``), else those in
    the folder of its files or any folder above it up to ``folder``."""
    named = manifest.raw.get("licence_files")
    hashes = dict(named) if isinstance(named, dict) else {}
    if isinstance(named, dict):
        named = list(named)
    if isinstance(named, list) and named:
        base = pack_files[0].parent
        found = []
        for name in named:
            path = base / str(name)
            if not plain_file_name(name) or path not in files:
                raise ModelError(f"The {manifest.id} manifest names the licence file "
                                 f"{str(name)[:80]!r}, which {base} does not hold, so no "
                                 "archive was written.", base)
            if hashes.get(name) and str(hashes[name]).lower() != sha256_file(path):
                raise ModelError(f"{path} is not the licence file the {manifest.id} manifest "
                                 "names (SHA-256 mismatch), so no archive was written.", path)
            found.append(path)
        return found
    out: list[Path] = []
    for f in pack_files:
        here = f.parent
        while True:
            out += [p for p in files if p.parent == here and _is_licence(p) and p not in out]
            if here == folder or folder not in here.parents:
                break
            here = here.parent
    return out


def _identify(folder: Path, files: list[Path], known: dict[str, Manifest],
              progress: Callable[..., None] | None) -> dict[str, dict[str, Path]]:
    """model id -> role -> file, for every model file of ``folder`` a manifest knows by
    SHA-256; a file with a manifest's name but another SHA-256 refuses the folder."""
    manifests = list(known.values())
    found: dict[str, dict[str, Path]] = {}
    models = [f for f in files if f.suffix.lower() in MODEL_SUFFIXES]
    for n, path in enumerate(models):
        if progress:
            progress(n, len(models), path.name)
        try:
            sha = sha256_file(path)
        except OSError as exc:
            raise ModelError(f"{path} cannot be read ({exc.strerror or exc}), so no archive "
                             "was written.", path) from None
        matches = [(m, spec) for m in manifests if (spec := m.file_by_hash(sha)) is not None]
        if not matches:
            named = [(m, s) for m in manifests for s in m.files.values() if s.name == path.name]
            if named:
                m, spec = named[0]
                raise ModelError(f"{path} is not the {m.id} {spec.role} file its manifest "
                                 f"names (SHA-256 mismatch: damaged, altered or a different "
                                 "model), so no archive was written.", path)
            continue
        for m, spec in matches:
            found.setdefault(m.id, {}).setdefault(spec.role, path)
    if progress:
        progress(len(models), len(models))
    return found


def plan_pack(folder: str | Path,
              progress: Callable[..., None] | None = None) -> tuple[list[PackedModel], list[str]]:
    """The packs ``folder`` holds, every file verified; :class:`ModelError` in one sentence
    when it holds none, or a damaged, altered or incomplete one."""
    from app.io.inputs import require_readable

    try:
        src = require_readable(folder, folders=True, what="model folder")
    except VellumError as exc:
        raise ModelError(str(exc), folder) from None
    if not src.is_dir():
        raise ModelError(f"{src} is a file; give the folder that holds the model files and "
                         "their manifest.", src)
    known = dict(require_bundled())
    files = _walk(src)
    scan = ImportReport()
    own = _pack_manifests(files, scan)
    if scan.errors:
        raise ModelError(f"{scan.errors[0].rstrip('.')}; no archive was written.", src)
    for m in own:
        if m.id not in known:  # a folder cannot replace the hashes Vellum ships
            known[m.id] = m
    from app.inference.detection_manifest import add_bare_detectors

    refused = add_bare_detectors(files, known)  # a detector .onnx + its names, no manifest
    if refused:
        raise ModelError(f"{refused[0].rstrip('.')}; no archive was written.", src)
    found = _identify(src, files, known, progress)
    if not found:
        raise ModelError(f"{src} holds no model pack Vellum knows (no file whose SHA-256 a "
                         "bundled manifest or a manifest.json of the folder lists), so no "
                         "archive was written.", src)
    packs, notes = [], []
    for model_id in sorted(found):
        manifest, roles = known[model_id], found[model_id]
        missing = [s.name for r, s in manifest.files.items() if r not in roles]
        if missing:
            raise ModelError(f"{src} holds only part of the {model_id} model pack (missing "
                             f"{', '.join(str(n) for n in missing)}), so no archive was "
                             "written.", src)
        pack_files = [roles[r] for r in manifest.files]
        licences = _licences(src, files, pack_files, manifest)
        if not licences:
            notes.append(f"{src} holds no licence file for {model_id} (its manifest gives the "
                         f"licence {manifest.licence}).")
        for path in licences:
            if path.stat().st_size > _MAX_LICENCE_BYTES:
                raise ModelError(f"{path} is too large for a licence file "
                                 f"({path.stat().st_size} bytes), so no archive was written.",
                                 path)
        packs.append(PackedModel(manifest, {r: roles[r] for r in manifest.files}, licences))
    used = {f for p in packs for f in p.files.values()}
    notes += [f"{f} matches no model pack Vellum knows; it was left out." for f in files
              if f.suffix.lower() in MODEL_SUFFIXES and f not in used]
    return packs, notes


def _archived_manifest(pack: PackedModel) -> bytes:
    """The manifest as the archive carries it: the pack's own keys (never an install record),
    with each file's SHA-256 and size, and the licence files with theirs."""
    raw: dict[str, Any] = {k: v for k, v in pack.manifest.raw.items() if k != "installed"}
    raw["manifest"] = raw.get("manifest", 1)
    raw["id"] = pack.manifest.id
    files = dict(raw.get("files") or {})
    for role, path in pack.files.items():
        spec = pack.manifest.files[role]
        entry = dict(files.get(role) or {})
        entry.update(name=spec.name, sha256=spec.sha256, bytes=path.stat().st_size)
        files[role] = entry
    raw["files"] = files
    if pack.licences:
        raw["licence_files"] = {p.name: sha256_file(p) for p in pack.licences}
    return (json.dumps(raw, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _member_name(pack: PackedModel, name: str) -> str:
    """``<id>/<name>``: both plain names (the manifest check already made them so)."""
    if not plain_file_name(name) or not plain_file_name(pack.manifest.id):
        raise ModelError(f"The {pack.manifest.id} pack names a file {name[:80]!r} that cannot "
                         "be an archive member, so no archive was written.", name)
    return str(PurePosixPath(pack.manifest.id) / name)


def _write_members(zf: zipfile.ZipFile, packs: list[PackedModel],
                   progress: Callable[..., None] | None) -> dict[str, str]:
    """Write every member (model files streamed and hashed as they go) and return member ->
    SHA-256; a model file whose bytes changed since it was verified stops the archive."""
    sums: dict[str, str] = {}
    total = sum(p.stat().st_size for pack in packs for p in (*pack.files.values(),
                                                              *pack.licences))
    done = 0
    for pack in packs:
        data = _archived_manifest(pack)
        member = _member_name(pack, "manifest.json")
        zf.writestr(_info(member), data)
        sums[member] = hashlib.sha256(data).hexdigest()
        expected = {path: pack.manifest.files[role].sha256 for role, path in pack.files.items()}
        for path in (*pack.files.values(), *pack.licences):
            member = _member_name(pack, path.name)
            info = _info(member)
            if path.suffix.lower() in MODEL_SUFFIXES:
                info.compress_type = zipfile.ZIP_STORED  # dense weights: deflate buys little
            digest = hashlib.sha256()
            with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total, path.name)
            sha = digest.hexdigest()
            if path in expected and sha != expected[path]:
                raise ModelError(f"{path} changed while it was being packed, so no archive "
                                 "was written.", path)
            sums[member] = sha
    text = "".join(f"{sha}  {name}\n" for name, sha in sums.items())
    zf.writestr(_info(SUMS_NAME), text.encode("ascii"))
    return sums


def _check_archive(f: Any, path: Path, sums: dict[str, str]) -> None:
    """Read every member of the archive open as ``f`` back and compare its SHA-256 with what
    was written."""
    with zipfile.ZipFile(f) as zf:
        for name, sha in sums.items():
            digest = hashlib.sha256()
            with zf.open(name) as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
            if digest.hexdigest() != sha:
                raise ModelError(f"{path} did not read back as written ({name} differs), so "
                                 "nothing was written.", path)


def make_pack(folder: str | Path, out: str | Path, *, overwrite: bool = False,
              progress: Callable[..., None] | None = None,
              verify_progress: Callable[..., None] | None = None) -> PackReport:
    """Write the verified archive of the packs in ``folder`` to ``out`` (``.vellum-models``;
    an existing file only with ``overwrite``, never a project or its media).
    ``verify_progress(done, total, name)`` counts the model files hashed, ``progress`` the
    bytes written."""
    from app.io.atomic import user_umask, write_error
    from app.io.outputs import prepare_output

    target = prepare_output(out, formats=(ARCHIVE_SUFFIX,), overwrite=overwrite)
    packs, notes = plan_pack(folder, verify_progress)
    sources = {p.resolve() for pack in packs for p in (*pack.files.values(), *pack.licences)}
    if target.exists() and target.resolve() in sources:
        raise ModelError(f"Refusing to write {target}: it is one of the files being packed.",
                         target)
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                    dir=target.parent)
        tmp = Path(name)
        with os.fdopen(fd, "w+b") as f:
            with zipfile.ZipFile(f, "w", allowZip64=True) as zf:
                sums = _write_members(zf, packs, progress)
            f.flush()
            os.fsync(f.fileno())
            f.seek(0)
            _check_archive(f, target, sums)
        os.chmod(tmp, 0o666 & ~user_umask())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise write_error(target, exc) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
            for folder_made in made:  # innermost first; a folder not empty stays
                try:
                    folder_made.rmdir()
                except OSError:
                    break
    return PackReport(target, sha256_file(target), target.stat().st_size, packs, notes)


__all__ = ["make_pack", "plan_pack", "PackReport", "PackedModel", "SUMS_NAME"]
