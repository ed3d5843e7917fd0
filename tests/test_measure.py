"""Measurements (issue 20 item 3): ruler, RECIST pair, angle and ellipse ROI, computed in world
space from the picture's own pixel -> world mapping. The maths against hand-computed world
values on an oblique, anisotropic (0.7 x 0.9 x 2.5 mm) and a sheared (gantry-tilt) volume; ROI
statistics against numpy and SimpleITK on the same voxels; a COCO round trip keeps the values;
``vellum measurements`` tables them; and the Measure tool in the real window on the Philips
phantom (real clicks on the panes, the values listed in the Objects panel)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from app.core.commands import Put
from app.core.geometry import VolumeGeometry
from app.core.places import Place
from app.core.raster import rasterize
from app.core.shapes import Polygon, Polyline
from app.io.planes import VolumeSliceSource
from app.tools.measure import (MEASURE, PlaneMap, angle_deg, ellipse_points, kind_of, label_text,
                               measure, recist_points)

SHAPE = (12, 30, 40)  # k, j, i
SPACING = (0.7, 0.9, 2.5)  # si, sj, sk mm


def rotation(ax: float, az: float) -> np.ndarray:
    a, b = math.radians(ax), math.radians(az)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    rz = np.array([[math.cos(b), -math.sin(b), 0], [math.sin(b), math.cos(b), 0], [0, 0, 1]])
    return rz @ rx


OBLIQUE = VolumeGeometry(SHAPE, SPACING, (12.0, -30.0, 7.5), tuple(map(tuple, rotation(25, 40))))
# a gantry tilt: the k axis leans 20 degrees towards y, not perpendicular to the slices
_T = math.radians(20)
SHEARED = VolumeGeometry(SHAPE, SPACING, (0.0, 0.0, 0.0),
                         ((1, 0, 0), (0, 1, math.sin(_T)), (0, 0, math.cos(_T))))


def world(geo: VolumeGeometry, i: float, j: float, k: float) -> np.ndarray:
    """The conventions' formula written out by hand: origin + D . (i si, j sj, k sk)."""
    d = np.asarray(geo.direction, float)
    si, sj, sk = geo.spacing
    return np.asarray(geo.origin) + d[:, 0] * i * si + d[:, 1] * j * sj + d[:, 2] * k * sk


def volume(geo: VolumeGeometry = OBLIQUE) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.normal(40, 25, geo.shape).round().astype(np.float32)


def plane(axis: str, index: int, geo: VolumeGeometry = OBLIQUE, vol=None):
    src = VolumeSliceSource(Place("m", axis=axis, index=index), vol if vol is not None
                            else volume(geo), geo)
    return src, PlaneMap.of(src)


# ------------------------------------------------------------------ the maths
@pytest.mark.parametrize("geo", [OBLIQUE, SHEARED], ids=["oblique", "sheared"])
def test_a_ruler_is_the_world_distance_of_its_ends(geo):
    # pane j (picture [k, i]): 10 px down is 10 slices: 25 mm on any direction
    _, pm = plane("j", 4, geo)
    got = measure("ruler", Polyline([(5.5, 1.5), (5.5, 11.5)]), pm)["length_mm"]
    assert got == pytest.approx(25.0, abs=1e-9)
    # a diagonal on pane k (picture [j, i]), against the hand formula at the voxel indices
    _, pm = plane("k", 6, geo)
    a, b = (3.5, 4.5), (13.5, 24.5)  # picture (x, y) = voxel (i + .5, j + .5)
    want = np.linalg.norm(world(geo, 13, 24, 6) - world(geo, 3, 4, 6))
    got = measure("ruler", Polyline([a, b]), pm)["length_mm"]
    assert got == pytest.approx(want, abs=1e-9)
    if geo is OBLIQUE:  # orthonormal directions: the spacing alone decides
        assert got == pytest.approx(math.hypot(10 * 0.7, 20 * 0.9), abs=1e-9)
    # pane i (picture [k, j]) of the sheared grid: k and j are not perpendicular
    _, pm = plane("i", 7, geo)
    want = np.linalg.norm(world(geo, 7, 9, 8) - world(geo, 7, 1, 2))
    got = measure("ruler", Polyline([(1.5, 2.5), (9.5, 8.5)]), pm)["length_mm"]
    assert got == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("geo", [OBLIQUE, SHEARED], ids=["oblique", "sheared"])
def test_recist_short_axis_is_perpendicular_in_world_space(geo):
    _, pm = plane("i", 5, geo)  # picture [k, j]: 2.5 mm rows, 0.9 mm columns
    a, b = (2.0, 1.0), (22.0, 9.0)
    pts = recist_points(a, b, (10.0, 8.0), (14.0, 1.0), pm)
    A, B, X, C, D = pm.world(pts)
    assert abs(float((B - A) @ (D - C))) < 1e-9  # perpendicular in mm, not in pixels
    assert np.linalg.norm(np.cross(X - A, B - A)) < 1e-9  # X lies on the long axis
    values = measure("recist", Polyline(pts), pm)
    assert values["long_mm"] == pytest.approx(np.linalg.norm(
        world(geo, 5, 21.5, 8.5) - world(geo, 5, 1.5, 0.5)), abs=1e-9)
    assert values["short_mm"] == pytest.approx(float(np.linalg.norm(D - C)), abs=1e-9)
    # on the oblique orthonormal grid a vertical long axis has a horizontal short axis
    if geo is OBLIQUE:
        _, pm = plane("k", 3, geo)
        pts = recist_points((10.0, 2.0), (10.0, 22.0), (4.0, 12.0), (16.0, 13.0), pm)
        assert pts[2] == pytest.approx((10.0, 12.5)) and pts[3][1] == pytest.approx(12.5)
        v = measure("recist", Polyline(pts), pm)
        assert v["long_mm"] == pytest.approx(20 * 0.9) and v["short_mm"] == pytest.approx(
            12 * 0.7)


def test_an_angle_is_measured_in_world_space_not_in_pixels():
    _, pm = plane("k", 6)  # 0.7 mm columns, 0.9 mm rows: the pixel diagonal is not 45 deg
    got = angle_deg((15.0, 5.0), (5.0, 5.0), (15.0, 15.0), pm)
    assert got == pytest.approx(math.degrees(math.atan2(9.0, 7.0)), abs=1e-9)
    v = measure("angle", Polyline([(15.0, 5.0), (5.0, 5.0), (15.0, 15.0)]), pm)
    assert v == {"angle_deg": pytest.approx(52.125016348901795)}
    # sheared pane i: hand computed from the world vectors
    _, pm = plane("i", 2, SHEARED)
    p, q = world(SHEARED, 2, 9.5, 1.5) - world(SHEARED, 2, 1.5, 1.5), \
        world(SHEARED, 2, 1.5, 7.5) - world(SHEARED, 2, 1.5, 1.5)
    want = math.degrees(math.acos(p @ q / np.linalg.norm(p) / np.linalg.norm(q)))
    assert angle_deg((10.0, 2.0), (2.0, 2.0), (2.0, 8.0), pm) == pytest.approx(want, abs=1e-9)
    assert want != pytest.approx(90.0, abs=1)


def test_an_ellipse_area_and_statistics_on_the_same_voxels_as_numpy_and_simpleitk():
    sitk = pytest.importorskip("SimpleITK")
    vol = volume()
    src, pm = plane("j", 13, vol=vol)  # picture [k, i]: 0.7 x 2.5 mm pixels
    poly = Polygon(ellipse_points(8.0, 2.0, 30.0, 10.0))
    v = measure("ellipse", poly, pm, src.pixels())
    n = 64
    assert v["area_mm2"] == pytest.approx(0.5 * n * 11 * 4 * math.sin(2 * math.pi / n)
                                          * 0.7 * 2.5, rel=1e-12)
    assert v["area_mm2"] == pytest.approx(math.pi * 11 * 4 * 0.7 * 2.5, rel=2e-3)
    mask = rasterize(poly, *vol[:, 13, :].shape).astype(bool)
    values = vol[:, 13, :][mask].astype(np.float64)
    assert v["pixels"] == values.size > 100
    assert v["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert v["sd"] == pytest.approx(values.std(ddof=1), rel=1e-12)
    assert (v["min"], v["max"]) == (values.min(), values.max())
    img = sitk.GetImageFromArray(np.ascontiguousarray(vol[:, 13, :]))
    lab = sitk.GetImageFromArray(mask.astype(np.uint8))
    f = sitk.LabelStatisticsImageFilter()
    f.Execute(img, lab)
    assert f.GetCount(1) == v["pixels"]
    assert v["mean"] == pytest.approx(f.GetMean(1), rel=1e-9)
    assert v["sd"] == pytest.approx(f.GetSigma(1), rel=1e-9)
    assert (v["min"], v["max"]) == (f.GetMinimum(1), f.GetMaximum(1))
    # the pixels are the ones pycocotools fills for that polygon (the project's rule)
    mask_utils = pytest.importorskip("pycocotools.mask")
    h, w = mask.shape
    rle = mask_utils.frPyObjects([list(np.asarray(poly.exterior).ravel())], h, w)
    assert np.array_equal(mask_utils.decode(rle)[:, :, 0].astype(bool), mask)


def test_without_world_the_figures_are_pixels():
    pm = PlaneMap.of(None)
    assert measure("ruler", Polyline([(0, 0), (3, 4)]), pm) == {"length_px": 5.0}
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[..., 0] = 30
    v = measure("ellipse", Polygon(ellipse_points(2, 2, 12, 12)), pm, rgb)
    assert v["mean"] == 10.0 and "area_px2" in v
    assert label_text("ruler", {"length_px": 5.0}) == "5.0 px"
    assert label_text("recist", {"long_mm": 31.24, "short_mm": 14.0}) == "31.2 x 14.0 mm"
    with pytest.raises(ValueError):
        measure("angle", Polyline([(0, 0), (1, 1)]), pm)


# ------------------------------------------------------------------ a project
def _volume_project(tmp_path: Path):
    from app.core.document import Document
    from app.io.ingest import add_media
    from app.io.volume import write_nifti

    vol = volume()
    write_nifti(tmp_path / "ct.nii.gz", vol, OBLIQUE)
    doc = Document.create(tmp_path / "p")
    (item,) = add_media(doc, [tmp_path / "ct.nii.gz"]).added
    return doc, item, vol


def _ann(item_id, place, shape, kind, **values):
    from app.core.annotations import Annotation

    return Annotation(place=place, shape=shape, attributes={MEASURE: kind, **values})


def test_vellum_measurements_tables_each_measurement_in_mm(tmp_path, capsys):
    from app.cli import main

    doc, item, vol = _volume_project(tmp_path)
    geo = item.volume
    k = Place(item.id, axis="k", index=6)
    j = Place(item.id, axis="j", index=13)
    ruler = _ann(item.id, j, Polyline([(5.5, 1.5), (5.5, 11.5)]), "ruler")
    ell = _ann(item.id, j, Polygon(ellipse_points(8.0, 2.0, 30.0, 10.0)), "ellipse")
    ang = _ann(item.id, k, Polyline([(15.0, 5.0), (5.0, 5.0), (15.0, 15.0)]), "angle")
    doc.execute(Put((ruler, ell, ang)))
    doc.close()
    assert main(["measurements", str(tmp_path / "p"), "--json"]) == 0
    rows = {r["measure"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ruler"]["length"] == pytest.approx(25.0, abs=1e-4)
    assert rows["ruler"]["unit"] == "mm" and rows["ruler"]["place"] == "slice j=13"
    a, b = rows["ruler"]["points_lps"]
    assert a == pytest.approx(list(world(geo, 5, 13, 1)), abs=1e-6)
    assert rows["angle"]["angle_deg"] == pytest.approx(math.degrees(math.atan2(9, 7)), abs=1e-3)
    mask = rasterize(ell.shape, SHAPE[0], SHAPE[2]).astype(bool)
    values = vol[:, 13, :][mask].astype(np.float64)
    assert rows["ellipse"]["mean"] == pytest.approx(values.mean(), rel=1e-9)
    assert rows["ellipse"]["sd"] == pytest.approx(values.std(ddof=1), rel=1e-9)
    assert rows["ellipse"]["pixels"] == values.size
    assert main(["measurements", str(tmp_path / "p"), "--csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["measure"] for r in table} == {"ruler", "ellipse", "angle"}
    assert float(next(r for r in table if r["measure"] == "ruler")["length"]) == \
        pytest.approx(25.0, abs=1e-4)
    assert main(["measurements", str(tmp_path / "p")]) == 0
    text = capsys.readouterr().out
    assert "ruler" in text and "25.00" in text


def test_a_coco_round_trip_keeps_the_measured_values(tmp_path):
    from app.core.document import Document
    from app.io.formats import get as format_by_name
    from tools_scene import make_project

    path = make_project(tmp_path / "photo", 1)
    doc = Document.open(path)
    item = doc.media()[0]
    lane = next(c for c in doc.schema.classes if c.name == "lane")
    road = next(c for c in doc.schema.classes if c.name == "road")
    pm = PlaneMap.of(None)
    line = Polyline([(10.0, 10.0), (40.0, 50.0)])
    ell = Polygon(ellipse_points(5.0, 5.0, 25.0, 15.0))
    from app.core.annotations import Annotation

    a1 = Annotation(place=Place(item.id), shape=line, class_id=lane.id,
                    attributes={MEASURE: "ruler", **measure("ruler", line, pm)})
    a2 = Annotation(place=Place(item.id), shape=ell, class_id=road.id,
                    attributes={MEASURE: "ellipse", **measure("ellipse", ell, pm)})
    doc.execute(Put((a1, a2)))
    fmt = format_by_name("coco")
    out = tmp_path / "out.json"
    fmt.write(doc, out, {}, None, None, [])
    data = json.loads(out.read_text())
    (poly_entry,) = data["annotations"]
    assert poly_entry["attributes"]["area_px2"] == pytest.approx(a2.attributes["area_px2"])
    (line_entry,) = data["images"][0]["attributes"]["vellum_polylines"]
    assert line_entry["attributes"]["length_px"] == 50.0
    doc.close()
    path2 = make_project(tmp_path / "again", 1)
    doc2 = Document.open(path2)
    outcome = fmt.read(doc2, out, {"images": str(tmp_path / "again" / "images")}, None, None,
                       [])
    doc2.execute(outcome.command)
    got = {kind_of(a): a for a in doc2.annotations(doc2.media()[0].id)}
    assert got["ruler"].attributes["length_px"] == 50.0
    assert measure("ruler", got["ruler"].shape, pm)["length_px"] == 50.0
    assert got["ellipse"].attributes["area_px2"] == pytest.approx(a2.attributes["area_px2"])
    doc2.close()


def test_the_tool_on_a_photo_by_drag_and_clicks_in_pixels(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from tools_scene import Scene

    s = Scene(qtbot, tmp_path)
    tool = s.use("measure")
    s.drag([(10.0, 10.0), (40.0, 50.0)])  # a drag places both ends
    (ruler,) = s.anns("polyline")
    assert ruler.attributes[MEASURE] == "ruler"
    assert ruler.attributes["length_px"] == pytest.approx(50.0, abs=0.5)
    tool.choose("angle")
    for x, y in ((30.0, 10.0), (10.0, 10.0)):
        s.click(x, y)
    assert tool.busy and len(s.anns("polyline")) == 1
    s.click(10.0, 30.0)
    (angle,) = [a for a in s.anns("polyline") if kind_of(a) == "angle"]
    assert angle.attributes["angle_deg"] == pytest.approx(90.0, abs=2.0)
    tool.choose("ellipse")
    s.click(5.0, 5.0)
    assert tool.busy
    from PySide6.QtCore import Qt

    s.key(Qt.Key.Key_Escape)  # drops the corner placed so far
    assert not tool.busy
    s.drag([(5.0, 5.0), (25.0, 15.0)])
    (ell,) = s.anns("polygon")
    assert kind_of(ell) == "ellipse" and len(ell.shape.exterior) == 64
    assert ell.attributes["area_px2"] == pytest.approx(math.pi * 10 * 5, rel=0.05)
    s.doc.undo()
    assert not s.anns("polygon") and len(s.anns("polyline")) == 2


# ------------------------------------------------------------------ the real window
SHOTS = Path("/tmp/shots")


def _row_texts(win) -> list[tuple[str, str]]:
    tree = win.objects.tree
    return [(tree.topLevelItem(n).text(3), tree.topLevelItem(n).text(4))
            for n in range(tree.topLevelItemCount())]


def test_the_measure_tool_on_the_phantom_with_real_clicks(qtbot, tmp_path, shared_data):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QComboBox

    from test_volume_mode import VolumeScene

    folder = shared_data / "dicom" / "philips_phantom_study" / "S2010"
    vs = VolumeScene(qtbot, tmp_path, folder)  # 512 x 512 x 28, 0.45 x 0.45 x 5 mm
    try:
        geo = vs.item.volume
        vs.win.resize(1900, 1150)
        QApplication.processEvents()
        vs.key(Qt.Key.Key_4)  # 'lane': a class that takes lines
        vs.key(Qt.Key.Key_G)
        assert vs.win.tool_actions["measure"].isChecked()
        # a ruler on the coronal pane (picture [k, i]): 12 slices down = 60 mm
        j = vs.index("coronal")
        vs.pane_click("coronal", 256.5, 8.5)
        vs.pane_click("coronal", 256.5, 20.5)
        (ruler,) = [a for a in vs.doc.annotations(vs.item.id, all_frames=True)
                    if kind_of(a) == "ruler"]
        assert (ruler.place.axis, ruler.place.index) == ("j", j)
        (x0, y0), (x1, y1) = ruler.shape.points
        want = np.linalg.norm(world(geo, x1 - 0.5, j, y1 - 0.5) - world(geo, x0 - 0.5, j, y0 - 0.5))
        got = ruler.attributes["length_mm"]
        assert got == pytest.approx(want, abs=1e-3)
        assert got == pytest.approx(60.0, abs=2.0)  # the click lands within a pixel
        QApplication.processEvents()
        rows = _row_texts(vs.win)
        assert ("Ruler", f"measure=ruler, length_mm={got}") in [
            (k, t.replace("lane dashed=no, ", "").replace("dashed=no, ", "")) for k, t in rows]
        # RECIST on the axial pane, chosen in the options bar
        combo = vs.win.tool_options.findChild(QComboBox, "measure_kind")
        combo.setCurrentIndex(combo.findData("recist"))
        k = vs.index("axial")
        for x, y in ((150.5, 250.5), (350.5, 250.5), (250.5, 170.5), (250.5, 330.5)):
            vs.pane_click("axial", x, y)
        (rec,) = [a for a in vs.doc.annotations(vs.item.id, all_frames=True)
                  if kind_of(a) == "recist"]
        assert (rec.place.axis, rec.place.index) == ("k", k)
        assert rec.attributes["long_mm"] == pytest.approx(200 * geo.spacing[0], abs=1.0)
        assert rec.attributes["short_mm"] == pytest.approx(160 * geo.spacing[1], abs=1.0)
        QApplication.processEvents()
        assert any(kind == "RECIST" and f"long_mm={rec.attributes['long_mm']}" in text
                   for kind, text in _row_texts(vs.win))
        # one undo removes the RECIST, the ruler stays
        vs.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert [kind_of(a) for a in vs.doc.annotations(vs.item.id, all_frames=True)] == [
            "ruler"]
        mods = Qt.KeyboardModifier
        vs.key(Qt.Key.Key_Z, mods.ControlModifier | mods.ShiftModifier)
        assert len(vs.doc.annotations(vs.item.id, all_frames=True)) == 2
        # an ellipse ROI dragged on the sagittal pane (picture [k, j]): HU as numpy gives them
        combo.setCurrentIndex(combo.findData("ellipse"))
        vs.key(Qt.Key.Key_3)  # 'road' takes polygons ('lane' only lines)
        i = vs.index("sagittal")
        vs.pane_drag("sagittal", [(200.5, 8.5), (300.5, 18.5)])
        (roi,) = [a for a in vs.doc.annotations(vs.item.id, all_frames=True)
                  if kind_of(a) == "ellipse"]
        assert (roi.place.axis, roi.place.index) == ("i", i)
        mask = rasterize(roi.shape, geo.shape[0], geo.shape[1]).astype(bool)
        hu = vs.array[:, :, i][mask].astype(np.float64)
        assert roi.attributes["pixels"] == hu.size > 100
        assert roi.attributes["mean"] == pytest.approx(hu.mean(), abs=1e-3)
        assert roi.attributes["sd"] == pytest.approx(hu.std(ddof=1), abs=1e-3)
        assert (roi.attributes["min"], roi.attributes["max"]) == (hu.min(), hu.max())
        assert roi.attributes["area_mm2"] == pytest.approx(
            math.pi * 50 * 5 * geo.spacing[1] * geo.spacing[2], rel=0.03)
        QApplication.processEvents()
        SHOTS.mkdir(parents=True, exist_ok=True)
        vs.win.grab().save(str(SHOTS / "measure.png"))
    finally:
        vs.win.close()
