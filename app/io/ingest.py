"""Adding media files and folders to a project (used by ``vellum add`` and the GUI).

Each path is probed (header only), fingerprinted and added as one undoable command. Paths
already in the project are skipped (identity is the path: two files with the same bytes are two
items); unreadable files are reported, by name, without stopping the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.core.commands import Put
from app.core.document import Document
from app.core.errors import VellumError
from app.core.geometry import VideoGeometry
from app.core.media import (FrameTimes, MediaItem, MediaKind, VolumeSource, fingerprint,
                            relative_path)
from app.core.media_damage import with_damage
from app.io.probe import Probe, discover, probe_all

Progress = Callable[[int, int, str], None]  # done, total, current path


@dataclass
class AddReport:
    added: list[MediaItem] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    errors: list[VellumError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a lead should know (skipped series...)
    frame_times: list[FrameTimes] = field(default_factory=list)  # of the added videos


def media_item(info: Probe, path: str, fp: str, size: int, position: int) -> MediaItem:
    """The media item for a probed file: typed video/volume geometry where the probe has it."""
    video = info.video
    if video is None and info.kind is MediaKind.VIDEO:
        video = VideoGeometry(frame_count=info.frames, width=info.width, height=info.height,
                              avg_fps=float(info.meta.get("fps") or 0.0),
                              codec=str(info.meta.get("codec", "")))
    source = info.source
    if source is None and info.kind is MediaKind.VOLUME:
        source = VolumeSource(str(info.meta.get("format", "")),
                              str(info.meta.get("series_uid", "")),
                              str(info.meta.get("modality", "")),
                              str(info.meta.get("description", "")))
    damaged = [str(n) for n in info.meta.get("damaged") or ()] \
        if info.kind is MediaKind.VOLUME else []  # kept for 'validate' and the window
    return MediaItem(kind=info.kind, path=path, fingerprint=fp, size_bytes=size,
                     width=info.width, height=info.height, frames=info.frames, video=video,
                     volume=info.volume, source=source, title=info.title, position=position,
                     foreign=with_damage({}, damaged))


def plan_media(paths: Iterable[str | Path], folder: Path, known: set[str], position: int,
               progress: Progress | None = None,
               cancelled: Callable[[], bool] | None = None) -> AddReport:
    """Probe and fingerprint everything under ``paths`` without touching a project: the media
    items to add (paths relative to ``folder``, positions from ``position``), skipping the
    identities in ``known`` (:func:`known_paths`). Two files with the same bytes are two items:
    identity is the path (and the series, for DICOM); the fingerprint is only for relinking.
    A DICOM folder or study becomes one volume per image series, titled by modality,
    series number and a hash of its UID (never its description, which may name a patient).
    An image cut short is added with a note; FIFOs and devices in folders are skipped with a
    note, never opened. Safe to run on a worker thread."""
    report = AddReport()
    found: list[Path] = []
    for entry in discover([Path(p) for p in paths], report.notes):
        if isinstance(entry, VellumError):
            report.errors.append(entry)
        else:
            found.append(entry)
    known = set(known)
    for n, path in enumerate(found):
        if cancelled and cancelled():
            break
        if progress:
            progress(n, len(found), str(path))
        try:
            infos = probe_all(path)
            fp = fingerprint(path)
        except VellumError as exc:
            report.errors.append(exc)
            continue
        except OSError as exc:
            report.errors.append(VellumError(f"{path} cannot be read ({exc.strerror}).", path))
            continue
        rel = relative_path(path, folder)
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() \
            else path.stat().st_size
        for info in infos:
            item = media_item(info, rel, fp, size, position)
            report.notes.extend(w for w in info.warnings if w not in report.notes)
            if item.key in known:
                report.duplicates.append(path)
                continue
            known.add(item.key)
            report.added.append(item)
            if item.kind is MediaKind.VIDEO:
                times = video_frame_times(path, item)
                if times is not None:
                    report.frame_times.append(times)
            position += 1
    if progress:
        progress(len(found), len(found), "")
    return report


def video_frame_times(path: Path, item: MediaItem) -> FrameTimes | None:
    """Presentation time of every frame of a video (from its frame index, already built and
    cached by the probe), or None when the index does not match the item or its timestamps
    go backwards (damaged timing; the probe's notes say so)."""
    from app.io.video import load_index

    index, _ = load_index(path)
    if len(index.frame_pts) != item.frames or len(index.backward_frames()):
        return None
    return FrameTimes(item.id, tuple(int(p) for p in index.frame_pts),
                      tuple(float(t) for t in index.timestamps()),
                      tuple(bool(k) for k in index.keyframes()))


def add_command(report: AddReport) -> Put | None:
    """The one undoable command that adds a plan's media and their frame times (None when
    there is nothing)."""
    n = len(report.added)
    return Put((*report.added, *report.frame_times), label=f"Add {n} media") if n else None


def known_paths(doc: Document) -> set[str]:
    """Identities (:attr:`MediaItem.key`: project-relative path, and DICOM series) already in
    the project, removed items included."""
    return {m.key for m in doc.media(True)}


def add_media(doc: Document, paths: Iterable[str | Path], progress: Progress | None = None,
              cancelled: Callable[[], bool] | None = None) -> AddReport:
    """Add every image, video and volume found under ``paths`` to ``doc`` as one command."""
    report = plan_media(paths, doc.folder, known_paths(doc), doc.next_position(), progress,
                        cancelled)
    command = add_command(report)
    if command:
        doc.execute(command)
    return report


def relink(doc: Document, folder: str | Path) -> list[tuple[MediaItem, Path]]:
    """Find missing media under ``folder`` by content fingerprint and point the project at
    them (one undoable command). Returns the (item, new path) pairs that were relinked."""
    from dataclasses import replace

    from app.core.commands import Put

    missing = {m.fingerprint: m for m in doc.media() if not doc.media_path(m).exists()}
    found: list[tuple[MediaItem, Path]] = []
    for entry in discover([Path(folder)]):
        if not missing or isinstance(entry, VellumError):
            continue
        try:
            fp = fingerprint(entry)
        except OSError:
            continue
        if fp in missing:
            found.append((missing.pop(fp), entry))
    if found:
        doc.execute(Put(tuple(replace(m, path=relative_path(p, doc.folder))
                                      for m, p in found), label="Relink media"))
    return found
