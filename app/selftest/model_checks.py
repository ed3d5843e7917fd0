"""Self-test steps for AI: the bundled manifests, a tiny ONNX graph built here (ONNX Runtime
works even with no pack installed), and each installed model pack run once on the samples
(``--quick``: its files checked for presence and size only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.selftest import Context, Failed, Step
from app.selftest import samples as S


def check_manifests(ctx: Context) -> str:
    from app.inference.manifest import bundled_families, bundled_folder, require_bundled

    packs = require_bundled()
    families = bundled_families()
    return (f"{len(packs)} packs and {len(families)} family known "
            f"({', '.join(sorted(packs))}) from {bundled_folder()}")


def tiny_graph() -> tuple[bytes, np.ndarray, np.ndarray]:
    """A 3x3 convolution, a bias and a ReLU on a 1x1x8x8 input (ONNX opset 13), with an input
    and the output numpy computes for it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    weight = rng.normal(0, 0.5, (2, 1, 3, 3)).astype(np.float32)
    bias = np.array([0.1, -0.2], np.float32)
    x = rng.normal(0, 1, (1, 1, 8, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["y"])],
        "vellum-self-test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    padded = np.pad(x[0, 0], 1)
    want = np.empty((1, 2, 8, 8), np.float32)
    for o in range(2):
        for r in range(8):
            for c in range(8):
                want[0, o, r, c] = float((padded[r:r + 3, c:c + 3] * weight[o, 0]).sum())
        want[0, o] += bias[o]
    return model.SerializeToString(), x, np.maximum(want, 0)


def check_onnx(ctx: Context) -> tuple[str, str]:
    from app.inference.runtime import default_runtime, runtime_packages

    data, x, want = tiny_graph()
    path = ctx.folder / "tiny.onnx"
    path.write_bytes(data)
    runtime = default_runtime()
    session = runtime.session(path, label="The self-test's built-in ONNX graph")
    (got,) = session.run(None, {"x": x})
    if not np.allclose(got, want, atol=1e-4):
        raise Failed(f"ONNX Runtime computed a wrong answer for the built-in graph on "
                     f"{session.device} (off by {float(np.abs(got - want).max()):.3g}).",
                     session.device)
    unused = [f"{s.device} not used: {s.reason}" for s in runtime.providers() if not s.ok]
    fallback = f"; fell back: {session.fallback}" if session.fallback else ""
    return (f"{', '.join(runtime_packages()) or 'onnxruntime'} ran a Conv+ReLU graph exactly"
            + fallback + ("; " + "; ".join(unused) if unused else ""), session.device)


def _run_segmenter(pack: Any) -> tuple[str, str]:
    from app.inference.sam import SamSession

    with SamSession(pack) as sam:
        sam.set_image(S.image_rgb())
        answer = sam.predict(box=S.image_box()).best()
        device = sam.device
    mask = np.asarray(answer.mask)
    if mask.shape != S.image_rgb().shape[:2]:
        raise Failed(f"The {pack.id} model answered a mask of shape {mask.shape} for a "
                     f"{S.IMAGE_SIZE[0]}x{S.IMAGE_SIZE[1]} image.", device)
    return (f"segmented the sample box: {int(mask.sum())} pixels, predicted IoU "
            f"{answer.score:.2f}", device)


def _run_tracker(pack: Any) -> tuple[str, str]:
    from app.inference.nanotrack import NanoTracker

    tracker = NanoTracker(pack)
    tracker.init(S.frame_rgb(0), S.square_box(0))
    box, score, _lost = tracker.update(S.frame_rgb(1))
    want = S.square_box(1)
    shift = float(np.hypot(box[0] - want[0], box[1] - want[1]))
    if not np.isfinite(shift):
        raise Failed(f"The {pack.id} tracker answered no usable box.", tracker.device)
    return (f"tracked the sample square one frame: {shift:.1f} px off, score {score:.2f}",
            tracker.device)


def _pack_step(pack: Any, quick: bool) -> Step:
    def run(ctx: Context) -> Any:
        if quick:
            problems = pack.problems(deep=False)
            if problems:
                raise Failed(problems[0])
            return f"files present (not run with --quick) in {pack.folder}"
        problems = pack.problems(deep=True)
        if problems:
            raise Failed(problems[0])
        if pack.manifest.task == "segment":
            return _run_segmenter(pack)
        if pack.manifest.family == "nanotrack":
            return _run_tracker(pack)
        return f"verified; Vellum has no runner for its family {pack.manifest.family}"

    return Step(f"model {pack.id}", run)


def _folder_step(errors: list[str], root: Path) -> Step:
    def run(ctx: Context) -> Any:
        raise Failed(errors[0] if len(errors) == 1 else f"{errors[0]} (and {len(errors) - 1} "
                     "more)")

    return Step(f"model folder {root.name}", run)


def steps(quick: bool) -> list[Step]:
    """The manifests, the built-in graph, then one step per installed pack."""
    from app.inference.packs import installed_packs, models_dir

    out = [Step("model manifests", check_manifests),
           Step("ONNX Runtime (built-in graph)", check_onnx)]
    root = models_dir()
    try:
        packs, errors = installed_packs(root)
    except OSError as exc:  # a file where the folder should be, no permission...
        packs, errors = [], [f"The model folder {root} cannot be read "
                             f"({exc.strerror or exc})."]
    out += [_pack_step(p, quick) for p in packs]
    if errors:
        out.append(_folder_step(errors, root))
    return out


__all__ = ["steps", "tiny_graph"]
