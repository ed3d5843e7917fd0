"""Segment anything in the real window and through the real engine adapter: tiny ONNX models
with the official layouts (built by the tests, no weights) imported through the model-pack
mechanism, answered on a worker thread and delivered on the UI thread; a box drag then Enter
in the window gives a mask with the model as source; with the real LiteMedSAM pack (from
../shared/models, skipped where absent) one real box-to-mask on a photo."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.rle import decode
from app.inference.pack_import import import_models
from app.tools.sam import SamTool
from app.tools.sam_protocol import SamPicture, SamRequest
from app.core.places import Place
from test_inference_tiny_models import box_mask, iou, sam_vit_pack
from tools_scene import WindowScene, activate  # noqa: F401

pytest.importorskip("pytestqt")

LITEMEDSAM = Path(__file__).resolve().parents[2] / "shared" / "models" / "litemedsam"


@pytest.fixture
def tiny_models(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "models"
    report = import_models(sam_vit_pack(tmp_path / "pack"), root)
    assert report.errors == [] and "tiny-sam" in report.installed
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(root))
    return root


def test_the_engine_answers_on_the_ui_thread_and_never_makes_it_wait(qtbot, tiny_models):
    from app.widgets.sam_engine import QtSamEngine

    # the session opens (then encodes) only once the test lets it: predict() returning first
    # proves the UI thread never waits on the model (events, not a stopwatch)
    release, opened_on = threading.Event(), []

    def gated_session(model_id: str):
        opened_on.append(threading.current_thread())
        assert release.wait(30), "the test never let the session open"
        return engine._real_session(model_id)

    engine = QtSamEngine(root=tiny_models, open_session=gated_session)
    try:
        assert [m.id for m in engine.models()] == ["tiny-sam"]
        image = np.random.default_rng(0).integers(0, 255, (150, 200, 3), dtype=np.uint8)
        picture = SamPicture(Place("m"), image, "fp")
        got: list = []
        threads: list = []

        def reply(answer) -> None:
            got.append(answer)
            threads.append(threading.current_thread())

        box = (40.0, 30.0, 90.0, 70.0)
        engine.predict(SamRequest(1, "t", "tiny-sam", picture, box), reply)
        assert got == [] and not release.is_set()  # returned while the session is held back
        release.set()
        qtbot.waitUntil(lambda: bool(got), timeout=30000)
        assert opened_on and threading.main_thread() not in opened_on
        (answer,) = got
        assert answer.error == "" and answer.source == "tiny-sam"
        assert answer.score == pytest.approx(0.9)
        assert iou(answer.mask, box_mask(150, 200, box)) > 0.95
        assert threads == [threading.main_thread()]
        # a burst of prompts on one channel: the newest is answered, older ones may be skipped
        for serial in (2, 3, 4):
            engine.predict(SamRequest(serial, "t", "tiny-sam", picture,
                                      (10.0, 10.0, 20.0 * serial, 30.0)), reply)
        qtbot.waitUntil(lambda: got[-1].serial == 4, timeout=30000)
        assert [a.serial for a in got] == sorted(a.serial for a in got)
    finally:
        engine.close()


def test_a_model_damaged_after_import_answers_one_sentence(qtbot, tiny_models):
    from app.widgets.sam_engine import QtSamEngine

    encoder = next((tiny_models / "tiny-sam").glob("*encoder*.onnx"))
    data = bytearray(encoder.read_bytes())
    data[len(data) // 2] ^= 0xFF
    encoder.write_bytes(bytes(data))
    engine = QtSamEngine(root=tiny_models)
    got: list = []
    try:
        picture = SamPicture(Place("m"), np.zeros((40, 50, 3), np.uint8), None)
        engine.predict(SamRequest(1, "t", "tiny-sam", picture, (5.0, 5.0, 20.0, 20.0)),
                       got.append)
        qtbot.waitUntil(lambda: bool(got), timeout=30000)
    finally:
        engine.close()
    (answer,) = got
    assert answer.mask is None and str(encoder) in answer.error and "damaged" in answer.error
    assert "\n" not in answer.error and "Traceback" not in answer.error


def _project(folder: Path, image: np.ndarray) -> Path:
    from app.core.commands import SetSchema
    from app.core.document import Document
    from app.demo import demo_schema
    from app.io.images import write_png
    from app.io.ingest import add_media

    write_png(folder / "images" / "photo.png", image)
    with Document.create(folder) as doc:
        doc.execute(SetSchema(demo_schema()))
        add_media(doc, [folder / "images"])
        return doc.path


def _disc_photo(h: int = 240, w: int = 320) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    disc = (xx + 0.5 - 150) ** 2 + (yy + 0.5 - 120) ** 2 <= 55 ** 2
    rng = np.random.default_rng(5)
    img = rng.integers(20, 50, (h, w, 3), dtype=np.uint8)
    img[disc] = (210, 190, 170)
    return img, disc


def _segment_in_window(qtbot, tmp_path, box_corners, timeout_ms: int):
    img, disc = _disc_photo()
    s = WindowScene(qtbot, tmp_path, images=0, open_project=False)
    s.open(_project(tmp_path / "photo_project", img))
    s.wait_picture()
    s.key(Qt.Key.Key_W)
    tool = s.win.canvas.tool
    assert isinstance(tool, SamTool)
    s.canvas_drag(list(box_corners))
    assert tool.busy
    qtbot.waitUntil(lambda: tool.pending is None and (tool.answer is not None or bool(
        s.win.statusBar().currentMessage())), timeout=timeout_ms)
    assert tool.answer is not None, s.win.statusBar().currentMessage()
    s.key(Qt.Key.Key_Return)
    return s, disc


def test_a_box_in_the_window_becomes_a_mask_from_the_tiny_model(qtbot, tmp_path, tiny_models):
    s, _ = _segment_in_window(qtbot, tmp_path, [(60, 50), (200, 170)], 30000)
    try:
        (ann,) = s.anns("mask")
        assert ann.source == "tiny-sam" and ann.score == pytest.approx(0.9)
        mask = decode(ann.shape.rle)
        assert iou(mask, box_mask(240, 320, (60, 50, 140, 120))) > 0.9
        tool = s.win.canvas.tool
        s.canvas_drag([(60, 50), (200, 170)])
        s.canvas_click(130, 110, button=Qt.MouseButton.RightButton)  # reaches the tool
        assert [p.label for p in tool.points] == [0] and tool.box is not None
        qtbot.waitUntil(lambda: tool.pending is None and tool.answer is not None, timeout=30000)
        s.key(Qt.Key.Key_Escape)
        assert not tool.busy and len(s.anns("mask")) == 1
        s.win.sam.propagate()  # on a photo there is nothing to propagate through
        assert "volume slices and video frames" in s.win.statusBar().currentMessage()
        label, combo = s.win.tool_options.controls[("choice", "sam_model")]
        assert combo.currentData() == "tiny-sam"  # the SAM tool's declared options
        assert combo.isEnabled() and combo.isVisible()
        s.key(Qt.Key.Key_B)  # the brush: its controls, not the SAM ones
        qtbot.waitUntil(lambda: not combo.isVisible(), timeout=2000)
        brush = s.win.tool_options.controls[("size", "brush_radius")]
        assert all(w.isVisible() and w.isEnabled() for w in brush)
    finally:
        s.win.close()


@pytest.mark.skipif(not LITEMEDSAM.is_dir(), reason=f"{LITEMEDSAM} is absent on this machine")
def test_the_real_litemedsam_pack_segments_a_photo_in_the_window(qtbot, tmp_path,
                                                                 monkeypatch):
    root = tmp_path / "models"
    report = import_models(LITEMEDSAM, root)
    assert report.errors == [] and sorted(report.installed["litemedsam"]) == ["decoder",
                                                                              "encoder"]
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(root))
    s, disc = _segment_in_window(qtbot, tmp_path, [(85, 55), (215, 185)], 60000)
    try:
        (ann,) = s.anns("mask")
        assert ann.source == "litemedsam" and 0.0 < ann.score <= 1.0
        assert iou(decode(ann.shape.rle), disc) > 0.85
        qtbot.waitUntil(lambda: "Models:" in s.win.status.device.text(), timeout=10000)
    finally:
        s.win.close()


def test_propagate_in_the_window_starts_from_the_pane_prompted_last(qtbot, tmp_path,
                                                                   tiny_models):
    """A pane of a volume on the window's editor state, showing the window's one SAM tool
    through its own surface (as the volume mode does): a box there, then Tools ▸
    Propagate… paints the label map through the window's engine and lists the review in the
    window's Review dock."""
    from app.core.commands import Put
    from app.core.labelmap import LabelMapInfo, Segment
    from app.core.media import MediaItem, MediaKind
    from app.io.planes import VolumeSliceSource, WindowLevel
    from app.tools.paint import LabelMapPaint
    from app.widgets.canvas import Canvas
    from surface_fakes import PaintingSurface
    from test_sam_tool_volume import GEO, SHAPE, _ct, _drag

    s = WindowScene(qtbot, tmp_path, images=1)
    try:
        doc = s.doc
        vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="ctfp", size_bytes=1,
                        width=0, height=0, volume=GEO, position=5)
        tree = doc.schema.class_by_name("tree")
        info = LabelMapInfo(vol.id, *SHAPE, segments=(Segment(1, "tree", tree.color,
                                                              tree.id),))
        assert s.state.execute(Put((vol, info)))
        s.state.set(class_id=tree.id)
        here = Place(vol.id, axis="k", index=12)
        surface = PaintingSurface(LabelMapPaint(info.id, 1, tree.color), place=here)
        src = VolumeSliceSource(here, _ct(), GEO)
        src.mapping = WindowLevel(400, 40)
        pane = Canvas(s.state, surface=surface)
        qtbot.addWidget(pane)
        pane.resize(500, 400)
        pane.show_source(src, mapping=src.mapping)
        pane.show()
        tool = s.win.tools["sam"]  # the window's one SAM tool, on its engine
        s.win.canvas.set_tool(tool)
        pane.set_tool(tool, owner=False)
        _drag(pane, (21, 19), (39, 37))
        qtbot.waitUntil(lambda: tool.pending is None and tool.answer is not None,
                        timeout=30000)
        action = next(a for a in s.win.menuBar().actions() if a.text() == "&Tools")
        propagate = next(a for a in action.menu().actions()
                         if a.text() == "&Propagate segmentation…")
        propagate.trigger()
        qtbot.waitUntil(lambda: getattr(s.win, "_sam_review", None) is not None,
                        timeout=60000)
        painted = set(np.argwhere(doc.labelmap_volume(info.id) == 1)[:, 0])
        assert 12 in painted  # (the tiny model answers its prompt box, so it soon stops)
        assert "Segmented slices k=" in s.win.statusBar().currentMessage()
        assert "Propagation k=" in s.win._sam_review.title.text()
        assert doc.undo_label == "Propagate with tiny-sam"
    finally:
        s.win.close()
