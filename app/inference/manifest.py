"""Model-pack manifests: what a pack's files are, their SHA-256 and graph layout, how to feed it.

The bundled manifests live in ``app/models/`` (one JSON file per pack or family), shipped as
package data of ``app``; a pack imported from an archive may bring its own manifest for a
known family (``"extends": "sam-vit-onnx"``). See ``app/models/README.md`` for the fields.
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import ModelError
from app.inference.tasks import check_family

MANIFEST_VERSION = 1
#: Largest size a manifest may give for one file (a SAM ViT-H encoder is 2.5 GB).
MAX_FILE_BYTES = 16 * 1024**3
_NAME_FORBIDDEN = set('/\\:\0') | {chr(c) for c in range(32)} | {"\x7f"}


def plain_file_name(name: object) -> bool:
    """Whether ``name`` is a plain base name: a non-empty string without folders (``/`` or
    ``\\``), drive letters or streams (``:``), control characters or NUL, not ``.`` or ``..``,
    at most 255 characters. Manifest file names must be; they are joined to the pack folder."""
    return (isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..")
            and not _NAME_FORBIDDEN.intersection(name) and name.strip() == name)


def bundled_folder() -> Path:
    """The folder of the manifests shipped with Vellum: ``app/models/``, package data of the
    ``app`` package, so a wheel, an editable checkout and a frozen one-folder build (which
    bundles ``app/models`` beside the code, ``sys._MEIPASS``) all carry them."""
    folder = Path(__file__).resolve().parents[1] / "models"
    frozen = getattr(sys, "_MEIPASS", None)
    if not folder.is_dir() and frozen:
        folder = Path(frozen) / "app" / "models"
    return folder


@dataclass(frozen=True)
class FileSpec:
    """One file of a pack: its role (``encoder``, ``decoder``, ``backbone``, ``head``), file name,
    SHA-256 and size of the verified original, and the graph's declared inputs and outputs
    (shape lists; strings are free dimensions)."""

    role: str
    name: str | None
    sha256: str | None
    bytes: int | None = None
    inputs: dict[str, list[Any]] = field(default_factory=dict)
    outputs: dict[str, list[Any]] = field(default_factory=dict)
    edit: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest. ``raw`` keeps every key (unknown ones too) for writing it back."""

    id: str
    name: str
    task: str
    family: str
    licence: str
    source: str
    files: dict[str, FileSpec]
    raw: dict[str, Any]
    kind: str = "pack"
    origin: str = "vellum"  # where the hashes come from: "vellum" (bundled) or "pack"

    @property
    def input_size(self) -> int:
        return int(self.raw.get("input_size") or 0)

    @property
    def prompt(self) -> dict[str, Any]:
        return dict(self.raw.get("prompt") or {})

    @property
    def tracking(self) -> dict[str, Any]:
        return dict(self.raw.get("tracking") or {})

    def file_by_hash(self, sha256: str) -> FileSpec | None:
        return next((f for f in self.files.values() if f.sha256 == sha256), None)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_manifest(raw: dict[str, Any], where: str, families: dict[str, Manifest] | None = None,
                   origin: str = "vellum") -> Manifest:
    """Check and parse a manifest dict; ``ModelError`` naming ``where`` when it is wrong."""
    if not isinstance(raw, dict):
        raise ModelError(f"{where} is not a model manifest (expected a JSON object).", where)
    extends = raw.get("extends")
    if extends is not None and not isinstance(extends, str):
        raise ModelError(f"{where} is not a usable model manifest ('extends' must be a family "
                         "id).", where)
    if extends:
        family = (families if families is not None else _bundled_by_id()).get(extends)
        if family is None:
            raise ModelError(f"{where} extends the unknown model family {extends!r}.", where)
        base = {k: v for k, v in family.raw.items() if k not in ("kind", "id", "name")}
        # a new pack inherits each file's layout (inputs, outputs, edit), never its identity
        base["files"] = {role: {k: v for k, v in (spec or {}).items()
                                if k not in ("name", "sha256", "bytes")}
                         for role, spec in dict(base.get("files") or {}).items()}
        raw = _merge(base, {k: v for k, v in raw.items() if k != "extends"})
    missing = [k for k in ("id", "task", "family", "files") if not raw.get(k)]
    if missing:
        raise ModelError(f"{where} is not a model manifest (no {', '.join(missing)}).", where)
    _check_types(raw, where)
    if not check_family(raw["family"], raw["task"]):
        raise ModelError(f"{where} names a model family Vellum cannot run "
                         f"({raw['family']!r} for {raw['task']!r}).", where)
    kind = str(raw.get("kind") or "pack")
    files: dict[str, FileSpec] = {}
    for role, spec in raw["files"].items():
        spec = spec or {}
        sha = spec.get("sha256")
        if kind == "pack" and (not spec.get("name") or not _is_sha256(sha)):
            raise ModelError(f"{where} gives no file name or no valid SHA-256 for its {role} "
                             "file.", where)
        if spec.get("name") is not None and not plain_file_name(spec["name"]):
            raise ModelError(f"{where} names its {role} file {str(spec['name'])[:80]!r}, which "
                             "is not a plain file name (no folders, '..', drive letters or "
                             "control characters), so nothing was installed from it.", where)
        files[role] = FileSpec(role, spec.get("name"), sha.lower() if sha else None,
                               spec.get("bytes"), dict(spec.get("inputs") or {}),
                               dict(spec.get("outputs") or {}), spec.get("edit"))
    model_id = str(raw["id"])
    if not model_id.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ModelError(f"{where} has an id Vellum cannot use as a folder name "
                         f"({model_id!r}).", where)
    return Manifest(model_id, str(raw.get("name") or model_id), raw["task"], raw["family"],
                    str(raw.get("licence") or "unknown"), str(raw.get("source") or "unknown"),
                    files, raw, kind, origin)


def _check_types(raw: dict[str, Any], where: str) -> None:
    """Refuse, in one sentence naming ``where``, fields of the wrong JSON type (``files`` a
    string, a size that is not a number...) before anything uses them."""
    def bad(what: str) -> ModelError:
        return ModelError(f"{where} is not a usable model manifest ({what}).", where)

    for key in ("id", "task", "family"):
        if not isinstance(raw[key], str):
            raise bad(f"'{key}' must be a string")
    if not isinstance(raw["files"], dict):
        raise bad("'files' must map each role to a file")
    for role, spec in raw["files"].items():
        if spec is None:
            continue
        if not isinstance(spec, dict):
            raise bad(f"the {role} file must be an object with name and sha256")
        for key in ("name", "sha256", "edit"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise bad(f"the {role} file's '{key}' must be a string")
        size = spec.get("bytes")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or not 0 < size <= MAX_FILE_BYTES):
            raise bad(f"the {role} file's 'bytes' must be a whole number from 1 to "
                      f"{MAX_FILE_BYTES}")
        for key in ("inputs", "outputs"):
            shapes = spec.get(key)
            if shapes is not None and not (isinstance(shapes, dict) and all(
                    isinstance(v, list) and all(isinstance(d, (int, str)) for d in v)
                    for v in shapes.values())):
                raise bad(f"the {role} file's '{key}' must map names to shape lists")
    for key in ("prompt", "tracking"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise bad(f"'{key}' must be an object")
    size = raw.get("input_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                             or not 0 <= size <= 16384):
        raise bad("'input_size' must be a whole number of pixels")
    tracking = raw.get("tracking") or {}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
               for v in tracking.values()):
        raise bad("every 'tracking' value must be a number")


def _is_sha256(value: Any) -> bool:
    return (isinstance(value, str) and len(value) == 64
            and all(c in "0123456789abcdef" for c in value.lower()))


def read_manifest(path: str | Path, origin: str = "vellum",
                  families: dict[str, Manifest] | None = None) -> Manifest:
    """Read and parse one manifest file."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{p} is not a readable model manifest ({exc}).", p) from exc
    return parse_manifest(raw, str(p), families, origin)


def _bundled() -> list[Manifest]:
    found = []
    folder = bundled_folder()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(raw, dict) and raw.get("manifest") == MANIFEST_VERSION:
            found.append(parse_manifest(raw, str(path), families={}))
    return found


def _bundled_by_id() -> dict[str, Manifest]:
    return {m.id: m for m in _bundled()}


def bundled_families() -> dict[str, Manifest]:
    """Family manifests (layouts without weights), by id."""
    return {m.id: m for m in _bundled() if m.kind == "family"}


def bundled_manifests() -> dict[str, Manifest]:
    """The packs Vellum knows the hashes of, by id."""
    return {m.id: m for m in _bundled() if m.kind == "pack"}


def require_bundled() -> dict[str, Manifest]:
    """:func:`bundled_manifests`, or :class:`ModelError` in one sentence when this
    installation carries none (its ``app/models`` package data is missing)."""
    found = bundled_manifests()
    if not found:
        folder = bundled_folder()
        raise ModelError(f"This Vellum installation has no model manifests in {folder} (its "
                         "package data is missing), so it cannot recognise any model file; "
                         "reinstall Vellum from a complete wheel or checkout.", folder)
    return found
