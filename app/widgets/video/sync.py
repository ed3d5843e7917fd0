"""Keeping the video mode's panels in step with the project and the selection: the track
list, the selected track's keyframe markers and runs on the timeline, the density strip and
the events. The presenter owns one :class:`PanelSync` and subscribes it to the editor state
and the document while the mode is up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.document import Change, ChangeKind
from app.core.places import Place
from app.core.shapes import Event
from app.core.track_edits import attribute_keyframes
from app.widgets.video.timeline import EventBar, Marker, attr_marks

if TYPE_CHECKING:
    from app.widgets.video.shown import VideoShown


class PanelSync:
    """See the module doc. ``video`` is the video shown; of it only ``track_id`` is set here
    (a shape of another track selected on the canvas makes that track the selected one)."""

    def __init__(self, video: VideoShown) -> None:
        self.video = video

    # ------------------------------------------------------------------ observing
    def on_state(self, name: str) -> None:
        v = self.video
        if name == "selection" and v.index is not None:
            for i in v.host.state.selection:
                tid = v.index.track_of(v.frame, i)
                if tid:
                    if tid != v.track_id:
                        v.track_id = tid
                        self.show_track()
                        v.tracks.show_tracks(v.index, v.host.doc.schema, v.track_id)
                    break

    def on_changes(self, changes: list[Change]) -> None:
        v = self.video
        if v.item is None or v.index is None:
            return
        if not any(c.kind in (ChangeKind.SCHEMA, ChangeKind.RESET) or v.item.id in c.media_ids
                   for c in changes):
            return
        state = v.host.state
        renamed = v.edits.renamed if v.edits else {}
        if renamed and any(i in renamed for i in state.selection):
            state.set(selection=tuple(renamed.get(i, i) for i in state.selection))
            renamed.clear()
        if v.track_id is not None and v.host.doc.track(v.track_id) is None:
            v.track_id = None
        self.refresh()

    # ------------------------------------------------------------------ drawing the panels
    def refresh(self) -> None:
        """Track list, keyframe markers, density and events as the project now is."""
        v = self.video
        if v.item is None or v.index is None:
            return
        v.tracks.show_tracks(v.index, v.host.doc.schema, v.track_id)
        self.show_track()
        bar = v.timeline.bar
        bar.density = v.index.density()
        schema = v.host.doc.schema
        bar.events = []
        for a in v.host.doc.annotations(Place(v.item.id)):
            if isinstance(a.shape, Event):
                cls = schema.class_by_id(a.class_id)
                bar.events.append(EventBar(a.shape.start, a.shape.end,
                                           cls.color if cls else "#c8c8c8",
                                           cls.name if cls else "event", a.id))
        bar.update()

    def show_track(self) -> None:
        """The selected track's keyframe markers, visible runs and per-frame attribute
        changes on the timeline."""
        v = self.video
        bar, ix, tid = v.timeline.bar, v.index, v.track_id
        if ix is None or tid is None or tid not in ix.fresh().tracks:
            bar.markers, bar.runs, bar.attr_marks = [], [], []
        else:
            cls = v.host.doc.schema.class_by_id(ix.tracks[tid].class_id)
            bar.track_color = cls.color if cls else "#c8c8c8"
            bar.markers = [Marker(a.frame, "outside" if a.outside else
                                  "key" if a.keyframe else "tracked")
                           for a in ix.shapes(tid)]
            bar.runs = ix.visible_runs(tid)
            dynamic = [a.name for a in cls.attributes if a.dynamic] if cls else []
            bar.attr_marks = attr_marks(attribute_keyframes(ix.shapes(tid), dynamic))
        bar.update()
