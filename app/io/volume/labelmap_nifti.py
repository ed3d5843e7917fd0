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
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.errors import BadInputError
from app.core.geometry import VolumeGeometry
from app.core.labelmap import Segment
from app.io.atomic import atomic_write
from app.io.volume.nifti import (_stem, is_nifti, max_corner_distance, nifti_image,
                                 open_nifti, stream_image)

FIT_MM = 1e-3  # a label map's grid must sit within this of the volume's
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
    """Segments of an ITK-SNAP label description file (value 0 left out)."""
    import shlex

    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = shlex.split(line)
        if len(parts) < 8:
            continue
        value, r, g, b = (int(float(x)) for x in parts[:4])
        if value > 0:
            out.append(Segment(value, parts[7], f"#{r:02x}{g:02x}{b:02x}"))
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


def _segments_beside(p: Path, values: list[int], warnings: list[str]
                     ) -> tuple[list[Segment], str | None, str | None]:
    json_path, snap_path = sidecar_paths(p)
    if json_path.is_file():
        try:
            table = json.loads(json_path.read_text(encoding="utf-8"))
            segs = [Segment(int(s["value"]), str(s["name"]), str(s.get("color") or "#3cb44b"),
                            s.get("class_id"), **({"id": str(s["vellum_id"])}
                                                  if s.get("vellum_id") else {}))
                    for s in table.get("segments", [])]
            lm = table.get("labelmap") or {}
            return segs, lm.get("vellum_id"), lm.get("name")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            warnings.append(f"{json_path} is not a readable segment table ({exc}); it is "
                            "ignored.")
    if snap_path.is_file():
        try:
            return parse_itksnap(snap_path.read_text(encoding="utf-8")), None, None
        except ValueError as exc:
            warnings.append(f"{snap_path} is not a readable ITK-SNAP label file ({exc}); it "
                            "is ignored.")
    return [], None, None


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
    if off > FIT_MM:
        raise BadInputError(f"{p} does not sit on the volume's grid (its voxels are up to "
                            f"{off:.3g} mm away); it is not this volume's label map.", p)
    try:
        data = np.asanyarray(img.dataobj).reshape(want)
    except Exception as exc:  # truncated or corrupt voxel data
        raise BadInputError(f"{p} has unreadable voxel data ({exc}).", p) from exc
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or not np.all(data == np.round(data)):
            raise BadInputError(f"{p} holds fractional values; a label map holds whole "
                                "segment values.", p)
    lo, hi = (int(data.min()), int(data.max())) if data.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise BadInputError(f"{p} holds values from {lo} to {hi}; label values must lie in "
                            "0..65535.", p)
    labels = np.ascontiguousarray(data.T, dtype=np.uint8 if hi <= 255 else np.uint16)
    values = [int(v) for v in np.unique(labels) if v]
    warnings: list[str] = []
    segments, lm_id, name = _segments_beside(p, values, warnings)
    known = {s.value for s in segments}
    missing = [v for v in values if v not in known]
    if missing:
        if segments or any(x.is_file() for x in sidecar_paths(p)):
            warnings.append(f"{p} holds value(s) {missing} that its segment table does not "
                            "name; they are named 'Segment N'.")
        segments += [Segment(v, f"Segment {v}", _PALETTE[(v - 1) % len(_PALETTE)])
                     for v in missing]
    return LabelMapFile(labels, segments, lm_id, name, warnings)
