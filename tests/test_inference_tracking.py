"""Tracking over a frame range with the classical tracker (no model file): forward, backward,
frame order, the lost flag, and the JSON each frame becomes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.inference.tracking import TemplateTracker, open_tracker, track_video


class MovingSquare:
    """A textured square moving 3 px right and 1 px down per frame over a noisy background;
    hidden behind a grey bar on ``hidden`` frames."""

    def __init__(self, count: int = 40, hidden: range = range(0)) -> None:
        rng = np.random.default_rng(3)
        self.background = rng.integers(0, 60, (120, 200, 3), dtype=np.uint8)
        self.texture = rng.integers(100, 255, (20, 20, 3), dtype=np.uint8)
        self.frame_count, self.hidden = count, hidden

    def box(self, n: int) -> tuple[float, float, float, float]:
        return (10.0 + 3 * n, 20.0 + n, 20.0, 20.0)

    def frame(self, n: int) -> np.ndarray:
        img = self.background.copy()
        x, y, _, _ = (int(v) for v in self.box(n))
        img[y:y + 20, x:x + 20] = self.texture
        if n in self.hidden:
            cv2.rectangle(img, (x - 8, 0), (x + 28, 119), (128, 128, 128), -1)
        return img

    def frames(self, start: int, stop: int, step: int = 1):
        for n in range(start, stop, step):
            yield n, self.frame(n)


def test_forward_and_backward_ranges_come_back_in_frame_order():
    clip = MovingSquare()
    forward = track_video(clip, clip.box(5), 5, end=30, tracker=TemplateTracker())
    assert [t.frame for t in forward] == list(range(5, 31))
    assert forward[0].box == clip.box(5) and forward[0].score == 1.0
    assert all(abs(t.box[0] - clip.box(t.frame)[0]) <= 2 for t in forward)
    backward = track_video(clip, clip.box(35), 35, end=10, backward=True, chunk=7,
                           tracker=TemplateTracker())
    assert [t.frame for t in backward] == list(range(10, 36))
    assert all(abs(t.box[1] - clip.box(t.frame)[1]) <= 2 for t in backward)
    to_start = track_video(clip, clip.box(4), 4, backward=True, tracker=TemplateTracker())
    assert [t.frame for t in to_start] == [0, 1, 2, 3, 4]
    assert set(forward[3].to_json()) == {"frame", "box", "score", "lost"}


def test_hidden_frames_are_lost_and_the_target_is_found_again():
    clip = MovingSquare(hidden=range(12, 16))
    found = track_video(clip, clip.box(0), 0, tracker=open_tracker("classical"))
    lost = [t.frame for t in found if t.lost]
    assert set(lost) <= set(range(12, 17)) and len(lost) >= 3
    assert abs(found[-1].box[0] - clip.box(39)[0]) <= 2


def test_ranges_outside_the_video_are_refused():
    clip = MovingSquare(10)
    with pytest.raises(ValueError):
        track_video(clip, clip.box(0), 10)
    with pytest.raises(ValueError):
        track_video(clip, clip.box(5), 5, end=2)
