"""Edits applied to the installed copy of a model graph (never to the user's source file).

``symbolic-hw``: the NanoTrack backbone declares a fixed 255 x 255 input, so ONNX Runtime
refuses the 127 x 127 template crop. Making the height and width of the graph's inputs and
outputs free (and dropping the fixed intermediate shapes an ONNX simplifier recorded) lets one
session serve both crops. Initialisers (the weights) and nodes are not touched.
"""

from __future__ import annotations

from pathlib import Path

from app.core.errors import ModelError

EDITS = ("symbolic-hw",)


def apply_edit(edit: str, src: Path, dst: Path) -> None:
    """Write ``src`` with ``edit`` applied to ``dst`` (``src`` is only read)."""
    if edit not in EDITS:
        raise ModelError(f"{src} asks for an edit Vellum does not know ({edit!r}).", src)
    try:
        import onnx
    except ImportError as exc:
        raise ModelError(f"Installing {src.name} needs the 'onnx' Python package, which is "
                         "missing from this installation.", src) from exc
    try:
        model = onnx.load(str(src))
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and others
        raise ModelError(f"{src} is not a readable ONNX graph ({exc}).", src) from exc
    graph = model.graph
    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        if len(dims) != 4:
            continue
        for axis, suffix in ((2, "height"), (3, "width")):
            dims[axis].ClearField("dim_value")
            dims[axis].dim_param = f"{value.name}_{suffix}"
    del graph.value_info[:]
    try:
        onnx.save(model, str(dst))
    except OSError as exc:
        raise ModelError(f"Cannot write {dst} ({exc.strerror}).", dst) from exc
