"""The project store: one SQLite file per project, the only code that touches it.

WAL journal, ``synchronous=FULL``: each document command commits in its own transaction as it
happens, so a killed process reopens with every command that returned. The schema carries a
version (``PRAGMA user_version``) and migrations (:mod:`app.core.migrations`) run forward on
open. What goes in each column is :mod:`app.core.store_rows`. A project path is either a
``*.vellum`` file or a folder holding ``project.vellum``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core import migrations
from app.core.annotations import Annotation, Track
from app.core.errors import StoreError
from app.core.identity import author as current_author, new_id, utc_now
from app.core.lock import EditLock
from app.core.labelmap import BrickKey, LabelMapInfo, Segment
from app.core.media import FrameTimes, MediaItem
from app.core.migrations import SCHEMA_VERSION
from app.core.project_files import Pin, pin, read_head, unpin
from app.core.schema import LabelSchema
from app.core.store_rows import (ANN_COLUMNS, MEDIA_COLUMNS, TRACK_COLUMNS, ann_from_row,
                                 ann_row, display_text, dumps, media_from_row, media_row,
                                 video_row, volume_row)

PROJECT_FILE = "project.vellum"
APPLICATION_ID = 0x56454C4D  # "VELM"
_SQLITE_MAGIC = b"SQLite format 3\x00"
__all__ = ["APPLICATION_ID", "PROJECT_FILE", "SCHEMA_VERSION", "Store", "project_file"]


def project_file(path: str | Path) -> Path:
    """The SQLite file for a project path (``*.vellum`` file, or folder holding one)."""
    p = Path(path)
    return p if p.suffix == ".vellum" else p / PROJECT_FILE


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
    # The header's page count is SQLite's own only while its change counter (offset 24)
    # equals 'version valid for' (offset 92); and a process killed while checkpointing its
    # WAL can leave the file shorter than page 1 says, which SQLite recovers from the WAL
    # beside it: only a file with no journal to recover from is judged by its size.
    valid = head[24:28] == head[92:96]
    if page_size < 512 or (pages and valid and size < pages * page_size
                           and not _has_journal(path)):
        raise StoreError(f"{path} is damaged: the file is shorter than its header says "
                         f"({size} bytes, expected {pages * page_size}); it may have been "
                         f"truncated by a failed copy.", path)


def _has_journal(path: Path) -> bool:
    """Whether a non-empty WAL or rollback journal lies beside ``path`` (stat only)."""
    for suffix in ("-wal", "-journal"):
        try:
            if os.stat(f"{path}{suffix}").st_size > 0:
                return True
        except OSError:
            pass
    return False


def _detail(text: Any) -> Any:
    """An audit entry's detail (``{}`` where it is not JSON: the trail is read, not judged)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return {}


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
                             (dumps(LabelSchema().to_json()),))
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
        for target in migrations.pending(version):
            try:
                with self.transaction():
                    migrations.apply(self._conn, target)
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

    # ---------------------------------------------------------------- review (format 4)
    def load_review_rows(self, media_id: str | None = None) -> list[tuple[Any, ...]]:
        """``reviews`` rows (scope, target, media_id, state, reason, author, time)."""
        sql = "SELECT scope, target, media_id, state, reason, author, time FROM reviews"
        if media_id is None:
            return self._read(sql + " ORDER BY time, scope, target")
        return self._read(sql + " WHERE media_id = ? ORDER BY time, scope, target", (media_id,))

    def load_comment_rows(self, media_id: str | None = None) -> list[tuple[Any, ...]]:
        """``comments`` rows (id, media_id, place, x, y, text, resolved, author, time)."""
        sql = "SELECT id, media_id, place, x, y, text, resolved, author, time FROM comments"
        if media_id is None:
            return self._read(sql + " ORDER BY time, id")
        return self._read(sql + " WHERE media_id = ? ORDER BY time, id", (media_id,))

    def put_review_rows(self, reviews: list[tuple[Any, ...]],
                        comments: list[tuple[Any, ...]]) -> None:
        self._write("INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?)", reviews)
        self._write("INSERT OR REPLACE INTO comments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    comments)

    def delete_review_rows(self, reviews: list[tuple[str, str]], comments: list[str]) -> None:
        self._write("DELETE FROM reviews WHERE scope = ? AND target = ?", reviews)
        self._write("DELETE FROM comments WHERE id = ?", [(c,) for c in comments])

    def review_row(self, scope: str, target: str) -> tuple[Any, ...] | None:
        if scope == "comment":
            rows = self._read("SELECT id, media_id, place, x, y, text, resolved, author, time "
                              "FROM comments WHERE id = ?", (target,))
        else:
            rows = self._read("SELECT scope, target, media_id, state, reason, author, time "
                              "FROM reviews WHERE scope = ? AND target = ?", (scope, target))
        return rows[0] if rows else None

    # ---------------------------------------------------------------- meta, history
    def meta(self, prefix: str = "") -> dict[str, str]:
        """The project's notes (name, created, ...), or only those whose key starts with
        ``prefix`` (e.g. a batch job's journal)."""
        if not prefix:
            return dict(self._read("SELECT key, value FROM meta"))
        # a range on the key (its index), not a scan: a job's journal may hold many notes
        return dict(self._read("SELECT key, value FROM meta WHERE key >= ? AND key < ?",
                               (prefix, prefix + "\U0010ffff")))

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def delete_meta(self, keys: Iterable[str]) -> None:
        self._write("DELETE FROM meta WHERE key = ?", [(k,) for k in keys])

    def log(self, action: str, detail: dict[str, Any], author: str | None = None) -> None:
        """Append one entry to the audit trail (who, when, what)."""
        self._write("INSERT INTO history (time, author, action, detail) VALUES (?, ?, ?, ?)",
                    (utc_now(), display_text(author or current_author()), action, dumps(detail)))

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._read("SELECT seq, time, author, action, detail FROM history "
                          "ORDER BY seq DESC LIMIT ?", (limit,))
        return [{"seq": s, "time": t, "author": a, "action": act, "detail": json.loads(d)}
                for s, t, a, act, d in rows]

    def history_entries(self, author: str | None = None, since: str | None = None
                        ) -> list[dict[str, Any]]:
        """Audit-trail entries, oldest first: all, or those of ``author`` and/or at or after
        ``since`` (UTC text as :func:`~app.core.identity.utc_now` writes it)."""
        where, args = [], []
        if author is not None:
            where.append("author = ?")
            args.append(author)
        if since is not None:
            where.append("time >= ?")
            args.append(since)
        sql = "SELECT seq, time, author, action, detail FROM history"
        rows = self._read(sql + (" WHERE " + " AND ".join(where) if where else "")
                          + " ORDER BY seq", tuple(args))
        return [{"seq": s, "time": t, "author": a, "action": act, "detail": _detail(d)}
                for s, t, a, act, d in rows]

    # ---------------------------------------------------------------- schema
    def load_schema(self) -> LabelSchema:
        row = self._read("SELECT body FROM label_schema WHERE id = 1")
        return LabelSchema.from_json(json.loads(row[0][0])) if row else LabelSchema()

    def save_schema(self, schema: LabelSchema) -> None:
        self._write("INSERT OR REPLACE INTO label_schema VALUES (1, ?)",
                    (dumps(schema.to_json()),))

    # ---------------------------------------------------------------- media
    def load_media(self, include_removed: bool = False,
                   ids: Iterable[str] | None = None) -> list[MediaItem]:
        sql = (f"SELECT {MEDIA_COLUMNS} FROM media m LEFT JOIN videos v ON v.media_id = m.id "
               "LEFT JOIN volumes g ON g.media_id = m.id")
        where, args = [], ()
        if not include_removed:
            where.append("m.removed = 0")
        if ids is not None:
            args = tuple(ids)
            where.append(f"m.id IN ({','.join('?' * len(args))})")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [media_from_row(r) for r in self._read(sql + " ORDER BY m.position, m.added",
                                                      args)]

    def put_media(self, items: Iterable[MediaItem]) -> None:
        items = tuple(items)
        self._write("INSERT OR REPLACE INTO media VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [media_row(m) for m in items])
        ids = [(m.id,) for m in items]
        self._write("DELETE FROM videos WHERE media_id = ?", ids)
        self._write("DELETE FROM volumes WHERE media_id = ?", ids)
        self._write("INSERT INTO videos VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [r for m in items if (r := video_row(m)) is not None])
        self._write("INSERT INTO volumes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [r for m in items if (r := volume_row(m)) is not None])

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
    def put_annotations(self, anns: Iterable[Annotation]) -> None:
        self._write(f"INSERT OR REPLACE INTO annotations ({ANN_COLUMNS}) VALUES "
                    f"({','.join('?' * 21)})", (ann_row(a) for a in anns))

    def delete_annotations(self, ids: Iterable[str]) -> None:
        self._write("DELETE FROM annotations WHERE id = ?", [(i,) for i in ids])

    def load_annotations(self, media_id: str) -> list[Annotation]:
        rows = self._read(f"SELECT {ANN_COLUMNS} FROM annotations WHERE media_id = ? "
                          "ORDER BY frame, axis, idx, place_more, z, created", (media_id,))
        return [ann_from_row(r) for r in rows]

    def get_annotations(self, ids: Iterable[str]) -> list[Annotation]:
        """The stored annotations with these ids (missing ones are left out)."""
        ids = list(ids)
        out: list[Annotation] = []
        for n in range(0, len(ids), 500):
            chunk = ids[n:n + 500]
            out.extend(ann_from_row(r) for r in self._read(
                f"SELECT {ANN_COLUMNS} FROM annotations WHERE id IN "
                f"({','.join('?' * len(chunk))})", tuple(chunk)))
        return out

    def track_shape_ids(self, track_id: str) -> list[str]:
        """Ids of the annotations that belong to a track."""
        return [r[0] for r in self._read("SELECT id FROM annotations WHERE track_id = ?",
                                         (track_id,))]

    def iter_annotations(self, batch: int = 5000) -> Iterator[Annotation]:
        """Every annotation of the project, grouped by media (for exporters)."""
        cur = self._conn.execute(f"SELECT {ANN_COLUMNS} FROM annotations "
                                 "ORDER BY media_id, frame, axis, idx, place_more, z, created")
        try:
            while rows := cur.fetchmany(batch):
                for r in rows:
                    yield ann_from_row(r)
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
    def load_tracks(self, media_id: str | None = None,
                    ids: Iterable[str] | None = None) -> list[Track]:
        sql = f"SELECT {TRACK_COLUMNS} FROM tracks"
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
        self._write(f"INSERT OR REPLACE INTO tracks ({TRACK_COLUMNS}) VALUES "
                    "(?,?,?,?,?,?,?,?)",
                    [(t.id, t.media_id, t.class_id, dumps(t.attributes), t.creator, t.created,
                      t.modified, dumps(t.foreign)) for t in tracks])

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
                    (info.id, info.media_id, display_text(info.name), info.depth, info.height,
                     info.width, info.dtype, info.created,
                     dumps([s.to_json() for s in info.segments])))

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
