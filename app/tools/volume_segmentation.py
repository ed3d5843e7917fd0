"""Which label map and segment the tools paint on a volume (Qt-free).

The segment painted is the one linked to the active class (class keys 1-9 pick it, so one
ontology drives photos, video and volumes); with no active class, the segment chosen in the
Segments panel. On the first stroke with neither, the label map and a segment for the active
class are made (two undo steps: the segment, then the stroke). The eraser never makes one.
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.labelmap import LabelMapInfo, Segment
from app.core.media import MediaItem
from app.core.places import Place
from app.tools.paint import LabelMapPaint
from app.tools.state import EditorState
from app.tools.volume_brush import VolumeBrush
from app.tools.volume_segments import add_segment, new_labelmap, segment_of_class


class Segmentation:
    """The label maps of ``item`` and the active one (see the module doc)."""

    def __init__(self, state: EditorState, item: MediaItem, brush: VolumeBrush) -> None:
        self.state, self.item, self.brush = state, item, brush
        maps = self.labelmaps()
        self.labelmap_id: str | None = maps[0].id if maps else None
        self.chosen_value: int | None = None  # the panel's choice when no class is active
        self.on_made: Callable[[], None] | None = None  # a label map or segment was made
        info = self.info()
        if info is not None and info.segments and self.active_segment() is None:
            first = min(info.segments, key=lambda s: s.value)  # paint what is there
            self.chosen_value = first.value
            if first.class_id is not None:
                state.set(class_id=first.class_id)

    @property
    def doc(self):
        return self.state.doc

    def labelmaps(self) -> list[LabelMapInfo]:
        return sorted(self.doc.labelmaps(self.item.id), key=lambda i: i.created)

    def info(self) -> LabelMapInfo | None:
        """The active label map (the first one when the chosen one went away)."""
        maps = self.labelmaps()
        found = next((m for m in maps if m.id == self.labelmap_id), None)
        if found is None and maps:
            found = maps[0]
            self.labelmap_id = found.id
        return found

    def active_segment(self) -> Segment | None:
        info = self.info()
        if info is None:
            return None
        seg = segment_of_class(info, self.state.class_id)
        if seg is None and self.state.class_id is None and self.chosen_value is not None:
            seg = info.segment(self.chosen_value)
        return seg

    def make_segment(self) -> Segment | None:
        """A segment for the active class (the label map too when there is none)."""
        cls = self.state.active_class()
        info = self.info()
        name = None if cls else f"Segment {info.next_value() if info else 1}"
        cmd, info, seg = add_segment(self.doc.schema, info, self.item, name=name,
                                     class_id=cls.id if cls else None)
        if not self.state.execute(cmd):
            return None
        self.labelmap_id = info.id
        if cls is None:
            self.chosen_value = seg.value
        self.state.message(f"Painting segment {seg.name!r} of label map {info.name!r}.")
        if self.on_made is not None:
            self.on_made()
        return seg

    def new_labelmap(self, name: str) -> LabelMapInfo | None:
        """Make another (empty) label map and paint on it from now on."""
        from app.core.commands import Put

        info = new_labelmap(self.item, name)
        if not self.state.execute(Put((info,), label="Add segmentation")):
            return None
        self.labelmap_id, self.chosen_value = info.id, None
        return info

    def target(self, place: Place, create: bool = True) -> LabelMapPaint | None:
        """What a stroke on ``place`` paints (``create``: make the segment if needed)."""
        if place.media_id != self.item.id or not place.is_slice:
            return None
        seg = self.active_segment()
        if seg is None:
            if not create:
                info = self.info()
                return LabelMapPaint(info.id, 0, "#ffffff", brush=self.brush) if info else None
            seg = self.make_segment()
            if seg is None:
                return None
        return LabelMapPaint(self.labelmap_id, seg.value, seg.color, brush=self.brush)
