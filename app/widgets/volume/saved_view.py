"""How one volume was left on screen, kept in the project so that reopening it (in this window
or a new one) shows it the same way (Qt-free): the layout (1x3, 2x2, single, or the pane
maximised), the active pane, window/level (and the preset it was chosen as), the crosshair
(a continuous voxel index ``(i, j, k)``, 0-based, so every pane's slice), and the zoom and
centre of each pane the user zoomed or panned (screen px per display unit; the picture point
at the pane's middle, continuous picture px). Panes left fitted are not listed: they fit.

Stored under ``"volumes"`` -> media id in the project's view state beside the place, zoom
and hidden classes that :mod:`app.widgets.view_memory` keeps for photos and video; what
cannot be read back (an older or hand-edited project) is ignored field by field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.core.geometry import PANES

LAYOUTS = ("1x3", "2x2", "single")


@dataclass(frozen=True)
class PaneZoom:
    """A pane's zoom (screen px per display unit) and the picture point at its middle."""

    zoom: float
    center: tuple[float, float]


@dataclass(frozen=True)
class SavedView:
    """See the module doc; None / empty fields mean "as a volume first opens"."""

    layout: str = "1x3"
    maximised: str | None = None
    active: str = "axial"
    window: tuple[float, float] | None = None  # width, level (the volume's units)
    preset: str | None = None
    voxel: tuple[float, float, float] | None = None  # the crosshair (i, j, k)
    panes: dict[str, PaneZoom] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"layout": self.layout, "active": self.active}
        if self.maximised:
            out["maximised"] = self.maximised
        if self.window is not None:
            out["window"] = list(self.window)
        if self.preset:
            out["preset"] = self.preset
        if self.voxel is not None:
            out["voxel"] = list(self.voxel)
        if self.panes:
            out["panes"] = {n: {"zoom": p.zoom, "center": list(p.center)}
                            for n, p in self.panes.items()}
        return out

    @classmethod
    def from_json(cls, data: Any) -> SavedView | None:
        """The view stored as ``data``, None when it is not one; bad fields are dropped."""
        if not isinstance(data, dict):
            return None
        layout = data.get("layout") if data.get("layout") in LAYOUTS else "1x3"
        maximised = data.get("maximised") if data.get("maximised") in PANES else None
        active = data.get("active") if data.get("active") in PANES else "axial"
        window = _numbers(data.get("window"), 2)
        if window is not None and window[0] <= 0:
            window = None
        preset = data.get("preset") if isinstance(data.get("preset"), str) else None
        voxel = _numbers(data.get("voxel"), 3)
        panes: dict[str, PaneZoom] = {}
        raw = data.get("panes")
        for name in PANES:
            p = raw.get(name) if isinstance(raw, dict) else None
            if not isinstance(p, dict):
                continue
            zoom, center = _numbers([p.get("zoom")], 1), _numbers(p.get("center"), 2)
            if zoom is not None and zoom[0] > 0 and center is not None:
                panes[name] = PaneZoom(zoom[0], center)  # type: ignore[arg-type]
        return cls(layout, maximised, active, window, preset, voxel,  # type: ignore[arg-type]
                   panes)


def _numbers(value: Any, n: int) -> tuple[float, ...] | None:
    """``value`` as ``n`` finite floats, or None."""
    if not isinstance(value, (list, tuple)) or len(value) != n:
        return None
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def stored(view_state: dict[str, Any], media_id: str) -> SavedView | None:
    """The saved view of volume ``media_id`` in a project's view state (None: none)."""
    volumes = view_state.get("volumes")
    return SavedView.from_json(volumes.get(media_id)) if isinstance(volumes, dict) else None
