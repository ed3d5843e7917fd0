"""The label maps of a volume drawn on each pane: one :class:`LabelMapLayer` per label map and
pane, redrawn only when an edit's voxel box crosses that pane's slice (a stroke in the axial
pane leaves the coronal and sagittal overlays alone unless it reaches their slices)."""

from __future__ import annotations

from app.core.document import Change
from app.widgets.labelmap_layer import LabelMapLayer

_AXIS = {"k": 0, "j": 1, "i": 2}


class SliceLabelLayer(LabelMapLayer):
    """A label map's layer on one pane (see the module doc)."""

    def _changed(self, changes: list[Change]) -> None:
        place = self.place()
        for c in changes:
            if c.kind == "reset" or (c.kind == "labelmap" and self._touches(c, place)):
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
