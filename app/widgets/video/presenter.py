"""The video mode: a video frame on the window's canvas, with the same tools as images, a
timeline and a track list at the bottom.

Frame N (0-based, presentation order) is decoded by the project's one decoder
(:func:`app.io.video.open_video`, one reader kept open while the video is shown) off the UI
thread; ``state.place`` becomes ``Place(video, frame=N)`` together with its picture, so the
annotations drawn are always those of the frame shown. Drawing makes a track (or a
single-frame shape when chosen); the canvas shows each track's shape through core's one
interpolation (:mod:`app.tools.track_index`); the tools' edits are rewritten for tracks
(:mod:`app.tools.track_edits`). Keys: :mod:`app.widgets.video.keys`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QSplitter, QWidget

from app.core.commands import Command, Put
from app.core.errors import VellumError
from app.core.media import MediaItem
from app.core.places import Place
from app.io.planes import RGBSource
from app.tools import track_edits as edits
from app.tools.track_index import TRACKED_KINDS, TrackIndex
from app.widgets.video.actions import TrackActions
from app.widgets.video.sync import PanelSync
from app.widgets.video.frames import FrameFeed, Playback
from app.widgets.video.keys import KEYS, SpaceTap
from app.widgets.video.report_text import report_summary
from app.widgets.video.timeline import TimelinePanel
from app.widgets.video.track_list import TrackList


PANEL_HEIGHT = 180  # px of the timeline dock (the canvas keeps the rest)


def _open_video(path: Path) -> Any:
    from app.io.video import open_video

    return open_video(path)


class VideoPresenter(TrackActions, PanelSync):
    """Shows videos (see the module doc). ``open_video(path)`` opens a reader; tests replace
    it (a slow decoder)."""

    open_video: Callable[[Path], Any] = staticmethod(_open_video)

    def __init__(self, host: Any) -> None:
        self.host = host
        self.item: MediaItem | None = None
        self.reader: Any = None
        self.index: TrackIndex | None = None
        self.edits: edits.TrackEdits | None = None
        self.frame = 0  # the frame whose picture (or message) is shown
        self.readable = 0
        self.times = np.zeros(1)
        self.track_id: str | None = None  # the selected track
        self.as_track = True
        self.report: Any = None
        self.error: str | None = None
        self._token = 0
        self._mounted = False
        self._remove: list[Callable[[], Any]] = []
        self._resumed = False
        self._report_box: QDialog | None = None
        self.feed = FrameFeed(host.jobs, self._frame_shown, self._frame_failed)
        self.panel: QWidget | None = None

    # ------------------------------------------------------------------ Presenter
    def show(self, item: MediaItem) -> None:
        doc, state = self.host.doc, self.host.state
        self._mount()
        if self.item is not None and self.item.id == item.id and self.reader is not None:
            self.item = item
            state.set(place=Place(item.id, frame=self.frame))
            self._go(self.frame)
            self.refresh()
            return
        self.playback.stop()
        self._close_reader()
        self.item, self.error, self.report, self.track_id = item, None, None, None
        self.index = TrackIndex(doc, item.id, item.frames)
        self.edits = edits.TrackEdits(self.index, lambda: self.host.doc.schema)
        times = doc.frame_times(item.id)
        fps = item.video.avg_fps if item.video and item.video.avg_fps else 25.0
        self._set_times(np.asarray(times.seconds, np.float64) if times is not None
                        else np.arange(item.frames) / fps)
        self.frame = self._start_frame(item)
        self.readable = 0
        state.picture = None
        state.set(place=Place(item.id, frame=self.frame), selection=(),
                  refusal=f"The video {item.name} is opening.")
        self.host.canvas.show_error(f"Opening the video {item.name}…")
        self.timeline.info.setText("")
        self.timeline.set_current(self.frame)
        self.refresh()
        path = doc.media_path(item)
        if not path.exists():
            self._open_failed(self._token, VellumError(
                f"The video file {path} is missing; relink it (vellum relink) or put it "
                "back.", path))
            return
        self._token += 1
        token = self._token
        self.host.jobs.start(f"Opening {item.name}", lambda job: self.open_video(path),
                             on_done=lambda r: self._opened(token, r),
                             on_error=lambda exc: self._open_failed(token, exc))

    def leave(self) -> None:
        if not self._mounted:
            return
        self.playback.stop()
        self._close_reader()
        state = self.host.state
        for name, mine in (("drawn_hook", self._drawn), ("shown", self._shown_at),
                           ("edit_hook", self._rewrite)):
            if getattr(state, name) == mine:
                setattr(state, name, None)
        state.picture = None
        for remove in reversed(self._remove):
            remove()
        self._remove.clear()
        self.host.canvas.removeEventFilter(self._space)
        self.host.remove_dock(self._dock)
        self.panel = None
        self._mounted = False
        self.item = self.index = self.edits = None

    def step(self, delta: int) -> bool:
        """F / D: the next / previous frame (never another item)."""
        if self.item is None:
            return False
        self.playback.stop()
        base = self.feed.want if self.feed.want is not None else self.frame
        n = min(max(base + delta, 0), self.item.frames - 1)
        if n == base:
            self.host.message("That is the last frame." if delta > 0 else
                              "That is the first frame.", 2000)
            return True
        self._go(n)
        return True

    # ------------------------------------------------------------------ setting up
    def _mount(self) -> None:
        if self._mounted:
            return
        self._mounted = True
        host, state = self.host, self.host.state
        self.panel = QSplitter(Qt.Orientation.Horizontal)
        self.timeline = TimelinePanel()
        self.tracks = TrackList()
        self.panel.addWidget(self.timeline)
        self.panel.addWidget(self.tracks)
        self.panel.setStretchFactor(0, 3)
        self.panel.setStretchFactor(1, 1)
        self.panel.setSizes([900, 380])
        self.panel.setMaximumHeight(PANEL_HEIGHT)
        self._dock = host.add_dock("Timeline", self.panel)
        self.playback = Playback(lambda: self.frame, self._go, lambda: self.feed.busy,
                                 self._playing_changed, self.panel)
        self._space = SpaceTap(self.toggle_play, self._canvas_pressed, self.panel)
        host.canvas.installEventFilter(self._space)
        t = self.timeline
        t.step_by.connect(self.step)
        t.play_toggled.connect(self.toggle_play)
        t.jump_to.connect(self.jump)
        t.make_event.connect(self.make_event)
        t.show_report.connect(self.show_report)
        t.bar.frame_picked.connect(self.jump)
        t.bar.delete_event.connect(self.delete_event)
        tl = self.tracks
        tl.track_chosen.connect(self.choose_track)
        tl.frame_chosen.connect(self.jump)
        tl.delete_track.connect(self.delete_track)
        tl.keyframe.connect(self.toggle_keyframe)
        tl.outside.connect(self.toggle_outside)
        tl.occluded.connect(self.toggle_occluded)
        tl.propagate.connect(self.propagate)
        tl.as_track.setChecked(self.as_track)
        tl.as_track_changed.connect(self._set_as_track)
        for key, what, method in KEYS:
            try:
                self._remove.append(host.on_key(key, getattr(self, method), what))
            except ValueError:  # the window took this key since: the button still works
                host.message(f"The key {key} ({what.lower()}) is taken by the window.", 6000)
        state.drawn_hook, state.shown, state.edit_hook = self._drawn, self._shown_at, \
            self._rewrite
        self._remove.append(state.subscribe(self._on_state))
        self._remove.append(host.doc.subscribe(self._on_changes))

    def _start_frame(self, item: MediaItem) -> int:
        """Where the user left this video last time the project was closed (once)."""
        if self._resumed:
            return 0
        self._resumed = True
        place = self.host.doc.view_state().get("place") or {}
        frame = place.get("frame") if place.get("media_id") == item.id else None
        return min(max(int(frame), 0), item.frames - 1) if isinstance(frame, int) else 0

    def _set_times(self, times: np.ndarray) -> None:
        n = self.item.frames
        if len(times) < n:
            step = float(np.median(np.diff(times))) if len(times) > 1 else 1 / 25
            start = times[-1] + step if len(times) else 0.0
            times = np.concatenate([times, start + step * np.arange(n - len(times))])
        self.times = times[:n]
        self.timeline.set_video(n, self.times)
        self.playback.set_video(self.times, n - 1)

    def _opened(self, token: int, reader: Any) -> None:
        if token != self._token or self.item is None:
            self.host.jobs.start("Closing a video", lambda job: reader.close(), visible=False)
            return
        self.reader = reader
        item = self.item
        self.readable = min(int(reader.frame_count), item.frames)
        self.timeline.bar.readable = self.readable
        if self.host.doc.frame_times(item.id) is None:
            self._set_times(np.asarray(reader.timestamps, np.float64))
        self.report = reader.report
        text, warn = report_summary(self.report, item.frames)
        self.timeline.info.setText(text)
        self.timeline.info.setToolTip(self.report.text())
        self.timeline.info.setStyleSheet("color: #f0a030;" if warn else "")
        if warn:
            self.host.message(f"{item.name}: {warn}", 10000)
        self.feed.attach(reader)
        self._go(self.frame)

    def _open_failed(self, token: int, exc: Exception) -> None:
        if token != self._token or self.item is None:
            return
        message = str(exc) if isinstance(exc, VellumError) else (
            f"The video {self.item.name} cannot be opened ({exc}).")
        self.error = message
        self.timeline.info.setText("⚠ cannot be read")
        self.timeline.info.setToolTip(message)
        self.host.state.set(refusal=message)
        self.host.canvas.show_error(message + "\n\nIts labels are kept in the project; press "
                                    "PgDown for the next item.")

    def _close_reader(self) -> None:
        self.feed.attach(None)
        reader, self.reader = self.reader, None
        self._token += 1
        if reader is not None:
            self.host.jobs.start("Closing a video", lambda job: reader.close(), visible=False)

    # ------------------------------------------------------------------ frames
    def _go(self, n: int) -> None:
        if self.item is None:
            return
        n = min(max(int(n), 0), self.item.frames - 1)
        if self.reader is None:
            if self.error is None:  # still opening: remember where to start
                self.frame = n
                self.timeline.set_current(n)
            return
        if n >= self.readable:
            self.feed.settle()
            self._frame_failed(n, VellumError(
                f"Frame {n} lies past the readable end of {self.item.name} (frames 0-"
                f"{self.readable - 1} can be decoded): the file is shorter or damaged.",
                self.reader.path))
            return
        self.feed.request(n)
        self.timeline.set_current(self.frame, n)

    def jump(self, n: int) -> None:
        self.playback.stop()
        self._go(n)

    def _frame_shown(self, n: int, rgb: np.ndarray, pyramid: Any) -> None:
        if self.item is None:
            return
        place = Place(self.item.id, frame=n)
        source = RGBSource(place, rgb)
        selection = self._selection_on(n)
        self.frame = n
        state = self.host.state
        state.picture = lambda p, s=source: s if p == s.place else None
        self.host.canvas.show_source(source, pyramid)
        state.set(place=place, selection=selection, refusal="")
        self.host.picture_shown()
        self.timeline.set_current(n, self.feed.want)
        self.playback.note_shown(n)
        self._show_track()

    def _frame_failed(self, n: int, exc: Exception) -> None:
        if self.item is None:
            return
        message = str(exc) if isinstance(exc, VellumError) else (
            f"Frame {n} of {self.item.name} cannot be decoded ({exc}).")
        self.frame = n
        state = self.host.state
        state.picture = None
        self.host.canvas.show_error(message + "\n\nIts labels are kept; the readable frames "
                                    "can be labelled as usual.")
        state.set(place=Place(self.item.id, frame=n), selection=(), refusal=message)
        self.timeline.set_current(n, self.feed.want)
        self.playback.stop()

    def _selection_on(self, n: int) -> tuple[str, ...]:
        """The selected tracks' shapes on frame ``n`` (a track stays selected while
        stepping); shapes of one frame only are left behind."""
        ix, state = self.index, self.host.state
        if ix is None or state.frame is None:
            return ()
        out = []
        for tid in dict.fromkeys(ix.track_of(state.frame, i) for i in state.selection):
            a = ix.at(tid, n) if tid else None
            if a is not None:
                out.append(a.id)
        return tuple(out)

    # ------------------------------------------------------------------ playing
    def toggle_play(self) -> None:
        if self.reader is not None:
            self.playback.toggle()

    def _playing_changed(self, playing: bool) -> None:
        self.feed.streaming = playing
        if not playing:
            self.feed.settle()
        self.timeline.set_playing(playing)

    def _canvas_pressed(self) -> None:
        self.playback.stop()  # drawing or panning while playing: stop where it is

    def forward_10(self) -> None:
        self.step(10)

    def back_10(self) -> None:
        self.step(-10)

    def focus_jump(self) -> None:
        self.timeline.jump.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.timeline.jump.selectAll()

    # ------------------------------------------------------------------ state hooks
    def _shown_at(self, place: Place) -> list:
        ix = self.index
        if ix is not None and self.item is not None and place.media_id == self.item.id and \
                place.frame is not None and place.frame < self.item.frames:
            return ix.shown(place.frame)
        return self.host.doc.annotations(place) if self.host.doc is not None else []

    def _rewrite(self, command: Command) -> Command | None:
        out = self.edits.rewrite(command) if self.edits is not None else command
        if self.edits is not None and self.edits.note:
            self.host.message(self.edits.note, 4000)
        return out

    def _run(self, command: Command | None, note: str = "") -> bool:
        """Run a command of the mode itself (already in track terms: no rewrite)."""
        state = self.host.state
        if command is None:
            if note:
                self.host.message(note, 5000)
            return False
        hook, state.edit_hook = state.edit_hook, None
        try:
            done = state.execute(command)
        finally:
            state.edit_hook = hook
        if done and note:
            self.host.message(note, 4000)
        return done

    def _drawn(self, state: Any, shape: Any, label: str, place: Place | None,
               fields: dict[str, Any]) -> Any:
        place = place or state.place
        if place is None or place.frame is None or not self.as_track or \
                shape.kind not in TRACKED_KINDS or self.index is None:
            ann = state.new_annotation(shape, place=place, **fields)
            return ann if self._run(Put((ann,), label=label)) else None
        z = max((a.z for a in self.index.shown(place.frame)), default=-1) + 1
        track, ann = edits.new_track(state.doc.schema, state.active_class(), shape, place, z,
                                     dict(fields))
        if self._run(Put((track, ann), label=f"{label} (new track)")):
            self.track_id = track.id
            self.refresh()
            return ann
        return None

    def _set_as_track(self, on: bool) -> None:
        self.as_track = bool(on)
        self.host.message("Drawing makes tracks." if on else
                          "Drawing makes single-frame shapes.", 3000)

    def toggle_as_track(self) -> None:
        self.tracks.as_track.setChecked(not self.as_track)
