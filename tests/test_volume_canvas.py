"""One ground for slices (issue 7): a synthetic CT-like volume (0.5 x 0.5 x 2.5 mm, a
non-identity direction) shown on the real canvas through the volume plane source in each
pane - right aspect, radiological orientation - window/level without a pyramid rebuild, and a
brush stroke in the sagittal place written to the label map through its one modify, undone
voxel for voxel, found again after reopening."""

from __future__ import annotations

import math

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
from surface_fakes import PaintingSurface
from app.core.schema import LabelClass, LabelSchema
from app.io.planes import CT_PRESETS, VolumeSliceSource
from app.tools.paint import LabelMapPaint

SHAPE = (24, 60, 80)  # k, j, i
SPACING = (0.5, 0.5, 2.5)
A = math.radians(20)  # the volume is turned 20 degrees about the patient S axis
DIRECTION = ((math.cos(A), -math.sin(A), 0.0), (math.sin(A), math.cos(A), 0.0), (0.0, 0.0, 1.0))
GEO = VolumeGeometry(SHAPE, SPACING, (-20.0, -15.0, 40.0), DIRECTION)


def _ct() -> np.ndarray:
    k, j, i = np.indices(SHAPE)
    vol = np.full(SHAPE, -1000.0, np.float32)
    body = (((i - 40) / 36.0) ** 2 + ((j - 30) / 26.0) ** 2) < 1
    vol[body] = 40.0
    vol[body & (i > 60)] = 900.0  # a dense block on the patient-left side (high i)
    return vol


@pytest.fixture
def panes(qtbot, tmp_path):
    from app.tools import TOOLS
    from app.tools.state import EditorState
    from app.widgets.canvas import Canvas

    doc = Document.create(tmp_path / "p")
    vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                    height=0, volume=GEO)
    doc.execute(Put((vol,)))
    doc.execute(SetSchema(LabelSchema((LabelClass("bone", "#ffd700", id="bone"),))))
    info = LabelMapInfo(vol.id, *SHAPE, segments=(Segment(1, "bone", "#ffd700", "bone"),))
    doc.execute(Put((info,)))
    volume = _ct()
    out = {}
    for axis, index in (("k", 12), ("j", 30), ("i", 40)):
        state = EditorState(doc, place=Place(vol.id, axis=axis, index=index), class_id="bone",
                            surface=PaintingSurface(LabelMapPaint(info.id, 1, "#ffd700")))
        canvas = Canvas(state)
        canvas.resize(500, 400)
        qtbot.addWidget(canvas)
        src = VolumeSliceSource(state.place, volume, GEO)
        canvas.show_source(src, mapping=CT_PRESETS["CT soft tissue"])
        canvas.show()
        tools = {t.name: t(state) for t in TOOLS}
        out[axis] = (state, canvas, src, tools)
    yield doc, info, out, tmp_path / "p"
    doc.close()


def test_each_pane_has_the_physical_aspect_and_the_radiological_orientation(panes):
    _, _, out, _ = panes
    for axis, (state, canvas, src, _) in out.items():
        w, h = src.size
        view = canvas.view()
        left, top, right, bottom = view.widget_rect(0, 0, w, h)
        px, py = src.pixel_size
        u, v = (h * py, w * px) if src.orientation.transpose else (w * px, h * py)
        assert math.isclose((right - left) / (bottom - top), u / v, rel_tol=1e-6), axis
        # patient left is on screen right (axial, coronal); anterior on screen left
        # (sagittal); superior up (coronal, sagittal); anterior up (axial)
        cx, cy = w / 2, h / 2
        centre = src.to_world(cx, cy)

        def screen_of(world):
            x, y, _ = src.point_of(world)
            return np.array(view.to_widget(x, y))

        pane = src.pane
        base = screen_of(centre)
        if pane in ("axial", "coronal"):
            assert (screen_of(centre + (10, 0, 0)) - base)[0] > 0, pane  # +L -> right
        if pane == "axial":
            assert (screen_of(centre + (0, -10, 0)) - base)[1] < 0  # anterior up
        if pane in ("coronal", "sagittal"):
            assert (screen_of(centre + (0, 0, 10)) - base)[1] < 0, pane  # superior up
        if pane == "sagittal":
            assert (screen_of(centre + (0, -10, 0)) - base)[0] < 0  # anterior left
    assert {out[a][2].pane for a in out} == {"axial", "coronal", "sagittal"}


def test_window_level_changes_the_picture_without_rebuilding_the_pyramid(panes, qtbot):
    from app.io.planes import WindowLevel
    from app.widgets import tiles

    _, _, out, _ = panes
    _, canvas, _, _ = out["k"]
    before = canvas.grab().toImage()
    builds = tiles.LEVEL_BUILDS[0]
    pyramid = canvas.pyramid
    canvas.set_mapping(WindowLevel(2000, 500))  # bone window
    after = canvas.grab().toImage()
    assert canvas.pyramid is pyramid and tiles.LEVEL_BUILDS[0] == builds
    assert before != after


def test_a_brush_stroke_in_the_sagittal_place_writes_the_label_map(panes, qtbot):
    doc, info, out, path = panes
    state, canvas, src, tools = out["i"]
    canvas.set_tool(tools["brush"])
    state.set(brush_radius=3.0)
    x0, y0 = canvas.image_to_widget(10.5, 8.5)
    x1, y1 = canvas.image_to_widget(30.5, 14.5)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(round(x0), round(y0)))
    for t in np.linspace(0, 1, 8):
        QTest.mouseMove(canvas, QPoint(round(x0 + (x1 - x0) * t), round(y0 + (y1 - y0) * t)))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(round(x1), round(y1)))
    labels = doc.labelmap_volume(info.id)
    painted = np.argwhere(labels == 1)
    assert len(painted) > 20
    assert set(painted[:, 2]) == {40}  # only the sagittal slice i = 40 was touched
    plane = doc.labelmap_plane(info.id, "i", 40)  # picture [k, j]: x = j, y = k
    assert plane[8, 10] == 1 and plane[14, 30] == 1 and plane[20, 50] == 0
    assert doc.undo_label == "Paint"
    doc.undo()
    assert not doc.labelmap_volume(info.id).any()
    doc.redo()
    expected = doc.labelmap_volume(info.id)
    doc.close()
    with Document.open(path) as again:
        assert np.array_equal(again.labelmap_volume(info.id), expected)


def test_the_label_map_layer_draws_the_segment_on_every_pane(panes, qtbot):
    from app.core.commands import ModifyLabelMap
    from app.widgets.labelmap_layer import LabelMapLayer

    doc, info, out, _ = panes
    ball = np.zeros(SHAPE, bool)
    kk, jj, ii = np.indices(SHAPE)
    ball[((kk - 12) * 5) ** 2 + (jj - 30) ** 2 + (ii - 40) ** 2 < 100] = True
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), ball, value=1))
    for axis, (state, canvas, src, _) in out.items():
        layer = LabelMapLayer(doc, info.id, lambda s=state: s.place, canvas.refresh_layers)
        before = canvas.grab().toImage()
        canvas.add_layer(layer)
        after = canvas.grab().toImage()
        assert layer.image() is not None and before != after, axis
        layer.close()
