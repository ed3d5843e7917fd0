"""The model-task registry: tasks, families registered against them, manifests checked."""

from __future__ import annotations

import pytest

from app.core.errors import ModelError
from app.inference import tasks
from app.inference.manifest import bundled_families, bundled_manifests, parse_manifest


def test_tasks_and_families_declared() -> None:
    assert set(tasks.TASKS) == {"segment", "track", "detect"}
    assert set(tasks.families("segment")) == {"litemedsam", "sam-vit-onnx"}
    assert set(tasks.families("track")) == {"nanotrack"}
    assert set(tasks.families("detect")) == {"yolo-onnx"}


def test_every_bundled_manifest_names_a_registered_family() -> None:
    for m in [*bundled_manifests().values(), *bundled_families().values()]:
        assert tasks.check_family(m.family, m.task), m.id


def test_runner_classes_load() -> None:
    from app.inference.nanotrack import NanoTracker
    from app.inference.sam_families import LiteMedSam, SamVitOnnx

    assert tasks.family("litemedsam").load() is LiteMedSam
    assert tasks.family("sam-vit-onnx").load() is SamVitOnnx
    assert tasks.family("nanotrack").load() is NanoTracker
    from app.inference.detection import YoloDetector

    assert tasks.family("yolo-onnx").load() is YoloDetector


def _raw(task: str, family: str) -> dict:
    return {"manifest": 1, "id": "x", "task": task, "family": family, "kind": "family",
            "files": {"encoder": {"name": None, "sha256": None}}}


@pytest.mark.parametrize("task,family", [("track", "litemedsam"), ("detect", "yolo"),
                                         ("detect", "nanotrack"), ("classify", "litemedsam")])
def test_manifest_refused_for_wrong_or_unknown_family(task: str, family: str) -> None:
    with pytest.raises(ModelError, match="names a model family Vellum cannot run"):
        parse_manifest(_raw(task, family), "m.json", families={})


def test_register_family_checks_task() -> None:
    with pytest.raises(KeyError):
        tasks.register_family("f", "classify", "m:a")
    with pytest.raises(ValueError):
        tasks.register_family("nanotrack", "segment", "m:a")
    assert parse_manifest(_raw("segment", "litemedsam"), "m.json", families={}).task == "segment"
