"""Video frames in a COCO export: the frames a track shows, and their pictures.

:func:`track_frames` gives the shapes a video's tracks show on the frames between and after
their stored shapes, through core's one :func:`~app.core.interpolate.shown_frames` (the same
frames and values the MOT export and the window show). :class:`FrameImages` writes the
exported frames as PNG beside the JSON (``--with-images``): decoded by the project's one
decoder (frame N = the N-th frame in presentation order, display orientation, RGB), staged in
a hidden folder and moved into place with the JSON only once every frame was written, never
over the project's files or media (:mod:`app.io.outputs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

from app.core.annotations import Annotation
from app.core.document import Document
from app.core.errors import VellumError
from app.core.interpolate import shown_frames
from app.core.media import MediaItem, MediaKind
from app.io.outputs import StagedOutput, inside, prepare_outputs

DENSE = 0.25  # decode sequentially when this share of a span of frames is wanted


def track_frames(doc: Document, item: MediaItem, anns: Iterable[Annotation]
                 ) -> list[Annotation]:
    """The shapes ``item``'s tracks show where nothing is stored (see the module doc), each
    with its frame's timestamp (s) and no foreign data (they are not the stored shapes)."""
    by_track: dict[str, list[Annotation]] = {}
    for a in anns:
        if a.track_id is not None and a.frame is not None:
            by_track.setdefault(a.track_id, []).append(a)
    if not by_track:
        return []
    times = doc.frame_times(item.id)
    seconds = times.seconds if times is not None else ()
    out: list[Annotation] = []
    for shapes in by_track.values():
        for got in shown_frames(shapes, item.frames, stored=False):
            f = got.frame
            out.append(replace(got, foreign={},
                               timestamp=seconds[f] if f < len(seconds) else None))
    return out


def with_track_attributes(doc: Document, anns: list[Annotation]) -> list[Annotation]:
    """Track shapes with their track's static attributes beside their per-frame ones (as
    CVAT writes tracks to COCO; the import puts the static ones back on the track)."""
    out = []
    for a in anns:
        track = doc.track(a.track_id) if a.track_id is not None else None
        out.append(replace(a, attributes={**track.attributes, **a.attributes})
                   if track is not None and track.attributes else a)
    return out


class FrameImages:
    """The pictures of an export's video frames (see the module doc), written with the JSON
    all or none: ``with FrameImages(doc, out) as frames:`` then :meth:`write` stages them,
    :meth:`path` is where to write the JSON meanwhile, and leaving the block moves everything
    into place (or, on an error, removes it all)."""

    def __init__(self, doc: Document, out: Path, *, overwrite: bool = False) -> None:
        self.doc, self.out, self.folder = doc, Path(out), Path(out).parent
        self.overwrite = overwrite
        self.stage: StagedOutput | None = None
        self.files: list[tuple[int, Path]] = []

    @property
    def count(self) -> int:
        return len(self.files)

    def __enter__(self) -> FrameImages:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.stage is not None:
            stage, self.stage = self.stage, None
            stage.__exit__(kind, exc, tb)

    def path(self, final: Path) -> Path:
        """Where to write ``final`` (the JSON) so that it lands together with the frames."""
        return self.stage.path(final) if self.stage is not None else final

    def write(self, images: list[dict[str, Any]], progress: Callable[..., None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> None:
        """Decode and stage every video frame listed in ``images`` (COCO image entries)."""
        wanted: dict[str, list[tuple[int, Path]]] = {}
        for im in images:
            media_id = (im.get("attributes") or {}).get("vellum_id")
            item = self.doc.stored_media(media_id) if isinstance(media_id, str) else None
            if item is None or item.kind is not MediaKind.VIDEO:
                continue  # a still image (an image sequence's frame is one too)
            rel = PurePosixPath(im["file_name"])
            if rel.is_absolute() or ".." in rel.parts:
                raise VellumError(f"Cannot write the frame {rel} beside the JSON: it is not "
                                  "a relative name.", self.folder)
            target = inside(self.folder, Path(*rel.parts))
            wanted.setdefault(media_id, []).append((int(im["frame_index"]), target))
        if not wanted:
            return
        prepare_outputs([t for frames in wanted.values() for _, t in frames],
                        overwrite=self.overwrite, doc=self.doc)
        total = sum(len(v) for v in wanted.values())
        self.stage = StagedOutput(self.folder, self.out).__enter__()
        for media_id, frames in wanted.items():
            self._video(self.doc.media_item(media_id), sorted(frames), total, progress,
                        cancelled)

    def _video(self, item: MediaItem, frames: list[tuple[int, Path]], total: int,
               progress: Callable[..., None] | None, cancelled: Callable[[], bool] | None
               ) -> None:
        import cv2

        from app.io.video import open_video

        path = self.doc.media_path(item)
        targets = dict(frames)
        with open_video(path) as video:
            bad = [f for f in targets if f >= video.frame_count]
            if bad:
                raise VellumError(f"Frame {bad[0]} of {path} cannot be decoded (the file has "
                                  f"{video.frame_count} readable frames); no frame images "
                                  "were written.", path)
            first, last = frames[0][0], frames[-1][0]
            if len(frames) >= DENSE * (last - first + 1):
                pictures = ((n, rgb) for n, rgb in video.frames(first, last + 1)
                            if n in targets)
            else:
                pictures = ((n, video.frame(n)) for n, _ in frames)
            for n, rgb in pictures:
                if cancelled and cancelled():
                    raise VellumError(f"Export to {self.folder} was cancelled; nothing was "
                                      "written.", self.folder)
                ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                if not ok:
                    raise VellumError(f"Cannot encode frame {n} of {path} as PNG.", path)
                self.stage.write_bytes(targets[n], buf.tobytes())
                self.files.append((n, targets[n]))
                if progress:
                    progress(len(self.files), total)
