"""What a video's tracks show on each frame, as the window draws and edits them (Qt-free;
the video mode in :mod:`app.widgets.video` is its Qt glue).

Frame indices are 0-based, presentation order. On frame N the canvas shows the stored
per-frame shapes of N and, for every track, its shape there through core's one
:func:`~app.core.interpolate.interpolate` (a keyframe, a tracker's shape, or an interpolated
shape with the id ``"<track id>@<N>"``, never stored). A track shape is shown with the track's
static attributes beside its own per-frame ones, so the attribute editor edits both; the edit
rewrite (:mod:`app.tools.track_edits`) puts the static ones back on the track.

:class:`TrackIndex` groups a video's stored track shapes by track once (one pass over its
annotations) and is rebuilt when the project changed: the audit trail's last sequence number
is the key, which moves inside every command's transaction, before any view hears of it.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Any

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.document import Document
from app.core.interpolate import interpolate, visible_runs
from app.core.places import Place

TRACKED_KINDS = ("box", "rotated_box", "polygon", "polyline", "keypoints", "mask")  # masks: held


def interpolated_id(track_id: str, frame: int) -> str:
    """The id :func:`interpolate` gives a track's computed shape on ``frame``."""
    return f"{track_id}@{frame}"


def project_version(doc: Document) -> Any:
    """A value that changes with every command run on ``doc`` (its last audit entry)."""
    last = doc.store.history(1)
    return (last[0]["seq"] if last else 0, id(doc))


class TrackIndex:
    """The stored shapes of every track of one video, by frame (see the module doc)."""

    def __init__(self, doc: Document, media_id: str, frame_count: int) -> None:
        self.doc, self.media_id, self.frame_count = doc, media_id, int(frame_count)
        self.version: Any = None
        self.tracks: dict[str, Track] = {}
        self._shapes: dict[str, list[Annotation]] = {}
        self._frames: dict[str, list[int]] = {}
        self._shown: dict[int, list[Annotation]] = {}
        self._density: np.ndarray | None = None
        self.fresh()

    # ------------------------------------------------------------------ keeping up
    def fresh(self) -> TrackIndex:
        """Rebuild when the project changed since the last look; returns self."""
        version = project_version(self.doc)
        if version != self.version:
            self.version = version
            self._rebuild()
        return self

    def _rebuild(self) -> None:
        self.tracks = {t.id: t for t in self.doc.tracks(self.media_id)}
        shapes: dict[str, list[Annotation]] = {t: [] for t in self.tracks}
        for a in self.doc.annotations(self.media_id, all_frames=True):
            if a.track_id is not None and a.frame is not None:
                shapes.setdefault(a.track_id, []).append(a)
        for v in shapes.values():
            v.sort(key=lambda a: a.frame)
        self._shapes = shapes
        self._frames = {t: [a.frame for a in v] for t, v in shapes.items()}
        self._shown.clear()
        self._density = None

    # ------------------------------------------------------------------ one track
    def track_list(self) -> list[Track]:
        """Tracks in the order they were made."""
        return list(self.fresh().tracks.values())

    def shapes(self, track_id: str) -> list[Annotation]:
        """The track's stored shapes (keyframes, tracker shapes, outside markers) by frame."""
        return list(self.fresh()._shapes.get(track_id, ()))

    def stored_at(self, track_id: str, frame: int) -> Annotation | None:
        frames = self.fresh()._frames.get(track_id, [])
        i = bisect.bisect_left(frames, frame)
        return self._shapes[track_id][i] if i < len(frames) and frames[i] == frame else None

    def at(self, track_id: str, frame: int) -> Annotation | None:
        """The track's shape on ``frame`` (None where it is not in view), through
        :func:`interpolate` given the two stored shapes around the frame (all it reads)."""
        frames = self.fresh()._frames.get(track_id, [])
        i = bisect.bisect_right(frames, frame)
        return interpolate(self._shapes[track_id][max(i - 1, 0):i + 1], frame) if frames \
            else None

    def before(self, track_id: str, frame: int) -> Annotation | None:
        """The last stored shape at or before ``frame``."""
        frames = self.fresh()._frames.get(track_id, [])
        i = bisect.bisect_right(frames, frame)
        return self._shapes[track_id][i - 1] if i else None

    def span(self, track_id: str) -> tuple[int, int] | None:
        """First and last frame the track is in view (None: never)."""
        shapes = self.fresh()._shapes.get(track_id, [])
        if not shapes:
            return None
        first = next((a.frame for a in shapes if not a.outside), None)
        if first is None:
            return None
        last = self.frame_count - 1
        if shapes[-1].outside:
            last = shapes[-1].frame - 1
        return (first, max(first, last))

    def visible_runs(self, track_id: str) -> list[tuple[int, int]]:
        """Frame ranges (inclusive) in which the track is in view."""
        return visible_runs(self.fresh()._shapes.get(track_id, []), self.frame_count)

    def keyframes(self, track_id: str) -> list[Annotation]:
        """The track's keyframes (person-set stored shapes, outside markers included)."""
        return [a for a in self.shapes(track_id) if a.keyframe]

    # ------------------------------------------------------------------ one frame
    def shown(self, frame: int) -> list[Annotation]:
        """What the canvas shows on ``frame``, in z order (see the module doc)."""
        self.fresh()
        hit = self._shown.get(frame)
        if hit is not None:
            return hit
        out = [a for a in self.doc.annotations(Place(self.media_id, frame))
               if a.track_id is None]
        for tid, track in self.tracks.items():
            a = self.at(tid, frame)
            if a is None:
                continue
            if track.attributes:
                a = replace(a, attributes={**track.attributes, **a.attributes})  # frame wins
            out.append(a)
        out.sort(key=lambda a: (a.z, a.created))
        if len(self._shown) > 64:
            self._shown.clear()
        self._shown[frame] = out
        return out

    def shown_by_id(self, frame: int, annotation_id: str) -> Annotation | None:
        return next((a for a in self.shown(frame) if a.id == annotation_id), None)

    def track_of(self, frame: int, annotation_id: str) -> str | None:
        a = self.shown_by_id(frame, annotation_id)
        if a is not None:
            return a.track_id
        stored = self.doc.annotation(self.media_id, annotation_id)
        return stored.track_id if stored is not None else None

    def density(self) -> np.ndarray:
        """Objects shown per frame (stored per-frame shapes plus tracks in view), int32."""
        self.fresh()
        if self._density is None:
            n = self.frame_count
            diff = np.zeros(n + 1, np.int64)
            for p in self.doc.places(self.media_id):
                if p.frame is not None and p.frame < n:
                    k = sum(1 for a in self.doc.annotations(p) if a.track_id is None)
                    diff[p.frame] += k
                    diff[p.frame + 1] -= k
            for tid in self.tracks:
                for a, b in self.visible_runs(tid):
                    diff[min(a, n)] += 1
                    diff[min(b + 1, n)] -= 1
            self._density = np.cumsum(diff[:n]).astype(np.int32)
        return self._density
