"""A radiologist's volume, as 3D Slicer and ITK-SNAP would show it (issue 15, items 4, 13, 14):
the status bar's voxel and HU follow every slice change under a still pointer (wheel, keys,
a crosshair click in another pane), and the pane titles count slices from 0 as the readout,
the exports and the command line do; the flood fill honours both its tolerance and the "only
where value in" range, and the options say so; Ctrl+0 fits the active pane, "Fit all" every
pane; and the layout, window/level, slices and zoom of each volume come back when the project
is reopened in a new window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel

from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.geometry import VolumeGeometry
from app.core.labelmap import LabelMapInfo, Segment
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.schema import LabelClass, LabelSchema
from app.tools.paint import LabelMapPaint
from app.tools.volume_brush import BrushSettings, VolumeBrush
from app.tools.volume_fill import fill_command, flood_2d
from test_volume_mode import VolumeScene, ct_folder  # noqa: F401 - the module's fixture
from tools_scene import CTRL, LEFT, NOMOD, SHIFT

pytest.importorskip("pytestqt")


@pytest.fixture
def vs(qtbot, tmp_path, ct_folder):  # noqa: F811
    s = VolumeScene(qtbot, tmp_path, ct_folder)
    yield s
    s.win.close()


def readout(vs) -> str:
    return vs.win.status.cursor.text()


def says_voxel(vs, i: int, j: int, k: int) -> bool:
    text = readout(vs)
    return f"voxel (i {i}, j {j}, k {k})" in text and f"{vs.array[k, j, i]:.0f} HU" in text


# ---------------------------------------------------------------------- item 4: the readout
def test_the_readout_follows_every_slice_change_under_a_still_pointer(vs):
    x, y = 80.5, 100.5  # axial picture: i = 80, j = 100 (the brain)
    QTest.mouseMove(vs.pane("axial").canvas, vs.pt("axial", x, y))
    k = vs.index("axial")
    assert says_voxel(vs, 80, 100, k)
    vs.wheel("axial", 2)  # the pointer does not move
    assert vs.index("axial") == k + 2 and says_voxel(vs, 80, 100, k + 2)
    vs.pane_click("axial", x, y)  # the pane takes the keyboard; the pointer stays put
    for key, step in ((Qt.Key.Key_Up, 1), (Qt.Key.Key_Down, -1), (Qt.Key.Key_F, 1),
                      (Qt.Key.Key_D, -1), (Qt.Key.Key_F, 1)):
        before = vs.index("axial")
        vs.pane_key(key)
        assert vs.index("axial") == before + step
        assert says_voxel(vs, 80, 100, before + step), (key, readout(vs))
    vs.pane_key(Qt.Key.Key_Up, SHIFT)
    assert says_voxel(vs, 80, 100, vs.index("axial"))
    # the pointer rests on the sagittal pane; a crosshair click in the coronal pane moves the
    # sagittal slice under it
    QTest.mouseMove(vs.pane("sagittal").canvas, vs.pt("sagittal", 70.5, 18.5))  # j 70, k 18
    i0 = vs.index("sagittal")
    assert says_voxel(vs, i0, 70, 18)
    vs.key(Qt.Key.Key_C)
    vs.pane_click("coronal", 40.5, 10.5)
    assert vs.index("sagittal") == 40 != i0
    assert says_voxel(vs, 40, 70, 18), readout(vs)
    # off the pane, the readout says nothing rather than something stale
    QTest.mouseMove(vs.presenter.view.presets, QPoint(3, 3))
    assert readout(vs) == ""


def test_pane_titles_count_slices_from_zero_as_the_readout_does(vs):
    k, n = vs.index("axial"), vs.array.shape[0]
    assert f"slice k={k} (0–{n - 1})" in vs.pane("axial").title.text()
    QTest.mouseMove(vs.pane("axial").canvas, vs.pt("axial", 50.5, 60.5))
    assert f"k {k})" in readout(vs)
    vs.wheel("axial", -3)
    assert f"slice k={k - 3} (0–{n - 1})" in vs.pane("axial").title.text()
    assert f"k {k - 3})" in readout(vs)
    j, nj = vs.index("coronal"), vs.array.shape[1]
    assert f"slice j={j} (0–{nj - 1})" in vs.pane("coronal").title.text()
    vs.win.grab().save(str(vs.tmp_path / "titles.png"))


# ---------------------------------------------------------------------- item 13: the fill
def _gradient_scene(tmp_path):
    """A volume whose value is 10 x i (0..490): every rule is a band of columns."""
    shape = (6, 8, 50)
    geo = VolumeGeometry(shape, (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    vol = np.broadcast_to(np.arange(50, dtype=np.float32) * 10, shape).copy()
    doc = Document.create(tmp_path / "g")
    item = MediaItem(kind=MediaKind.VOLUME, path="g", fingerprint="f", size_bytes=1, width=0,
                     height=0, volume=geo)
    doc.execute(Put((item,)))
    doc.execute(SetSchema(LabelSchema((LabelClass("x", "#ffd700", id="x"),))))
    info = LabelMapInfo(item.id, *shape, segments=(Segment(1, "x", "#ffd700", "x"),))
    doc.execute(Put((info,)))
    brush = VolumeBrush(vol, geo, BrushSettings())
    return doc, item, info, brush, LabelMapPaint(info.id, 1, "#ffd700", brush=brush)


@pytest.mark.parametrize("in_3d", [False, True])
def test_the_fill_keeps_to_its_tolerance_and_to_the_range_together(tmp_path, in_3d):
    doc, item, info, brush, target = _gradient_scene(tmp_path)
    try:
        s = brush.settings
        s.fill_3d, s.fill_tolerance, s.intensity = in_3d, 50.0, (180.0, 1000.0)
        place = Place(item.id, axis="k", index=2)
        cmd, text = fill_command(brush, target, place, 20.5, 3.5)  # i = 20: value 200
        doc.execute(cmd)
        lab = doc.labelmap_volume(info.id) != 0
        cols = sorted(set(np.nonzero(lab)[2]))
        # 200 +/- 50 is 150..250, the range 180..1000: both hold for 180..250, i = 18..25
        assert cols == list(range(18, 26)), cols
        assert "180..250" in text and "± 50" in text
        doc.undo()
        # a value outside the range fills nothing, whatever the tolerance, and says why
        s.fill_tolerance = 1000.0
        cmd, text = fill_command(brush, target, place, 10.5, 3.5)  # value 100
        assert cmd is None and "only where value in" in text and "180..1000" in text
    finally:
        doc.close()


def test_the_fill_options_say_which_rules_apply_and_the_click_obeys_both(vs):
    panel = vs.panel
    vs.key(Qt.Key.Key_1)
    vs.key(Qt.Key.Key_U)
    rule = panel.findChild(QLabel, "fill_rule")
    panel.tolerance.setValue(40.0)
    assert rule.text() == "Fills: ± 40 HU of the clicked value"
    vs.click(panel.limit_on)
    panel.low.setValue(20.0)
    assert panel.limit_on.isChecked()
    assert rule.text() == "Fills: ± 40 HU of the clicked value and within 20..3000 HU"
    k = vs.index("axial")
    vs.pane_click("axial", 80.5, 100.5)  # the brain (~35 HU), touching the skull (~1000 HU)
    lab = vs.labels() != 0
    v = float(vs.array[k, 100, 80])
    expected = flood_2d(vs.array[k], (100, 80), max(v - 40, 20.0), min(v + 40, 3000.0))
    assert lab.any() and np.array_equal(lab[k], expected)
    assert (vs.array[lab] < 200).all()  # the range alone would have run into the skull
    assert "within the range 20..3000" in vs.win.statusBar().currentMessage()
    vs.win.grab().save(str(vs.tmp_path / "fill_rule.png"))


# ---------------------------------------------------------------------- item 14: zoom, reopen
def test_ctrl_0_fits_the_active_pane_and_fit_all_fits_every_pane(vs):
    axial, sagittal = vs.pane("axial").canvas, vs.pane("sagittal").canvas
    fitted = {n: vs.pane(n).canvas.zoom() for n in ("axial", "sagittal")}
    vs.wheel("axial", 2, CTRL)
    vs.wheel("sagittal", 2, CTRL)
    assert axial.zoom() > fitted["axial"] and sagittal.zoom() > fitted["sagittal"]
    vs.pane_click("axial", 80.5, 80.5)  # the active pane, with the keyboard
    vs.pane_key(Qt.Key.Key_0, CTRL)
    assert axial.auto_fitted() and axial.zoom() == pytest.approx(fitted["axial"])
    assert not sagittal.auto_fitted()  # only the active pane
    assert vs.win.status.zoom.text() == f"{axial.zoom() * 100:.0f}%"
    vs.pane_key(Qt.Key.Key_1, CTRL)
    assert axial.zoom() == pytest.approx(1.0)
    vs.click(vs.presenter.view.fit_button)
    assert axial.auto_fitted() and sagittal.auto_fitted()
    assert sagittal.zoom() == pytest.approx(fitted["sagittal"])
    vs.wheel("coronal", 1, CTRL)
    vs.pane_key(Qt.Key.Key_0, CTRL | SHIFT)
    assert all(p.canvas.auto_fitted() for p in vs.session.panes.values())


def _reopen(vs):
    """A fresh window on the same project (the first one closed), as after a restart."""
    from app.widgets.main_window import MainWindow

    w = MainWindow(None, settings=vs.settings)
    vs.qtbot.addWidget(w)
    w.resize(1500, 900)
    w.show()
    assert w.open_project(vs.path)
    return w


def _volume_up(vs, w):
    vs.qtbot.waitUntil(lambda: getattr(getattr(w, "presenter", None), "session", None)
                       is not None, timeout=20000)
    session = w.presenter.session
    vs.qtbot.waitUntil(lambda: session.panes["axial"].canvas.isVisible()
                       or session.panes["sagittal"].canvas.isVisible(), timeout=5000)
    QTest.qWait(50)  # the layout settles
    return session


def test_each_volume_comes_back_as_it_was_left_after_reopening(vs):
    view = vs.presenter.view
    vs.click(view.layout_buttons["2x2"])
    c = vs.pane("axial").canvas.rect().center()
    vs.widget_drag("axial", c, c + QPoint(60, -30))  # window/level by right-drag
    window = vs.session.window
    vs.key(Qt.Key.Key_C)
    vs.pane_click("coronal", 40.5, 10.5)  # the crosshair: sagittal 40, axial 10
    vs.wheel("axial", 3)  # axial 13
    slices = {n: vs.index(n) for n in ("axial", "coronal", "sagittal")}
    assert (slices["axial"], slices["sagittal"]) == (13, 40)
    for name, notches in (("sagittal", 3), ("coronal", 2)):
        vs.wheel(name, notches, CTRL)
    zooms = {n: (vs.pane(n).canvas.zoom(), vs.pane(n).canvas.center())
             for n in ("sagittal", "coronal")}
    vs.pane_key(Qt.Key.Key_PageUp)  # to the photo: the volume is not the one shown at close
    vs.wait_picture()
    assert vs.current_name() == "img0.png"
    vs.win.close()

    w = _reopen(vs)
    try:
        vs.qtbot.waitUntil(lambda: w.canvas.showing() == "image", timeout=10000)
        QTest.keyClick(w.canvas, Qt.Key.Key_End)  # to the CT
        s = _volume_up(vs, w)
        v2 = w.presenter.view
        assert v2.layout_name == "2x2" and v2.layout_buttons["2x2"].isChecked()
        assert sorted(v2.visible_panes()) == ["axial", "coronal", "sagittal"]
        assert s.window == window and v2.presets.currentText() == "Custom"
        assert v2.window_text.text() == f"W {window.width:.0f}  L {window.level:.0f}"
        for p in s.panes.values():
            assert p.canvas.pyramid.mapping == window
        assert {n: p.source.index for n, p in s.panes.items()} == slices
        for name, (zoom, centre) in zooms.items():
            canvas = s.panes[name].canvas
            assert canvas.zoom() == pytest.approx(zoom)
            assert canvas.center() == pytest.approx(centre, abs=0.5)
        assert s.panes["axial"].canvas.auto_fitted()
        w.grab().save(str(vs.tmp_path / "reopened.png"))
        # maximise the sagittal pane and close with the volume shown
        QTest.mouseDClick(s.panes["sagittal"].title, LEFT, NOMOD)
        assert v2.visible_panes() == ["sagittal"]
        w.close()

        w3 = _reopen(vs)
        try:
            s3 = _volume_up(vs, w3)
            assert w3.presenter.view.visible_panes() == ["sagittal"]
            assert w3.presenter.view.layout_name == "2x2"
            assert {n: p.source.index for n, p in s3.panes.items()} == slices
            zoom, centre = zooms["sagittal"]
            assert s3.panes["sagittal"].canvas.zoom() == pytest.approx(zoom)
            assert s3.panes["sagittal"].canvas.center() == pytest.approx(centre, abs=0.5)
        finally:
            w3.close()
    finally:
        w.close()


def test_a_volume_shown_again_in_the_same_window_keeps_its_view(vs):
    vs.click(vs.presenter.view.layout_buttons["1x3"])
    vs.wheel("coronal", -4)
    j = vs.index("coronal")
    vs.wheel("axial", 2, CTRL)
    zoom = vs.pane("axial").canvas.zoom()
    presets = vs.presenter.view.presets
    assert presets.currentText() == "CT soft tissue"
    vs.click(presets)  # the list drops down; click "CT bone" in it
    vs.qtbot.waitUntil(lambda: presets.view().isVisible(), timeout=2000)
    QTest.qWait(QApplication.doubleClickInterval() + 50)  # a popup ignores an instant click
    row = presets.findText("CT bone")
    rect = presets.view().visualRect(presets.model().index(row, 0))
    QTest.mouseClick(presets.view().viewport(), LEFT, NOMOD, rect.center())
    vs.qtbot.waitUntil(lambda: vs.session.window.width == 1800, timeout=2000)
    assert presets.currentText() == "CT bone"
    vs.pane_click("axial", 80.5, 80.5)
    vs.pane_key(Qt.Key.Key_PageUp)
    vs.wait_picture()
    vs.key(Qt.Key.Key_End)
    vs.qtbot.waitUntil(lambda: vs.session is not None, timeout=20000)
    QTest.qWait(50)
    assert vs.index("coronal") == j
    assert vs.pane("axial").canvas.zoom() == pytest.approx(zoom)
    assert vs.presenter.view.presets.currentText() == "CT bone"
    assert math.isclose(vs.session.window.width, 1800)
