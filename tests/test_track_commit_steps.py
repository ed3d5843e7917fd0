"""A long tracking or propagation job commits its results in steps (at least every 100 frames
or slices, each step its own command): a process killed (SIGKILL) in the middle of one leaves
every step it finished on disk, readable by a new process - ``vellum track PROJECT`` and the
window's tracking, mask propagation and volume propagation jobs alike. The model is a stand-in
(tests/track_steps_worker.py) that hangs on its 250th frame, so the kill always falls after
the step of frame 200 and before the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.core.commands import Put
from app.core.document import Document
from app.core.labelmap import LabelMapInfo, Segment
from app.core.media import MediaItem, MediaKind

av = pytest.importorskip("av")

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("track_steps_worker.py")
FRAMES, STOP = 300, 250  # the job hangs on its 250th frame: steps of 100 and 200 are done
W, H = 48, 40


def _clip(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"g": "50"}
        for n in range(FRAMES):
            img = np.full((H, W, 3), n % 200, np.uint8)
            img[10:26, 10:26] = 255
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def video_project(tmp_path_factory) -> Path:
    from app.io.ingest import add_media

    folder = tmp_path_factory.mktemp("steps") / "video"
    folder.mkdir()
    _clip(folder / "clip.mp4")
    doc = Document.create(folder)
    add_media(doc, [folder / "clip.mp4"])
    assert doc.media()[0].frames == FRAMES
    doc.close()
    return folder


def _copy(project: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(project, tmp_path / "p"))


def _kill_mid_job(mode: str, project: Path, tmp_path: Path, *cli: str) -> None:
    marker = tmp_path / "hanging"
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, str(WORKER), mode, str(project), str(marker),
                             str(STOP), *cli], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the job ended before it was killed (exit {proc.returncode}): "
                            f"{err.decode()[-2000:]}")
            assert time.monotonic() < deadline, "the job never reached its 250th frame"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _stored_frames(project: Path) -> tuple[list[int], int]:
    with Document.open(project) as doc:
        (video,) = doc.media()
        tracks = doc.tracks(video.id)
        assert len(tracks) == 1, "the first step makes the track"
        frames = sorted(a.frame for a in doc.track_shapes(tracks[0]))
        assert doc.store.integrity_problems() == []
    return frames, video.frames


@pytest.mark.slow
def test_vellum_track_killed_mid_run_keeps_every_step_it_committed(video_project, tmp_path):
    project = _copy(video_project, tmp_path)
    _kill_mid_job("cli", project, tmp_path, "track", str(project), "--model", "stop-tracker",
                  "--box", "10", "10", "16", "16", "--start", "0")
    frames, count = _stored_frames(project)
    assert frames == list(range(200)), frames[-3:]  # the steps of frames 0-99 and 100-199


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["track", "mask"])
def test_a_window_job_on_video_killed_mid_run_keeps_its_steps(video_project, tmp_path, mode):
    project = _copy(video_project, tmp_path)
    _kill_mid_job(mode, project, tmp_path)
    frames, _ = _stored_frames(project)
    assert frames[:200] == list(range(200)) and len(frames) >= 200, frames[-3:]
    assert frames[-1] < STOP


@pytest.mark.slow
def test_a_volume_propagation_killed_mid_run_keeps_its_steps(tmp_path):
    depth = FRAMES
    doc = Document.create(tmp_path / "p")
    item = MediaItem(kind=MediaKind.VOLUME, path="vol.nii", fingerprint="x", size_bytes=0,
                     width=32, height=32, frames=depth)
    doc.execute(Put((item,)))
    doc.execute(Put((LabelMapInfo(item.id, depth, 32, 32, "uint8",
                                  segments=(Segment(1, "thing"),)),)))
    doc.close()
    _kill_mid_job("volume", tmp_path / "p", tmp_path)
    with Document.open(tmp_path / "p") as doc:
        (info,) = doc.labelmaps(item.id)
        painted = [k for k in range(depth) if doc.labelmap_plane(info.id, "k", k).any()]
    assert painted[:200] == list(range(200)) and painted[-1] < STOP, painted[-3:]


def test_vellum_track_commits_one_command_per_100_frames(video_project, tmp_path, capsys):
    """Up to 100 frames: one command, as before steps; 250 frames: three."""
    from app import cli

    project = _copy(video_project, tmp_path)
    for end, steps in ((99, 1), (249, 3)):
        with Document.open(project) as doc:
            before = len(doc.store.history(1000))
        assert cli.main(["track", str(project), "--model", "classical", "--box", "10", "10",
                         "16", "16", "--start", "0", "--end", str(end)]) == 0
        said = capsys.readouterr().out
        assert ("(one undoable step)" if steps == 1 else f"({steps} undoable steps)") in said
        with Document.open(project) as doc:
            assert len(doc.store.history(1000)) - before == steps
            (video,) = doc.media()
            longest = max(doc.tracks(video.id), key=lambda t: len(doc.track_shapes(t)))
            assert sorted(a.frame for a in doc.track_shapes(longest)) == list(range(end + 1))


def test_undo_takes_a_stepped_run_back_one_step_at_a_time(video_project, tmp_path):
    from app.core.shapes import Box
    from app.inference.prelabel import TrackWriter
    from app.inference.tracking import TemplateTracker, track_steps
    from app.io.video import open_video

    project = _copy(video_project, tmp_path)
    with Document.open(project) as doc:
        (video,) = doc.media()
        writer = TrackWriter(doc, video, Box(10, 10, 16, 16), 0, "classical", "thing")
        with open_video(doc.media_path(video)) as reader:
            for step in track_steps(reader, (10, 10, 16, 16), 0, 249,
                                    tracker=TemplateTracker()):
                command = writer.command(step.done, step.pending, final=step.last)
                if command is not None:
                    doc.execute(command)
        (track,) = doc.tracks(video.id)
        tops = []
        while doc.tracks(video.id):
            tops.append(max(a.frame for a in doc.track_shapes(track)))
            assert doc.undo()
        assert tops == [249, 199, 99]
        assert doc.schema.class_by_name("thing") is None  # the first step added the class


def test_the_window_tracks_through_an_occlusion_in_steps(tmp_path, qtbot, monkeypatch):
    """The window's tracking job on a square that passes behind a grey bar (frames 12-15):
    the hidden frames become occluded shapes (one review row for them), committed in steps
    (here every 7 frames, so a step ends inside the occlusion and its provisional outside
    keyframe is replaced), each step one undo."""
    from types import SimpleNamespace

    from app.core.annotations import Annotation
    from app.core.places import Place
    from app.core.shapes import Box
    from app.io.ingest import add_media
    from app.tools.state import EditorState
    from app.widgets import sam_jobs
    from app.widgets.jobs import Jobs
    from test_inference_tracking import MovingSquare

    square = MovingSquare(hidden=range(12, 16))
    with av.open(str(tmp_path / "square.mp4"), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 200, 120, "yuv420p"
        s.options = {"crf": "10", "g": "10"}
        for n in range(square.frame_count):
            for p in s.encode(av.VideoFrame.from_ndarray(square.frame(n), format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    doc = Document.create(tmp_path / "p")
    add_media(doc, [tmp_path / "square.mp4"])
    (video,) = doc.media()
    said, reviews = [], []
    state = EditorState(doc, place=Place(video.id, frame=0))
    host = SimpleNamespace(state=state, jobs=Jobs(), message=lambda t, ms=0: said.append(t),
                           error=lambda t: said.append("error: " + t))
    monkeypatch.setattr(sam_jobs, "STEP_FRAMES", 7)
    seed = Annotation(Place(video.id, frame=0), Box(*square.box(0)))
    job = sam_jobs.track_box(host, seed, 39, model_id="classical",
                             on_review=lambda title, r: reviews.append(r))
    assert job is not None
    qtbot.waitUntil(lambda: bool(reviews) or any("error" in t for t in said), timeout=60000)
    host.jobs.wait(5000)
    assert not any("error" in t for t in said), said
    (track,) = doc.tracks(video.id)
    shapes = {a.frame: a for a in doc.track_shapes(track)}
    assert sorted(shapes) == list(range(40)) and not any(a.outside for a in shapes.values())
    occluded = sorted(f for f, a in shapes.items() if a.occluded)
    assert set(range(12, 16)) <= set(occluded) <= set(range(11, 18)), occluded
    for f in occluded:
        assert abs(shapes[f].shape.bbox()[0] - square.box(f)[0]) <= 3  # interpolated
    (row,) = [r for r in reviews[0] if "occluded" in r.reason]
    assert row.place.frame == occluded[0]
    undone = 0
    while doc.tracks(video.id):
        assert doc.undo()
        undone += 1
    assert undone == 6  # 40 frames in steps of 7
    doc.close()
