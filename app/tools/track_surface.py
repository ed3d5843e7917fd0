"""The surface of a video frame: tracks shown and edited as CVAT does (Qt-free).

What is shown on a frame is every track's shape there, interpolated ones included
(:class:`~app.tools.track_index.TrackIndex`); every edit made on it goes through the video's
track rules (:class:`~app.tools.track_edits.TrackEdits`: an edited interpolated shape becomes a
keyframe, a track's static attributes go onto the track); a drawn box, polygon, polyline or
keypoints or mask becomes a new track with its first keyframe (``as_track``; a mask track
shows its latest keyframe's mask until the next one).
Frames are 0-based indices in presentation order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.core.annotations import Annotation
from app.core.commands import Command, Put
from app.core.places import Place
from app.core.shapes import Shape
from app.tools.surface import Surface
from app.tools.track_edits import TrackEdits, new_track
from app.tools.track_index import TRACKED_KINDS, TrackIndex

if TYPE_CHECKING:
    from app.core.document import Document
    from app.tools.state import EditorState


class TrackSurface(Surface):
    """A video's frames (item ``media_id`` of ``frames`` frames). ``on_note(text)`` shows a
    rule's note ("Frame 12 is a keyframe of this track now."); ``on_new_track(track_id)`` is
    called after a drawn shape started a track."""

    shows_stored = False

    def __init__(self, media_id: str, frames: int, index: TrackIndex, edits: TrackEdits,
                 on_note: Callable[[str], None] | None = None,
                 on_new_track: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.media_id, self.frames = media_id, frames
        self.index, self.edits = index, edits
        self.on_note, self.on_new_track = on_note, on_new_track
        self.as_track = True  # drawing makes tracks (False: single-frame shapes)

    def _mine(self, place: Place) -> bool:
        return place.media_id == self.media_id and place.frame is not None and \
            place.frame < self.frames

    def shown(self, doc: Document, place: Place) -> list[Annotation]:
        return self.index.shown(place.frame) if self._mine(place) else doc.annotations(place)

    def rewrite(self, command: Command) -> Command | None:
        out = self.edits.rewrite(command)
        if self.edits.note and self.on_note is not None:
            self.on_note(self.edits.note)
        return out

    def add_drawn(self, state: EditorState, shape: Shape, label: str, place: Place,
                  fields: dict[str, Any]) -> Annotation | None:
        """A new track with its first keyframe at ``place`` (a single-frame shape when
        ``as_track`` is off, for tags and events, or off this video's frames)."""
        if not self._mine(place) or not self.as_track or shape.kind not in TRACKED_KINDS:
            ann = state.new_annotation(shape, place=place, surface=self, **fields)
            return ann if state.execute(Put((ann,), label=label), self, rewrite=False) \
                else None
        z = max((a.z for a in self.index.shown(place.frame)), default=-1) + 1
        track, ann = new_track(state.doc.schema, state.active_class(), shape, place, z,
                               dict(fields))
        if not state.execute(Put((track, ann), label=f"{label} (new track)"), self,
                             rewrite=False):
            return None
        if self.on_new_track is not None:
            self.on_new_track(track.id)
        return ann
