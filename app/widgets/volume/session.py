"""One volume on screen: the loaded array (one copy, every pane a view into it), the three
panes with their editor states and tools, the linked crosshair, window/level, the label-map
layers and what the tools paint.

Panes are named in patient space (``geometry.panes()``): the axial pane shows the array axis
closest to S, and so on; each shows the slice through the crosshair along its axis. The tool
of every pane follows the window's (toolbar and keys), each pane having its own instance bound
to its own state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.core.document import Change, ChangeKind
from app.core.geometry import PANES
from app.core.media import MediaItem
from app.core.places import Place
from app.io.planes import VolumeSliceSource, WindowLevel
from app.io.volume import Volume
from app.tools.volume_brush import BrushSettings, VolumeBrush, pixel_size
from app.tools.volume_cursor import PANE_COLOURS, Crosshair, cursor_text
from app.tools.volume_segmentation import Segmentation
from app.tools.volume_surface import SliceSurface
from app.widgets.volume.layers import SliceLabelLayer
from app.widgets.volume.pane import SlicePane


class VolumeSession(QObject):
    """See the module doc. ``host`` is the window's ModeHost."""

    window_changed = Signal(object)  # the WindowLevel now shown
    moved = Signal()  # the crosshair (and so the slices) moved

    def __init__(self, host, item: MediaItem, volume: Volume, settings: BrushSettings,
                 window: WindowLevel, data_range: tuple[float, float]) -> None:
        super().__init__()
        self.host, self.item, self.volume = host, item, volume
        self.array, self.geometry = volume.array, volume.geometry
        self.settings, self.window, self.data_range = settings, window, data_range
        self.unit = "HU" if volume.modality.upper() == "CT" else ""
        self.crosshair = Crosshair(self.geometry)
        self.brush = VolumeBrush(self.array, self.geometry, settings)
        main = host.state
        self.segmentation = Segmentation(main, item, self.brush)
        self.axes = {name: p.axis for name, p in self.geometry.panes().items()}
        self.obliques = {name: p.angle_deg for name, p in self.geometry.panes().items()
                         if p.oblique}
        self.panes: dict[str, SlicePane] = {}
        for name in PANES:
            axis = self.axes[name]
            surface = SliceSurface(item.id, self.array, self.geometry, axis, self.segmentation,
                                   min(pixel_size(self.geometry, axis)),
                                   crosshair=lambda place, x, y, n=name: self.click(n, x, y),
                                   runner=self._background)
            surface.place = self._place(axis)
            pane = SlicePane(name, axis, main, surface)
            pane.cross_colours = tuple(PANE_COLOURS[self._pane_of(a)] for a in _cols_rows(axis))
            if name in self.obliques:
                pane.notes = [f"oblique {self.obliques[name]:.1f}°"]
            if axis != "k" and volume.marks:  # the damaged slices cross this pane as lines
                ks = ", ".join(map(str, list(volume.marks)[:6])) + (
                    " ..." if len(volume.marks) > 6 else "")
                pane.notes.append(f"damaged or missing slices k={ks}")
            self.panes[name] = pane
            pane.canvas.cursor_moved.connect(lambda x, y, p=pane: self._cursor(p, x, y))
            pane.activated.connect(self.activate)
            pane.slices_scrolled.connect(lambda p, n: self.step(p.pane, n))
            pane.crosshair_moved.connect(lambda p, x, y: self.click(p.pane, x, y))
            pane.window_dragged.connect(self._dragged)
            pane.pointer_left.connect(self._pointer_left)
        self.active = "axial"
        # the window's brush_radius counts voxels of the finest spacing here (brush_mm mm
        # each); the brush itself works in settings.radius_mm, kept equal to it
        self.finest = min(self.geometry.spacing)
        self.on_radius: Callable[[], None] | None = None  # the segment options show it
        self.push_radius()
        self._unwatch_radius = main.subscribe(self._radius_changed)
        self.layers: dict[tuple[str, str], SliceLabelLayer] = {}
        self._removers: dict[tuple[str, str], Callable[[], None]] = {}
        self.opacity, self.outline = 0.45, False
        self.hidden_values: dict[str, frozenset[int]] = {}
        self._unsubscribe = main.doc.subscribe(self._doc_changed)
        self._drag_start: WindowLevel | None = None
        self._pointer: tuple[str, float, float] | None = None  # pane, picture x, y under it
        self.closed = False
        self.sync_layers()
        host.canvas.tool_changed.connect(self.follow_tool)
        self.follow_tool(host.canvas.tool.name if host.canvas.tool else "")
        self.show_slices(force=True)

    # ------------------------------------------------------------------ places and sources
    def _place(self, axis: str) -> Place:
        return Place(self.item.id, axis=axis, index=self.crosshair.index(axis))

    def _pane_of(self, axis: str) -> str:
        return next(n for n, a in self.axes.items() if a == axis)

    def source(self, pane: str) -> VolumeSliceSource:
        return self.panes[pane].source  # type: ignore[return-value]

    def show_slices(self, force: bool = False) -> None:
        """Every pane on the slice through the crosshair, the crosshair drawn on each."""
        for name, pane in self.panes.items():
            place = self._place(pane.axis)
            if force or pane.source is None or pane.source.place != place:
                pane.surface.place = place
                pane.show_source(VolumeSliceSource(place, self.array, self.geometry),
                                 self.window)
                n = self.geometry.axis_size(pane.axis)
                tilt = (f"  ·  oblique {self.obliques[name]:.1f}°" if name in self.obliques
                        else "")
                mark = self.mark(pane.axis, place.index)
                pane.set_mark(mark)
                pane.set_title(f"·  {slice_title(pane.axis, place.index, n)}{tilt}"
                               + ("  ·  damaged slice" if mark else ""))
            pane.cross = self.crosshair.point_on(pane.source)
            pane.canvas.refresh_layers()
        self._publish_place()
        self._show_pointer()
        self.moved.emit()

    def mark(self, axis: str, index: int) -> str:
        """Why slice ``index`` along ``axis`` has no image of its own ("slice k=12: damaged
        file IM12.dcm"), or "" when it has one."""
        why = self.volume.marks.get(index) if axis == "k" else None
        return f"slice k={index}: {why}" if why else ""

    def _publish_place(self) -> None:
        """The window's state follows the active pane (the Objects panel lists its slice)."""
        if self.closed:
            return
        pane = self.panes[self.active]
        self.host.state.set(place=pane.surface.place, image_size=pane.surface.image_size)

    # ------------------------------------------------------------------ navigation
    def activate(self, pane: SlicePane) -> None:
        if pane.pane != self.active:
            self.active = pane.pane
            self._publish_place()

    def step(self, pane: str, delta: int) -> None:
        """``delta`` slices forward in ``pane`` (the crosshair moves along its axis)."""
        self.crosshair.step(self.axes[pane], pane, delta)
        self.show_slices()

    def click(self, pane: str, x: float, y: float) -> None:
        """The crosshair to picture point (x, y) of ``pane``; the other panes follow."""
        src = self.source(pane)
        self.crosshair.move_to(src.to_world(x, y), src)
        self.show_slices()

    def put_crosshair(self, voxel) -> None:
        """The crosshair to continuous voxel index ``(i, j, k)`` (a reopened volume's)."""
        self.crosshair.put(voxel)
        self.show_slices()

    # ------------------------------------------------------------------ zoom
    def fit(self, pane: str | None = None) -> None:
        """Fit ``pane`` (None: every pane) to its slice."""
        for name in [pane] if pane is not None else list(self.panes):
            self.panes[name].fit()

    def zooms(self) -> dict[str, tuple[float, tuple[float, float]]]:
        """(zoom, picture point at the middle) of each pane the user zoomed or panned."""
        out = {}
        for name, pane in self.panes.items():
            z = pane.zoomed()
            if z is not None:
                out[name] = z
        return out

    def _cursor(self, pane: SlicePane, x: float, y: float) -> None:
        self._pointer = (pane.pane, x, y)
        self._show_pointer()

    def _pointer_left(self, pane: SlicePane) -> None:
        if self._pointer is not None and self._pointer[0] == pane.pane:
            self._pointer = None
            self.host.status.cursor.setText("")

    def _show_pointer(self) -> None:
        """The status bar's voxel and value under the pointer, on the slice its pane shows
        now (a wheel notch, a key or a crosshair move changes the slice under a still
        pointer: the readout follows, as in 3D Slicer and ITK-SNAP)."""
        if self._pointer is None or self.closed:
            return
        name, x, y = self._pointer
        source = self.panes[name].source
        if source is not None:
            self.host.status.cursor.setText(cursor_text(source, x, y, self.unit))

    # ------------------------------------------------------------------ window / level
    def set_window(self, window: WindowLevel) -> None:
        self.window = window
        for pane in self.panes.values():
            pane.canvas.set_mapping(window)
        self.window_changed.emit(window)

    def per_pixel(self) -> float:
        """Units per screen pixel of a right-drag: the data range over 500 px."""
        lo, hi = self.data_range
        return max((hi - lo) / 500.0, 1e-3)

    def _dragged(self, pane: SlicePane, dx: float, dy: float, finished: bool) -> None:
        if self._drag_start is None:
            self._drag_start = self.window
        self.set_window(self._drag_start.dragged(dx, dy, self.per_pixel()))
        if finished:
            self._drag_start = None

    # ------------------------------------------------------------------ tools
    def follow_tool(self, name: str = "") -> None:
        """Every pane hands its pointer to the window's tool (one tool set per window)."""
        for pane in self.panes.values():
            pane.canvas.set_tool(self.host.canvas.tool, owner=False)

    # ------------------------------------------------------------------ brush size
    def push_radius(self) -> None:
        """The window's brush size from ``settings.radius_mm`` (in voxels of the finest
        spacing; each pane's cursor converts it to its own pixels)."""
        self.host.state.set(brush_mm=self.finest,
                            brush_radius=self.settings.radius_mm / self.finest)
        if self.on_radius is not None:
            self.on_radius()

    def _radius_changed(self, field: str) -> None:
        if field == "brush_radius" and not self.closed:  # [ / ] or the options bar
            state = self.host.state
            self.settings.radius_mm = state.brush_radius * self.finest
            if self.on_radius is not None:
                self.on_radius()

    # ------------------------------------------------------------------ label maps
    def sync_layers(self) -> None:
        """One layer per label map and pane (label maps added or removed meanwhile)."""
        doc = self.host.state.doc
        ids = {i.id for i in doc.labelmaps(self.item.id)}
        for key in [k for k in self.layers if k[1] not in ids]:
            self._removers.pop(key)()
            self.layers.pop(key).close()
        for name, pane in self.panes.items():
            for lm in ids:
                if (name, lm) not in self.layers:
                    layer = SliceLabelLayer(doc, lm, lambda s=pane.surface: s.place,
                                            pane.canvas.refresh_layers, self.opacity,
                                            self.outline)
                    layer.hidden = self.hidden_values.get(lm, frozenset())
                    self.layers[(name, lm)] = layer
                    self._removers[(name, lm)] = pane.canvas.add_layer(layer)

    def set_overlay(self, opacity: float | None = None, outline: bool | None = None,
                    hidden: dict[str, frozenset[int]] | None = None) -> None:
        if opacity is not None:
            self.opacity = opacity
        if outline is not None:
            self.outline = outline
        if hidden is not None:
            self.hidden_values = hidden
        for (_, lm), layer in self.layers.items():
            layer.set_style(self.opacity, self.outline, self.hidden_values.get(lm, frozenset()))
        for pane in self.panes.values():
            pane.canvas.refresh_layers()

    def _doc_changed(self, changes: list[Change]) -> None:
        if any(c.kind == ChangeKind.RESET or (c.kind == ChangeKind.LABELMAP
                                              and "start" not in c.extra) for c in changes):
            self.sync_layers()

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        self.closed = True
        for pane in self.panes.values():
            pane.canvas.removeEventFilter(pane)
            for signal in (pane.activated, pane.slices_scrolled, pane.crosshair_moved,
                           pane.window_dragged, pane.pointer_left):
                try:
                    signal.disconnect()
                except (RuntimeError, TypeError):
                    pass
        try:
            self.host.canvas.tool_changed.disconnect(self.follow_tool)
        except (RuntimeError, TypeError):
            pass
        self._unsubscribe()
        self._unwatch_radius()
        self.host.state.set(brush_mm=0.0)
        for key in list(self.layers):
            self._removers.pop(key)()
            self.layers.pop(key).close()
        for pane in self.panes.values():
            pane.canvas.set_tool(None, owner=False)
            pane.canvas.detach()

    def _background(self, label: str, work, done) -> None:
        """A pane tool's long computation (3D fill) on the window's workers; its result is
        used only while this session is still the one shown."""
        def finished(result) -> None:
            if not self.closed:  # the volume is still shown
                done(result)
                for pane in self.panes.values():  # a tool's overlay may show the result
                    pane.canvas.update()  # (an effect's preview)

        self.host.jobs.start(label, lambda job: work(), on_done=finished,
                             on_error=lambda exc: self.host.error(f"{label} failed: {exc}"))


def slice_title(axis: str, index: int, count: int) -> str:
    """A pane's slice as its title says it: "slice k=40 (0–299)" - the 0-based array index
    that the status bar, the exports and the command line (``--slice k 40``) use, with the
    range it runs over."""
    return f"slice {axis}={index} (0–{count - 1})"


def _cols_rows(axis: str) -> tuple[str, str]:
    """The array axes along picture x and y of slices along ``axis`` (the crosshair's
    vertical line x = c is the plane of the pane showing the column axis)."""
    from app.core.places import PICTURE_AXES

    rows, cols = PICTURE_AXES[axis]
    return (cols, rows)


def data_range(array: np.ndarray) -> tuple[float, float]:
    """0.5 and 99.5 percentiles of (a sample of) the values: the span right-drags cover."""
    flat = array.ravel()
    sample = flat[:: max(1, flat.size // 1_000_000)]
    lo, hi = np.percentile(sample, [0.5, 99.5])
    return (float(lo), float(hi) if hi > lo else float(lo) + 1.0)
