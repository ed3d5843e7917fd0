"""The project store: one SQLite file per project, the only code that touches it.

WAL journal, ``synchronous=FULL``: each document command commits in its own transaction as it
happens, so a killed process reopens with every command that returned. The schema carries a
version (``PRAGMA user_version``) and migrations run forward on open. A project path is either a
``*.vellum`` file or a folder holding ``project.vellum``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.errors import StoreError
from app.core.geometry import VideoGeometry, VolumeGeometry
from app.core.identity import author as current_author, new_id, utc_now
from app.core.lock import EditLock
from app.core.labelmap import BRICK, BrickKey, LabelMapInfo, Segment, pack_brick
from app.core.media import FrameTimes, MediaItem, MediaKind, MediaStatus, VolumeSource
from app.core.places import Place
from app.core.project_files import Pin, pin, read_head, unpin
from app.core.schema import PALETTE, LabelSchema
from app.core.shapes import shape_from_json

PROJECT_FILE = "project.vellum"
APPLICATION_ID = 0x56454C4D  # "VELM"
SCHEMA_VERSION = 2
_SQLITE_MAGIC = b"SQLite format 3\x00"

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
        conn.execute("UPDATE label_schema SET body = ? WHERE id = 1", (_dumps(body),))
    conn.execute("UPDATE labelmaps SET segments = ?", (_dumps(segments),))
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
                 (_dumps(segments + extra), lm_id))


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


_MIGRATIONS: dict[int, list[str | Callable[[sqlite3.Connection], None]]] = {
    1: [_V1],
    2: [_V2, _migrate_v2_data],
}

_ANN_COLUMNS = ("id, media_id, frame, axis, idx, track_id, keyframe, class_id, kind, shape, "
                "attributes, z, flags, source, score, timestamp, foreign_fields, creator, "
                "created, modified")
_MEDIA_COLUMNS = ("m.id, m.position, m.kind, m.path, m.fingerprint, m.size_bytes, m.width, "
                  "m.height, m.frames, m.status, m.foreign_fields, m.removed, m.added, m.title, "
                  "v.frame_count, v.width, v.height, v.rotation, v.time_base_num, "
                  "v.time_base_den, v.avg_fps, v.nominal_fps, v.duration_s, v.is_vfr, v.codec, "
                  "v.pix_fmt, g.size_k, g.size_j, g.size_i, g.spacing_i, g.spacing_j, "
                  "g.spacing_k, g.origin_x, g.origin_y, g.origin_z, g.direction, g.format, "
                  "g.series_uid, g.modality, g.description, g.volume_index")


def project_file(path: str | Path) -> Path:
    """The SQLite file for a project path (``*.vellum`` file, or folder holding one)."""
    p = Path(path)
    return p if p.suffix == ".vellum" else p / PROJECT_FILE


def _dumps(obj: Any) -> str:
    """Compact JSON text; a string that is not valid Unicode (a file name that is not UTF-8,
    kept by Python as lone surrogates) is written as ``\\udcff`` escapes, which read back the
    same (SQLite stores only valid UTF-8 text)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    return text


def _text(value: str | None) -> str | None:
    """A display text as stored (a title, a series description, a label map's name, an
    author): one made from a file name that is not valid UTF-8 (PEP 383 surrogates) keeps its
    readable part, each undecodable byte shown as U+FFFD (SQLite stores only valid UTF-8
    text). Paths keep their bytes instead: :func:`_path_to_db`."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _path_to_db(path: str) -> str | bytes:
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


def _path_from_db(value: str | bytes) -> str:
    """Inverse of :func:`_path_to_db`."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _check_sqlite_header(path: Path, held: Pin) -> None:
    """Refuse files that are not SQLite databases or are shorter than their header says,
    without letting SQLite touch them. Reads through this process's pinned descriptor of the
    file (:mod:`app.core.project_files`): opening and closing another one would drop the SQLite
    locks of any connection this process has to it."""
    head, size = read_head(held)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        raise StoreError(f"{path} is not a Vellum project: it is not an SQLite database.", path)
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    if page_size < 512 or (pages and size < pages * page_size):
        raise StoreError(f"{path} is damaged: the file is shorter than its header says "
                         f"({size} bytes, expected {pages * page_size}); it may have been "
                         f"truncated by a failed copy.", path)



def _loads_dict(text: str) -> dict[str, Any]:
    """A stored JSON object; the common empty one without the parser (exports read 100,000s)."""
    return {} if text == "{}" else json.loads(text)

class Store:
    """Open connection to one project file. Use :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection, held: Pin | None = None) -> None:
        self.path = path
        self._conn = conn
        self._pin = held
        self._depth = 0
        self.lock = EditLock(path)
        self._data_version = 0

    # ---------------------------------------------------------------- opening
    @classmethod
    def create(cls, path: str | Path, name: str | None = None) -> Store:
        """Create a new, empty project; refuses to overwrite an existing one."""
        file = project_file(path)
        if file.exists():
            raise StoreError(f"{file} already exists; open it instead of creating it.", file)
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the folder for {file}: {exc.strerror}.", file) from exc
        tmp = file.with_name(file.name + ".creating")
        tmp.unlink(missing_ok=True)
        conn = cls._connect(tmp)
        try:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            store = cls(tmp, conn)
            store._migrate()
            with store.transaction():
                now = utc_now()
                default = file.parent.name if file.name == PROJECT_FILE else file.stem
                for key, value in (("project_id", new_id()), ("name", name or default),
                                   ("created", now), ("app", "vellum")):
                    conn.execute("INSERT INTO meta VALUES (?, ?)", (key, value))
                conn.execute("INSERT INTO label_schema VALUES (1, ?)",
                             (_dumps(LabelSchema().to_json()),))
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
        except BaseException:
            conn.close()
            tmp.unlink(missing_ok=True)
            raise
        for side in ("-wal", "-shm"):
            Path(str(tmp) + side).unlink(missing_ok=True)
        os.replace(tmp, file)  # atomic: a project file either exists whole or not at all
        return cls.open(file)

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open an existing project, migrating it forward; :class:`StoreError` if it is not a
        readable Vellum project (the file is left untouched then)."""
        file = project_file(path)
        if not file.is_file():
            raise StoreError(f"{file} does not exist: no Vellum project there.", file)
        try:
            held = pin(file)
        except OSError as exc:
            raise StoreError(f"Cannot read {file} ({exc.strerror or exc}).", file) from exc
        try:
            _check_sqlite_header(file, held)
            conn = cls._connect(file, configure=False)
        except BaseException:
            unpin(held)
            raise
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if app_id != APPLICATION_ID:
                raise StoreError(f"{file} is an SQLite database but not a Vellum project.", file)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{file} was written by a newer Vellum (project format "
                                 f"{version}, this one reads up to {SCHEMA_VERSION}).", file)
            conn.execute("SELECT count(*) FROM meta").fetchone()
            cls._configure(conn)
            store = cls(file, conn, held)
            if version < SCHEMA_VERSION:
                store._migrate()
            return store
        except sqlite3.DatabaseError as exc:
            conn.close()
            unpin(held)
            raise StoreError(f"{file} is damaged and cannot be read ({exc}).", file) from exc
        except BaseException:
            conn.close()
            unpin(held)
            raise

    @classmethod
    def _connect(cls, file: Path, configure: bool = True) -> sqlite3.Connection:
        """Connect; ``configure`` switches on WAL (which writes to the file, so :meth:`open`
        does it only once the file is known to be a Vellum project)."""
        try:
            conn = sqlite3.connect(str(file), isolation_level=None, check_same_thread=False)
            if configure:
                cls._configure(conn)
            return conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{file} cannot be opened as a project ({exc}).", file) from exc

    @staticmethod
    def _configure(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA busy_timeout = 5000")

    def _migrate(self) -> None:
        """Run every migration past the file's version, each in one transaction (a failure
        leaves the file at its old version, untouched)."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        for target in sorted(v for v in _MIGRATIONS if v > version):
            try:
                with self.transaction():
                    for step in _MIGRATIONS[target]:
                        if callable(step):
                            step(self._conn)
                            continue
                        for statement in filter(str.strip, step.split(";")):
                            self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {target}")
            except (sqlite3.DatabaseError, ValueError, KeyError, zlib.error) as exc:
                raise StoreError(f"{self.path} could not be brought up to project format "
                                 f"{target} ({exc}); it was left as it was.", self.path) from exc

    def close(self) -> None:
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
        held, self._pin = self._pin, None
        if held is not None:  # only now: SQLite holds no lock through this connection
            unpin(held)
        self.lock.release()

    def changed_elsewhere(self) -> bool:
        """Whether another connection committed since this one last looked (SQLite's
        ``data_version``); a reader that gets True reloads what it shows."""
        version = self._read("PRAGMA data_version")[0][0]
        changed = bool(self._data_version) and version != self._data_version
        self._data_version = version
        return changed

    # ---------------------------------------------------------------- transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (nested uses join the outer one).
        The first write takes the project's edit lock (:mod:`app.core.lock`)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        if not self.path.name.endswith(".creating"):
            self.lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot write to {self.path} ({exc}).", self.path) from exc
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._conn.execute("ROLLBACK")
            raise StoreError(f"Cannot save to {self.path} ({exc}).", self.path) from exc

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]] | tuple[Any, ...] = ()) -> None:
        if not self._depth:
            raise RuntimeError("store writes must happen inside Store.transaction()")
        try:
            if isinstance(rows, tuple):
                self._conn.execute(sql, rows)
            else:
                self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot write to {self.path} ({exc}).", self.path) from exc

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is damaged and cannot be read ({exc}).",
                             self.path) from exc

    # ---------------------------------------------------------------- meta, history
    def meta(self) -> dict[str, str]:
        return dict(self._read("SELECT key, value FROM meta"))

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def log(self, action: str, detail: dict[str, Any], author: str | None = None) -> None:
        """Append one entry to the audit trail (who, when, what)."""
        self._write("INSERT INTO history (time, author, action, detail) VALUES (?, ?, ?, ?)",
                    (utc_now(), _text(author or current_author()), action, _dumps(detail)))

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._read("SELECT seq, time, author, action, detail FROM history "
                          "ORDER BY seq DESC LIMIT ?", (limit,))
        return [{"seq": s, "time": t, "author": a, "action": act, "detail": json.loads(d)}
                for s, t, a, act, d in rows]

    # ---------------------------------------------------------------- schema
    def load_schema(self) -> LabelSchema:
        row = self._read("SELECT body FROM label_schema WHERE id = 1")
        return LabelSchema.from_json(json.loads(row[0][0])) if row else LabelSchema()

    def save_schema(self, schema: LabelSchema) -> None:
        self._write("INSERT OR REPLACE INTO label_schema VALUES (1, ?)",
                    (_dumps(schema.to_json()),))

    # ---------------------------------------------------------------- media
    @staticmethod
    def _media_from_row(r: tuple[Any, ...]) -> MediaItem:
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
        return MediaItem(id=r[0], position=r[1], kind=kind, path=_path_from_db(r[3]),
                         fingerprint=r[4], size_bytes=r[5], width=r[6], height=r[7], frames=r[8],
                         status=MediaStatus(r[9]), foreign=json.loads(r[10]),
                         removed=bool(r[11]), added=r[12], title=r[13], video=video,
                         volume=volume, source=source)

    def load_media(self, include_removed: bool = False,
                   ids: Iterable[str] | None = None) -> list[MediaItem]:
        sql = (f"SELECT {_MEDIA_COLUMNS} FROM media m LEFT JOIN videos v ON v.media_id = m.id "
               "LEFT JOIN volumes g ON g.media_id = m.id")
        where, args = [], ()
        if not include_removed:
            where.append("m.removed = 0")
        if ids is not None:
            args = tuple(ids)
            where.append(f"m.id IN ({','.join('?' * len(args))})")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._media_from_row(r) for r in self._read(sql + " ORDER BY m.position, m.added",
                                                            args)]

    def put_media(self, items: Iterable[MediaItem]) -> None:
        items = tuple(items)
        self._write("INSERT OR REPLACE INTO media VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(m.id, m.position, m.kind.value, _path_to_db(m.path), m.fingerprint,
                      m.size_bytes, m.width, m.height, m.frames, m.status.value, _dumps(m.foreign),
                      int(m.removed), m.added, _text(m.title)) for m in items])
        ids = [(m.id,) for m in items]
        self._write("DELETE FROM videos WHERE media_id = ?", ids)
        self._write("DELETE FROM volumes WHERE media_id = ?", ids)
        self._write("INSERT INTO videos VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(m.id, v.frame_count, v.width, v.height, v.rotation,
                      v.time_base.numerator, v.time_base.denominator, v.avg_fps, v.nominal_fps,
                      v.duration_s, int(v.is_vfr), v.codec, v.pix_fmt)
                     for m in items if (v := m.video) is not None])
        rows = []
        for m in items:
            if m.volume is None and m.source is None:
                continue
            g, src = m.volume, m.source
            geo: tuple[Any, ...] = (None,) * 10
            if g is not None:
                geo = (*g.shape, *g.spacing, *g.origin,
                       _dumps([v for row in g.direction for v in row]))
            rows.append((m.id, *geo, *((src.format, src.series_uid, src.modality,
                                         _text(src.description), src.volume_index) if src
                                        else (None,) * 5)))
        self._write("INSERT INTO volumes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def delete_media(self, ids: Iterable[str]) -> None:
        ids = [(i,) for i in ids]
        for table in ("media", "videos", "volumes", "video_frames"):
            column = "id" if table == "media" else "media_id"
            self._write(f"DELETE FROM {table} WHERE {column} = ?", ids)

    # ---------------------------------------------------------------- frame times
    def load_frame_times(self, media_id: str) -> FrameTimes | None:
        rows = self._read("SELECT pts, time_s, keyframe FROM video_frames WHERE media_id = ? "
                          "ORDER BY frame", (media_id,))
        if not rows:
            return None
        pts, secs, keys = zip(*rows)
        return FrameTimes(media_id, tuple(pts), tuple(secs), tuple(bool(k) for k in keys))

    def frame_seconds(self, media_id: str, frames: Iterable[int]) -> dict[int, float]:
        """Presentation time (s) of the given frames of one video (where known)."""
        frames = sorted(set(frames))
        out: dict[int, float] = {}
        for n in range(0, len(frames), 500):
            chunk = frames[n:n + 500]
            out.update(self._read(f"SELECT frame, time_s FROM video_frames WHERE media_id = ? "
                                  f"AND frame IN ({','.join('?' * len(chunk))})",
                                  (media_id, *chunk)))
        return out

    def put_frame_times(self, times: FrameTimes) -> None:
        self.delete_frame_times([times.media_id])
        self._write("INSERT INTO video_frames VALUES (?,?,?,?,?)",
                    [(times.media_id, n, int(p), float(t), int(k)) for n, (p, t, k) in
                     enumerate(zip(times.pts, times.seconds, times.keyframe))])

    def delete_frame_times(self, media_ids: Iterable[str]) -> None:
        self._write("DELETE FROM video_frames WHERE media_id = ?", [(i,) for i in media_ids])

    # ---------------------------------------------------------------- annotations
    @staticmethod
    def _ann_row(a: Annotation) -> tuple[Any, ...]:
        p = a.place
        return (a.id, p.media_id, p.frame, p.axis, p.index, a.track_id, int(a.keyframe),
                a.class_id, a.kind, _dumps(a.shape.to_json()), _dumps(a.attributes), a.z,
                a.flags, a.source, a.score, a.timestamp, _dumps(a.foreign), a.creator,
                a.created, a.modified)

    @staticmethod
    def _ann_from_row(r: tuple[Any, ...]) -> Annotation:
        return Annotation(id=r[0], place=Place(r[1], r[2], r[3], r[4]), track_id=r[5],
                          keyframe=bool(r[6]), class_id=r[7],
                          shape=shape_from_json(json.loads(r[9]), trusted=True),
                          attributes=_loads_dict(r[10]),
                          z=r[11], source=r[13], score=r[14], timestamp=r[15],
                          foreign=_loads_dict(r[16]), creator=r[17], created=r[18],
                          modified=r[19], **Annotation.flag_values(r[12]))

    def put_annotations(self, anns: Iterable[Annotation]) -> None:
        self._write(f"INSERT OR REPLACE INTO annotations ({_ANN_COLUMNS}) VALUES "
                    f"({','.join('?' * 20)})", (self._ann_row(a) for a in anns))

    def delete_annotations(self, ids: Iterable[str]) -> None:
        self._write("DELETE FROM annotations WHERE id = ?", [(i,) for i in ids])

    def load_annotations(self, media_id: str) -> list[Annotation]:
        rows = self._read(f"SELECT {_ANN_COLUMNS} FROM annotations WHERE media_id = ? "
                          "ORDER BY frame, axis, idx, z, created", (media_id,))
        return [self._ann_from_row(r) for r in rows]

    def get_annotations(self, ids: Iterable[str]) -> list[Annotation]:
        """The stored annotations with these ids (missing ones are left out)."""
        ids = list(ids)
        out: list[Annotation] = []
        for n in range(0, len(ids), 500):
            chunk = ids[n:n + 500]
            out.extend(self._ann_from_row(r) for r in self._read(
                f"SELECT {_ANN_COLUMNS} FROM annotations WHERE id IN "
                f"({','.join('?' * len(chunk))})", tuple(chunk)))
        return out

    def track_shape_ids(self, track_id: str) -> list[str]:
        """Ids of the annotations that belong to a track."""
        return [r[0] for r in self._read("SELECT id FROM annotations WHERE track_id = ?",
                                         (track_id,))]

    def iter_annotations(self, batch: int = 5000) -> Iterator[Annotation]:
        """Every annotation of the project, grouped by media (for exporters)."""
        cur = self._conn.execute(f"SELECT {_ANN_COLUMNS} FROM annotations "
                                 "ORDER BY media_id, frame, axis, idx, z, created")
        try:
            while rows := cur.fetchmany(batch):
                for r in rows:
                    yield self._ann_from_row(r)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is damaged and cannot be read ({exc}).",
                             self.path) from exc

    def annotation_rows(self) -> Iterator[tuple[Any, ...]]:
        """Raw rows (id, media_id, class_id, kind, shape JSON, track_id, attributes), for
        validation."""
        yield from self._conn.execute(
            "SELECT id, media_id, class_id, kind, shape, track_id, attributes FROM annotations")

    def count(self, table: str) -> int:
        if table not in ("media", "annotations", "tracks", "labelmaps", "history"):
            raise ValueError(table)
        return int(self._read(f"SELECT count(*) FROM {table}")[0][0])

    def class_usage(self, class_id: str) -> int:
        """How many annotations, tracks and label-map segments carry ``class_id``."""
        n = sum(int(self._read(f"SELECT count(*) FROM {t} WHERE class_id = ?",
                               (class_id,))[0][0]) for t in ("annotations", "tracks"))
        return n + sum(1 for info in self.load_labelmaps() for seg in info.segments
                       if seg.class_id == class_id)

    def annotation_counts(self) -> dict[str, int]:
        """Number of annotations per media id."""
        return dict(self._read("SELECT media_id, count(*) FROM annotations GROUP BY media_id"))

    # ---------------------------------------------------------------- tracks
    _TRACK_COLUMNS = "id, media_id, class_id, attributes, creator, created, modified, foreign_fields"

    def load_tracks(self, media_id: str | None = None,
                    ids: Iterable[str] | None = None) -> list[Track]:
        sql = f"SELECT {self._TRACK_COLUMNS} FROM tracks"
        args: tuple[Any, ...] = ()
        if media_id:
            sql, args = sql + " WHERE media_id = ?", (media_id,)
        elif ids is not None:
            args = tuple(ids)
            sql += f" WHERE id IN ({','.join('?' * len(args))})"
        return [Track(id=r[0], media_id=r[1], class_id=r[2], attributes=json.loads(r[3]),
                      creator=r[4], created=r[5], modified=r[6], foreign=json.loads(r[7]))
                for r in self._read(sql + " ORDER BY created, id", args)]

    def put_tracks(self, tracks: Iterable[Track]) -> None:
        self._write(f"INSERT OR REPLACE INTO tracks ({self._TRACK_COLUMNS}) VALUES "
                    "(?,?,?,?,?,?,?,?)",
                    [(t.id, t.media_id, t.class_id, _dumps(t.attributes), t.creator, t.created,
                      t.modified, _dumps(t.foreign)) for t in tracks])

    def delete_tracks(self, ids: Iterable[str]) -> None:
        self._write("DELETE FROM tracks WHERE id = ?", [(i,) for i in ids])

    # ---------------------------------------------------------------- label maps
    def load_labelmaps(self, media_id: str | None = None) -> list[LabelMapInfo]:
        sql = ("SELECT id, media_id, name, depth, height, width, dtype, created, segments "
               "FROM labelmaps")
        rows = self._read(sql + (" WHERE media_id = ?" if media_id else ""),
                          (media_id,) if media_id else ())
        return [LabelMapInfo(id=r[0], media_id=r[1], name=r[2], depth=r[3], height=r[4],
                             width=r[5], dtype=r[6], created=r[7],
                             segments=tuple(Segment.from_json(s) for s in json.loads(r[8])))
                for r in rows]

    def put_labelmap(self, info: LabelMapInfo) -> None:
        self._write("INSERT OR REPLACE INTO labelmaps (id, media_id, name, depth, height, width, "
                    "dtype, created, segments) VALUES (?,?,?,?,?,?,?,?,?)",
                    (info.id, info.media_id, _text(info.name), info.depth, info.height,
                     info.width, info.dtype, info.created,
                     _dumps([s.to_json() for s in info.segments])))

    def delete_labelmap(self, labelmap_id: str) -> None:
        self._write("DELETE FROM labelmap_bricks WHERE labelmap_id = ?", (labelmap_id,))
        self._write("DELETE FROM labelmaps WHERE id = ?", (labelmap_id,))

    def load_brick(self, labelmap_id: str, key: BrickKey) -> bytes | None:
        rows = self._read("SELECT data FROM labelmap_bricks WHERE labelmap_id = ? AND bk = ? "
                          "AND bj = ? AND bi = ?", (labelmap_id, *key))
        return rows[0][0] if rows else None

    def load_bricks(self, labelmap_id: str, keys: Iterable[BrickKey] | None = None
                    ) -> dict[BrickKey, bytes]:
        """Stored bricks of a label map (all, or those of ``keys`` that exist)."""
        if keys is None:
            return {(r[0], r[1], r[2]): r[3] for r in self._read(
                "SELECT bk, bj, bi, data FROM labelmap_bricks WHERE labelmap_id = ?",
                (labelmap_id,))}
        out = {}
        for key in keys:
            blob = self.load_brick(labelmap_id, key)
            if blob is not None:
                out[key] = blob
        return out

    def brick_keys(self, labelmap_id: str) -> list[BrickKey]:
        return [(r[0], r[1], r[2]) for r in self._read(
            "SELECT bk, bj, bi FROM labelmap_bricks WHERE labelmap_id = ? ORDER BY bk, bj, bi",
            (labelmap_id,))]

    def put_bricks(self, labelmap_id: str, bricks: dict[BrickKey, bytes | None]) -> None:
        """Store compressed bricks; ``None`` deletes one (all background)."""
        gone = [(labelmap_id, *k) for k, b in bricks.items() if b is None]
        kept = [(labelmap_id, *k, b) for k, b in bricks.items() if b is not None]
        if gone:
            self._write("DELETE FROM labelmap_bricks WHERE labelmap_id = ? AND bk = ? AND "
                        "bj = ? AND bi = ?", gone)
        if kept:
            self._write("INSERT OR REPLACE INTO labelmap_bricks VALUES (?, ?, ?, ?, ?)", kept)

    # ---------------------------------------------------------------- checks
    def integrity_problems(self) -> list[str]:
        """SQLite's own integrity check, as a list of plain problems (empty when fine)."""
        rows = self._read("PRAGMA integrity_check")
        return [] if rows == [("ok",)] else [f"database: {r[0]}" for r in rows]
