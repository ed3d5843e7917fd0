"""The canvas: pixel-exact coordinate mapping (CONVENTIONS: pixel (c, r) covers
[c, c+1) x [r, r+1)), crisp pixels, zoom at cursor, panning, fit / 1:1, display-only
brightness/contrast, error display, level-of-detail tiles and how annotations are drawn."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest

from app.core.annotations import Annotation
from app.core.commands import Put
from app.core.rle import encode
from app.core.shapes import Box, Keypoints, Mask, Polygon
from app.tools.state import EditorState
from app.widgets.canvas import Canvas
from app.widgets.tiles import TILE, ImagePyramid, adjust_lut
from tools_scene import MIDDLE, OX, OY, ZOOM, H, W, scene  # noqa: F401

pytest.importorskip("pytestqt")


def rgb(img, x: int, y: int) -> tuple[int, int, int]:
    c = img.pixelColor(x, y)
    return (c.red(), c.green(), c.blue())


# ---------------------------------------------------------------------- mapping
def test_mapping_follows_the_pixel_convention(scene):
    c = scene.canvas
    assert c.image_to_widget(0, 0) == (OX, OY)
    assert c.image_to_widget(1, 1) == (OX + ZOOM, OY + ZOOM)
    assert c.widget_to_image(OX + 2.5 * ZOOM, OY) == (2.5, 0.0)
    for x, y in [(0.0, 0.0), (3.25, 7.5), (199.99, 149.0)]:
        assert c.widget_to_image(*c.image_to_widget(x, y)) == pytest.approx((x, y))


def test_a_click_lands_on_the_pixel_centre_at_one_to_one(qtbot, tmp_path):
    from tools_scene import Scene

    s = Scene(qtbot, tmp_path)
    s.canvas.set_view(1.0, 0.0, 0.0)
    got = []
    s.canvas.cursor_moved.connect(lambda x, y: got.append((x, y)))
    QTest.mouseMove(s.canvas, QPoint(7, 3))
    assert got[-1] == (7.5, 3.5)  # centre of image pixel (7, 3)
    s.doc.close()


def test_pixels_are_crisp_and_exactly_placed(scene):
    img = np.zeros((H, W, 3), np.uint8)
    img[5, 7] = (255, 255, 255)  # one white pixel at column 7, row 5
    scene.canvas.show_image(img)
    scene.canvas.set_view(8.0, 3.0, 2.0)
    out = scene.canvas.grab().toImage()
    x0, y0 = 3 + 7 * 8, 2 + 5 * 8  # the pixel covers [x0, x0+8) x [y0, y0+8)
    for dx in range(8):
        for dy in range(8):
            assert rgb(out, x0 + dx, y0 + dy) == (255, 255, 255)
    for x, y in [(x0 - 1, y0), (x0 + 8, y0), (x0, y0 - 1), (x0, y0 + 8)]:
        assert rgb(out, x, y) == (0, 0, 0)


def test_fit_and_one_to_one(scene):
    c = scene.canvas
    c.fit()
    z = c.zoom()
    assert z == pytest.approx(min(900 / W, 700 / H) * 0.98)
    x0, y0 = c.image_to_widget(0, 0)
    x1, y1 = c.image_to_widget(W, H)
    assert (x0 + x1) / 2 == pytest.approx(450) and (y0 + y1) / 2 == pytest.approx(350)
    centre = c.widget_to_image(450, 350)
    c.zoom_1to1()
    assert c.zoom() == 1.0 and c.widget_to_image(450, 350) == pytest.approx(centre)


def test_wheel_zooms_at_the_cursor(scene):
    c = scene.canvas
    zooms = []
    c.zoom_changed.connect(zooms.append)
    pos = QPointF(300, 200)
    before = c.widget_to_image(300, 200)
    ev = QWheelEvent(pos, c.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QTest.qWait(0)
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(c, ev)
    assert c.zoom() == pytest.approx(ZOOM * 1.25)
    assert c.widget_to_image(300, 200) == pytest.approx(before)
    assert zooms and zooms[-1] == pytest.approx(ZOOM * 1.25)


def test_middle_drag_and_space_drag_pan(scene):
    c = scene.canvas
    scene.use("box")
    QTest.mousePress(c, MIDDLE, Qt.KeyboardModifier.NoModifier, QPoint(100, 100))
    QTest.mouseMove(c, QPoint(140, 90))
    QTest.mouseRelease(c, MIDDLE, Qt.KeyboardModifier.NoModifier, QPoint(140, 90))
    assert c.image_to_widget(0, 0) == (OX + 40, OY - 10)
    QTest.keyPress(c, Qt.Key.Key_Space)
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(200, 200))
    QTest.mouseMove(c, QPoint(190, 230))
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(190, 230))
    QTest.keyRelease(c, Qt.Key.Key_Space)
    assert c.image_to_widget(0, 0) == (OX + 30, OY + 20)
    assert scene.anns() == []  # panning drew no box


def test_display_adjust_changes_pixels_not_data(scene):
    img = np.full((H, W, 3), 100, np.uint8)
    scene.canvas.show_image(img)
    p = scene.at(50, 50)
    base = rgb(scene.canvas.grab().toImage(), p.x(), p.y())
    scene.canvas.set_display_adjust(0.2, 0.0)
    brighter = rgb(scene.canvas.grab().toImage(), p.x(), p.y())
    assert brighter[0] == pytest.approx(base[0] + 51, abs=1)
    scene.canvas.set_display_adjust(0.0, 0.5)  # contrast x3 around mid-grey
    contrasted = rgb(scene.canvas.grab().toImage(), p.x(), p.y())
    assert contrasted[0] < base[0]
    assert (img == 100).all()
    assert adjust_lut(0.0, 0.0) is None
    assert adjust_lut(0.0, -1.0).min() == adjust_lut(0.0, -1.0).max()


def test_show_error_replaces_the_image_and_keeps_working(scene):
    scene.canvas.show_error("Cannot read /data/broken.png: it is a truncated PNG.")
    out = scene.canvas.grab().toImage()
    text_pixels = sum(rgb(out, x, 350)[0] > 150 for x in range(0, 900, 2))
    assert text_pixels > 5
    scene.use("box")
    scene.drag([(10, 10), (50, 50)])
    assert scene.anns() == []  # no image, no drawing
    scene.canvas.show_image(scene.image)
    scene.drag([(10, 10), (50, 50)])
    assert len(scene.anns()) == 1


def test_level_of_detail_tiles_for_big_images():
    img = np.zeros((3000, 5000, 3), np.uint8)
    img[:, 2500:] = 200
    pyr = ImagePyramid(img)
    assert pyr.level_for(2.0) == 0 and pyr.level_for(1.0) == 0
    assert pyr.level_for(0.5) == 1 and pyr.level_for(0.3) == 1 and pyr.level_for(0.1) == 3
    assert pyr.max_level() == 4
    assert pyr.level(2).shape == (750, 1250, 3)
    tiles = list(pyr.visible_tiles(0, 0, 0, 5000, 3000))
    assert len(tiles) == 10 * 6  # only tiles meeting the rectangle
    few = list(pyr.visible_tiles(0, 600, 600, 700, 700))
    assert len(few) == 1 and few[0][1] == (600 - TILE, 600 - TILE, 100, 100)
    assert few[0][2] == (600, 600, 100, 100)


def test_big_image_fit_renders_both_halves(qtbot, tmp_path):
    state = EditorState(None)
    c = Canvas(state)
    qtbot.addWidget(c)
    c.resize(500, 300)
    img = np.zeros((3000, 5000, 3), np.uint8)
    img[:, 2500:] = 200
    c.show_image(img)
    c.fit()
    out = c.grab().toImage()
    assert rgb(out, 120, 150)[0] < 10 and rgb(out, 380, 150)[0] > 190
    assert state.image_size == (5000, 3000)


# ---------------------------------------------------------------------- annotations
def _add(scene, *anns: Annotation) -> None:
    scene.doc.execute(Put(anns))


def test_annotations_use_class_colours_selection_and_hiding(scene):
    img = np.zeros((H, W, 3), np.uint8)
    scene.canvas.show_image(img)
    car = scene.state.new_annotation(Polygon(((10, 10), (60, 10), (60, 60), (10, 60))))
    road = scene.state.new_annotation(Box(100, 10, 50, 50), class_id="road")
    _add(scene, car, road)
    r_car, r_road = scene.pixel(35, 35), scene.pixel(125, 35)
    assert r_car[0] > 30 and r_car[1] == 0 and r_road[1] > 30 and r_road[0] == 0
    scene.state.select((car.id,))
    assert scene.pixel(35, 35)[0] > r_car[0]  # selected: stronger fill
    scene.state.set(hidden={road.id})
    assert scene.pixel(125, 35) == (0, 0, 0)
    scene.state.set(hidden=set())
    scene.doc.execute(Put((scene.state.new_annotation(
        Box(150, 100, 20, 20), hidden=True),)))
    assert scene.pixel(160, 110) == (0, 0, 0)  # the hidden flag hides it too


def test_layer_redraws_when_the_document_changes(scene):
    scene.canvas.show_image(np.zeros((H, W, 3), np.uint8))
    scene.canvas.grab()
    a = scene.state.new_annotation(Box(10, 10, 30, 30))
    _add(scene, a)
    assert scene.pixel(25, 25)[0] > 30
    scene.doc.undo()
    assert scene.pixel(25, 25) == (0, 0, 0)


def test_masks_and_keypoint_skeletons_are_drawn(scene):
    scene.canvas.show_image(np.zeros((H, W, 3), np.uint8))
    m = np.zeros((H, W), bool)
    m[100:120, 20:40] = True
    mask = scene.state.new_annotation(Mask(encode(m)), class_id="road")
    kp = scene.state.new_annotation(Keypoints(((100, 100, 2), (140, 100, 2), (100, 140, 0))),
                                    class_id="person")
    _add(scene, mask, kp)
    assert scene.pixel(30, 110)[1] > 60 and scene.pixel(30, 125) == (0, 0, 0)
    # the mask's edge is pixel-exact: column 19 clear, column 20 painted
    assert scene.pixel(19.5, 110) == (0, 0, 0) and scene.pixel(20.5, 110)[1] > 60
    edge = scene.pixel(120, 100)  # half-way along the head-left_hand edge
    assert edge[2] > 150
    assert scene.pixel(100, 120) == (0, 0, 0)  # no edge to the unlabelled point


def test_annotations_follow_a_pan_and_are_redrawn_after_it(scene, qtbot):
    scene.canvas.show_image(np.zeros((H, W, 3), np.uint8))
    _add(scene, scene.state.new_annotation(Box(10, 10, 20, 20)))
    c = scene.canvas
    QTest.mousePress(c, MIDDLE, Qt.KeyboardModifier.NoModifier, QPoint(300, 300))
    QTest.mouseMove(c, QPoint(340, 300))
    assert scene.pixel(20, 20)[0] > 30  # during the gesture: the layer moved with the view
    QTest.mouseRelease(c, MIDDLE, Qt.KeyboardModifier.NoModifier, QPoint(340, 300))
    qtbot.wait(250)  # the gesture has paused: the layer is redrawn for the new view
    assert scene.pixel(20, 20)[0] > 30 and scene.pixel(35, 20) == (0, 0, 0)


# ---------------------------------------------------------------------- mask display
def _green_scene_with_mask(scene):
    """A green image with a 'road' (green) mask over pixels [20, 40) x [100, 120)."""
    img = np.zeros((H, W, 3), np.uint8)
    img[:] = (0, 192, 0)  # the mask's own colour: a fill alone would be invisible
    scene.canvas.show_image(img)
    m = np.zeros((H, W), bool)
    m[100:120, 20:40] = True
    mask = scene.state.new_annotation(Mask(encode(m)), class_id="road")
    _add(scene, mask)
    return mask


def _widget_rgb(scene, wx: int, wy: int) -> tuple[int, int, int]:
    return rgb(scene.canvas.grab().toImage(), wx, wy)


def test_a_mask_over_its_own_colour_still_shows_a_crisp_contour(scene):
    _green_scene_with_mask(scene)
    x0, y = int(OX + 20 * ZOOM), int(OY + 110 * ZOOM)  # widget x of column 20's left edge
    assert _widget_rgb(scene, x0, y) == (0, 192, 0)  # contour: the class colour, opaque
    assert _widget_rgb(scene, x0 + 1, y) == (0, 192, 0)  # two screen pixels wide
    assert max(_widget_rgb(scene, x0 - 1, y)) < 110  # a dark halo just outside the mask
    assert _widget_rgb(scene, x0 - 3, y) == (0, 192, 0)  # then the image, untouched
    # the same few screen pixels at any zoom: here 16 screen pixels per image pixel
    scene.canvas.set_view(16.0, 0.0, -1500.0)
    x0, y = 20 * 16, 110 * 16 - 1500
    assert max(_widget_rgb(scene, x0 - 1, y)) < 110
    assert _widget_rgb(scene, x0 + 1, y) == (0, 192, 0)
    assert _widget_rgb(scene, x0 - 3, y) == (0, 192, 0)


def test_fill_opacity_and_outlines_only_are_display_settings(scene):
    scene.canvas.show_image(np.zeros((H, W, 3), np.uint8))
    m = np.zeros((H, W), bool)
    m[100:120, 20:40] = True
    mask = scene.state.new_annotation(Mask(encode(m)), class_id="road")
    box = scene.state.new_annotation(Box(100, 10, 50, 50), class_id="car")
    _add(scene, mask, box)
    before = scene.doc.annotations(scene.media.id)
    c = scene.canvas
    c.set_layer_style(fill_opacity=0.2)
    weak, weak_box = scene.pixel(30, 110)[1], scene.pixel(125, 35)[0]
    c.set_layer_style(fill_opacity=0.8)
    strong, strong_box = scene.pixel(30, 110)[1], scene.pixel(125, 35)[0]
    assert 20 <= weak < 60 and strong > 130 and strong_box > weak_box > 20
    c.set_layer_style(outlines_only=True)
    assert scene.pixel(30, 110) == (0, 0, 0) and scene.pixel(125, 35) == (0, 0, 0)
    assert scene.pixel(20.1, 110)[1] > 150  # the outline stays
    scene.state.select((mask.id,))
    assert scene.pixel(30, 110)[1] > 20  # the selection keeps a light fill
    assert scene.doc.annotations(scene.media.id) == before  # nothing stored changed


def test_mask_edges_stay_pixel_exact_at_2x_device_pixel_ratio(scene):
    from app.widgets.canvas_render import AnnotationLayer, View

    m = np.zeros((H, W), bool)
    m[100:120, 20:40] = True
    mask = scene.state.new_annotation(Mask(encode(m)), class_id="road")
    img, _buf = AnnotationLayer().render([mask], scene.doc.schema, frozenset(),
                                         View(ZOOM, OX, OY, 300, 600), (W, H), 2.0)
    assert img.width() == 600  # device pixels
    x0, y = int(2 * (OX + 20 * ZOOM)), int(2 * (OY + 110 * ZOOM))
    assert img.pixelColor(x0, y).alpha() == 255 and img.pixelColor(x0, y).green() > 150
    halo = img.pixelColor(x0 - 1, y)
    assert halo.alpha() > 100 and halo.green() < 50  # a dark halo, outside column 20
    assert img.pixelColor(x0 + 20, y).alpha() < 200  # translucent fill inside


# ---------------------------------------------------------------------- text
def test_labels_draw_readable_text_on_a_plate_whatever_the_image(qapp):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor, QFontDatabase, QImage, QPainter

    from app.widgets.labels import draw_label

    assert QFontDatabase.families(), "no fonts: install fonts-dejavu-core"
    for background in ("#ffffff", "#000000", "#ffe119"):
        img = QImage(160, 40, QImage.Format.Format_RGB32)
        img.fill(QColor(background))
        p = QPainter(img)
        plate = draw_label(p, QPointF(20, 26), "left hand", QColor("#ffe119"))
        p.end()
        assert plate.width() > 40 and plate.height() >= 13
        inside = [img.pixelColor(x, y).lightness() for x in range(int(plate.left()) + 4,
                                                                    int(plate.right()))
                  for y in range(int(plate.top()), int(plate.bottom()))]
        assert min(inside) < 80 and sum(v > 200 for v in inside) > 40, background  # glyphs


def test_missing_fonts_are_reported_with_the_package_to_install(qapp, monkeypatch, capsys,
                                                                tmp_path):
    from PySide6.QtGui import QFontDatabase

    from app.widgets import labels

    assert labels.ensure_fonts() == list(QFontDatabase.families())
    monkeypatch.setattr(labels.QFontDatabase, "families", staticmethod(lambda *a: []))
    assert labels.ensure_fonts(tmp_path) == []
    assert "fonts-dejavu-core" in capsys.readouterr().err
