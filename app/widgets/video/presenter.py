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
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QSplitter, QWidget

from app.core.commands import Command
from app.core.errors import VellumError
from app.core.interpolate import visibility_changes
from app.core.media import MediaItem
from app.core.places import Place
from app.io.planes import RGBSource
from app.tools import track_edits as edits
from app.tools.track_index import TrackIndex
from app.tools.track_surface import TrackSurface
from app.widgets.video.actions import TrackActions
from app.widgets.video.frames import FrameFeed, Playback
from app.widgets.video.keys import KEYS, SpaceTap
from app.widgets.video.prepare import ProxyPrep
from app.widgets.video.report_text import report_summary
from app.widgets.video.sync import PanelSync
from app.widgets.video.timeline import TimelinePanel
from app.widgets.video.track_list import TrackList

if TYPE_CHECKING:
    from app.widgets.presenters import ModeHost


PANEL_HEIGHT = 180  # px of the timeline dock (the canvas keeps the rest)


def _open_video(path: Path) -> Any:
    from app.io.video import open_video

    return open_video(path)


class VideoPresenter:
    """Shows videos (see the module doc). ``open_video(path)`` opens a reader; tests replace
    it (a slow decoder). Its parts see it as a :class:`~app.widgets.video.shown.VideoShown`:
    ``sync`` keeps the panels in step with the project, ``actions`` does what the track and
    event keys and buttons say."""

    open_video: Callable[[Path], Any] = staticmethod(_open_video)
    # made by _mount each time the mode comes up
    timeline: TimelinePanel
    tracks: TrackList
    playback: Playback
    _dock: QDockWidget
    _space: SpaceTap

    def __init__(self, host: ModeHost) -> None:
        self.host = host
        self.item: MediaItem | None = None
        self.reader: Any = None
        self.index: TrackIndex | None = None
        self.edits: edits.TrackEdits | None = None
        self.surface: TrackSurface | None = None  # what tools see of the frame shown
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
        self.feed = FrameFeed(host.jobs, self._frame_shown, self._frame_failed)
        self.prep = ProxyPrep(host.jobs, self.feed.set_proxy,
                              lambda text: self.host.message(text, 8000), host.canvas)
        self.panel: QWidget | None = None
        self.sync = PanelSync(self)
        self.actions = TrackActions(self, self.sync, self._run)

    # ------------------------------------------------------------------ Presenter
    def show(self, item: MediaItem) -> None:
        doc, state = self.host.doc, self.host.state
        self._mount()
        if self.item is not None and self.item.id == item.id and self.reader is not None:
            self.item = item
            state.set(place=Place(item.id, frame=self.frame))
            self._go(self.frame)
            self.sync.refresh()
            return
        self.playback.stop()
        self._close_reader()
        self.item, self.error, self.report, self.track_id = item, None, None, None
        self.index = TrackIndex(doc, item.id, item.frames)
        self.edits = edits.TrackEdits(self.index, lambda: self.host.doc.schema)
        self._install_surface(TrackSurface(item.id, item.frames, self.index, self.edits,
                                           lambda note: self.host.message(note, 4000),
                                           self._new_track))
        times = doc.frame_times(item.id)
        fps = item.video.avg_fps if item.video and item.video.avg_fps else 25.0
        self._set_times(np.asarray(times.seconds, np.float64) if times is not None
                        else np.arange(item.frames) / fps)
        self.frame = self._start_frame(item)
        self.readable = 0
        state.set(place=Place(item.id, frame=self.frame), selection=(),
                  refusal=f"The video {item.name} is opening.")
        self.host.canvas.show_error(f"Opening the video {item.name}…")
        self.timeline.info.setText("")
        self.timeline.set_current(self.frame)
        self.sync.refresh()
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
        if state.surface is self.surface:
            state.set(surface=None)  # the window's plain surface again
        self.surface = None
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
        self.tracks.as_track.setChecked(self.as_track)
        self._connect_panels()
        for key, what, method in KEYS:
            try:
                self._remove.append(host.on_key(key, attrgetter(method)(self), what))
            except ValueError:  # the window took this key since: the button still works
                host.message(f"The key {key} ({what.lower()}) is taken by the window.", 6000)
        if self.surface is not None:
            state.set(surface=self.surface)
        self._remove.append(state.subscribe(self.sync.on_state))
        self._remove.append(host.doc.subscribe(self.sync.on_changes))

    def _connect_panels(self) -> None:
        """The timeline's and the track list's buttons and clicks to what they do."""
        t, bar, tl, act = self.timeline, self.timeline.bar, self.tracks, self.actions
        for signal, slot in (
                (t.step_by, self.step), (t.play_toggled, self.toggle_play),
                (t.jump_to, self.jump), (bar.frame_picked, self.jump),
                (bar.scrubbing, self.feed.set_scrubbing),
                (t.speed_changed, self.playback.set_speed),
                (tl.frame_chosen, self.jump), (tl.as_track_changed, self._set_as_track),
                (t.make_event, act.make_event), (bar.delete_event, act.delete_event),
                (t.show_report, act.show_report), (tl.track_chosen, act.choose_track),
                (tl.delete_track, act.delete_track), (tl.keyframe, act.toggle_keyframe),
                (tl.outside, act.toggle_outside), (tl.occluded, act.toggle_occluded),
                (tl.propagate, act.propagate), (tl.merge, act.merge_tracks),
                (tl.split, act.split_track), (t.keyframe_step, self._to_keyframe),
                (t.outside_step, self._to_outside_change)):
            signal.connect(slot)

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
        self.prep.show(reader, item.name)

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
        self.prep.leave()
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

    def _frame_shown(self, n: int, rgb: np.ndarray, pyramid: Any, exact: bool = True) -> None:
        """Frame ``n`` decoded: its exact picture becomes the surface's picture; a proxy
        preview (``exact=False``) is only shown (tools wait for the exact one)."""
        if self.item is None:
            return
        place = Place(self.item.id, frame=n)
        selection = self._selection_on(n)
        self.frame = n
        state = self.host.state
        if exact:
            self.host.canvas.show_source(RGBSource(place, rgb), pyramid)  # the surface's
        else:
            self.host.canvas.show_image(pyramid)
        state.set(place=place, selection=selection, refusal="")
        self.host.picture_shown()
        self.timeline.set_current(n, self.feed.want)
        self.playback.note_shown(n)
        self.sync.show_track()

    def _frame_failed(self, n: int, exc: Exception) -> None:
        if self.item is None:
            return
        message = str(exc) if isinstance(exc, VellumError) else (
            f"Frame {n} of {self.item.name} cannot be decoded ({exc}).")
        self.frame = n
        state = self.host.state
        state.surface.source = None
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
        """Shift+F: the timeline's step on (10 unless the user changed it)."""
        self.step(self.timeline.step.value())

    def next_keyframe(self) -> None:
        self._to_keyframe(1)

    def previous_keyframe(self) -> None:
        self._to_keyframe(-1)

    def _to_keyframe(self, direction: int) -> None:
        """Jump to the next (``direction`` 1) or previous (-1) keyframe of the selected track,
        or of any track when none is selected (CVAT's keyframe navigation)."""
        self._jump_among(direction, lambda ix, t: (a.frame for a in ix.keyframes(t)),
                         lambda whose, where: f"No keyframe of {whose} {where} frame "
                                              f"{self.frame}.")

    def next_outside_change(self) -> None:
        self._to_outside_change(1)

    def previous_outside_change(self) -> None:
        self._to_outside_change(-1)

    def _to_outside_change(self, direction: int) -> None:
        """Jump to the next (``direction`` 1) or previous (-1) frame where the selected
        track enters or leaves the view (any track's when none is selected)."""
        self._jump_among(direction,
                         lambda ix, t: visibility_changes(ix.shapes(t), ix.frame_count),
                         lambda whose, where: f"No frame {where} frame {self.frame} where "
                                              f"{whose} enters or leaves the view.")

    def _jump_among(self, direction: int, frames_of: Callable[[TrackIndex, str], Any],
                    none: Callable[[str, str], str]) -> None:
        """Jump to the nearest of the frames ``frames_of(index, track id)`` gives for the
        selected track (every track when none is) after (``direction`` 1) or before (-1) the
        frame shown; ``none(whose, "after"|"before")`` says there is none."""
        ix = self.index
        if ix is None or self.item is None:
            return
        chosen = self.actions.current_track()
        tracks = [chosen] if chosen else [t.id for t in ix.track_list()]
        frames = sorted({f for t in tracks for f in frames_of(ix, t) if f is not None})
        ahead = [f for f in frames if (f > self.frame if direction > 0 else f < self.frame)]
        if not ahead:
            self.host.message(none("this track" if chosen else "any track",
                                   "after" if direction > 0 else "before"), 3000)
            return
        self.jump(ahead[0] if direction > 0 else ahead[-1])

    def back_10(self) -> None:
        self.step(-self.timeline.step.value())

    def focus_jump(self) -> None:
        self.timeline.jump.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.timeline.jump.selectAll()

    # ------------------------------------------------------------------ the frame surface
    def _install_surface(self, surface: TrackSurface) -> None:
        """Tools on the canvas see this video's frames through ``surface`` from now on."""
        state = self.host.state
        old, self.surface = self.surface, surface
        surface.as_track = self.as_track
        if self._mounted and (state.surface is old or old is None):
            state.set(surface=surface)

    def _new_track(self, track_id: str) -> None:
        """A drawn shape started track ``track_id``: it becomes the selected track."""
        self.track_id = track_id
        self.sync.refresh()

    def _run(self, command: Command | None, note: str = "") -> bool:
        """Run a command of the mode itself (already in track terms: no rewrite); the
        ``run`` of :attr:`actions`."""
        if command is None:
            if note:
                self.host.message(note, 5000)
            return False
        done = self.host.state.execute(command, self.surface, rewrite=False)
        if done and note:
            self.host.message(note, 4000)
        return done

    def _set_as_track(self, on: bool) -> None:
        self.as_track = bool(on)
        if self.surface is not None:
            self.surface.as_track = self.as_track
        self.host.message("Drawing makes tracks." if on else
                          "Drawing makes single-frame shapes.", 3000)

    def toggle_as_track(self) -> None:
        self.tracks.as_track.setChecked(not self.as_track)
