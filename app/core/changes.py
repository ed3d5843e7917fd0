"""What an edit changed, as the document tells its listeners (views redraw from these).

Every executed, undone or redone command ends with one list of :class:`Change` values, handed to
each listener the document has (:meth:`~app.core.document.Document.subscribe`); a reload from
disk (another process committed) sends one ``RESET``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    """What kind of record a :class:`Change` is about. A ``str`` enum: ``kind == "schema"``
    holds for ``ChangeKind.SCHEMA``."""

    ANNOTATIONS = "annotations"
    TRACKS = "tracks"
    MEDIA = "media"
    SCHEMA = "schema"
    LABELMAP = "labelmap"
    FRAME_TIMES = "frame_times"
    REVIEW = "review"  # review states, item verdicts, comments (app.core.review)
    RESET = "reset"  # everything may have changed: the document was reloaded from disk


@dataclass(frozen=True)
class Change:
    """What one command changed: ``media_ids`` the media items touched; ``ids`` the objects;
    for label maps, ``extra`` holds the voxel box written (``start``, ``shape``; absent when
    only the label map's segments or name changed)."""

    kind: ChangeKind
    media_ids: frozenset[str] = frozenset()
    ids: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[list[Change]], None]
