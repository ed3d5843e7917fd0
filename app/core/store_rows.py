"""How records become rows of the project database, and back.

The store (:mod:`app.core.store`) runs the SQL; this module says what goes in each column:
JSON text for nested values, display text and paths that survive file names that are not
valid UTF-8 (SQLite stores only valid UTF-8 text), and the row layouts of media items (with
their video and volume rows) and annotations, the tables read in bulk.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from typing import Any

from app.core.annotations import Annotation
from app.core.geometry import VideoGeometry, VolumeGeometry
from app.core.media import MediaItem, MediaKind, MediaStatus, VolumeSource
from app.core.places import Place
from app.core.shapes import shape_from_json

# place_more (format 3): the place's further axes as a JSON object, NULL when it has none
ANN_COLUMNS = ("id, media_id, frame, axis, idx, track_id, keyframe, class_id, kind, shape, "
               "attributes, z, flags, source, score, timestamp, foreign_fields, creator, "
               "created, modified, place_more")
# media m, joined with its videos v and volumes g rows (absent: NULLs)
MEDIA_COLUMNS = ("m.id, m.position, m.kind, m.path, m.fingerprint, m.size_bytes, m.width, "
                 "m.height, m.frames, m.status, m.foreign_fields, m.removed, m.added, m.title, "
                 "v.frame_count, v.width, v.height, v.rotation, v.time_base_num, "
                 "v.time_base_den, v.avg_fps, v.nominal_fps, v.duration_s, v.is_vfr, v.codec, "
                 "v.pix_fmt, g.size_k, g.size_j, g.size_i, g.spacing_i, g.spacing_j, "
                 "g.spacing_k, g.origin_x, g.origin_y, g.origin_z, g.direction, g.format, "
                 "g.series_uid, g.modality, g.description, g.volume_index")
TRACK_COLUMNS = "id, media_id, class_id, attributes, creator, created, modified, foreign_fields"


# ---------------------------------------------------------------- values
def dumps(obj: Any) -> str:
    """Compact JSON text; a string that is not valid Unicode (a file name that is not UTF-8,
    kept by Python as lone surrogates) is written as ``\\udcff`` escapes, which read back the
    same (SQLite stores only valid UTF-8 text)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    return text


def loads_dict(text: str) -> dict[str, Any]:
    """A stored JSON object; the common empty one without the parser (exports read 100,000s)."""
    return {} if text == "{}" else json.loads(text)


def display_text(value: str | None) -> str | None:
    """A display text as stored (a title, a series description, a label map's name, an
    author): one made from a file name that is not valid UTF-8 (PEP 383 surrogates) keeps its
    readable part, each undecodable byte shown as U+FFFD (SQLite stores only valid UTF-8
    text). Paths keep their bytes instead: :func:`path_to_db`."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def path_to_db(path: str) -> str | bytes:
    """A media path as stored: text, or, for a file name that is not valid UTF-8 (PEP 383
    surrogates), the file system's own bytes as a BLOB, so it reopens the same file."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(path)
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogatepass")


def path_from_db(value: str | bytes) -> str:
    """Inverse of :func:`path_to_db`."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


# ---------------------------------------------------------------- media
def media_from_row(r: tuple[Any, ...]) -> MediaItem:
    """A media item from a row of :data:`MEDIA_COLUMNS`."""
    kind = MediaKind(r[2])
    video = volume = source = None
    if r[14] is not None:
        video = VideoGeometry(frame_count=r[14], width=r[15], height=r[16], rotation=r[17],
                              time_base=Fraction(r[18], r[19]), avg_fps=r[20],
                              nominal_fps=r[21], duration_s=r[22], is_vfr=bool(r[23]),
                              codec=r[24], pix_fmt=r[25])
    if r[26] is not None:
        d = json.loads(r[35])
        volume = VolumeGeometry((r[26], r[27], r[28]), (r[29], r[30], r[31]),
                                (r[32], r[33], r[34]), (d[0:3], d[3:6], d[6:9]))
    if r[36] is not None:
        source = VolumeSource(r[36], r[37] or "", r[38] or "", r[39] or "", r[40] or 0)
    return MediaItem(id=r[0], position=r[1], kind=kind, path=path_from_db(r[3]),
                     fingerprint=r[4], size_bytes=r[5], width=r[6], height=r[7], frames=r[8],
                     status=MediaStatus(r[9]), foreign=json.loads(r[10]),
                     removed=bool(r[11]), added=r[12], title=r[13], video=video,
                     volume=volume, source=source)


def media_row(m: MediaItem) -> tuple[Any, ...]:
    """The ``media`` row of an item (14 columns)."""
    return (m.id, m.position, m.kind.value, path_to_db(m.path), m.fingerprint,
            m.size_bytes, m.width, m.height, m.frames, m.status.value, dumps(m.foreign),
            int(m.removed), m.added, display_text(m.title))


def video_row(m: MediaItem) -> tuple[Any, ...] | None:
    """The ``videos`` row of an item (13 columns); None when it has no video geometry."""
    v = m.video
    if v is None:
        return None
    return (m.id, v.frame_count, v.width, v.height, v.rotation,
            v.time_base.numerator, v.time_base.denominator, v.avg_fps, v.nominal_fps,
            v.duration_s, int(v.is_vfr), v.codec, v.pix_fmt)


def volume_row(m: MediaItem) -> tuple[Any, ...] | None:
    """The ``volumes`` row of an item (16 columns); None when it has neither volume geometry
    nor a volume source."""
    if m.volume is None and m.source is None:
        return None
    g, src = m.volume, m.source
    geo: tuple[Any, ...] = (None,) * 10
    if g is not None:
        geo = (*g.shape, *g.spacing, *g.origin,
               dumps([v for row in g.direction for v in row]))
    return (m.id, *geo, *((src.format, src.series_uid, src.modality,
                           display_text(src.description), src.volume_index) if src
                          else (None,) * 5))


# ---------------------------------------------------------------- annotations
def ann_row(a: Annotation) -> tuple[Any, ...]:
    """The ``annotations`` row of an annotation, in :data:`ANN_COLUMNS` order."""
    p = a.place
    return (a.id, p.media_id, p.frame, p.axis, p.index, a.track_id, int(a.keyframe),
            a.class_id, a.kind, dumps(a.shape.to_json()), dumps(a.attributes), a.z,
            a.flags, a.source, a.score, a.timestamp, dumps(a.foreign), a.creator,
            a.created, a.modified, place_more_to_db(p))


def place_more_to_db(p: Place) -> str | None:
    """The ``place_more`` column: the place's further axes as a JSON object (keys sorted),
    NULL when it has none, so the text is one per place and old rows need no rewrite."""
    return dumps(dict(p.more)) if p.more else None


def place_from_row(media_id: str, frame: int | None, axis: str | None, index: int | None,
                   more: str | None) -> Place:
    """A place from its columns (``more``: the ``place_more`` text, parsed only when set)."""
    if more is None:
        return Place(media_id, frame, axis, index)
    return Place(media_id, frame, axis, index, json.loads(more))


def ann_from_row(r: tuple[Any, ...]) -> Annotation:
    """An annotation from a row of :data:`ANN_COLUMNS` (its shape trusted: it was checked
    when stored)."""
    place = (Place(r[1], r[2], r[3], r[4]) if r[20] is None  # the common row: no JSON
             else place_from_row(r[1], r[2], r[3], r[4], r[20]))
    return Annotation(id=r[0], place=place, track_id=r[5], keyframe=bool(r[6]), class_id=r[7],
                      shape=shape_from_json(json.loads(r[9]), trusted=True),
                      attributes=loads_dict(r[10]),
                      z=r[11], source=r[13], score=r[14], timestamp=r[15],
                      foreign=loads_dict(r[16]), creator=r[17], created=r[18],
                      modified=r[19], **Annotation.flag_values(r[12]))
