"""A process killed while SQLite checkpoints its WAL can leave the project file shorter than
page 1 says (pages are written in order, the header early); SQLite recovers from the WAL beside
it. Such a project opens with every committed edit (the header check once refused it: found by
the SIGKILL loop of test_crash_safety); a file short of its pages with no journal is still
refused as damaged."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from factories import image_item, write_image

from app.core.commands import Put
from app.core.document import Document
from app.core.errors import StoreError


def _crashed_copy(tmp_path, keep_wal: bool):
    doc = Document.create(tmp_path / "p")
    (doc.folder / "img").mkdir()
    png = write_image(doc.folder / "img" / "a.png", 8, 8)
    doc.execute(Put((image_item(png, doc),)))
    items = [replace(image_item(png, doc, n), path=f"img/{n}.png",
                     foreign={"note": "x" * 6000}) for n in range(1, 120)]
    for item in items:  # then ~700 KB of new pages, in the WAL only
        doc.execute(Put((item,)))
    items.append(None)
    db = doc.path
    assert db.with_name(db.name + "-wal").stat().st_size > 0  # edits still in the WAL
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(db, copy / db.name)  # the state a kill leaves: the file, its WAL
    if keep_wal:
        shutil.copy(db.with_name(db.name + "-wal"), copy / (db.name + "-wal"))
    doc.close()
    target = copy / db.name
    data = bytearray(target.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    # the size after the WAL's last commit: what a checkpoint writes into page 1 before the
    # pages that grow the file (each WAL frame: 24-byte header, bytes 4-8 = size if commit)
    wal = (copy / (db.name + "-wal")).read_bytes() if keep_wal else b""
    committed = [int.from_bytes(wal[o + 4:o + 8], "big")
                 for o in range(32, len(wal) - 24, 24 + page)]
    pages = max([n for n in committed if n] or [len(data) // page + 3])
    assert pages * page > len(data)
    data[28:32] = pages.to_bytes(4, "big")
    data[92:96] = data[24:28]  # a size SQLite itself would trust
    target.write_bytes(bytes(data))
    return copy, len(items)


def test_a_kill_during_a_checkpoint_reopens_with_every_edit(tmp_path):
    copy, n = _crashed_copy(tmp_path, keep_wal=True)
    with Document.open(copy) as doc:
        assert len(doc.media()) == n


def test_a_short_file_with_no_journal_is_still_refused(tmp_path):
    copy, _ = _crashed_copy(tmp_path, keep_wal=False)
    with pytest.raises(StoreError, match="shorter than its header says"):
        Document.open(copy)
