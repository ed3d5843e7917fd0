"""Typed geometry of videos and volumes: what a media item's pixels and voxels mean.

Video: frame index N is the N-th frame in presentation order, 0-based, as ffmpeg outputs
frames with ``-fps_mode passthrough``; ``width`` x ``height`` are the *displayed* size (after
the display-matrix rotation). Per-frame timestamps live in a table of their own (the store's
``video_frames``), not in this record.

Volume: an array indexed ``[k, j, i]`` (slice, row, column). ``spacing = (si, sj, sk)`` in mm,
``origin`` = patient-LPS position (mm) of the centre of voxel (0, 0, 0), and ``direction`` a
3x3 matrix whose *columns* are the unit i, j, k axes in LPS. World position of voxel
(i, j, k) = origin + direction @ (i*si, j*sj, k*sk): :meth:`VolumeGeometry.voxel_to_world`,
the one place that formula lives (see ``../shared/CONVENTIONS.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

AXES = ("k", "j", "i")  # array axes of a volume, numpy order
PANES = ("axial", "coronal", "sagittal")
OBLIQUE_DEGREES = 1.0  # an axis further than this from its patient axis is "oblique"
_PANE_PATIENT_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}  # LPS component: x=L, y=P, z=S


@dataclass(frozen=True)
class VideoGeometry:
    """What the decoder found in a video stream. Sizes in displayed pixels; times in seconds
    from the first displayed frame; ``rotation`` = degrees clockwise the decoded picture is
    turned for display (0, 90, 180, 270)."""

    frame_count: int
    width: int
    height: int
    rotation: int = 0
    time_base: Fraction = Fraction(1, 90000)
    avg_fps: float = 0.0
    nominal_fps: float | None = None
    duration_s: float = 0.0
    is_vfr: bool = False
    codec: str = ""
    pix_fmt: str = ""

    def __post_init__(self) -> None:
        if self.frame_count < 0:
            raise ValueError(f"a video cannot have {self.frame_count} frames")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"a video needs a positive picture size, got "
                             f"{self.width}x{self.height}")
        if self.rotation not in (0, 90, 180, 270):
            raise ValueError(f"video rotation must be 0, 90, 180 or 270, got {self.rotation}")
        object.__setattr__(self, "time_base", Fraction(self.time_base))

    def to_json(self) -> dict[str, Any]:
        return {"frame_count": self.frame_count, "width": self.width, "height": self.height,
                "rotation": self.rotation,
                "time_base": [self.time_base.numerator, self.time_base.denominator],
                "avg_fps": self.avg_fps, "nominal_fps": self.nominal_fps,
                "duration_s": self.duration_s, "is_vfr": self.is_vfr, "codec": self.codec,
                "pix_fmt": self.pix_fmt}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> VideoGeometry:
        num, den = obj.get("time_base", (1, 90000))
        return cls(frame_count=int(obj["frame_count"]), width=int(obj["width"]),
                   height=int(obj["height"]), rotation=int(obj.get("rotation", 0)),
                   time_base=Fraction(int(num), int(den)),
                   avg_fps=float(obj.get("avg_fps") or 0.0),
                   nominal_fps=obj.get("nominal_fps"),
                   duration_s=float(obj.get("duration_s") or 0.0),
                   is_vfr=bool(obj.get("is_vfr", False)), codec=str(obj.get("codec", "")),
                   pix_fmt=str(obj.get("pix_fmt", "")))


def _triple(values: Any, what: str) -> tuple[float, float, float]:
    out = tuple(float(v) for v in values)
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise ValueError(f"volume {what} must be three finite numbers, got {values!r}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class PaneAxis:
    """Which array axis a patient-named pane shows, and how far it is from that patient
    axis (degrees; > :data:`OBLIQUE_DEGREES` means the pane is oblique)."""

    pane: str
    axis: str
    angle_deg: float

    @property
    def oblique(self) -> bool:
        return self.angle_deg > OBLIQUE_DEGREES


@dataclass(frozen=True)
class VolumeGeometry:
    """Shape ``(k, j, i)`` in voxels, spacing ``(si, sj, sk)`` in mm, origin (LPS mm, centre
    of voxel 0,0,0) and direction (3x3, columns = i, j, k axes in patient LPS)."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[tuple[float, float, float], ...] = (
        (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    _matrix: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 3 or min(shape) <= 0:
            raise ValueError(f"a volume needs a positive size on each of k, j, i, got "
                             f"{self.shape!r}")
        spacing = _triple(self.spacing, "spacing")
        if min(spacing) <= 0:
            raise ValueError(f"volume spacing must be positive, got {spacing}")
        origin = _triple(self.origin, "origin")
        d = np.asarray(self.direction, dtype=float)
        if d.shape != (3, 3) or not np.all(np.isfinite(d)):
            raise ValueError("a volume direction must be a 3x3 matrix of finite numbers")
        norms = np.linalg.norm(d, axis=0)
        if np.any(np.abs(norms - 1) > 1e-3) or abs(np.linalg.det(d)) < 1e-2:
            raise ValueError("a volume direction must have unit, independent axes")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "direction", tuple(tuple(float(v) for v in row) for row in d))
        object.__setattr__(self, "_matrix", d)

    # ------------------------------------------------------------ the one formula
    def voxel_to_world(self, ijk: Any) -> np.ndarray:
        """LPS position (mm) of continuous voxel index ``(i, j, k)`` (any leading shape
        ``(..., 3)``); integers are voxel centres."""
        ijk = np.asarray(ijk, dtype=float)
        return np.asarray(self.origin) + (ijk * np.asarray(self.spacing)) @ self._matrix.T

    def world_to_voxel(self, xyz: Any) -> np.ndarray:
        """Inverse of :meth:`voxel_to_world`: continuous ``(i, j, k)`` of LPS points (mm)."""
        xyz = np.asarray(xyz, dtype=float)
        rel = (xyz - np.asarray(self.origin)) @ np.linalg.inv(self._matrix).T
        return rel / np.asarray(self.spacing)

    def affine_lps(self) -> np.ndarray:
        """4x4 matrix taking homogeneous ``(i, j, k, 1)`` to LPS mm."""
        out = np.eye(4)
        out[:3, :3] = self._matrix * np.asarray(self.spacing)
        out[:3, 3] = self.origin
        return out

    def affine_ras(self) -> np.ndarray:
        """4x4 matrix taking ``(i, j, k, 1)`` to RAS mm (NIfTI's convention: x, y negated)."""
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ self.affine_lps()

    @classmethod
    def from_affine_ras(cls, shape: tuple[int, int, int], affine: Any) -> VolumeGeometry:
        """From a NIfTI-style RAS affine over ``(i, j, k)`` (shape given as ``(k, j, i)``).
        The axes need not be orthogonal (a gantry-tilted CT's k axis follows the slice
        origins, not the slice normal)."""
        lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(affine, dtype=float)
        m = lps[:3, :3]
        spacing = np.linalg.norm(m, axis=0)
        if np.any(spacing <= 0):
            raise ValueError("the affine collapses an axis")
        d = m / spacing
        return cls(shape, tuple(spacing), tuple(lps[:3, 3]), tuple(map(tuple, d)))

    # ------------------------------------------------------------ axes and panes
    def axis_size(self, axis: str) -> int:
        return self.shape[AXES.index(axis)]

    def axis_spacing(self, axis: str) -> float:
        """Voxel size (mm) along array axis 'i', 'j' or 'k'."""
        return self.spacing["ijk".index(axis)]

    def axis_direction(self, axis: str) -> np.ndarray:
        """Unit LPS vector of array axis 'i', 'j' or 'k'."""
        return self._matrix[:, "ijk".index(axis)].copy()

    def plane_normals(self) -> np.ndarray:
        """3x3, column ``a`` = unit LPS normal of the plane a pane shows when it steps along
        array axis ``a`` (the cross product of the other two axes). On an orthogonal grid
        that is the axis itself; on a sheared one (a gantry-tilted stack whose k axis follows
        the slice origins) it is not: the axial plane is tilted although k is not."""
        m = self._matrix
        cols = [np.cross(m[:, (a + 1) % 3], m[:, (a + 2) % 3]) for a in range(3)]
        return np.column_stack([c / np.linalg.norm(c) for c in cols])

    def panes(self) -> dict[str, PaneAxis]:
        """Axial/coronal/sagittal -> the array axis whose displayed plane's normal is closest
        to S, P and L, each used once (an acquisition's slice axis may be i or j: a sagittal
        scan still shows axial in the axial pane), with the angle (degrees) between that
        normal and the patient axis: the pane's obliquity."""
        cosines = np.abs(self.plane_normals())  # [patient component, array axis]
        best: tuple[float, dict[str, int]] | None = None
        for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
            # perm[p] = array axis index (i=0, j=1, k=2) used for patient component p
            score = sum(cosines[p, perm[p]] for p in range(3))
            if best is None or score > best[0] + 1e-12:
                best = (score, {pane: perm[c] for pane, c in _PANE_PATIENT_AXIS.items()})
        assert best is not None
        out = {}
        for pane, comp in _PANE_PATIENT_AXIS.items():
            ax = best[1][pane]
            cos = min(1.0, float(cosines[comp, ax]))
            out[pane] = PaneAxis(pane, "ijk"[ax], math.degrees(math.acos(cos)))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "spacing": list(self.spacing),
                "origin": list(self.origin), "direction": [list(r) for r in self.direction]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> VolumeGeometry:
        return cls(tuple(obj["shape"]), tuple(obj["spacing"]), tuple(obj["origin"]),
                   tuple(tuple(r) for r in obj["direction"]))
