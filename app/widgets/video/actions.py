"""What the video mode's keys and buttons do to tracks, events and the report: a mixin of
:class:`~app.widgets.video.presenter.VideoPresenter` (it uses its host, index, frame and
panels). Each action is one command run as it is (already in track terms, see
:mod:`app.tools.track_edits`); its sentence goes to the status bar."""

from __future__ import annotations

from app.core.commands import Batch, Remove
from app.tools import track_edits as edits
from app.widgets.video.report_text import ReportDialog


class TrackActions:
    """Keyframe, outside, occluded, propagate, delete track, events, the report."""

    # ------------------------------------------------------------------ track commands
    def current_track(self) -> str | None:
        """The track of the selected shape, else the one chosen in the track list."""
        ix = self.index
        if ix is None:
            return None
        for i in self.host.state.selection:
            tid = ix.track_of(self.frame, i)
            if tid:
                self.track_id = tid
                return tid
        return self.track_id if self.track_id in ix.fresh().tracks else None

    def _need_track(self) -> str | None:
        tid = self.current_track()
        if tid is None:
            self.host.message("Select a track first: click its shape, or its row in the "
                              "track list.", 4000)
        return tid

    def choose_track(self, track_id: str) -> None:
        self.track_id = track_id
        a = self.index.at(track_id, self.frame) if self.index is not None else None
        self.host.state.select((a.id,) if a is not None else ())
        self._show_track()

    def toggle_keyframe(self) -> None:
        tid = self._need_track()
        if tid is not None:
            self._run(*edits.toggle_keyframe(self.index, tid, self.frame))

    def toggle_outside(self) -> None:
        tid = self._need_track()
        if tid is not None:
            self._run(*edits.toggle_outside(self.index, tid, self.frame))

    def toggle_occluded(self) -> None:
        targets = self.host.state.selected()
        if not targets:
            tid = self._need_track()
            a = self.index.at(tid, self.frame) if tid else None
            targets = [a] if a is not None else []
        if not targets:
            return
        commands, notes = [], []
        for a in targets:
            c, note = edits.toggle_occluded(self.index, a)
            commands.append(c)
            notes.append(note)
        self._run(commands[0] if len(commands) == 1 else Batch(tuple(commands),
                                                               label="Occluded"), notes[0])

    def propagate(self) -> None:
        anns = self.host.state.selected()
        if not anns and (tid := self.current_track()):
            a = self.index.at(tid, self.frame)
            anns = [a] if a is not None else []
        if not anns:
            self.host.message("Select the shape to propagate first.", 4000)
            return
        self._run(*edits.propagate(self.index, anns, self.frame, self.tracks.count.value(),
                                   self.tracks.as_keyframes))

    def delete_track(self, track_id: str) -> None:
        if self._run(*edits.delete_track(self.index, track_id)):
            self.track_id = None
            self.host.state.set(selection=())

    def make_event(self) -> None:
        sel = self.timeline.bar.selection
        if sel is None:
            self.host.message("Select a frame range first: Shift+drag on the timeline.", 4000)
            return
        if self._run(*edits.frame_event(self.item.id, self.host.state.active_class(), *sel)):
            self.timeline.clear_range()

    def delete_event(self, annotation_id: str) -> None:
        a = self.host.doc.annotation(self.item.id, annotation_id)
        if a is not None:
            self._run(Remove((a,), label="Delete event"), "Event deleted.")

    def show_report(self) -> None:
        if self.report is None:
            self.host.message(self.error or "The video is still opening.", 4000)
            return
        self._report_box = ReportDialog(self.report.text(), self.host.parent)
        self._report_box.show()
