"""Eraser tool: remove pixels from the selected mask, or from the mask under the pointer.

Round eraser of ``state.brush_radius`` image pixels; ``[`` / ``]`` change the size. Erasing a
mask's last pixel deletes the annotation. One stroke is one undo step.
"""

from __future__ import annotations

from app.core.annotations import Annotation
from app.tools.base import PointerEvent
from app.tools.paint import PaintTool, mask_under


class EraserTool(PaintTool):
    name = "eraser"
    label = "Eraser"
    shortcut = "E"
    tooltip = "Erase pixels of the selected mask or the mask under the pointer (E)"
    erase = True
    key_help = (("Drag", "erase pixels of the selected mask or the mask under the pointer"),
                ("[ ]", "smaller / larger eraser"))

    def target(self, press: PointerEvent) -> Annotation | None:
        found = mask_under(self.state, press)
        if found is None:
            self.message("Nothing to erase here: select a mask or start on one.")
        return found
