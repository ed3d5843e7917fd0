"""What a tracker's lost frames become (no model file): an occlusion it comes back from is
``occluded`` with boxes interpolated between the last confident box and the found one (the
tracker's low score kept); ``outside`` only where the object left the picture or never came
back, or for every lost frame with ``lost="outside"`` (the old behaviour). Judged in steps, a
stretch not decided yet is written provisionally as outside and replaced when it is."""

from __future__ import annotations

import pytest

from app.inference.prelabel import TrackShapes
from app.inference.tracking import (OCCLUDED, OUTSIDE, TRACKED, LostStretches, TrackedBox,
                                    judge_lost, touches_border, track_steps)

SIZE = (200, 120)


def run(lost_frames: set[int], count: int = 30, box=lambda n: (20.0 + 3 * n, 40.0, 20.0, 20.0),
        score: float = 0.9) -> list[TrackedBox]:
    """A tracker's raw answer: on a lost frame the box stays where the target was last seen
    and the score is low."""
    out, last = [], box(0)
    for n in range(count):
        if n in lost_frames:
            out.append(TrackedBox(n, last, 0.2, True))
        else:
            last = box(n)
            out.append(TrackedBox(n, last, 1.0 if n == 0 else score, False))
    return out


def states(found: list[TrackedBox]) -> dict[int, str]:
    return {t.frame: t.state for t in found}


def test_an_occlusion_the_tracker_comes_back_from_is_occluded_and_interpolated():
    raw = run(set(range(10, 16)))
    judged = judge_lost(raw, SIZE)
    assert [t.frame for t in judged] == list(range(30))
    assert {f for f, s in states(judged).items() if s == OCCLUDED} == set(range(10, 16))
    assert all(s == TRACKED for f, s in states(judged).items() if f not in range(10, 16))
    for t in judged[10:16]:
        # on a straight path the interpolation between frames 9 and 16 is the true box
        assert t.box == pytest.approx((20.0 + 3 * t.frame, 40.0, 20.0, 20.0))
        assert t.lost and t.score == 0.2  # the tracker's flag and low score are kept
    assert {t.frame: t.box for t in judged if t.state == TRACKED} == \
        {t.frame: t.box for t in raw if not t.lost}
    assert set(judged[12].to_json()) == {"frame", "box", "score", "lost"}


def test_with_lost_outside_every_lost_frame_is_outside_as_before():
    raw = run({5} | set(range(10, 16)) | {17})
    judged = judge_lost(raw, SIZE, OUTSIDE)
    assert [t.state == OUTSIDE for t in judged] == [t.lost for t in raw]
    assert [t.box for t in judged] == [t.box for t in raw]


def test_a_short_false_find_inside_a_stretch_stays_occluded():
    raw = run(set(range(10, 20)) - {14, 15})  # found on 14-15 only, then lost again
    judged = judge_lost(raw, SIZE)
    assert {f for f, s in states(judged).items() if s == OCCLUDED} == set(range(10, 20))
    assert judged[14].box == pytest.approx((20.0 + 3 * 14, 40.0, 20.0, 20.0))


def test_an_object_that_left_the_picture_or_never_came_back_is_outside():
    # the last confident box (frame 9) reaches the right border: the object left
    at_edge = run(set(range(10, 16)), box=lambda n: (100.0 + 9 * n, 40.0, 20.0, 20.0))
    assert touches_border(at_edge[9].box, SIZE) and not touches_border(at_edge[5].box, SIZE)
    judged = states(judge_lost(at_edge, SIZE))
    assert {f for f, s in judged.items() if s == OUTSIDE} == set(range(10, 16))
    assert OCCLUDED not in judged.values()
    # lost in the middle of the picture and never found again before the range ends
    judged = states(judge_lost(run(set(range(20, 30))), SIZE))
    assert {f for f, s in judged.items() if s == OUTSIDE} == set(range(20, 30))
    # found again only on the very last frames: that counts (nothing more to see)
    judged = states(judge_lost(run(set(range(20, 28))), SIZE))
    assert {f for f, s in judged.items() if s == OCCLUDED} == set(range(20, 28))


def test_backward_tracking_is_judged_in_its_own_order():
    """Tracking backward from frame 29, the last confident box before the stretch is frame
    16's; the object 'left' if that one touches the border."""
    raw = [TrackedBox(t.frame, t.box, t.score, t.lost) for t in run(set(range(10, 16)))]
    judged = judge_lost(raw, SIZE, backward=True)
    assert {t.frame for t in judged if t.state == OCCLUDED} == set(range(10, 16))
    assert judged[12].box == pytest.approx((56.0, 40.0, 20.0, 20.0))
    edge = lambda n: (5.0 * n - 60.0, 40.0, 20.0, 20.0)  # noqa: E731 - enters from the left
    raw = run(set(range(10, 16)), box=edge)
    forward = states(judge_lost(raw, SIZE))
    backward = states(judge_lost(raw, SIZE, backward=True))
    assert {f for f, s in forward.items() if s == OUTSIDE} == set(range(10, 16))  # frame 9: x=-15
    assert {f for f, s in backward.items() if s == OCCLUDED} == set(range(10, 16))  # 16: x=20


class _Reader:
    """A video of ``count`` grey frames whose tracker is scripted by ``raw``."""

    def __init__(self, count: int) -> None:
        import numpy as np

        self.frame_count = count
        self._grey = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)

    def frames(self, start, stop, step=1):
        for n in range(start, stop, step):
            yield n, self._grey


class _Scripted:
    model_id, device = "scripted", "CPU"

    def __init__(self, raw: list[TrackedBox]) -> None:
        self.raw = {t.frame: t for t in raw}
        self.n = 0

    def init(self, frame, box) -> None:
        self.n = 0

    def update(self, frame):
        self.n += 1
        t = self.raw[self.n]
        return t.box, t.score, t.lost


def test_track_steps_give_every_frame_once_and_a_lost_stretch_provisionally_outside():
    raw = run(set(range(95, 130)), count=250, box=lambda n: (20.0 + 0.5 * n, 40.0, 20.0, 20.0))
    steps = list(track_steps(_Reader(250), raw[0].box, 0, tracker=_Scripted(raw), every=100))
    assert [(s.tracked, s.last) for s in steps] == [(100, False), (200, False), (250, True)]
    done = [t.frame for s in steps for t in s.done]
    assert sorted(done) == list(range(250)) and len(done) == 250
    assert [t.frame for t in steps[0].pending] == list(range(95, 100))
    assert all(t.state == OUTSIDE for t in steps[0].pending)
    assert steps[1].pending == [] and steps[2].pending == []
    judged = {t.frame: t for s in steps for t in s.done}
    assert all(judged[f].state == OCCLUDED for f in range(95, 130))
    assert [judged[f] for f in range(250)] == judge_lost(raw, SIZE)


def test_a_provisional_outside_is_replaced_by_the_decided_shapes_on_the_same_frame():
    """Step 1 ends inside a lost stretch: an outside keyframe on its first frame. Step 2 finds
    the object again: that annotation (same id) becomes the first occluded shape."""
    raw = run(set(range(8, 14)), count=20)
    judge = LostStretches(SIZE)
    shapes = TrackShapes("m", "t", None, "scripted", skip=0)
    first_done = [d for t in raw[:10] for d in judge.push(t)]
    step1 = shapes.records(first_done, judge.pending())
    (outside,) = [a for a in step1 if a.outside]
    assert outside.frame == 8 and outside.keyframe and [a.frame for a in step1] == \
        list(range(1, 9))
    second_done = [d for t in raw[10:] for d in judge.push(t)] + judge.finish()
    step2 = shapes.records(second_done)
    by_frame = {a.frame: a for a in step2}
    assert sorted(by_frame) == list(range(8, 20))
    assert by_frame[8].id == outside.id and by_frame[8].occluded and not by_frame[8].outside
    assert all(by_frame[f].occluded and not by_frame[f].keyframe and by_frame[f].score == 0.2
               for f in range(8, 14))
    assert not any(a.occluded for a in step1 if a.frame < 8)
