"""Keeping the panes' editor states and the window's one in step (Qt-free).

Each pane has its own :class:`~app.tools.state.EditorState` (its own place and picture size,
so the three panes edit at once), but class, selection, visibility, locks, paint options and
editing refusals are the window's: a change on either side is copied to the others. The brush
size lives in millimetres (``settings.radius_mm``); each state's ``brush_radius`` is that size
in picture pixels of its finer pixel side (what its cursor circle and the options bar show),
the window's in voxels of the volume's finest spacing. Status messages of a pane go to the
window's status bar.
"""

from __future__ import annotations

from collections.abc import Callable

from app.tools.state import EditorState
from app.tools.volume_brush import BrushSettings

SHARED = ("class_id", "selection", "paint_inside", "hidden", "hidden_classes",
          "locked_classes", "clipboard", "read_only", "refusal")


class StateLink:
    """Copies :data:`SHARED` fields between ``main`` and ``panes`` (see the module doc).
    ``mm_per_px[None]`` is the window's brush unit, ``mm_per_px[axis]`` a pane's (mm)."""

    def __init__(self, main: EditorState, panes: dict[str, EditorState],
                 settings: BrushSettings, mm_per_px: dict[str | None, float],
                 on_radius: Callable[[], None] | None = None) -> None:
        self.main, self.panes, self.settings = main, panes, settings
        self.mm_per_px, self.on_radius = mm_per_px, on_radius
        self._busy = False
        for name in SHARED:
            value = getattr(main, name)
            for s in panes.values():
                s.set(**{name: value})
        self._subs = [main.subscribe(lambda f: self._changed(None, f))]
        self._subs += [s.subscribe(lambda f, a=a: self._changed(a, f)) for a, s in panes.items()]
        self.push_radius()

    def close(self) -> None:
        for unsubscribe in self._subs:
            unsubscribe()
        self._subs = []
        self.main.set(brush_mm=0.0)

    def states(self) -> dict[str | None, EditorState]:
        return {None: self.main, **self.panes}

    def push_radius(self) -> None:
        """Every state's brush_radius from ``settings.radius_mm``."""
        self._busy = True
        try:
            for key, s in self.states().items():
                s.set(brush_radius=self.settings.radius_mm / self.mm_per_px[key],
                      brush_mm=self.mm_per_px[key])
        finally:
            self._busy = False
        if self.on_radius is not None:
            self.on_radius()

    def _changed(self, who: str | None, field: str) -> None:
        if self._busy:
            return
        source = self.states()[who]
        if field == "status" and who is not None:
            self.main.message(source.status)
            return
        if field == "brush_radius":
            self.settings.radius_mm = source.brush_radius * self.mm_per_px[who]
            self.push_radius()
            return
        if field not in SHARED:
            return
        value = getattr(source, field)
        self._busy = True
        try:
            for key, s in self.states().items():
                if key != who:
                    s.set(**{field: value})
        finally:
            self._busy = False
