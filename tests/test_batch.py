"""``vellum batch``: tracking and mask propagation (and detection, where the detector module
is there) over many media as one job on worker processes or a Dask cluster, written by the
one writer in steps with a per-unit journal in the same transaction; resumable after SIGKILL
with exactly the records of an uninterrupted run; --workers 1 and 2 agree; a local run opens
no socket (workers included)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.cli import main as vellum
from app.core.annotations import Annotation, Track
from app.core.commands import Batch, Put, SetMeta
from app.core.document import Document
from app.core.errors import RefusedEdit
from app.core.places import Place
from app.core.rle import encode
from app.core.shapes import Box, Mask

av = pytest.importorskip("av")

REPO = Path(__file__).resolve().parents[1]
W, H = 96, 64


# ---------------------------------------------------------------------- fixtures
def _x(frame: int) -> int:
    """Where the square's left edge is on ``frame`` (pixels)."""
    return 10 + abs((frame % 120) - 60)


def _clip(path: Path, frames: int, seed: int = 1) -> Path:
    """A textured 16x16 square sliding right and back over a noisy background."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(100, 255, (16, 16, 3), dtype=np.uint8)
    background = rng.integers(0, 60, (H, W, 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"g": "50"}
        for n in range(frames):
            img = background.copy()
            x = _x(n)
            img[20:36, x:x + 16] = texture
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def _project(folder: Path, clips: list[tuple[str, int]], seeds: int, kind: str) -> Path:
    """A project with the clips and ``seeds`` open tracks per clip: box keyframes
    (``kind="box"``) or mask keyframes (``"mask"``) on frames 0, 7, 14..."""
    from app.io.ingest import add_media

    folder.mkdir(parents=True)
    for name, frames in clips:
        _clip(folder / name, frames, seed=len(name) + frames)
    doc = Document.create(folder)
    add_media(doc, [folder / name for name, _ in clips])
    for item in doc.media():
        for k in range(seeds):
            t = Track(item.id)
            x = _x(7 * k)
            box = Box(x, 20, 16, 16)
            if kind == "mask":
                m = np.zeros((H, W), bool)
                m[20:36, x:x + 16] = True
                shape = Mask(encode(m))
            else:
                shape = box
            doc.execute(Put((t, Annotation(Place(item.id, frame=7 * k), shape, track_id=t.id,
                                           source="manual"))))
    doc.close()
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A model folder with a tiny segment-anything pack (LiteMedSAM's layout, answering the
    prompt box) installed through the pack mechanism."""
    from test_inference_tiny_models import medsam_pack

    from app.inference.pack_import import import_models

    base = tmp_path_factory.mktemp("batch-models")
    report = import_models(medsam_pack(base / "pack"), base / "models")
    assert report.errors == []
    return base / "models"


@pytest.fixture
def env(models, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(models))
    return {**os.environ, "VELLUM_MODELS_DIR": str(models), "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def box_project(tmp_path_factory) -> Path:
    return _project(tmp_path_factory.mktemp("batch") / "boxes",
                    [("a.mp4", 180), ("b.mp4", 130)], 2, "box")


@pytest.fixture(scope="module")
def mask_project(tmp_path_factory) -> Path:
    return _project(tmp_path_factory.mktemp("batch") / "masks",
                    [("a.mp4", 240), ("b.mp4", 240)], 3, "mask")


def _copy(project: Path, where: Path) -> Path:
    return Path(shutil.copytree(project, where))


def _records(project: Path) -> dict[str, tuple]:
    """Every annotation by id, less who wrote it and when."""
    with Document.open(project) as doc:
        out = {}
        for a in doc.iter_annotations():
            out[a.id] = (a.media_id, a.frame, a.track_id, a.keyframe, a.outside, a.occluded,
                         a.source, None if a.score is None else round(a.score, 6),
                         json.dumps(a.shape.to_json(), sort_keys=True))
        return out


def _run(project: Path, *args: str) -> int:
    return vellum(["batch", str(project), *args])


# ---------------------------------------------------------------------- the core note
def test_set_meta_lands_with_its_records_or_not_at_all(tmp_path):
    from factories import image_item, write_image

    doc = Document.create(tmp_path / "p")
    item = image_item(write_image(tmp_path / "p" / "x.png", 8, 8), doc)
    item_id = item.id
    doc.execute(Put((item,)))
    ann = Annotation(Place(item_id), Box(1, 1, 2, 2))
    doc.execute(Batch((Put((ann,)), SetMeta({"batch:done:j:u1": "{}"}))))
    assert doc.store.meta("batch:done:") == {"batch:done:j:u1": "{}"}
    assert doc.store.meta()["name"]  # the project's own notes are still there
    doc.undo()
    assert doc.store.meta("batch:") == {} and doc.annotation(item_id, ann.id) is None
    doc.redo()
    assert doc.store.meta("batch:") == {"batch:done:j:u1": "{}"}
    orphan = Annotation(Place("no-such-media"), Box(1, 1, 2, 2))
    with pytest.raises(RefusedEdit):
        doc.execute(Batch((Put((orphan,)), SetMeta({"batch:done:j:u2": "{}"}))))
    assert "batch:done:j:u2" not in doc.store.meta()
    with pytest.raises(ValueError):
        SetMeta({"project_id": "x"})
    doc.close()


# ---------------------------------------------------------------------- track
def test_track_every_open_track_in_steps_and_again_is_nothing_to_do(tmp_path, env,
                                                                   box_project, capsys):
    project = _copy(box_project, tmp_path / "p")
    assert _run(project, "--task", "track", "--model", "classical", "--workers", "1",
                "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"] == 4 and out["done"] == 4 and out["failed"] == {}
    # 180 + 130 frames; tracks start on frames 0 and 7: each unit is its keyframe to the end
    assert out["frames"] == (180 + 173) + (130 + 123)
    assert out["steps"] >= 2 + 2 + 2 + 2  # committed at least every 100 frames
    with Document.open(project) as doc:
        for item in doc.media():
            for t in doc.tracks(item.id):
                shapes = doc.track_shapes(t)
                frames = [a.frame for a in shapes]
                assert len(frames) == len(set(frames))  # one shape per frame
                assert frames[-1] == item.frames - 1 or shapes[-1].outside
                assert {a.source for a in shapes} == {"manual", "classical"}
                assert all(abs(a.shape.x - _x(a.frame)) <= 3
                           for a in shapes if a.source == "classical" and not a.outside
                           and not a.occluded)
        assert len(doc.store.meta("batch:done:")) == 4
    # the tracks are no longer open: nothing to do, nothing written
    before = _records(project)
    assert _run(project, "--task", "track", "--model", "classical") == 0
    assert "Nothing to do" in capsys.readouterr().out
    assert _records(project) == before


def test_one_and_two_workers_write_the_same_records(tmp_path, env, box_project):
    one, two = _copy(box_project, tmp_path / "one"), _copy(box_project, tmp_path / "two")
    assert _run(one, "--task", "track", "--model", "classical", "--workers", "1",
                "--frames", "60") == 0
    assert _run(two, "--task", "track", "--model", "classical", "--workers", "2",
                "--frames", "60") == 0
    a, b = _records(one), _records(two)
    assert a == b and len(a) == 4 * 61


def test_nanotrack_on_the_shared_clip(tmp_path, shared_data, monkeypatch):
    from app.inference.pack_import import import_models

    nanotrack = shared_data.parent / "models" / "nanotrack" / "v2"
    if not nanotrack.is_dir():
        pytest.skip(f"{nanotrack} is absent")
    root = tmp_path / "models"
    assert import_models(nanotrack, root).errors == []
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(root))
    from app.io.ingest import add_media

    project = tmp_path / "p"
    project.mkdir()
    shutil.copy(shared_data / "video" / "track_patch.mp4", project / "clip.mp4")
    doc = Document.create(project)
    add_media(doc, [project / "clip.mp4"])
    item = doc.media()[0]
    t = Track(item.id)
    doc.execute(Put((t, Annotation(Place(item.id, frame=0), Box(300, 110, 40, 40),
                                   track_id=t.id))))
    doc.close()
    assert _run(project, "--task", "track", "--frames", "120", "--workers", "1") == 0
    with Document.open(project) as doc:
        shapes = doc.track_shapes(doc.tracks(item.id)[0])
        assert [a.frame for a in shapes] == list(range(121))
        assert {a.source for a in shapes[1:]} == {"nanotrack-v2"}  # the installed default


# ---------------------------------------------------------------------- propagate
def test_propagate_every_open_mask_track(tmp_path, env, mask_project, capsys):
    project = _copy(mask_project, tmp_path / "p")
    assert _run(project, "--task", "propagate", "--model", "tiny-medsam", "--workers", "2",
                "--frames", "150", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"] == 6 and out["done"] == 6
    with Document.open(project) as doc:
        for item in doc.media():
            for t in doc.tracks(item.id):
                shapes = doc.track_shapes(t)
                assert len(shapes) == 151
                assert all(isinstance(a.shape, Mask) for a in shapes)
                assert {a.source for a in shapes[1:]} == {"tiny-medsam"}
                assert not any(a.keyframe for a in shapes[1:])


def _marks(project: Path, kind: str = "done") -> int:
    """A second, read-only look at the store: how many units the job has committed
    (``done``), or has committed in part (``step``)."""
    uri = f"file:{project / 'project.vellum'}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM meta WHERE key LIKE ?",
                            (f"batch:{kind}:%",)).fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_a_killed_job_resumes_to_exactly_the_uninterrupted_records(tmp_path, env,
                                                                   mask_project):
    whole = _copy(mask_project, tmp_path / "whole")
    killed = _copy(mask_project, tmp_path / "killed")
    args = ["--task", "propagate", "--model", "tiny-medsam", "--workers", "1"]
    assert _run(whole, *args) == 0
    proc = subprocess.Popen([sys.executable, "-m", "app", "batch", str(killed), *args],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        # the first unit is committed and the next one has committed its first step
        while _marks(killed) == 0 or _marks(killed, "step") == 0:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the writer and its workers, mid-job
        proc.wait()
    assert 0 < _marks(killed) < 6 and _marks(killed, "step") > 0, "the kill fell mid-job"
    # without --resume a new job of the task is refused, in one sentence
    assert _run(killed, *args) == 1
    assert _run(killed, *args, "--resume") == 0
    assert _records(killed) == _records(whole)
    assert _marks(killed) == 6
    with Document.open(killed) as doc:
        assert doc.store.meta("batch:step:") == {}


def test_cancel_keeps_what_was_committed_and_says_how_to_resume(tmp_path, env,
                                                                mask_project):
    from app.inference import batch

    project = _copy(mask_project, tmp_path / "p")
    task = batch.task_named("propagate")
    options = {"models_root": os.environ["VELLUM_MODELS_DIR"], "frames": 150,
               "model": "tiny-medsam"}
    with Document.open(project) as doc:
        job, new = batch.prepare(doc, task, doc.media(), options, resume=False)
        steps = [0]

        def cancelled() -> bool:
            steps[0] = len(doc.store.meta("batch:done:")) + len(doc.store.meta("batch:step:"))
            return steps[0] > 0

        out = batch.run_job(doc, job, task, batch.LocalPool(1), new=new, cancelled=cancelled)
        lines = batch.summary_lines(out, str(project))
    assert out.cancelled and out.steps >= 1
    assert "--resume" in lines[-1]
    assert _run(project, "--task", "propagate", "--resume") == 0
    whole = _copy(mask_project, tmp_path / "whole")
    assert _run(whole, "--task", "propagate", "--model", "tiny-medsam", "--frames", "150") == 0
    assert _records(project) == _records(whole)


def test_a_resumed_track_restarts_from_its_last_committed_frame(tmp_path, env, box_project):
    from app.inference import batch

    project = _copy(box_project, tmp_path / "p")
    task = batch.task_named("track")
    options = {"models_root": os.environ["VELLUM_MODELS_DIR"], "model": "classical",
               "lost": "occluded"}
    with Document.open(project) as doc:
        job, new = batch.prepare(doc, task, doc.media(), options, resume=False)
        out = batch.run_job(doc, job, task, batch.LocalPool(1), new=new,
                            cancelled=lambda: bool(doc.store.meta("batch:step:")))
        assert out.cancelled
        marks = {k: json.loads(v) for k, v in doc.store.meta("batch:step:").items()}
        assert marks and all(m["frame"] >= 99 for m in marks.values())
    assert _run(project, "--task", "track", "--resume") == 0
    with Document.open(project) as doc:
        (job,) = batch.jobs(doc)
        assert job.finished and doc.store.meta("batch:step:") == {}
        for unit in job.units:
            track = doc.track(unit.args["track_id"])
            shapes = doc.track_shapes(track)
            frames = [a.frame for a in shapes]
            assert frames == list(range(unit.args["start"], unit.args["end"] + 1))
            assert all(a.id == batch.record_id(job.id, unit.key, a.frame)
                       for a in shapes[1:])


def test_resume_with_nothing_to_resume_and_cluster_without_distributed(tmp_path, env,
                                                                       box_project,
                                                                       monkeypatch, capsys):
    project = _copy(box_project, tmp_path / "p")
    assert _run(project, "--task", "track", "--model", "classical", "--resume") == 1
    assert "no unfinished track job" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert _run(project, "--task", "track", "--model", "classical", "--cluster",
                "tcp://127.0.0.1:9") == 1
    err = capsys.readouterr().err.strip()
    assert "needs Dask's distributed package" in err and len(err.splitlines()) == 1


# ---------------------------------------------------------------------- sockets
SITE = r"""
import os, sys
_log = os.environ["BATCH_SOCKET_LOG"]
def _hook(event, args):
    if event.startswith("socket."):
        with open(f"{_log}.{os.getpid()}", "a") as f:
            f.write(event + "\n")
sys.addaudithook(_hook)
"""


def test_a_local_run_opens_no_socket_in_the_writer_or_its_workers(tmp_path, env,
                                                                  mask_project):
    project = _copy(mask_project, tmp_path / "p")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITE)  # every Python process, workers included
    log = tmp_path / "sockets"
    run_env = {**env, "PYTHONPATH": f"{site}{os.pathsep}{REPO}",
               "BATCH_SOCKET_LOG": str(log)}
    done = subprocess.run([sys.executable, "-m", "app", "batch", str(project), "--task",
                           "propagate", "--model", "tiny-medsam", "--workers", "2",
                           "--frames", "30", "--json"], env=run_env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["done"] == 6
    touched = {p.name: p.read_text() for p in tmp_path.glob("sockets.*")}
    assert touched == {}, f"sockets opened: {touched}"
    control = subprocess.run([sys.executable, "-c", "import socket; socket.socket().close()"],
                             env=run_env, capture_output=True, text=True)
    assert control.returncode == 0 and list(tmp_path.glob("sockets.*")), "the hook works"


# ---------------------------------------------------------------------- a Dask cluster
@pytest.mark.slow
def test_a_dask_cluster_writes_what_local_workers_write(tmp_path, env, mask_project):
    distributed = pytest.importorskip("distributed")
    local = _copy(mask_project, tmp_path / "local")
    remote = _copy(mask_project, tmp_path / "remote")
    args = ["--task", "propagate", "--model", "tiny-medsam", "--frames", "120"]
    assert _run(local, *args, "--workers", "2") == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        assert _run(remote, *args, "--cluster", cluster.scheduler_address) == 0
    assert _records(remote) == _records(local)
    assert len(_records(local)) == 6 * 121


# ---------------------------------------------------------------------- detect
@pytest.fixture(scope="module")
def detector(models) -> str:
    """A tiny YOLO-layout detector (tests/detector_graphs.py) installed beside the SAM pack."""
    from detector_graphs import detector_folder

    from app.inference.pack_import import import_models

    report = import_models(detector_folder(models.parent / "detector"), models)
    assert report.errors == []
    (model_id,) = report.installed
    return model_id


def test_detect_over_videos_and_images_in_units_of_100_frames(tmp_path, env, box_project,
                                                             detector, capsys):
    from factories import write_image

    from app.io.ingest import add_media

    project = _copy(box_project, tmp_path / "p")
    with Document.open(project) as doc:
        add_media(doc, [write_image(project / "x.png", 120, 90, seed=3)])
    assert _run(project, "--task", "detect", "--model", detector, "--workers", "2",
                "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"] == 2 + 2 + 1 and out["done"] == 5  # 180 = 100 + 80, 130 = 100 + 30
    assert out["frames"] == 180 + 130 + 1
    with Document.open(project) as doc:
        names = {c.id: c.name for c in doc.schema.classes}
        found = [a for a in doc.iter_annotations() if a.source == detector]
        per_frame = {}
        for a in found:
            per_frame.setdefault((a.media_id, a.frame), []).append(names[a.class_id])
        assert len(per_frame) == 180 + 130 + 1  # every frame and the image
        assert all(sorted(v) == sorted(next(iter(per_frame.values())))
                   for v in per_frame.values())
        assert set(names.values()) >= {"person", "bicycle", "car"}  # classes made on start
    again = _records(project)
    assert _run(project, "--task", "detect", "--model", detector, "--workers", "1") == 0
    assert "Nothing to do" in capsys.readouterr().out
    assert _records(project) == again


def test_detect_with_tracks_one_unit_per_video_and_same_records_on_one_or_two_workers(
        tmp_path, env, box_project, detector, capsys):
    from app.core.commands import SetSchema
    from app.core.schema import LabelClass

    base = _copy(box_project, tmp_path / "base")
    with Document.open(base) as doc:  # the classes exist: both copies map to the same ids
        schema = doc.schema
        for name, colour in (("person", "#e6194b"), ("bicycle", "#3cb44b"), ("car", "#4363d8")):
            schema = schema.with_class(LabelClass(name, colour))
        doc.execute(SetSchema(schema))
    one, two = _copy(base, tmp_path / "one"), _copy(base, tmp_path / "two")
    args = ["--task", "detect", "--model", detector, "--track", "--json"]
    assert _run(one, *args, "--workers", "1") == 0
    assert json.loads(capsys.readouterr().out)["units"] == 2
    assert _run(two, *args, "--workers", "2") == 0
    with Document.open(one) as doc:
        assert sum(len(doc.tracks(m.id)) for m in doc.media()) > 4
        assert len(doc.schema.classes) == 3
    a, b = _records(one), _records(two)
    assert a == b and len(a) > 310


def test_detect_every_kth_frame_and_classes_as_vellum_detect_spells_them(tmp_path, env,
                                                                         box_project,
                                                                         detector, capsys):
    project = _copy(box_project, tmp_path / "p")
    assert _run(project, "--task", "detect", "--model", detector, "--every", "3",
                "--classes", "person,car", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == len(range(0, 180, 3)) + len(range(0, 130, 3))
    with Document.open(project) as doc:
        names = {c.id: c.name for c in doc.schema.classes}
        found = [a for a in doc.iter_annotations() if a.source == detector]
        assert {a.frame % 3 for a in found} == {0}
        assert {a.frame for a in found if a.media_id == found[0].media_id} <= set(
            range(0, 180, 3))
        assert {names[a.class_id] for a in found} == {"person", "car"}
    assert _run(project, "--task", "detect", "--model", detector, "--every", "0") == 1


def test_a_propagation_that_loses_the_object_ends_its_track_with_an_outside_keyframe(
        tmp_path, mask_project):
    """The writer side of a propagate unit whose model lost the object at frame 7: the masks
    before it and an outside keyframe there holding the last mask (else the track would hold
    that mask to the end of the video), with an id the job chooses (a rewrite replaces it)."""
    from app.core.commands import Batch
    from app.core.rle import decode, encode
    from app.inference.batch import Job, Unit
    from app.inference.batch_tasks import PropagateTask

    project = _copy(mask_project, tmp_path / "p")
    with Document.open(project) as doc:
        item = next(iter(doc.media()))
        track = doc.tracks(item.id)[0]
        seed = doc.track_shapes(track)[0]
        mask = decode(seed.shape.rle).astype(bool)
        r = encode(mask)
        unit = Unit(f"propagate:{track.id}", item.id, str(doc.media_path(item)), 10,
                    {"track_id": track.id, "start": seed.frame, "end": seed.frame + 10})
        job = Job("j1", "propagate", {"model": "tiny-medsam"}, [unit])
        writer = PropagateTask().writer(doc, job, unit, None)
        rle = [r.height, r.width, r.counts]
        payload = {"masks": [(seed.frame + i, rle, 0.9, "") for i in (1, 2, 3)],
                   "stopped": False, "lost": [seed.frame + 4, 0.1, rle]}
        commands, _, n = writer.step(payload, True)
        doc.execute(Batch(tuple(commands)))
        shapes = doc.track_shapes(track)
        assert [(a.frame - seed.frame, a.outside) for a in shapes] == [
            (0, False), (1, False), (2, False), (3, False), (4, True)]
        assert np.array_equal(decode(shapes[-1].shape.rle).astype(bool), mask)
