"""``vellum batch --task detect`` (issue 19 item 4): frames per second of detection over a
generated video, with 1 and 2 local worker processes and with a ``distributed.LocalCluster``
of 2 worker processes, beside the bare ONNX Runtime loop in one process on the same frames
and graph, measured in the same run.

The data: ``VELLUM_BENCH_BATCH_FRAMES`` frames (default 1200) of a 640x360 H.264 video (four
videos of a quarter each, so that units spread over workers from the start), and a detector
with the real YOLOv8 output layout (``tests/detector_graphs.py``) at a fixed 640x640 input, a
few ms per frame on a CPU core. Ours: the whole command - spawning the workers, each opening
the model and the videos, decoding, letterbox, inference, NMS, streaming the results back and
the writer's transactions (one per 100-frame unit, with its journal entry) - timed from start
to exit. The peer: decode with PyAV and ``session.run`` on a plainly resized frame in one
loop, nothing written. A last row times the writer alone: one unit's records and done mark
committed (``synchronous=FULL``), the ceiling of any number of workers.

How it grows on a real cluster: units (100 frames of one video) are independent, so decoding
and inference - nearly all of the time - scale with the number of workers until there are
fewer units than workers (a job of V videos of F frames has V * F / 100 units); each worker
opens every model once and reads media from the shared path. What does not scale is the one
writer: every unit is one SQLite transaction on this machine (its fsync, then ~10-20 us per
record), so the job's ceiling is the last row's frames per second whatever the cluster; past
it the workers wait on the queue. Results travel as small pickled lists (boxes, not
pictures), so the network carries little. Tracking and propagation are one unit per object:
they scale with the number of objects, not frames.

Run: ``python -m benchmarks batch``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

W, H = 640, 360
REPO = Path(__file__).resolve().parents[1]


def _videos(folder: Path, frames: int, parts: int = 4) -> list[Path]:
    import av

    rng = np.random.default_rng(0)
    background = rng.integers(0, 200, (H, W, 3), dtype=np.uint8)
    out = []
    for v in range(parts):
        path = folder / f"clip{v}.mp4"
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = W, H, "yuv420p"
            for n in range(frames // parts):
                img = np.roll(background, 4 * n + 37 * v, axis=1)
                for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(p)
            for p in s.encode(None):
                c.mux(p)
        out.append(path)
    return out


def _bare_loop(model: Path, videos: list[Path]) -> tuple[float, int]:
    """Seconds and frames of decode + resize + ``session.run`` in one process."""
    import av
    import cv2

    from app.inference.runtime import load_onnxruntime

    ort = load_onnxruntime()
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    n = 0
    t0 = time.perf_counter()
    for path in videos:
        with av.open(str(path)) as c:
            for frame in c.decode(video=0):
                rgb = frame.to_ndarray(format="rgb24")
                x = cv2.resize(rgb, (640, 640)).astype(np.float32).transpose(2, 0, 1)[None]
                session.run(None, {name: x / 255.0})
                n += 1
    return time.perf_counter() - t0, n


def _writer_alone(folder: Path, model_id: str, units: int = 5) -> float:
    """Seconds per 100-frame unit of detections (7 boxes a frame) written with its mark."""
    from app.core.commands import Batch, Put, SetMeta, SetSchema
    from app.core.document import Document
    from app.inference.detection import Detection
    from app.inference.detection_records import class_map_for, detection_records

    doc = Document.open(folder)
    item = doc.media()[0]
    schema, class_map = class_map_for(doc, ["person", "bicycle", "car"])
    doc.execute(SetSchema(schema))
    dets = [Detection((10.0 * k, 20.0, 30.0, 40.0), "person", 0.9) for k in range(7)]
    t0 = time.perf_counter()
    for u in range(units):
        results = {f: dets for f in range(100)}  # (each unit its own ids)
        records = detection_records(doc, item.id, results, class_map=class_map,
                                    source=model_id, track=False, id_seed=f"bench|{u}")
        doc.execute(Batch((Put(tuple(records)), SetMeta({f"batch:done:bench:{u}": "{}"}))))
    seconds = (time.perf_counter() - t0) / units
    doc.close()
    return seconds


def _timed(args: list[str], env: dict[str, str]) -> float:
    import subprocess

    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=REPO,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return seconds


def run() -> list[dict]:
    sys.path.insert(0, str(REPO / "tests"))
    from detector_graphs import detector_folder

    from app.core.document import Document
    from app.inference.pack_import import import_models
    from app.io.ingest import add_media

    frames = int(os.environ.get("VELLUM_BENCH_BATCH_FRAMES", "1200"))
    work = Path(tempfile.mkdtemp(prefix="vellum-batch-bench-"))
    try:
        source = work / "detector"
        detector_folder(source, "yolov8", input_hw=(640, 640), anchors=2100)
        models = work / "models"
        report = import_models(source, models)
        (model_id,) = report.installed
        base = work / "base"
        base.mkdir()
        videos = _videos(base, frames)
        doc = Document.create(base)
        add_media(doc, videos)
        total = sum(m.frames for m in doc.media())
        doc.close()
        env = {**os.environ, "VELLUM_MODELS_DIR": str(models), "PYTHONPATH": str(REPO),
               "VELLUM_CACHE_DIR": str(work / "cache")}
        bare_s, bare_n = _bare_loop(next(source.glob("*.onnx")), videos)
        peer_ms = 1000 * bare_s / bare_n
        peer = f"bare ONNX Runtime loop, 1 process ({bare_n / bare_s:.0f} frames/s)"
        rows = []
        for label, extra in (("1 local worker", ["--workers", "1"]),
                             ("2 local workers", ["--workers", "2"])):
            project = Path(shutil.copytree(base, work / label.replace(" ", "-")))
            s = _timed(["batch", str(project), "--task", "detect", "--model", model_id,
                        *extra], env)
            rows.append({"name": f"batch detect, {label} ({total} frames)",
                         "ours_ms": 1000 * s / total, "peer_ms": peer_ms, "peer": peer,
                         "notes": f"{total / s:.0f} frames/s, start-up and writes included"})
        try:
            import distributed
        except ImportError:
            rows.append({"name": "batch detect, LocalCluster of 2", "ours_ms": None,
                         "peer_ms": peer_ms, "peer": peer,
                         "notes": "distributed is not installed (the 'cluster' extra)"})
        else:
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                          dashboard_address=None, host="127.0.0.1") as cluster:
                project = Path(shutil.copytree(base, work / "cluster"))
                s = _timed(["batch", str(project), "--task", "detect", "--model", model_id,
                            "--cluster", cluster.scheduler_address], env)
            rows.append({"name": f"batch detect, LocalCluster of 2 ({total} frames)",
                         "ours_ms": 1000 * s / total, "peer_ms": peer_ms, "peer": peer,
                         "notes": f"{total / s:.0f} frames/s, workers started before the clock"})
        os.environ["VELLUM_MODELS_DIR"] = str(models)
        unit_s = _writer_alone(Path(shutil.copytree(base, work / "writer")), model_id)
        rows.append({"name": "the one writer: a 100-frame unit, 700 boxes",
                     "ours_ms": 1000 * unit_s / 100, "peer_ms": None,
                     "peer": "(no peer: the ceiling of any cluster)",
                     "notes": f"{100 / unit_s:.0f} frames/s at most, per frame shown"})
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)
