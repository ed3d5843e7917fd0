"""Editing tools: one file per tool, all implementing :class:`app.tools.base.Tool`.

``TOOLS`` lists them in toolbar order; adding a tool is a new file plus one line here (or,
outside this package, a module named in ``$VELLUM_TOOLS`` whose ``TOOL`` is the class:
:func:`tool_classes`). A tool works on whatever surface its pointer event comes from, so it
draws on photos, video frames and every pane of a volume without knowing which.
"""

from __future__ import annotations

import importlib
import os

from app.tools.base import Tool
from app.tools.box import BoxTool
from app.tools.brush import BrushTool
from app.tools.effects.tool import EffectsTool
from app.tools.eraser import EraserTool
from app.tools.keypoints import KeypointsTool
from app.tools.measure_tool import MeasureTool
from app.tools.polygon import PolygonTool
from app.tools.polyline import PolylineTool
from app.tools.rotated_box import RotatedBoxTool
from app.tools.sam import SamTool
from app.tools.select import SelectTool
from app.tools.tag import TagTool
from app.tools.vertex import VertexTool
from app.tools.volume_crosshair import CrosshairTool
from app.tools.volume_fill import FillTool

TOOLS: list[type[Tool]] = [
    SelectTool,
    VertexTool,
    BoxTool,
    RotatedBoxTool,
    PolygonTool,
    PolylineTool,
    KeypointsTool,
    BrushTool,
    EraserTool,
    FillTool,
    EffectsTool,
    CrosshairTool,
    MeasureTool,
    SamTool,
    TagTool,
]


ENV = "VELLUM_TOOLS"  # more tool modules, comma-separated (plug-ins, the tests' example)


def tool_classes() -> list[type[Tool]]:
    """The window's tools in toolbar order: :data:`TOOLS`, then the ``TOOL`` of each module
    named in ``$VELLUM_TOOLS`` (a module that cannot be imported is an error: a plug-in
    asked for and missing should not pass unnoticed)."""
    out = list(TOOLS)
    for name in (m.strip() for m in os.environ.get(ENV, "").split(",")):
        if name:
            cls = getattr(importlib.import_module(name), "TOOL")
            if not (isinstance(cls, type) and issubclass(cls, Tool)):
                raise TypeError(f"{name}.TOOL is not a Tool class")
            if all(t.name != cls.name for t in out):
                out.append(cls)
    return out


def tool_by_name(name: str) -> type[Tool]:
    """The tool class registered under ``name`` (KeyError if none)."""
    for t in tool_classes():
        if t.name == name:
            return t
    raise KeyError(name)
