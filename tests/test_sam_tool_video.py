"""Propagation and tracking along a real (small, H.264) video through the window's jobs: a mask
carried forward as the shapes of a track (keyframe=False, source = model, score), stopping at
the track's next keyframe, frames of low confidence listed; a box tracked backward with the
classical tracker as the track's shapes; each run one undo step."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from app.core.annotations import Annotation
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.places import Place
from app.core.rle import decode, encode
from app.core.schema import LabelClass, LabelSchema
from app.core.shapes import Box, Mask
from sam_fakes import FakeEngine, ThresholdSession

pytest.importorskip("pytestqt")
av = pytest.importorskip("av")

W, H, COUNT = 160, 96, 30


def square_box(n: int) -> tuple[float, float, float, float]:
    """Where the bright textured square is on frame n (x, y, w, h)."""
    return (10.0 + 3 * n, 20.0 + n, 24.0, 24.0)


def picture(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    img = rng.integers(0, 40, (H, W, 3), dtype=np.uint8)
    x, y, w, h = (int(v) for v in square_box(n))
    tex = np.random.default_rng(99).integers(170, 255, (h, w, 3), dtype=np.uint8)
    img[y:y + h, x:x + w] = tex
    return img


def write_clip(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"crf": "12", "g": "10"}
        for n in range(COUNT):
            for p in s.encode(av.VideoFrame.from_ndarray(picture(n), format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


@pytest.fixture
def clip(tmp_path, qtbot):
    from app.io.ingest import add_media
    from app.tools.state import EditorState
    from app.widgets.jobs import Jobs

    folder = tmp_path / "project"
    folder.mkdir()
    write_clip(folder / "clip.mp4")
    doc = Document.create(folder)
    doc.execute(SetSchema(LabelSchema((LabelClass("thing", "#ff8800", id="thing"),))))
    add_media(doc, [folder / "clip.mp4"])
    (video,) = doc.media()
    assert video.frames == COUNT
    state = EditorState(doc, place=Place(video.id, frame=5), class_id="thing")
    said: list[str] = []
    reviews: list = []
    host = SimpleNamespace(state=state, jobs=Jobs(), message=lambda t, ms=0: said.append(t),
                           error=lambda t: said.append("error: " + t))
    yield SimpleNamespace(doc=doc, video=video, state=state, host=host, said=said,
                          reviews=reviews, on_review=lambda t, r: reviews.append((t, r)))
    host.jobs.wait(5000)
    doc.close()


def _truth(n: int) -> np.ndarray:
    x, y, w, h = (int(v) for v in square_box(n))
    out = np.zeros((H, W), bool)
    out[y:y + h, x:x + w] = True
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_a_mask_is_carried_forward_as_the_shapes_of_its_track(clip, qtbot):
    from app.widgets.sam_jobs import propagate_video_mask

    c = clip
    engine = FakeEngine()
    engine.sessions["fake-sam"] = ThresholdSession(level=120, score=0.7)
    seed = c.state.new_annotation(Mask(encode(_truth(5))), source="fake-sam", score=0.9)
    c.state.execute(Put((seed,)))
    job = propagate_video_mask(c.host, engine, "fake-sam", seed, 20, on_review=c.on_review)
    assert job is not None
    qtbot.waitUntil(lambda: bool(c.reviews) or any("error" in s for s in c.said),
                    timeout=30000)
    assert not any("error" in s for s in c.said), c.said
    (track,) = c.doc.tracks(c.video.id)
    shapes = sorted(c.doc.track_shapes(track), key=lambda a: a.frame)
    assert [a.frame for a in shapes] == list(range(5, 26))
    first, rest = shapes[0], shapes[1:]
    assert first.id == seed.id and first.keyframe and first.track_id == track.id
    assert all(not a.keyframe and a.source == "fake-sam" and a.score == pytest.approx(0.7)
               for a in rest)
    assert all(_iou(decode(a.shape.rle).astype(bool), _truth(a.frame)) > 0.8 for a in rest)
    title, reviews = c.reviews[0]
    assert "frames 6-25" in title
    assert [r.place.frame for r in reviews] == list(range(6, 26))  # all under 0.75
    assert c.doc.undo_label == "Propagate with fake-sam"
    c.doc.undo()
    assert c.doc.tracks(c.video.id) == [] and [a.id for a in c.state.annotations()] == [seed.id]


def test_propagation_stops_at_the_tracks_next_keyframe(clip, qtbot):
    from app.widgets.sam_jobs import propagate_video_mask
    from app.inference.propagation_records import seed_track

    c = clip
    engine = FakeEngine()
    engine.sessions["fake-sam"] = ThresholdSession(level=120)
    seed = c.state.new_annotation(Mask(encode(_truth(5))))
    track, keyed, records = seed_track(c.doc, seed)
    later = Annotation(Place(c.video.id, frame=9), Mask(encode(_truth(9))), "thing", track.id)
    c.state.execute(Put((*records, later)))
    later = c.doc.annotation(c.video.id, later.id)  # as stored (with its frame's time)
    job = propagate_video_mask(c.host, engine, "fake-sam", keyed, 20, on_review=c.on_review)
    assert job is not None
    qtbot.waitUntil(lambda: bool(c.reviews), timeout=30000)
    frames = sorted(a.frame for a in c.doc.track_shapes(track))
    assert frames == [5, 6, 7, 8, 9]
    assert c.doc.annotation(c.video.id, later.id) == later  # the keyframe is untouched
    assert c.reviews[0][1] == []  # score 0.9: nothing to review


def test_a_box_is_tracked_backward_as_the_shapes_of_its_track(clip, qtbot):
    from app.widgets.sam_jobs import track_box

    c = clip
    seed = Annotation(Place(c.video.id, frame=20), Box(*square_box(20)), "thing")
    c.state.execute(Put((seed,)))
    seed = c.doc.annotation(c.video.id, seed.id)  # as stored (with its frame's time)
    c.state.select((seed.id,))
    job = track_box(c.host, seed, 12, backward=True, model_id="classical",
                    on_review=c.on_review)
    assert job is not None
    qtbot.waitUntil(lambda: bool(c.reviews) or any("error" in s for s in c.said),
                    timeout=30000)
    assert not any("error" in s for s in c.said), c.said
    (track,) = c.doc.tracks(c.video.id)
    shapes = sorted(c.doc.track_shapes(track), key=lambda a: a.frame)
    assert [a.frame for a in shapes] == list(range(8, 21))
    assert shapes[-1].id == seed.id and shapes[-1].keyframe
    for a in shapes[:-1]:
        assert not a.keyframe and a.source == "classical" and 0 <= a.score <= 1
        x, y, _, _ = a.shape.bbox()
        tx, ty, _, _ = square_box(a.frame)
        assert abs(x - tx) <= 3 and abs(y - ty) <= 3, a.frame
    assert "Tracked frames 8-20" in c.said[-1]
    c.doc.undo()
    assert c.doc.tracks(c.video.id) == [] and c.doc.annotation(c.video.id, seed.id) == seed


def test_what_cannot_be_propagated_is_said(clip):
    from app.widgets.sam_jobs import propagate_video_mask, track_box

    c = clip
    box = Annotation(Place(c.video.id, frame=5), Box(1, 1, 10, 10), "thing")
    assert propagate_video_mask(c.host, FakeEngine(), "fake-sam", box, 5) is None
    assert "mask" in c.said[-1]
    mask = Annotation(Place(c.video.id, frame=COUNT - 1), Mask(encode(_truth(5))), "thing")
    assert propagate_video_mask(c.host, FakeEngine(), "fake-sam", mask, 5) is None
    assert "no frame" in c.said[-1]
    assert track_box(c.host, mask, 5) is None and "box" in c.said[-1]


def test_segment_then_propagate_in_the_video_mode_of_the_window(qtbot, tmp_path, monkeypatch):
    """The window's video mode with the tiny model: a box on frame 10 around the car, Enter,
    then Tools ▸ Propagate… 5 frames forward: the mask's track gets shapes on frames 11-15
    from the model; the review list's rows go to their frame."""
    from PySide6.QtCore import Qt

    from app.demo_media import car_box
    from app.inference.pack_import import import_models
    from test_inference_tiny_models import sam_vit_pack
    from tools_scene import in_dialog
    from video_scene import VideoScene

    root = tmp_path / "models"
    assert not import_models(sam_vit_pack(tmp_path / "pack"), root).errors
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(root))
    s = VideoScene(qtbot, tmp_path)
    try:
        s.presenter.jump(10)
        s.wait_frame(10)
        s.key(Qt.Key.Key_W)
        tool = s.canvas.tool
        x, y, w, h = car_box(10)
        s.canvas_drag([(x - 2, y - 2), (x + w + 2, y + h + 2)])
        qtbot.waitUntil(lambda: tool.pending is None and tool.answer is not None,
                        timeout=30000)
        s.key(Qt.Key.Key_Return)
        (seed,) = [a for a in s.doc.annotations(s.video.id, all_frames=True)
                   if a.kind == "mask"]
        assert seed.frame == 10 and seed.source == "tiny-sam"
        s.state.select((seed.id,))
        menu = next(a for a in s.win.menuBar().actions() if a.text() == "&Tools").menu()
        propagate = next(a for a in menu.actions() if a.text() == "&Propagate segmentation…")

        def fill(dialog) -> None:
            dialog.count.setValue(5)
            dialog.accept()

        in_dialog(qtbot, propagate.trigger, fill)
        qtbot.waitUntil(lambda: getattr(s.win, "_sam_review", None) is not None,
                        timeout=60000)
        masks = sorted((a for a in s.doc.annotations(s.video.id, all_frames=True)
                        if a.kind == "mask"),
                       key=lambda a: a.frame)
        assert [a.frame for a in masks] == list(range(10, 16))
        assert len({a.track_id for a in masks}) == 1 and masks[0].track_id is not None
        assert all(not a.keyframe and a.source == "tiny-sam" for a in masks[1:])
        s.win.sam.go_to(Place(s.video.id, frame=13))
        s.wait_frame(13)
    finally:
        s.win.close()
