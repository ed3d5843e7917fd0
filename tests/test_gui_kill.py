"""Every edit is in the project store at once: draw in the real window, kill -9, reopen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import image_item, make_schema, write_image

from app.core.commands import Put, SetSchema
from app.core.document import Document

pytestmark = pytest.mark.slow  # kills processes in a loop: CI runs it, daily work need not

DRIVER = Path(__file__).with_name("gui_kill_driver.py")


def test_shapes_drawn_in_the_window_survive_sigkill(tmp_path):
    doc = Document.create(tmp_path / "proj")
    (doc.folder / "images").mkdir()
    item = image_item(write_image(doc.folder / "images" / "a.png", 640, 480), doc)
    doc.execute(Put((item,)))
    doc.execute(SetSchema(make_schema()))
    path = doc.path
    doc.close()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(path), str(tmp_path / "s.ini"),
                             "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    seen: list[list[float]] = []
    try:
        for line in proc.stdout:
            if line.startswith("committed"):
                seen.append([float(v) for v in line.split()[2:]])
            if len(seen) == 3:  # kill mid-session, while the app is still drawing
                break
    finally:
        proc.kill()  # SIGKILL on POSIX: no atexit, no close, no flush
        err = proc.communicate(timeout=30)[1]
    assert len(seen) == 3, err
    with Document.open(path) as again:
        boxes = [a.shape for a in again.annotations(item.id) if a.kind == "box"]
        assert len(boxes) >= 3
        stored = [[b.x, b.y, b.w, b.h] for b in boxes[:3]]
        for got, want in zip(sorted(stored), sorted(seen)):
            assert all(abs(g - w) < 1e-3 for g, w in zip(got, want)), (got, want)
        # the boxes are where the mouse went: ~ (10 + 12n, 10 + 7n), a quarter image wide
        first = min(stored)
        assert abs(first[0] - 10) <= 1.5 and abs(first[2] - 160) <= 3, first
        assert again.store.integrity_problems() == []
