"""What the video mode's keys and buttons do to tracks, events and the report. Each action
is one command run as it is (already in track terms, see :mod:`app.tools.track_edits`)
through the presenter's ``run``; its sentence goes to the status bar."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.core import track_edits as whole
from app.core.commands import Batch, Command, Remove
from app.core.errors import RefusedEdit
from app.tools import track_edits as edits
from app.widgets.video.report_text import ReportDialog

if TYPE_CHECKING:
    from app.core.annotations import Annotation
    from app.widgets.video.shown import VideoShown
    from app.widgets.video.sync import PanelSync


class TrackActions:
    """Keyframe, outside, occluded, propagate, merge, split, delete track, events, the report.

    ``video`` is the video shown (of it only ``track_id`` is set here); ``panels`` shows a
    newly chosen track on the timeline; ``run(command, note)`` executes a command of the
    mode (None: says ``note`` instead) and tells whether it was done."""

    def __init__(self, video: VideoShown, panels: PanelSync,
                 run: Callable[[Command | None, str], bool]) -> None:
        self.video = video
        self.panels = panels
        self.run = run
        self.report_box: ReportDialog | None = None  # kept open by this reference

    # ------------------------------------------------------------------ track commands
    def current_track(self) -> str | None:
        """The track of the selected shape, else the one chosen in the track list."""
        v = self.video
        ix = v.index
        if ix is None:
            return None
        for i in v.host.state.selection:
            tid = ix.track_of(v.frame, i)
            if tid:
                v.track_id = tid
                return tid
        return v.track_id if v.track_id in ix.fresh().tracks else None

    def _need_track(self) -> str | None:
        tid = self.current_track()
        if tid is None:
            self.video.host.message("Select a track first: click its shape, or its row in "
                                    "the track list.", 4000)
        return tid

    def _shape_of(self, tid: str | None) -> list[Annotation]:
        """Track ``tid``'s shape on the frame shown, as a list of none or one."""
        v = self.video
        a = v.index.at(tid, v.frame) if tid and v.index is not None else None
        return [a] if a is not None else []

    def choose_track(self, track_id: str) -> None:
        self.video.track_id = track_id
        self.video.host.state.select(tuple(a.id for a in self._shape_of(track_id)))
        self.panels.show_track()

    def toggle_keyframe(self) -> None:
        tid = self._need_track()
        if tid is not None:
            self.run(*edits.toggle_keyframe(self.video.index, tid, self.video.frame))

    def toggle_outside(self) -> None:
        tid = self._need_track()
        if tid is not None:
            self.run(*edits.toggle_outside(self.video.index, tid, self.video.frame))

    def toggle_occluded(self) -> None:
        targets = self.video.host.state.selected() or self._shape_of(self._need_track())
        if not targets:
            return
        commands, notes = [], []
        for a in targets:
            c, note = edits.toggle_occluded(self.video.index, a)
            commands.append(c)
            notes.append(note)
        self.run(commands[0] if len(commands) == 1 else Batch(tuple(commands),
                                                              label="Occluded"), notes[0])

    def propagate(self) -> None:
        v = self.video
        anns = v.host.state.selected() or self._shape_of(self.current_track())
        if not anns:
            v.host.message("Select the shape to propagate first.", 4000)
            return
        self.run(*edits.propagate(v.index, anns, v.frame, v.tracks.count.value(),
                                  v.tracks.as_keyframes))

    def merge_tracks(self) -> None:
        """Shift+M: merge the two tracks chosen - those of the selected shapes when they are
        of two tracks, else the two rows chosen in the track list (Ctrl+click) - into the one
        chosen first; where both have a shape, the one chosen later's is kept (CVAT)."""
        v = self.video
        ix = v.index
        if ix is None:
            return
        shapes = [ix.track_of(v.frame, i) for i in v.host.state.selection]
        tracks = [t for t in dict.fromkeys(shapes) if t]
        if len(tracks) < 2:
            tracks = [t for t in v.tracks.chosen if t in ix.fresh().tracks]
        if len(tracks) != 2:
            v.host.message("Choose two tracks to merge: click one in the track list and "
                           "Ctrl+click the other (or select their two shapes).", 5000)
            return
        keep, other = tracks
        try:
            command = whole.merge_tracks(v.host.doc, keep, other)
        except RefusedEdit as exc:
            self.run(None, str(exc))
            return
        n = len(ix.shapes(other))
        if self.run(command, f"Merged the tracks: {n} stored shape(s) moved onto the one "
                             "chosen first (Ctrl+Z undoes it)."):
            self.choose_track(keep)
            self.panels.refresh()

    def split_track(self) -> None:
        """Ctrl+Shift+M: the selected track is a new track from the frame shown on."""
        v = self.video
        tid = self._need_track()
        if tid is None:
            return
        try:
            command, new = whole.split_track(v.host.doc, tid, v.frame)
        except RefusedEdit as exc:
            self.run(None, str(exc))
            return
        if self.run(command, f"Split the track at frame {v.frame}: from here on it is a new "
                             "track (Ctrl+Z undoes it)."):
            self.choose_track(new.id)
            self.panels.refresh()

    def delete_track(self, track_id: str) -> None:
        if self.run(*edits.delete_track(self.video.index, track_id)):
            self.video.track_id = None
            self.video.host.state.set(selection=())

    # ------------------------------------------------------------------ events, report
    def make_event(self) -> None:
        v = self.video
        sel = v.timeline.bar.selection
        if sel is None:
            v.host.message("Select a frame range first: Shift+drag on the timeline.", 4000)
            return
        if self.run(*edits.frame_event(v.item.id, v.host.state.active_class(), *sel)):
            v.timeline.clear_range()

    def delete_event(self, annotation_id: str) -> None:
        a = self.video.host.doc.annotation(self.video.item.id, annotation_id)
        if a is not None:
            self.run(Remove((a,), label="Delete event"), "Event deleted.")

    def show_report(self) -> None:
        v = self.video
        if v.report is None:
            v.host.message(v.error or "The video is still opening.", 4000)
            return
        self.report_box = ReportDialog(v.report.text(), v.host.parent)
        self.report_box.show()
