"""The runtime: providers probed by really creating a session, clear reasons for the ones that
fail, CPU fallback per model, one place for session options, the optimised-graph cache."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ModelError
from app.inference import runtime as rt

from test_inference_tiny_models import encoder


def _model(tmp_path: Path) -> Path:
    path = tmp_path / "enc.onnx"
    path.write_bytes(encoder(256))
    return path


def test_probing_really_creates_sessions_and_cpu_always_works():
    found = rt.probe_providers()
    assert found[-1].name == "CPUExecutionProvider" and found[-1].ok
    for status in found:
        assert status.ok or status.reason, f"{status.name} failed without saying why"
    runtime = rt.Runtime()
    assert runtime.preferred()[-1] == "CPUExecutionProvider"
    assert runtime.device() in ("CPU", "GPU (CUDA)", "GPU (DirectML)", "Apple (CoreML)")


def test_a_missing_cuda_library_is_named_and_models_still_run(monkeypatch, tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime build has no CUDA provider")
    if not rt._library_reason(ort, "CUDAExecutionProvider"):
        pytest.skip("the CUDA libraries are all present here")
    monkeypatch.setattr(rt, "_cuda_reason", lambda: "")  # as if a GPU and driver were there
    cuda = next(s for s in rt.probe_providers() if s.name == "CUDAExecutionProvider")
    assert not cuda.ok and (".so" in cuda.reason or ".dll" in cuda.reason)
    assert "\n" not in cuda.reason
    # and a model whose provider fails to load falls back to the CPU with the reason kept
    runtime = rt.Runtime()
    monkeypatch.setattr(runtime, "preferred", lambda: ["CUDAExecutionProvider",
                                                       "CPUExecutionProvider"])
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        session = runtime.session(_model(tmp_path))
    assert session.device == "CPU" and "GPU (CUDA)" in session.fallback
    assert said.getvalue() == "", "onnxruntime's fallback notice must not reach stdout"
    (out,) = session.run(None, {"image": np.zeros((1, 3, 256, 256), np.float32)})
    assert out.shape == (1, 256, 64, 64)


def test_bad_model_files_raise_one_sentence_naming_the_file(tmp_path):
    runtime = rt.Runtime(rt.RuntimeOptions(providers=("CPUExecutionProvider",)))
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(encoder(256)[:300])
    with pytest.raises(ModelError) as err:
        runtime.session(truncated)
    assert str(truncated) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ModelError, match="does not exist"):
        runtime.session(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        rt.graph_io(truncated)
    session = runtime.session(_model(tmp_path))
    with pytest.raises(ModelError, match="failed while running"):
        session.run(None, {"image": np.zeros((1, 3, 7, 7), np.float32)})


def test_session_options_and_the_optimised_graph_cache(tmp_path):
    options = rt.RuntimeOptions(threads=1, optimization="extended", cache_dir=tmp_path / "ort",
                                providers=("CPUExecutionProvider",))
    runtime = rt.Runtime(options)
    model = _model(tmp_path)
    first = runtime.session(model, sha256="a" * 64)
    cached = list((tmp_path / "ort").glob("*.onnx"))
    assert len(cached) == 1
    second = runtime.session(model, sha256="a" * 64)
    feed = {"image": np.random.default_rng(0).random((1, 3, 256, 256), np.float32)}
    np.testing.assert_allclose(first.run(None, feed)[0], second.run(None, feed)[0], rtol=1e-5,
                               atol=1e-6)
    cached[0].write_bytes(b"damaged")
    third = runtime.session(model, sha256="a" * 64)  # a broken cache entry is rebuilt
    assert third.run(None, feed)[0].shape == (1, 256, 64, 64)


def test_environment_options(monkeypatch):
    monkeypatch.setenv("VELLUM_PROVIDERS", "CPUExecutionProvider")
    monkeypatch.setenv("VELLUM_ORT_THREADS", "2")
    options = rt.RuntimeOptions.from_environment()
    assert options.providers == ("CPUExecutionProvider",) and options.threads == 2
    assert rt.Runtime(options).preferred() == ["CPUExecutionProvider"]
