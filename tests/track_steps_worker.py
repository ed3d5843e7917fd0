"""Child process for tests/test_track_commit_steps.py: runs one tracking or propagation job on
a project with a stand-in model that, on its ``STOP``-th frame (or slice), says so by creating
``MARKER`` and then hangs, so that the test can SIGKILL the process mid-job.

    python track_steps_worker.py MODE PROJECT MARKER STOP [CLI ARGS...]

MODE: ``cli`` (``vellum track PROJECT`` with the CLI ARGS), ``track`` (the window's
``track_box``), ``mask`` (the window's ``propagate_video_mask``) or ``volume`` (the window's
``propagate_volume_segment``). In the window modes the marker is written from the UI thread
once it has delivered everything the job posted before hanging.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

MODE, PROJECT, MARKER, STOP = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
hanging = threading.Event()


def hang() -> None:
    hanging.set()
    if MODE == "cli":  # commits happen on this thread: all of them are done by now
        MARKER.write_text("stopped")
    while True:
        time.sleep(1)


class StopTracker:
    """Returns the first box on every frame (confident); hangs on its STOP-th update."""

    model_id, device = "stop-tracker", "CPU"

    def init(self, frame, box) -> None:
        self.box, self.n = tuple(box), 0

    def update(self, frame):
        self.n += 1
        if self.n == STOP:
            hang()
        return self.box, 0.9, False


class StopSession:
    """A segment-anything session that answers ``mask`` (score 0.9) for any prompt; hangs on
    its STOP-th picture."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask, self.n = mask, 0

    def _count(self) -> None:
        self.n += 1
        if self.n == STOP:
            hang()

    def encode(self, image, place="", content=None):
        self._count()
        return image

    def set_image(self, image, place="", content=None):
        self._count()

    def predict(self, box=None, points=(), labels=(), mask_input=None, multimask=False,
                embedding=None):
        return SimpleNamespace(best=lambda: SimpleNamespace(mask=self.mask.copy(), score=0.9,
                                                            source="stop-sam"))


def main() -> int:
    import app.inference.tracking as tracking

    tracking.open_tracker = lambda *args, **kwargs: StopTracker()
    if MODE == "cli":
        from app.cli import main as cli

        return cli(sys.argv[5:])

    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.annotations import Annotation
    from app.core.document import Document
    from app.core.places import Place
    from app.core.rle import encode
    from app.core.shapes import Box, Mask
    from app.tools.state import EditorState
    from app.widgets import sam_jobs
    from app.widgets.jobs import Jobs

    qt = QApplication([])
    doc = Document.open(PROJECT)
    item = doc.media()[0]
    said: list[str] = []
    host = SimpleNamespace(jobs=Jobs(), message=lambda text, ms=0: said.append(text),
                           error=lambda text: said.append("error: " + text))
    if MODE == "volume":
        (info,) = doc.labelmaps(item.id)
        volume = np.zeros((item.frames, item.height, item.width), np.int16)
        volume[:, 8:24, 8:24] = 100
        mask = np.zeros((item.height, item.width), bool)
        mask[8:24, 8:24] = True
        host.state = EditorState(doc, place=Place(item.id, axis="k", index=0))
        source = SimpleNamespace(place=Place(item.id, axis="k", index=0), volume=volume)
        target = SimpleNamespace(labelmap_id=info.id, value=info.segments[0].value)
        engine = SimpleNamespace(session=lambda model_id: StopSession(mask))
        job = sam_jobs.propagate_volume_segment(host, engine, "stop-sam", source,
                                                (7, 7, 18, 18), target, (400, 40))
    else:
        place = Place(item.id, frame=0)
        host.state = EditorState(doc, place=place)
        if MODE == "track":
            seed = Annotation(place, Box(10, 10, 16, 16))
            job = sam_jobs.track_box(host, seed, 10_000, model_id="stop-tracker")
        else:
            mask = np.zeros((item.height, item.width), bool)
            mask[10:26, 10:26] = True
            seed = Annotation(place, Mask(encode(mask)), source="stop-sam", score=0.9)
            engine = SimpleNamespace(session=lambda model_id: StopSession(mask))
            job = sam_jobs.propagate_video_mask(host, engine, "stop-sam", seed, 10_000)
    if job is None:
        print("\n".join(said), file=sys.stderr)
        return 2

    def poll() -> None:
        if hanging.is_set():
            QCoreApplication.processEvents()  # what the job posted before it hung
            MARKER.write_text("stopped")

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    return qt.exec()


if __name__ == "__main__":
    sys.exit(main())
