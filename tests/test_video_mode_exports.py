"""What the video mode shows is what the exports write: the same boxes in the window, COCO
(frames as images, with their pictures beside the JSON on request) and MOT; a damaged video
opens with its report and loses nothing; playback keeps real time by dropping display
frames when the decoder is slow; the demo clip's labels."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.document import Document
from app.core.places import Place
from fake_clock import FakeClock, install as install_fake_clock
from video_scene import K, VideoScene, video  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")
CTRL = Qt.KeyboardModifier.ControlModifier


def go(s: VideoScene, frame: int) -> None:
    s.key(K.Key_G, CTRL)
    s.type(str(frame))
    s.key(K.Key_Return)
    s.wait_frame(frame)


def a_moved_track(s: VideoScene) -> str:
    """A box track keyed on frame 0 and, moved and resized, on frame 10."""
    s.draw_box(20, 100, 80, 140)
    go(s, 10)
    s.key(K.Key_V)
    s.canvas_click(50, 120)
    s.canvas_drag([(50, 120), (130, 90)])
    s.canvas_drag([(140, 100), (155, 110)])  # the bottom-right handle: resize too
    return s.anns("box")[0].track_id


def test_the_window_coco_and_mot_give_the_same_boxes(video, tmp_path):
    from app.io.coco import export_coco
    from app.io.mot import export_mot, read_mot

    s = video
    a_moved_track(s)
    shown = {}
    for f in (0, 3, 5, 9, 10, 30, 71):
        go(s, f)
        (a,) = s.anns("box")
        shown[f] = a.shape.bbox()
    assert shown[5] != shown[0] and shown[5] != shown[10] and shown[30] == shown[10]
    export_coco(s.doc, tmp_path / "coco.json")
    data = json.loads((tmp_path / "coco.json").read_text())
    image_frame = {im["id"]: im["frame_index"] for im in data["images"] if "video_id" in im}
    coco = {image_frame[a["image_id"]]: tuple(a["bbox"]) for a in data["annotations"]}
    assert sorted(coco) == list(range(72))
    assert all(a["track_id"] == 1 for a in data["annotations"])
    times = {im["frame_index"]: im["timestamp"] for im in data["images"] if "video_id" in im}
    assert times[30] == pytest.approx(30 / 24)
    export_mot(s.doc, tmp_path / "gt.txt")
    mot = {line.frame: line.box for line in read_mot(tmp_path / "gt.txt")}
    assert sorted(mot) == list(range(72))
    for f, box in shown.items():
        assert coco[f] == pytest.approx(box, abs=1e-9), f
        assert mot[f] == pytest.approx(box, abs=2e-6), f
    for f in range(72):
        assert mot[f] == pytest.approx(coco[f], abs=2e-6)


def test_coco_with_images_writes_the_frames_beside_the_json(video, tmp_path):
    from app.cli import main

    s = video
    a_moved_track(s)
    out = tmp_path / "export" / "coco.json"
    assert main(["export", "coco", str(s.path), str(out), "--with-images"]) == 0
    data = json.loads(out.read_text())
    frames = [im for im in data["images"] if "video_id" in im]
    assert len(frames) == 72
    for im in frames[::17] + frames[-1:]:
        assert im["file_name"] == f"clip/frame_{im['frame_index']:06d}.png"
        png = cv2.cvtColor(cv2.imread(str(out.parent / im["file_name"])), cv2.COLOR_BGR2RGB)
        assert np.array_equal(png, s.reference(im["frame_index"]))
    assert not list(out.parent.glob(".vellum-frames-*"))  # nothing staged is left


def test_with_images_never_writes_over_project_media_and_writes_nothing_then(video, tmp_path,
                                                                              capsys):
    from app.cli import main
    from app.io.images import write_png
    from app.io.ingest import add_media

    s = video
    a_moved_track(s)
    folder = s.path.parent  # a JSON beside the clip would put frame 0 onto this image:
    write_png(folder / "clip" / "frame_000000.png", np.zeros((8, 8, 3), np.uint8))
    add_media(s.doc, [folder / "clip" / "frame_000000.png"])
    out = folder / "coco.json"
    assert main(["export", "coco", str(s.path), str(out), "--with-images"]) == 1
    err = capsys.readouterr().err
    assert "Refusing to write" in err and "frame_000000.png" in err and "Traceback" not in err
    assert not out.exists() and not (folder / "clip" / "frame_000001.png").exists()


def write_mkv(path: Path, frames: int = 30) -> Path:
    """A 64x48 H.264 Matroska clip whose frame n is grey level 8n (any prefix still plays)."""
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"g": "5", "bf": "0"}
        for n in range(frames):
            img = np.full((48, 64, 3), n * 8, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def test_a_truncated_video_opens_with_its_report_and_loses_no_annotation(qtbot, tmp_path):
    from app.core.annotations import Annotation, Track
    from app.core.commands import Put
    from app.core.shapes import Box

    s = VideoScene(qtbot, tmp_path, write=write_mkv, name="clip.mkv")
    try:
        car = s.doc.schema.class_by_name("car").id
        track = Track(s.video.id, car, attributes={"color": "red", "truncated": False})
        keys = [Annotation(Place(s.video.id, f), Box(5, 5, 20, 10), car, track_id=track.id,
                           attributes={"parked": False}) for f in (2, 25)]
        assert s.state.execute(Put((track, *keys)))
        s.key(K.Key_PageUp)
        data = s.clip.read_bytes()
        s.clip.write_bytes(data[: len(data) * 6 // 10])  # the file loses its end
        s.key(K.Key_End)
        qtbot.waitUntil(lambda: s.presenter.report is not None, timeout=10000)
        readable = s.presenter.readable
        assert 2 < readable < 30
        info = s.timeline.info.text()
        assert "⚠" in info and f"{readable} of the project's 30 frames can be read" in info
        go(s, 2)
        assert len(s.anns("box")) == 1
        s.draw_box(30, 20, 50, 40)  # the readable frames can be labelled
        assert len(s.anns("box")) == 2
        s.key(K.Key_G, CTRL)
        s.type("25")
        s.key(K.Key_Return)
        qtbot.waitUntil(lambda: s.state.frame == 25 and s.canvas.showing() == "message",
                        timeout=5000)
        assert "readable end" in s.canvas.message()
        s.key(K.Key_R)
        s.canvas_drag([(5, 5), (30, 30)])  # nothing is drawn where nothing can be seen
        stored = s.doc.annotations(s.video.id, all_frames=True)
        assert sorted(a.frame for a in stored) == [2, 2, 25]  # and nothing was lost
        s.key(K.Key_PageUp)
        s.wait_picture()
        assert s.canvas.showing() == "image"
    finally:
        s.win.close()


def test_an_unreadable_video_says_so_in_one_sentence_and_the_rest_works(video):
    s = video
    s.draw_box(20, 100, 80, 140)
    s.key(K.Key_PageUp)
    s.clip.write_bytes(s.clip.read_bytes()[:3000])  # the file is cut before its index
    s.key(K.Key_End)
    s.qtbot.waitUntil(lambda: s.presenter.error is not None, timeout=10000)
    text = s.canvas.message()
    assert "clip.mp4" in text and "Traceback" not in text and "labels are kept" in text
    s.key(K.Key_R)
    s.canvas_drag([(5, 5), (30, 30)])
    assert len(s.doc.annotations(s.video.id, all_frames=True)) == 1  # nothing drawn or lost
    s.key(K.Key_PageUp)
    s.wait_picture()
    assert s.current_name() == "img0.png" and s.canvas.showing() == "image"


class SlowReader:
    """A reader whose every decode takes ``delay`` seconds of the playback clock (a 4K HEVC
    stream on a laptop); the clock moves only by decoding, however fast the machine is."""

    def __init__(self, reader, delay: float, clock: FakeClock) -> None:
        self._r, self.delay, self.clock, self.decoded = reader, delay, clock, []

    def frame(self, n: int):
        self.clock.advance(self.delay)
        self.decoded.append(n)
        return self._r.frame(n)

    def __getattr__(self, name):
        return getattr(self._r, name)


def test_playback_drops_display_frames_not_time_when_decoding_is_slow(qtbot, tmp_path,
                                                                      monkeypatch):
    from app.io.video import open_video
    from app.widgets.video.presenter import VideoPresenter

    readers: list[SlowReader] = []
    clock = install_fake_clock(monkeypatch)  # moved only by decodes (and once below)

    def slow_open(path):
        readers.append(SlowReader(open_video(path), 0.1, clock))  # 10 fps for a 24 fps clip
        return readers[-1]

    monkeypatch.setattr(VideoPresenter, "open_video", staticmethod(slow_open))
    s = VideoScene(qtbot, tmp_path)
    try:
        seen: list[tuple[int, int]] = []  # (frame of the place, frame of the picture)
        s.state.subscribe(lambda name: name == "place" and s.state.frame is not None and
                          seen.append((s.state.frame, s.canvas.source.place.frame)))
        start = clock.monotonic()
        s.press_space()
        clock.advance(1 / 24)  # frame 1 is due: from here on each decode moves the clock
        qtbot.waitUntil(lambda: clock.monotonic() - start >= 1.2, timeout=20000)
        s.press_space()
        elapsed = clock.monotonic() - start
        qtbot.waitUntil(lambda: not s.presenter.feed.busy, timeout=10000)
        end = s.state.frame
        # real time is kept: the frame shown is the one due when its (0.1 s) decode began,
        # or the one before (a decode in flight at the pause)
        assert elapsed * 24 - 6 < end <= elapsed * 24, (end, elapsed)
        shown = [f for f, _ in seen]
        assert len(shown) < end * 0.7, (len(shown), end)  # ...by dropping display frames
        assert shown == sorted(shown) and len(set(shown)) == len(shown)
        assert all(place == picture for place, picture in seen)  # labels match the picture
        assert s.state.frame == s.canvas.source.place.frame
        decoded = len(readers[-1].decoded)
        clock.advance(1.0)
        qtbot.wait(100)  # let playback's timer tick
        assert s.state.frame == end  # paused: nothing late arrives
        assert len(readers[-1].decoded) == decoded  # and nothing more is decoded
    finally:
        s.win.close()


def test_video_thumbnails_come_from_the_decoder(video):
    s = video
    model = s.win.media.model
    row = model.index(model.row_of(s.video.id))
    s.qtbot.waitUntil(lambda: model.thumbnail_count() == 2, timeout=10000)
    img = model.data(row, Qt.ItemDataRole.DecorationRole)
    assert not img.isNull() and img.width() == 64


def test_demo_video_labels_key_the_car_and_mark_braking(tmp_path):
    from app.demo_media import car_box, write_demo_video
    from app.io.ingest import add_media
    from app.widgets.video.demo import demo_video_labels

    with Document.create(tmp_path / "p") as doc:
        clip = write_demo_video(tmp_path / "p" / "demo.mp4")
        add_media(doc, [clip])
        item = doc.media()[0]
        doc.execute(demo_video_labels(doc, item))
        (track,) = doc.tracks(item.id)
        assert doc.schema.class_by_id(track.class_id).name == "car"
        keys = doc.track_shapes(track)
        assert [(a.frame, a.shape.bbox()) for a in keys] == [(f, car_box(f))
                                                             for f in (0, 35, 71)]
        (event,) = doc.annotations(Place(item.id))
        assert (event.shape.start, event.shape.end) == (40, 55)
        assert doc.schema.class_by_id(event.class_id).name == "braking"
        doc.undo()  # one undo step
        assert doc.tracks(item.id) == [] and doc.annotations(item.id, all_frames=True) == []


def test_read_frame_keeps_one_reader_per_video_open(tmp_path):
    from app.core.media import MediaKind
    from app.demo_media import write_demo_video
    from app.io.video import open_video
    from app.widgets import loading

    clip = write_demo_video(tmp_path / "clip.mp4")
    first = loading.read_frame(clip, MediaKind.VIDEO, 40)
    reader = loading.video_reader(clip)
    again = loading.read_frame(clip, MediaKind.VIDEO, 41)
    assert loading.video_reader(clip) is reader  # not reopened per frame
    with open_video(clip) as v:
        assert np.array_equal(first, v.frame(40)) and np.array_equal(again, v.frame(41))


def test_a_tracks_static_attributes_go_through_coco_and_come_back_on_the_track(video,
                                                                               tmp_path):
    from app.io.coco import export_coco, import_coco

    s = video
    a_moved_track(s)
    s.win.attributes.editors["color"].setCurrentText("blue")  # static: set on the track
    (track,) = s.doc.tracks(s.video.id)
    assert track.attributes["color"] == "blue"
    out = tmp_path / "coco.json"
    export_coco(s.doc, out)
    data = json.loads(out.read_text())
    assert {a["attributes"]["color"] for a in data["annotations"]} == {"blue"}  # every frame
    assert {a["attributes"]["parked"] for a in data["annotations"]} == {False}
    from app.core.commands import SetSchema

    with Document.create(tmp_path / "fresh") as fresh:  # a project with the same classes
        fresh.execute(SetSchema(s.doc.schema))
        import_coco(fresh, out, s.path.parent)
        (video_item,) = [m for m in fresh.media() if m.kind.value == "video"]
        (back,) = fresh.tracks(video_item.id)
        assert back.attributes == track.attributes
        shapes = fresh.track_shapes(back)
        assert [a.frame for a in shapes] == [0, 10]  # the keyframes, not the frames between
        assert all("color" not in a.attributes for a in shapes)
