"""The volume's centre widget: a bar (layout, window/level preset) over the panes.

Layouts, as 3D Slicer names them: ``1x3`` (axial, coronal, sagittal side by side), ``2x2``
(Slicer's four-up: axial and the 3D view at the top, sagittal and coronal below; the volume's
facts sit under the 3D view), ``single`` (the active pane). A double click on a pane's title
(or the 3D view's) maximises it, another one gives the layout back. While the
volume loads, or when it cannot be shown, a page with the reason stands in for the panes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QApplication, QButtonGroup, QComboBox, QGridLayout, QHBoxLayout, QLabel,
                               QSizePolicy, QStackedWidget, QToolButton, QVBoxLayout, QWidget)

from app.core.geometry import PANES
from app.io.planes import CT_PRESETS, WindowLevel
from app.widgets.volume.pane import SlicePane

LAYOUTS = {"1x3": "1×3", "2x2": "2×2", "single": "Single"}
AUTO = "Auto (percentiles)"
CUSTOM = "Custom"
MOUSE_HELP = ("Wheel: next / previous slice · Ctrl+wheel: zoom · right-drag: window/level · "
              "Shift+move or the crosshair tool (C): move the crosshair · Up/Down, F/D: slices "
              "· double-click a pane's title: maximise it · Ctrl+0: fit the active pane, "
              "Ctrl+Shift+0: fit every pane · slices are numbered from 0, as the status bar, "
              "exports and the command line count them")


class VolumeView(QWidget):
    """See the module doc. ``layout_name`` is the chosen layout; ``maximised`` the pane
    shown alone after a double click on its title (None: the layout)."""

    preset_chosen = Signal(str)  # a name of CT_PRESETS or AUTO
    fit_all = Signal()
    link_chosen = Signal(str)  # the media id of a series to link (linked_view)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("volume_view")
        self.panes: dict[str, SlicePane] = {}
        self.active = "axial"
        self.layout_name = "1x3"
        self.maximised: str | None = None
        self._arranging = False
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        self.layout_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        bar.addWidget(QLabel("Layout"))
        for key, text in LAYOUTS.items():
            b = QToolButton()
            b.setText(text)
            b.setCheckable(True)
            b.setObjectName(f"layout_{key}")
            b.setToolTip({"1x3": "Axial, coronal and sagittal side by side",
                          "2x2": "Four-up: axial, a spare, sagittal, coronal",
                          "single": "Only the active pane (double-click a title to "
                                    "maximise a pane)"}[key])
            b.clicked.connect(lambda _=False, k=key: self.set_layout(k))
            group.addButton(b)
            bar.addWidget(b)
            self.layout_buttons[key] = b
        bar.addSpacing(16)
        bar.addWidget(QLabel("Window"))
        self.presets = QComboBox()
        self.presets.setObjectName("window_presets")
        self.presets.addItems([*CT_PRESETS, AUTO, CUSTOM])
        self.presets.setToolTip("Window/level presets; right-drag on a pane adjusts it "
                                "(right: wider, down: higher level)")
        self.presets.activated.connect(
            lambda i: self.presets.itemText(i) != CUSTOM
            and self.preset_chosen.emit(self.presets.itemText(i)))
        bar.addWidget(self.presets)
        self.window_text = QLabel()
        self.window_text.setObjectName("window_text")
        self.window_text.setMinimumWidth(110)
        bar.addWidget(self.window_text)
        bar.addSpacing(16)
        self.fit_button = QToolButton()
        self.fit_button.setObjectName("fit_all")
        self.fit_button.setText("Fit all")
        self.fit_button.setToolTip("Fit every pane to its slice (Ctrl+Shift+0); Ctrl+0 fits "
                                   "the active pane")
        self.fit_button.clicked.connect(self.fit_all.emit)
        bar.addWidget(self.fit_button)
        bar.addSpacing(16)
        self.link_combo = QComboBox()  # filled by the presenter: volumes that may be linked
        self.link_combo.setObjectName("link_series")
        self.link_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.link_combo.setToolTip("Link a second series of this frame of reference: its panes "
                                   "under these, crosshair and slices linked in world "
                                   "coordinates, fusion over these panes")
        self.link_combo.activated.connect(
            lambda i: i > 0 and self.link_chosen.emit(self.link_combo.itemData(i) or ""))
        bar.addWidget(self.link_combo)
        bar.addStretch(1)
        self.hint = QLabel("<u>Mouse and keys</u>")
        self.hint.setToolTip(MOUSE_HELP)
        bar.addWidget(self.hint)
        self.stack = QStackedWidget()
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setObjectName("volume_message")
        self.grid_page = QWidget()
        self.grid = QGridLayout(self.grid_page)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(3)
        self.info = QLabel()
        self.info.setObjectName("volume_info")
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setWordWrap(True)
        self.info.setMargin(10)
        self.view3d: QWidget | None = None  # the 3D view (set_view3d), in the fourth quadrant
        self.linked: QWidget | None = None  # a linked series' row (set_linked), under the panes
        self.spare = QWidget()  # the fourth quadrant: the 3D view over the volume's facts
        self.spare.setObjectName("volume_spare")
        spare = QVBoxLayout(self.spare)
        spare.setContentsMargins(0, 0, 0, 0)
        spare.setSpacing(0)
        spare.addWidget(self.info)
        self.spare.setParent(self.grid_page)
        self.spare.hide()
        self.stack.addWidget(self.message)
        self.stack.addWidget(self.grid_page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addLayout(bar)
        outer.addWidget(self.stack, 1)
        self.layout_buttons[self.layout_name].setChecked(True)

    # ------------------------------------------------------------------ pages
    def show_message(self, text: str) -> None:
        """A sentence in place of the panes (loading, or why the volume is not shown)."""
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def showing_panes(self) -> bool:
        return self.stack.currentWidget() is self.grid_page

    def set_panes(self, panes: dict[str, SlicePane], info: str) -> None:
        """Show these panes (taking them over from any shown before)."""
        for old in self.panes.values():
            old.maximise.disconnect(self._toggle_max)
            self.grid.removeWidget(old)
            old.setParent(None)
            old.deleteLater()
        self.panes = dict(panes)
        for pane in panes.values():
            pane.setParent(self.grid_page)
            pane.maximise.connect(self._toggle_max)
        self.info.setText(info)
        self.maximised = None
        self._arrange()
        self.stack.setCurrentWidget(self.grid_page)

    def set_view3d(self, view3d: QWidget) -> None:
        """Put the 3D view (:class:`~app.widgets.volume.view3d.View3D`) in the fourth
        quadrant, over the facts; its title's double click maximises it."""
        self.view3d = view3d
        lay = self.spare.layout()
        lay.insertWidget(0, view3d, 1)
        self.info.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.info.setMargin(4)
        view3d.maximise.connect(self._toggle_max)

    def set_linked(self, row: QWidget | None) -> None:
        """Show a linked series' row under the panes (None: take it away)."""
        if self.linked is not None and self.linked is not row:
            self.grid.removeWidget(self.linked)
            self.linked.hide()
        self.linked = row
        if row is not None:
            row.setParent(self.grid_page)
        self._arrange()

    # ------------------------------------------------------------------ layouts
    def set_layout(self, name: str) -> None:
        if name not in LAYOUTS:
            raise ValueError(f"unknown layout {name!r}")
        self.layout_name, self.maximised = name, None
        self.layout_buttons[name].setChecked(True)
        self._arrange()

    def show_layout(self, name: str, maximised: str | None) -> None:
        """Layout ``name`` with pane ``maximised`` shown alone (None: the layout itself)."""
        self.set_layout(name)
        if maximised in self.panes or (maximised == "3d" and self.view3d is not None):
            self.maximised = maximised
            self._arrange()

    def set_active(self, pane: str) -> None:
        if pane == self.active or self._arranging:
            return
        self.active = pane
        if self.layout_name == "single" and self.maximised is None:
            self._arrange()

    def _toggle_max(self, pane: SlicePane) -> None:  # or the 3D view (pane "3d")
        self.maximised = None if self.maximised == pane.pane else pane.pane
        self._arrange()

    def visible_panes(self) -> list[str]:
        return [n for n, p in self.panes.items() if p.isVisibleTo(self.grid_page)]

    def _arrange(self) -> None:
        self._arranging = True
        focus = QApplication.focusWidget()
        mine = focus is not None and self.grid_page.isAncestorOf(focus)
        if mine:  # hiding it would hand the focus (and so "active") along the panes
            focus.clearFocus()
        try:
            self._place_widgets()
        finally:
            self._arranging = False
        if mine and self.active in self.panes and self.panes[self.active].isVisible():
            self.panes[self.active].canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _place_widgets(self) -> None:
        for w in [*self.panes.values(), self.spare, *([self.linked] if self.linked else [])]:
            self.grid.removeWidget(w)
            w.hide()
        for r in range(3):
            self.grid.setRowStretch(r, 0)
            self.grid.setColumnStretch(r, 0)
        if not self.panes:
            return
        if self.maximised == "3d":
            place = [(self.spare, 0, 0)]
        elif self.maximised is not None:
            place = [(self.panes[self.maximised], 0, 0)]
        elif self.layout_name == "single":
            place = [(self.panes[self.active], 0, 0)]
        elif self.layout_name == "2x2":
            place = [(self.panes["axial"], 0, 0), (self.spare, 0, 1),
                     (self.panes["sagittal"], 1, 0), (self.panes["coronal"], 1, 1)]
        else:
            place = [(self.panes[n], 0, c) for c, n in enumerate(PANES)]
        for w, r, c in place:
            self.grid.addWidget(w, r, c)
            self.grid.setRowStretch(r, 1)
            self.grid.setColumnStretch(c, 1)
            w.show()
        if self.linked is not None and self.maximised is None and self.layout_name != "single":
            row = max(r for _, r, _ in place) + 1  # the linked series under the layout
            self.grid.addWidget(self.linked, row, 0, 1, max(c for *_, c in place) + 1)
            self.grid.setRowStretch(row, 1)
            self.linked.show()

    # ------------------------------------------------------------------ window / level
    def show_window(self, window: WindowLevel, preset: str | None) -> None:
        """The W/L text and the preset it matches (``preset``: the one chosen, if any)."""
        name = preset or next((n for n, w in CT_PRESETS.items() if w == window), CUSTOM)
        self.presets.setCurrentText(name)
        self.window_text.setText(f"W {window.width:.0f}  L {window.level:.0f}")
