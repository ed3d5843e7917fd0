"""The one propagation loop (``app.inference.propagation.carry``) that slices and frames share."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from app.inference.propagation import carry, grown_box
from app.inference.propagation_records import propagate_frames


def _square(x: int, size: int = 10) -> np.ndarray:
    m = np.zeros((40, 40), bool)
    m[10:10 + size, x:x + size] = True
    return m


def test_carry_keeps_until_a_place_is_refused_or_halted() -> None:
    kept, asked = [], []

    def segment(p, prev):
        asked.append((p, grown_box(prev, 1)))
        return _square(p), 0.9

    def judge(p, mask, score, prev):
        return ("too far" if p == 4 else "", "look" if p == 2 else "")

    stop = carry([1, 2, 3, 4, 5], _square(0), segment, judge,
                 lambda p, m, s, r: kept.append((p, r)))
    assert stop == "too far" and kept == [(1, ""), (2, "look"), (3, "")]
    assert asked[0] == (1, (-1.0, 9.0, 12.0, 12.0))  # prompted by the seed's grown box
    assert asked[1][1] == (0.0, 9.0, 12.0, 12.0)  # then by the previous kept mask's
    assert carry([1, 2], _square(0), segment, judge, lambda *a: None,
                 halt=lambda p: "halted" if p == 2 else "") == "halted"
    assert carry([], _square(0), segment, judge, lambda *a: None) == ""


class _Session:
    """Answers each frame with a square at x = frame (score 0.9), frame 6 with nothing."""

    def encode(self, rgb, place, fingerprint):
        return place.frame

    def predict(self, box=None, embedding=None):
        mask = _square(embedding) if embedding != 6 else np.zeros((40, 40), bool)
        return SimpleNamespace(best=lambda: SimpleNamespace(mask=mask, score=0.9))


def test_frames_go_through_the_same_loop() -> None:
    frames = [(f, np.zeros((40, 40, 3), np.uint8)) for f in range(1, 9)]
    ticks = []
    out = propagate_frames(frames, _Session(), _square(0), "m", progress=ticks.append)
    assert [m.frame for m in out.masks] == [1, 2, 3, 4, 5]
    assert out.stopped == "frame 6: the mask is empty" and ticks == [1, 2, 3, 4, 5, 6]
    out = propagate_frames(frames[:3], _Session(), _square(0), "m")
    assert out.stopped == "the range ends" and len(out.masks) == 3
    out = propagate_frames(frames, _Session(), _square(0), "m", stop_at={3})
    assert out.stopped == "frame 3 already has a shape of this track"
    out = propagate_frames(frames, _Session(), _square(0), "m", cancelled=lambda: True)
    assert out.stopped == "cancelled" and out.masks == []
