"""PyInstaller runtime hook of the Vellum bundle (runs before the app's first import).

GPU variant only (the bundle holds ``nvidia/<pkg>/lib`` from the nvidia-* wheels): ONNX
Runtime's CUDA provider finds cuBLAS, cuDNN & co. only when they are already loaded or on the
loader's path, which a frozen app does not set up. Right after ``onnxruntime`` is imported this
calls its own ``preload_dlls()`` on the bundled copies (quietly: it prints on stdout, which
would spoil ``--json`` output); ``vellum models doctor`` then names whatever is still missing.
Nothing happens in the CPU variant, nor before onnxruntime is imported (start-up stays fast).
"""

import importlib.abc
import os
import sys

_NVIDIA = os.path.join(getattr(sys, "_MEIPASS", ""), "nvidia")


def _preload(ort):
    import contextlib
    import io

    preload = getattr(ort, "preload_dlls", None)
    if not callable(preload):
        return
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            preload(directory="")  # "": the nvidia/ folder beside onnxruntime/, then the system
    except Exception as exc:  # noqa: BLE001 - the doctor reports the provider's own failure
        said.write(f"{exc}\n")
    os.environ["VELLUM_CUDA_PRELOAD"] = said.getvalue().strip()[:2000] or "ok"


class _Loader(importlib.abc.Loader):
    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        _preload(module)

    def __getattr__(self, name):  # get_code, get_resource_reader, ... of the frozen importer
        return getattr(self.inner, name)


class _AfterOnnxruntime(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "onnxruntime":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


if os.path.isdir(_NVIDIA):
    sys.meta_path.insert(0, _AfterOnnxruntime())
