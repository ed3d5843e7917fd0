"""The ``yolo-onnx`` detector family, and the worker-side API of detection jobs.

:class:`YoloDetector` runs an Ultralytics YOLO detector exported to ONNX (v5, v8/v11 and
their segment/pose heads read for boxes, end-to-end v10/YOLO26 heads, exports with NMS
inside; transposed or without the batch axis; float16; any input name, dynamic batch and
size) from an installed pack (``vellum models import FOLDER``, see
:mod:`app.inference.detection_manifest`); :mod:`app.inference.detection_layout` picks the
head among the outputs, :mod:`app.inference.detection_decode` does Ultralytics' letterbox,
decode and class-aware NMS. Images are RGB uint8 ``(H, W, 3)``; boxes come back as :class:`Detection`
``(box=(x, y, w, h), label, score)``, ``box`` in continuous pixel coordinates of the source
picture (``../shared/CONVENTIONS.md``), clipped to it; ``score`` in [0, 1].

Worker-side API (plain functions of picklable arguments, for batch jobs in worker processes):

- :func:`load_detector` - an installed model by id, with its thresholds and class filter;
  sessions are kept per process, so a worker opens each model once.
- :func:`detect_media` - detections on one media file: an image gives ``{None: [...]}``, a
  video ``{frame index: [...]}`` for the frames asked (0-based, presentation order, the
  project's decoder ``app.io.video.open_video``; every frame when ``frames`` is None), each
  frame present even when nothing was found; a volume ``{slice index: [...]}`` along an
  array axis (k by default), each slice windowed to 8-bit (:func:`volume_slices`).
- :func:`app.inference.detection_records.detection_records` - those results as annotations.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from app.core.errors import BadInputError, ModelError
from app.inference import detection_decode as dd
from app.inference import detection_layout as dl
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
        image = dl.image_input(self.session.inputs and
                               {k: v[0] for k, v in self.session.inputs.items()})
        if image is None:
            raise ModelError(f"{pack.path(ROLE)} does not take one image input [1, 3, H, W], "
                             "so it is not a YOLO detector.", pack.folder)
        self.input = image
        self.input_name = image.name
        kind = str(self.session.inputs[image.name][1])
        self.dtype = (np.float16 if "float16" in kind else np.float64 if "double" in kind
                      else np.float32)  # the graph's own input type (fp16 exports)
        self.stride = int(m.raw.get("stride") or 32)
        if image.fixed_hw is not None:  # a fixed input: letterbox to exactly its size
            self.shape, self.auto = image.fixed_hw, False
        else:  # a free input: Ultralytics' size rounded up to the stride, minimal padding
            side = dd.make_divisible(m.input_size or 640, self.stride)
            self.shape, self.auto = (side, side), True
        raw_e2e = m.raw.get("end2end")
        task = m.raw.get("export_task")
        extras = m.raw.get("extras")
        self.hints = dl.Hints(
            len(self.names), None, raw_e2e if isinstance(raw_e2e, bool) else None,
            tuple(int(e) for e in extras) if isinstance(extras, list) and extras
            and all(isinstance(e, int) for e in extras)
            else dl.extras_for(task if isinstance(task, str) else None, m.raw.get("kpt_shape"),
                               self.session.outputs))
        self._wanted = m.raw.get("output")
        self.head: dl.Head | None = None
        outputs = self.session.outputs
        fixed = not dl.has_free_dims(outputs)
        if self.layout is not None or self._wanted is not None or fixed:
            self.head = dl.choose_head(outputs, self._hints(self.shape), layout=self.layout,
                                       output=self._wanted)
        if self.head is None and (fixed or not dl.possible(outputs, self.hints)):
            self._refuse(outputs)
        self._checked = False

    @property
    def device(self) -> str:
        return self.session.device

    @property
    def layout_name(self) -> str | None:
        """The layout read (known once the head is settled)."""
        return self.head.layout if self.head else self.layout

    def _hints(self, hw: tuple[int, int] | None) -> dl.Hints:
        return dl.Hints(self.hints.nc, hw, self.hints.end2end, self.hints.extras)

    def _refuse(self, outputs: dict[str, Any]) -> None:
        nc = len(self.names)
        what = (f"not the {dl.layout_words(self.layout)} layout" if self.layout
                else "none of the YOLO detection layouts")
        raise ModelError(f"{self.pack.path(ROLE)} gives {dl.shapes_words(outputs)}, which "
                         f"{'is' if len(outputs) == 1 else 'are'} {what} for its {nc} class "
                         "names.", self.pack.folder)

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

    def _feed(self, padded: np.ndarray) -> np.ndarray:
        tensor = dd.to_tensor(padded, self.dtype)
        if self.input.channels_last:
            tensor = np.ascontiguousarray(tensor.transpose(0, 2, 3, 1))
        if self.input.batch > 1:  # a fixed batch: the picture repeated, the first answer read
            tensor = np.repeat(tensor, self.input.batch, axis=0)
        return tensor

    def _run(self, tensor: np.ndarray, hw: tuple[int, int]) -> list[np.ndarray]:
        """The head's outputs for ``tensor`` (settling the head on the first run when the
        graph's shapes left it open)."""
        names = list(self.session.outputs)
        if self.head is not None:
            wanted = [n for n in self.head.outputs if n]
            found = self.session.run(wanted, {self.input_name: tensor})
            got = dict(zip(wanted, found))
        else:
            got = dict(zip(names, self.session.run(None, {self.input_name: tensor})))
            shapes = {n: list(np.shape(a)) for n, a in got.items()}
            self.head = dl.choose_head(shapes, self._hints(hw), layout=self.layout,
                                       output=self._wanted)
            if self.head is None:
                self._refuse(shapes)
        if not self._checked:
            shapes = {n: list(np.shape(a)) for n, a in got.items()}
            if self.head.layout != dl.NMS and not dl.check_layout(
                    shapes[self.head.outputs[0]], self.head.layout, len(self.names)):
                self._refuse(shapes)
            self._checked = True
        return [got[n] if n else None for n in self.head.outputs]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detections on one RGB picture (grey and RGBA are read as RGB), best first."""
        rgb = _as_rgb(image)
        padded, plan = dd.letterbox(rgb, self.shape, auto=self.auto, stride=self.stride)
        raw = self._run(self._feed(padded), padded.shape[:2])
        found = dd.decode(raw if self.head.layout == dl.NMS else raw[0], self.head.layout,
                          len(self.names), conf=self.conf, iou=self.iou,
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


def _frame_list(frames: Sequence[int] | None, count: int, path: str,
                what: str = "frames") -> list[int]:
    if frames is None:
        return list(range(count))
    wanted = sorted({int(f) for f in frames})
    bad = [f for f in wanted if not 0 <= f < count]
    if bad:
        raise BadInputError(f"{path} has {what} 0 to {count - 1}; {what[:-1]} {bad[0]} is "
                            "outside them.", path)
    return wanted


def volume_slices(media_path: str, *, source: Any = None, geometry: Any = None,
                  axis: str = "k", window: tuple[float, float] | None = None,
                  frames: Sequence[int] | None = None
                  ) -> tuple[list[int], Callable[[int], np.ndarray]]:
    """``(slice indices, picture(index))`` of a volume for a detector: slices along array
    ``axis`` (k, j or i; ``frames`` = the indices wanted, every slice when None), each the
    2-D picture of its :class:`~app.core.places.Place` (axis k: ``[j, i]``, x = i, y = j; see
    ``app/core/places.py``) windowed to 8-bit with ``window`` (width, level in the volume's
    units), by default the one ``vellum segment --slice`` uses (CT soft tissue, else the 1-99
    percentiles of the whole volume). ``source``/``geometry``: the project's
    :class:`~app.core.media.VolumeSource` and stored grid (a DICOM series, a 4-D NIfTI's
    volume); a plain NIfTI path needs neither."""
    from app.inference.masks import window_to_uint8
    from app.io.planes import default_window
    from app.io.volume import load_source, load_volume

    if axis not in ("k", "j", "i"):
        raise BadInputError(f"A volume slice is along array axis k, j or i (got {axis!r}).")
    volume = (load_source(media_path, source, expected=geometry) if source is not None
              else load_volume(media_path))
    array = volume.array
    if window is None:
        wl = default_window(getattr(source, "modality", "") or volume.modality or "", array)
        window = (float(wl.width), float(wl.level))
    elif not float(window[0]) > 0:
        raise BadInputError(f"A window needs a positive width (got {window[0]:g}).")
    width, level = float(window[0]), float(window[1])
    n_axis = "kji".index(axis)
    wanted = _frame_list(frames, int(array.shape[n_axis]), media_path, "slices")

    def picture(index: int) -> np.ndarray:
        return window_to_uint8(np.take(array, index, axis=n_axis), width, level)

    return wanted, picture


def iter_detections(detector: YoloDetector, media_path: str, kind: str,
                    frames: Sequence[int] | None = None, *,
                    should_stop: Callable[[], bool] | None = None,
                    progress: Callable[..., None] | None = None, source: Any = None,
                    geometry: Any = None, axis: str = "k",
                    window: tuple[float, float] | None = None
                    ) -> Iterator[tuple[int | None, list[Detection]]]:
    """``(key, detections)`` per picture of a media file, in order (see :func:`detect_media`
    for the keys); stops before the next picture once ``should_stop()`` is true. On a volume
    ``frames`` are slice indices along ``axis`` (see :func:`volume_slices` for ``source``,
    ``geometry`` and ``window``)."""
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
        wanted, picture = volume_slices(media_path, source=source, geometry=geometry,
                                        axis=axis, window=window, frames=frames)
        for done, index in enumerate(wanted, 1):
            if should_stop and should_stop():
                return
            found = detector.detect(picture(index))
            if progress:
                progress(done, len(wanted), f"slice {axis}={index}")
            yield index, found
        return
    if kind != "video":
        raise BadInputError(f"{media_path}: unknown media kind {kind!r} (image, video or "
                            "volume).", media_path)
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
                 models_root: Path | None = None, source: Any = None, geometry: Any = None,
                 axis: str = "k", window: tuple[float, float] | None = None
                 ) -> dict[int | None, list[Detection]]:
    """Detections of the installed ``model_id`` on one media file. ``kind``: ``"image"``
    (result ``{None: [...]}``), ``"video"`` (``{frame: [...]}`` for ``frames``, 0-based in
    presentation order, every frame when None) or ``"volume"`` (``{slice index: [...]}`` along
    array ``axis``, k by default, each slice windowed to 8-bit: see :func:`volume_slices`;
    boxes in that slice's pixel coordinates); a picture with nothing found maps to ``[]``.
    ``should_stop()`` is asked before each picture: the pictures done so far are returned.
    ``progress(done, total, what)`` counts pictures."""
    detector = load_detector(model_id, conf=conf, iou=iou, classes=classes,
                             models_root=models_root)
    return dict(iter_detections(detector, media_path, kind, frames, should_stop=should_stop,
                                progress=progress, source=source, geometry=geometry,
                                axis=axis, window=window))


__all__ = ["Detection", "YoloDetector", "load_detector", "detect_media", "iter_detections",
           "volume_slices"]
