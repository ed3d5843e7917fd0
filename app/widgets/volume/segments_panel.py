"""The Segments panel of the volume mode (3D Slicer's Segment Editor, thin): the label maps of
the volume and their segments (shown, colour, name, value, class, voxels, mL, opacity in the 3D
view as a percentage: :mod:`app.widgets.volume.segment_opacity`), and under them
the tools' options (:mod:`app.widgets.volume.segment_options`).

Every change of the project is one command (undoable): a segment is added linked to a class
(made when its name is new), renamed in its cell, recoloured by a double click on its swatch,
deleted with its voxels. Choosing a row makes its class the active one, so the brush paints it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QColorDialog, QComboBox, QHBoxLayout, QHeaderView, QInputDialog,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.core.document import ChangeKind
from app.core.labelmap import Segment
from app.tools.volume_segments import add_segment, delete_segment, edit_segment
from app.tools.volume_stats import SegmentStats, voxel_ml
from app.widgets.volume.segment_opacity import SurfaceOpacity
from app.widgets.volume.segment_options import SegmentOptions

COLUMNS = ("", "", "Segment", "Value", "Class", "Voxels", "mL", "3D %")
SHOW, COLOUR, NAME, VALUE, CLASS, VOXELS, ML, OPACITY = range(8)


class SegmentsPanel(QWidget):
    """See the module doc; :meth:`attach` a volume session, :meth:`detach` on leaving."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = None
        self.stats: SegmentStats | None = None
        self.surface_opacity = SurfaceOpacity()  # each segment's in the 3D view (3D % column)
        self._subs: list = []
        self._filling = False
        self._timer = QTimer(self, singleShot=True, interval=60)
        self._timer.timeout.connect(self.refresh)
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.maps = QComboBox()
        self.maps.setObjectName("labelmaps")
        self.maps.setToolTip("The label map the tools paint")
        self.maps.activated.connect(self._choose_map)
        self.new_map = QPushButton("New label map")
        self.new_map.clicked.connect(self._new_map)
        row.addWidget(self.maps, 1)
        row.addWidget(self.new_map)
        lay.addLayout(row)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("segments")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setMinimumHeight(130)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        head = self.table.horizontalHeader()
        fit = QHeaderView.ResizeMode.ResizeToContents
        for c, mode in ((SHOW, fit), (COLOUR, fit), (NAME, QHeaderView.ResizeMode.Stretch),
                        (VALUE, fit), (CLASS, fit), (VOXELS, fit), (ML, fit), (OPACITY, fit)):
            head.setSectionResizeMode(c, mode)
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellDoubleClicked.connect(self._double_clicked)
        self.table.itemSelectionChanged.connect(self._row_chosen)
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add segment…")
        self.add_button.clicked.connect(self.add_dialog)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the chosen segment and its voxels (Ctrl+Z "
                                      "brings them back)")
        self.delete_button.clicked.connect(self.delete_chosen)
        self.codes_button = QPushButton("Codes…")
        self.codes_button.setToolTip("What the chosen segment is in DICOM terms (segmented "
                                     "property category and type), for a DICOM-SEG export")
        self.codes_button.clicked.connect(self.codes_dialog)
        row.addWidget(self.add_button)
        row.addWidget(self.codes_button)
        row.addWidget(self.delete_button)
        lay.addLayout(row)
        self.options = SegmentOptions(self)
        lay.addWidget(self.options)
        for name in ("radius", "sphere", "limit_on", "low", "high", "fill_3d", "tolerance",
                     "limit", "between", "between_axis", "opacity", "outline"):
            setattr(self, name, getattr(self.options, name))  # the panel's own controls
        self.setEnabled(False)

    # ------------------------------------------------------------------ attaching
    def attach(self, session) -> None:
        self.detach()
        self.session = session
        self.options.attach(session)
        doc = session.host.state.doc
        self._subs = [doc.subscribe(self._changed),
                      session.host.state.subscribe(self._state_changed)]
        self._restat()
        self.setEnabled(True)

    def detach(self) -> None:
        for unsubscribe in self._subs:
            unsubscribe()
        self._subs, self.session, self.stats = [], None, None
        self.options.detach()
        self._timer.stop()
        self.setEnabled(False)

    # ------------------------------------------------------------------ the table
    def _changed(self, changes) -> None:
        seg = self.session.segmentation if self.session else None
        if seg is None:
            return
        for c in changes:
            if c.kind == ChangeKind.RESET or (c.kind == ChangeKind.LABELMAP
                                              and "start" not in c.extra):
                self._restat()
                return
            if c.kind == ChangeKind.SCHEMA:
                self._timer.start()
            if c.kind == ChangeKind.LABELMAP and self.stats is not None and (
                    self.stats.labelmap_id in c.ids):
                self.stats.update(c.extra["start"], c.extra["shape"])
                self._timer.start()

    def _restat(self) -> None:
        info = self.session.segmentation.info() if self.session else None
        self.stats = SegmentStats(self.session.host.state.doc, info.id) if info else None
        self.refresh()

    def _state_changed(self, field: str) -> None:
        if field == "class_id":
            self._select_active()

    def segments(self) -> list[Segment]:
        if self.session is None or self.session.host.state.doc is None:
            return []
        info = self.session.segmentation.info()
        return sorted(info.segments, key=lambda s: s.value) if info else []

    def refresh(self) -> None:
        """Rows from the active label map's segments and counts."""
        if self.session is None or self.session.closed or self.session.host.state.doc is None:
            return
        seg = self.session.segmentation
        maps = seg.labelmaps()
        self.maps.blockSignals(True)
        self.maps.clear()
        for m in maps:
            self.maps.addItem(m.name, m.id)
        info = seg.info()
        if info is not None:
            self.maps.setCurrentIndex(self.maps.findData(info.id))
        self.maps.blockSignals(False)
        counts = self.stats.counts() if self.stats else {}
        ml = voxel_ml(self.session.geometry)
        schema = self.session.host.state.doc.schema
        hidden = self.session.hidden_values.get(info.id, frozenset()) if info else frozenset()
        self._filling = True
        self.table.setRowCount(0)
        for s in self.segments():
            r = self.table.rowCount()
            self.table.insertRow(r)
            show = QTableWidgetItem()
            show.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled
                          | Qt.ItemFlag.ItemIsSelectable)
            show.setCheckState(Qt.CheckState.Unchecked if s.value in hidden
                               else Qt.CheckState.Checked)
            show.setData(Qt.ItemDataRole.UserRole, s.value)
            swatch = QTableWidgetItem()
            swatch.setData(Qt.ItemDataRole.DecorationRole, QColor(s.color))
            swatch.setToolTip("Double-click to change the colour")
            cls = schema.class_by_id(s.class_id)
            n = counts.get(s.value, 0)
            cells = [show, swatch, QTableWidgetItem(s.name), QTableWidgetItem(str(s.value)),
                     QTableWidgetItem(cls.name if cls else "—"), QTableWidgetItem(f"{n:,}"),
                     QTableWidgetItem(f"{n * ml:.2f}"),
                     QTableWidgetItem(str(self.surface_opacity.percent(info.id, s.value)))]
            cells[OPACITY].setToolTip("Opacity of this segment's surface in the 3D view, "
                                      "0-100 % (edit the cell)")
            cat, typ = s.codes or (("", "", "not coded: Tissue in a DICOM-SEG"),) * 2
            cells[NAME].setToolTip(f"DICOM: {typ[2]}" + (f" ({cat[2]}; {typ[1]} {typ[0]})"
                                                         if s.codes else "")
                                   + " · Codes… changes it")
            for c, item in enumerate(cells):
                if c not in (SHOW, NAME, OPACITY):
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if c in (VALUE, VOXELS, ML, OPACITY):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self._filling = False
        self._select_active()

    def _select_active(self) -> None:
        if self.session is None:
            return
        active = self.session.segmentation.active_segment()
        self._filling = True
        self.table.clearSelection()
        for r, s in enumerate(self.segments()):
            if active is not None and s.value == active.value:
                self.table.selectRow(r)
        self._filling = False

    def chosen(self) -> Segment | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        segs = self.segments()
        return segs[min(rows)] if rows and min(rows) < len(segs) else None

    def _row_chosen(self) -> None:
        if self._filling or self.session is None:
            return
        s = self.chosen()
        if s is None:
            return
        seg = self.session.segmentation
        seg.chosen_value = s.value
        self.session.host.state.set(class_id=s.class_id)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or self.session is None:
            return
        info = self.session.segmentation.info()
        s = self.segments()[item.row()]
        if item.column() == NAME and item.text().strip() and item.text() != s.name:
            self.session.host.state.execute(edit_segment(info, s.value, name=item.text().strip()))
        elif item.column() == SHOW:
            hidden = dict(self.session.hidden_values)
            mine = set(hidden.get(info.id, frozenset())) - {s.value}
            if item.checkState() != Qt.CheckState.Checked:
                mine.add(s.value)
            hidden[info.id] = frozenset(mine)
            self.session.set_overlay(hidden=hidden)
        elif item.column() == OPACITY:
            try:
                percent = float(item.text().strip().rstrip("%"))
            except ValueError:
                percent = self.surface_opacity.percent(info.id, s.value) if info else 100
            self.set_surface_opacity(s.value, percent / 100.0)

    def set_surface_opacity(self, value: int, opacity: float) -> None:
        """Segment ``value``'s opacity in the 3D view (0..1, clamped), shown in its 3D % cell;
        the 3D view restyles from the table's change."""
        info = self.session.segmentation.info() if self.session else None
        if info is None:
            return
        kept = self.surface_opacity.set(info.id, value, opacity)
        for r, s in enumerate(self.segments()):
            item = self.table.item(r, OPACITY)
            if s.value == value and item is not None:
                text = str(int(round(kept * 100)))
                if item.text() != text:
                    was, self._filling = self._filling, True
                    item.setText(text)  # the model's dataChanged restyles the 3D view
                    self._filling = was

    def _double_clicked(self, row: int, column: int) -> None:
        if column == COLOUR and self.session is not None:
            s = self.segments()[row]
            c = QColorDialog.getColor(QColor(s.color), self, f"Colour of {s.name}")
            if c.isValid():
                self.recolour(s.value, c.name())

    def recolour(self, value: int, color: str) -> None:
        info = self.session.segmentation.info()
        self.session.host.state.execute(edit_segment(info, value, color=color))

    # ------------------------------------------------------------------ actions
    def add_dialog(self) -> None:
        if self.session is None:
            return
        names = [c.name for c in self.session.host.state.doc.schema.classes]
        name, ok = QInputDialog.getItem(self, "Add segment", "Class (choose one, or type a "
                                        "new name):", names, 0, True)
        if ok and name.strip():
            self.add(name.strip())

    def add(self, name: str) -> Segment | None:
        """A segment linked to the class named ``name`` (made when new); it becomes active."""
        s = self.session
        state = s.host.state
        cmd, info, seg = add_segment(state.doc.schema, s.segmentation.info(), s.item, name=name)
        if not state.execute(cmd):
            return None
        s.segmentation.labelmap_id, s.segmentation.chosen_value = info.id, seg.value
        state.set(class_id=seg.class_id)
        self._restat()
        return seg

    def codes_dialog(self) -> None:
        """Edit the chosen segment's DICOM codes (one undo step)."""
        from app.widgets.volume.segment_codes import SegmentCodes

        s = self.chosen()
        if self.session is None:
            return
        if s is None:
            self.session.host.message("Choose a segment first.")
            return
        dialog = SegmentCodes(s, self)
        try:
            if dialog.exec() == SegmentCodes.DialogCode.Accepted:
                self.set_codes(s.value, dialog.codes())
        finally:
            dialog.deleteLater()

    def set_codes(self, value: int, codes) -> None:
        info = self.session.segmentation.info()
        self.session.host.state.execute(edit_segment(info, value, codes=codes))

    def delete_chosen(self) -> None:
        s = self.chosen()
        if s is None or self.session is None:
            return
        info = self.session.segmentation.info()
        box = self.stats.box_of(s.value) if self.stats else None
        if self.session.host.state.execute(delete_segment(info, s.value, box)):
            self.session.host.message(f"Deleted segment {s.name!r} (Ctrl+Z brings it back).")

    def _choose_map(self, index: int) -> None:
        if self.session is not None:
            self.session.segmentation.labelmap_id = self.maps.itemData(index)
            self._restat()

    def _new_map(self) -> None:
        if self.session is None:
            return
        n = len(self.session.segmentation.labelmaps()) + 1
        name, ok = QInputDialog.getText(self, "New label map", "Name:", text=f"Segmentation {n}")
        if ok and name.strip():
            self.session.segmentation.new_labelmap(name.strip())
            self._restat()
