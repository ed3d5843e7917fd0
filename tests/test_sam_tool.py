"""The segment-anything tool driven by real mouse and key events on a canvas, with a tiny fake
engine (no weights): clicks, right-clicks and a box are the prompts; the preview is drawn;
Enter accepts a mask (or polygon) with the model as source and its IoU as score, Backspace
removes the last prompt, Escape drops them; stale answers are dropped; a box-only model asks
for a box; the next images are prefetched."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.rle import decode
from app.io.planes import RGBSource
from sam_fakes import FakeEngine, box_mask, disc
from tools_scene import H, RIGHT, W, near, scene  # noqa: F401

pytest.importorskip("pytestqt")


@pytest.fixture
def sam(scene):
    """The scene with the SAM tool active on a fake engine and the picture hook set."""
    engine = FakeEngine()
    tool = scene.tools["sam"]
    tool.engine = engine
    tool.choice.model_id, tool.choice.output = None, "mask"
    here = scene.state.place
    scene.state.surface.source = RGBSource(here, scene.image)
    scene.use("sam")
    yield scene, tool, engine


def test_a_click_previews_a_mask_and_enter_accepts_it_with_source_and_score(sam):
    scene, tool, engine = sam
    before = scene.pixel(60, 50)
    scene.click(60.5, 50.5)
    req = engine.requests[-1]
    assert req.box is None and req.labels == (1,) and req.multimask
    assert near(req.points[0][0], 60.5) and near(req.points[0][1], 50.5)
    assert req.picture.pixels() is scene.image and req.picture.place == scene.state.place
    assert tool.answer is not None and tool.busy
    assert scene.pixel(60, 50) != before  # the preview is drawn in the class colour
    assert scene.anns() == []  # nothing is stored before Enter
    scene.key(Qt.Key.Key_Return)
    (ann,) = scene.anns("mask")
    assert ann.source == "fake-sam" and ann.score == pytest.approx(0.9)
    assert ann.class_id == "car" and not tool.busy
    assert np.array_equal(decode(ann.shape.rle), disc(H, W, *req.points[0], 12))
    (stored,) = scene.on_disk("mask")
    assert stored.source == "fake-sam" and stored.score == pytest.approx(0.9)
    assert scene.state.selection == (ann.id,)
    scene.doc.undo()
    assert scene.anns() == []


def test_right_click_drag_box_backspace_and_escape(sam):
    scene, tool, engine = sam
    scene.drag([(40, 30), (120, 100)])
    req = engine.requests[-1]
    assert req.box is not None and req.points == ()
    x, y, w, h = req.box
    assert near(x, 40) and near(y, 30) and near(x + w, 120) and near(y + h, 100)
    scene.click(80.5, 60.5, button=RIGHT)  # a point off the object
    req = engine.requests[-1]
    assert req.labels == (0,) and req.box == engine.requests[-2].box and not req.multimask
    assert not tool.answer.mask[60, 80] and tool.answer.mask[40, 50]
    scene.key(Qt.Key.Key_Backspace)  # the negative point goes
    scene.click(80.5, 60.5, mods=Qt.KeyboardModifier.ControlModifier)  # Ctrl+click: the same
    assert engine.requests[-1].labels == (0,)
    scene.key(Qt.Key.Key_Backspace)
    assert engine.requests[-1].points == () and tool.answer.mask[60, 80]
    scene.key(Qt.Key.Key_Backspace)  # the box goes: nothing left
    assert not tool.busy and tool.answer is None
    scene.drag([(40, 30), (120, 100)])
    scene.drag([(10, 10), (50, 40)])  # a new box replaces the old one
    assert engine.requests[-1].box[2] < 45
    scene.key(Qt.Key.Key_Escape)
    assert not tool.busy and tool.prompts == [] and scene.anns() == []
    scene.key(Qt.Key.Key_Return)  # Enter with nothing to accept stores nothing
    assert scene.anns() == []


def test_polygon_output_keeps_the_hole(sam):
    scene, tool, engine = sam
    tool.choice.output = "polygon"
    scene.drag([(40, 30), (120, 100)])
    scene.click(80.5, 65.5, button=RIGHT)
    scene.key(Qt.Key.Key_Return)
    (ann,) = scene.anns("polygon")
    assert ann.source == "fake-sam" and ann.score == pytest.approx(0.9)
    assert len(ann.shape.holes) == 1
    from app.core.raster import rasterize

    pixels = rasterize(ann.shape, H, W)
    expected = box_mask(H, W, engine.requests[-1].box) & ~disc(H, W, 80.5, 65.5, 6)
    assert (pixels != expected).sum() < 0.02 * expected.sum()


def test_answers_to_superseded_prompts_are_dropped(sam):
    scene, tool, engine = sam
    engine.sync = False
    scene.click(50.5, 50.5)
    scene.click(120.5, 80.5)
    assert tool.pending == engine.requests[-1].serial
    assert scene.pixel(0, 0) is not None  # the UI went on meanwhile
    engine.flush(order=[1, 0])  # the newer answer first, then the stale one
    assert tool.pending is None
    assert tool.answer.serial == engine.requests[-1].serial
    assert tool.answer.mask[80, 120] and engine.repaints == 1  # the stale one drew nothing
    scene.key(Qt.Key.Key_Return)
    (ann,) = scene.anns("mask")
    assert decode(ann.shape.rle)[80, 120]


def test_a_box_only_model_asks_for_a_box_before_asking_the_model(sam):
    scene, tool, engine = sam
    engine.needs_box = True
    scene.click(60.5, 50.5)
    assert engine.requests == [] and "box" in scene.state.status
    scene.drag([(40, 30), (120, 100)])
    req = engine.requests[-1]
    assert req.box is not None and req.labels == (1,)  # the click refines the box


def test_without_a_model_the_tool_says_how_to_get_one(sam):
    scene, tool, engine = sam
    engine.models = lambda: []
    scene.click(60.5, 50.5)
    assert engine.requests == [] and "Models" in scene.state.status


def test_a_class_that_does_not_allow_masks_keeps_the_prompts(sam):
    scene, tool, engine = sam
    scene.state.set(class_id="lane")  # polylines only
    scene.click(60.5, 50.5)
    scene.key(Qt.Key.Key_Return)
    assert scene.anns() == [] and tool.busy and "does not allow" in scene.state.status
    scene.state.set(class_id="road")
    scene.key(Qt.Key.Key_Return)
    assert [a.class_id for a in scene.anns()] == ["road"]


def test_hovering_encodes_ahead_and_prefetches_the_next_images(scene, tmp_path):
    from app.core.commands import Put
    from app.core.media import MediaItem, MediaKind
    from app.io.images import write_png

    engine = FakeEngine()
    tool = scene.tools["sam"]
    tool.engine = engine
    for n in range(3):
        write_png(scene.path / f"next{n}.png", np.full((20, 30, 3), 40 * n, np.uint8))
        scene.doc.execute(Put((MediaItem(kind=MediaKind.IMAGE, path=f"next{n}.png",
                                         fingerprint=f"fp{n}", size_bytes=1, width=30,
                                         height=20, position=n + 1),)))
    here = scene.state.place
    scene.state.surface.source = RGBSource(here, scene.image)
    scene.use("sam")
    scene.move(30, 30)
    assert engine.prepared and engine.prepared[-1].place == here
    (ahead,) = engine.prefetched
    assert [p.content for p in ahead] == ["fp0", "fp1"]
    assert ahead[1].pixels().shape == (20, 30, 3) and ahead[1].pixels()[0, 0, 0] == 40
    scene.move(60, 30)
    assert len(engine.prepared) == 1  # the same place is not encoded twice


def test_enter_while_the_model_answers_accepts_the_answer_when_it_arrives(sam):
    scene, tool, engine = sam
    engine.sync = False
    scene.click(60.5, 50.5)
    scene.key(Qt.Key.Key_Return)
    assert scene.anns() == [] and tool.busy
    engine.flush()
    (ann,) = scene.anns("mask")
    assert ann.source == "fake-sam" and not tool.busy
    scene.click(100.5, 80.5)
    scene.key(Qt.Key.Key_Return)
    scene.click(120.5, 90.5)  # a new prompt before the answer: no longer accepted at once
    engine.flush()
    assert len(scene.anns("mask")) == 1 and tool.busy and tool.answer is not None
