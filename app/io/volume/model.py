"""What a volume source holds: series found by a scan, and a loaded volume.

Conventions (``../shared/CONVENTIONS.md``): arrays are indexed ``[k, j, i]`` (slice, row,
column); geometry is a :class:`~app.core.geometry.VolumeGeometry` in patient LPS (mm);
intensities are real units (HU for CT: RescaleSlope/Intercept applied; NIfTI scl_slope/inter
applied).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.geometry import VolumeGeometry


def series_title(modality: str, number: int | None, uid: str) -> str:
    """A volume's default title, free of anything a site types (SeriesDescription and
    ProtocolName often hold patient names): modality, series number and a short hash of the
    SeriesInstanceUID, e.g. ``CT series 3 (a1b2c3)``."""
    tag = hashlib.sha256(uid.encode()).hexdigest()[:6] if uid else ""
    text = f"{modality or 'DICOM'} series" + (f" {number}" if number is not None else "")
    return f"{text} ({tag})" if tag else text


@dataclass(frozen=True)
class FrameRef:
    """One 2D image of a DICOM series: ``index`` is the 0-based frame inside ``path`` (0 for
    a single-frame file). ``position`` is ImagePositionPatient (LPS mm, centre of the first
    pixel), ``orientation`` ImageOrientationPatient (row direction then column direction),
    ``pixel_spacing`` (between rows, between columns) in mm, as DICOM orders it."""

    path: Path
    index: int
    rows: int
    columns: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    slope: float = 1.0
    intercept: float = 0.0
    bits_stored: int = 16
    bits_allocated: int = 16
    signed: bool = False
    syntax: str = ""  # transfer syntax UID of the file
    file_frames: int = 1  # frames in the whole file
    order: tuple = ()  # orders images sharing one position (time, echo, instance)
    slice_step: float | None = None  # SpacingBetweenSlices or SliceThickness (mm)
    stacked: bool = False  # position made up from the frame number (legacy multi-frame)


@dataclass
class SeriesInfo:
    """One series found under a path, described from headers only (nothing decoded).

    ``geometry`` is the grid the volume will have (None when not an image); ``frames`` counts
    its 2D images, ``volumes`` its 3D volumes (> 1 for a 4D series or file). ``warnings`` are
    sentences naming what is odd; when ``is_image`` is False the first says why it is not a
    volume (dose report, segmentation, colour image, unreadable file...)."""

    uid: str
    description: str
    modality: str
    geometry: VolumeGeometry | None
    files: list[Path]
    warnings: list[str] = field(default_factory=list)
    is_image: bool = True
    frames: int = 0
    volumes: int = 1
    source: str = "dicom"  # "dicom" or "nifti"
    number: int | None = None  # DICOM SeriesNumber
    monochrome1: bool = False  # DICOM MONOCHROME1: low values display white
    # Where each slice of each volume comes from ([volume][k]; None = a plane inserted for a
    # missing slice). Filled by the DICOM scan; empty for NIfTI.
    plan: list[list[FrameRef | None]] = field(default_factory=list, repr=False)
    # Sentences naming each damaged file of the series (a slice file cut short, an empty
    # file beside its slices); the project keeps them on the item and ``validate`` reports
    # them. Not repeated in ``warnings``.
    damaged: list[str] = field(default_factory=list)
    # A tilted stack made orthogonal: where each acquired slice k sits in the grid
    # (row offset, column offset), whole pixels; empty when slices fill it as acquired.
    shifts: list[tuple[int, int]] = field(default_factory=list, repr=False)
    # Which part of a stack whose spacing changes ("part 2/2 (7 mm)"), else "".
    part: str = ""

    @property
    def title(self) -> str:
        """The title a project gives the volume: :func:`series_title` for DICOM (never the
        series description), with its part where the stack was split; nothing for NIfTI
        (the item is called by its file name)."""
        if self.source == "nifti":
            return ""
        base = series_title(self.modality, self.number, self.uid.split("#part")[0])
        return f"{base}, {self.part}" if self.part else base

    @property
    def voxels(self) -> int:
        return int(np.prod(self.geometry.shape)) if self.geometry is not None else 0


@dataclass
class Volume:
    """A loaded volume: ``array[k, j, i]`` in real units, its LPS geometry, and what was odd
    about the source (``warnings``, sentences)."""

    array: np.ndarray
    geometry: VolumeGeometry
    modality: str = ""
    description: str = ""
    series_uid: str = ""
    warnings: list[str] = field(default_factory=list)
    volume_index: int = 0
    volumes: int = 1
    monochrome1: bool = False
    source: Path | None = None
    # Slices (index along k) that hold no image of their own, with why in a few words
    # ("damaged file IM0003.dcm", "missing from the series"): the views mark them.
    marks: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if tuple(self.array.shape) != tuple(self.geometry.shape):
            raise ValueError(f"volume array shape {self.array.shape} differs from its "
                             f"geometry {self.geometry.shape}")
