"""Label maps to and from NIfTI, with their segment table beside them.

``write_labelmap_nifti("seg.nii.gz", labels, geometry, segments)`` writes three files,
all-or-nothing (each atomically, renamed together at the end):

- ``seg.nii.gz``: the label values (uint8, or uint16 past 255) on the source volume's exact
  grid (RAS affine in sform and qform, intent NIFTI_INTENT_LABEL);
- ``seg.json``: the segment table — value, name, colour, class id and name, Vellum ids —
  and the grid it belongs to (LPS);
- ``seg.itksnap.txt``: the same table as an ITK-SNAP label description file.

No free-text field of the source (patient, study, dates, series description) is ever
written: NIfTI descrip/aux_file/intent_name are empty.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.errors import BadInputError
from app.core.geometry import VolumeGeometry
from app.core.labelmap import Segment
from app.io.atomic import atomic_write
from app.io.inputs import read_json_file, require_readable
from app.io.volume.nifti import (_stem, is_nifti, max_corner_distance, nifti_image,
                                 open_nifti, read_voxels, stream_image)

FIT_MM = 1e-3  # a label map's grid must sit within this of the volume's
MAX_SEGMENTS = 1000  # more distinct values than this is an image, not a label map
MAX_TABLE_BYTES = 16 * 1024 * 1024  # a segment table (JSON, ITK-SNAP) is a few KiB
SIDECAR_FORMAT = "vellum-labelmap"
_PALETTE = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0",
            "#f032e6", "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#800000")


def sidecar_paths(path: str | Path) -> tuple[Path, Path]:
    """The JSON and ITK-SNAP files that go with label map ``path``."""
    p = Path(path)
    stem = _stem(p)
    return p.with_name(f"{stem}.json"), p.with_name(f"{stem}.itksnap.txt")


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def itksnap_text(segments: Sequence[Segment]) -> str:
    """ITK-SNAP label description file (IDX R G B A VIS MSH "LABEL"), background first."""
    lines = [
        "################################################",
        "# ITK-SnAP Label Description File",
        "# File format: ",
        "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
        "# Fields: ",
        "#    IDX:   Zero-based index ",
        "#    -R-:   Red color component (0..255)",
        "#    -G-:   Green color component (0..255)",
        "#    -B-:   Blue color component (0..255)",
        "#    -A-:   Label transparency (0.00 .. 1.00)",
        "#    VIS:   Label visibility (0 or 1)",
        "#    IDX:   Label mesh visibility (0 or 1)",
        "#  LABEL:   Label description ",
        "################################################",
        f"{0:>5} {0:>5} {0:>4} {0:>4} {0:>8} {0:>2} {0:>2}    \"Clear Label\"",
    ]
    for s in sorted(segments, key=lambda s: s.value):
        r, g, b = _rgb(s.color)
        name = s.name.replace('"', "'").replace("\n", " ")
        lines.append(f"{s.value:>5} {r:>5} {g:>4} {b:>4} {1:>8} {1:>2} {1:>2}    \"{name}\"")
    return "\n".join(lines) + "\n"


def parse_itksnap(text: str) -> list[Segment]:
    """Segments of an ITK-SNAP label description file (value 0 left out); ValueError with
    the reason when a line is not one."""
    import shlex

    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            parts = shlex.split(line)
            if len(parts) < 8:
                continue
            value, r, g, b = (int(float(x)) for x in parts[:4])
            if value > 0:
                out.append(Segment(value, parts[7], f"#{r:02x}{g:02x}{b:02x}"))
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"line {n}: {exc}") from None
    return out


def write_labelmap_nifti(path: str | Path, labels: np.ndarray, geometry: VolumeGeometry,
                         segments: Sequence[Segment], *,
                         class_names: Mapping[str, str] | None = None,
                         labelmap_id: str | None = None, name: str | None = None) -> list[Path]:
    """Write label map ``labels[k, j, i]`` (0 = background) on ``geometry`` with its segment
    table (JSON sidecar and ITK-SNAP file). ``class_names`` maps a class id to its name.
    Returns the three paths written."""
    p = Path(path)
    if not is_nifti(p):
        raise BadInputError(f"{p} must end in .nii or .nii.gz.", p)
    if tuple(labels.shape) != tuple(geometry.shape):
        raise ValueError(f"label map shape {labels.shape} differs from its volume's "
                         f"{geometry.shape}")
    top = int(labels.max()) if labels.size else 0
    if labels.dtype.kind not in "biu" or (labels.size and int(labels.min()) < 0) or top > 65535:
        raise ValueError("label values must be whole numbers from 0 to 65535")
    dtype = np.uint8 if top <= 255 and max((s.value for s in segments), default=0) <= 255 \
        else np.uint16
    data = labels if labels.dtype == dtype else labels.astype(dtype)
    img = nifti_image(data, geometry, intent="label")
    names = class_names or {}
    table = {
        "format": SIDECAR_FORMAT, "version": 1, "image": p.name,
        "labelmap": {"vellum_id": labelmap_id, "name": name},
        "geometry": {"shape_kji": list(geometry.shape),
                     "dims_ijk": list(reversed(geometry.shape)),
                     "spacing_ijk_mm": list(geometry.spacing),
                     "origin_lps_mm": list(geometry.origin),
                     "direction_lps_columns_ijk": [list(r) for r in geometry.direction]},
        "segments": [{"value": s.value, "name": s.name, "color": s.color,
                      "rgb": list(_rgb(s.color)), "class_id": s.class_id,
                      "class_name": names.get(s.class_id) if s.class_id else None,
                      "vellum_id": s.id} for s in sorted(segments, key=lambda s: s.value)],
    }
    json_path, snap_path = sidecar_paths(p)
    with ExitStack() as stack:  # all three renamed only if all three were written
        fj = stack.enter_context(atomic_write(json_path))
        fs = stack.enter_context(atomic_write(snap_path))
        fn = stack.enter_context(atomic_write(p, "wb"))
        stream_image(img, fn, p.name, level=6)
        json.dump(table, fj, indent=2)
        fj.write("\n")
        fs.write(itksnap_text(segments))
    return [p, json_path, snap_path]


@dataclass
class LabelMapFile:
    """A label map read back: ``labels[k, j, i]`` on the expected grid, its segments (from
    the JSON sidecar, else the ITK-SNAP file, else made up per value) and warnings."""

    labels: np.ndarray
    segments: list[Segment]
    labelmap_id: str | None = None
    name: str | None = None
    warnings: list[str] = field(default_factory=list)


def _segment(entry: object, json_path: Path) -> Segment:
    """One entry of a JSON segment table, its types checked."""
    def bad(why: str) -> BadInputError:
        return BadInputError(f"{json_path} is not a usable segment table: {why}.", json_path)

    if not isinstance(entry, dict):
        raise bad("a segment is not a JSON object")
    value, name = entry.get("value"), entry.get("name")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise bad(f"segment value {value!r} is not a whole number from 1 to 65535")
    if not isinstance(name, str):
        raise bad(f"segment {value} has no name (text)")
    color = entry.get("color") or "#3cb44b"
    class_id, vid = entry.get("class_id"), entry.get("vellum_id")
    if not isinstance(color, str) or not all(
            isinstance(x, (str, type(None))) for x in (class_id, vid)):
        raise bad(f"segment {value} has a colour, class id or id that is not text")
    try:
        return Segment(value, name, color, class_id, **({"id": vid} if vid else {}))
    except ValueError as exc:
        raise bad(str(exc)) from None


def _listed_twice(segments: Sequence[Segment]) -> int | None:
    """The first segment value a table lists twice (a label map's values name one segment
    each), or None."""
    seen: set[int] = set()
    for s in segments:
        if s.value in seen:
            return s.value
        seen.add(s.value)
    return None


def _segments_beside(p: Path) -> tuple[list[Segment], str | None, str | None]:
    """The segment table beside label map ``p``: its JSON sidecar, else its ITK-SNAP file,
    else none. A table that is there but unusable (not JSON, nested absurdly deep, wrong
    types, a FIFO...) refuses the import in one sentence: made-up names would lose its own."""
    json_path, snap_path = sidecar_paths(p)
    if os.path.lexists(json_path):
        table = read_json_file(json_path, "segment table", MAX_TABLE_BYTES)
        if not isinstance(table, dict):
            raise BadInputError(f"{json_path} is not a usable segment table: it is not a "
                                "JSON object.", json_path)
        entries = table.get("segments", [])
        if not isinstance(entries, list):
            raise BadInputError(f"{json_path} is not a usable segment table: 'segments' is "
                                "not a list.", json_path)
        if len(entries) > MAX_SEGMENTS:
            raise BadInputError(f"{json_path} lists {len(entries)} segments; a label map "
                                f"holds at most {MAX_SEGMENTS}.", json_path)
        segs = [_segment(e, json_path) for e in entries]
        twice = _listed_twice(segs)
        if twice is not None:
            raise BadInputError(f"{json_path} is not a usable segment table: segment value "
                                f"{twice} is listed twice.", json_path)
        lm = table.get("labelmap") or {}
        lm = lm if isinstance(lm, dict) else {}
        lm_id, name = lm.get("vellum_id"), lm.get("name")
        return (segs, lm_id if isinstance(lm_id, str) else None,
                name if isinstance(name, str) else None)
    if os.path.lexists(snap_path):
        snap = require_readable(snap_path, what="ITK-SNAP label file")
        try:
            if snap.stat().st_size > MAX_TABLE_BYTES:
                raise ValueError(f"it is larger than {MAX_TABLE_BYTES} bytes")
            text = snap.read_bytes().decode("utf-8")
            segs = parse_itksnap(text)
            if len(segs) > MAX_SEGMENTS:
                raise ValueError(f"it lists {len(segs)} labels, more than {MAX_SEGMENTS}")
            twice = _listed_twice(segs)
            if twice is not None:
                raise ValueError(f"label {twice} is listed twice")
        except UnicodeDecodeError:
            raise BadInputError(f"{snap} is not a usable ITK-SNAP label file: it is not UTF-8 "
                                "text.", snap) from None
        except (OSError, ValueError) as exc:
            raise BadInputError(f"{snap} is not a usable ITK-SNAP label file ({exc}).",
                                snap) from None
        return segs, None, None
    return [], None, None


_SLAB_VOXELS = 1 << 18  # voxels per slab of a whole-volume pass (bincount: 2 MB of intp)


def _slabs(array: np.ndarray):
    """Views of ``array`` cut along its last axis (k of an (i, j, k) NIfTI array) or, when
    C-ordered (k, j, i), its first, a few million voxels each: elementwise checks and
    counts over them keep their temporaries small."""
    axis = 0 if array.flags.c_contiguous else array.ndim - 1
    n = array.shape[axis] if array.ndim else 1
    plane = max(1, array.size // max(1, n))
    step = max(1, _SLAB_VOXELS // plane)
    for a in range(0, n, step):
        yield array[a:a + step] if axis == 0 else array[..., a:a + step]


def _voxels(p: Path, img) -> np.ndarray:
    """The stored voxels of ``img`` (nibabel), read straight into one array a chunk at a
    time when they are unscaled: Python's gzip reader would otherwise hold a second full
    copy while reading. Anything else goes through nibabel's own read."""
    proxy = img.dataobj
    try:
        plain = (getattr(proxy, "is_proxy", False) and float(proxy.slope) == 1.0
                 and float(proxy.inter) == 0.0 and proxy.order in ("F", "C"))
    except (AttributeError, TypeError, ValueError):
        plain = False
    if not plain:
        return np.asanyarray(proxy)
    from nibabel.openers import ImageOpener

    dtype = np.dtype(proxy.dtype)
    count = int(np.prod(proxy.shape))
    flat = np.empty(count, dtype)
    raw = memoryview(flat.view(np.uint8))
    with ImageOpener(str(p)) as f:
        f.seek(int(proxy.offset))
        at = 0
        while at < raw.nbytes:
            chunk = f.read(min(_CHUNK_BYTES, raw.nbytes - at))
            if not chunk:
                raise ValueError(f"the voxel data ends after {at} of {raw.nbytes} bytes")
            raw[at:at + len(chunk)] = chunk
            at += len(chunk)
    return flat.reshape(proxy.shape, order=proxy.order)


_CHUNK_BYTES = 1 << 20  # bytes per read: Python's gzip holds about two chunks besides


def _kji(data: np.ndarray, dtype: type) -> np.ndarray:
    """``data[i, j, k]`` as a C-ordered ``[k, j, i]`` array of ``dtype``: a view when it is
    one already, else one new array filled a slab at a time (no second full-size copy)."""
    out = data.T
    if out.flags.c_contiguous and out.dtype == dtype:
        return out
    labels = np.empty(out.shape, dtype)
    step = max(1, _SLAB_VOXELS // max(1, out[0].size))
    for k in range(0, out.shape[0], step):
        labels[k:k + step] = out[k:k + step]
    return labels


def read_labelmap_nifti(path: str | Path, expected_geometry: VolumeGeometry) -> LabelMapFile:
    """Read a label map for a volume of ``expected_geometry``. Refused with one sentence
    (:class:`BadInputError`) when its shape differs or its grid sits more than 1e-3 mm
    away from the volume's, or when its values are not whole numbers 0..65535."""
    p = Path(path)
    img = open_nifti(p)
    want = tuple(reversed(expected_geometry.shape))  # (i, j, k)
    shape = tuple(int(s) for s in img.shape)
    if len(shape) > 3 and any(s > 1 for s in shape[3:]):
        raise BadInputError(f"{p} has {len(shape)} dimensions {shape}; a label map has 3.", p)
    if shape[:3] != want:
        raise BadInputError(f"{p} is {'x'.join(map(str, shape[:3]))} voxels but the volume "
                            f"is {'x'.join(map(str, want))}; it is not this volume's label "
                            "map.", p)
    off = max_corner_distance(img.affine, expected_geometry.affine_ras(), want)
    if not np.isfinite(off):
        raise BadInputError(f"{p} is not a usable NIfTI file: its header gives voxel "
                            "positions that are not numbers (affine or pixdim).", p)
    if off > FIT_MM:
        raise BadInputError(f"{p} does not sit on the volume's grid (its voxels are up to "
                            f"{off:.3g} mm away); it is not this volume's label map.", p)
    data = read_voxels(p, lambda: _voxels(p, img)).reshape(want)
    if data.dtype.kind == "f":
        if not all(np.all(np.isfinite(c)) and np.all(c == np.round(c)) for c in _slabs(data)):
            raise BadInputError(f"{p} holds fractional values; a label map holds whole "
                                "segment values.", p)
    elif data.dtype.kind not in "biu":
        raise BadInputError(f"{p} holds {data.dtype} voxels; a label map holds whole "
                            "segment values.", p)
    lo, hi = (int(data.min()), int(data.max())) if data.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise BadInputError(f"{p} holds values from {lo} to {hi}; label values must lie in "
                            "0..65535.", p)
    labels = _kji(data, np.uint8 if hi <= 255 else np.uint16)
    del data
    counts = np.zeros(hi + 1, np.int64)  # linear time, a slab at a time; 64K counts at most
    for slab in _slabs(labels):
        counts += np.bincount(slab.ravel(), minlength=hi + 1)
    values = [int(v) for v in np.flatnonzero(counts[1:]) + 1]
    if len(values) > MAX_SEGMENTS:
        raise BadInputError(f"{p} holds {len(values)} distinct values; a label map holds at "
                            f"most {MAX_SEGMENTS} segments (is it an image rather than a "
                            "label map?).", p)
    warnings: list[str] = []
    segments, lm_id, name = _segments_beside(p)
    known = {s.value for s in segments}
    missing = [v for v in values if v not in known]
    if missing:
        if segments or any(os.path.lexists(x) for x in sidecar_paths(p)):
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            warnings.append(f"{p} holds value(s) {shown} that its segment table does not "
                            "name; they are named 'Segment N'.")
        segments += [Segment(v, f"Segment {v}", _PALETTE[(v - 1) % len(_PALETTE)])
                     for v in missing]
    return LabelMapFile(labels, segments, lm_id, name, warnings)
