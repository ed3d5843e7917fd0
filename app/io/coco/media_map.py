"""COCO ``images`` and ``videos`` to media items.

An image entry whose ``file_name`` is a file under the images folder is an image item (new, or
the one already at that path: identity is the path). That covers image-sequence video datasets
too (CocoVID/mmtracking, TAO, YouTube-VIS converted: ``videos`` whose frames are listed as
images): they import as images grouped by video, each keeping ``video_id``, ``frame_id`` or
``frame_index`` in its foreign data, and the ``videos`` entries are kept at file level, so the
export writes the same structure back. An entry that names no file but a frame of a video file
listed in ``videos`` (Vellum's own video export) is that frame of the video item.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.core.document import Document
from app.core.errors import VellumError
from app.core.media import MediaItem, MediaKind, MediaStatus, fingerprint, relative_path
from app.io.coco.foreign import COCO, IMAGE_INTERPRETED, is_id
from app.io.images import truncated
from app.io.ingest import media_item
from app.io.probe import VIDEO_SUFFIXES, probe


@dataclass
class MediaPlan:
    """What the file's images and videos become."""

    images: dict[Any, tuple[MediaItem, int | None, float | None]] = field(default_factory=dict)
    videos: dict[Any, MediaItem] = field(default_factory=dict)  # real video files
    sequences: list[dict[str, Any]] = field(default_factory=list)  # image-sequence 'videos'
    new: list[MediaItem] = field(default_factory=list)
    updated: dict[str, MediaItem] = field(default_factory=dict)  # existing items, foreign added
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _own(entry: dict[str, Any]) -> dict[str, Any]:
    a = entry.get("attributes")
    return a if isinstance(a, dict) and "vellum_id" in a else {}


class MediaMapper:
    def __init__(self, doc: Document, images_dir: Path, fail) -> None:
        self.doc, self.images_dir, self.fail = doc, images_dir, fail
        self.known = {m.path: m for m in doc.media(include_removed=True)}
        self.ids = {m.id for m in self.known.values()}
        self.position = doc.next_position()
        self.plan = MediaPlan()
        self.by_path: dict[str, Any] = {}  # project path -> first image id naming it
        self.relocated = 0  # file names found only by their trailing part (see _by_tail)

    def _file(self, name: Any) -> Path | None:
        if not isinstance(name, str) or not name.strip():
            return None
        p = Path(name)
        p = p if p.is_absolute() else self.images_dir / p
        try:
            if p.is_file():
                return p
            return self._by_tail(name)
        except OSError as exc:  # a name too long for the file system, a NUL byte...
            shown = name if len(name) <= 80 else name[:60] + f"... ({len(name)} characters)"
            self.fail(f"the file name {shown!r} cannot be looked up under {self.images_dir} "
                      f"({exc.strerror or exc})")
        return None

    def _by_tail(self, name: str) -> Path | None:
        """A file name that is not where it says: one written on Windows (``sub\\a.jpg``,
        ``C:\\data\\a.jpg``) or absolute on another machine (``/home/x/data/a.jpg``) is
        looked for under the images folder by its longest trailing part that exists there
        (``data/a.jpg``, then ``a.jpg``). Counted in the import notes."""
        parts = [q for q in name.replace("\\", "/").split("/") if q not in ("", ".")]
        if parts and parts[0].endswith(":"):  # a Windows drive
            parts = parts[1:]
        for n in range(len(parts)):
            tail = parts[n:]
            if ".." in tail:
                continue
            p = self.images_dir.joinpath(*tail)
            if p.is_file():
                self.relocated += 1
                return p
        return None

    def _item(self, path: Path, entry: dict[str, Any], foreign: dict[str, Any] | None) -> MediaItem:
        rel = relative_path(path, self.doc.folder)
        item = self.known.get(rel)
        if item is not None:
            changes: dict[str, Any] = {}
            if foreign and COCO not in item.foreign:
                changes["foreign"] = {**item.foreign, COCO: foreign}
            if item.removed:  # labels for it are coming in: take it out of the bin
                changes["removed"] = False
            if changes:
                item = replace(item, **changes)
                self.known[rel] = item
                self.plan.updated[item.id] = item
            return item
        try:
            info = probe(path)
            fp = fingerprint(path)
        except VellumError as exc:
            self.fail(f"its media {path} cannot be read ({exc})")
        except OSError as exc:
            self.fail(f"its media {path} cannot be read ({exc.strerror})")
        own = _own(entry)
        vid = own.get("vellum_id")
        kw: dict[str, Any] = {"id": vid} if isinstance(vid, str) and vid not in self.ids else {}
        status = own.get("status")  # Vellum's own hint: anything but a known word is ignored
        if isinstance(status, str) and status in {s.value for s in MediaStatus}:
            kw["status"] = MediaStatus(status)
        item = replace(media_item(info, rel, fp, path.stat().st_size, self.position),
                       foreign={COCO: foreign} if foreign else {}, **kw)
        if item.kind is MediaKind.IMAGE:
            try:
                cut = truncated(path)
            except VellumError:
                cut = None
            if cut:
                self.plan.warnings.append(f"{path} {cut}; its labels were imported, but the "
                                          "picture is incomplete.")
        self.position += 1
        self.ids.add(item.id)
        self.known[rel] = item
        self.plan.new.append(item)
        return item

    def videos(self, entries: list[Any]) -> None:
        for n, v in enumerate(entries):
            if not isinstance(v, dict) or "id" not in v:
                self.fail(f"video {n} needs an id")
            if not is_id(v["id"]):
                self.fail(f"video {n} has an id that is not a number or text")
            if v["id"] in self.plan.videos or any(s.get("id") == v["id"]
                                                  for s in self.plan.sequences):
                self.fail(f"video id {v['id']!r} is used twice")
            path = self._file(v.get("file_name"))
            if path is not None and path.suffix.lower() in VIDEO_SUFFIXES:
                self.plan.videos[v["id"]] = self._item(path, v, None)
            else:  # an image sequence: its frames are listed as images
                self.plan.sequences.append(v)

    def images(self, entries: list[Any]) -> None:
        images = self.plan.images
        for n, im in enumerate(entries):
            if not isinstance(im, dict) or "id" not in im:
                self.fail(f"image {n} needs an id")
            if not is_id(im["id"]):
                self.fail(f"image {n} has an id that is not a number or text")
            where = f"image {im['id']!r}"
            if im["id"] in images:
                self.fail(f"image id {im['id']!r} is used twice")
            path = self._file(im.get("file_name"))
            if path is None and im.get("video_id") in self.plan.videos:
                frame = im.get("frame_index", im.get("frame_id"))
                item = self.plan.videos[im["video_id"]]
                if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
                    self.fail(f"{where} is a frame of {item.path} but has no frame_index")
                if frame >= item.frames:
                    self.fail(f"{where}: frame {frame} is past the end of {item.path} "
                              f"({item.frames} frames)")
                ts = im.get("timestamp")
                images[im["id"]] = (item, frame, ts if isinstance(ts, (int, float)) and
                                    not isinstance(ts, bool) else None)
                continue
            if path is None:
                name = im.get("file_name")
                if not isinstance(name, str) or not name.strip():
                    self.fail(f"{where} has no file_name")
                self.fail(f"{where} names {name!r}, which is not in {self.images_dir} (give "
                          "the folder its file names are relative to with --images)")
            foreign = {k: v for k, v in im.items() if k not in IMAGE_INTERPRETED}
            if "attributes" in im and not _own(im):  # another tool's: kept as written
                foreign["attributes"] = im["attributes"]
            item = self._item(path, im, foreign)
            if item.kind is not MediaKind.IMAGE:
                self.fail(f"{where} names {path}, which is a {item.kind.value}, not an image")
            for key, real in (("width", item.width), ("height", item.height)):
                given = im.get(key)
                if isinstance(given, (int, float)) and not isinstance(given, bool) and given \
                        and given != real:
                    self.fail(f"{where} ({im.get('file_name')}) says {key} {given}, but the "
                              f"file is {item.width}x{item.height}")
            first = self.by_path.setdefault(item.path, im["id"])
            if first != im["id"]:
                self.plan.notes.append(f"Images {first!r} and {im['id']!r} name the same file "
                                       f"{item.path}; their labels share one media item.")
            images[im["id"]] = (item, None, None)
        if self.relocated:
            self.plan.notes.append(
                f"{self.relocated} file name(s) were not where they said (Windows or another "
                f"machine's paths); each was found under {self.images_dir} by its last part.")
