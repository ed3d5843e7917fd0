"""The surface of one volume pane: a slice of a volume, its label maps and the linked crosshair
(Qt-free).

A pane shows slices along one array axis (places ``Place(id, axis=a, index=n)``); tools get
any slice of the volume on demand (:meth:`SliceSurface.picture`, a
:class:`~app.io.planes.VolumeSliceSource` with its voxel ↔ patient (LPS, mm) transform), paint
the label map and segment :class:`~app.tools.volume_segmentation.Segmentation` names, and move
the crosshair the three panes share. Long work (a 3D fill) runs where the view says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from app.core.geometry import VolumeGeometry
from app.core.places import Place
from app.io.planes import VolumeSliceSource
from app.tools.paint import LabelMapPaint
from app.tools.surface import Surface
from app.tools.volume_segmentation import Segmentation

Runner = Callable[[str, Callable[[], Any], Callable[[Any], None]], None]


class SliceSurface(Surface):
    """One pane of volume ``media_id`` (``array`` in [k, j, i] order with ``geometry``),
    showing slices along array axis ``axis``. ``crosshair(place, x, y)`` moves the linked
    crosshair to picture point (x, y) of ``place``; ``runner(label, work, done)`` runs
    ``work`` off the UI thread (None: inline)."""

    def __init__(self, media_id: str, array: np.ndarray, geometry: VolumeGeometry, axis: str,
                 segmentation: Segmentation, mm_per_px: float,
                 crosshair: Callable[[Place, float, float], None] | None = None,
                 runner: Runner | None = None) -> None:
        super().__init__(place=None, image_size=(0, 0), mm_per_px=mm_per_px)
        self.media_id, self.array, self.geometry, self.axis = media_id, array, geometry, axis
        self.segmentation = segmentation
        self._crosshair, self._runner = crosshair, runner

    def picture(self, place: Place) -> VolumeSliceSource | None:
        """Any slice of this volume (made on demand), None for other places."""
        if place.media_id != self.media_id or not place.is_slice:
            return None
        return VolumeSliceSource(place, self.array, self.geometry)

    def labelmap(self, place: Place, create: bool = True) -> LabelMapPaint | None:
        return self.segmentation.target(place, create=create)

    def move_crosshair(self, place: Place, x: float, y: float) -> bool:
        if self._crosshair is None or not place.is_slice or place.media_id != self.media_id:
            return False
        self._crosshair(place, x, y)
        return True

    def run_off_ui(self, label: str, work: Callable[[], Any],
                   done: Callable[[Any], None]) -> None:
        if self._runner is None:
            done(work())
        else:
            self._runner(label, work, done)
