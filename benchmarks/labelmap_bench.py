"""Label-map writes: Vellum's bricked store beside the format-1 design (one zlib row per
k-slice), measured in the same run on a 300x512x512 uint16 label map.

Ours: ``Document.execute(ModifyLabelMap(...))`` - the real command path (door checks, old
values read in the transaction for undo, changed bricks compressed and committed with
``synchronous=FULL``, audit entry). Peer: the format-1 write path reproduced here (read each
touched k-slice, patch, recompress, ``INSERT OR REPLACE`` the row, audit entry, one commit),
on the same machine and SQLite settings. Times are medians of a few runs, milliseconds.
Memory: decompressed cache after reading the whole label map once (ours is bounded, default
256 MiB; the format-1 slice cache kept every slice). Run: ``python -m benchmarks labelmap``.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from app.core.commands import ModifyLabelMap, Put
from app.core.document import Document
from app.core.geometry import VolumeGeometry
from app.core.labelmap import LabelMapInfo, Mode, Segment
from app.core.media import MediaItem, MediaKind

SHAPE = (300, 512, 512)  # k, j, i
PEER = "format-1 slice rows"


class SliceRowStore:
    """The format-1 label-map store: one zlib-compressed k-slice per row, a slice cache."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("CREATE TABLE labelmap_slices (labelmap_id TEXT, k INTEGER, data BLOB, "
                          "PRIMARY KEY (labelmap_id, k)) WITHOUT ROWID")
        self.conn.execute("CREATE TABLE history (seq INTEGER PRIMARY KEY, detail TEXT)")
        self.cache: dict[int, np.ndarray] = {}

    def slice(self, k: int) -> np.ndarray:
        if k not in self.cache:
            row = self.conn.execute("SELECT data FROM labelmap_slices WHERE labelmap_id = 'lm' "
                                    "AND k = ?", (k,)).fetchone()
            arr = (np.zeros(SHAPE[1:], np.uint16) if row is None else
                   np.frombuffer(zlib.decompress(row[0]), "<u2").reshape(SHAPE[1:]).copy())
            self.cache[k] = arr
        return self.cache[k]

    def write(self, start: tuple[int, int, int], values: np.ndarray) -> None:
        k0, j0, i0 = start
        dk, dj, di = values.shape
        before = np.stack([self.slice(k)[j0:j0 + dj, i0:i0 + di] for k in range(k0, k0 + dk)])
        del before  # the format-1 caller read "before" for undo like this
        self.conn.execute("BEGIN IMMEDIATE")
        for n in range(dk):
            k = k0 + n
            patched = self.slice(k).copy()
            patched[j0:j0 + dj, i0:i0 + di] = values[n]
            blob = zlib.compress(patched.astype("<u2").tobytes(), 1) if patched.any() else None
            if blob is None:
                self.conn.execute("DELETE FROM labelmap_slices WHERE labelmap_id = 'lm' AND k = ?",
                                  (k,))
            else:
                self.conn.execute("INSERT OR REPLACE INTO labelmap_slices VALUES ('lm', ?, ?)",
                                  (k, blob))
            self.cache[k] = patched
        self.conn.execute("INSERT INTO history (detail) VALUES ('paint')")
        self.conn.execute("COMMIT")

    def cache_bytes(self) -> int:
        return sum(a.nbytes for a in self.cache.values())


def _median_ms(fn, runs: int = 5) -> float:
    times = []
    for n in range(runs):
        t = time.perf_counter()
        fn(n)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def _cases() -> dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """name -> (start of the box for run 0, box shape); runs shift the box a little."""
    k, j, i = SHAPE
    return {
        "40x40 stroke, axial (along k)": ((150, 200, 200), (1, 40, 40)),
        "40x40 stroke, coronal (along j)": ((130, 256, 200), (40, 1, 40)),
        "40x40 stroke, sagittal (along i)": ((130, 200, 256), (40, 40, 1)),
        "whole plane, axial (512x512)": ((151, 0, 0), (1, j, i)),
        "whole plane, coronal (300x512)": ((0, 257, 0), (k, 1, i)),
        "whole plane, sagittal (300x512)": ((0, 0, 257), (k, j, 1)),
    }


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        doc = Document.create(Path(tmp) / "ours")
        vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1,
                        width=0, height=0, volume=VolumeGeometry(SHAPE, (0.5, 0.5, 1.0)))
        info = LabelMapInfo(vol.id, *SHAPE, segments=(Segment(1, "a"), Segment(2, "b")))
        doc.execute(Put((vol, info)))
        peer = SliceRowStore(Path(tmp) / "peer.sqlite")
        # some existing content: a ball in the middle, written by both
        kk, jj, ii = np.ogrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
        ball = (kk - 150) ** 2 + (jj - 256) ** 2 + (ii - 256) ** 2 <= 60 ** 2
        doc.execute(ModifyLabelMap(info.id, (0, 0, 0), ball, Mode.ADD, 1))
        values = np.where(ball, 1, 0).astype(np.uint16)
        peer.write((0, 0, 0), values)
        del values, ball, kk, jj, ii

        for name, (start, shape) in _cases().items():
            disc = np.ones(shape, bool)
            if 40 in shape:  # a round brush, not a square
                flat = [s for s in shape if s != 1]
                y, x = np.ogrid[:flat[0], :flat[1]]
                disc = ((y - 19.5) ** 2 + (x - 19.5) ** 2 <= 400).reshape(shape)

            def ours(n: int) -> None:
                at = tuple(s + (n if d > 1 and d < 100 else 0) for s, d in zip(start, shape))
                doc.execute(ModifyLabelMap(info.id, at, disc, Mode.ADD, 2 - n % 2))

            def theirs(n: int) -> None:
                at = tuple(s + (n if d > 1 and d < 100 else 0) for s, d in zip(start, shape))
                peer.write(at, np.where(disc, 2 - n % 2, 0).astype(np.uint16))

            peer.cache.clear()
            doc.brick_cache.drop()
            rows.append({"name": name, "ours_ms": _median_ms(ours), "peer_ms": _median_ms(theirs),
                         "peer": PEER, "notes": "goal < 10 ms" if 40 in shape else "goal < 50 ms"})

        doc.brick_cache.drop()
        peer.cache.clear()
        t = time.perf_counter()
        full = doc.labelmap_volume(info.id)
        ours_read = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        for k in range(SHAPE[0]):
            peer.slice(k)
        peer_read = (time.perf_counter() - t) * 1e3
        rows.append({"name": "full read of the label map", "ours_ms": ours_read,
                     "peer_ms": peer_read, "peer": PEER,
                     "notes": f"{int((full > 0).sum())} labelled voxels"})
        rows.append({"name": "cache after a full read (MB, not ms)",
                     "ours_ms": doc.brick_cache.bytes / 2 ** 20,
                     "peer_ms": peer.cache_bytes() / 2 ** 20, "peer": PEER,
                     "notes": f"ours capped at {doc.brick_cache.max_bytes / 2 ** 20:.0f} MB "
                              f"(peak {doc.brick_cache.peak_bytes / 2 ** 20:.0f} MB); "
                              "the peer's never shrinks"})
        doc.close()
        peer.conn.close()
    return rows


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table("labelmap_bench", run())
