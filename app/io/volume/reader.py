"""Finding and loading volumes: DICOM files, folders (searched recursively), DICOMDIRs and
NIfTI files. :func:`scan_series` reads headers only; :func:`load_series` decodes one series.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.core.errors import BadInputError
from app.core.geometry import VolumeGeometry
from app.core.media import VolumeSource
from app.io.inputs import require_readable, special_kind
from app.io.volume.dicom_headers import FileHeader, Unreadable, read_header, resolve_reference, walk
from app.io.volume.dicom_pixels import load_dicom
from app.io.volume.dicom_series import build_series
from app.io.volume.model import SeriesInfo, Volume
from app.io.volume.nifti import (_stem, damage_note, is_nifti, nifti_layout, open_nifti,
                                 read_nifti)

Progress = Callable[..., None]
MAX_LISTED = 10  # unreadable files named one by one before a summary sentence


def _nifti_series(p: Path) -> SeriesInfo:
    geometry, volumes, warnings = nifti_layout(p, open_nifti(p))
    note = damage_note(p)
    return SeriesInfo(uid="", description=_stem(p), modality="", geometry=geometry,
                      files=[p], warnings=warnings, frames=geometry.shape[0] * volumes,
                      volumes=volumes, source="nifti", damaged=[note] if note else [])


def _real(f: Path) -> str:
    """``f`` with links followed as far as they lead; a link loop (a slice that is a link to
    itself) is not an error here (``Path.resolve`` raises RuntimeError): reading it says why."""
    return os.path.realpath(f)


def _special(f: Path) -> str | None:
    """A sentence when folder member ``f`` is a FIFO, device or socket (never opened)."""
    try:
        kind = special_kind(os.stat(f).st_mode)
    except OSError:
        return None  # a dangling link: reading it says why
    return f"{f} is {kind}, not a regular file; it is skipped." if kind else None


def scan_series(path: str | Path, progress: Progress | None = None,
                regularize: bool = True) -> list[SeriesInfo]:
    """Every series under ``path`` (a DICOM file, a folder searched recursively, a DICOMDIR,
    or a NIfTI file), described from headers: image series first (largest first), then the
    series that are not volumes, then — when some files could not be read — one entry with
    ``uid=""`` and ``is_image=False`` whose warnings name each such file. ``regularize``:
    tilted and unevenly spaced stacks on regular orthogonal grids (see
    :mod:`app.io.volume.dicom_grid`); False gives the acquired grid of releases before 0.2."""
    p = require_readable(path, folders=True, what="volume")
    if p.is_file() and is_nifti(p):
        return [_nifti_series(p)]
    queue: list[tuple[Path, bool]] = ([(f, False) for f in walk(p)] if p.is_dir()
                                      else [(p, True)])  # (file, expand if a DICOMDIR)
    headers: list[FileHeader] = []
    niftis: list[SeriesInfo] = []
    damaged: list[str] = []
    not_dicom: list[str] = []
    skipped: list[str] = []
    damaged_dicom: list[tuple[Path, str]] = []  # (folder, why): maybe a slice of a series
    seen: set[str] = set()
    done = 0
    while queue:
        f, expand = queue.pop(0)
        done += 1
        if progress is not None:
            progress(done, done + len(queue), f.name)
        real = _real(f)
        if real in seen:
            continue
        seen.add(real)
        special = _special(f)
        if special is not None:
            skipped.append(special)
            continue
        if is_nifti(f):
            try:
                niftis.append(_nifti_series(f))
            except BadInputError as exc:
                damaged.append(str(exc))
            continue
        try:
            h = read_header(f)
        except Unreadable as exc:
            if "is not a DICOM file" in str(exc):
                not_dicom.append(str(exc))
            else:
                damaged.append(str(exc))
                damaged_dicom.append((f.parent, str(exc)))
            continue
        if h.kind == "directory":
            if expand:
                missing = []
                for parts in h.references:
                    target = resolve_reference(f.parent, parts)
                    if target is None or _real(target) == real:
                        missing.append("/".join(parts))
                    else:
                        queue.append((target, True))
                if missing:
                    damaged.append(f"{f} lists {len(missing)} file(s) that are not on disk "
                                   f"(e.g. {missing[0]}).")
            continue
        headers.append(h)
    series = build_series(headers, regularize) + niftis
    series.sort(key=lambda s: (not s.is_image, -(s.voxels * s.volumes), s.description))
    for s in series:  # a damaged file beside a series may be one of its slices
        if s.is_image and s.source == "dicom":
            folders = {str(f.parent) for f in s.files}
            s.warnings.extend(m for m in damaged
                              if any(m.startswith(d + os.sep) for d in folders))
            s.damaged.extend(m for d, m in damaged_dicom if str(d) in folders)
    problems = damaged[:MAX_LISTED] + not_dicom[:MAX_LISTED] + skipped[:MAX_LISTED]
    if len(damaged) > MAX_LISTED:
        problems.append(f"{len(damaged) - MAX_LISTED} more files under {p} are damaged.")
    if len(not_dicom) > MAX_LISTED:
        problems.append(f"{len(not_dicom) - MAX_LISTED} more files under {p} are not DICOM "
                        "files.")
    if len(skipped) > MAX_LISTED:
        problems.append(f"{len(skipped) - MAX_LISTED} more files under {p} are not regular "
                        "files and are skipped.")
    if problems:
        series.append(SeriesInfo(uid="", description="files that could not be read",
                                 modality="", geometry=None, files=[], warnings=problems,
                                 is_image=False))
    return series


def load_series(info: SeriesInfo, volume_index: int = 0,
                progress: Progress | None = None) -> Volume:
    """Decode a series found by :func:`scan_series` (``volume_index``: which volume of a 4D
    series, 0-based). ``progress(done, total)`` counts slices."""
    if info.source == "nifti":
        volume = read_nifti(info.files[0], volume_index)
        volume.warnings[:0] = [w for w in info.warnings if w not in volume.warnings]
        return volume
    return load_dicom(info, volume_index, progress)


def pick_series(series: list[SeriesInfo], path: Path, series_uid: str | None) -> SeriesInfo:
    """The series named ``series_uid``, else the largest image series."""
    images = [s for s in series if s.is_image]
    if series_uid is not None:
        match = next((s for s in series if s.uid == series_uid), None)
        if match is None:
            known = ", ".join(s.uid for s in images if s.uid) or "none"
            raise BadInputError(f"{path} holds no series {series_uid} (image series: "
                                f"{known}).", path)
        return match
    if not images:
        why = next((s.warnings[0] for s in series if s.warnings), "no DICOM or NIfTI files")
        raise BadInputError(f"{path} holds no image series ({why.rstrip('.')}).", path)
    return max(images, key=lambda s: s.voxels)


def load_volume(path: str | Path, series_uid: str | None = None,
                progress: Progress | None = None, volume_index: int = 0) -> Volume:
    """Load one volume from ``path``: the series ``series_uid``, else the largest image
    series found. Intensities in real units; geometry in LPS."""
    p = Path(path)
    if p.is_file() and is_nifti(p):
        return read_nifti(p, volume_index)
    series = scan_series(p)
    chosen = pick_series(series, p, series_uid)
    volume = load_series(chosen, volume_index, progress)
    others = [s for s in series if s.is_image and s is not chosen]
    if series_uid is None and others:
        volume.warnings.insert(0, f"{p} holds {len(others) + 1} image series; the largest "
                               f"({chosen.description or chosen.uid}) is loaded.")
    return volume


def volume_source(info: SeriesInfo, volume_index: int = 0) -> VolumeSource:
    """The project record of where ``info``'s voxels come from (what :func:`load_source`
    needs to load them again)."""
    return VolumeSource(info.source, info.uid, info.modality, info.description, volume_index)


def load_source(path: str | Path, source: VolumeSource,
                progress: Progress | None = None,
                expected: VolumeGeometry | None = None) -> Volume:
    """Load the volume a project's media item names: ``path`` (file or folder) and its
    :class:`~app.core.media.VolumeSource` (series UID, 4D volume index). ``expected`` is the
    grid the project stored: a tilted or unevenly spaced DICOM series that an earlier release
    added on its acquired grid is loaded on that grid again, so its labels stay in place."""
    p = Path(path)
    uid = source.series_uid or None
    if expected is None or source.format == "nifti" or (p.is_file() and is_nifti(p)):
        return load_volume(p, uid, progress, source.volume_index)
    chosen = pick_series(scan_series(p), p, uid)
    if chosen.source == "dicom" and not _same_grid(chosen.geometry, expected):
        legacy = next((s for s in scan_series(p, regularize=False)
                       if s.uid == chosen.uid and _same_grid(s.geometry, expected)), None)
        if legacy is not None:
            volume = load_series(legacy, source.volume_index, progress)
            volume.warnings.insert(0, f"{p} was added by an earlier Vellum on its acquired "
                                   "grid (sheared or with averaged spacing); it is shown on "
                                   "that grid so its labels stay in place. Add the series "
                                   "again for a regular grid.")
            return volume
    return load_series(chosen, source.volume_index, progress)


def _same_grid(a: VolumeGeometry | None, b: VolumeGeometry) -> bool:
    return a is not None and a.shape == b.shape and bool(
        np.allclose(a.affine_lps(), b.affine_lps(), atol=1e-3))
