"""The ``yolo-onnx`` detector family, and the worker-side API of detection jobs.

:class:`YoloDetector` runs an Ultralytics YOLO detector exported to ONNX (v5, v8/v11 and
their segment/pose heads read for boxes, end-to-end v10/YOLO26 heads) from an installed pack
(``vellum models import FOLDER``, see :mod:`app.inference.detection_manifest`); pre- and
post-processing are :mod:`app.inference.detection_decode` (Ultralytics' letterbox, decode,
class-aware NMS). Images are RGB uint8 ``(H, W, 3)``; boxes come back as :class:`Detection`
``(box=(x, y, w, h), label, score)``, ``box`` in continuous pixel coordinates of the source
picture (``../shared/CONVENTIONS.md``), clipped to it; ``score`` in [0, 1].

Worker-side API (plain functions of picklable arguments, for batch jobs in worker processes):

- :func:`load_detector` - an installed model by id, with its thresholds and class filter;
  sessions are kept per process, so a worker opens each model once.
- :func:`detect_media` - detections on one media file: an image gives ``{None: [...]}``, a
  video ``{frame index: [...]}`` for the frames asked (0-based, presentation order, the
  project's decoder ``app.io.video.open_video``; every frame when ``frames`` is None), each
  frame present even when nothing was found. Volumes are not supported yet (one sentence).
- :func:`app.inference.detection_records.detection_records` - those results as annotations.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from app.core.errors import BadInputError, ModelError, VellumError
from app.inference import detection_decode as dd
from app.inference.detection_manifest import FAMILY, ROLE, check_detector_manifest
from app.inference.packs import InstalledPack, open_pack

Box = tuple[float, float, float, float]
DEFAULT_CONF, DEFAULT_IOU, DEFAULT_MAX_DET = 0.25, 0.45, 300


class Detection(NamedTuple):
    """One detected object: ``box`` (x, y, w, h) in continuous source pixels, the model's
    class ``label`` and its ``score`` in [0, 1]."""

    box: Box
    label: str
    score: float


_SESSIONS: dict[tuple[str, str], Any] = {}
_SESSIONS_LOCK = threading.Lock()
_MAX_SESSIONS = 4


def _session(pack: InstalledPack, runtime: Any) -> Any:
    """The pack's ONNX Runtime session, opened once per process (by folder and content)."""
    key = (str(pack.folder), str(pack.files[ROLE].get("installed_sha256")))
    with _SESSIONS_LOCK:
        found = _SESSIONS.get(key)
    if found is not None:
        return found
    from app.inference.runtime import default_runtime

    session = (runtime or default_runtime()).session(
        pack.path(ROLE), label=f"The {pack.id} detector",
        sha256=pack.files[ROLE].get("installed_sha256"))
    with _SESSIONS_LOCK:
        if len(_SESSIONS) >= _MAX_SESSIONS:
            _SESSIONS.pop(next(iter(_SESSIONS)))
        _SESSIONS[key] = session
    return session


class YoloDetector:
    """``detect(rgb) -> [Detection]`` with an installed ``yolo-onnx`` pack.

    ``conf``: keep boxes scoring above it; ``iou``: NMS overlap above which the lower box of
    a class goes; ``classes``: model class names to keep (case-insensitive; None keeps all);
    ``max_det``: most boxes per picture."""

    def __init__(self, model: str | InstalledPack, runtime: Any = None,
                 models_root: Path | None = None, *, conf: float = DEFAULT_CONF,
                 iou: float = DEFAULT_IOU, classes: Sequence[str] | None = None,
                 max_det: int = DEFAULT_MAX_DET) -> None:
        pack = model if isinstance(model, InstalledPack) else open_pack(model, models_root)
        m = pack.manifest
        if m.family != FAMILY:
            raise ModelError(f"{pack.id} is not a detector (it is a {m.task} model of the "
                             f"{m.family} family).", pack.folder)
        if not 0.0 <= conf <= 1.0 or not 0.0 <= iou <= 1.0:
            raise BadInputError(f"The confidence and IoU thresholds must lie between 0 and 1 "
                                f"(got {conf:g} and {iou:g}).")
        self.pack, self.model_id = pack, pack.id
        self.names, self.layout = check_detector_manifest(m)
        self.conf, self.iou, self.max_det = float(conf), float(iou), int(max_det)
        self.class_filter = self._class_indices(classes)
        self.session = _session(pack, runtime)
        (self.input_name, (shape, dtype)), = list(self.session.inputs.items())[:1]
        if len(self.session.inputs) != 1 or len(shape) != 4:
            raise ModelError(f"{pack.path(ROLE)} does not take one image input [1, 3, H, W], "
                             "so it is not a YOLO detector.", pack.folder)
        self.dtype = np.float16 if "float16" in str(dtype) else np.float32
        fixed = [d for d in shape[2:4] if isinstance(d, int) and d > 0]
        self.stride = int(m.raw.get("stride") or 32)
        if len(fixed) == 2:  # a fixed input: letterbox to exactly its size
            self.shape, self.auto = (fixed[0], fixed[1]), False
        else:  # a free input: Ultralytics' size rounded up to the stride, minimal padding
            side = dd.make_divisible(m.input_size or 640, self.stride)
            self.shape, self.auto = (side, side), True
        wanted = m.raw.get("output")
        ranked = [k for k, v in self.session.outputs.items() if len(v) == 3]
        self.output = wanted if wanted in self.session.outputs else (ranked or [None])[0]
        if self.output is None:
            raise ModelError(f"{pack.path(ROLE)} has no [1, A, B] detection output, so it is "
                             "not a YOLO detector.", pack.folder)
        self._end2end = m.raw.get("end2end") if isinstance(m.raw.get("end2end"), bool) else None
        self._checked_layout: str | None = None

    @property
    def device(self) -> str:
        return self.session.device

    def _class_indices(self, classes: Sequence[str] | None) -> list[int] | None:
        if classes is None:
            return None
        lower = {n.lower(): i for i, n in reversed(list(enumerate(self.names)))}
        wanted = [c.strip() for c in classes if c.strip()]
        unknown = [c for c in wanted if c.lower() not in lower]
        if unknown:
            shown = ", ".join(self.names[:20]) + (", ..." if len(self.names) > 20 else "")
            raise BadInputError(f"The {self.model_id} detector has no class "
                                f"{', '.join(repr(u) for u in unknown)} (its classes: {shown}).")
        return sorted({i for c in wanted for i, n in enumerate(self.names)
                       if n.lower() == c.lower()})

    def _layout_for(self, shape: tuple[int, ...]) -> str:
        if self._checked_layout is not None:
            return self._checked_layout
        nc = len(self.names)
        layout = self.layout or dd.guess_layout(shape, nc, self.shape, self._end2end)
        if layout is None or not dd.check_layout(shape, layout, nc):
            raise ModelError(f"{self.pack.path(ROLE)} gives output {list(shape)}, which is "
                             f"{'not the ' + layout if layout else 'none of the YOLO'} "
                             f"detection layout{'' if layout else 's'} for its {nc} class "
                             "names.", self.pack.folder)
        self._checked_layout = layout
        return layout

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detections on one RGB picture (grey and RGBA are read as RGB), best first."""
        rgb = _as_rgb(image)
        padded, plan = dd.letterbox(rgb, self.shape, auto=self.auto, stride=self.stride)
        outputs = self.session.run([self.output], {self.input_name: dd.to_tensor(padded,
                                                                                 self.dtype)})
        raw = np.asarray(outputs[0])
        layout = self._layout_for(tuple(raw.shape))
        found = dd.decode(raw, layout, len(self.names), conf=self.conf, iou=self.iou,
                          classes=self.class_filter, max_det=self.max_det)
        xyxy = dd.to_source(found.xyxy, plan)
        out = []
        for (x1, y1, x2, y2), score, cls in zip(xyxy, found.scores, found.classes):
            if not (x2 - x1 > 1e-6 and y2 - y1 > 1e-6) or not 0 <= cls < len(self.names):
                continue  # wholly outside the picture once clipped, or a class it never had
            out.append(Detection((float(x1), float(y1), float(x2 - x1), float(y2 - y1)),
                                 self.names[int(cls)], float(min(max(score, 0.0), 1.0))))
        return out


def _as_rgb(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.ndim != 3 or a.shape[2] != 3 or 0 in a.shape:
        raise BadInputError(f"A detector needs an RGB picture (got an array of shape "
                            f"{a.shape}).")
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


# -------------------------------------------------------------------- worker-side API
def load_detector(model_id: str, *, conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU,
                  classes: Sequence[str] | None = None, models_root: Path | None = None,
                  max_det: int = DEFAULT_MAX_DET) -> YoloDetector:
    """The installed detector ``model_id`` (the model folder of
    :func:`app.inference.packs.models_dir`, files verified); :class:`ModelError` in one
    sentence when it is not installed, damaged or not a detector."""
    return YoloDetector(model_id, models_root=models_root, conf=conf, iou=iou,
                        classes=classes, max_det=max_det)


def _frame_list(frames: Sequence[int] | None, count: int, path: str) -> list[int]:
    if frames is None:
        return list(range(count))
    wanted = sorted({int(f) for f in frames})
    bad = [f for f in wanted if not 0 <= f < count]
    if bad:
        raise BadInputError(f"{path} has frames 0 to {count - 1}; frame {bad[0]} is outside "
                            "them.", path)
    return wanted


def iter_detections(detector: YoloDetector, media_path: str, kind: str,
                    frames: Sequence[int] | None = None, *,
                    should_stop: Callable[[], bool] | None = None,
                    progress: Callable[..., None] | None = None
                    ) -> Iterator[tuple[int | None, list[Detection]]]:
    """``(key, detections)`` per picture of a media file, in order (see :func:`detect_media`
    for the keys); stops before the next picture once ``should_stop()`` is true."""
    kind = str(getattr(kind, "value", kind))
    if kind == "image":
        from app.io.images import read_image

        if progress:
            progress(0, 1, Path(media_path).name)
        if should_stop and should_stop():
            return
        found = detector.detect(read_image(media_path))
        if progress:
            progress(1, 1)
        yield None, found
        return
    if kind == "volume":
        raise VellumError(f"{media_path} is a volume; detection runs on images and video "
                          "frames only for now.", media_path)
    if kind != "video":
        raise BadInputError(f"{media_path}: unknown media kind {kind!r} (image or video).",
                            media_path)
    from app.io.video import open_video

    with open_video(media_path) as video:
        wanted = _frame_list(frames, int(video.frame_count), media_path)
        if not wanted:
            return
        step = math.gcd(*[b - a for a, b in zip(wanted, wanted[1:])]) if len(wanted) > 1 else 1
        keep = set(wanted)
        done = 0
        for n, rgb in video.frames(wanted[0], wanted[-1] + 1, max(step, 1)):
            if n not in keep:
                continue
            if should_stop and should_stop():
                return
            found = detector.detect(rgb)
            done += 1
            if progress:
                progress(done, len(wanted), f"frame {n}")
            yield n, found


def detect_media(model_id: str, media_path: str, kind: str, frames: Sequence[int] | None,
                 *, conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU,
                 classes: Sequence[str] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 progress: Callable[..., None] | None = None,
                 models_root: Path | None = None) -> dict[int | None, list[Detection]]:
    """Detections of the installed ``model_id`` on one media file. ``kind``: ``"image"``
    (result ``{None: [...]}``) or ``"video"`` (``{frame: [...]}`` for ``frames``, 0-based in
    presentation order, every frame when None; a frame with nothing found maps to ``[]``).
    ``should_stop()`` is asked before each picture: the frames done so far are returned.
    ``progress(done, total, what)`` counts pictures. Volumes raise :class:`VellumError` (not
    supported yet; their keys will be slice indices along array axis k)."""
    detector = load_detector(model_id, conf=conf, iou=iou, classes=classes,
                             models_root=models_root)
    return dict(iter_detections(detector, media_path, kind, frames, should_stop=should_stop,
                                progress=progress))


__all__ = ["Detection", "YoloDetector", "load_detector", "detect_media", "iter_detections"]
