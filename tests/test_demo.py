"""The demo project: built offline from generated pictures, covers every tool, reopens as is."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from app.core.document import Document
from app.core.errors import VellumError
from app.core.media import MediaStatus
from app.core.schema import AttributeType
from app.demo import build_demo, demo_folder
from app.io.images import read_image

TOOL_KINDS = {"box", "rotated_box", "polygon", "polyline", "keypoints", "mask", "tag"}


@pytest.fixture
def offline(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the demo must not touch the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_demo_builds_offline_with_every_shape_kind(tmp_path, offline):
    path = build_demo(tmp_path / "demo")
    with Document.open(path) as doc:
        every = doc.media()
        items = [m for m in every if m.kind.value == "image"]
        assert len(items) == 6 and len(every) == 8
        assert {m.status for m in items} == set(MediaStatus)
        kinds = set()
        for m in items:
            assert 640 <= m.width <= 1600 and 480 <= m.height <= 1200
            img = read_image(doc.media_path(m))
            assert img.shape == (m.height, m.width, 3) and img.std() > 5
            for a in doc.annotations(m.id):
                kinds.add(a.kind)
                cls = doc.schema.class_by_id(a.class_id)
                assert cls is not None and cls.allows(a.kind)
                for spec in cls.attributes:
                    spec.check(a.attributes[spec.name])
                if a.kind == "keypoints":
                    assert len(a.shape.points) == len(cls.skeleton.points)
                x, y, w, h = a.shape.bbox()
                assert 0 <= x and 0 <= y and x + w <= m.width + 1 and y + h <= m.height + 1
        assert TOOL_KINDS <= kinds
        classes = doc.schema.classes
        keys = [c.hotkey for c in classes if c.hotkey]
        assert len(keys) == len(set(keys)) and set("123456789") <= set(keys)
        assert {a.type for c in classes for a in c.attributes} == set(AttributeType)
        person = doc.schema.class_by_name("person")
        assert 5 <= len(person.skeleton.points) <= 17
        assert doc.schema.class_by_name("weather").kinds == ("tag",)


def test_demo_has_a_tracked_video_and_a_segmented_ct(tmp_path, offline):
    path = build_demo(tmp_path / "demo")
    with Document.open(path) as doc:
        video = next(m for m in doc.media() if m.kind.value == "video")
        volume = next(m for m in doc.media() if m.kind.value == "volume")
        (track,) = doc.tracks(video.id)
        assert [a.frame for a in doc.track_shapes(track) if a.keyframe] == [0, 35, 71]
        assert any(a.kind == "event" for a in doc.annotations(video.id, all_frames=True))
        assert doc.frame_times(video.id) is not None and video.frames == 72
        spacing = volume.volume.spacing
        assert spacing[2] > 2 * spacing[0]  # anisotropic voxels
        (lm,) = doc.labelmaps(volume.id)
        assert lm.segments and doc.labelmap_volume(lm.id).any()


def test_demo_is_idempotent(tmp_path):
    first = build_demo(tmp_path / "demo")
    stamp = first.stat().st_mtime_ns
    assert build_demo(tmp_path / "demo") == first
    assert first.stat().st_mtime_ns == stamp
    assert not (tmp_path / "demo.building").exists()


def test_demo_refuses_a_folder_with_other_content(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious")
    with pytest.raises(VellumError, match="not empty"):
        build_demo(folder)
    assert (folder / "thesis.txt").read_text() == "precious"


def test_demo_folder_is_in_user_data(monkeypatch, tmp_path):
    import sys

    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
        assert demo_folder() == tmp_path / "vellum" / "demo"
    assert demo_folder().name == "demo" and isinstance(demo_folder(), Path)
