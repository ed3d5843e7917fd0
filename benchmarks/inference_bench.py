"""AI assistance speed, ours beside a bare ONNX Runtime run on the same inputs, in one run.

* per click (decoder + post-processing to a full-size mask): median and p95 of
  ``SamSession.predict`` beside bare ``InferenceSession.run`` of the decoder (goal <= 1.1x);
* encoder: ``set_image`` (preprocessing + encoder) beside the bare encoder run;
* first click after opening each image of a folder, stepping through it with prefetch on
  (the next two images encode while the user works on this one): the share of images whose
  first click did not wait for the encoder (goal: 90%), beside no prefetch;
* tracker frames per second: our NanoTrack (v2, v3) beside a bare ONNX Runtime loop (crop +
  backbone + head, no post-processing) and OpenCV's TrackerNano (cv2.dnn) on the same frames.

Real models come from ``../shared/models`` (imported into a temporary model folder through
the pack mechanism). The provider actually used is printed in the notes. Run with
``python -m benchmarks inference`` (a GPU machine runs the same: the runtime picks CUDA).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DWELL_S = 1.5  # time a user spends on an image before the first click on the next


def _ms(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1e3
    return float(np.median(a)), float(np.percentile(a, 95))


def _images() -> list[np.ndarray]:
    from app.io.images import read_image

    folders = [SHARED / "reference" / "sam" / "inputs", SHARED / "data" / "images"]
    paths = [p for f in folders if f.is_dir() for p in sorted(f.iterdir())
             if p.suffix.lower() in (".png", ".jpg")]
    return [read_image(p) for p in paths]


def _sam_rows(root: Path) -> list[dict[str, Any]]:
    from app.inference.sam import PrefetchItem, SamSession

    rows: list[dict[str, Any]] = []
    images = _images()
    with SamSession("litemedsam", models_root=root) as sam:
        provider = f"{sam.encoder.provider} ({sam.device})"
        # encoder
        img = images[0]
        tensor, _ = sam.family.preprocess(img)
        bare_enc = sam.encoder.session
        bare_enc.run(None, {"image": tensor})
        ours, bare = [], []
        for i in range(3):
            t = time.perf_counter()
            sam._encode_now(img, f"bench-{i}")
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            bare_enc.run(None, {"image": tensor})
            bare.append(time.perf_counter() - t)
        rows.append({"name": "SAM encoder (LiteMedSAM, 512x512)", "ours_ms": _ms(ours)[0],
                     "peer_ms": _ms(bare)[0], "peer": "bare InferenceSession.run",
                     "notes": f"ours = preprocessing + encoder; provider {provider}"})
        # clicks
        emb = sam.set_image(img)
        boxes = [(229 + d, 219 + d, 42 + 2 * d, 42 + 2 * d) for d in range(-10, 30)]
        feeds_list = []
        for box in boxes:
            coords, labels = sam.family.prompt_arrays(emb.frame, box, np.zeros((0, 2)),
                                                      np.zeros(0))
            feeds = {"image_embeddings": emb.arrays["image_embeddings"],
                     "point_coords": coords, "point_labels": labels,
                     "mask_input": np.zeros((1, 1, 256, 256), np.float32),
                     "has_mask_input": np.zeros(1, np.float32)}
            feeds_list.append(feeds)
        bare_dec = sam.decoder.session
        ours, bare = [], []
        for box, feeds in zip(boxes, feeds_list):
            t = time.perf_counter()
            sam.predict(box=box)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            bare_dec.run(None, feeds)
            bare.append(time.perf_counter() - t)
        (om, op), (bm, bp) = _ms(ours), _ms(bare)
        rows.append({"name": "SAM click, median", "ours_ms": om, "peer_ms": bm,
                     "peer": "bare decoder InferenceSession.run",
                     "notes": f"ratio {om / bm:.2f}x (goal <= 1.1x); ours includes the "
                              "full-size mask"})
        rows.append({"name": "SAM click, p95", "ours_ms": op, "peer_ms": bp,
                     "peer": "bare decoder InferenceSession.run", "notes": f"ratio {op / bp:.2f}x"})
        rows += _stepping(sam, images, PrefetchItem)
    return rows


def _stepping(sam: Any, images: list[np.ndarray], item: Any) -> list[dict[str, Any]]:
    """Open each image in turn; prefetch the next two; first click after DWELL_S."""
    sam.cache.clear_memory()
    places = [f"bench-step:{n}" for n in range(len(images))]
    waits, no_wait = [], 0
    for n, img in enumerate(images):
        opened = time.perf_counter()
        sam.prefetch([item(images[m], places[m]) for m in range(n + 1, min(n + 3, len(images)))])
        t = time.perf_counter()
        ready = sam.is_ready(img, places[n])
        sam.set_image(img, places[n])
        h, w = img.shape[:2]
        sam.predict(box=(w * 0.3, h * 0.3, w * 0.3, h * 0.3))
        waits.append(time.perf_counter() - t)
        no_wait += ready
        time.sleep(max(0.0, DWELL_S - (time.perf_counter() - opened)))
    sam.prefetch([]).result()
    cold = []
    for n, img in enumerate(images[:4]):
        sam.cache.clear_memory()
        t = time.perf_counter()
        sam.set_image(img, f"bench-cold:{n}")
        sam.predict(box=(10, 10, 50, 50))
        cold.append(time.perf_counter() - t)
    # image 0 is opened before any prefetch could start: it always waits
    share = no_wait / max(len(images) - 1, 1)
    return [{"name": f"first click, stepping {len(images)} images", "ours_ms": _ms(waits)[0],
             "peer_ms": _ms(cold)[0], "peer": "no prefetch (encoder + click)",
             "notes": f"no encoder wait on {share:.0%} of images after the first (goal 90%), "
                      f"dwell {DWELL_S} s"}]


class _Frames:
    def __init__(self, path: Path) -> None:
        import av

        with av.open(str(path)) as c:
            self.f = [x.to_ndarray(format="rgb24") for x in c.decode(video=0)]
        self.frame_count = len(self.f)

    def frames(self, start: int, stop: int, step: int = 1):
        for n in range(start, stop, step):
            yield n, self.f[n]


def _tracker_rows(root: Path) -> list[dict[str, Any]]:
    import cv2

    from app.inference.nanotrack import NanoTracker, subwindow
    from app.inference.tracking import track_video

    video = SHARED / "data" / "video" / "track_patch.mp4"
    boxes = json.loads((SHARED / "reference" / "track" / "track_patch.json").read_text())[
        "boxes"]
    reader = _Frames(video)
    rows = []
    for model_id, folder in (("nanotrack-v2", "v2"), ("nanotrack-v3", "v3")):
        tracker = NanoTracker(model_id, models_root=root)
        t = time.perf_counter()
        track_video(reader, tuple(boxes[0]), 0, tracker=tracker)
        ours = (time.perf_counter() - t) / reader.frame_count
        tracker.init(reader.f[0], tuple(boxes[0]))
        bb, hd = tracker.backbone.session, tracker.head.session
        names = [i.name for i in hd.get_inputs()]
        t = time.perf_counter()
        for frame in reader.f[1:]:
            crop = subwindow(np.ascontiguousarray(frame[:, :, ::-1]), tracker.centre, 255,
                             round(tracker._crop_side() * 255 / 127), tracker.fill)
            feats = bb.run(None, {"input": crop})[0]
            hd.run(None, {names[0]: tracker.template, names[1]: feats})
        bare = (time.perf_counter() - t) / (reader.frame_count - 1)
        rows.append({"name": f"{model_id} per frame ({1 / ours:.0f} fps)", "ours_ms": ours * 1e3,
                     "peer_ms": bare * 1e3, "peer": f"bare ONNX Runtime loop ({1 / bare:.0f} fps)",
                     "notes": f"provider {tracker.backbone.provider}; 640x272"})
        if folder == "v2" and hasattr(cv2, "TrackerNano_create"):
            params = cv2.TrackerNano_Params()
            src = SHARED / "models" / "nanotrack" / "v2"
            params.backbone = str(src / "nanotrack_backbone_sim.onnx")
            params.neckhead = str(src / "nanotrack_head_sim.onnx")
            cvt = cv2.TrackerNano_create(params)
            bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in reader.f]
            cvt.init(bgr[0], tuple(int(v) for v in boxes[0]))
            t = time.perf_counter()
            for frame in bgr[1:]:
                cvt.update(frame)
            peer = (time.perf_counter() - t) / (reader.frame_count - 1)
            rows.append({"name": "nanotrack-v2 per frame vs OpenCV", "ours_ms": ours * 1e3,
                         "peer_ms": peer * 1e3, "peer": f"cv2.TrackerNano ({1 / peer:.0f} fps)"})
    return rows


def run() -> list[dict[str, Any]]:
    from app.inference.pack_import import import_models
    from app.inference.runtime import default_runtime

    models = SHARED / "models"
    if not models.is_dir():
        return [{"name": "inference", "ours_ms": None, "peer_ms": None, "peer": "",
                 "notes": f"skipped: {models} is absent"}]
    runtime = default_runtime()
    probe = "; ".join(f"{s.device}: {'works' if s.ok else s.reason}" for s in runtime.providers())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "models"
        report = import_models(models, root)
        if report.errors:
            raise RuntimeError(report.errors[0])
        rows = [{"name": "providers", "ours_ms": None, "peer_ms": None, "peer": "",
                 "notes": f"used: {runtime.preferred()[0]}; probed: {probe}"}]
        rows += _sam_rows(root)
        rows += _tracker_rows(root)
    return rows


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table("inference_bench", run())
