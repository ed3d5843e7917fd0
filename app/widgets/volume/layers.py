"""The label maps of a volume drawn on each pane: one :class:`LabelMapLayer` per label map and
pane, redrawn only when an edit's voxel box crosses that pane's slice (a stroke in the axial
pane leaves the coronal and sagittal overlays alone unless it reaches their slices), and
coloured only over the bounding box of the slice's painted voxels (a segment usually covers a
small part of a 512 x 512 slice)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from app.core.document import Change, ChangeKind
from app.widgets.labelmap_layer import LabelMapLayer, colour_table, label_pixels

_AXIS = {"k": 0, "j": 1, "i": 2}


class SliceLabelLayer(LabelMapLayer):
    """A label map's layer on one pane (see the module doc)."""

    def _changed(self, changes: list[Change]) -> None:
        place = self.place()
        for c in changes:
            if c.kind == ChangeKind.RESET or (c.kind == ChangeKind.LABELMAP
                                              and self._touches(c, place)):
                self._version += 1
                if self._on_change is not None:
                    self._on_change()
                return

    def _touches(self, c: Change, place) -> bool:
        if self.labelmap_id not in c.ids:
            return "start" not in c.extra  # a label map added / removed: redraw
        if "start" not in c.extra or place is None or not place.is_slice:
            return True
        a = _AXIS[place.axis]
        lo = c.extra["start"][a]
        return lo <= place.index < lo + c.extra["shape"][a]

    def image(self) -> QImage | None:
        """The coloured painted part of the slice (premultiplied ARGB), or None."""
        key = (self.place(), self._version)
        if key == self._key:
            return self._image
        self._key = key
        self._image = self._buf = None
        plane = self.plane()
        if plane is None:
            return None
        rows = np.flatnonzero(plane.any(axis=1))
        if not rows.size:
            return None
        cols = np.flatnonzero(plane.any(axis=0))
        h, w = plane.shape
        r0, r1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, h)
        c0, c1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, w)
        values = plane[r0:r1, c0:c1]
        info = self.doc.labelmap_info(self.labelmap_id)
        table = colour_table(info.segments, self.opacity, self.hidden)
        self._buf = label_pixels(values, table, self.outline)
        bh, bw = self._buf.shape
        self._offset = (c0, r0)
        self._image = QImage(self._buf.data, bw, bh, bw * 4,
                             QImage.Format.Format_ARGB32_Premultiplied)
        return self._image
