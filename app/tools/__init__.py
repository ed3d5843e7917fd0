"""Editing tools: one file per tool, all implementing :class:`app.tools.base.Tool`.

``TOOLS`` lists them in toolbar order; adding a tool is a new file plus one line here.
"""

from __future__ import annotations

from app.tools.base import Tool
from app.tools.box import BoxTool
from app.tools.brush import BrushTool
from app.tools.eraser import EraserTool
from app.tools.keypoints import KeypointsTool
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
    CrosshairTool,
    SamTool,
    TagTool,
]


def tool_by_name(name: str) -> type[Tool]:
    """The tool class registered under ``name`` (KeyError if none)."""
    for t in TOOLS:
        if t.name == name:
            return t
    raise KeyError(name)
