"""The volume mode in the real window (issue 9, views and segmentation): a DICOM CT series added
to a project like a user adds it, shown in three linked panes, driven with real mouse, wheel and
key events - crosshair linkage, window/level by right-drag, slices by wheel and arrows, painting
in each pane with undo/redo, fill between slices, paint limited to a HU range, flood fill, the
status bar under the pointer, layouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.core.places import PICTURE_AXES
from app.io.planes import lps_and_ras
from tools_scene import CTRL, LEFT, NOMOD, RIGHT, SHIFT, WindowScene

pytest.importorskip("pytestqt")


@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory):
    from app.demo_media import write_demo_ct

    return write_demo_ct(tmp_path_factory.mktemp("dicom") / "ct")


class VolumeScene(WindowScene):
    """The window on a project with one photo and the demo CT (36 x 160 x 160, 1.2 x 1.2 x
    4 mm), the CT shown."""

    def __init__(self, qtbot, tmp_path, ct_folder) -> None:
        from app.io.ingest import add_media
        from app.io.volume import load_volume

        super().__init__(qtbot, tmp_path, images=1)
        self.win.resize(1500, 900)
        report = add_media(self.doc, [ct_folder])
        self.item = report.added[0]
        self.array = load_volume(ct_folder).array  # the reference voxels (HU)
        self.key(Qt.Key.Key_End)
        qtbot.waitUntil(lambda: self.session is not None, timeout=20000)
        qtbot.waitUntil(lambda: self.pane("axial").canvas.isVisible(), timeout=5000)
        QApplication.processEvents()

    @property
    def presenter(self):
        return self.win.presenter

    @property
    def session(self):
        p = self.presenter
        return getattr(p, "session", None)

    @property
    def panel(self):
        return self.presenter.panel

    def pane(self, name: str):
        return self.session.panes[name]

    def index(self, name: str) -> int:
        return self.pane(name).source.index

    def pt(self, name: str, x: float, y: float) -> QPoint:
        wx, wy = self.pane(name).canvas.image_to_widget(x, y)
        return QPoint(int(math.floor(wx)), int(math.floor(wy)))

    def pane_click(self, name, x, y, button=LEFT, mods=NOMOD) -> None:
        QTest.mouseClick(self.pane(name).canvas, button, mods, self.pt(name, x, y))

    def pane_drag(self, name, points, button=LEFT, mods=NOMOD, steps: int = 4) -> None:
        canvas = self.pane(name).canvas
        QTest.mousePress(canvas, button, mods, self.pt(name, *points[0]))
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            for i in range(1, steps + 1):
                t = i / steps
                QTest.mouseMove(canvas, self.pt(name, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
        QTest.mouseRelease(canvas, button, mods, self.pt(name, *points[-1]))

    def widget_drag(self, name, start: QPoint, end: QPoint, button=RIGHT) -> None:
        canvas = self.pane(name).canvas
        QTest.mousePress(canvas, button, NOMOD, start)
        for t in (0.25, 0.5, 0.75, 1.0):
            QTest.mouseMove(canvas, QPoint(round(start.x() + (end.x() - start.x()) * t),
                                           round(start.y() + (end.y() - start.y()) * t)))
        QTest.mouseRelease(canvas, button, NOMOD, end)

    def wheel(self, name: str, notches: int, mods=NOMOD) -> None:
        canvas = self.pane(name).canvas
        at = QPointF(canvas.width() / 2, canvas.height() / 2)
        ev = QWheelEvent(at, canvas.mapToGlobal(at), QPoint(0, 0), QPoint(0, 120 * notches),
                         Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(canvas, ev)

    def labels(self):
        info = self.session.segmentation.info()
        return None if info is None else self.doc.labelmap_volume(info.id)

    def pane_key(self, key, mods=NOMOD) -> None:
        """A key to the keyboard's focus once a pane has it (as after a click on it)."""
        QTest.keyClick(self.focus(), key, mods)


@pytest.fixture
def vs(qtbot, tmp_path, ct_folder):
    s = VolumeScene(qtbot, tmp_path, ct_folder)
    yield s
    s.win.close()


LESION = (105.5, 59.5)  # axial picture point (i, j) on the lesion (x = 30 mm, y = -25 mm)


def test_three_panes_in_patient_space_with_letters_and_one_array(vs):
    s = vs.session
    assert set(s.panes) == {"axial", "coronal", "sagittal"}
    assert {n: p.axis for n, p in s.panes.items()} == {"axial": "k", "coronal": "j",
                                                       "sagittal": "i"}
    assert vs.pane("axial").source.orientation.letters == ("R", "L", "A", "P")
    assert vs.pane("sagittal").source.orientation.letters == ("A", "P", "S", "I")
    for pane in s.panes.values():  # every pane's picture is a view into the one array
        assert np.shares_memory(pane.source.pixels(), s.array)
        assert pane.canvas.isVisible()
    # anisotropic voxels keep their aspect: the coronal picture is 160 x 36 px of 1.2 x 4 mm
    view = vs.pane("coronal").canvas.view()
    left, top, right, bottom = view.widget_rect(0, 0, 160, 36)
    assert math.isclose((right - left) / (bottom - top), (160 * 1.2) / (36 * 4.0), rel_tol=1e-6)


def test_the_crosshair_links_the_panes_through_world_coordinates(vs):
    vs.key(Qt.Key.Key_C)
    assert vs.pane("axial").canvas.tool.name == "crosshair"
    k = vs.index("axial")
    vs.pane_click("axial", *LESION)
    assert (vs.index("sagittal"), vs.index("coronal"), vs.index("axial")) == (105, 59, k)
    world = vs.pane("axial").source.to_world(*LESION)
    for name in ("coronal", "sagittal"):  # each pane's crosshair lies on that world point
        src = vs.pane(name).source
        x, y, n = src.point_of(world)
        assert round(n) == src.index
        cx, cy = vs.pane(name).cross
        assert math.hypot(cx - x, cy - y) < 0.6
    # a drag in the coronal pane moves the axial and sagittal slices with it
    vs.pane_drag("coronal", [(40.5, 10.5), (60.5, 25.5)])
    assert (vs.index("axial"), vs.index("sagittal"), vs.index("coronal")) == (25, 60, 59)
    # Shift+move with any tool moves it too (3D Slicer)
    vs.key(Qt.Key.Key_B)
    QTest.mouseMove(vs.pane("sagittal").canvas, vs.pt("sagittal", 70.5, 5.5))
    ev_pos = vs.pt("sagittal", 70.5, 5.5)
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtCore import QEvent

    canvas = vs.pane("sagittal").canvas
    move = QMouseEvent(QEvent.Type.MouseMove, QPointF(ev_pos), canvas.mapToGlobal(QPointF(ev_pos)),
                       Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, SHIFT)
    QApplication.sendEvent(canvas, move)
    # the slices under the pointer's whole widget pixel (about (70, 5); which one exactly
    # depends on the pane's zoom, i.e. on the window's size)
    ix, iy = canvas.widget_to_image(ev_pos.x(), ev_pos.y())
    assert abs(ix - 70.5) < 2 and abs(iy - 5.5) < 2
    assert (vs.index("coronal"), vs.index("axial")) == (math.floor(ix), math.floor(iy))


def test_wheel_steps_slices_ctrl_wheel_zooms_and_arrows_step_the_active_pane(vs):
    k = vs.index("axial")
    vs.wheel("axial", 1)
    assert vs.index("axial") == k + 1  # forward = towards superior (k grows with z here)
    zoom = vs.pane("axial").canvas.zoom()
    vs.wheel("axial", 1, CTRL)
    assert vs.index("axial") == k + 1 and vs.pane("axial").canvas.zoom() > zoom
    vs.pane_click("axial", 80.5, 80.5)  # the pane takes the keyboard (any tool)
    vs.pane_key(Qt.Key.Key_Down)
    vs.pane_key(Qt.Key.Key_Down)
    assert vs.index("axial") == k - 1
    vs.pane_key(Qt.Key.Key_Up, SHIFT)
    assert vs.index("axial") == k + 9
    vs.pane_key(Qt.Key.Key_F)  # F / D: slices on a volume, as frames on video
    assert vs.index("axial") == k + 10
    vs.wheel("sagittal", -2)
    assert vs.session.active in ("axial", "sagittal")
    vs.pane_key(Qt.Key.Key_PageUp)  # the window's item key still changes item
    vs.wait_picture()
    assert vs.current_name() == "img0.png"


def test_right_drag_sets_window_level_in_every_pane_and_presets_set_it_back(vs):
    before = vs.pane("coronal").canvas.grab().toImage()
    w0 = vs.session.window
    per = vs.session.per_pixel()
    c = vs.pane("axial").canvas.rect().center()
    vs.widget_drag("axial", c, c + QPoint(100, 40))
    w1 = vs.session.window
    assert math.isclose(w1.width, w0.width + 100 * per, rel_tol=1e-6)
    assert math.isclose(w1.level, w0.level + 40 * per, rel_tol=1e-6)
    for pane in vs.session.panes.values():
        assert pane.canvas.pyramid.mapping == w1
    assert vs.pane("coronal").canvas.grab().toImage() != before
    view = vs.presenter.view
    assert view.presets.currentText() == "Custom" and "W " in view.window_text.text()
    assert vs.labels() is None  # a right-drag never paints
    view.presets.setCurrentText("CT bone")
    view.presets.activated.emit(view.presets.currentIndex())
    from app.io.planes import CT_PRESETS

    assert vs.session.window == CT_PRESETS["CT bone"]


def test_the_brush_paints_in_each_pane_with_one_undo_per_stroke(vs):
    vs.key(Qt.Key.Key_1)
    cls = vs.state.active_class()
    vs.key(Qt.Key.Key_B)
    vs.panel.radius.setValue(3.0)  # mm
    k, j, i = vs.index("axial"), vs.index("coronal"), vs.index("sagittal")
    vs.pane_drag("axial", [(50.5, 60.5), (70.5, 60.5)])
    info = vs.session.segmentation.info()
    seg = info.segments[0]
    assert seg.class_id == cls.id and seg.name == cls.name
    lab = vs.labels()
    assert set(np.nonzero(lab)[0]) == {k} and lab[k, 60, 50:71].all()
    vs.pane_drag("coronal", [(40.5, 10.5), (40.5, 20.5)])  # picture [k, i]
    vs.pane_drag("sagittal", [(30.5, 12.5), (45.5, 12.5)])  # picture [k, j]
    lab = vs.labels()
    assert lab[10:21, j, 40].all() and lab[12, 30:46, i].all()
    # 3 mm over 4 mm slices: no neighbouring slice painted by a disc
    assert not lab[:, j + 1].any() and not lab[:, :, i + 1].any()
    n = int(lab.sum())
    assert n == vs.panel.stats.counts()[seg.value]
    vs.qtbot.waitUntil(lambda: vs.panel.table.item(0, 5).text() == f"{n:,}", timeout=2000)
    ml = n * 1.2 * 1.2 * 4.0 / 1000
    assert vs.panel.table.item(0, 6).text() == f"{ml:.2f}"
    for _ in range(3):
        vs.key(Qt.Key.Key_Z, CTRL)
    assert not vs.labels().any()
    vs.key(Qt.Key.Key_Z, CTRL | SHIFT)
    assert set(np.nonzero(vs.labels())[0]) == {k}
    # the eraser clears what the brush painted, in the same pane
    vs.key(Qt.Key.Key_E)
    vs.pane_drag("axial", [(45.5, 60.5), (75.5, 60.5)])
    assert not vs.labels().any()


def test_a_3d_sphere_paints_the_neighbouring_slices(vs):
    vs.key(Qt.Key.Key_1)
    vs.key(Qt.Key.Key_B)
    vs.panel.sphere.click()
    vs.panel.radius.setValue(9.0)
    k = vs.index("axial")
    vs.pane_click("axial", 80.5, 80.5)
    painted = sorted(set(np.nonzero(vs.labels())[0]))
    assert painted == [k - 2, k - 1, k, k + 1, k + 2]  # floor(9 / 4) slices each side


def test_fill_between_two_painted_slices_gives_a_filled_slab(vs):
    vs.key(Qt.Key.Key_1)
    vs.key(Qt.Key.Key_B)
    vs.panel.radius.setValue(6.0)
    vs.pane_click("axial", 80.5, 80.5)
    k0 = vs.index("axial")
    for _ in range(6):
        vs.pane_key(Qt.Key.Key_Up)
    k1 = vs.index("axial")
    vs.pane_click("axial", 80.5, 80.5)
    lab = vs.labels()
    assert sorted(set(np.nonzero(lab)[0])) == sorted({k0, k1})
    disc = lab[k0] != 0
    vs.click(vs.panel.between)
    lab = vs.labels()
    lo, hi = sorted((k0, k1))
    assert sorted(set(np.nonzero(lab)[0])) == list(range(lo, hi + 1))
    for n in range(lo, hi + 1):
        assert np.array_equal(lab[n] != 0, disc), n
    assert vs.doc.undo_label == "Fill between slices"
    vs.key(Qt.Key.Key_Z, CTRL)
    assert sorted(set(np.nonzero(vs.labels())[0])) == sorted({k0, k1})


def test_paint_limited_to_a_hu_range_paints_only_bone(vs):
    vs.key(Qt.Key.Key_1)
    vs.key(Qt.Key.Key_B)
    vs.click(vs.panel.limit_on)  # HU 200-3000
    assert vs.session.settings.intensity == (200.0, 3000.0)
    vs.panel.radius.setValue(8.0)
    k = vs.index("axial")
    vs.pane_drag("axial", [(20.5, 80.5), (60.5, 80.5)])  # across the skull into the brain
    lab = vs.labels() != 0
    assert lab.any()
    assert (vs.array[lab] >= 200).all()
    # the brain the stroke crossed stays unpainted
    assert not lab[k, 78:83, 40:60].any() and vs.array[k, 80, 50] < 200


def test_flood_fill_in_the_slice_and_in_3d(vs):
    from app.tools.volume_fill import flood_2d

    vs.key(Qt.Key.Key_1)
    vs.key(Qt.Key.Key_U)
    k = vs.index("axial")
    vs.pane_click("axial", 80.5, 100.5)  # on the brain
    lab = vs.labels() != 0
    v = vs.array[k, 100, 80]
    expected = flood_2d(vs.array[k], (100, 80), v - 50, v + 50)
    assert np.array_equal(lab[k], expected) and lab.sum() == expected.sum()
    assert "voxels" in vs.win.statusBar().currentMessage()
    vs.key(Qt.Key.Key_Z, CTRL)
    vs.panel.fill_3d.click()
    vs.pane_click("axial", 80.5, 100.5)  # 3D: off the UI thread, then one undoable edit
    vs.qtbot.waitUntil(lambda: "voxels" in vs.win.statusBar().currentMessage(), timeout=10000)
    lab = vs.labels() != 0
    assert len(set(np.nonzero(lab)[0])) > 10  # through the slices
    assert (vs.array[lab] < 200).all()  # the skull stops it


def test_the_status_bar_names_the_voxel_its_world_position_and_value(vs):
    canvas = vs.pane("coronal").canvas
    j = vs.index("coronal")
    QTest.mouseMove(canvas, vs.pt("coronal", 30.5, 12.5))
    text = vs.win.status.cursor.text()
    world = vs.session.geometry.voxel_to_world((30, j, 12))
    assert f"voxel (i 30, j {j}, k 12)" in text
    assert lps_and_ras(world) in text
    assert f"{vs.array[12, j, 30]:.0f} HU" in text


def test_layouts_and_maximising_a_pane(vs):
    view = vs.presenter.view
    assert sorted(view.visible_panes()) == ["axial", "coronal", "sagittal"]
    vs.click(view.layout_buttons["2x2"])
    assert view.info.isVisible() and "spacing 1.2 × 1.2 × 4 mm" in view.info.text()
    vs.click(view.layout_buttons["single"])
    assert view.visible_panes() == [vs.session.active]
    vs.click(view.layout_buttons["1x3"])
    title = vs.pane("sagittal").title
    QTest.mouseDClick(title, LEFT)
    assert view.visible_panes() == ["sagittal"]
    QTest.mouseDClick(title, LEFT)
    assert sorted(view.visible_panes()) == ["axial", "coronal", "sagittal"]


def test_segments_are_added_linked_to_a_new_class_renamed_and_deleted(vs, qtbot):
    from tools_scene import in_dialog

    def fill(dialog):
        dialog.setTextValue("Tumour")
        dialog.accept()

    in_dialog(qtbot, lambda: vs.click(vs.panel.add_button), fill)
    cls = vs.doc.schema.class_by_name("Tumour")
    info = vs.session.segmentation.info()
    assert cls is not None and info.segments[0].class_id == cls.id
    assert vs.state.class_id == cls.id
    vs.key(Qt.Key.Key_B)
    vs.pane_click("axial", 80.5, 80.5)
    assert vs.labels().any()
    item = vs.panel.table.item(0, 2)
    item.setText("Tumour A")
    assert vs.session.segmentation.info().segments[0].name == "Tumour A"
    vs.panel.table.selectRow(0)
    vs.click(vs.panel.delete_button)
    assert vs.session.segmentation.info().segments == ()
    assert not vs.labels().any()
    vs.key(Qt.Key.Key_Z, CTRL)
    assert vs.labels().any() and vs.session.segmentation.info().segments[0].name == "Tumour A"


def test_the_demo_ct_gets_its_findings_in_one_undoable_command(tmp_path, ct_folder):
    from app.core.document import Document
    from app.demo_media import lesion_mask
    from app.io.ingest import add_media
    from app.widgets.volume.demo import demo_volume_labels

    with Document.create(tmp_path / "demo") as doc:
        item = add_media(doc, [ct_folder]).added[0]
        doc.execute(demo_volume_labels(doc, item))
        (info,) = doc.labelmaps(item.id)
        (seg,) = info.segments
        cls = doc.schema.class_by_name("lesion")
        assert (info.name, seg.name, seg.class_id) == ("Findings", "lesion", cls.id)
        assert np.array_equal(doc.labelmap_volume(info.id) == 1, lesion_mask())
        again = demo_volume_labels(doc, item)  # a second run reuses the class
        doc.execute(again)
        assert len([c for c in doc.schema.classes if c.name == "lesion"]) == 1
        doc.undo()
        doc.undo()
        assert doc.labelmaps(item.id) == [] and doc.schema.class_by_name("lesion") is None


def test_bracket_keys_size_the_brush_in_millimetres_in_every_pane(vs):
    vs.key(Qt.Key.Key_B)
    vs.panel.radius.setValue(4.0)
    vs.pane_click("sagittal", 80.5, 18.5)  # the pane takes the keyboard (paints a dot)
    vs.pane_key(Qt.Key.Key_BracketRight)
    assert math.isclose(vs.session.settings.radius_mm, 5.0, rel_tol=1e-6)
    assert math.isclose(vs.panel.radius.value(), 5.0)
    brush = vs.win.tools["brush"]  # one tool for every pane
    for name, pane in vs.session.panes.items():  # each pane's cursor circle in its own px
        QTest.mouseMove(pane.canvas, vs.pt(name, 30.5, 20.5))
        (circle,) = [o for o in brush.overlay() if o.kind == "circle"]
        assert brush.surface is pane.surface
        assert math.isclose(circle.radius, 5.0 / 1.2, rel_tol=1e-6), name


def test_shapes_drawn_on_a_slice_are_kept_at_that_array_axis_and_index(vs):
    vs.key(Qt.Key.Key_1)
    vs.key(Qt.Key.Key_R)
    j = vs.index("coronal")
    vs.pane_drag("coronal", [(30.5, 8.5), (70.5, 20.5)])
    (ann,) = [a for a in vs.doc.annotations(vs.item.id, all_frames=True) if a.kind == "box"]
    assert (ann.place.axis, ann.place.index) == ("j", j)
    x, y, w, h = ann.shape.bbox()
    assert abs(x - 30.5) < 1 and abs(y - 8.5) < 1 and abs(w - 40) < 1.5 and abs(h - 12) < 1.5
    assert vs.state.place == ann.place  # the Objects panel lists the active pane's slice


def test_a_volume_whose_files_went_away_says_so_in_one_sentence(qtbot, tmp_path, ct_folder):
    import shutil

    from app.io.ingest import add_media

    s = WindowScene(qtbot, tmp_path, images=1)
    try:
        copy = shutil.copytree(ct_folder, tmp_path / "gone")
        item = add_media(s.doc, [copy]).added[0]
        shutil.rmtree(copy)
        s.win.show_media(item.id)
        view = s.win.presenter.view
        qtbot.waitUntil(lambda: "Loading" not in view.message.text(), timeout=10000)
        text = view.message.text()
        assert str(copy) in text and "Traceback" not in text
        assert s.win.presenter.session is None and s.state.refusal
        s.key(Qt.Key.Key_PageUp)
        s.wait_picture()
        assert s.canvas.showing() == "image"
    finally:
        s.win.close()


def test_a_sagittal_acquisition_in_patient_panes_agrees_with_simpleitk(qtbot, tmp_path):
    """Slices acquired along L-R: the axial pane shows array axis j, and the world position
    under the pointer and a crosshair click land where SimpleITK puts them."""
    sitk = pytest.importorskip("SimpleITK")
    from app.io.ingest import add_media
    from test_volume_support import make_series

    folder = tmp_path / "sag"
    make_series(folder, n=20, rows=30, cols=24, pixel_spacing=(0.9, 0.8), step=1.5,
                origin=(-15.0, -10.0, 40.0), row_dir=(0.0, 1.0, 0.0), col_dir=(0.0, 0.0, -1.0))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    ref = reader.Execute()
    s = WindowScene(qtbot, tmp_path, images=1)
    try:
        item = add_media(s.doc, [folder]).added[0]
        s.win.show_media(item.id)
        qtbot.waitUntil(lambda: getattr(s.win.presenter, "session", None) is not None,
                        timeout=20000)
        session = s.win.presenter.session
        assert {n: p.axis for n, p in session.panes.items()} == {
            "axial": "j", "coronal": "i", "sagittal": "k"}
        axial = session.panes["axial"]
        assert axial.source.orientation.letters == ("R", "L", "A", "P")
        canvas = axial.canvas
        x, y = 5.5, 7.5  # picture of axis j is [k, i]: x = i, y = k
        wx, wy = canvas.image_to_widget(x, y)
        QTest.mouseMove(canvas, QPoint(int(wx), int(wy)))
        j = axial.source.index
        world = ref.TransformIndexToPhysicalPoint((5, j, 7))
        assert f"voxel (i 5, j {j}, k 7)" in s.win.status.cursor.text()
        assert lps_and_ras(np.array(world)) in s.win.status.cursor.text()
        s.key(Qt.Key.Key_C)
        QTest.mouseClick(canvas, LEFT, NOMOD, QPoint(int(wx), int(wy)))
        clicked = axial.source.to_world(*canvas.widget_to_image(int(wx) + 0.5, int(wy) + 0.5))
        i_ref, _, k_ref = ref.TransformPhysicalPointToIndex(tuple(float(v) for v in clicked))
        assert (session.panes["sagittal"].source.index, session.panes["coronal"].source.index
                ) == (k_ref, i_ref)
    finally:
        s.win.close()


def test_the_options_bar_shows_the_brush_in_voxels_and_millimetres(vs):
    vs.key(Qt.Key.Key_B)
    vs.panel.radius.setValue(6.0)
    _label, _slider, spin, mm = vs.win.tool_options.controls[("size", "brush_radius")]
    assert spin.suffix() == " vx" and mm.text() == "= 6.0 mm"
    spin.setValue(spin.value() + 2)  # the bar's own control moves the mm size too
    assert math.isclose(vs.panel.radius.value(), vs.session.settings.radius_mm)
    assert mm.text() == f"= {vs.session.settings.radius_mm:.1f} mm"
    assert vs.session.settings.radius_mm > 6.0
