"""A drag on the timeline of a long-GOP 1080p file changes the picture during the drag (issue
19): real mouse presses and moves on the real timeline, the window's real decoder. Each far
frame of such a file costs a whole GOP's decode, so the feed shows every frame decoded while
the pointer moves (the nearest one ready), and the exact frame under the pointer on release.
With the video's display proxy prepared, the drag shows proxy previews (frame-exact, smaller)
and the release ends on the exact source frame."""

from __future__ import annotations

import shutil
import time
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtTest import QTest

from tools_scene import LEFT, NOMOD
from video_scene import VideoScene

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

FRAMES = 300


def long_gop_1080p(path: Path) -> None:
    """10 s of 1080p30 H.264, one keyframe every 250 frames, B-frames (a camera's layout);
    each frame shows its number (ffmpeg's testsrc2)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=1920x1080:rate=30:duration={FRAMES / 30}", "-c:v",
                    "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-x264-params",
                    "keyint=250:min-keyint=250:scenecut=0:bframes=2", "-pix_fmt", "yuv420p",
                    str(path)], check=True)


class GopCost:
    """The window's reader, paying ``seconds`` more for a frame it has not decoded yet (a far
    jump into a long GOP costs 0.5-1 s at 1080p on a 2-core machine; the short test clip
    decodes faster than a camera's would)."""

    def __init__(self, reader, seconds: float) -> None:
        self._r, self._s = reader, seconds

    def frame(self, n):
        if n not in self._r.cache:
            time.sleep(self._s)
        return self._r.frame(n)

    def __getattr__(self, name):
        return getattr(self._r, name)


@pytest.fixture
def scene(qtbot, tmp_path, monkeypatch, request):
    from app.io.video import open_video
    from app.widgets.video.presenter import VideoPresenter

    monkeypatch.setenv("VELLUM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VELLUM_PREPARE_VIDEOS", getattr(request, "param", "never"))
    monkeypatch.setattr(VideoPresenter, "open_video",
                        staticmethod(lambda path: GopCost(open_video(path), 0.3)))
    s = VideoScene(qtbot, tmp_path, write=long_gop_1080p, name="camera.mp4")
    yield s
    s.win.close()


def _picture(scene) -> tuple[int | None, bool, object]:
    """What the window shows now: (the frame its place names, whether the picture is the exact
    source frame - the surface's picture - or a proxy preview, the drawn picture itself)."""
    return scene.state.frame, scene.canvas.source is not None, scene.canvas.pyramid


@pytest.mark.slow
def test_a_drag_on_a_long_gop_timeline_changes_the_picture_before_release(scene):
    s = scene
    assert s.video.frames == FRAMES
    first = _picture(s)
    targets = list(range(10, 290, 4))  # a steady hand: a move every 40 ms for about 3 s
    bar = s.timeline.bar
    seen = []  # what the window showed after each move, still pressed, still moving
    QTest.mousePress(bar, LEFT, NOMOD, s.bar_point(targets[0]))
    for f in targets[1:]:
        QTest.mouseMove(bar, s.bar_point(f))
        s.qtbot.wait(40)
        seen.append(_picture(s))
    end = bar.frame_at(s.bar_point(targets[-1]).x())
    QTest.mouseRelease(bar, LEFT, NOMOD, s.bar_point(targets[-1]))
    frames = {n for n, _, pyramid in seen if pyramid is not first[2]}
    assert len(frames) >= 2, frames  # the picture moved while dragging
    s.wait_frame(end, timeout=20000)
    assert _picture(s)[:2] == (end, True)
    assert np.array_equal(s.canvas.source.pixels(), s.reference(end))


@pytest.mark.slow
@pytest.mark.parametrize("scene", ["auto"], indirect=True)
def test_with_a_prepared_proxy_the_drag_shows_previews_and_release_the_exact_frame(scene):
    s = scene
    prep = s.presenter.prep
    # a long-GOP video is prepared in the background, shown as a cancellable job
    s.qtbot.waitUntil(lambda: prep.preparing or prep.proxy is not None, timeout=10000)
    labels = [j.label for j in s.win.jobs.running()]
    s.qtbot.waitUntil(lambda: not prep.preparing, timeout=120000)
    assert prep.proxy is not None and prep.proxy.complete, labels
    assert "Preparing camera.mp4 for fast jumps" in labels
    assert s.presenter.feed.proxy is prep.proxy
    bar = s.timeline.bar
    targets = list(range(20, 290, 15))
    QTest.mousePress(bar, LEFT, NOMOD, s.bar_point(targets[0]))
    for f in targets[1:]:
        QTest.mouseMove(bar, s.bar_point(f))
        want = bar.frame_at(s.bar_point(f).x())  # each position's preview comes while dragging
        s.qtbot.waitUntil(lambda w=want: _picture(s)[:2] == (w, False), timeout=10000)
    end = bar.frame_at(s.bar_point(targets[-1]).x())
    QTest.mouseRelease(bar, LEFT, NOMOD, s.bar_point(targets[-1]))
    s.wait_frame(end, timeout=20000)  # the exact picture, the surface's picture again
    assert _picture(s)[:2] == (end, True)
    assert np.array_equal(s.canvas.source.pixels(), s.reference(end))
    # the preview drawn for a frame spans the source frame's pixels (annotations line up)
    assert s.canvas.pyramid.width == 1920 and s.canvas.pyramid.height == 1080


def test_a_reduced_pyramid_draws_a_smaller_copy_over_the_full_size():
    from app.widgets.tiles import ImagePyramid

    small = np.zeros((360, 640, 3), np.uint8)
    pyr = ImagePyramid.reduced(small, 1920, 1080)
    assert (pyr.width, pyr.height) == (1920, 1080)
    assert pyr.scale_of(0) == (3.0, 3.0)
    assert pyr.level_for(1 / 3) == 0  # one copy pixel per screen pixel: the copy itself
    assert pyr.level_for(1 / 6) == 1
    full = ImagePyramid(np.zeros((1080, 1920, 3), np.uint8))
    assert full.level_for(1 / 3) == 1 and full.level_for(1.0) == 0
