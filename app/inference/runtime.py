"""The one place that creates ONNX Runtime sessions.

At first use the runtime *probes* each execution provider this onnxruntime build offers
(TensorRT, CUDA, DirectML, CoreML, CPU) by really creating a one-node session on it:
``get_available_providers()`` lists CUDA from the GPU wheel even on a machine with no GPU, so
the list alone proves nothing. A provider that fails is skipped with a plain reason (no device,
a missing CUDA/cuDNN library, ...). Session options (threads, graph optimisation, the optional
on-disk cache of optimised graphs) are set here and nowhere else; every model session records
the provider it really runs on (:attr:`ModelSession.device`).

This is also the one module that imports ``onnxruntime`` (:func:`load_onnxruntime`; the CLI,
the window and the frozen bundle all come through it): it sets ``ORT_DISABLE_TELEMETRY=1``
before the first import and calls ``onnxruntime.disable_telemetry_events()``, so ONNX Runtime's
1DS telemetry (a device-id file under ``~/.cache/Microsoft`` and a telemetry host looked up on
the network) never runs. ``vellum models doctor`` reports it (:func:`telemetry_status`).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import os
import sys
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import ModelError
from app.inference.providers import cuda_device_count

# Probe order; the session preference is the same minus TensorRT unless asked for (TensorRT
# compiles an engine per model on first load, minutes for a SAM encoder).
PROVIDERS = (("TensorrtExecutionProvider", "GPU (TensorRT)"),
             ("CUDAExecutionProvider", "GPU (CUDA)"),
             ("DmlExecutionProvider", "GPU (DirectML)"),
             ("CoreMLExecutionProvider", "Apple (CoreML)"),
             ("CPUExecutionProvider", "CPU"))
DEVICE = dict(PROVIDERS)
_GPU_LIBS = {"TensorrtExecutionProvider": "onnxruntime_providers_tensorrt",
             "CUDAExecutionProvider": "onnxruntime_providers_cuda"}
_OPT_LEVELS = ("disabled", "basic", "extended", "all")
RUNTIME_PACKAGES = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml",
                    "onnxruntime-silicon", "onnxruntime-openvino", "ort-nightly",
                    "ort-nightly-gpu")

# A one-node ONNX graph (Identity on float[1], IR 8, opset 13), serialised once with the onnx
# package, so probing needs nothing but onnxruntime.
_PROBE_MODEL = (b'\x08\x08:;\n\x10\n\x01x\x12\x01y"\x08Identity\x12\x05probeZ\x0f\n\x01x\x12\n'
                b'\n\x08\x08\x01\x12\x04\n\x02\x08\x01b\x0f\n\x01y\x12\n\n\x08\x08\x01\x12\x04'
                b'\n\x02\x08\x01B\x04\n\x00\x10\r')


TELEMETRY_VARIABLE = "ORT_DISABLE_TELEMETRY"
_ORT: Any = None
_ORT_LOCK = threading.Lock()
_TELEMETRY: dict[str, Any] = {}


def load_onnxruntime() -> Any:
    """The ``onnxruntime`` module with its telemetry off; every use in Vellum comes through
    here. Raises whatever a broken install raises on import (callers report it)."""
    global _ORT
    with _ORT_LOCK:
        if _ORT is None:
            earlier = "onnxruntime" in sys.modules
            os.environ[TELEMETRY_VARIABLE] = "1"  # read by onnxruntime when it loads
            import onnxruntime as ort

            events = "not offered by this onnxruntime"
            disable = getattr(ort, "disable_telemetry_events", None)
            if callable(disable):
                try:
                    disable()
                    events = "disabled"
                except Exception as exc:  # noqa: BLE001 - say it, never fail a model for it
                    events = f"could not be disabled ({_first_line(exc)})"
            _TELEMETRY.update(loaded_before=earlier, events=events)
            _ORT = ort
        return _ORT


def deviceid_file() -> Path:
    """Where ONNX Runtime's telemetry writes its device id on Linux (``$XDG_CACHE_HOME`` or
    ``~/.cache``, then ``Microsoft/DeveloperTools/.onnxruntime/deviceid``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "Microsoft" / "DeveloperTools" / ".onnxruntime" / "deviceid"


def telemetry_status() -> dict[str, Any]:
    """Whether ONNX Runtime's telemetry is off in this process: ``off`` (bool), ``detail`` (a
    sentence) and ``deviceid`` (the path of a device-id file left by an earlier run, or '')."""
    try:
        load_onnxruntime()
    except Exception as exc:  # noqa: BLE001 - no runtime, no telemetry
        return {"off": True, "detail": f"onnxruntime cannot be imported ({_first_line(exc)})",
                "deviceid": ""}
    problems = []
    if _TELEMETRY.get("loaded_before"):
        problems.append("onnxruntime was imported before Vellum could set "
                        f"{TELEMETRY_VARIABLE}=1")
    if os.environ.get(TELEMETRY_VARIABLE) != "1":
        problems.append(f"{TELEMETRY_VARIABLE} was changed after onnxruntime loaded")
    if _TELEMETRY.get("events", "").startswith("could not"):
        problems.append(f"telemetry events {_TELEMETRY['events']}")
    left = deviceid_file()
    detail = (f"{TELEMETRY_VARIABLE}=1 set before onnxruntime loaded; telemetry events "
              f"{_TELEMETRY.get('events')}") if not problems else "; ".join(problems)
    return {"off": not problems, "detail": detail,
            "deviceid": str(left) if left.is_file() else ""}


@dataclass(frozen=True)
class ProviderStatus:
    """One execution provider after probing: usable or not, and why not in words."""

    name: str
    device: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class RuntimeOptions:
    """Session settings. ``threads`` 0 lets ONNX Runtime choose; ``providers`` restricts the
    choice (e.g. ``("CPUExecutionProvider",)``; ``$VELLUM_PROVIDERS``, comma-separated, sets it
    too); ``cache_dir`` keeps optimised graphs on disk, keyed by model hash, provider and
    onnxruntime version (``$VELLUM_ORT_CACHE``)."""

    threads: int = 0
    inter_threads: int = 0
    optimization: str = "all"
    cache_dir: Path | None = None
    providers: tuple[str, ...] | None = None
    tensorrt: bool = False

    @classmethod
    def from_environment(cls) -> RuntimeOptions:
        env = os.environ
        chosen = tuple(p.strip() for p in env.get("VELLUM_PROVIDERS", "").split(",") if p.strip())
        cache = env.get("VELLUM_ORT_CACHE")
        return cls(threads=int(env.get("VELLUM_ORT_THREADS", "0") or 0),
                   cache_dir=Path(cache) if cache else None, providers=chosen or None,
                   tensorrt=env.get("VELLUM_TENSORRT", "") == "1")


@dataclass
class ModelSession:
    """An ONNX Runtime session with what the user needs to know about it."""

    session: Any
    path: Path
    provider: str
    fallback: str = ""
    inputs: dict[str, tuple[list[Any], str]] = field(default_factory=dict)
    outputs: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def device(self) -> str:
        """Where this model runs, in words: 'CPU', 'GPU (CUDA)', ..."""
        return DEVICE.get(self.provider, self.provider)

    def run(self, outputs: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """``InferenceSession.run``; a runtime failure becomes a :class:`ModelError`."""
        try:
            return self.session.run(outputs, feeds)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ModelError(f"{self.path} failed while running ({_first_line(exc)}).",
                             self.path) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[-1] if text else type(exc).__name__
    return line.rstrip(".")[:240]


_PRINT_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet(ort: Any):
    """Silence onnxruntime while probing: its C++ log (stderr) and the Python fallback notice it
    prints on *stdout* (which would corrupt ``--json`` output). The notice is caught by giving
    onnxruntime's session module a ``print`` of its own for the moment - never by swapping
    ``sys.stdout``, which would swallow what other threads print meanwhile."""
    collection = ort.capi.onnxruntime_inference_collection

    ort.set_default_logger_severity(4)
    buffer = io.StringIO()
    with _PRINT_LOCK:
        collection.print = lambda *args, **kwargs: print(*args, file=buffer)  # type: ignore
        try:
            yield buffer
        finally:
            del collection.print  # type: ignore[attr-defined]
            ort.set_default_logger_severity(3)


def _cuda_reason() -> str:
    """Why CUDA cannot run here, or '' when a driver reports a device."""
    try:
        ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
    except OSError:
        return "no NVIDIA driver is installed (libcuda cannot be loaded)"
    if cuda_device_count() == 0:
        return "the NVIDIA driver reports no usable GPU"
    return ""


def _library_reason(ort: Any, provider: str) -> str:
    """Load the provider's shared library ourselves: the loader names the missing dependency
    (``libcudnn.so.9``, ``libcublasLt.so.12``...) where onnxruntime only says it failed."""
    stem = _GPU_LIBS.get(provider)
    if stem is None:
        return ""
    capi = Path(ort.__file__).parent / "capi"
    name = f"{stem}.dll" if sys.platform == "win32" else f"lib{stem}.so"
    if not (capi / name).exists():
        return f"this onnxruntime build has no {name}"
    try:
        ctypes.CDLL(str(capi / name))
    except OSError as exc:
        from app.inference.cuda_libs import library_source, missing_library

        missing = missing_library(exc)
        source = library_source(missing)
        return (f"a library it needs is missing or the wrong version ({missing}"
                + (f"; {source}" if source else "") + ")")
    return ""


def probe_providers() -> list[ProviderStatus]:
    """Try every provider this build offers on a one-node graph; CPU always comes last."""
    try:
        ort = load_onnxruntime()
    except Exception as exc:  # noqa: BLE001 - a broken install must still be reported
        return [ProviderStatus("CPUExecutionProvider", "CPU", False,
                               f"onnxruntime cannot be imported ({_first_line(exc)})")]
    offered = set(ort.get_available_providers())
    found: list[ProviderStatus] = []
    for name, device in PROVIDERS:
        if name not in offered:
            continue
        reason = ""
        if name in _GPU_LIBS:
            reason = "; ".join(r for r in (_cuda_reason(), _library_reason(ort, name)) if r)
        if not reason:
            reason = _try_session(ort, name)
        found.append(ProviderStatus(name, device, not reason, reason))
    if not any(s.name == "CPUExecutionProvider" for s in found):
        found.append(ProviderStatus("CPUExecutionProvider", "CPU", False,
                                    "this onnxruntime build offers no CPU provider"))
    return found


def _try_session(ort: Any, provider: str) -> str:
    options = ort.SessionOptions()
    options.log_severity_level = 4
    with _quiet(ort) as said:
        try:
            session = ort.InferenceSession(_PROBE_MODEL, options, providers=[provider])
            session.run(None, {"x": np.zeros(1, np.float32)})
        except Exception as exc:  # noqa: BLE001
            return f"creating a session failed ({_first_line(exc)})"
    if session.get_providers()[0] != provider:
        notice = said.getvalue().strip().splitlines()
        return "onnxruntime fell back to the CPU" + (f" ({notice[0][:160]})" if notice else "")
    return ""


def runtime_packages() -> list[str]:
    """Installed onnxruntime distributions as 'name version'; more than one means they shadow
    each other (they share the ``onnxruntime`` import name, the last installed wins)."""
    found = []
    for name in RUNTIME_PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found


class Runtime:
    """Probes providers once (lazily, thread-safe) and opens model sessions on the best one."""

    def __init__(self, options: RuntimeOptions | None = None) -> None:
        self.options = options or RuntimeOptions.from_environment()
        self._lock = threading.Lock()
        self._probed: list[ProviderStatus] | None = None

    def providers(self) -> list[ProviderStatus]:
        """Every offered provider with whether it works here (probed on first call)."""
        with self._lock:
            if self._probed is None:
                self._probed = probe_providers()
            return list(self._probed)

    def preferred(self) -> list[str]:
        """Working providers to try for a model, best first, ending with CPU."""
        allowed = self.options.providers
        chosen = [s.name for s in self.providers() if s.ok
                  and (allowed is None or s.name in allowed)
                  and (s.name != "TensorrtExecutionProvider" or self.options.tensorrt)]
        if "CPUExecutionProvider" not in chosen:
            chosen.append("CPUExecutionProvider")
        return chosen

    def device(self) -> str:
        """Where a model opened now would run, in words."""
        return DEVICE.get(self.preferred()[0], "CPU")

    def _session_options(self, ort: Any, level: str | None = None) -> Any:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.intra_op_num_threads = max(0, int(self.options.threads))
        so.inter_op_num_threads = max(0, int(self.options.inter_threads))
        level = level or self.options.optimization
        if level not in _OPT_LEVELS:
            level = "all"
        so.graph_optimization_level = {
            "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
        return so

    def _cached_graph(self, path: Path, sha256: str | None, provider: str) -> tuple[Path, bool]:
        """Where the optimised copy of ``path`` lives in the cache, and whether it exists."""
        ort = load_onnxruntime()
        assert self.options.cache_dir is not None
        digest = sha256 or hashlib.sha256(
            f"{path.resolve()}|{path.stat().st_size}|{path.stat().st_mtime_ns}".encode()).hexdigest()
        key = hashlib.sha256(f"{digest}|{provider}|{ort.__version__}|"
                             f"{self.options.optimization}".encode()).hexdigest()[:32]
        cached = Path(self.options.cache_dir) / f"{key}.onnx"
        return cached, cached.is_file()

    def session(self, path: str | Path, *, sha256: str | None = None,
                label: str | None = None) -> ModelSession:
        """Open ``path`` on the best working provider, falling back towards the CPU when a
        provider refuses this model (the reason is kept in :attr:`ModelSession.fallback`).
        Raises :class:`ModelError` naming the file when no provider can open it."""
        ort = load_onnxruntime()
        path = Path(path)
        what = label or str(path)
        if not path.is_file():
            raise ModelError(f"The model file {path} does not exist.", path)
        reasons: list[str] = []
        for provider in self.preferred():
            with _quiet(ort) as said:
                try:
                    session = self._open(ort, path, sha256, provider)
                except Exception as exc:  # noqa: BLE001
                    reasons.append(f"{DEVICE.get(provider, provider)}: {_first_line(exc)}")
                    continue
            actual = session.get_providers()[0]
            if actual != provider:
                notice = said.getvalue().strip().splitlines()
                reasons.append(f"{DEVICE.get(provider, provider)}: onnxruntime fell back to "
                               f"{DEVICE.get(actual, actual)}"
                               + (f" ({notice[0][:160]})" if notice else ""))
            return ModelSession(
                session, path, actual, "; ".join(reasons),
                {i.name: (list(i.shape), i.type) for i in session.get_inputs()},
                {o.name: list(o.shape) for o in session.get_outputs()})
        detail = reasons[-1].split(": ", 1)[-1] if reasons else "no provider"
        raise ModelError(f"{what} cannot be loaded by ONNX Runtime ({detail}).", path)

    def _open(self, ort: Any, path: Path, sha256: str | None, provider: str) -> Any:
        providers = [provider] if provider == "CPUExecutionProvider" else [
            provider, "CPUExecutionProvider"]
        if self.options.cache_dir is None:
            return ort.InferenceSession(str(path), self._session_options(ort),
                                        providers=providers)
        cached, exists = self._cached_graph(path, sha256, provider)
        if exists:
            try:
                return ort.InferenceSession(str(cached), self._session_options(ort, "disabled"),
                                            providers=providers)
            except Exception:  # noqa: BLE001 - a damaged cache entry: rebuild it
                cached.unlink(missing_ok=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.stem}.{os.getpid()}.{threading.get_ident()}.onnx")
        so = self._session_options(ort)
        so.optimized_model_filepath = str(tmp)
        session = ort.InferenceSession(str(path), so, providers=providers)
        if tmp.exists():
            os.replace(tmp, cached)
        return session


_DEFAULT: Runtime | None = None
_DEFAULT_LOCK = threading.Lock()


def default_runtime() -> Runtime:
    """The process-wide runtime (options from the environment)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Runtime()
        return _DEFAULT


def graph_io(path: str | Path) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Inputs and outputs (name -> shape, strings for free dims) of an ONNX file, read by
    opening it on the CPU without optimising; :class:`ModelError` naming the file when ONNX
    Runtime cannot read it (truncated, damaged, not ONNX)."""
    ort = load_onnxruntime()
    p = Path(path)
    so = ort.SessionOptions()
    so.log_severity_level = 4
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{p} is not a readable ONNX model ({_first_line(exc)}).", p) from exc
    return ({i.name: list(i.shape) for i in session.get_inputs()},
            {o.name: list(o.shape) for o in session.get_outputs()})
