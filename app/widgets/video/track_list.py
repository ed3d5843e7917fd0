"""The track list of a video: each track with its class, first and last frame in view and its
keyframes (click one to go there), and the track tools: keyframe, outside, occluded,
propagate to the next N frames, merge two tracks, split one at the current frame, delete the
track, and whether drawing makes a track or a single-frame shape. Ctrl+click chooses a second
track (to merge); right-click a row for its menu. Frames are 0-based indices in presentation
order."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout,
                               QHeaderView, QLabel, QMenu, QSpinBox, QToolButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from app.core.schema import LabelSchema
from app.tools.track_index import TrackIndex
from app.widgets.icons import swatch

TRACK_ROLE = Qt.ItemDataRole.UserRole
FRAME_ROLE = Qt.ItemDataRole.UserRole + 1
MAX_ROWS = 500  # keyframe rows listed under a track
MERGE_TIP = ("Merge two tracks into the one chosen first: choose a track, Ctrl+click another "
             "(or select their shapes); where both have a shape, the one chosen later's is "
             "kept (Shift+M)")
SPLIT_TIP = ("Split the selected track at the frame shown: from this frame on it is a new "
             "track (Ctrl+Shift+M)")


def _button(text: str, tip: str) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return b


class TrackList(QWidget):
    """See the module doc; the presenter connects the signals and calls :meth:`show_tracks`."""

    track_chosen = Signal(str)
    frame_chosen = Signal(int)
    delete_track = Signal(str)
    keyframe = Signal()
    outside = Signal()
    occluded = Signal()
    propagate = Signal()
    merge = Signal()
    split = Signal()
    as_track_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Track", "In view", "Keys"])
        self.tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        head = self.tree.header()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in (1, 2):
            head.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        head.setStretchLastSection(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.itemExpanded.connect(self._fill)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.chosen: list[str] = []  # the tracks chosen in the list, in the order chosen
        self._building = False
        self._index: TrackIndex | None = None
        self.as_track = QCheckBox("Draw as track")
        self.as_track.setChecked(True)
        self.as_track.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.as_track.setToolTip("On: a shape drawn on a frame starts a track (keyframes, "
                                 "interpolation). Off: a single-frame shape (Ctrl+T)")
        self.as_track.toggled.connect(self.as_track_changed.emit)
        self.buttons = {
            "keyframe": _button("Keyframe", "Make this frame a keyframe of the selected track, "
                                "or interpolate it again (Shift+K)"),
            "outside": _button("Outside", "The object leaves the view from this frame on, or "
                               "comes back here (O)"),
            "occluded": _button("Occluded", "The object is hidden behind something on this "
                                "frame, until the next keyframe (Q)"),
            "delete": _button("Delete track", "Delete the selected track with all its shapes "
                              "(one undo step)"),
            "propagate": _button("Propagate", "Copy the selected shape onto the next frames "
                                 "(Ctrl+Shift+P)"),
            "merge": _button("Merge", MERGE_TIP),
            "split": _button("Split", SPLIT_TIP),
        }
        for key, signal in (("keyframe", self.keyframe), ("outside", self.outside),
                            ("occluded", self.occluded), ("propagate", self.propagate),
                            ("merge", self.merge), ("split", self.split)):
            self.buttons[key].clicked.connect(signal.emit)
        self.buttons["delete"].clicked.connect(self._delete)
        self.count = QSpinBox()
        self.count.setRange(1, 100000)
        self.count.setValue(10)
        self.count.setSuffix(" frames")
        self.count.setToolTip("How many frames Propagate copies onto")
        self.mode = QComboBox()
        self.mode.addItems(["as keyframes", "as tracked shapes"])
        self.mode.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mode.setToolTip("Keyframes: set by you on every frame; tracked shapes: like a "
                             "tracker's, edit one to make it a keyframe")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.as_track)
        top.addStretch(1)
        for key in ("keyframe", "outside", "occluded"):
            top.addWidget(self.buttons[key])
        prop = QHBoxLayout()
        prop.setContentsMargins(0, 0, 0, 0)
        prop.addWidget(self.buttons["propagate"])
        prop.addWidget(self.count)
        prop.addWidget(self.mode)
        prop.addStretch(1)
        for key in ("merge", "split", "delete"):
            prop.addWidget(self.buttons[key])
        self.hint = QLabel()
        self.hint.setObjectName("muted")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addLayout(prop)
        self.current: str | None = None

    @property
    def as_keyframes(self) -> bool:
        return self.mode.currentIndex() == 0

    def show_tracks(self, index: TrackIndex | None, schema: LabelSchema | None,
                    current: str | None) -> None:
        """Rebuild the rows; a track's keyframe rows are made when it is opened (the current
        track's at once), so a video with thousands of shapes lists fast."""
        self.current, self._index = current, index
        opened = {self.tree.topLevelItem(i).data(0, TRACK_ROLE)
                  for i in range(self.tree.topLevelItemCount())
                  if self.tree.topLevelItem(i).isExpanded()}
        tracks = index.track_list() if index is not None else []
        ids = {t.id for t in tracks}
        self.chosen = [t for t in self.chosen if t in ids]
        if current is not None and current not in self.chosen:
            self.chosen = [current]
        elif current is None:
            self.chosen = []
        self._building = True
        try:
            self._rows(index, schema, tracks, opened)
        finally:
            self._building = False

    def _rows(self, index: TrackIndex | None, schema: LabelSchema | None, tracks: list,
              opened: set) -> None:
        self.tree.clear()
        if index is None:
            return
        for n, track in enumerate(tracks, start=1):
            cls = schema.class_by_id(track.class_id) if schema else None
            span = index.span(track.id)
            keys = index.keyframes(track.id)
            item = QTreeWidgetItem([f"#{n} {cls.name if cls else '(no class)'}",
                                    f"{span[0]}–{span[1]}" if span else "out of view",
                                    str(len(keys))])
            item.setIcon(0, swatch(cls.color if cls else "#808080",
                                   dpr=self.devicePixelRatioF()))
            item.setData(0, TRACK_ROLE, track.id)
            item.setToolTip(0, f"track {track.id}")
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            self.tree.addTopLevelItem(item)
            item.setSelected(track.id in self.chosen)
            if track.id == self.current or track.id in opened:
                item.setExpanded(True)

    def _fill(self, item: QTreeWidgetItem) -> None:
        """The keyframe rows of an opened track row (made once per rebuild)."""
        if item.childCount() or self._index is None or item.data(0, FRAME_ROLE) is not None:
            return
        tid = item.data(0, TRACK_ROLE)
        keys = self._index.keyframes(tid)
        for a in keys[:MAX_ROWS]:
            flags = [w for w, on in (("outside", a.outside), ("occluded", a.occluded)) if on]
            child = QTreeWidgetItem([f"frame {a.frame}" + (f" ({', '.join(flags)})"
                                                          if flags else ""), "", ""])
            child.setData(0, TRACK_ROLE, tid)
            child.setData(0, FRAME_ROLE, a.frame)
            item.addChild(child)
        if len(keys) > MAX_ROWS:
            item.addChild(QTreeWidgetItem([f"… {len(keys) - MAX_ROWS} more keyframes", "", ""]))

    def _selection_changed(self) -> None:
        """Keep :attr:`chosen` in the order the rows were chosen (Ctrl+click adds one)."""
        if self._building:
            return
        now = list(dict.fromkeys(it.data(0, TRACK_ROLE) for it in self.tree.selectedItems()
                                 if it.data(0, TRACK_ROLE)))
        self.chosen = [t for t in self.chosen if t in now] + [t for t in now
                                                              if t not in self.chosen]

    def _menu(self, pos: QPoint) -> None:
        """Right-click: the row's track becomes chosen (unless it is already), then its menu."""
        item = self.tree.itemAt(pos)
        track = item.data(0, TRACK_ROLE) if item is not None else None
        if track and track not in self.chosen:
            self.tree.setCurrentItem(item)
            self.track_chosen.emit(track)
        menu = QMenu(self)
        two = len(self.chosen) >= 2
        act = menu.addAction("Merge the chosen tracks\tShift+M" if two else
                             "Merge… (Ctrl+click a second track first)", self.merge.emit)
        act.setEnabled(two)
        act.setToolTip(MERGE_TIP)
        for text, signal in (("Split at this frame\tCtrl+Shift+M", self.split),
                             ("Keyframe on / off\tShift+K", self.keyframe),
                             ("Outside from this frame\tO", self.outside)):
            menu.addAction(text, signal.emit).setEnabled(bool(self.chosen))
        menu.addSeparator()
        menu.addAction("Delete track", self._delete).setEnabled(bool(self.chosen))
        self.context_menu = menu  # kept for tests: the last menu shown
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def _clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        track = item.data(0, TRACK_ROLE)
        frame = item.data(0, FRAME_ROLE)
        if track:
            self.track_chosen.emit(track)
        if frame is not None:
            self.frame_chosen.emit(int(frame))

    def _delete(self) -> None:
        if self.current:
            self.delete_track.emit(self.current)

    def track_row(self, track_id: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(i)
            if it.data(0, TRACK_ROLE) == track_id:
                return it
        return None
