"""Linked series (issue 20 item 5): two volumes of one frame of reference (the same world box
at 1 mm and 5 mm, one oblique) - the Qt-free core against SimpleITK's index transform and
resampling, then the window: link the 5 mm series to the 1 mm one, a real click moves the
crosshair and the linked series follows to its nearest slices, the fusion overlay draws the
second series over the first, and a segment painted on the first shows on the second where
SimpleITK's nearest-neighbour resampling puts it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.geometry import VolumeGeometry
from app.io.volume.linked import (array_reader, frame_link, nearest_slices, nearest_voxel,
                                  plane_points, resample_plane)

sitk = pytest.importorskip("SimpleITK")


def _rotation(deg_z: float, deg_x: float) -> np.ndarray:
    a, b = math.radians(deg_z), math.radians(deg_x)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return rz @ rx


FINE = VolumeGeometry((60, 50, 40), (1.0, 1.0, 1.0), (-20.3, -25.2, -30.1))
THICK = VolumeGeometry((12, 50, 40), (1.0, 1.0, 5.0), (-20.3, -25.2, -28.1))
OBLIQUE = VolumeGeometry((14, 22, 20), (2.1, 2.3, 5.0), (-18.7, -24.9, -31.3),
                         tuple(map(tuple, _rotation(17.0, 11.0))))


def _image(array: np.ndarray, g: VolumeGeometry):
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(g.spacing)
    img.SetOrigin(g.origin)
    img.SetDirection(tuple(float(v) for v in np.asarray(g.direction).ravel()))
    return img


def _slice_reference(g: VolumeGeometry, axis: str, index: int):
    """A SimpleITK image of one slice of ``g`` (size 1 along ``axis``)."""
    size = [g.axis_size(a) for a in "ijk"]
    size["ijk".index(axis)] = 1
    start = [0.0, 0.0, 0.0]
    start["ijk".index(axis)] = float(index)
    ref = sitk.Image(size, sitk.sitkFloat32)
    ref.SetSpacing(g.spacing)
    ref.SetOrigin(tuple(float(v) for v in g.voxel_to_world(start)))
    ref.SetDirection(tuple(float(v) for v in np.asarray(g.direction).ravel()))
    return ref


def _sitk_plane(img, g: VolumeGeometry, axis: str, index: int, interp) -> np.ndarray:
    out = sitk.GetArrayFromImage(sitk.Resample(img, _slice_reference(g, axis, index),
                                               sitk.Transform(), interp, 0.0,
                                               img.GetPixelID()))
    return out.squeeze("kji".index(axis))


@pytest.mark.parametrize("other", [THICK, OBLIQUE], ids=["5mm", "oblique"])
def test_nearest_voxel_and_slices_equal_simpleitk(other):
    img = _image(np.zeros(other.shape, np.int16), other)
    rng = np.random.default_rng(3)
    lo = np.array(FINE.voxel_to_world((0, 0, 0)))
    hi = np.array(FINE.voxel_to_world([s - 1 for s in FINE.shape[::-1]]))
    for p in rng.uniform(lo, hi, size=(300, 3)):
        assert nearest_voxel(other, p) == tuple(img.TransformPhysicalPointToIndex(tuple(p)))
        ref = img.TransformPhysicalPointToIndex(tuple(p))
        got = nearest_slices(other, p)
        for n, a in enumerate("ijk"):
            assert got[a] == min(max(ref[n], 0), other.axis_size(a) - 1)


@pytest.mark.parametrize("other", [THICK, OBLIQUE], ids=["5mm", "oblique"])
@pytest.mark.parametrize("axis", ["k", "j", "i"])
def test_resampled_planes_equal_simpleitk(other, axis):
    rng = np.random.default_rng(5)
    intensity = rng.normal(40, 200, size=other.shape).astype(np.float32)
    labels = np.zeros(other.shape, np.uint8)
    k, j, i = other.shape
    labels[k // 4:3 * k // 4, j // 4:3 * j // 4, i // 4:3 * i // 4] = 2
    labels[k // 2 - 1:k // 2 + 2, j // 2 - 2:j // 2 + 2, i // 2 - 2:i // 2 + 2] = 5
    index = FINE.axis_size(axis) // 2 + 1
    got = resample_plane(array_reader(intensity), other, FINE, axis, index, order=1)
    ref = _sitk_plane(_image(intensity, other), FINE, axis, index, sitk.sitkLinear)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-2)
    lab = resample_plane(array_reader(labels), other, FINE, axis, index, order=0)
    lref = _sitk_plane(_image(labels, other), FINE, axis, index, sitk.sitkNearestNeighbor)
    assert lab.dtype == np.uint8
    assert np.mean(lab != lref) < 1e-3  # ties at exact half-voxels may round either way
    assert (lab == 2).sum() > 0
    # the other way: the 1 mm series on the thick / oblique one's planes
    fine = rng.normal(0, 100, size=FINE.shape).astype(np.float32)
    back_axis = other.panes()["axial"].axis
    got = resample_plane(array_reader(fine), FINE, other, back_axis, 6, order=1)
    ref = _sitk_plane(_image(fine, FINE), other, back_axis, 6, sitk.sitkLinear)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-2)


def test_plane_points_are_voxel_to_world_of_the_picture_pixels():
    pts = plane_points(OBLIQUE, "j", 7)  # picture [k, i]
    assert pts.shape == (14, 20, 3)
    np.testing.assert_allclose(pts[3, 5], OBLIQUE.voxel_to_world((5, 7, 3)))


def test_frame_link_prefers_the_dicom_uid_and_assumes_on_overlap():
    assert frame_link(FINE, THICK, "1.2.3", "1.2.3").how == "dicom"
    far = VolumeGeometry((5, 5, 5), (1, 1, 1), (500.0, 500.0, 500.0))
    refused = frame_link(FINE, far, "1.2.3", "1.2.3")  # the UID wins over the boxes
    assert refused.how == "dicom"
    other = frame_link(FINE, THICK, "1.2.3", "1.2.4")
    assert not other.linked and "another DICOM frame of reference" in other.sentence
    assumed = frame_link(FINE, OBLIQUE)
    assert assumed.how == "assumed" and "assumed" in assumed.sentence
    apart = frame_link(FINE, far, name_b="far.nii.gz")
    assert not apart.linked and apart.sentence.startswith("far.nii.gz does not overlap")


# ------------------------------------------------------------------ the window
# Two NIfTIs of one world box: 48 x 44 x 40 voxels at 1 mm and 48 x 44 x 8 at 1 x 1 x 5 mm.
# A's voxel centres run z0 .. z0 + 39, B's z0 + 2 + 5n (the box from z0 - 0.5 to z0 + 39.5).
Z0 = -12.3


def _nifti(path, array: np.ndarray, g: VolumeGeometry):
    import nibabel as nib

    # nibabel's data is [i, j, k]; the affine RAS (CONVENTIONS.md)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(array.transpose(2, 1, 0)), g.affine_ras()),
             str(path))
    return path


@pytest.fixture
def linked_scene(qtbot, tmp_path, request):
    """The 1 mm series shown, the 5 mm one beside it in the project; with the parameter
    "oblique" the second one is a 5 mm stack tilted 20 and 8 degrees, stored RAS-first
    (flipped i and j: the panes' radiological flips are exercised)."""
    pytest.importorskip("pytestqt")
    from PySide6.QtWidgets import QApplication

    from app.io.ingest import add_media
    from tools_scene import WindowScene

    fine = VolumeGeometry((40, 44, 48), (1.0, 1.0, 1.0), (-20.4, -15.6, Z0))
    thick = VolumeGeometry((8, 44, 48), (1.0, 1.0, 5.0), (-20.4, -15.6, Z0 + 2.0))
    kk, jj, ii = np.meshgrid(np.arange(40), np.arange(44), np.arange(48), indexing="ij")
    a = (100.0 * np.exp(-((ii - 24) ** 2 + (jj - 20) ** 2 + (kk - 20) ** 2) / 200.0)
         ).astype(np.float32)
    wz = thick.voxel_to_world(np.stack([np.zeros(8), np.zeros(8), np.arange(8)], 1))[:, 2]
    kb = (wz - Z0)[:, None, None]  # B's slices in A's k
    b = (300.0 * np.exp(-((ii[:8] - 30) ** 2 + (jj[:8] - 12) ** 2 + (kb - 18) ** 2) / 60.0)
         ).astype(np.float32)
    if getattr(request, "param", "thick") == "oblique":
        d = np.diag([-1.0, -1.0, 1.0]) @ _rotation(20.0, 8.0)
        shape, spacing = (9, 30, 28), (1.6, 1.6, 5.0)
        centre = fine.voxel_to_world((23.5, 21.5, 19.5))
        half = np.array([(shape[2] - 1) / 2, (shape[1] - 1) / 2, (shape[0] - 1) / 2])
        origin = centre - d @ (half * np.array(spacing))
        thick = VolumeGeometry(shape, spacing, tuple(origin), tuple(map(tuple, d)))
        kk, jj, ii = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
        b = (10.0 * ii + 3.0 * jj + 50.0 * kk).astype(np.float32)
    pa = _nifti(tmp_path / "fine_1mm.nii.gz", a, fine)
    pb = _nifti(tmp_path / "thick_5mm.nii.gz", b, thick)
    s = WindowScene(qtbot, tmp_path, images=1)
    s.win.resize(1500, 1000)
    added = add_media(s.doc, [pa, pb]).added
    item_a, item_b = sorted(added, key=lambda m: m.file_name != "fine_1mm.nii.gz")
    s.win.show_media(item_a.id)
    qtbot.waitUntil(lambda: getattr(s.win.presenter, "session", None) is not None
                    and s.win.presenter.session.item.id == item_a.id, timeout=20000)
    QApplication.processEvents()
    s.item_a, s.item_b, s.fine, s.thick, s.a, s.b = item_a, item_b, fine, thick, a, b
    yield s
    s.win.close()


def _click(widget, wx: float, wy: float, button=None) -> None:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    QTest.mouseClick(widget, button or Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, QPoint(int(wx), int(wy)))


def _pane_click(session, pane: str, x: float, y: float) -> None:
    canvas = session.panes[pane].canvas
    wx, wy = canvas.image_to_widget(x, y)
    _click(canvas, math.floor(wx), math.floor(wy))


def test_linking_a_5mm_series_follows_the_crosshair_fuses_and_shows_labels_across(
        linked_scene, qtbot):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    s = linked_scene
    p = s.win.presenter
    combo = p.view.link_combo
    names = [combo.itemText(n) for n in range(combo.count())]
    assert names[1:] == [s.item_b.name]  # the one other volume of this frame of reference
    combo.setCurrentIndex(1)
    combo.activated.emit(1)
    qtbot.waitUntil(lambda: p.links.link is not None, timeout=20000)
    link = p.links.link
    assert link.link.how == "assumed"  # NIfTI: no DICOM frame of reference on either
    assert link.row.isVisible() and all(pn.isVisible() for pn in link.panes.values())
    session = p.session
    ref_b = _image(s.b, s.thick)
    ref_a = _image(s.a, s.fine)

    def b_index(pane: str) -> int:
        return link.panes[pane].source.index

    def check_follows() -> None:
        world = tuple(float(v) for v in session.crosshair.world)
        ijk = ref_b.TransformPhysicalPointToIndex(world)
        want = {a: min(max(ijk[n], 0), s.thick.axis_size(a) - 1) for n, a in enumerate("ijk")}
        for name, pane in link.panes.items():
            assert pane.source.index == want[pane.axis], (name, world)

    # a real click with the crosshair tool in A's coronal pane (picture [k, i]) at k = 22
    s.key(Qt.Key.Key_C)
    _pane_click(session, "coronal", 30.5, 22.5)
    assert session.panes["axial"].source.index == 22
    check_follows()
    assert b_index("axial") == 4  # B's slice 4 lies at A's k = 22 (z0 + 2 + 20)
    _pane_click(session, "axial", 10.5, 33.5)  # picture [j, i]
    assert (session.panes["sagittal"].source.index, session.panes["coronal"].source.index) == (
        10, 33)
    check_follows()
    # scrolling A one 1 mm slice at a time: B changes slice every 5
    for _ in range(3):
        session.step("axial", 1)
        check_follows()
    # a real click on B's axial pane moves the one crosshair; A follows to its nearest voxel
    pane = link.panes["axial"]
    wx, wy = pane.to_widget(40.5, 8.5)
    _click(pane, wx, wy)
    x, y = pane.to_picture(int(wx), int(wy))
    world = pane.source.to_world(x, y)
    ia = ref_a.TransformPhysicalPointToIndex(tuple(float(v) for v in world))
    assert (session.panes["sagittal"].source.index, session.panes["coronal"].source.index,
            session.panes["axial"].source.index) == ia
    check_follows()
    # a wheel notch on B's axial pane: B one 5 mm slice on, A to the world point
    k_b = b_index("axial")
    at = QPointF(pane.width() / 2, pane.height() / 2)
    QApplication.sendEvent(pane, QWheelEvent(at, pane.mapToGlobal(at), QPoint(0, 0),
                                             QPoint(0, 120), Qt.MouseButton.NoButton,
                                             Qt.KeyboardModifier.NoModifier,
                                             Qt.ScrollPhase.NoScrollPhase, False))
    assert b_index("axial") == k_b + 1
    assert session.panes["axial"].source.index == 2 + 5 * (k_b + 1)
    check_follows()
    # fusion: B's intensity on A's axial picture as SimpleITK resamples it (linear)
    layer = link.layers["axial"]
    src = session.panes["axial"].source
    ref = _sitk_plane(ref_b, s.fine, "k", src.index, sitk.sitkLinear)
    np.testing.assert_allclose(np.nan_to_num(layer.values()), ref, rtol=1e-4, atol=1e-2)
    canvas = session.panes["axial"].canvas
    with_fusion = canvas.grab().toImage()
    link.row.cmap.setCurrentText("off")
    assert canvas.grab().toImage() != with_fusion  # the overlay was drawn
    link.row.cmap.setCurrentText("hot")
    # paint a disc on A at k = 22: B's slice 4 (centred there) shows it where SimpleITK's
    # nearest-neighbour resampling of A's labels onto B's grid puts it
    _pane_click(session, "coronal", 30.5, 22.5)
    assert b_index("axial") == 4
    s.key(Qt.Key.Key_1)
    s.key(Qt.Key.Key_B)
    p.panel.radius.setValue(4.0)
    _pane_click(session, "axial", 20.5, 25.5)
    info = session.segmentation.info()
    labels = s.doc.labelmap_volume(info.id)
    assert labels[22].any() and not labels[21].any()
    want = sitk.GetArrayFromImage(sitk.Resample(_image(labels, s.fine), ref_b, sitk.Transform(),
                                                sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8))
    shown = link.labels_on(link.panes["axial"].source)[0][0]
    np.testing.assert_array_equal(shown, want[4])
    assert want[4].sum() > 20 and not want[3].any() and not want[5].any()
    rgb = link.panes["axial"].rgb.astype(int)
    coloured = (np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])) > 0
    np.testing.assert_array_equal(coloured, want[4] > 0)
    # B's coronal pane (picture [k, i]) shows the disc's row on B's slice 4 only
    _pane_click(session, "axial", 20.5, 25.5)  # the crosshair into the disc (brush: paints)
    cor = link.labels_on(link.panes["coronal"].source)[0][0]
    np.testing.assert_array_equal(cor, want[:, link.panes["coronal"].source.index, :])
    # unlinking takes the row and the overlay away
    link.row.unlink.click()
    assert p.links.link is None and p.view.linked is None


def _dicom_pair(tmp_path, same_frame: bool):
    """Two overlapping CT series (2 mm and 6 mm slices), each with its own frame of reference
    UID, or both with the first one's when ``same_frame``."""
    import pydicom
    from test_volume_support import make_series

    thin = make_series(tmp_path / "thin", n=18, rows=24, cols=20, step=2.0)
    thick = make_series(tmp_path / "thick", n=6, rows=24, cols=20, step=6.0,
                        origin=(-10.0, -20.0, 32.0))
    uid = str(pydicom.dcmread(thin[0], stop_before_pixels=True).FrameOfReferenceUID)
    if same_frame:
        for f in thick:
            ds = pydicom.dcmread(f)
            ds.FrameOfReferenceUID = uid
            ds.save_as(f)
    return tmp_path / "thin", tmp_path / "thick", uid


def test_the_frame_of_reference_uid_is_read_from_the_series_files(tmp_path):
    from app.io.volume import scan_series
    from app.io.volume.linked import frame_of_reference_uid

    thin, thick, uid = _dicom_pair(tmp_path, same_frame=False)
    series = scan_series(thin)[0]
    assert frame_of_reference_uid(thin, series.uid) == uid
    assert frame_of_reference_uid(thin, "1.2.3.4") == ""  # not a series of that folder
    other = frame_of_reference_uid(thick, scan_series(thick)[0].uid)
    assert other and other != uid
    nifti = _nifti(tmp_path / "v.nii.gz", np.zeros((4, 5, 6), np.float32), FINE.__class__(
        (4, 5, 6)))
    assert frame_of_reference_uid(nifti) == ""


@pytest.mark.parametrize("same_frame", [True, False], ids=["same-frame", "other-frame"])
def test_dicom_series_link_only_in_one_frame_of_reference(qtbot, tmp_path, same_frame):
    pytest.importorskip("pytestqt")
    from app.io.ingest import add_media
    from tools_scene import WindowScene

    thin, thick, _ = _dicom_pair(tmp_path, same_frame)
    s = WindowScene(qtbot, tmp_path, images=1)
    try:
        item_a, item_b = add_media(s.doc, [thin, thick]).added
        s.win.show_media(item_a.id)
        p = s.win.presenter
        qtbot.waitUntil(lambda: getattr(p, "session", None) is not None, timeout=20000)
        combo = p.view.link_combo
        assert combo.itemData(1) == item_b.id  # overlapping boxes: offered
        combo.setCurrentIndex(1)
        combo.activated.emit(1)
        if same_frame:
            qtbot.waitUntil(lambda: p.links.link is not None, timeout=20000)
            assert p.links.link.link.how == "dicom"
            assert "DICOM frame of reference" in p.links.link.row.label.text()
        else:
            qtbot.waitUntil(lambda: "another DICOM frame of reference" in
                            s.win.statusBar().currentMessage(), timeout=20000)
            assert p.links.link is None and p.view.linked is None
    finally:
        s.win.close()


def test_showing_another_item_unlinks_and_the_list_comes_back(linked_scene, qtbot):
    s = linked_scene
    p = s.win.presenter
    p.view.link_combo.setCurrentIndex(1)
    p.view.link_combo.activated.emit(1)
    qtbot.waitUntil(lambda: p.links.link is not None, timeout=20000)
    from PySide6.QtCore import Qt

    session = p.session  # paint a disc on the 1 mm series at k = 22 (B's slice 4)
    session.crosshair.set_index("k", 22)
    session.show_slices()
    s.key(Qt.Key.Key_1)
    s.key(Qt.Key.Key_B)
    p.panel.radius.setValue(4.0)
    _pane_click(session, "axial", 20.5, 25.5)
    labels = s.doc.labelmap_volume(session.segmentation.info().id)
    assert labels[22].any()
    s.win.show_media(s.item_b.id)  # the linked series itself becomes the one shown
    qtbot.waitUntil(lambda: p.session is not None and p.session.item.id == s.item_b.id,
                    timeout=20000)
    assert p.links.link is None and p.view.linked is None
    combo = p.view.link_combo
    assert [combo.itemData(n) for n in range(1, combo.count())] == [s.item_a.id]
    combo.setCurrentIndex(1)
    combo.activated.emit(1)  # and the 1 mm series links to the 5 mm one the other way
    qtbot.waitUntil(lambda: p.links.link is not None, timeout=20000)
    link = p.links.link
    # the 1 mm series' disc over the 5 mm panes, as SimpleITK's nearest resampling puts it
    p.session.crosshair.set_index("k", 4)
    p.session.show_slices()
    want = sitk.GetArrayFromImage(sitk.Resample(_image(labels, s.fine), _image(s.b, s.thick),
                                                sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                                                sitk.sitkUInt8))
    shown = link.layers["axial"].labels()
    assert len(shown) == 1 and want[4].sum() > 20
    np.testing.assert_array_equal(shown[0][0], want[4])
    img = link.layers["axial"].image()
    alpha = np.frombuffer(img.constBits(), np.uint32).reshape(img.height(), -1)[:, :img.width()]
    assert img is not None and alpha.shape == want[4].shape
    world = tuple(float(v) for v in p.session.crosshair.world)
    ref = _image(s.a, s.fine).TransformPhysicalPointToIndex(world)
    for pane in link.panes.values():
        assert pane.source.index == min(max(ref["ijk".index(pane.axis)], 0),
                                        s.fine.axis_size(pane.axis) - 1)


@pytest.mark.parametrize("linked_scene", ["oblique"], indirect=True)
def test_an_oblique_flipped_series_follows_and_clicks_land_where_simpleitk_says(
        linked_scene, qtbot):
    s = linked_scene
    p = s.win.presenter
    p.view.link_combo.setCurrentIndex(1)
    p.view.link_combo.activated.emit(1)
    qtbot.waitUntil(lambda: p.links.link is not None, timeout=20000)
    link, session = p.links.link, p.session
    ref_a, ref_b = _image(s.a, s.fine), _image(s.b, s.thick)
    assert any(pn.source.orientation.flip_x or pn.source.orientation.flip_y
               or pn.source.orientation.transpose for pn in link.panes.values())

    def check_follows() -> None:
        world = tuple(float(v) for v in session.crosshair.world)
        ijk = ref_b.TransformPhysicalPointToIndex(world)
        for pane in link.panes.values():
            n = "ijk".index(pane.axis)
            assert pane.source.index == min(max(ijk[n], 0), s.thick.axis_size(pane.axis) - 1)

    check_follows()
    for name in ("axial", "coronal", "sagittal"):
        pane = link.panes[name]
        w, h = pane.source.size
        wx, wy = pane.to_widget(w * 0.4, h * 0.6)
        _click(pane, wx, wy)
        x, y = pane.to_picture(int(wx), int(wy))
        assert abs(x - w * 0.4) < 1 and abs(y - h * 0.6) < 1  # the screen mapping inverts
        world = tuple(float(v) for v in pane.source.to_world(x, y))
        ia = ref_a.TransformPhysicalPointToIndex(world)
        assert tuple(session.crosshair.index(a) for a in "ijk") == ia
        check_follows()
        cx, cy = link.panes[name].cross  # B's crosshair drawn where A's crosshair lies
        bx, by, _ = link.panes[name].source.point_of(session.crosshair.world)
        assert (cx, cy) == (bx, by)
    # fusion of the oblique series on each A pane equals SimpleITK's linear resampling
    for name, layer in link.layers.items():
        src = session.panes[name].source
        ref = _sitk_plane(ref_b, s.fine, src.axis, src.index, sitk.sitkLinear)
        got = layer.values()
        inside = np.isfinite(got)
        assert inside.sum() > 100
        np.testing.assert_allclose(got[inside], ref[inside], rtol=1e-4, atol=1e-2)
