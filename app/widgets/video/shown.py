"""What the video mode's parts see of the video shown: the one protocol that
:class:`~app.widgets.video.actions.TrackActions` and :class:`~app.widgets.video.sync.PanelSync`
are given (:class:`~app.widgets.video.presenter.VideoPresenter` is it). Only ``track_id`` is
theirs to set; the rest they read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from app.core.media import MediaItem
    from app.tools.track_edits import TrackEdits
    from app.tools.track_index import TrackIndex
    from app.widgets.presenters import ModeHost
    from app.widgets.video.timeline import TimelinePanel
    from app.widgets.video.track_list import TrackList


class VideoShown(Protocol):
    """The video shown, its frame, its selected track and its two panels."""

    host: ModeHost  # the window's services: state, doc, messages, a parent for dialogs
    item: MediaItem | None  # the video (None: none shown)
    index: TrackIndex | None  # its tracks and shapes
    edits: TrackEdits | None  # the tools' edits rewritten for tracks (their renamed shapes)
    frame: int  # the frame shown
    track_id: str | None  # the selected track
    report: Any  # the reader's report (None: still opening, or unreadable)
    error: str | None  # why the video cannot be read
    timeline: TimelinePanel
    tracks: TrackList
