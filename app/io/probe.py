"""Find what a path on disk is (image, video, volume) and describe it as a media item.

Sizes are in pixels; ``frames`` is the number of video frames in presentation order, or the
number of slices of a volume along its array k axis. Nothing is decoded beyond what the size
needs (image headers, container metadata, NIfTI/DICOM headers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, UnsupportedFormatError, VellumError
from app.core.geometry import VideoGeometry, VolumeGeometry
from app.core.media import MediaKind, VolumeSource
from app.io.images import IMAGE_SUFFIXES, image_size

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
    """Describe one file (image, video, NIfTI) or DICOM series folder."""
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"{p} does not exist.", p)
    if p.is_dir():
        return _probe_dicom_folder(p)
    suffix = p.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        w, h = image_size(p)
        return Probe(MediaKind.IMAGE, p, w, h)
    if suffix in VIDEO_SUFFIXES:
        return _probe_video(p)
    if _is_nifti(p):
        return _probe_nifti(p)
    raise UnsupportedFormatError(f"{p} is not an image, video or volume format Vellum reads.", p)


def discover(paths: list[Path]) -> Iterator[Path | VellumError]:
    """Expand files and folders into the media paths they hold, in sorted order. A folder of
    DICOM files is one volume; other folders are searched recursively."""
    for p in paths:
        if p.is_dir():
            files = sorted(q for q in p.iterdir() if not q.name.startswith("."))
            if any(q.is_file() and _is_dicom(q) for q in files):
                yield p
            yield from discover([q for q in files if q.is_dir()])
            for q in files:
                if q.is_file() and (q.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
                                    or _is_nifti(q)):
                    yield q
        elif p.exists():
            yield p
        else:
            yield BadInputError(f"{p} does not exist.", p)


def _probe_video(p: Path) -> Probe:
    import av

    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise BadInputError(f"{p} has no video stream.", p)
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            fps = float(stream.average_rate) if stream.average_rate else None
            frames = stream.frames
            if not frames:
                frames = sum(1 for pkt in container.demux(stream) if pkt.size)
    except av.error.FFmpegError as exc:
        raise BadInputError(f"{p} cannot be read as video ({exc}).", p) from exc
    if not width or not height:
        raise BadInputError(f"{p} has a video stream with no picture size.", p)
    return Probe(MediaKind.VIDEO, p, width, height, int(frames),
                 {"fps": fps, "codec": stream.codec_context.name})


def _probe_nifti(p: Path) -> Probe:
    import nibabel as nib

    try:
        img = nib.load(str(p))
        shape = tuple(int(s) for s in img.shape)
    except Exception as exc:  # nibabel raises many types for bad files
        raise BadInputError(f"{p} cannot be read as NIfTI ({exc}).", p) from exc
    if len(shape) < 3:
        shape = shape + (1,) * (3 - len(shape))
    # NIfTI data is indexed (i, j, k[, t]); Vellum volumes are [k, j, i].
    return Probe(MediaKind.VOLUME, p, shape[0], shape[1], shape[2],
                 {"format": "nifti", "shape_ijk": list(shape[:3]),
                  "timepoints": shape[3] if len(shape) > 3 else 1})


def _probe_dicom_folder(p: Path) -> Probe:
    import pydicom

    series: dict[str, list[Any]] = {}
    for f in sorted(p.iterdir()):
        if f.is_file() and _is_dicom(f):
            try:
                ds = pydicom.dcmread(f, stop_before_pixels=True)
            except Exception as exc:  # pydicom raises many types for bad files
                raise BadInputError(f"{f} is not a readable DICOM file ({exc}).", f) from exc
            if "Rows" in ds and "Columns" in ds:
                series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(ds)
    if not series:
        raise UnsupportedFormatError(f"{p} holds no DICOM images.", p)
    uid, slices = max(series.items(), key=lambda kv: len(kv[1]))
    first = slices[0]
    frames = sum(int(getattr(ds, "NumberOfFrames", 1) or 1) for ds in slices)
    return Probe(MediaKind.VOLUME, p, int(first.Columns), int(first.Rows), frames,
                 {"format": "dicom", "series_uid": uid, "modality": str(first.get("Modality", "")),
                  "description": str(first.get("SeriesDescription", "")),
                  "series_in_folder": len(series)})
