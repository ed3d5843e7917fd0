"""The model-task registry: what kinds of model Vellum runs and which families run each.

A *task* (``segment``, ``track``, ``detect``) is what a model does for the user; each has a
protocol its runners implement (:class:`Segmenter`, :class:`TrackerRunner`, :class:`Detector`).
A *family* is one way of feeding a task's models (``litemedsam``, ``sam-vit-onnx``,
``nanotrack``): it registers against exactly one task with :func:`register_family`, naming the
class that runs it as ``"module:attribute"`` so that reading a manifest never imports OpenCV or
ONNX Runtime. A manifest (``app/models/*.json``, or one a pack brings) says its ``task`` and
``family``; :func:`check_family` refuses a family that is not registered or registered for
another task. ``detect`` has one family, ``yolo-onnx`` (Ultralytics YOLO detectors exported to
ONNX: v5, v8/v11 and their segment/pose heads read for boxes, end-to-end v10/YOLO26 heads;
:mod:`app.inference.detection`), whose packs ``vellum models import FOLDER`` makes from a bare
``.onnx`` and its class names (:mod:`app.inference.detection_manifest`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

Box = tuple[float, float, float, float]


class Segmenter(Protocol):
    """``segment``: a mask from a box and/or points on an image (``app.inference.sam``)."""

    model_id: str

    def segment(self, image: np.ndarray, box: Sequence[float] | None = None,
                points: Sequence[Sequence[float]] = (), labels: Sequence[int] = (),
                place: str = "") -> Any: ...


class TrackerRunner(Protocol):
    """``track``: a single object followed frame by frame (``app.inference.tracking``)."""

    model_id: str
    device: str

    def init(self, frame: np.ndarray, box: Box) -> None: ...

    def update(self, frame: np.ndarray) -> tuple[Box, float, bool]: ...


class Detector(Protocol):
    """``detect``: boxes ``(x, y, w, h)`` in continuous source pixels with class names and
    scores on an RGB image (``app.inference.detection``: each item is a ``Detection``, a
    ``(box, label, score)`` named tuple)."""

    model_id: str

    def detect(self, image: np.ndarray) -> list[tuple[Box, str, float]]: ...


@dataclass(frozen=True)
class Task:
    """A model task: its name, a line saying what it does, and the protocol its runners meet."""

    name: str
    summary: str
    protocol: type


@dataclass(frozen=True)
class Family:
    """A model family registered against ``task``; ``runner`` is ``"module:attribute"``, the
    class that feeds its graphs (built from the pack's manifest)."""

    id: str
    task: str
    runner: str

    def load(self) -> Any:
        """The runner class (imports its module now)."""
        module, _, attr = self.runner.partition(":")
        return getattr(importlib.import_module(module), attr)


SEGMENT, TRACK, DETECT = "segment", "track", "detect"
TASKS: dict[str, Task] = {}
_FAMILIES: dict[str, Family] = {}


def register_task(task: Task) -> Task:
    TASKS[task.name] = task
    return task


def register_family(family_id: str, task: str, runner: str) -> Family:
    """Register ``family_id`` as a way of running ``task`` models (``KeyError`` for a task
    not declared; ``ValueError`` when the family is already registered for another task)."""
    if task not in TASKS:
        raise KeyError(f"unknown model task {task!r}")
    known = _FAMILIES.get(family_id)
    if known is not None and known.task != task:
        raise ValueError(f"model family {family_id!r} is already registered for {known.task!r}")
    family = Family(family_id, task, runner)
    _FAMILIES[family_id] = family
    return family


def families(task: str | None = None) -> dict[str, Family]:
    """The registered families (of ``task``), by id."""
    return {k: f for k, f in _FAMILIES.items() if task is None or f.task == task}


def family(family_id: str) -> Family | None:
    return _FAMILIES.get(family_id)


def check_family(family_id: Any, task: Any) -> bool:
    """Whether a manifest's ``family`` is registered and registered for its ``task``."""
    found = _FAMILIES.get(family_id) if isinstance(family_id, str) else None
    return found is not None and found.task == task


register_task(Task(SEGMENT, "a mask from a box or points on an image", Segmenter))
register_task(Task(TRACK, "one object followed along a video", TrackerRunner))
register_task(Task(DETECT, "boxes with classes and scores on an image", Detector))

register_family("litemedsam", SEGMENT, "app.inference.sam_families:LiteMedSam")
register_family("sam-vit-onnx", SEGMENT, "app.inference.sam_families:SamVitOnnx")
register_family("nanotrack", TRACK, "app.inference.nanotrack:NanoTracker")
register_family("yolo-onnx", DETECT, "app.inference.detection:YoloDetector")
