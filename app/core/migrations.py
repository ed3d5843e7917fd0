"""The project format's history: how a file of any earlier format is brought to this one.

Each format number (``PRAGMA user_version``) has its steps in :data:`MIGRATIONS`; the store
(:meth:`app.core.store.Store.open`) runs those past the file's version, each format in one
transaction. Format 1 is the first layout; format 2 adds places by array axis, typed video and
volume geometry, per-frame times, bricked label maps with their own segments, source, score and
keyframe on annotations, and kept foreign fields. Format 3 adds a place's further named axes
(``annotations.place_more``, a JSON object, NULL when none), so a new axis needs no migration.
Format 4 adds review states, item verdicts and pinned comments (tables ``reviews``,
``comments``; :mod:`app.core.review`).
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from app.core.labelmap import BRICK, Segment, pack_brick
from app.core.schema import PALETTE
from app.core.store_rows import dumps

_V1 = """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE media (
        id TEXT PRIMARY KEY, position INTEGER NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL,
        fingerprint TEXT NOT NULL, size_bytes INTEGER NOT NULL, width INTEGER NOT NULL,
        height INTEGER NOT NULL, frames INTEGER NOT NULL, status TEXT NOT NULL,
        meta TEXT NOT NULL, removed INTEGER NOT NULL DEFAULT 0, added TEXT NOT NULL);
    CREATE TABLE label_schema (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
    CREATE TABLE tracks (
        id TEXT PRIMARY KEY, media_id TEXT NOT NULL, class_id TEXT, attributes TEXT NOT NULL,
        creator TEXT NOT NULL, created TEXT NOT NULL, modified TEXT NOT NULL);
    CREATE TABLE annotations (
        id TEXT PRIMARY KEY, media_id TEXT NOT NULL, frame INTEGER, plane TEXT, track_id TEXT,
        class_id TEXT, kind TEXT NOT NULL, shape TEXT NOT NULL, attributes TEXT NOT NULL,
        z INTEGER NOT NULL, flags INTEGER NOT NULL, timestamp REAL, creator TEXT NOT NULL,
        created TEXT NOT NULL, modified TEXT NOT NULL);
    CREATE INDEX annotations_by_media ON annotations (media_id, frame);
    CREATE INDEX annotations_by_track ON annotations (track_id) WHERE track_id IS NOT NULL;
    CREATE TABLE labelmaps (
        id TEXT PRIMARY KEY, media_id TEXT NOT NULL, name TEXT NOT NULL, depth INTEGER NOT NULL,
        height INTEGER NOT NULL, width INTEGER NOT NULL, dtype TEXT NOT NULL,
        created TEXT NOT NULL);
    CREATE TABLE labelmap_slices (
        labelmap_id TEXT NOT NULL, k INTEGER NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (labelmap_id, k)) WITHOUT ROWID;
    CREATE TABLE history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, author TEXT NOT NULL,
        action TEXT NOT NULL, detail TEXT NOT NULL);
    """

# Format 2: places by array axis, typed video/volume geometry, per-frame times, bricked label
# maps with their own segments, source/score/keyframe on annotations, kept foreign fields.
_V2 = """
    ALTER TABLE annotations RENAME TO annotations_v1;
    CREATE TABLE annotations (
        id TEXT PRIMARY KEY, media_id TEXT NOT NULL, frame INTEGER, axis TEXT, idx INTEGER,
        track_id TEXT, keyframe INTEGER NOT NULL, class_id TEXT, kind TEXT NOT NULL,
        shape TEXT NOT NULL, attributes TEXT NOT NULL, z INTEGER NOT NULL,
        flags INTEGER NOT NULL, source TEXT NOT NULL, score REAL, timestamp REAL,
        foreign_fields TEXT NOT NULL, creator TEXT NOT NULL, created TEXT NOT NULL,
        modified TEXT NOT NULL);
    INSERT INTO annotations SELECT id, media_id,
        CASE WHEN plane IS NULL THEN frame END,
        CASE plane WHEN 'axial' THEN 'k' WHEN 'coronal' THEN 'j' WHEN 'sagittal' THEN 'i' END,
        CASE WHEN plane IS NULL THEN NULL ELSE frame END,
        track_id, 1, class_id, kind, shape, attributes, z, flags, 'manual', NULL, timestamp,
        '{}', creator, created, modified FROM annotations_v1;
    DROP TABLE annotations_v1;
    CREATE INDEX annotations_by_media ON annotations (media_id, frame, axis, idx);
    CREATE INDEX annotations_by_track ON annotations (track_id, frame)
        WHERE track_id IS NOT NULL;
    ALTER TABLE tracks ADD COLUMN foreign_fields TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE media RENAME TO media_v1;
    CREATE TABLE media (
        id TEXT PRIMARY KEY, position INTEGER NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL,
        fingerprint TEXT NOT NULL, size_bytes INTEGER NOT NULL, width INTEGER NOT NULL,
        height INTEGER NOT NULL, frames INTEGER NOT NULL, status TEXT NOT NULL,
        foreign_fields TEXT NOT NULL, removed INTEGER NOT NULL, added TEXT NOT NULL,
        title TEXT NOT NULL);
    INSERT INTO media SELECT id, position, kind, path, fingerprint, size_bytes, width, height,
        frames, status, '{}', removed, added, '' FROM media_v1;
    CREATE TABLE videos (
        media_id TEXT PRIMARY KEY, frame_count INTEGER NOT NULL, width INTEGER NOT NULL,
        height INTEGER NOT NULL, rotation INTEGER NOT NULL, time_base_num INTEGER NOT NULL,
        time_base_den INTEGER NOT NULL, avg_fps REAL NOT NULL, nominal_fps REAL,
        duration_s REAL NOT NULL, is_vfr INTEGER NOT NULL, codec TEXT NOT NULL,
        pix_fmt TEXT NOT NULL);
    CREATE TABLE video_frames (
        media_id TEXT NOT NULL, frame INTEGER NOT NULL, pts INTEGER NOT NULL,
        time_s REAL NOT NULL, keyframe INTEGER NOT NULL,
        PRIMARY KEY (media_id, frame)) WITHOUT ROWID;
    CREATE TABLE volumes (
        media_id TEXT PRIMARY KEY, size_k INTEGER, size_j INTEGER, size_i INTEGER,
        spacing_i REAL, spacing_j REAL, spacing_k REAL, origin_x REAL, origin_y REAL,
        origin_z REAL, direction TEXT, format TEXT, series_uid TEXT, modality TEXT,
        description TEXT, volume_index INTEGER);
    ALTER TABLE labelmaps ADD COLUMN segments TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE labelmap_bricks (
        labelmap_id TEXT NOT NULL, bk INTEGER NOT NULL, bj INTEGER NOT NULL,
        bi INTEGER NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (labelmap_id, bk, bj, bi)) WITHOUT ROWID
    """


def _migrate_v2_data(conn: sqlite3.Connection) -> None:
    """The parts of format 2 that SQL alone cannot do: volume sources out of the old untyped
    media meta, label-map slices into bricks, schema segments into their label maps, and one
    shape per track per frame (extra ones are detached from the track, never dropped)."""
    for media_id, meta in conn.execute("SELECT id, meta FROM media_v1 WHERE kind = 'volume'"):
        m = json.loads(meta or "{}")
        conn.execute("INSERT INTO volumes (media_id, format, series_uid, modality, description, "
                     "volume_index) VALUES (?, ?, ?, ?, ?, 0)",
                     (media_id, str(m.get("format", "")), str(m.get("series_uid", "")),
                      str(m.get("modality", "")), str(m.get("description", ""))))
    conn.execute("DROP TABLE media_v1")
    row = conn.execute("SELECT body FROM label_schema WHERE id = 1").fetchone()
    body = json.loads(row[0]) if row else {}
    segments = body.pop("segments", [])
    if row:
        conn.execute("UPDATE label_schema SET body = ? WHERE id = 1", (dumps(body),))
    conn.execute("UPDATE labelmaps SET segments = ?", (dumps(segments),))
    for lm_id, depth, height, width, dtype in conn.execute(
            "SELECT id, depth, height, width, dtype FROM labelmaps").fetchall():
        found = _slices_to_bricks(conn, lm_id, (depth, height, width), np.dtype(dtype))
        _name_stray_values(conn, lm_id, segments, found)
    conn.execute("DROP TABLE labelmap_slices")
    dupes = conn.execute("SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY track_id, "
                         "frame ORDER BY created, rowid) AS n FROM annotations WHERE track_id IS "
                         "NOT NULL) WHERE n > 1").fetchall()
    conn.executemany("UPDATE annotations SET track_id = NULL WHERE id = ?", dupes)
    conn.execute("CREATE UNIQUE INDEX one_shape_per_track_frame ON annotations "
                 "(track_id, frame) WHERE track_id IS NOT NULL")


def _name_stray_values(conn: sqlite3.Connection, lm_id: str, segments: list[dict[str, Any]],
                       found: set[int]) -> None:
    """Format 1 let a label map hold values no segment named: each gets a segment of its own
    ("Segment 3", a palette colour, no class), so the migrated project validates and no
    painted voxel is orphaned."""
    named = {int(s.get("value", 0)) for s in segments if isinstance(s, dict)}
    stray = sorted(v for v in found if v and v not in named)
    if not stray:
        return
    extra = [Segment(v, f"Segment {v}", PALETTE[(len(named) + n) % len(PALETTE)]).to_json()
             for n, v in enumerate(stray)]
    conn.execute("UPDATE labelmaps SET segments = ? WHERE id = ?",
                 (dumps(segments + extra), lm_id))


def _slices_to_bricks(conn: sqlite3.Connection, lm_id: str, shape: tuple[int, int, int],
                      dtype: np.dtype) -> set[int]:
    """Re-cut one format-1 label map (a zlib row per k-slice) into bricks, a slab of BRICK
    slices at a time (memory: one slab); the values it holds."""
    depth, height, width = shape
    le = dtype.newbyteorder("<")
    values: set[int] = set()
    for k0 in range(0, depth, BRICK):
        slab = np.zeros((min(BRICK, depth - k0), height, width), dtype)
        found = False
        for k, blob in conn.execute("SELECT k, data FROM labelmap_slices WHERE labelmap_id = ? "
                                    "AND k >= ? AND k < ?", (lm_id, k0, k0 + BRICK)):
            slab[k - k0] = np.frombuffer(zlib.decompress(blob), le).reshape(height, width)
            found = True
        if not found:
            continue
        values.update(np.unique(slab).tolist())
        for j0 in range(0, height, BRICK):
            for i0 in range(0, width, BRICK):
                brick = slab[:, j0:j0 + BRICK, i0:i0 + BRICK]
                if brick.any():
                    conn.execute("INSERT INTO labelmap_bricks VALUES (?, ?, ?, ?, ?)",
                                 (lm_id, k0 // BRICK, j0 // BRICK, i0 // BRICK,
                                  pack_brick(brick)))
    return values


# Format 3: places with further named axes (channel, time point, level...): one JSON object
# per row, NULL for every row written before (a place with none), so old rows are not touched.
_V3 = """
    ALTER TABLE annotations ADD COLUMN place_more TEXT
    """


# Format 4: review (app.core.review): a state per object and a verdict per item (scope
# "object"/"item", target = annotation / media id), and comments pinned to a place.
_V4 = """
    CREATE TABLE reviews (
        scope TEXT NOT NULL, target TEXT NOT NULL, media_id TEXT NOT NULL,
        state TEXT NOT NULL, reason TEXT NOT NULL, author TEXT NOT NULL, time TEXT NOT NULL,
        PRIMARY KEY (scope, target)) WITHOUT ROWID;
    CREATE INDEX reviews_by_media ON reviews (media_id);
    CREATE TABLE comments (
        id TEXT PRIMARY KEY, media_id TEXT NOT NULL, place TEXT NOT NULL, x REAL NOT NULL,
        y REAL NOT NULL, text TEXT NOT NULL, resolved INTEGER NOT NULL, author TEXT NOT NULL,
        time TEXT NOT NULL);
    CREATE INDEX comments_by_media ON comments (media_id)
    """


#: The steps that bring a file to each format: SQL scripts (statements split at ";") and
#: functions of the connection, run in order inside one transaction.
MIGRATIONS: dict[int, list[str | Callable[[sqlite3.Connection], None]]] = {
    1: [_V1],
    2: [_V2, _migrate_v2_data],
    3: [_V3],
    4: [_V4],
}
SCHEMA_VERSION = max(MIGRATIONS)  # the project format this build writes (PRAGMA user_version)


def pending(version: int) -> list[int]:
    """The formats past ``version`` a file must go through, in order."""
    return sorted(v for v in MIGRATIONS if v > version)


def apply(conn: sqlite3.Connection, target: int) -> None:
    """Run the steps of format ``target`` and record it as the file's version. Inside the
    caller's transaction (a failure leaves the file at its old version)."""
    for step in MIGRATIONS[target]:
        if callable(step):
            step(conn)
            continue
        for statement in filter(str.strip, step.split(";")):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {target}")
