"""The in-memory index of a document's annotations, loaded per media item on first use.

A project with millions of annotations opens in the time it takes to read its media list: the
annotations of one media item are read from the store the first time something asks for them,
then kept by id, by place and by (track, frame), so that showing one video frame or checking a
track's frame does not scan every annotation of the video. The index only mirrors the store: the
document writes the store first, then puts or pops the same annotations here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from app.core.annotations import Annotation, Track
from app.core.errors import RefusedEdit
from app.core.places import Place


class MediaAnnotations:
    """The loaded annotations of one media item, by id, by place and by (track, frame)."""

    def __init__(self, anns: Iterable[Annotation]) -> None:
        self.by_id: dict[str, Annotation] = {}
        self.by_place: dict[Place, dict[str, Annotation]] = {}
        self.by_track_frame: dict[tuple[str, int | None], str] = {}
        for a in anns:
            self.put(a)

    def put(self, a: Annotation) -> None:
        self.pop(a.id)
        self.by_id[a.id] = a
        self.by_place.setdefault(a.place, {})[a.id] = a
        if a.track_id is not None:
            self.by_track_frame[(a.track_id, a.frame)] = a.id

    def pop(self, annotation_id: str) -> None:
        old = self.by_id.pop(annotation_id, None)
        if old is None:
            return
        place = self.by_place[old.place]
        del place[annotation_id]
        if not place:
            del self.by_place[old.place]
        if old.track_id is not None:
            self.by_track_frame.pop((old.track_id, old.frame), None)


class AnnotationIndex:
    """The annotations of the media items asked about so far; ``load(media_id)`` reads one
    item's annotations from the store."""

    def __init__(self, load: Callable[[str], Iterable[Annotation]]) -> None:
        self._load = load
        self._media: dict[str, MediaAnnotations] = {}

    def of(self, media_id: str) -> MediaAnnotations:
        """The index of one media item, loading it on first use."""
        if media_id not in self._media:
            self._media[media_id] = MediaAnnotations(self._load(media_id))
        return self._media[media_id]

    def is_loaded(self, media_id: str) -> bool:
        return media_id in self._media

    def put(self, anns: Iterable[Annotation]) -> None:
        """Index stored annotations (replacing those with the same id on their media item)."""
        for a in anns:
            self.of(a.media_id).put(a)

    def discard(self, anns: Iterable[Annotation]) -> None:
        """Forget stored annotations that are gone from their media item (where loaded)."""
        for a in anns:
            if a.media_id in self._media:
                self._media[a.media_id].pop(a.id)

    def forget(self, media_id: str) -> None:
        """Drop a media item's index (it is read again on next use)."""
        self._media.pop(media_id, None)

    def clear(self) -> None:
        self._media.clear()

    # ---------------------------------------------------------------- queries
    def at(self, place: Place, all_frames: bool = False) -> list[Annotation]:
        """Annotations at ``place`` (``all_frames``: of its whole media item), in z order."""
        loaded = self.of(place.media_id)
        anns = loaded.by_id if all_frames else loaded.by_place.get(place, {})
        return sorted(anns.values(), key=lambda a: (a.z, a.created))

    def get(self, media_id: str, annotation_id: str) -> Annotation | None:
        return self.of(media_id).by_id.get(annotation_id)

    def places(self, media_id: str) -> list[Place]:
        """Places of a media item that carry annotations, sorted."""
        return sorted(self.of(media_id).by_place,
                      key=lambda p: (p.frame is None, p.frame or 0, p.axis or "", p.index or 0,
                                     p.more))

    def labelled_frames(self, media_id: str) -> list[int]:
        """Video frame indices that carry annotations, sorted."""
        return sorted({p.frame for p in self.of(media_id).by_place if p.frame is not None})

    def track_shapes(self, track: Track) -> list[Annotation]:
        """The stored shapes of a track, by frame."""
        anns = self.of(track.media_id).by_id.values()
        return sorted((a for a in anns if a.track_id == track.id), key=lambda a: a.frame or 0)

    def check_one_per_track_frame(self, media_id: str, group: list[Annotation]) -> None:
        """Refuse ``group`` (annotations to store on one media item) if it would give a track
        two shapes on one frame, among themselves or with those stored."""
        loaded = self.of(media_id)
        ids = {a.id for a in group}
        seen: dict[tuple[str, int | None], str] = {}
        for a in group:
            if a.track_id is None:
                continue
            key = (a.track_id, a.frame)
            if key in seen or ((other := loaded.by_track_frame.get(key)) is not None
                               and other != a.id and other not in ids):
                raise RefusedEdit(f"Track {a.track_id[:8]} already has a shape on frame "
                                  f"{a.frame}; a track has one shape per frame (edit that one).")
            seen[key] = a.id
