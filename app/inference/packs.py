"""Installed model packs: the user's model folder, importing (verified, atomic), listing.

``<models folder>/<id>/manifest.json`` is the pack's manifest plus an ``installed`` record
(each file's verified original SHA-256, the installed copy's own SHA-256 and size, the edit
applied); the files sit beside it. Nothing is ever downloaded: packs come from local files,
folders or ``.vellum-models`` archives (see :mod:`app.inference.pack_import`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import ModelError, VellumError
from app.inference.manifest import FileSpec, Manifest, bundled_manifests, parse_manifest
from app.io.atomic import atomic_write
from app.io.inputs import read_json_file
from app.io.user_data import user_data_folder

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20


def models_dir() -> Path:
    """The user's model folder: ``$VELLUM_MODELS_DIR`` if set, else ``<user data>/vellum/models``
    (``$XDG_DATA_HOME`` or ``~/.local/share`` on Linux, ``%LOCALAPPDATA%`` on Windows,
    ``~/Library/Application Support`` on macOS)."""
    if os.environ.get("VELLUM_MODELS_DIR"):
        return Path(os.environ["VELLUM_MODELS_DIR"])
    return user_data_folder() / "models"


def models_dir_variable() -> str:
    """The environment variable(s) that move the model folder, for a sentence."""
    if os.environ.get("VELLUM_MODELS_DIR"):
        return "VELLUM_MODELS_DIR"
    if sys.platform == "win32":
        return "VELLUM_MODELS_DIR (or LOCALAPPDATA)"
    if sys.platform == "darwin":
        return "VELLUM_MODELS_DIR"
    return "VELLUM_MODELS_DIR (or XDG_DATA_HOME)"


def folder_unwritable(folder: Path) -> str | None:
    """None when a file can be made (and removed) in ``folder``; else why not, in a few words.
    A folder that does not exist yet is made for the test and removed again (with the folders
    made above it), so asking leaves nothing behind."""
    made = [p for p in (folder, *folder.parents) if not os.path.lexists(p)]
    try:
        if folder.exists() and not folder.is_dir():
            return "it is a file, not a folder"
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return (exc.strerror or str(exc)).rstrip(".")
    finally:
        for p in made:  # innermost first; one that is not empty stays
            try:
                p.rmdir()
            except OSError:
                break
    return None


def writable_models_dir(root: Path) -> Path:
    """``root``, created if needed, once a file has really been written in it (a read-only
    home, a read-only mount or a file in the way all show only then); otherwise
    :class:`ModelError` naming the folder and the variable that moves it."""
    try:
        if root.exists() and not root.is_dir():
            raise NotADirectoryError(20, "it is a file, not a folder")
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=root)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ModelError(f"The model folder {root} is not writable ({exc.strerror or exc}); "
                         f"set {models_dir_variable()} to a writable folder to move it.",
                         root) from None
    return root


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class InstalledPack:
    """A pack in the model folder. ``files`` maps role -> installed record (``name``,
    ``sha256`` of the verified original, ``installed_sha256``, ``bytes``, ``edit``)."""

    manifest: Manifest
    folder: Path
    files: dict[str, dict[str, Any]]

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def missing(self) -> list[str]:
        """Roles the manifest names that are not installed yet."""
        return [r for r in self.manifest.files if r not in self.files]

    @property
    def complete(self) -> bool:
        return not self.missing

    def path(self, role: str) -> Path:
        """Installed file of ``role``; :class:`ModelError` when it is not installed."""
        record = self.files.get(role)
        if record is None:
            spec = self.manifest.files.get(role)
            raise ModelError(f"The {self.id} model pack has no {role} file installed "
                             f"({spec.name if spec else role}): import it with "
                             "'vellum models import PATH'.", self.folder)
        return self.folder / record["name"]

    def problems(self, deep: bool = True) -> list[str]:
        """One sentence per problem: a file missing, of the wrong size or (``deep``) whose
        content no longer has the SHA-256 recorded at import."""
        found = [f"{self.id}: {role} file {self.manifest.files[role].name} is not installed."
                 for role in self.missing]
        for role, record in self.files.items():
            path = self.folder / record["name"]
            if not path.is_file():
                found.append(f"{path} is missing from the installed {self.id} pack.")
            elif record.get("bytes") is not None and path.stat().st_size != record["bytes"]:
                found.append(f"{path} is damaged ({path.stat().st_size} bytes where "
                             f"{record['bytes']} were installed).")
            elif deep and not _verified(path, record["installed_sha256"]):
                found.append(f"{path} is damaged (its SHA-256 no longer matches the file "
                             "that was verified at import).")
        return found


_VERIFIED: dict[tuple[str, int, int], str] = {}
_VERIFIED_LOCK = threading.Lock()


def _verified(path: Path, expected: str) -> bool:
    """Hash check, remembered per (path, size, mtime) for this process."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(key)
    if known is None:
        known = sha256_file(path)
        with _VERIFIED_LOCK:
            _VERIFIED[key] = known
    return known == expected


def _read_installed(folder: Path) -> InstalledPack:
    path = folder / MANIFEST_NAME
    try:
        raw = read_json_file(path, "model manifest", max_bytes=16 * 1024 * 1024)
    except VellumError as exc:
        raise ModelError(str(exc), path) from None
    record = raw.pop("installed", {}) if isinstance(raw, dict) else {}
    if not isinstance(record, dict) or not isinstance(record.get("files") or {}, dict):
        raise ModelError(f"{path} is not a usable model manifest (its 'installed' record is "
                         "damaged).", path)
    manifest = parse_manifest(raw, str(path), origin=record.get("origin", "vellum"))
    return InstalledPack(manifest, folder, dict(record.get("files") or {}))


def installed_packs(root: Path | None = None) -> tuple[list[InstalledPack], list[str]]:
    """Every pack in the model folder, and one sentence per folder that could not be read
    (a broken pack never hides the others)."""
    root = root or models_dir()
    packs, errors = [], []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.name.startswith(".") or not (folder / MANIFEST_NAME).is_file():
            continue
        try:
            packs.append(_read_installed(folder))
        except ModelError as exc:
            errors.append(str(exc))
    return packs, errors


def open_pack(model_id: str, root: Path | None = None, verify: bool = True) -> InstalledPack:
    """The installed, complete pack ``model_id``, its files checked against the hashes
    recorded at import (once per process); :class:`ModelError` in one sentence otherwise."""
    root = root or models_dir()
    folder = root / model_id
    if not (folder / MANIFEST_NAME).is_file():
        known = ", ".join(sorted(p.id for p in installed_packs(root)[0])) or "none"
        hint = " (a pack Vellum knows: import its files with 'vellum models import PATH')" if (
            model_id in bundled_manifests()) else ""
        raise ModelError(f"The model {model_id!r} is not installed in {root}{hint}; "
                         f"installed: {known}.", folder)
    pack = _read_installed(folder)
    if pack.missing:
        names = ", ".join(str(pack.manifest.files[r].name) for r in pack.missing)
        raise ModelError(f"The {model_id} model pack in {folder} is incomplete (missing "
                         f"{names}): import the rest with 'vellum models import PATH'.", folder)
    if verify:
        problems = pack.problems(deep=True)
        if problems:
            raise ModelError(problems[0], folder)
    return pack


def write_installed(folder: Path, manifest: Manifest, files: dict[str, dict[str, Any]],
                    source: str) -> InstalledPack:
    """Write ``folder/manifest.json`` atomically: the manifest plus the installed record."""
    from app.core.identity import utc_now

    raw = dict(manifest.raw)
    raw["installed"] = {"origin": manifest.origin, "from": source, "at": utc_now(),
                        "files": files}
    with atomic_write(folder / MANIFEST_NAME) as f:
        json.dump(raw, f, indent=2)
        f.write("\n")
    os.chmod(folder / MANIFEST_NAME, 0o644)
    return InstalledPack(manifest, folder, files)


def spec_of(pack: InstalledPack, role: str) -> FileSpec:
    return pack.manifest.files[role]
