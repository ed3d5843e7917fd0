"""Video frames in a COCO export: the frames a track shows, and their pictures.

:func:`track_frames` gives the shapes a video's tracks show on the frames between and after
their stored shapes, through core's one :func:`~app.core.interpolate.interpolate` (the same
frames and values the MOT export and the window show). :class:`FrameImages` writes the
exported frames as PNG beside the JSON (``--with-images``): decoded by the project's one
decoder (frame N = the N-th frame in presentation order, display orientation, RGB), staged in
a hidden folder and moved into place only once every frame was written, never over the
project's files or media.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from app.core.annotations import Annotation
from app.core.document import Document
from app.core.errors import VellumError
from app.core.interpolate import interpolate
from app.core.media import MediaItem, MediaKind
from app.io.atomic import refuse_overwrite

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
        shapes.sort(key=lambda a: a.frame)
        for i, a in enumerate(shapes):
            if a.outside:
                continue
            window = shapes[i:i + 2]  # all interpolate reads for the frames up to the next
            stop = window[1].frame if len(window) > 1 else item.frames
            for f in range(a.frame + 1, stop):
                got = interpolate(window, f)
                if got is None:
                    break
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
    """The pictures of an export's video frames (see the module doc): :meth:`write` stages
    them, :meth:`commit` moves them beside ``out``, :meth:`discard` removes them."""

    def __init__(self, doc: Document, out: Path,
                 protected: list[tuple[Path, str]]) -> None:
        self.doc, self.folder, self.protected = doc, Path(out).parent, protected
        self.stage: Path | None = None
        self.files: list[tuple[Path, Path]] = []

    @property
    def count(self) -> int:
        return len(self.files)

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
            target = self.folder / Path(*rel.parts)
            refuse_overwrite(target, self.protected)
            wanted.setdefault(media_id, []).append((int(im["frame_index"]), target))
        if not wanted:
            return
        total = sum(len(v) for v in wanted.values())
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.stage = Path(tempfile.mkdtemp(prefix=".vellum-frames-", dir=self.folder))
        except OSError as exc:
            raise VellumError(f"Cannot write frames into {self.folder} ({exc.strerror}).",
                              self.folder) from exc
        try:
            for media_id, frames in wanted.items():
                self._video(self.doc.media_item(media_id), sorted(frames), total, progress,
                            cancelled)
        except BaseException:
            self.discard()
            raise

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
                staged = self.stage / f"{len(self.files):08d}.png"
                staged.write_bytes(buf.tobytes())
                self.files.append((staged, targets[n]))
                if progress:
                    progress(len(self.files), total)

    def commit(self) -> None:
        """Move every staged frame into place (each rename is atomic)."""
        try:
            for staged, target in self.files:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
        except OSError as exc:
            raise VellumError(f"Cannot write the frame images into {self.folder} "
                              f"({exc.strerror}).", self.folder) from exc
        finally:
            self.discard()

    def discard(self) -> None:
        if self.stage is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage = None
