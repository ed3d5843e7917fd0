"""The segment-anything tool on a volume slice (a plain canvas showing a VolumeSliceSource, as
a volume pane does): the encoder sees the slice windowed as shown, Enter paints the label map
on that slice only (one undo step), and propagation up and down builds the 3D segment in one
edit and lists the slices to review."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.geometry import VolumeGeometry
from app.core.labelmap import LabelMapInfo, Segment
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.schema import LabelClass, LabelSchema
from app.io.planes import CT_PRESETS, VolumeSliceSource
from app.tools.paint import LabelMapPaint
from app.tools.sam import SamTool
from sam_fakes import FakeEngine, ThresholdSession
from surface_fakes import PaintingSurface

pytest.importorskip("pytestqt")

SHAPE = (24, 60, 80)  # k, j, i
GEO = VolumeGeometry(SHAPE, (0.5, 0.5, 2.5), (-20.0, -15.0, 40.0),
                     ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)))
INSERT = range(5, 19)  # slices along k holding the insert


def _ct() -> np.ndarray:
    k, j, i = np.indices(SHAPE)
    vol = np.full(SHAPE, -1000.0, np.float32)
    vol[(((i - 40) / 36.0) ** 2 + ((j - 30) / 26.0) ** 2) < 1] = 0.0
    insert = ((i - 30) ** 2 + (j - 28) ** 2 < 64) & (k >= INSERT.start) & (k < INSERT.stop)
    vol[insert] = 300.0
    return vol


@pytest.fixture
def pane(qtbot, tmp_path):
    from app.tools.state import EditorState
    from app.widgets.canvas import Canvas

    doc = Document.create(tmp_path / "p")
    vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="ctfp", size_bytes=1,
                    width=0, height=0, volume=GEO)
    doc.execute(Put((vol,)))
    doc.execute(SetSchema(LabelSchema((LabelClass("insert", "#ffd700", id="insert"),))))
    info = LabelMapInfo(vol.id, *SHAPE, segments=(Segment(1, "insert", "#ffd700", "insert"),))
    doc.execute(Put((info,)))
    volume = _ct()
    state = EditorState(doc, place=Place(vol.id, axis="k", index=12), class_id="insert",
                        surface=PaintingSurface(LabelMapPaint(info.id, 1, "#ffd700")))
    canvas = Canvas(state)
    canvas.resize(600, 500)
    qtbot.addWidget(canvas)
    src = VolumeSliceSource(state.place, volume, GEO)
    src.mapping = CT_PRESETS["CT soft tissue"]  # what the pane shows, and SAM sees
    canvas.show_source(src, mapping=src.mapping)
    canvas.show()  # the canvas's surface shows src: SAM reads its pixels there
    engine = FakeEngine()
    tool = SamTool(state, engine)
    canvas.set_tool(tool)
    yield SimpleNamespace(doc=doc, info=info, state=state, canvas=canvas, src=src, tool=tool,
                          engine=engine, volume=volume)
    doc.close()


def _drag(canvas, a, b) -> None:
    pa = QPoint(*(math.floor(v) for v in canvas.image_to_widget(*a)))
    pb = QPoint(*(math.floor(v) for v in canvas.image_to_widget(*b)))
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pa)
    for t in np.linspace(0, 1, 6):
        QTest.mouseMove(canvas, pa + (pb - pa) * t)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pb)


def test_enter_paints_the_label_map_on_that_slice_only(pane):
    p = pane
    _drag(p.canvas, (20, 18), (41, 39))
    req = p.engine.requests[-1]
    # the encoder sees the slice windowed as shown (soft tissue, 8-bit), cached as "k:12"
    pixels = req.picture.pixels()
    assert pixels.dtype == np.uint8 and pixels.shape == (60, 80)
    assert pixels[28, 30] == 255 and pixels[5, 5] == 0
    assert req.picture.place == p.src.place and req.picture.content == "ctfp|400.0|40.0"
    assert p.tool.overlay()[0].color == "#ffd700"  # the segment's colour
    QTest.keyClick(p.canvas, Qt.Key.Key_Return)
    labels = p.doc.labelmap_volume(p.info.id)
    assert set(np.argwhere(labels == 1)[:, 0]) == {12}
    x, y, w, h = req.box
    assert labels[12, int(y + h / 2), int(x + w / 2)] == 1
    assert p.doc.undo_label.startswith("Segment with fake-sam")
    assert p.tool.accepted.labelmap_id == p.info.id and not p.tool.busy
    p.doc.undo()
    assert not p.doc.labelmap_volume(p.info.id).any()


def test_propagation_up_and_down_builds_the_segment_in_one_edit(pane, qtbot):
    from app.widgets.jobs import Jobs
    from app.widgets.sam_jobs import propagate_volume_segment
    from app.widgets.sam_window import volume_box

    p = pane
    _drag(p.canvas, (20, 18), (41, 39))
    reviews: list = []
    said: list[str] = []
    host = SimpleNamespace(state=p.state, jobs=Jobs(), message=lambda t, ms=0: said.append(t),
                           error=lambda t: said.append("error: " + t))
    p.engine.sessions["fake-sam"] = ThresholdSession(level=128)
    box = volume_box(p.tool, p.src.place)
    assert box == p.tool.box
    job = propagate_volume_segment(host, p.engine, "fake-sam", p.src, box,
                                   p.state.surface.labelmap(p.src.place), (400.0, 40.0),
                                   on_review=lambda title, r: reviews.append((title, r)))
    assert job is not None
    qtbot.waitUntil(lambda: bool(reviews) or any("error" in s for s in said), timeout=20000)
    assert not any("error" in s for s in said), said
    labels = p.doc.labelmap_volume(p.info.id)
    truth = p.volume > 200
    assert sorted(set(np.argwhere(labels == 1)[:, 0])) == list(INSERT)
    assert np.array_equal(labels == 1, truth)
    title, _ = reviews[0]
    assert f"k={INSERT.start}-{INSERT.stop - 1}" in title and "stopped" in said[-1]
    assert p.doc.undo_label == "Propagate with fake-sam"
    p.doc.undo()  # one undo step takes the whole segment away
    assert not p.doc.labelmap_volume(p.info.id).any()


def test_the_review_list_jumps_to_a_flagged_slice(qtbot):
    from app.inference.propagation_records import Review
    from app.widgets.sam_review import ReviewList

    went: list = []
    panel = ReviewList(went.append)
    qtbot.addWidget(panel)
    panel.show()
    reviews = [Review(Place("v", axis="k", index=n), "predicted IoU 0.6", 0.6) for n in (9, 4)]
    panel.show_reviews("Propagation k=3-10", reviews)
    assert [pl.index for pl in panel.places()] == [4, 9]
    rect = panel.list.visualItemRect(panel.list.item(1))
    QTest.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, rect.center())
    assert went == [Place("v", axis="k", index=9)]


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_the_propagated_masks_land_on_their_array_axis(axis):
    from app.inference.propagation import Propagation, SliceMask
    from app.inference.propagation_records import volume_modifier

    shape = (6, 7, 8)
    rng = np.random.default_rng(axis)
    truth = np.zeros(shape, bool)
    slices = []
    for n in (2, 3, 4):
        mask = rng.random(np.delete(np.array(shape), axis)) > 0.7
        index = [slice(None)] * 3
        index[axis] = n
        truth[tuple(index)] = mask
        slices.append(SliceMask(n, mask, 0.9))
    start, block = volume_modifier(Propagation(axis, 3, slices))
    out = np.zeros(shape, bool)
    out[tuple(slice(s, s + n) for s, n in zip(start, block.shape))] = block
    assert np.array_equal(out, truth)
