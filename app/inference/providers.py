"""Execution-provider choice for ONNX Runtime, and a plain-words name of the device models use.

Order of preference: CUDA (only when the driver reports a device: the onnxruntime-gpu wheel
lists CUDA even on machines without a GPU), DirectML, CoreML, then CPU, which always works.
"""

from __future__ import annotations

import ctypes
import sys

_PREFERENCE = (("CUDAExecutionProvider", "GPU (CUDA)"),
               ("DmlExecutionProvider", "GPU (DirectML)"),
               ("CoreMLExecutionProvider", "Apple (CoreML)"))


def cuda_device_count() -> int:
    """Number of CUDA devices the driver reports (0 without a driver or GPU)."""
    try:
        lib = ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
        count = ctypes.c_int(0)
        if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    except (OSError, AttributeError):
        return 0


def available_providers() -> list[str]:
    """Providers this onnxruntime build offers (empty if onnxruntime cannot be imported)."""
    from app.inference.runtime import load_onnxruntime

    try:
        return list(load_onnxruntime().get_available_providers())
    except Exception:  # noqa: BLE001 - a broken runtime means CPU-less models too; say none
        return []


def choose_providers(available: list[str] | None = None) -> list[str]:
    """Providers to pass to ``InferenceSession``, best first, always ending with CPU."""
    available = available_providers() if available is None else available
    chosen = [name for name, _ in _PREFERENCE if name in available and (
        name != "CUDAExecutionProvider" or cuda_device_count() > 0)]
    return chosen + ["CPUExecutionProvider"]


def compute_device(available: list[str] | None = None) -> str:
    """Where models will run, in words: 'GPU (CUDA)', 'GPU (DirectML)', 'Apple (CoreML)' or
    'CPU'. Without ``available`` this asks the runtime, which probes each provider by really
    creating a session (:mod:`app.inference.runtime`). Imports onnxruntime (slow the first
    time): call it off the UI thread."""
    if available is None:
        from app.inference.runtime import default_runtime

        return default_runtime().device()
    first = choose_providers(available)[0]
    return dict(_PREFERENCE).get(first, "CPU")
