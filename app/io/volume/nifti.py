"""NIfTI-1/2 volumes in and out (``.nii``, ``.nii.gz``).

NIfTI voxels are indexed ``(i, j, k[, t])`` and its affine maps them to **RAS** mm; Vellum's
arrays are ``[k, j, i]`` in **LPS** (``../shared/CONVENTIONS.md``). So the array is the
transpose of NIfTI's and the geometry comes from
:meth:`~app.core.geometry.VolumeGeometry.from_affine_ras` (x and y negated); the voxel data is
never reordered or resampled.

Which affine wins on reading: nibabel's ``get_best_affine`` — the sform when its code is
above 0, else the qform when its code is above 0, else the pixdim-only fallback (a warning
says orientation is unknown). SimpleITK (ITK >= 5.3) also prefers a rigid sform; it falls
back to the qform when the sform holds shear, which is why writing puts the exact affine in
the sform and a rigid one in the qform (equal unless the grid is sheared, e.g. a gantry-
tilted CT: see :func:`rigid_affine_ras`).

Intensities are real units: scl_slope/scl_inter are applied on reading; writing stores
the array's values unchanged (no scaling).
"""

from __future__ import annotations

import gzip
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import BadInputError, UnsupportedFormatError
from app.core.geometry import VolumeGeometry
from app.core.media_damage import BadNiftiHeader, nifti_damage, read_header
from app.io.atomic import atomic_write
from app.io.inputs import require_readable
from app.io.volume.model import Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")
XFORM_SCANNER = 1
AGREE_MM = 1e-3  # qform and sform that map the grid's corners this close agree
_WRITABLE = {np.dtype(t) for t in (np.uint8, np.int8, np.int16, np.uint16, np.int32,
                                   np.uint32, np.float32, np.float64)}


def is_nifti(path: str | Path) -> bool:
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def _corners(shape_ijk: tuple[int, int, int]) -> np.ndarray:
    i, j, k = (s - 1 for s in shape_ijk)
    return np.array([[a, b, c, 1.0] for a in (0, i) for b in (0, j) for c in (0, k)])


def max_corner_distance(a: np.ndarray, b: np.ndarray, shape_ijk: tuple[int, int, int]) -> float:
    """Largest distance (mm) between where two affines put the grid's corner voxels."""
    c = _corners(shape_ijk)
    return float(np.max(np.linalg.norm((c @ np.asarray(a).T - c @ np.asarray(b).T)[:, :3],
                                       axis=1)))


@contextmanager
def quiet() -> Iterator[None]:
    """nibabel's warnings and log messages (``sizeof_hdr should be 348...``) kept from the
    terminal: what matters reaches the user as Vellum's own sentence."""
    log = logging.getLogger("nibabel.global")
    was = log.disabled
    log.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.disabled = was


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()).rstrip(".") or type(exc).__name__


def open_nifti(path: str | Path) -> Any:
    """nibabel image of ``path``; one-sentence :class:`BadInputError` if it is not a regular
    file or its header is unreadable or impossible (checked before nibabel sees it)."""
    import nibabel as nib

    p = require_readable(path, what="NIfTI file")
    try:
        read_header(p)
    except BadNiftiHeader as exc:
        raise BadInputError(f"{p} is not a usable NIfTI file: {exc}.", p) from None
    except OSError as exc:
        raise BadInputError(f"Cannot read {p} ({exc.strerror or exc}).", p) from None
    try:
        with quiet():
            return nib.load(str(p))
    except Exception as exc:  # nibabel raises many kinds for damaged files
        raise BadInputError(f"{p} cannot be read as NIfTI ({_one_line(exc)}).", p) from None


def damage_note(path: str | Path) -> str | None:
    """A sentence naming ``path`` when the NIfTI file does not hold every voxel its header
    promises (cut short), else None."""
    p = Path(path)
    try:
        why = nifti_damage(p)
    except OSError as exc:
        return f"{p} cannot be read ({exc.strerror or exc})."
    return f"{p} {why}; its voxels cannot be shown." if why else None


def read_voxels(path: Path, read: Any) -> np.ndarray:
    """``read()`` (a read of nibabel's array proxy), refused in one sentence when the file is
    cut short (checked first: a damaged header may promise terabytes) or the read fails."""
    note = damage_note(path)
    if note is not None:
        raise BadInputError(note, path)
    try:
        with quiet():
            return np.asanyarray(read())
    except MemoryError:
        raise BadInputError(f"{path} is too large to load into memory.", path) from None
    except Exception as exc:  # corrupt voxel data
        raise BadInputError(f"{path} has unreadable voxel data ({_one_line(exc)}).",
                            path) from None


def nifti_layout(path: Path, img: Any) -> tuple[VolumeGeometry, int, list[str]]:
    """Geometry (LPS), number of volumes and warnings of an opened NIfTI image."""
    shape = tuple(int(s) for s in img.shape)
    if len(shape) > 4 and any(s > 1 for s in shape[4:]):
        raise UnsupportedFormatError(f"{path} has {len(shape)} dimensions {shape}; Vellum "
                                     "reads 3D volumes and 4D series of them.", path)
    if img.get_data_dtype().names:  # RGB24 / RGBA32 records
        raise UnsupportedFormatError(f"{path} holds colour voxels; Vellum reads greyscale "
                                     "volumes only.", path)
    ijk = (shape + (1, 1, 1))[:3]
    volumes = shape[3] if len(shape) > 3 else 1
    hdr = img.header
    notes: list[str] = []
    with quiet():
        qcode, scode = int(hdr["qform_code"]), int(hdr["sform_code"])
        if qcode <= 0 and scode <= 0:
            notes.append(f"{path} has neither a qform nor an sform: its orientation is "
                         "unknown, so the volume uses nibabel's default axes from pixdim.")
        elif qcode > 0 and scode > 0:
            try:
                qform = hdr.get_qform()
            except ValueError:  # quatern_b/c/d not a rotation (nibabel: "w2 should be ...")
                qform = None
                notes.append(f"{path}'s qform is not a rotation (quatern_b/c/d); the sform "
                             "is used (as nibabel does).")
            off = 0.0 if qform is None else max_corner_distance(qform, hdr.get_sform(), ijk)
            if off > AGREE_MM:
                notes.append(f"{path}'s qform and sform disagree by up to {off:.3g} mm; the "
                             "sform is used (as nibabel does).")
        affine = np.asarray(img.affine, dtype=float)
    if not np.all(np.isfinite(affine)):
        raise BadInputError(f"{path} is not a usable NIfTI file: its header gives voxel "
                            "positions that are not numbers (affine or pixdim).", path)
    try:
        geometry = VolumeGeometry.from_affine_ras((ijk[2], ijk[1], ijk[0]), affine)
    except ValueError as exc:
        raise BadInputError(f"{path} has an affine Vellum cannot hold ({exc}).", path) from exc
    return geometry, volumes, notes


def read_nifti(path: str | Path, volume_index: int = 0) -> Volume:
    """Volume ``volume_index`` (0-based, for 4D files) of a NIfTI file, in real units
    (scl_slope/scl_inter applied), as an ``[k, j, i]`` array with LPS geometry."""
    p = Path(path)
    img = open_nifti(p)
    geometry, volumes, warnings = nifti_layout(p, img)
    if not 0 <= volume_index < volumes:
        raise BadInputError(f"{p} holds {volumes} volume(s); there is no volume "
                            f"{volume_index}.", p)
    proxy = img.dataobj
    data = read_voxels(p, lambda: proxy[..., volume_index] if len(img.shape) > 3
                       else proxy[...])
    data = np.asarray(data).reshape((*data.shape, 1, 1)[:3]) if data.ndim < 3 else data
    raw = img.get_data_dtype()
    if data.dtype == np.float64 and raw.kind in "iu" and raw.itemsize <= 2:
        data = data.astype(np.float32)  # 7 significant digits: ample for 16-bit voxels
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    return Volume(data.T, geometry, description=_stem(p), warnings=warnings,
                  volume_index=volume_index, volumes=volumes, source=p)


def _stem(p: Path) -> str:
    name = p.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return p.stem


def rigid_affine_ras(geometry: VolumeGeometry) -> np.ndarray:
    """The affine a qform can hold: equal to the geometry's unless its k axis is sheared
    (gantry tilt); then k follows the slice normal (i x j) with the same spacing — the grid
    ITK/SimpleITK build from such a DICOM series, so ITK-based tools reading the qform place
    the voxels exactly as they do reading the DICOM files."""
    d = np.asarray(geometry.direction, dtype=float)
    normal = np.cross(d[:, 0], d[:, 1])
    normal /= np.linalg.norm(normal)
    if np.dot(normal, d[:, 2]) < 0:
        normal = -normal
    rigid = np.column_stack([d[:, 0], d[:, 1], normal]) * np.asarray(geometry.spacing)
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rigid, geometry.origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ out


def nifti_image(array: np.ndarray, geometry: VolumeGeometry, intent: str = "") -> Any:
    """A nibabel image of ``array[k, j, i]`` on ``geometry`` (voxel data unchanged, RAS
    affine in sform and, rigid part, qform; no free-text fields filled)."""
    import nibabel as nib

    if tuple(array.shape) != tuple(geometry.shape):
        raise ValueError(f"array shape {array.shape} differs from the geometry's "
                         f"{geometry.shape}")
    data = array.T  # [k, j, i] -> (i, j, k): a view, Fortran-ordered like NIfTI's voxels
    if data.dtype == bool:
        data = data.astype(np.uint8)
    elif data.dtype not in _WRITABLE:
        raise ValueError(f"cannot write {data.dtype} voxels to NIfTI")
    affine = geometry.affine_ras()
    img = nib.Nifti1Image(data, affine)
    hdr = img.header
    hdr.set_data_dtype(data.dtype)
    hdr.set_sform(affine, code=XFORM_SCANNER)
    hdr.set_qform(rigid_affine_ras(geometry), code=XFORM_SCANNER)
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_slope_inter(1.0, 0.0)
    if intent:
        hdr.set_intent(intent, (), name="")
    hdr["descrip"] = b""
    hdr["aux_file"] = b""
    return img


def stream_image(img: Any, f: Any, name: str, level: int = 1) -> None:
    """Write a nibabel image into open binary file ``f``; gzip-compressed when ``name`` ends
    in ``.gz``, with an empty name and zero time in the gzip header (nothing about the source
    leaks into it)."""
    if name.lower().endswith(".gz"):
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=level,
                           mtime=0) as gz:
            img.to_stream(gz)
    else:
        img.to_stream(f)


def save_image(path: str | Path, img: Any) -> Path:
    """Write a nibabel image to ``path`` (``.nii`` or ``.nii.gz``) atomically."""
    p = Path(path)
    if not is_nifti(p):
        raise BadInputError(f"{p} must end in .nii or .nii.gz.", p)
    with atomic_write(p, "wb") as f:
        stream_image(img, f, p.name)
    return p


def write_nifti(path: str | Path, array: np.ndarray, geometry: VolumeGeometry) -> Path:
    """Write ``array[k, j, i]`` (real units, written as they are) on ``geometry`` to a NIfTI
    file, atomically. Returns the path."""
    return save_image(path, nifti_image(array, geometry))
