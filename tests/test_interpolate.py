"""The one interpolation of tracks (app.core.interpolate), checked against hand-computed values
and against shapely for the geometry."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Polygon as ShapelyPolygon

from app.core.annotations import Annotation
from app.core.interpolate import blend, interpolate
from app.core.places import Place
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox
from app.core.rle import encode

import numpy as np


def _key(frame, shape, **kw):
    return Annotation(Place("v", frame), shape, track_id="t", **kw)


def test_a_box_keyed_at_0_and_10_is_exactly_linear():
    keys = [_key(0, Box(0, 0, 10, 20)), _key(10, Box(100, 50, 30, 20))]
    for f in range(11):
        got = interpolate(keys, f).shape
        assert got == Box(10 * f, 5 * f, 10 + 2 * f, 20)
    mid = interpolate(keys, 5)
    assert mid.source == "interpolated" and not mid.keyframe and mid.frame == 5
    assert mid.id == "t@5" and interpolate(keys, 0) is keys[0]


def test_before_the_first_after_outside_and_after_the_last():
    keys = [_key(5, Box(0, 0, 1, 1)), _key(10, Box(5, 0, 1, 1), outside=True),
            _key(20, Box(9, 9, 1, 1))]
    assert interpolate(keys, 4) is None
    assert interpolate(keys, 10) is None  # out of view from the outside keyframe on
    assert interpolate(keys, 12) is None and interpolate(keys, 19) is None
    assert interpolate(keys, 20).shape == Box(9, 9, 1, 1)
    assert interpolate(keys, 500).shape == Box(9, 9, 1, 1)  # holds to the end (CVAT)


def test_rotated_boxes_take_the_short_way_round():
    a, b = RotatedBox(0, 0, 10, 5, 350), RotatedBox(10, 0, 10, 5, 10)
    mid = blend(a, b, 0.5)
    assert mid.cx == 5 and math.isclose(mid.angle % 360, 0, abs_tol=1e-9)
    quarter = blend(a, b, 0.25)
    assert math.isclose(quarter.angle, 355)
    assert math.isclose(blend(RotatedBox(0, 0, 1, 1, 10), RotatedBox(0, 0, 1, 1, 200), 0.5).angle,
                        285)  # 10 -> 200 is 190 degrees forward or 170 back: back


def _convex(n, cx, cy, r, phase=0.0):
    return tuple((cx + r * math.cos(phase + 2 * math.pi * k / n),
                  cy + r * math.sin(phase + 2 * math.pi * k / n)) for k in range(n))


@pytest.mark.parametrize("n_a,n_b", [(3, 8), (4, 17), (5, 6), (12, 4)])
def test_convex_polygons_with_different_vertex_counts_never_self_intersect(n_a, n_b):
    a = Polygon(_convex(n_a, 20, 20, 10, 0.3))
    b = Polygon(tuple(reversed(_convex(n_b, 60, 35, 18, 1.1))))  # opposite winding too
    for t in [i / 20 for i in range(1, 20)]:
        mid = blend(a, b, t)
        poly = ShapelyPolygon(mid.exterior)
        assert poly.is_valid and poly.is_simple, (t, mid.exterior)
        # it moves and grows smoothly between the two
        cx, cy = poly.centroid.x, poly.centroid.y
        assert math.isclose(cx, 20 + 40 * t, abs_tol=1.5) and math.isclose(cy, 20 + 15 * t,
                                                                           abs_tol=1.5)


def test_same_vertex_counts_correspond_vertex_to_vertex():
    a = Polygon(((0, 0), (10, 0), (10, 10), (0, 10)))
    b = Polygon(((20, 0), (30, 0), (30, 10), (20, 10)))
    assert blend(a, b, 0.5).exterior == ((10, 0), (20, 0), (20, 10), (10, 10))


def test_polylines_and_keypoints():
    mid = blend(Polyline(((0, 0), (10, 0))), Polyline(((0, 10), (5, 10), (10, 10))), 0.5)
    assert mid.points == ((0, 5), (5, 5), (10, 5))
    kp = blend(Keypoints(((0, 0, 2), (5, 5, 2), (1, 1, 0))),
               Keypoints(((10, 10, 1), (5, 5, 0), (9, 9, 2))), 0.5)
    assert kp.points[0] == (5, 5, 2)  # both labelled: halfway
    assert kp.points[1] == (5, 5, 2)  # not labelled at the far end: stays
    assert kp.points[2][2] == 0


def test_masks_hold_the_latest_mask_never_blended():
    m = Mask(encode(np.ones((4, 4), bool)))
    n = Mask(encode(np.eye(4, dtype=bool)))
    keys = [_key(0, m), _key(10, n)]
    assert interpolate(keys, 5).shape == m and interpolate(keys, 9).shape == m
    assert interpolate(keys, 10).shape == n and interpolate(keys, 30).shape == n
    assert interpolate([_key(0, m)], 3).shape == m  # held after the last, as other shapes
    assert interpolate([_key(0, m), _key(4, m, outside=True)], 5) is None
