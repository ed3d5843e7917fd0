"""Brush tool: paint a mask with a round brush of ``state.brush_radius`` image pixels.

Paints into the selected mask when exactly one mask is selected, otherwise starts a new mask of
the active class. ``[`` / ``]`` shrink / grow the brush, ``G`` fills the holes of the selected
mask. With ``state.paint_inside`` on, paint stays inside the selected polygon, box or mask.
"""

from __future__ import annotations

from app.core.annotations import Annotation
from app.core.shapes import Mask
from app.tools.base import KeyEvent, Option, OptionKind, PointerEvent
from app.tools.paint import BRUSH_SIZE, PAINT_INSIDE, PaintTool, fill_selected_holes

FILL_HOLES = Option(OptionKind.ACTION, "Fill holes", "Fill the holes of the selected mask (G)",
                    run=lambda tool: fill_selected_holes(tool.state))


class BrushTool(PaintTool):
    name = "brush"
    label = "Brush"
    shortcut = "B"
    tooltip = "Paint a mask; [ and ] change the size, G fills holes (B)"
    erase = False
    keys = PaintTool.keys | {"G"}
    draws = True
    options = (BRUSH_SIZE, PAINT_INSIDE, FILL_HOLES)
    key_help = (("Drag", "paint into the selected mask, or a new one"),
                ("[ ]", "smaller / larger brush"), ("G", "fill the holes of the selected mask"))

    def target(self, press: PointerEvent) -> Annotation | None:
        masks = [a for a in self.state.selected(self.surface) if isinstance(a.shape, Mask)]
        if len(masks) == 1:
            return masks[0]
        return None

    def key(self, e: KeyEvent) -> bool:
        if e.key == "G" and e.plain and not self.busy:
            fill_selected_holes(self.state)
            return True
        return super().key(e)
