"""The linked crosshair of a volume's panes and what the status bar says under the pointer
(Qt-free).

The crosshair is one point of the volume, kept as a continuous voxel index ``(i, j, k)``
(integers = voxel centres) and shown as a patient LPS position (mm); each pane shows the slice
through it along its array axis. A click on a pane moves it through world coordinates - the
pane's ``to_world`` then each other pane's ``point_of`` - so the panes agree whatever the
volume's direction. Stepping a pane moves it along that pane's axis, "forward" being the
patient direction 3D Slicer counts slice offsets in: superior (axial), anterior (coronal),
right (sagittal).
"""

from __future__ import annotations

import math

import numpy as np

from app.core.geometry import AXES, VolumeGeometry
from app.core.places import PICTURE_AXES
from app.io.planes import VolumeSliceSource, lps_and_ras

# Slicer's pane colours: red axial, green coronal, yellow sagittal.
PANE_COLOURS = {"axial": "#e2534b", "coronal": "#5fb85a", "sagittal": "#e8c547"}
# Patient direction (LPS) a step "forward" moves each pane towards.
_FORWARD = {"axial": (0.0, 0.0, 1.0), "coronal": (0.0, -1.0, 0.0), "sagittal": (-1.0, 0.0, 0.0)}


class Crosshair:
    """The linked cursor of one volume (see the module doc)."""

    def __init__(self, geometry: VolumeGeometry) -> None:
        self.geometry = geometry
        k, j, i = geometry.shape
        self.voxel = np.array([(i - 1) / 2, (j - 1) / 2, (k - 1) / 2], float)
        self.voxel = np.round(self.voxel)

    @property
    def world(self) -> np.ndarray:
        """LPS position (mm)."""
        return self.geometry.voxel_to_world(self.voxel)

    def index(self, axis: str) -> int:
        """The slice along array ``axis`` through the crosshair."""
        n = self.geometry.axis_size(axis)
        return int(min(max(round(float(self.voxel["ijk".index(axis)])), 0), n - 1))

    def indices(self) -> dict[str, int]:
        return {a: self.index(a) for a in AXES}

    def move_to(self, world: np.ndarray, source: VolumeSliceSource | None = None) -> None:
        """Put the crosshair at LPS ``world`` (mm), kept inside the volume."""
        ijk = self.geometry.world_to_voxel(world)
        if source is not None:  # the clicked pane's own slice stays exact
            ijk["ijk".index(source.axis)] = source.index
        top = np.array([self.geometry.axis_size(a) - 1 for a in "ijk"], float)
        self.voxel = np.clip(ijk, 0, top)

    def put(self, voxel) -> None:
        """Put the crosshair at continuous voxel index ``(i, j, k)``, kept inside the volume."""
        top = np.array([self.geometry.axis_size(a) - 1 for a in "ijk"], float)
        self.voxel = np.clip(np.asarray(voxel, float), 0, top)

    def set_index(self, axis: str, index: int) -> None:
        n = self.geometry.axis_size(axis)
        self.voxel["ijk".index(axis)] = float(min(max(int(index), 0), n - 1))

    def step(self, axis: str, pane: str, delta: int) -> int:
        """Move ``delta`` slices forward (see the module doc) along ``axis``; the new index."""
        sign = 1 if float(self.geometry.axis_direction(axis) @ np.array(_FORWARD[pane])) >= 0 \
            else -1
        self.set_index(axis, self.index(axis) + sign * int(delta))
        return self.index(axis)

    def point_on(self, source: VolumeSliceSource) -> tuple[float, float]:
        """Where the crosshair lies on a pane's picture (continuous px)."""
        x, y, _ = source.point_of(self.world)
        return (x, y)


def voxel_at(source: VolumeSliceSource, x: float, y: float) -> tuple[int, int, int] | None:
    """Voxel index (i, j, k) of the picture pixel under (x, y), None outside the picture."""
    w, h = source.size
    c, r = math.floor(x), math.floor(y)
    if not (0 <= c < w and 0 <= r < h):
        return None
    rows, cols = PICTURE_AXES[source.axis]
    idx = {source.axis: source.index, rows: r, cols: c}
    return (idx["i"], idx["j"], idx["k"])


def cursor_text(source: VolumeSliceSource, x: float, y: float, unit: str = "") -> str:
    """'voxel (i 80, j 60, k 18) · L 12.3 P 45.6 S 7.8 mm (RAS -12.3, -45.6, 7.8) · 35 HU'
    for the voxel under picture point (x, y); '' outside the picture."""
    v = voxel_at(source, x, y)
    if v is None:
        return ""
    i, j, k = v
    world = source.geometry.voxel_to_world((i, j, k))
    value = source.value_at(x, y)
    shown = f"{value:.0f}" if value is not None and float(value).is_integer() else (
        f"{value:.4g}" if value is not None else "—")
    return (f"voxel (i {i}, j {j}, k {k}) · {lps_and_ras(world)} · "
            f"{shown}{' ' + unit if unit else ''}")
