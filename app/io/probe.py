"""Find what a path on disk is (image, video, volume) and describe it as a media item.

Sizes are in pixels; ``frames`` is the number of video frames in presentation order, or the
number of slices of a volume along its array k axis. Images and volumes are read from their
headers only; a video gets its frame index (demuxed, cached by fingerprint; small or damaged
files are decoded through once to count exactly what ffmpeg shows).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, UnsupportedFormatError, VellumError
from app.core.geometry import VideoGeometry, VolumeGeometry
from app.core.media import MediaKind, VolumeSource
from app.core.project_files import is_project_file
from app.io.images import IMAGE_SUFFIXES, image_size, truncated
from app.io.inputs import require_readable, special_kind

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg",
                            ".ts", ".wmv"})
NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass(frozen=True)
class Probe:
    """What a path holds: kind, displayed size in pixels, frames (video) or k-slices (volume),
    and the typed geometry where the reader knows it."""

    kind: MediaKind
    path: Path
    width: int
    height: int
    frames: int = 1
    meta: dict[str, Any] = field(default_factory=dict)
    video: VideoGeometry | None = None
    volume: VolumeGeometry | None = None
    source: VolumeSource | None = None
    title: str = ""
    warnings: tuple[str, ...] = ()


def _is_nifti(p: Path) -> bool:
    return p.name.lower().endswith(NIFTI_SUFFIXES)


def _is_dicom(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            head = f.read(132)
        return len(head) == 132 and head[128:132] == b"DICM"
    except OSError:
        return False


def probe(path: str | Path) -> Probe:
    """Describe one file (image, video, NIfTI, DICOM) or DICOM folder (its largest image
    series; :func:`probe_all` gives every series)."""
    return probe_all(path)[0]


def probe_all(path: str | Path, progress: Any = None) -> list[Probe]:
    """Every media item a path holds: one for an image or video; one per image series for a
    DICOM file, folder (searched recursively) or DICOMDIR, and for a NIfTI file. Series that
    are not volumes (dose reports, SEG, secondary captures...) and unreadable files come back
    as the ``warnings`` of the first probe; none at all is an error naming the path. A FIFO,
    device or socket is refused without being opened. An image cut short whose size is still
    in its header is described, with a warning saying so."""
    p = require_readable(path, folders=True, what="media")
    suffix = p.suffix.lower()
    if p.is_file() and suffix in IMAGE_SUFFIXES:
        w, h = image_size(p)
        cut = truncated(p)
        warnings = (f"{p} {cut}: its picture is incomplete.",) if cut else ()
        return [Probe(MediaKind.IMAGE, p, w, h, warnings=warnings)]
    if p.is_file() and suffix in VIDEO_SUFFIXES:
        return [_probe_video(p)]
    if p.is_dir() or _is_nifti(p) or _is_dicom(p):
        return _probe_volumes(p, progress)
    raise UnsupportedFormatError(f"{p} is not an image, video or volume format Vellum reads.", p)


def _probe_volumes(p: Path, progress: Any) -> list[Probe]:
    from app.io.volume import scan_series
    from app.io.volume.reader import volume_source

    found = scan_series(p, progress)
    images = [s for s in found if s.is_image and s.geometry is not None]
    skipped = tuple(w for s in found if not s.is_image for w in s.warnings[:1])
    if not images:
        why = f" ({skipped[0]})" if skipped else ""
        raise UnsupportedFormatError(f"{p} holds no volume Vellum can show{why}.", p)
    out = []
    for n, s in enumerate(images):
        k, j, i = s.geometry.shape
        out.append(Probe(MediaKind.VOLUME, p, i, j, k, volume=s.geometry,
                         source=volume_source(s), title=s.title,  # never the description
                         meta={"damaged": list(s.damaged)} if s.damaged else {},
                         warnings=tuple(s.warnings) + tuple(d for d in s.damaged
                                                            if d not in s.warnings)
                         + (skipped if n == 0 else ())))
    return out


def discover(paths: list[Path],
             notes: list[str] | None = None) -> Iterator[Path | VellumError]:
    """Expand files and folders into the media paths they hold, in sorted order. A folder
    holding DICOM files (a series, a study, a DICOMDIR tree) is handed on whole: its series are
    found by :func:`probe_all`, searching it recursively; other folders are searched here.
    FIFOs, devices and sockets found in a folder are never opened: each is skipped, with a
    sentence added to ``notes``."""
    for p in paths:
        if is_project_file(p):  # never opened but through its SQLite connection
            yield BadInputError(f"{p} is a Vellum project file, not media.", p)
        elif p.is_dir():
            files = sorted(q for q in p.iterdir()
                           if not q.name.startswith(".") and not is_project_file(q))
            if notes is not None:
                notes.extend(_special(files))
            if any(q.is_file() and _is_dicom(q) for q in files):
                yield p
                continue
            yield from discover([q for q in files if q.is_dir()], notes)
            for q in files:
                if q.is_file() and (q.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
                                    or _is_nifti(q) or q.suffix.lower() == ".dcm"):
                    yield q
        elif p.exists():
            yield p
        else:
            yield BadInputError(f"{p} does not exist.", p)


def _special(files: list[Path]) -> Iterator[str]:
    """A sentence for each FIFO, device or socket among ``files`` (found without opening)."""
    for q in files:
        try:
            kind = special_kind(q.stat().st_mode)
        except OSError:
            continue
        if kind:
            yield f"{q} is {kind}, not a regular file; it was skipped without being read."


def _probe_video(p: Path) -> Probe:
    """A video as Vellum's decoder numbers it (:mod:`app.io.video`): the displayed size
    (display rotation applied) and ffmpeg's frame count (edit lists applied, undecodable
    packets skipped). Builds and caches the frame index; short videos are decoded once to
    find damage (``verify="auto"``). The import report's facts and decode errors become
    warnings."""
    from app.io.video import load_index
    from app.io.video.report import geometry_of, report_of

    index, _ = load_index(p, verify="auto")
    g = geometry_of(index)
    r = report_of(str(p), index, g)
    warnings = tuple(f"{p.name}: {line}" for line in (*r.decode_errors, *r.notes))
    return Probe(MediaKind.VIDEO, p, g.width, g.height, g.frame_count,
                 {"fps": g.avg_fps or None, "codec": g.codec, "nominal_fps": g.nominal_fps,
                  "rotation": g.rotation, "is_vfr": g.is_vfr, "duration_s": g.duration_s,
                  "pix_fmt": g.pix_fmt, "decode_errors": len(r.decode_errors)},
                 video=g, warnings=warnings)
