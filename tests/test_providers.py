"""Execution-provider choice (the GPU path itself is exercised on a GPU machine only)."""

from __future__ import annotations

from app.inference import providers


def test_cpu_is_always_last_and_cuda_needs_a_device(monkeypatch):
    monkeypatch.setattr(providers, "cuda_device_count", lambda: 0)
    assert providers.choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CPUExecutionProvider"]
    assert providers.compute_device(["CUDAExecutionProvider"]) == "CPU"
    monkeypatch.setattr(providers, "cuda_device_count", lambda: 1)
    assert providers.choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers.compute_device(["CUDAExecutionProvider"]) == "GPU (CUDA)"
    assert providers.compute_device(["DmlExecutionProvider"]) == "GPU (DirectML)"


def test_the_installed_runtime_offers_cpu():
    assert "CPUExecutionProvider" in providers.available_providers()
    assert providers.compute_device() in ("CPU", "GPU (CUDA)")
