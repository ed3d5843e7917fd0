"""Kill -9 at random moments while editing: every command that returned is on disk."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crash_plan import DEPTH, SIZE, simulate, steps

from app.core.commands import Put
from app.core.document import Document
from app.core.labelmap import LabelMapInfo, Segment
from app.core.media import MediaItem, MediaKind
from app.core.places import Place

pytestmark = pytest.mark.slow  # kills processes in a loop: CI runs it, daily work need not

KILLS = 60
WORKER = Path(__file__).with_name("crash_worker.py")


def _disk_state(path: Path) -> tuple[list[str], dict]:
    doc = Document.open(path)
    try:
        problems = doc.store.integrity_problems()
        media_id = doc.media()[0].id
        anns = {a.id: a.shape.x for a in doc.annotations(Place(media_id, axis="k", index=0))}
        lm = doc.labelmaps(media_id)[0]
        paint = {}
        for k in range(DEPTH):
            s = doc.labelmap_plane(lm.id, "k", k)
            assert (s == s[0, 0]).all(), "a paint was half-applied"
            if s[0, 0]:
                paint[k] = int(s[0, 0])
        return problems, {"anns": anns, "paint": paint}
    finally:
        doc.close()


def test_sigkill_at_random_points_loses_no_committed_command(tmp_path):
    rng = random.Random(1234)
    doc = Document.create(tmp_path / "p")
    item = MediaItem(kind=MediaKind.VOLUME, path="vol.nii", fingerprint="x", size_bytes=0,
                     width=SIZE, height=SIZE, frames=DEPTH)
    doc.execute(Put((item,)))
    segments = tuple(Segment(v, f"s{v}") for v in range(1, 251))
    doc.execute(Put((LabelMapInfo(item.id, DEPTH, SIZE, SIZE, "uint8", segments=segments),)))
    doc.close()
    model = {"anns": {}, "paint": {}}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    total_done = 0
    for round_no in range(KILLS):
        proc = subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / "p"),
                                 str(round_no)], stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        out = proc.communicate()[0].split()
        proc.wait()
        done = sum(1 for w in out if w == "done")
        total_done += done
        plan = steps(round_no)
        committed = [next(plan) for _ in range(done)]
        maybe = next(plan)  # the command running at the kill may or may not have committed
        for op in committed:
            simulate(model, op)
        problems, disk = _disk_state(tmp_path / "p")
        assert problems == [], f"round {round_no}: integrity check failed: {problems}"
        with_maybe = {"anns": dict(model["anns"]), "paint": dict(model["paint"])}
        simulate(with_maybe, maybe)
        assert disk in (model, with_maybe), f"round {round_no}: disk differs after {done} commands"
        model = disk  # continue from what is on disk
    assert total_done > KILLS, "the worker must get real work done between kills"
