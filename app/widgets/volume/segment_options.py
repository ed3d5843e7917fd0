"""The options of the volume tools under the Segments panel: the brush radius in mm (2D disc or
3D sphere), the "paint only where" intensity range (e.g. HU 200-3000 for bone), the flood
fill's tolerance, 3D switch and voxel limit, fill between slices along a pane's axis, and how
label maps are drawn (opacity, outline). Controls write the session's shared
:class:`~app.tools.volume_brush.BrushSettings`; nothing here edits the project except fill
between slices (one command)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLabel, QPushButton, QSlider, QSpinBox, QWidget)

from app.core.geometry import PANES
from app.tools.volume_fill import fill_rule
from app.tools.volume_interpolate import fill_between_command

BONE = (200.0, 3000.0)  # HU: the range the intensity limit starts with


class SegmentOptions(QWidget):
    """See the module doc; ``panel`` gives the segment counts (for the segment's box)."""

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.session = None
        self._filling = False
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.radius = QDoubleSpinBox()
        self.radius.setObjectName("brush_mm")
        self.radius.setRange(0.1, 500.0)
        self.radius.setDecimals(1)
        self.radius.setSuffix(" mm")
        self.radius.setToolTip("Brush and eraser radius in millimetres ([ and ] change it)")
        self.radius.valueChanged.connect(self._radius_set)
        self.sphere = QCheckBox("3D sphere")
        self.sphere.setToolTip("Paint a sphere through the neighbouring slices instead of a "
                               "disc on the slice")
        self.sphere.toggled.connect(lambda on: self._set(sphere=on))
        row = QHBoxLayout()
        row.addWidget(self.radius)
        row.addWidget(self.sphere)
        form.addRow("Brush radius", row)
        self.limit_on = QCheckBox("Only where value in")
        self.limit_on.setObjectName("intensity_on")
        self.limit_on.setToolTip("Paint, erase and fill only voxels whose value lies in the "
                                 "range (e.g. HU 200-3000 for bone); a fill keeps to the "
                                 "range and to ± its tolerance of the clicked value")
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        for box, v in ((self.low, BONE[0]), (self.high, BONE[1])):
            box.setRange(-100000.0, 100000.0)
            box.setDecimals(0)
            box.setValue(v)
            box.valueChanged.connect(self._range_set)
        self.limit_on.toggled.connect(self._range_set)
        row = QHBoxLayout()
        for w in (self.limit_on, self.low, QLabel("–"), self.high):
            row.addWidget(w)
        form.addRow(row)
        self.fill_3d = QCheckBox("3D")
        self.fill_3d.toggled.connect(lambda on: self._set(fill_3d=on))
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setRange(0.0, 100000.0)
        self.tolerance.setPrefix("± ")
        self.tolerance.setToolTip("A fill takes connected voxels within ± this of the clicked "
                                  "value (and in the \"only where value in\" range when it is "
                                  "checked)")
        self.tolerance.valueChanged.connect(lambda v: self._set(fill_tolerance=float(v)))
        self.limit = QSpinBox()
        self.limit.setRange(1000, 200_000_000)
        self.limit.setSingleStep(100_000)
        self.limit.setSuffix(" voxels")
        self.limit.valueChanged.connect(lambda v: self._set(fill_limit=int(v)))
        row = QHBoxLayout()
        for w in (self.tolerance, self.fill_3d, self.limit):
            row.addWidget(w)
        form.addRow("Fill (U)", row)
        self.rule = QLabel()
        self.rule.setObjectName("fill_rule")
        self.rule.setWordWrap(True)
        form.addRow(self.rule)
        self.between = QPushButton("Fill between slices")
        self.between.setObjectName("fill_between")
        self.between.setToolTip("Interpolate the chosen segment on the empty slices between "
                                "its painted ones (shape-based)")
        self.between.clicked.connect(self.fill_between)
        self.between_axis = QComboBox()
        self.between_axis.addItems(["Active pane", *[p.capitalize() for p in PANES]])
        row = QHBoxLayout()
        row.addWidget(self.between)
        row.addWidget(QLabel("along"))
        row.addWidget(self.between_axis)
        form.addRow(row)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.valueChanged.connect(self._overlay)
        self.outline = QCheckBox("Outline")
        self.outline.toggled.connect(self._overlay)
        row = QHBoxLayout()
        row.addWidget(self.opacity, 1)
        row.addWidget(self.outline)
        form.addRow("Overlay", row)

    def attach(self, session) -> None:
        self.session = session
        s = session.settings
        self._filling = True
        self.sphere.setChecked(s.sphere)
        self.limit_on.setChecked(s.intensity is not None)
        if s.intensity is not None:
            self.low.setValue(s.intensity[0])
            self.high.setValue(s.intensity[1])
        self.fill_3d.setChecked(s.fill_3d)
        self.tolerance.setValue(s.fill_tolerance)
        self.limit.setValue(s.fill_limit)
        self._filling = False
        self.show_radius()
        self.show_rule()
        session.on_radius = self.show_radius

    def detach(self) -> None:
        self.session = None

    # ------------------------------------------------------------------ settings
    def _set(self, **values) -> None:
        if self.session is not None and not self._filling:
            for k, v in values.items():
                setattr(self.session.settings, k, v)
            self.show_rule()

    def show_rule(self) -> None:
        """Under the fill's options, the rule a click with the fill applies (both the
        tolerance and, when checked, the "only where value in" range)."""
        if self.session is None:
            self.rule.setText("")
            return
        s = self.session.settings
        rule = fill_rule(s.fill_tolerance, s.intensity, self.session.unit)
        self.rule.setText(f"Fills: {rule}")
        self.rule.setToolTip(f"A click with the fill (U) takes the voxels connected to it "
                             f"whose value is {rule}" + (" (\"Only where value in\" is "
                                                         "checked)" if s.intensity else "")
                             + ".")

    def _radius_set(self, mm: float) -> None:
        if self.session is not None and not self._filling:
            self.session.settings.radius_mm = float(mm)
            self.session.push_radius()

    def show_radius(self) -> None:
        if self.session is None:
            return
        self.radius.blockSignals(True)
        self.radius.setValue(self.session.settings.radius_mm)
        self.radius.blockSignals(False)

    def _range_set(self, *_: object) -> None:
        lo, hi = sorted((self.low.value(), self.high.value()))
        self._set(intensity=(lo, hi) if self.limit_on.isChecked() else None)

    def _overlay(self, *_: object) -> None:
        if self.session is not None:
            self.session.set_overlay(self.opacity.value() / 100, self.outline.isChecked())

    def fill_between(self) -> None:
        """Fill the active segment between its painted slices along the chosen axis."""
        s = self.session
        if s is None:
            return
        seg = s.segmentation.active_segment()
        info = s.segmentation.info()
        if seg is None or info is None:
            s.host.message("Choose a segment (or paint one) first.")
            return
        choice = self.between_axis.currentIndex()
        pane = s.active if choice == 0 else PANES[choice - 1]
        box = self.panel.stats.box_of(seg.value) if self.panel.stats else None
        cmd, text = fill_between_command(s.host.state.doc, info.id, seg.value, s.axes[pane],
                                         s.geometry, box)
        if cmd is not None:
            s.host.state.execute(cmd)
        s.host.message(text)
