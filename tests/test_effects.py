"""Segment Editor effects (issue 20, item 2) on a generated anisotropic volume (0.8 x 0.8 x
2.5 mm): islands, smoothing, margin, hollow and logical operators each equal SimpleITK's filter
run on the whole volume, the "only where value in" and segment-area masks keep every change
inside them, undo restores the label map exactly, and the window runs an effect from the options
bar with real clicks."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from app.core.commands import ModifyLabelMap, Put, SetSchema
from app.core.document import Document
from app.core.geometry import VolumeGeometry
from app.core.labelmap import LabelMapInfo, Mode, Segment
from app.core.media import MediaItem, MediaKind
from app.core.schema import LabelClass, LabelSchema
from app.tools.effects.apply import EffectParams, run, segment_box
from app.tools.effects.morphology import kernel_radius

SHAPE = (24, 40, 48)  # k, j, i
SPACING = (0.8, 0.8, 2.5)  # si, sj, sk (mm)
GEO = VolumeGeometry(SHAPE, SPACING, (-20.0, 10.0, 5.0))


def lesion() -> np.ndarray:
    """Segment 1: an ellipsoid with a hole and a bump, two small islands and a one-voxel
    speck; segment 2: a block beside it (values of a [k, j, i] label map)."""
    k, j, i = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    z, y, x = (k - 11) * 2.5, (j - 18) * 0.8, (i - 22) * 0.8
    lab = np.zeros(SHAPE, np.uint16)
    lab[(z / 12) ** 2 + (y / 9) ** 2 + (x / 10) ** 2 <= 1] = 1
    lab[(z / 3) ** 2 + (y / 2) ** 2 + (x / 2) ** 2 <= 1] = 0  # a hole
    lab[11, 6:9, 21:23] = 1  # a thin bump
    lab[3:5, 30:33, 38:42] = 1  # an island of 24 voxels
    lab[18:20, 30:32, 5:8] = 1  # an island of 12
    lab[22, 2, 2] = 1  # a speck
    lab[8:16, 20:34, 33:44] = np.where(lab[8:16, 20:34, 33:44] == 0, 2, 1)
    return lab


def ct() -> np.ndarray:
    """Intensities rising along i: 10 HU per column."""
    return np.broadcast_to(np.arange(SHAPE[2], dtype=np.float32) * 10.0, SHAPE).copy()


@pytest.fixture
def scene(tmp_path):
    doc = Document.create(tmp_path / "p")
    item = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                     height=0, volume=GEO)
    doc.execute(Put((item,)))
    doc.execute(SetSchema(LabelSchema((LabelClass("lesion", "#ff0000", id="lesion"),
                                       LabelClass("organ", "#00ff00", id="organ")))))
    info = LabelMapInfo(item.id, *SHAPE, segments=(Segment(1, "lesion", "#ff0000", "lesion"),
                                                   Segment(2, "organ", "#00ff00", "organ")))
    doc.execute(Put((info,)))
    lab = lesion()
    for v in (1, 2):
        doc.execute(ModifyLabelMap(info.id, (0, 0, 0), lab == v, Mode.ADD, v))
    yield doc, info
    doc.close()


def image(mask: np.ndarray) -> sitk.Image:
    img = sitk.GetImageFromArray(mask.astype(np.uint8))
    img.SetSpacing(SPACING)
    return img


def arr(img: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(img).astype(bool)


def maurer(mask: np.ndarray) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(
        image(mask), insideIsPositive=False, squaredDistance=False, useImageSpacing=True))


def apply(doc, info, value=1, **params):
    """Run an effect; (label map before, after). Asserts one undo step restores it."""
    before = doc.labelmap_volume(info.id)
    cmd, text = run(doc, info.id, value, EffectParams(**params), SPACING, ct())
    assert cmd is not None, text
    doc.execute(cmd)
    after = doc.labelmap_volume(info.id)
    doc.undo()
    assert np.array_equal(doc.labelmap_volume(info.id), before)
    doc.redo()
    assert np.array_equal(doc.labelmap_volume(info.id), after)
    return before, after


def expect(before: np.ndarray, value: int, new: np.ndarray) -> np.ndarray:
    """The label map after segment ``value`` becomes ``new`` (overwriting other segments)."""
    out = before.copy()
    out[(before == value) & ~new] = 0
    out[new] = value
    return out


# ---------------------------------------------------------------------- islands
def test_islands_keep_largest_remove_small_and_split_equal_simpleitk(scene):
    doc, info = scene
    lab = lesion()
    cc = sitk.RelabelComponent(sitk.ConnectedComponent(image(lab == 1), False), 0, True)
    ranked = sitk.GetArrayFromImage(cc)
    assert ranked.max() == 4  # the ellipsoid, two islands, the speck
    before, after = apply(doc, info, effect="islands.keep_largest")
    assert np.array_equal(after, expect(before, 1, ranked == 1))
    doc.undo()
    before, after = apply(doc, info, effect="islands.remove_small", min_voxels=20)
    ref = arr(sitk.RelabelComponent(sitk.ConnectedComponent(image(lab == 1), False), 20, True))
    assert np.array_equal(after, expect(before, 1, ref))
    assert (after == 1).sum() == (ranked == 1).sum() + 24
    doc.undo()
    before, after = apply(doc, info, effect="islands.split", min_voxels=10)
    new = doc.labelmap_info(info.id).segments
    assert [s.value for s in new] == [1, 2, 3, 4]  # islands of 24 and 12 voxels; speck gone
    assert np.array_equal(after == 1, ranked == 1)
    assert np.array_equal(after == 3, ranked == 2) and np.array_equal(after == 4, ranked == 3)
    assert not after[22, 2, 2] and np.array_equal(after == 2, before == 2)
    doc.undo()
    assert [s.value for s in doc.labelmap_info(info.id).segments] == [1, 2]


# ---------------------------------------------------------------------- smoothing
def test_the_kernel_is_round_in_millimetres_by_slicers_rule():
    assert kernel_radius(5.0, SPACING) == (3, 3, 1)  # 7 x 7 x 3 voxels of 0.8 / 2.5 mm
    assert kernel_radius(3.0, SPACING) == (1, 1, 0)


@pytest.mark.parametrize("method", ["median", "opening", "closing"])
def test_smoothing_equals_simpleitks_binary_filters_with_the_radius_in_voxels(scene, method):
    doc, info = scene
    a = image(lesion() == 1)
    radius = [3, 3, 1]  # 5 mm
    ref = {"median": lambda: sitk.BinaryMedian(a, radius=radius, foregroundValue=1,
                                               backgroundValue=0),
           "opening": lambda: sitk.BinaryMorphologicalOpening(
               a, kernelRadius=radius, kernelType=sitk.sitkBall, backgroundValue=0,
               foregroundValue=1),
           "closing": lambda: sitk.BinaryMorphologicalClosing(
               a, kernelRadius=radius, kernelType=sitk.sitkBall, foregroundValue=1,
               safeBorder=True)}[method]()
    before, after = apply(doc, info, effect=f"smoothing.{method}", size_mm=5.0)
    assert np.array_equal(after, expect(before, 1, arr(ref)))
    if method == "closing":
        assert (after[11, 18, 20:25] == 1).all()  # the hole is filled


def test_gaussian_smoothing_equals_simpleitks_recursive_gaussian_at_half(scene):
    doc, info = scene
    blurred = sitk.SmoothingRecursiveGaussian(sitk.Cast(image(lesion() == 1),
                                                        sitk.sitkFloat32), 2.0)
    before, after = apply(doc, info, effect="smoothing.gaussian", size_mm=2.0)
    ref = sitk.GetArrayFromImage(blurred) >= 0.5
    assert np.array_equal(after, expect(before, 1, ref))


def only_the_ellipsoid(doc, info) -> np.ndarray:
    """Leave segment 1 as the ellipsoid alone (away from the volume's faces)."""
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), np.ones(SHAPE, bool), Mode.ERASE, 0))
    lab = lesion()
    ranked = sitk.GetArrayFromImage(sitk.RelabelComponent(sitk.ConnectedComponent(
        image(lab == 1), False), 0, True))
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), ranked == 1, Mode.ADD, 1))
    return ranked == 1


@pytest.mark.parametrize("effect, filt", [
    ("smoothing.closing", lambda a: arr(sitk.BinaryMorphologicalClosing(
        image(a), kernelRadius=[3, 3, 1], kernelType=sitk.sitkBall, foregroundValue=1,
        safeBorder=True))),
    ("smoothing.gaussian", lambda a: sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(
        sitk.Cast(image(a), sitk.sitkFloat32), 1.5)) >= 0.5),
    ("margin.grow", lambda a: maurer(a) <= 5.0),
    ("margin.shrink", lambda a: a & ~(maurer(~a) <= 5.0)),
    ("hollow.centered", lambda a: (maurer(a) <= 2.5) & ~(a & ~(maurer(~a) <= 2.5))),
])
def test_effects_work_in_the_segments_box_and_still_equal_the_whole_volume(scene, effect,
                                                                           filt):
    from app.tools.effects.apply import prepare

    doc, info = scene
    a = only_the_ellipsoid(doc, info)
    mm = 1.5 if effect.endswith("gaussian") else 5.0
    p = prepare(doc, info.id, 1, EffectParams(effect=effect, size_mm=mm), SPACING, None)
    assert p.labels.size < 0.7 * a.size  # read a box, not the volume
    before, after = apply(doc, info, effect=effect, size_mm=mm)
    assert np.array_equal(after == 1, filt(a))


# ---------------------------------------------------------------------- margin and hollow
@pytest.mark.parametrize("mm", [2.0, 3.0, 6.0])
def test_margin_grows_and_shrinks_in_millimetres_as_the_signed_maurer_distance(scene, mm):
    doc, info = scene
    a = lesion() == 1
    before, after = apply(doc, info, effect="margin.grow", size_mm=mm)
    assert np.array_equal(after, expect(before, 1, maurer(a) <= mm))
    doc.undo()
    before, after = apply(doc, info, effect="margin.shrink", size_mm=mm)
    assert np.array_equal(after, expect(before, 1, a & ~(maurer(~a) <= mm)))


def test_a_grown_margin_is_round_in_mm_on_anisotropic_voxels(scene):
    doc, info = scene
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), np.ones(SHAPE, bool), Mode.ERASE, 0))
    seed = np.zeros(SHAPE, bool)
    seed[12, 20, 24] = True
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), seed, Mode.ADD, 1))
    _before, after = apply(doc, info, effect="margin.grow", size_mm=5.0)
    k, j, i = np.nonzero(after == 1)
    assert i.max() - i.min() == 2 * 6 and k.max() - k.min() == 2 * 2  # 6 x 0.8, 2 x 2.5 mm


@pytest.mark.parametrize("side", ["inside", "outside", "centered"])
def test_hollow_shells_equal_the_distance_map_bands(scene, side):
    doc, info = scene
    a = lesion() == 1
    t = 3.0
    grown = {"inside": a, "outside": maurer(a) <= t, "centered": maurer(a) <= t / 2}[side]
    shrunk = {"inside": a & ~(maurer(~a) <= t), "outside": a,
              "centered": a & ~(maurer(~a) <= t / 2)}[side]
    before, after = apply(doc, info, effect=f"hollow.{side}", size_mm=t)
    assert np.array_equal(after, expect(before, 1, grown & ~shrunk))


# ---------------------------------------------------------------------- logical
@pytest.mark.parametrize("op", ["copy", "union", "intersect", "subtract", "invert", "clear"])
def test_logical_operators_equal_simpleitks_and_or_not(scene, op):
    doc, info = scene
    lab = lesion()
    a, b = image(lab == 1), image(lab == 2)
    ref = {"copy": lambda: b, "union": lambda: sitk.Or(a, b), "intersect": lambda: sitk.And(a, b),
           "subtract": lambda: sitk.And(a, sitk.Not(b)), "invert": lambda: sitk.Not(a),
           "clear": lambda: sitk.And(a, sitk.Not(a))}[op]()
    if op == "intersect":  # A and B share no voxel in a label map: A is emptied
        assert not arr(ref).any()
    if op == "subtract":  # ... and subtracting B leaves A as it is
        assert np.array_equal(arr(ref), lab == 1)
        cmd, text = run(doc, info.id, 1, EffectParams(effect="logical.subtract", other=2),
                        SPACING)
        assert cmd is None and "nothing changes" in text
        return
    before, after = apply(doc, info, effect=f"logical.{op}", other=2)
    assert np.array_equal(after, expect(before, 1, arr(ref)))


def test_operators_that_need_another_segment_say_so(scene):
    doc, info = scene
    cmd, text = run(doc, info.id, 1, EffectParams(effect="logical.union"), SPACING)
    assert cmd is None and "another segment" in text


# ---------------------------------------------------------------------- masks
def test_the_intensity_range_and_the_segment_area_limit_every_change(scene):
    doc, info = scene
    lab = lesion()
    # grow 5 mm only where the value lies in 200..300 HU (columns 20..30)
    before, after = apply(doc, info, effect="margin.grow", size_mm=5.0,
                          intensity=(200.0, 300.0))
    changed = after != before
    assert changed.any()
    cols = np.nonzero(changed)[2]
    assert cols.min() >= 20 and cols.max() <= 30
    full = expect(before, 1, maurer(lab == 1) <= 5.0)
    inside = np.zeros(SHAPE, bool)
    inside[:, :, 20:31] = True
    assert np.array_equal(after[inside], full[inside])
    doc.undo()
    # grow 5 mm, background only: segment 2 keeps every voxel
    before, after = apply(doc, info, effect="margin.grow", size_mm=5.0, area="outside")
    assert np.array_equal(after == 2, before == 2) and (after == 1).sum() > (before == 1).sum()
    doc.undo()
    # grow 5 mm inside segment 2 only: background stays background
    before, after = apply(doc, info, effect="margin.grow", size_mm=5.0, area="inside:2")
    assert ((after != before) <= (before == 2)).all() and (after == 1).sum() > (before == 1).sum()


def test_the_edit_covers_only_the_changed_box(scene):
    doc, info = scene
    cmd, _ = run(doc, info.id, 1, EffectParams(effect="islands.keep_largest"), SPACING)
    # the three small islands lie at opposite corners: the box spans them, not the volume
    assert cmd.modifier.size < np.prod(SHAPE)
    assert segment_box(doc, info.id, {1}) == ((3, 2, 2), (23, 33, 42))
    cmd, text = run(doc, info.id, 1, EffectParams(effect="margin.grow", size_mm=2.0),
                    SPACING)
    box = segment_box(doc, info.id, {1})
    assert all(s >= max(b - 4, 0) for s, b in zip(cmd.start, box[0]))


# ---------------------------------------------------------------------- scissors
RECT = ((18.0, 10.0), (30.0, 10.0), (30.0, 26.0), (18.0, 26.0))  # axial picture (i, j)


@pytest.mark.parametrize("op", ["erase_inside", "erase_outside", "fill_inside", "fill_outside"])
@pytest.mark.parametrize("through", [True, False])
def test_scissors_cut_the_outline_through_the_volume_or_one_slice(scene, op, through):
    doc, info = scene
    inside = np.zeros(SHAPE, bool)
    ks = slice(None) if through else slice(11, 12)
    inside[ks, 10:26, 18:30] = True  # pixels whose centre lies in the rectangle
    a = lesion() == 1
    new = {"erase_inside": a & ~inside, "erase_outside": a & inside,
           "fill_inside": a | inside, "fill_outside": a | ~inside}[op]
    if not through:  # off the slice drawn on, nothing changes
        new = np.concatenate([a[:11], new[11:12], a[12:]])
    before, after = apply(doc, info, effect=f"scissors.{op}", outline=RECT, plane=("k", 11),
                          through=through)
    assert np.array_equal(after, expect(before, 1, new))


def test_scissors_need_an_outline(scene):
    doc, info = scene
    cmd, text = run(doc, info.id, 1, EffectParams(effect="scissors.erase_inside"), SPACING)
    assert cmd is None and "outline" in text


# ---------------------------------------------------------------------- the window
@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory):
    from app.demo_media import write_demo_ct

    return write_demo_ct(tmp_path_factory.mktemp("dicom") / "ct")


def test_the_window_runs_an_effect_from_the_options_bar_with_one_undo(qtbot, tmp_path,
                                                                     ct_folder):
    """Paint a stroke and a speck with the brush, pick Effects in the toolbar, choose "Islands:
    keep largest" and then "Margin: grow" 5 mm in the options bar, press Apply: the label map
    equals SimpleITK's result on the demo CT (1.2 x 1.2 x 4 mm); scissors cut a dragged
    outline through the volume; Ctrl+Z undoes each in one step."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from test_volume_mode import VolumeScene
    from tools_scene import CTRL, LEFT

    vs = VolumeScene(qtbot, tmp_path, ct_folder)
    try:
        vs.key(Qt.Key.Key_1)
        vs.key(Qt.Key.Key_B)
        vs.panel.radius.setValue(3.0)
        vs.pane_drag("axial", [(50.5, 60.5), (70.5, 60.5)])
        vs.pane_click("axial", 110.5, 100.5)  # a speck: a second island
        painted = vs.labels()
        value = vs.session.segmentation.active_segment().value
        a = painted == value
        islands = sitk.RelabelComponent(sitk.ConnectedComponent(
            sitk.GetImageFromArray(a.astype(np.uint8)), False), 0, True)
        assert sitk.GetArrayFromImage(islands).max() == 2
        bar = vs.win.tool_bar
        QTest.mouseClick(bar.widgetForAction(vs.win.tool_actions["effects"]), LEFT)
        assert vs.win.tool_options._tool.name == "effects"
        QTest.mouseMove(vs.pane("axial").canvas, vs.pt("axial", 60.5, 60.5))
        _label, effect = vs.win.tool_options.controls[("choice", "effect_kind")]
        assert effect.isVisible() and effect.isEnabled()
        apply_button = vs.win.tool_options.controls[("action", "Apply")][0]
        effect.setCurrentIndex(effect.findData("islands.keep_largest"))
        QTest.mouseClick(apply_button, LEFT)
        vs.qtbot.waitUntil(lambda: not np.array_equal(vs.labels(), painted), timeout=10000)
        kept = vs.labels()
        assert np.array_equal(kept == value, sitk.GetArrayFromImage(islands) == 1)
        # margin: grow 5 mm, chosen in the bar
        effect.setCurrentIndex(effect.findData("margin.grow"))
        _label, size = vs.win.tool_options.controls[("choice", "effect_mm")]
        size.setCurrentIndex(size.findData(5.0))
        QTest.mouseClick(apply_button, LEFT)
        vs.qtbot.waitUntil(lambda: not np.array_equal(vs.labels(), kept), timeout=10000)
        img = sitk.GetImageFromArray((kept == value).astype(np.uint8))
        spacing = tuple(float(s) for s in vs.item.volume.spacing)
        assert spacing == (1.2, 1.2, 4.0)
        img.SetSpacing(spacing)
        dist = sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(
            img, insideIsPositive=False, squaredDistance=False, useImageSpacing=True))
        grown = vs.labels()
        assert np.array_equal(grown == value, dist <= 5.0)
        assert len(set(np.nonzero(grown)[0])) == 3  # 5 mm over 4 mm slices: one either side
        # scissors: drag an outline round the left part of the stroke in the axial pane
        effect.setCurrentIndex(effect.findData("scissors.erase_inside"))
        vs.pane_drag("axial", [(40.5, 50.5), (60.5, 50.5), (60.5, 70.5), (40.5, 70.5),
                               (40.5, 50.5)])
        vs.qtbot.waitUntil(lambda: not np.array_equal(vs.labels(), grown), timeout=10000)
        cut = vs.labels()
        assert not cut[:, 52:69, 42:59].any()  # through every slice
        assert np.array_equal(cut[:, :, 62:], grown[:, :, 62:])
        assert np.array_equal(cut[:, :48], grown[:, :48])
        vs.key(Qt.Key.Key_Z, CTRL)
        assert np.array_equal(vs.labels(), grown)
        vs.key(Qt.Key.Key_Z, CTRL)
        assert np.array_equal(vs.labels(), kept)
        vs.key(Qt.Key.Key_Z, CTRL)
        assert np.array_equal(vs.labels(), painted)
    finally:
        vs.win.close()


def test_effects_in_the_window_on_the_philips_phantom_equal_simpleitk(qtbot, tmp_path,
                                                                      shared_data):
    """The Philips phantom series (512 x 512 x 28, about 0.45 x 0.45 x 5 mm): paint a stroke
    and a speck with the brush on the axial pane, then through the real options bar "Islands:
    keep largest" and "Margin: grow" 7.5 mm (one 5 mm slice either side, not two); each
    result equals SimpleITK's (ConnectedComponent + RelabelComponent; SignedMaurerDistanceMap
    with the series' spacing) on the label array; Ctrl+Z undoes each in one step."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from test_volume_mode import VolumeScene
    from tools_scene import CTRL, LEFT

    folder = shared_data / "dicom" / "philips_phantom_study" / "S2010"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent on this machine")
    vs = VolumeScene(qtbot, tmp_path, folder)
    try:
        spacing = tuple(float(s) for s in vs.item.volume.spacing)  # (si, sj, sk) mm
        assert spacing[2] > 4 * spacing[0]  # thick slices: anisotropic
        vs.key(Qt.Key.Key_1)
        vs.key(Qt.Key.Key_B)
        vs.panel.radius.setValue(3.0)
        vs.pane_drag("axial", [(200.5, 250.5), (300.5, 250.5)])
        vs.pane_click("axial", 400.5, 380.5)  # a speck: a second island
        painted = vs.labels()
        value = vs.session.segmentation.active_segment().value
        a = painted == value
        assert len(set(np.nonzero(a)[0])) == 1  # one slice painted
        islands = sitk.GetArrayFromImage(sitk.RelabelComponent(sitk.ConnectedComponent(
            sitk.GetImageFromArray(a.astype(np.uint8)), False), 0, True))
        assert islands.max() == 2
        bar = vs.win.tool_bar
        QTest.mouseClick(bar.widgetForAction(vs.win.tool_actions["effects"]), LEFT)
        assert vs.win.tool_options._tool.name == "effects"
        QTest.mouseMove(vs.pane("axial").canvas, vs.pt("axial", 250.5, 250.5))
        _label, effect = vs.win.tool_options.controls[("choice", "effect_kind")]
        apply_button = vs.win.tool_options.controls[("action", "Apply")][0]
        effect.setCurrentIndex(effect.findData("islands.keep_largest"))
        QTest.mouseClick(apply_button, LEFT)
        vs.qtbot.waitUntil(lambda: not np.array_equal(vs.labels(), painted), timeout=20000)
        kept = vs.labels()
        assert np.array_equal(kept == value, islands == 1)
        assert np.array_equal(kept != 0, kept == value)
        effect.setCurrentIndex(effect.findData("margin.grow"))
        _label, size = vs.win.tool_options.controls[("choice", "effect_mm")]
        size.setCurrentIndex(size.findData(7.5))
        QTest.mouseClick(apply_button, LEFT)
        vs.qtbot.waitUntil(lambda: not np.array_equal(vs.labels(), kept), timeout=20000)
        img = sitk.GetImageFromArray((kept == value).astype(np.uint8))
        img.SetSpacing(spacing)
        dist = sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(
            img, insideIsPositive=False, squaredDistance=False, useImageSpacing=True))
        grown = vs.labels()
        assert np.array_equal(grown == value, dist <= 7.5)
        assert len(set(np.nonzero(grown)[0])) == 3  # 7.5 mm over 5 mm slices
        vs.key(Qt.Key.Key_Z, CTRL)
        assert np.array_equal(vs.labels(), kept)
        vs.key(Qt.Key.Key_Z, CTRL)
        assert np.array_equal(vs.labels(), painted)
    finally:
        vs.win.close()


def test_preview_shows_the_margin_and_smoothing_result_and_writes_nothing(qtbot, tmp_path,
                                                                         ct_folder):
    """Effects ▸ Preview in the options bar: the would-be result of "Margin: grow" is drawn as
    an outline on the pane (on each slice it reaches), nothing reaches the document (no
    change, no undo step); another choice, Escape or Apply take it away; Apply then writes
    exactly what was previewed. Smoothing previews the same way."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from scipy import ndimage
    from test_volume_mode import VolumeScene
    from tools_scene import LEFT

    from app.core.places import Place

    from PySide6.QtWidgets import QApplication

    vs = VolumeScene(qtbot, tmp_path, ct_folder)
    try:
        vs.win.resize(1900, 1150)  # the whole options bar in view
        QApplication.processEvents()
        vs.key(Qt.Key.Key_1)
        vs.key(Qt.Key.Key_B)
        vs.panel.radius.setValue(3.0)
        vs.pane_drag("axial", [(50.5, 60.5), (70.5, 60.5)])
        painted = vs.labels()
        value = vs.session.segmentation.active_segment().value
        k = int(np.nonzero(painted == value)[0][0])
        bar = vs.win.tool_bar
        QTest.mouseClick(bar.widgetForAction(vs.win.tool_actions["effects"]), LEFT)
        tool = vs.win.tool_options._tool
        canvas = vs.pane("axial").canvas
        QTest.mouseMove(canvas, vs.pt("axial", 60.5, 60.5))
        controls = vs.win.tool_options.controls
        effect = controls[("choice", "effect_kind")][1]
        size = controls[("choice", "effect_mm")][1]
        preview = controls[("action", "Preview")][0]
        apply_button = controls[("action", "Apply")][0]
        assert preview.isVisible() and preview.isEnabled()
        effect.setCurrentIndex(effect.findData("margin.grow"))
        size.setCurrentIndex(size.findData(5.0))
        seen: list = []
        unsubscribe = vs.doc.subscribe(seen.extend)
        undo_before = vs.doc.undo_command
        QTest.mouseClick(preview, LEFT)
        vs.qtbot.waitUntil(lambda: tool.previewed is not None, timeout=10000)
        QTest.mouseMove(canvas, vs.pt("axial", 61.5, 60.5))  # back on the pane
        assert seen == [] and vs.doc.undo_command is undo_before
        assert np.array_equal(vs.labels(), painted)
        # what is drawn: the outline of SimpleITK's grown segment on each slice
        img = sitk.GetImageFromArray((painted == value).astype(np.uint8))
        img.SetSpacing(tuple(float(s) for s in vs.item.volume.spacing))
        grown = sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(
            img, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)) <= 5.0
        for kk in (k - 1, k, k + 1):
            want = grown[kk] & ~ndimage.binary_erosion(grown[kk], border_value=0)
            got = tool.previewed.outline(Place(vs.item.id, axis="k", index=kk))
            assert got is not None and np.array_equal(got, want), kk
        assert tool.previewed.outline(Place(vs.item.id, axis="k", index=k + 2)) is None
        (item,) = [o for o in tool.overlay() if o.kind == "mask"]
        assert np.array_equal(item.mask, tool.previewed.outline(tool.pointer_place))
        shot = canvas.grab().toImage()
        y, x = np.argwhere(item.mask)[0]
        p = vs.pt("axial", x + 0.5, y + 0.5)
        c = shot.pixelColor(p.x(), p.y())
        assert c.red() > 150 and c.green() > 150 and c.blue() < 100, c.name()  # yellow
        # another choice takes it away; so does Escape
        effect.setCurrentIndex(effect.findData("smoothing.closing"))
        assert tool.previewed is None and not [o for o in tool.overlay() if o.kind == "mask"]
        QTest.mouseClick(preview, LEFT)  # smoothing previews too
        vs.qtbot.waitUntil(lambda: tool.previewed is not None, timeout=10000)
        assert seen == [] and np.array_equal(vs.labels(), painted)
        QTest.mouseMove(canvas, vs.pt("axial", 60.5, 60.5))
        vs.pane_key(Qt.Key.Key_Escape)
        assert tool.previewed is None
        # an edit of the label map makes a preview stale: it goes
        effect.setCurrentIndex(effect.findData("margin.grow"))
        QTest.mouseClick(preview, LEFT)
        vs.qtbot.waitUntil(lambda: tool.previewed is not None, timeout=10000)
        vs.doc.undo()
        assert tool.previewed is None
        vs.doc.redo()
        assert np.array_equal(vs.labels(), painted)
        # preview the margin again, then Apply: it writes what was shown, the preview goes
        QTest.mouseClick(preview, LEFT)
        vs.qtbot.waitUntil(lambda: tool.previewed is not None, timeout=10000)
        shown = tool.previewed
        QTest.mouseClick(apply_button, LEFT)
        vs.qtbot.waitUntil(lambda: not np.array_equal(vs.labels(), painted), timeout=10000)
        assert tool.previewed is None
        after = vs.labels()
        assert np.array_equal(after == value, grown)
        box = tuple(slice(a, a + n) for a, n in zip(shown.start, shown.mask.shape))
        assert np.array_equal(after[box] == value, shown.mask)
        unsubscribe()
    finally:
        vs.win.close()


def test_a_previews_outline_lies_on_each_axis_picture_where_the_mask_is():
    """Preview.outline: the border of the would-be mask on a slice along k, j or i, placed
    in the whole picture ([j, i], [k, i], [k, j]: app.core.places), None off the mask."""
    from scipy import ndimage

    from app.core.places import Place
    from app.tools.effects.tool import Preview

    full = np.zeros(SHAPE, bool)
    full[5:12, 10:25, 20:30] = True
    start = (3, 8, 15)
    box = full[3:14, 8:27, 15:33].copy()
    pv = Preview("m", "lm", start, box, SHAPE)
    for axis, index in (("k", 7), ("j", 12), ("i", 25)):
        dim = "kji".index(axis)
        plane = np.take(full, index, axis=dim)
        want = plane & ~ndimage.binary_erosion(plane, border_value=0)
        got = pv.outline(Place("m", axis=axis, index=index))
        assert got is not None and got.shape == plane.shape and np.array_equal(got, want)
    assert pv.outline(Place("m", axis="k", index=20)) is None  # beyond the box
    assert pv.outline(Place("m", axis="k", index=4)) is None  # in the box, no mask there
    assert pv.outline(Place("other", axis="k", index=7)) is None  # another volume
