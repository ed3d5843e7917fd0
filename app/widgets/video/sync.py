"""Keeping the video mode's panels in step with the project and the selection: the track
list, the selected track's keyframe markers and runs on the timeline, the density strip and
the events. A mixin of :class:`~app.widgets.video.presenter.VideoPresenter`."""

from __future__ import annotations

from app.core.document import Change, ChangeKind
from app.core.places import Place
from app.core.shapes import Event
from app.widgets.video.timeline import EventBar, Marker


class PanelSync:
    """See the module doc."""

    # ------------------------------------------------------------------ observing
    def _on_state(self, name: str) -> None:
        if name == "selection" and self.index is not None:
            for i in self.host.state.selection:
                tid = self.index.track_of(self.frame, i)
                if tid:
                    if tid != self.track_id:
                        self.track_id = tid
                        self._show_track()
                        self.tracks.show_tracks(self.index, self.host.doc.schema,
                                                self.track_id)
                    break

    def _on_changes(self, changes: list[Change]) -> None:
        if self.item is None or self.index is None:
            return
        if not any(c.kind in (ChangeKind.SCHEMA, ChangeKind.RESET) or self.item.id in c.media_ids
                   for c in changes):
            return
        state = self.host.state
        renamed = self.edits.renamed if self.edits else {}
        if renamed and any(i in renamed for i in state.selection):
            state.set(selection=tuple(renamed.get(i, i) for i in state.selection))
            renamed.clear()
        if self.track_id is not None and self.host.doc.track(self.track_id) is None:
            self.track_id = None
        self.refresh()

    def refresh(self) -> None:
        """Track list, keyframe markers, density and events as the project now is."""
        if self.item is None or self.index is None:
            return
        self.tracks.show_tracks(self.index, self.host.doc.schema, self.track_id)
        self._show_track()
        bar = self.timeline.bar
        bar.density = self.index.density()
        schema = self.host.doc.schema
        bar.events = []
        for a in self.host.doc.annotations(Place(self.item.id)):
            if isinstance(a.shape, Event):
                cls = schema.class_by_id(a.class_id)
                bar.events.append(EventBar(a.shape.start, a.shape.end,
                                           cls.color if cls else "#c8c8c8",
                                           cls.name if cls else "event", a.id))
        bar.update()

    def _show_track(self) -> None:
        bar, ix = self.timeline.bar, self.index
        if ix is None or self.track_id is None or self.track_id not in ix.fresh().tracks:
            bar.markers, bar.runs = [], []
        else:
            cls = self.host.doc.schema.class_by_id(ix.tracks[self.track_id].class_id)
            bar.track_color = cls.color if cls else "#c8c8c8"
            bar.markers = [Marker(a.frame, "outside" if a.outside else
                                  "key" if a.keyframe else "tracked")
                           for a in ix.shapes(self.track_id)]
            bar.runs = ix.visible_runs(self.track_id)
        bar.update()
