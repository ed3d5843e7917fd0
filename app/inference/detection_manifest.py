"""A manifest for an Ultralytics YOLO detector brought as a bare ``.onnx`` (no manifest).

``vellum models import FOLDER`` with a detector ``.onnx`` and no ``manifest.json`` makes one
here: task ``detect``, family ``yolo-onnx``, the file's SHA-256 and size, its graph's inputs
and outputs, the input size, the output layout (:mod:`app.inference.detection_decode`) and the
class names. Names come from the ONNX metadata ``names`` that Ultralytics writes (a Python
dict literal, ``{0: 'person', 1: 'bicycle'}``), else from a names file beside the ``.onnx``:
``data.yaml`` / ``data.yml`` (Ultralytics' dataset file, its ``names`` list or mapping),
``classes.txt`` or ``names.txt`` (one name per line). A file with no names at all is not taken
for a detector (it stays "a file no pack knows", as before).

The pack's id is ``<slug of the file name>-<first 8 hex of its SHA-256>``: a name from the
input never chooses a folder on its own (the slug keeps only ``a-z0-9-``, the hash makes it
the file's own), so importing another file can never replace an installed pack, and importing
the same file again lands in the same place. The file keeps its base name inside that folder
when it is a plain file name (``model.onnx`` otherwise).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.core.errors import ModelError, VellumError
from app.inference import detection_layout as dl
from app.inference.detection_layout import END2END, LAYOUTS
from app.inference.manifest import MANIFEST_VERSION, Manifest, parse_manifest, plain_file_name

FAMILY = "yolo-onnx"
ROLE = "model"
NAMES_FILES = ("data.yaml", "data.yml", "classes.txt", "names.txt")
MAX_NAMES_BYTES = 1024 * 1024
MAX_CLASSES = 10_000
DEFAULT_IMGSZ = 640


def onnx_info(path: Path) -> tuple[dict[str, tuple[list[Any], str]], dict[str, list[Any]],
                                   dict[str, str]]:
    """Inputs (name -> (shape, type)), outputs (name -> shape) and metadata of an ONNX file,
    read by ONNX Runtime on the CPU without optimising (telemetry off: through
    :func:`app.inference.runtime.load_onnxruntime`); :class:`ModelError` naming the file when
    it cannot be read."""
    from app.inference.runtime import _first_line, load_onnxruntime

    ort = load_onnxruntime()
    so = ort.SessionOptions()
    so.log_severity_level = 4
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        meta = dict(session.get_modelmeta().custom_metadata_map or {})
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        raise ModelError(f"{path} is not a readable ONNX model ({_first_line(exc)}).",
                         path) from None
    return ({i.name: (_dims(i.shape), i.type) for i in session.get_inputs()},
            {o.name: _dims(o.shape) for o in session.get_outputs()}, meta)


def _dims(shape: Any) -> list[Any]:
    """A graph shape as the manifest stores it: ints, strings for free dimensions."""
    return [d if isinstance(d, int) else (d if isinstance(d, str) and d else "?")
            for d in (shape or [])]


def names_from_value(value: Any, where: str) -> list[str]:
    """Class names from a ``names`` value: a list, or a mapping index -> name whose indices are
    0..n-1; :class:`ModelError` naming ``where`` otherwise."""
    if isinstance(value, dict):
        try:
            keys = sorted(int(k) for k in value)
        except (TypeError, ValueError):
            keys = []
        if keys != list(range(len(value))):
            raise ModelError(f"{where} gives class names whose indices are not 0 to "
                             f"{len(value) - 1}.", where)
        value = [value[k] if k in value else value[str(k)] for k in keys]
    if not isinstance(value, (list, tuple)) or not value or len(value) > MAX_CLASSES:
        raise ModelError(f"{where} gives no usable class names (a list or an index -> name "
                         f"mapping of 1 to {MAX_CLASSES} names).", where)
    names = [str(v).strip() for v in value]
    if any(not n or len(n) > 200 for n in names):
        raise ModelError(f"{where} gives an empty or overlong class name.", where)
    return names


def metadata_names(meta: dict[str, str], path: Path) -> list[str] | None:
    """The names Ultralytics wrote into the ONNX metadata (``names``), or None."""
    text = meta.get("names")
    if not text:
        return None
    try:
        value = ast.literal_eval(text) if len(text) <= MAX_NAMES_BYTES else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if value is None:
        raise ModelError(f"{path} has ONNX metadata 'names' that is not a list or mapping of "
                         "class names.", path)
    return names_from_value(value, f"{path} (ONNX metadata 'names')")


def read_names_file(path: Path) -> list[str]:
    """Names from ``data.yaml`` (its ``names``) or a one-name-per-line text file."""
    from app.io.inputs import read_capped

    try:
        p, data = read_capped(path, "class names file", MAX_NAMES_BYTES)
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ModelError(f"{path} is not a UTF-8 text file of class names.", path) from None
    except VellumError as exc:
        raise ModelError(str(exc), path) from None
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml  # PyYAML: a dependency of supervision (the tracker), hence always there

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ModelError(f"{p} is not readable YAML ({str(exc).splitlines()[0]}).",
                             p) from None
        if not isinstance(raw, dict) or "names" not in raw:
            raise ModelError(f"{p} has no 'names' list of class names.", p)
        return names_from_value(raw["names"], str(p))
    return names_from_value([line for line in text.splitlines() if line.strip()], str(p))


def names_beside(onnx: Path, files: Sequence[Path] | None = None) -> Path | None:
    """The names file in the folder of ``onnx`` (among ``files`` when given)."""
    for name in NAMES_FILES:
        candidate = onnx.parent / name
        if (candidate in files) if files is not None else candidate.is_file():
            return candidate
    return None


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return slug or "detector"


def _imgsz(meta: dict[str, str], hw: tuple[Any, Any]) -> tuple[list[int] | None, int]:
    """``([H, W] or None when free, the size to letterbox a free input to)``."""
    fixed = [d for d in hw if isinstance(d, int) and d > 0]
    if len(fixed) == 2:
        return fixed, max(fixed)
    size = DEFAULT_IMGSZ
    try:
        value = ast.literal_eval(meta.get("imgsz", "")) if meta.get("imgsz") else None
        if isinstance(value, (list, tuple)) and value:
            size = int(max(value))
        elif isinstance(value, int):
            size = value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    return None, max(32, min(size, 16384))


def _literal(text: str | None) -> Any:
    """A Python literal Ultralytics wrote into the metadata (``str()`` of a value), or None."""
    if not text or len(text) > MAX_NAMES_BYTES:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def export_words(meta: dict[str, str]) -> dict[str, Any]:
    """What the export's metadata says about its head: ``task``, ``kpt_shape`` and
    ``end2end`` (True for end-to-end heads and ``nms=True`` exports, False where it says
    neither, None where it says nothing)."""
    args = _literal(meta.get("args"))
    nms = _flag(args.get("nms")) if isinstance(args, dict) and "nms" in args else None
    flags = [_flag(meta.get("end2end")), _flag(meta.get("nms")), nms]
    end2end = True if any(flags) else (False if False in flags else None)
    kpt = _literal(meta.get("kpt_shape"))
    return {"task": meta.get("task") or None, "end2end": end2end,
            "kpt_shape": list(kpt) if isinstance(kpt, (list, tuple)) else None}


def detector_manifest(onnx: Path, sha256: str, names_file: Path | None = None) -> Manifest:
    """The manifest of a bare detector ``onnx`` (whose SHA-256 is ``sha256``), its names from
    its metadata or ``names_file``; :class:`ModelError` in one sentence naming the file when it
    is not a detector Vellum can run (no names, an input that is not an image, outputs that
    are none of the layouts). A head that free dimensions leave open is settled when the
    model first runs (``layout`` null)."""
    inputs, outputs, meta = onnx_info(onnx)
    names = metadata_names(meta, onnx)
    names_from = "ONNX metadata"
    if names is None:
        if names_file is None:
            raise ModelError(f"{onnx} has no class names (no 'names' in its ONNX metadata and "
                             f"no {', '.join(NAMES_FILES)} beside it).", onnx)
        names, names_from = read_names_file(names_file), names_file.name
    words = export_words(meta)
    task = words["task"] or "detect"
    if task not in ("detect", "segment", "pose"):
        raise ModelError(f"{onnx} is an Ultralytics {task} model; Vellum's detectors read "
                         "detect, segment and pose exports (their boxes).", onnx)
    image = dl.image_input({k: v[0] for k, v in inputs.items()})
    if image is None:
        raise ModelError(f"{onnx} does not take one image input [1, 3, H, W] (it takes "
                         f"{', '.join(f'{k} {v[0]}' for k, v in inputs.items()) or 'none'}), "
                         "so it is not a YOLO detector Vellum can run.", onnx)
    in_shape, in_type = inputs[image.name]
    hw, size = _imgsz(meta, image.hw)
    hints = dl.Hints(len(names), tuple(hw) if hw else None, words["end2end"],
                     dl.extras_for(words["task"], words["kpt_shape"], outputs))
    head = dl.choose_head(outputs, hints)
    if head is None and not (dl.has_free_dims(outputs) and dl.possible(outputs, hints)):
        raise ModelError(f"{onnx} gives {dl.shapes_words(outputs)}, which "
                         f"{'is' if len(outputs) == 1 else 'are'} none of the YOLO detection "
                         f"layouts for its {len(names)} class names ("
                         f"{', '.join(dl.layout_words(x) for x in LAYOUTS)}).", onnx)
    stride = _int(meta.get("stride"), 32)
    name = onnx.name if plain_file_name(onnx.name) else "model.onnx"
    output: Any = None
    if head is not None:
        output = head.outputs[0] if len(head.outputs) == 1 else list(head.outputs)
    raw: dict[str, Any] = {
        "manifest": MANIFEST_VERSION, "id": f"{_slug(onnx.stem)}-{sha256[:8]}",
        "name": str(meta.get("description") or onnx.stem)[:200], "task": "detect",
        "family": FAMILY, "licence": str(meta.get("license") or "unknown")[:200],
        "source": f"imported from {onnx.name}"[:300],
        "files": {ROLE: {"name": name, "sha256": sha256, "bytes": onnx.stat().st_size,
                         "inputs": {image.name: in_shape}, "outputs": dict(outputs)}},
        "input_size": size, "input_hw": hw, "input_type": in_type, "stride": stride,
        "layout": head.layout if head else None, "end2end": words["end2end"],
        "output": output, "export_task": words["task"], "kpt_shape": words["kpt_shape"],
        "extras": list(hints.extras), "names": names, "names_from": names_from}
    return parse_manifest(raw, str(onnx), origin="pack")


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    return str(value).strip().lower() in ("true", "1", "yes")


def _int(value: Any, default: int) -> int:
    try:
        return max(1, int(str(value).strip().strip("[]").split(",")[-1]))
    except (TypeError, ValueError):
        return default


def check_detector_manifest(m: Manifest) -> tuple[list[str], str | None]:
    """The names and the layout override of a ``yolo-onnx`` manifest; :class:`ModelError` in
    one sentence when they are unusable."""
    names = names_from_value(m.raw.get("names"), f"The {m.id} manifest's 'names'")
    layout = m.raw.get("layout")
    if layout is not None and layout not in LAYOUTS:
        raise ModelError(f"The {m.id} manifest gives the layout {str(layout)[:40]!r}; Vellum "
                         f"reads {', '.join(LAYOUTS)}.", m.id)
    return names, layout


def folder_detectors(files: Sequence[Path], known_hashes: set[str]
                     ) -> tuple[list[Manifest], list[str]]:
    """Manifests for the bare detectors among ``files`` (``.onnx`` whose SHA-256 no known
    manifest lists, with class names in their metadata or a names file beside them), and one
    sentence per such file that cannot be a detector (a names file is beside it, or names are
    in its metadata, but it cannot be read or has no detection layout)."""
    from app.inference.packs import sha256_file

    found: list[Manifest] = []
    errors: list[str] = []
    for path in files:
        if path.suffix.lower() != ".onnx":
            continue
        try:
            sha = sha256_file(path)
        except OSError as exc:
            errors.append(f"{path} cannot be read ({exc.strerror or exc}).")
            continue
        if sha in known_hashes:
            continue
        beside = names_beside(path, files)
        try:
            if beside is None and not _has_names_metadata(path):
                continue  # not a detector bundle: left to the ordinary "unknown file" rule
            found.append(detector_manifest(path, sha, beside))
            known_hashes.add(sha)
        except ModelError as exc:
            errors.append(str(exc))
    return found, errors


def add_bare_detectors(files: Sequence[Path], known: dict[str, Manifest]) -> list[str]:
    """Add to ``known`` a manifest for each bare detector among ``files`` (their names files
    may sit beside them, listed or not) and return the sentences for those refused. Used by
    ``vellum models import`` and ``vellum models pack`` on a folder without a manifest."""
    onnx = [f for f in files if f.suffix.lower() == ".onnx"]
    if not onnx:
        return []
    listed = list(files) + [p for f in onnx if (p := names_beside(f)) is not None]
    hashes = {s.sha256 for m in known.values() for s in m.files.values() if s.sha256}
    found, errors = folder_detectors(listed, hashes)
    for m in found:
        known.setdefault(m.id, m)
    return errors


def _has_names_metadata(path: Path) -> bool:
    try:
        return bool(onnx_info(path)[2].get("names"))
    except ModelError:
        return False


__all__ = ["FAMILY", "ROLE", "NAMES_FILES", "detector_manifest", "folder_detectors",
           "add_bare_detectors",
           "check_detector_manifest", "onnx_info", "read_names_file", "metadata_names",
           "names_from_value", "END2END"]
