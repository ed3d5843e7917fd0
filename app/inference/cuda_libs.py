"""Which package provides a library ONNX Runtime's GPU providers need, in words, so
``vellum models doctor`` can say what to install when one is missing (also in the frozen
bundle, whose GPU variant carries these libraries and whose CPU variant has no GPU provider).

ONNX Runtime's CUDA provider links the CUDA runtime, cuBLAS/cuBLASLt, cuRAND and cuFFT, loads
cuDNN 9 and NVRTC when it starts, and needs the NVIDIA driver's ``libcuda.so.1``. Each comes
from NVIDIA's pip wheels (``pip install "onnxruntime-gpu[cuda,cudnn]"`` brings the matching
ones) or from NVIDIA's CUDA toolkit and cuDNN packages; the driver only from NVIDIA's driver.
"""

from __future__ import annotations

import re

_PIP = 'pip install "onnxruntime-gpu[cuda,cudnn]"'

# (name prefix, what it is) - the longest prefix that matches wins
_LIBRARIES = (
    ("libcuda.so", "the NVIDIA driver's CUDA library: install the NVIDIA driver"),
    ("nvcuda", "the NVIDIA driver's CUDA library: install the NVIDIA driver"),
    ("libnvidia-", "part of the NVIDIA driver: install or update the NVIDIA driver"),
    ("libcudnn", "cuDNN {major}"),
    ("cudnn", "cuDNN {major}"),
    ("libcublaslt", "cuBLASLt (CUDA {major})"),
    ("libcublas", "cuBLAS (CUDA {major})"),
    ("cublas", "cuBLAS (CUDA {major})"),
    ("libcudart", "the CUDA runtime (CUDA {major})"),
    ("cudart", "the CUDA runtime (CUDA {major})"),
    ("libnvrtc", "NVRTC (CUDA {major})"),
    ("libcurand", "cuRAND of the CUDA toolkit"),
    ("libcufft", "cuFFT of the CUDA toolkit"),
    ("libnvinfer", "TensorRT {major}"),
    ("libnvonnxparser", "TensorRT {major}"),
)


def library_source(name: str) -> str:
    """What provides the library ``name`` (a file name or path, e.g. 'libcudnn.so.9') and how
    to get it, as a phrase; '' for a library this module does not know."""
    base = re.split(r"[\\/]", name.strip().strip("'\""))[-1]
    low = base.lower()
    for prefix, what in sorted(_LIBRARIES, key=lambda p: -len(p[0])):
        if low.startswith(prefix):
            break
    else:
        return ""
    if "driver" in what:
        return what
    major = re.search(r"\.so\.(\d+)|(?:64_|_)(\d+)\.dll$", low)
    number = (major.group(1) or major.group(2)) if major else ""
    what = what.format(major=number).replace(" ()", "").replace("CUDA )", "CUDA)").strip()
    what = re.sub(r"\s+", " ", what).replace("(CUDA )", "").strip()
    if what.startswith("TensorRT"):
        return f"{what}: install NVIDIA's TensorRT (pip tensorrt) or use the CUDA provider"
    return f"{what}: {_PIP} or NVIDIA's CUDA toolkit / cuDNN packages"


def missing_library(exc: BaseException) -> str:
    """The library named by a failed ``ctypes.CDLL`` (the loader's first word), looking past
    the frozen app's wrapper ('Failed to load dynlib/dll ... Most likely this dynlib/dll was
    not found when the application was frozen') to the loader's own message."""
    cause = exc.__cause__ or exc.__context__
    if cause is not None and "when the application was frozen" in str(exc):
        exc = cause
    return str(exc).strip().splitlines()[0].split(":")[0].strip() if str(exc).strip() else ""
