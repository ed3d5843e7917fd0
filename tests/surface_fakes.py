"""A surface for tests of tools on a volume slice without the volume mode: its strokes paint
one fixed label map segment (what a volume pane's surface names)."""

from __future__ import annotations

from app.core.places import Place
from app.tools.paint import LabelMapPaint
from app.tools.surface import Surface


class PaintingSurface(Surface):
    """Strokes on any slice place paint ``paint``; ``place`` None follows the editor's."""

    def __init__(self, paint: LabelMapPaint, place: Place | None = None) -> None:
        super().__init__(place, None if place is None else (0, 0))
        self.paint = paint

    def labelmap(self, place: Place, create: bool = True) -> LabelMapPaint | None:
        return self.paint if place.is_slice else None
