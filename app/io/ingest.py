"""Adding media files and folders to a project (used by ``vellum add`` and the GUI).

Each path is probed (header only), fingerprinted and added as one undoable command. Files
already in the project (same fingerprint) are skipped; unreadable files are reported, by name,
without stopping the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.core.commands import AddMedia
from app.core.document import Document
from app.core.errors import VellumError
from app.core.media import MediaItem, fingerprint, relative_path
from app.io.probe import discover, probe

Progress = Callable[[int, int, str], None]  # done, total, current path


@dataclass
class AddReport:
    added: list[MediaItem] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    errors: list[VellumError] = field(default_factory=list)


def add_media(doc: Document, paths: Iterable[str | Path], progress: Progress | None = None,
              cancelled: Callable[[], bool] | None = None) -> AddReport:
    """Add every image, video and volume found under ``paths`` to ``doc`` as one command."""
    report = AddReport()
    found: list[Path] = []
    for entry in discover([Path(p) for p in paths]):
        if isinstance(entry, VellumError):
            report.errors.append(entry)
        else:
            found.append(entry)
    known = {m.fingerprint for m in doc.media(include_removed=True)}
    position = doc.next_position()
    items: list[MediaItem] = []
    for n, path in enumerate(found):
        if cancelled and cancelled():
            break
        if progress:
            progress(n, len(found), str(path))
        try:
            info = probe(path)
            fp = fingerprint(path)
        except VellumError as exc:
            report.errors.append(exc)
            continue
        except OSError as exc:
            report.errors.append(VellumError(f"{path} cannot be read ({exc.strerror}).", path))
            continue
        if fp in known:
            report.duplicates.append(path)
            continue
        known.add(fp)
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() \
            else path.stat().st_size
        items.append(MediaItem(kind=info.kind, path=relative_path(path, doc.folder),
                               fingerprint=fp, size_bytes=size, width=info.width,
                               height=info.height, frames=info.frames, meta=info.meta,
                               position=position))
        position += 1
    if progress:
        progress(len(found), len(found), "")
    if items:
        doc.execute(AddMedia(tuple(items), label=f"Add {len(items)} media"))
    report.added = items
    return report


def relink(doc: Document, folder: str | Path) -> list[tuple[MediaItem, Path]]:
    """Find missing media under ``folder`` by content fingerprint and point the project at
    them (one undoable command). Returns the (item, new path) pairs that were relinked."""
    from dataclasses import replace

    from app.core.commands import UpdateMedia

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
        doc.execute(UpdateMedia(tuple(m for m, _ in found),
                                tuple(replace(m, path=relative_path(p, doc.folder))
                                      for m, p in found), label="Relink media"))
    return found
