"""The volume mode's presenter: loads the item's voxels off the UI thread (progress in the
status bar), then shows three linked panes in the middle of the window and the Segments panel
beside them.

Keys while a volume is shown: Up / Down (Shift: 10 at a time) and F / D step the active pane's
slice (the window's PgDown / PgUp still change item); C is the crosshair tool, U the flood
fill, B / E the brush and eraser in mm; Ctrl+0 (View ▸ Fit) fits the active pane, Ctrl+1 shows
it at 100 %, Ctrl+Shift+0 (or "Fit all") fits every pane. One volume array is kept in memory
(the last one loaded, so coming back to it is instant); every pane shows a view into it.
A second series of the same frame of reference may be linked from the bar's "Link a series…"
list (:mod:`app.widgets.volume.linked_series`): its array is held while it is linked.

Each volume comes back as it was left - layout, window/level, crosshair (so every slice), each
pane's zoom and centre - when it is shown again, in this window or after the project is
reopened (:mod:`app.widgets.volume.saved_view`; the window stores it with its view state).
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.core.errors import VellumError
from app.core.media import MediaItem
from app.io import preferences
from app.io.planes import CT_PRESETS, WindowLevel, default_window
from app.tools.volume_brush import BrushSettings
from app.widgets.focus import is_text_field
from app.widgets.volume import linked_series, saved_view
from app.widgets.volume.pane import set_slice_keys
from app.widgets.volume.saved_view import SavedView
from app.widgets.volume.segments_panel import SegmentsPanel
from app.widgets.volume.session import VolumeSession, data_range
from app.widgets.volume.stats_panel import StatisticsPanel
from app.widgets.volume.view import AUTO, CUSTOM, VolumeView
from app.widgets.volume.view3d import View3D


def load(path, source, job, expected=None):
    """Work function: the volume, its value span and its default window (worker thread).
    ``expected``: the grid the project stored for it (see ``load_source``)."""
    from app.io.volume import load_source, load_volume

    def progress(done: int, total: int, *_: object) -> None:
        job.check()
        job.progress(done, total)

    volume = (load_source(path, source, progress, expected) if source is not None
              else load_volume(path, progress=progress))
    sample = volume.array.ravel()[:: max(1, volume.array.size // 1_000_000)]
    return volume, data_range(volume.array), default_window(volume.modality, sample)


class VolumePresenter(QObject):
    """Shows volume items (see the module doc)."""

    def __init__(self, host) -> None:
        super().__init__(host.parent)  # goes with the window (and its focus watch with it)
        self.host = host
        self.view = VolumeView()
        self.panel = SegmentsPanel()
        self.settings = BrushSettings()
        self.session: VolumeSession | None = None
        self.item: MediaItem | None = None
        self.loaded: tuple[str, object, tuple[float, float], WindowLevel] | None = None
        self.job = None
        self.dock = None
        self.statistics, self.stats_dock = StatisticsPanel(), None  # the Statistics dock
        self._keys: list = []
        self.views: dict[str, SavedView] = {}  # media id -> how it was left in this window
        self.view.preset_chosen.connect(self.choose_preset)
        self.view.fit_all.connect(self.fit_all)
        self.links = linked_series.Linking(self)  # a second series linked (linked_view)
        self.view3d = View3D(host.jobs)  # VTK itself is loaded when it is first shown
        self.view3d.surface_opacity = self.panel.surface_opacity  # the panel's 3D % column
        set_slice_keys(preferences.slice_keys())  # Edit > Preferences > Slice keys
        self.view.set_view3d(self.view3d)
        # a segment shown / hidden in the panel (its model's signal: the table's itemChanged
        # hands over items that the panel's own refresh may have deleted meanwhile)
        self.panel.table.model().dataChanged.connect(self.view3d.restyle_soon)
        self.panel.maps.activated.connect(self.view3d.labelmap_chosen)
        for w in self.panel.findChildren(QWidget):
            if is_text_field(w):  # Enter / Escape in a field give the keyboard back
                w.installEventFilter(self)
        QApplication.instance().focusChanged.connect(self._focus_changed)

    # ------------------------------------------------------------------ Presenter
    def show(self, item: MediaItem) -> None:
        self._close_session()
        self.item = item
        self._put_up()
        if self.loaded is not None and self.loaded[0] == item.id:
            self._start(*self.loaded[1:])
            return
        self.loaded = None  # one array in memory: the old one goes before the new one comes
        if self.job is not None:
            self.job.cancel()
        doc = self.host.doc
        path, source = doc.media_path(item).resolve(), item.source
        self.view.show_message(f"Loading {item.name}…")
        self.host.state.set(refusal=f"{item.name} is still loading.")
        self.job = self.host.jobs.start(
            f"Loading {item.name}", lambda job: load(path, source, job, item.volume),
            on_done=lambda result, mid=item.id: self._loaded(mid, result),
            on_error=lambda exc, mid=item.id: self._failed(mid, exc))

    def leave(self) -> None:
        self._close_session()
        self.links.cancel()
        if self.job is not None:
            self.job.cancel()
            self.job = None
        for remove in self._keys:
            remove()
        self._keys = []
        if self.dock is not None:
            self.dock.setWidget(None)
            self.panel.setParent(None)
            self.host.remove_dock(self.dock)
            self.dock = None
        if self.stats_dock is not None:
            self.stats_dock.setWidget(None)
            self.statistics.setParent(None)
            self.host.remove_dock(self.stats_dock)
            self.stats_dock = None
        self.item = None

    def step(self, delta: int) -> bool:
        """F / D: the active pane's next / previous slice."""
        if self.session is None:
            return False
        self.session.step(self.session.active, delta)
        return True

    # ------------------------------------------------------------------ putting up
    def _put_up(self) -> None:
        self.host.set_center(self.view)
        if self.dock is None:
            self.dock = self.host.add_dock("Segments", self.panel,
                                           Qt.DockWidgetArea.RightDockWidgetArea)
        if self.stats_dock is None:
            self.stats_dock = self.host.add_dock("Statistics", self.statistics)
        if not self._keys:
            for key, delta in (("Up", 1), ("Down", -1), ("Shift+Up", 10), ("Shift+Down", -10)):
                self._keys.append(self.host.on_key(
                    key, lambda d=delta: self.step(d),
                    f"{'Next' if delta > 0 else 'Previous'} slice{' (10)' if abs(delta) > 1 else ''}"
                    " in the active pane"))
            try:
                self._keys.append(self.host.on_key("Ctrl+Shift+0", self.fit_all,
                                                   "Fit every pane of the volume"))
            except ValueError:  # the window took this key since: "Fit all" still works
                pass
            self._keys.append(self.host.with_window_key("Ctrl+0", self.fit_active))
            self._keys.append(self.host.with_window_key("Ctrl+1", self.actual_size))

    def _loaded(self, media_id: str, result) -> None:
        volume, span, window = result
        self.job = None
        if self.item is None or media_id != self.item.id:
            return
        if tuple(volume.array.shape) != tuple(self.item.volume_shape):
            self._failed(media_id, VellumError(
                f"{self.item.name} on disk is {volume.array.shape} voxels (k, j, i) but the "
                f"project knows it as {self.item.volume_shape}; its labels stay safe in the "
                "project."))
            return
        self.loaded = (media_id, volume, span, window)
        self._start(volume, span, window)

    def _failed(self, media_id: str, exc: Exception) -> None:
        self.job = None
        if self.item is None or media_id != self.item.id:
            return
        text = str(exc) if isinstance(exc, VellumError) else f"Cannot show this volume ({exc})."
        self.host.state.set(refusal=text)
        self.view.show_message(text + "\n\nThe rest of the project is unaffected: fix or "
                               "replace the files, or press PgDown for the next item.")

    def _start(self, volume, span, window) -> None:
        item = self.item
        self.host.state.set(refusal="")
        s = self.session = VolumeSession(self.host, item, volume, self.settings, window, span)
        s.window_changed.connect(lambda w: self.view.show_window(w, None))
        for pane in s.panes.values():
            pane.activated.connect(lambda p: self.view.set_active(p.pane))
            pane.canvas.zoom_changed.connect(self.host.status.show_zoom)
        self.view.set_panes(s.panes, self._info(volume))
        review = getattr(self.host, "review", None)  # review mode: pins on every pane
        for pane in s.panes.values() if review is not None else ():
            review.attach(pane.canvas)
        self.view.show_window(window, next((n for n, w in CT_PRESETS.items() if w == window),
                                           None if volume.modality.upper() == "CT" else AUTO))
        self.panel.attach(s)
        self.statistics.attach(s)
        self.view3d.attach(s)
        self.links.offer()
        kept = self.views.get(item.id) or saved_view.stored(self.host.doc.view_state(),
                                                            item.id)
        if kept is not None:
            self._restore(kept)
        QTimer.singleShot(0, self.home)

    def _close_session(self) -> None:
        if self.session is not None:
            self.views[self.session.item.id] = self.saved()
            self.links.unlink()
            self.panel.detach()
            self.statistics.detach()
            self.view3d.detach()
            self.session.close()
            self.session = None
            self.view.set_panes({}, "")

    def _info(self, volume) -> str:
        g = volume.geometry
        k, j, i = g.shape
        lines = [f"<b>{self.item.name}</b>", f"{volume.modality or 'Volume'} · {i} × {j} × {k} "
                 f"voxels (i × j × k)",
                 "spacing " + " × ".join(f"{v:g}" for v in g.spacing) + " mm",
                 "origin (LPS) " + ", ".join(f"{v:.1f}" for v in g.origin) + " mm"]
        src = self.item.source
        if src is not None and src.description:  # kept in the project, never exported
            lines.append(f"series description: {html.escape(src.description)}")
        if volume.marks:
            lines.append(f"<span style='color:#ff6b6b'>{len(volume.marks)} slice(s) without "
                         "an image of their own (damaged or missing files), marked in red"
                         "</span>")
        for p in g.panes().values():
            lines.append(f"{p.pane}: array axis {p.axis}" + (
                f", oblique {p.angle_deg:.1f}°" if p.oblique else ""))
        lines += [f"<span style='color:#ffb347'>{w}</span>" for w in volume.warnings[:6]]
        return "<br>".join(lines)

    # ------------------------------------------------------------------ how it was left
    def saved(self) -> SavedView | None:
        """How the volume shown is left now (None: none is shown)."""
        s = self.session
        if s is None:
            return None
        preset = self.view.presets.currentText()
        zooms = {n: saved_view.PaneZoom(z, c) for n, (z, c) in s.zooms().items()}
        return SavedView(self.view.layout_name, self.view.maximised, s.active,
                         (s.window.width, s.window.level),
                         None if preset == CUSTOM else preset,
                         tuple(float(v) for v in s.crosshair.voxel), zooms)

    def view_memo(self) -> dict[str, dict]:
        """Every volume's :class:`SavedView` of this window, as JSON by media id (what the
        window keeps in the project's view state when it closes the project)."""
        views = dict(self.views)
        now = self.saved()
        if now is not None:
            views[self.session.item.id] = now
        return {mid: v.to_json() for mid, v in views.items()}

    def _restore(self, kept: SavedView) -> None:
        s = self.session
        if kept.window is not None:
            try:
                window = WindowLevel(*kept.window)
            except ValueError:
                window = None
            if window is not None:
                s.set_window(window)
                fits = kept.preset == AUTO or CT_PRESETS.get(kept.preset or "") == window
                self.view.show_window(window, kept.preset if fits else None)
        if kept.voxel is not None:
            s.put_crosshair(kept.voxel)
        s.activate(s.panes[kept.active])
        self.view.set_active(kept.active)
        self.view.show_layout(kept.layout, kept.maximised)
        for name, pz in kept.panes.items():
            s.panes[name].keep_view(pz.zoom, pz.center)

    # ------------------------------------------------------------------ zoom
    def fit_active(self, *_: object) -> None:
        """Ctrl+0 (View ▸ Fit): the active pane fits its slice."""
        if self.session is not None:
            self.session.fit(self.session.active)
            self._show_zoom()

    def actual_size(self, *_: object) -> None:
        """Ctrl+1: the active pane at 100 %."""
        if self.session is not None:
            self.session.panes[self.session.active].actual_size()
            self._show_zoom()

    def _show_zoom(self) -> None:
        """The status bar's zoom is the active pane's (the window's own canvas, hidden
        behind the panes, answers the same keys)."""
        self.host.status.show_zoom(self.session.panes[self.session.active].canvas.zoom())

    def fit_all(self, *_: object) -> None:
        """Every pane fits its slice (Ctrl+Shift+0, "Fit all")."""
        if self.session is not None:
            self.session.fit()
            self._show_zoom()

    # ------------------------------------------------------------------ window / level
    def choose_preset(self, name: str) -> None:
        if self.session is None or self.loaded is None:
            return
        if name == AUTO:
            arr = self.loaded[1].array
            window = WindowLevel.auto(arr.ravel()[:: max(1, arr.size // 1_000_000)])
        else:
            window = CT_PRESETS[name]
        self.session.set_window(window)
        self.view.show_window(window, name)

    # ------------------------------------------------------------------ keyboard
    def home(self) -> None:
        """The keyboard to the active pane (the window's canvas is not on screen)."""
        if self.session is not None:
            canvas = self.session.panes[self.session.active].canvas
            if canvas.isVisible():
                canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        """As the window does for its canvas: any panel that is not a text field hands the
        keyboard straight back to the active pane."""
        try:
            if self.session is None or now is None or not self.view.isVisible():
                return
            mine = now.window() is self.host.parent
        except RuntimeError:  # the window is going
            return
        if not mine or is_text_field(now) or any(
                now is p.canvas for p in self.session.panes.values()):
            return
        self.home()

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:  # noqa: N802
        if e.type() == QEvent.Type.KeyPress and e.key() in (
                Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            QTimer.singleShot(0, self.home)
        return False
