"""Brush and eraser through real mouse and key events: one stroke = one undo step, pixels exact
at image resolution, paint-inside clipping, fill holes; pure helpers tested without Qt."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.commands import Put
from app.core.rle import decode, encode
from app.core.shapes import Box, Mask
from app.tools.paint import fill_holes, stamp_segment
from tools_scene import H, W, scene  # noqa: F401

pytest.importorskip("pytestqt")


def disk(cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r


def mask_of(ann) -> np.ndarray:
    return decode(ann.shape.rle)


# ---------------------------------------------------------------------- pure helpers
def test_stamp_segment_paints_a_capsule_of_pixel_centres():
    buf = np.zeros((H, W), np.uint8)
    assert stamp_segment(buf, (50.5, 40.5), (50.5, 40.5), 5.0, 1)
    assert np.array_equal(buf.astype(bool), disk(50.5, 40.5, 5.0))
    buf[:] = 0
    stamp_segment(buf, (20, 20), (80, 20), 3.0, 1)
    assert buf[20, 20:80].all() and buf[17:23, 50].all() and not buf[24, 50]
    assert not stamp_segment(buf, (20, 20), (80, 20), 3.0, 1)  # nothing new
    clip = np.zeros((H, W), np.uint8)
    clip[:, :50] = 1
    stamp_segment(buf, (40, 60), (70, 60), 3.0, 1, clip)
    assert buf[60, 40:50].all() and not buf[60, 50:].any()


def test_tiny_brush_paints_the_pixel_under_the_pointer():
    buf = np.zeros((10, 10), np.uint8)
    stamp_segment(buf, (3.9, 7.1), (3.9, 7.1), 0.1, 1)
    assert buf.sum() == 1 and buf[7, 3] == 1


def test_fill_holes():
    m = np.zeros((20, 20), np.uint8)
    m[2:12, 2:12] = 1
    m[5:8, 5:8] = 0  # a hole
    m[0:3, 15:20] = 0
    out = fill_holes(m)
    assert out[5:8, 5:8].all() and out.sum() == 100


# ---------------------------------------------------------------------- through the canvas
def test_brush_stroke_new_mask_one_undo_step(scene):
    scene.use("brush")
    scene.state.set(brush_radius=4.0)
    scene.drag([(30, 30), (90, 30)], steps=6)
    (a,) = scene.anns("mask")
    m = mask_of(a)
    assert m.shape == (H, W) and a.class_id == "car"
    assert m[30, 30:90].all() and m[27:33, 60].all() and not m[36, 60] and not m[30, 100]
    assert np.array_equal(decode(scene.on_disk("mask")[0].shape.rle), m)
    scene.doc.undo()
    assert scene.anns() == [] and scene.on_disk() == []
    scene.doc.redo()
    assert np.array_equal(mask_of(scene.on_disk("mask")[0]), m)


def test_second_stroke_paints_into_the_selected_mask(scene):
    scene.use("brush")
    scene.state.set(brush_radius=3.0)
    scene.drag([(30, 30), (60, 30)])
    scene.drag([(30, 60), (60, 60)])  # the new mask is selected: same annotation
    (a,) = scene.anns("mask")
    m = mask_of(a)
    assert m[30, 40] and m[60, 40]
    scene.doc.undo()
    m1 = mask_of(scene.anns("mask")[0])
    assert m1[30, 40] and not m1[60, 40]


def test_bracket_keys_resize_the_brush(scene):
    scene.use("brush")
    scene.state.set(brush_radius=10.0)
    scene.key(Qt.Key.Key_BracketRight)
    assert scene.state.brush_radius == pytest.approx(12.5)
    scene.key(Qt.Key.Key_BracketLeft)
    scene.key(Qt.Key.Key_BracketLeft)
    assert scene.state.brush_radius == pytest.approx(8.0)


def test_eraser_removes_pixels_then_the_mask(scene):
    base = np.zeros((H, W), bool)
    base[20:60, 20:100] = True
    ann = scene.state.new_annotation(Mask(encode(base)))
    scene.doc.execute(Put((ann,)))
    scene.use("eraser")
    scene.state.set(brush_radius=5.0)
    scene.drag([(40, 40), (80, 40)], steps=6)  # nothing selected: the mask under the pointer
    m = mask_of(scene.anns("mask")[0])
    assert not m[40, 40:80].any() and m[21, 60] and m[58, 60]
    assert np.array_equal(mask_of(scene.on_disk("mask")[0]), m)
    scene.doc.undo()
    assert np.array_equal(mask_of(scene.on_disk("mask")[0]), base)
    scene.doc.redo()
    scene.state.set(brush_radius=60.0)
    scene.drag([(60, 40), (61, 40)])  # wipes everything: the annotation goes
    assert scene.anns() == [] and scene.on_disk() == []
    scene.doc.undo()
    assert np.array_equal(mask_of(scene.anns("mask")[0]), m)


def test_eraser_elsewhere_does_nothing(scene):
    scene.use("eraser")
    scene.drag([(40, 40), (80, 40)])
    assert scene.anns() == [] and "Nothing to erase" in scene.state.status


def test_paint_only_inside_the_selected_box(scene):
    box = scene.state.new_annotation(Box(20, 20, 40, 40))
    scene.doc.execute(Put((box,)))
    scene.state.set(selection=(box.id,), paint_inside=True, brush_radius=3.0)
    scene.use("brush")
    scene.drag([(10, 40), (90, 40)], steps=8)
    (m_ann,) = scene.anns("mask")
    m = mask_of(m_ann)
    assert m[40, 21:59].all() and not m[:, :20].any() and not m[:, 60:].any()
    assert set(scene.state.selection) == {box.id, m_ann.id}
    scene.drag([(40, 10), (40, 90)], steps=8)  # second stroke: same mask, still clipped
    (m_ann,) = scene.anns("mask")
    m = mask_of(m_ann)
    assert m[25:55, 40].all() and not m[:20, 40].any() and not m[60:, 40].any()


def test_fill_holes_key(scene):
    ring = np.zeros((H, W), bool)
    ring[20:60, 20:60] = True
    ring[30:50, 30:50] = False
    ann = scene.state.new_annotation(Mask(encode(ring)))
    scene.doc.execute(Put((ann,)))
    scene.state.select((ann.id,))
    scene.use("brush")
    scene.key(Qt.Key.Key_G)
    m = mask_of(scene.anns("mask")[0])
    assert m[20:60, 20:60].all() and m.sum() == 1600
    assert mask_of(scene.on_disk("mask")[0]).sum() == 1600
    scene.doc.undo()
    assert mask_of(scene.anns("mask")[0]).sum() == 1600 - 400


def test_brush_overlay_shows_the_stroke_before_release(scene):
    scene.use("brush")
    scene.state.set(brush_radius=6.0)
    before = scene.pixel(50, 50)
    scene.press(40, 50)
    scene.move(50, 50)
    scene.move(60, 50)
    during = scene.pixel(50, 50)
    assert during != before and during[0] > before[0]  # red (class "car") tint
    assert scene.anns() == []
    scene.release(60, 50)
    assert len(scene.anns("mask")) == 1


def test_a_stroke_is_encoded_once_and_never_decoded_again(scene, monkeypatch):
    import app.tools.geometry as geometry
    import app.tools.paint as paint

    calls = {"encode": 0, "decode": 0}
    real_encode, real_decode = paint.encode, geometry.decode

    def counting_encode(m):
        calls["encode"] += 1
        return real_encode(m)

    def counting_decode(r):
        calls["decode"] += 1
        return real_decode(r)

    monkeypatch.setattr(paint, "encode", counting_encode)
    monkeypatch.setattr(geometry, "decode", counting_decode)
    scene.use("brush")
    scene.state.set(brush_radius=5.0)
    scene.drag([(30, 30), (60, 40), (90, 30)])
    scene.canvas.grab()  # repaint with the new mask
    assert calls == {"encode": 1, "decode": 0}
    assert len(scene.anns("mask")) == 1
