"""How opaque each segment's surface is in the 3D view (Qt-free; the Segments panel edits it,
:class:`~app.widgets.volume.view3d.View3D` reads it): one value per (label map, segment
value), 0.0 (invisible) .. 1.0 (opaque), 1.0 where none was set. Kept for the window's life
(a display setting, not part of the project)."""

from __future__ import annotations


class SurfaceOpacity:
    """Per-segment 3D opacity; see the module doc."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, int], float] = {}

    def get(self, labelmap_id: str | None, value: int) -> float:
        """The opacity of segment ``value`` of ``labelmap_id`` (1.0 when never set)."""
        return self._values.get((str(labelmap_id), int(value)), 1.0)

    def set(self, labelmap_id: str, value: int, opacity: float) -> float:
        """Set it (clamped to 0..1); returns the value kept."""
        kept = min(1.0, max(0.0, float(opacity)))
        self._values[(str(labelmap_id), int(value))] = kept
        return kept

    def percent(self, labelmap_id: str | None, value: int) -> int:
        """The opacity as a whole percentage (what the panel's cell shows)."""
        return int(round(self.get(labelmap_id, value) * 100))


def surface_style(opacity: float, master: float, hidden: bool) -> tuple[float, bool]:
    """The actor's (opacity, visibility) from the segment's own opacity, the view's slider for
    all surfaces (both 0..1, multiplied) and whether the Segments panel hides it."""
    shown = opacity * master
    return shown, (not hidden) and shown > 0
