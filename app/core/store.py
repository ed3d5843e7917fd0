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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.annotations import Annotation, Track
from app.core.errors import StoreError
from app.core.identity import author as current_author, new_id, utc_now
from app.core.labelmap import LabelMapInfo
from app.core.media import MediaItem, MediaKind, MediaStatus
from app.core.schema import LabelSchema
from app.core.shapes import shape_from_json

PROJECT_FILE = "project.vellum"
APPLICATION_ID = 0x56454C4D  # "VELM"
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

_MIGRATIONS: dict[int, str] = {
    1: """
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
    """,
}

_ANN_COLUMNS = ("id, media_id, frame, plane, track_id, class_id, kind, shape, attributes, z, "
                "flags, timestamp, creator, created, modified")


def project_file(path: str | Path) -> Path:
    """The SQLite file for a project path (``*.vellum`` file, or folder holding one)."""
    p = Path(path)
    return p if p.suffix == ".vellum" else p / PROJECT_FILE


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _check_sqlite_header(path: Path) -> None:
    """Refuse files that are not SQLite databases or are shorter than their header says,
    without letting SQLite touch them."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        raise StoreError(f"{path} is not a Vellum project: it is not an SQLite database.", path)
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    if page_size < 512 or (pages and size < pages * page_size):
        raise StoreError(f"{path} is damaged: the file is shorter than its header says "
                         f"({size} bytes, expected {pages * page_size}); it may have been "
                         f"truncated by a failed copy.", path)


class Store:
    """Open connection to one project file. Use :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._depth = 0

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
        _check_sqlite_header(file)
        conn = cls._connect(file, configure=False)
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
            store = cls(file, conn)
            if version < SCHEMA_VERSION:
                store._migrate()
            return store
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{file} is damaged and cannot be read ({exc}).", file) from exc
        except StoreError:
            conn.close()
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
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        for target in sorted(v for v in _MIGRATIONS if v > version):
            with self.transaction():
                for statement in filter(str.strip, _MIGRATIONS[target].split(";")):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {target}")

    def close(self) -> None:
        try:
            self._conn.close()
        except sqlite3.Error:
            pass

    # ---------------------------------------------------------------- transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (nested uses join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
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
                    (utc_now(), author or current_author(), action, _dumps(detail)))

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
    def load_media(self, include_removed: bool = False) -> list[MediaItem]:
        sql = ("SELECT id, position, kind, path, fingerprint, size_bytes, width, height, frames, "
               "status, meta, removed, added FROM media")
        if not include_removed:
            sql += " WHERE removed = 0"
        kinds = {k.value: k for k in MediaKind}
        statuses = {s.value: s for s in MediaStatus}
        return [MediaItem(id=r[0], position=r[1], kind=kinds[r[2]], path=r[3],
                          fingerprint=r[4], size_bytes=r[5], width=r[6], height=r[7],
                          frames=r[8], status=statuses[r[9]],
                          meta=json.loads(r[10]) if r[10] != "{}" else {},
                          removed=bool(r[11]), added=r[12])
                for r in self._read(sql + " ORDER BY position, added")]

    def put_media(self, items: Iterable[MediaItem]) -> None:
        self._write("INSERT OR REPLACE INTO media VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(m.id, m.position, m.kind.value, m.path, m.fingerprint, m.size_bytes,
                      m.width, m.height, m.frames, m.status.value, _dumps(m.meta),
                      int(m.removed), m.added) for m in items])

    def delete_media(self, ids: Iterable[str]) -> None:
        self._write("DELETE FROM media WHERE id = ?", [(i,) for i in ids])

    # ---------------------------------------------------------------- annotations
    @staticmethod
    def _ann_row(a: Annotation) -> tuple[Any, ...]:
        return (a.id, a.media_id, a.frame, a.plane, a.track_id, a.class_id, a.kind,
                _dumps(a.shape.to_json()), _dumps(a.attributes), a.z, a.flags, a.timestamp,
                a.creator, a.created, a.modified)

    @staticmethod
    def _ann_from_row(r: tuple[Any, ...]) -> Annotation:
        return Annotation(id=r[0], media_id=r[1], frame=r[2], plane=r[3], track_id=r[4],
                          class_id=r[5], shape=shape_from_json(json.loads(r[7])),
                          attributes=json.loads(r[8]), z=r[9], timestamp=r[11], creator=r[12],
                          created=r[13], modified=r[14], **Annotation.flag_values(r[10]))

    def put_annotations(self, anns: Iterable[Annotation]) -> None:
        self._write(f"INSERT OR REPLACE INTO annotations ({_ANN_COLUMNS}) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [self._ann_row(a) for a in anns])

    def delete_annotations(self, ids: Iterable[str]) -> None:
        self._write("DELETE FROM annotations WHERE id = ?", [(i,) for i in ids])

    def load_annotations(self, media_id: str) -> list[Annotation]:
        rows = self._read(f"SELECT {_ANN_COLUMNS} FROM annotations WHERE media_id = ? "
                          "ORDER BY frame, z, created", (media_id,))
        return [self._ann_from_row(r) for r in rows]

    def iter_annotations(self, batch: int = 5000) -> Iterator[Annotation]:
        """Every annotation of the project, grouped by media (for exporters)."""
        cur = self._conn.execute(f"SELECT {_ANN_COLUMNS} FROM annotations "
                                 "ORDER BY media_id, frame, z, created")
        try:
            while rows := cur.fetchmany(batch):
                for r in rows:
                    yield self._ann_from_row(r)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is damaged and cannot be read ({exc}).",
                             self.path) from exc

    def annotation_rows(self) -> Iterator[tuple[Any, ...]]:
        """Raw rows (id, media_id, class_id, kind, shape JSON, track_id), for validation."""
        yield from self._conn.execute(
            "SELECT id, media_id, class_id, kind, shape, track_id, attributes FROM annotations")

    def count(self, table: str) -> int:
        if table not in ("media", "annotations", "tracks", "labelmaps", "history"):
            raise ValueError(table)
        return int(self._read(f"SELECT count(*) FROM {table}")[0][0])

    def class_usage(self, class_id: str) -> int:
        """How many annotations and tracks carry ``class_id``."""
        return sum(int(self._read(f"SELECT count(*) FROM {t} WHERE class_id = ?",
                                  (class_id,))[0][0]) for t in ("annotations", "tracks"))

    def annotation_counts(self) -> dict[str, int]:
        """Number of annotations per media id."""
        return dict(self._read("SELECT media_id, count(*) FROM annotations GROUP BY media_id"))

    # ---------------------------------------------------------------- tracks
    def load_tracks(self, media_id: str | None = None) -> list[Track]:
        sql = "SELECT id, media_id, class_id, attributes, creator, created, modified FROM tracks"
        rows = self._read(sql + (" WHERE media_id = ?" if media_id else ""),
                          (media_id,) if media_id else ())
        return [Track(id=r[0], media_id=r[1], class_id=r[2], attributes=json.loads(r[3]),
                      creator=r[4], created=r[5], modified=r[6]) for r in rows]

    def put_tracks(self, tracks: Iterable[Track]) -> None:
        self._write("INSERT OR REPLACE INTO tracks VALUES (?,?,?,?,?,?,?)",
                    [(t.id, t.media_id, t.class_id, _dumps(t.attributes), t.creator, t.created,
                      t.modified) for t in tracks])

    def delete_tracks(self, ids: Iterable[str]) -> None:
        self._write("DELETE FROM tracks WHERE id = ?", [(i,) for i in ids])

    # ---------------------------------------------------------------- label maps
    def load_labelmaps(self, media_id: str | None = None) -> list[LabelMapInfo]:
        sql = "SELECT id, media_id, name, depth, height, width, dtype, created FROM labelmaps"
        rows = self._read(sql + (" WHERE media_id = ?" if media_id else ""),
                          (media_id,) if media_id else ())
        return [LabelMapInfo(id=r[0], media_id=r[1], name=r[2], depth=r[3], height=r[4],
                             width=r[5], dtype=r[6], created=r[7]) for r in rows]

    def put_labelmap(self, info: LabelMapInfo) -> None:
        self._write("INSERT OR REPLACE INTO labelmaps VALUES (?,?,?,?,?,?,?,?)",
                    (info.id, info.media_id, info.name, info.depth, info.height, info.width,
                     info.dtype, info.created))

    def delete_labelmap(self, labelmap_id: str) -> None:
        self._write("DELETE FROM labelmap_slices WHERE labelmap_id = ?", (labelmap_id,))
        self._write("DELETE FROM labelmaps WHERE id = ?", (labelmap_id,))

    def load_slice_blob(self, labelmap_id: str, k: int) -> bytes | None:
        rows = self._read("SELECT data FROM labelmap_slices WHERE labelmap_id = ? AND k = ?",
                          (labelmap_id, k))
        return rows[0][0] if rows else None

    def stored_slices(self, labelmap_id: str) -> list[int]:
        return [r[0] for r in self._read("SELECT k FROM labelmap_slices WHERE labelmap_id = ? "
                                         "ORDER BY k", (labelmap_id,))]

    def put_slice_blob(self, labelmap_id: str, k: int, blob: bytes | None) -> None:
        """Store one compressed slice; ``None`` deletes it (all background)."""
        if blob is None:
            self._write("DELETE FROM labelmap_slices WHERE labelmap_id = ? AND k = ?",
                        (labelmap_id, k))
        else:
            self._write("INSERT OR REPLACE INTO labelmap_slices VALUES (?, ?, ?)",
                        (labelmap_id, k, blob))

    # ---------------------------------------------------------------- checks
    def integrity_problems(self) -> list[str]:
        """SQLite's own integrity check, as a list of plain problems (empty when fine)."""
        rows = self._read("PRAGMA integrity_check")
        return [] if rows == [("ok",)] else [f"database: {r[0]}" for r in rows]
