"""The tool layer without Qt: editor state, the gesture protocol, geometry helpers and a tool
driven by plain PointerEvents (the way a video or volume view would drive it)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.shapes import Box, Keypoints, Polygon, Polyline, RotatedBox
from app.tools import TOOLS, tool_by_name
from app.tools.base import Button, EventType, KeyEvent, PointerEvent, Tool
from app.tools.geometry import (delete_vertex, hit, insert_vertex, nearest_edge, nearest_vertex,
                                topmost_at)
from app.tools.rotated_box import box_from
from app.tools.select import resized
from app.tools.state import EditorState
from tools_scene import make_schema


def ev(kind: str, x: float, y: float, scale: float = 1.0) -> PointerEvent:
    return PointerEvent(EventType(kind), x, y, Button.LEFT, Button.LEFT, scale=scale)


@pytest.fixture
def state(tmp_path):
    doc = Document.create(tmp_path / "p")
    item = MediaItem(kind=MediaKind.IMAGE, path="a.png", fingerprint="x", size_bytes=0,
                     width=100, height=80)
    doc.execute(Put((item,)))
    doc.execute(SetSchema(make_schema()))
    st = EditorState(doc, place=Place(item.id), class_id="car", image_size=(100, 80))
    yield st
    doc.close()


def test_tools_never_import_qt():
    code = ("import sys, app.tools, app.tools.clipboard, app.tools.paint; "
            "print(any(m.startswith('PySide6') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert out.stdout.strip() == "False", out.stderr


def test_registry_is_uniform():
    names = [t.name for t in TOOLS]
    assert len(set(names)) == len(names) and tool_by_name("polygon").label == "Polygon"
    keys = [t.shortcut for t in TOOLS]
    assert len(set(keys)) == len(keys) and all(len(k) == 1 for k in keys)
    assert all(issubclass(t, Tool) and t.tooltip for t in TOOLS)


def test_state_notifies_changed_fields_only(state):
    seen = []
    unsub = state.subscribe(seen.append)
    state.set(class_id="road", selection=["a"])
    state.set(class_id="road")
    state.brush_radius = 5000
    assert seen == ["class_id", "selection", "brush_radius"]
    assert state.selection == ("a",) and state.brush_radius == 1000.0
    state.message("hi")
    state.message("hi")
    assert seen[-2:] == ["status", "status"]
    unsub()
    state.set(class_id=None)
    assert seen[-1] == "status"
    with pytest.raises(AttributeError):
        state.set(colour="red")


def test_new_annotation_takes_place_class_and_z(state):
    a = state.new_annotation(Box(1, 2, 3, 4))
    assert (a.media_id, a.class_id, a.frame, a.z) == (state.media_id, "car", None, 0)
    state.set(place=state.place.at_frame(7))
    assert state.new_annotation(Box(1, 2, 3, 4)).frame == 7


def test_gesture_protocol_runs_top_to_bottom():
    log = []

    class Probe(Tool):
        def gesture(self, press):
            log.append(("press", press.x))
            e = yield
            while e.type is EventType.MOVE:
                log.append(("move", e.x))
                e = yield
            log.append(("release", e.x))

    t = Probe(EditorState(None))
    t.press(ev("press", 1, 0))
    assert t.busy
    t.move(ev("move", 2, 0))
    t.move(ev("move", 3, 0))
    t.release(ev("release", 4, 0))
    assert log == [("press", 1), ("move", 2), ("move", 3), ("release", 4)] and not t.busy
    t.press(ev("press", 5, 0))
    assert t.key(KeyEvent("Escape")) and not t.busy
    t.move(ev("move", 6, 0))  # hover only
    assert log[-1] == ("press", 5)


def test_box_tool_without_any_view(state):
    tool = tool_by_name("box")(state)
    tool.press(ev("press", 10, 10, scale=2))
    tool.move(ev("move", 30, 20, scale=2))
    assert [i.kind for i in tool.overlay()] == ["crosshair", "rect"]
    tool.release(ev("release", 40, 30, scale=2))
    (a,) = state.annotations()
    assert a.shape == Box(10, 10, 30, 20) and state.selection == (a.id,)
    # the box just drawn shows its 8 handles (and the crosshair stays with the pointer)
    assert [(i.kind, len(i.points)) for i in tool.overlay()] == [("crosshair", 1), ("points", 8)]


def test_hit_testing_and_topmost():
    poly = Polygon(((0, 0), (10, 0), (10, 10), (0, 10)), (((3, 3), (7, 3), (7, 7), (3, 7)),))
    assert hit(poly, 1, 1, 0.5) and not hit(poly, 5, 5, 0.5) and hit(poly, 10.3, 5, 0.5)
    assert hit(Polyline(((0, 0), (10, 10))), 5, 5.2, 0.5)
    assert not hit(Polyline(((0, 0), (10, 10))), 5, 7, 0.5)
    assert hit(Keypoints(((5, 5, 2), (0, 0, 0))), 5.3, 5, 0.5)
    assert not hit(Keypoints(((5, 5, 2), (0, 0, 0))), 0, 0, 0.5)
    rb = RotatedBox(50, 50, 20, 10, 90)
    assert hit(rb, 50, 58, 0.1) and not hit(rb, 58, 50, 0.1)
    from app.core.annotations import Annotation
    from app.core.places import Place

    lower = Annotation(Place("m"), Box(0, 0, 10, 10), z=0)
    upper = Annotation(Place("m"), Box(5, 5, 10, 10), z=1)
    assert topmost_at([lower, upper], 7, 7, 0).id == upper.id
    assert topmost_at([lower, upper], 7, 7, 0, prefer=(lower.id,)).id == lower.id


def test_vertex_helpers():
    sq = Polygon(((0, 0), (10, 0), (10, 10), (0, 10)))
    assert nearest_vertex(sq, 9.5, 0.4, 1) == (0, 1)
    (ref, p) = nearest_edge(sq, 5, 0.3, 1)
    assert ref == (0, 0) and p == pytest.approx((5, 0))
    shape, new = insert_vertex(sq, ref, p)
    assert new == (0, 1) and len(shape.exterior) == 5
    tri = delete_vertex(sq, (0, 0))
    assert len(tri.exterior) == 3 and delete_vertex(tri, (0, 0)) is None
    holed = Polygon(sq.exterior, (((2, 2), (4, 2), (3, 4)),))
    assert delete_vertex(holed, (1, 0)).holes == ()  # a hole below 3 vertices goes


def test_resize_and_rotated_box_helpers():
    b = Box(10, 10, 20, 10)
    assert resized(b, 2, (40, 30)) == Box(10, 10, 30, 20)
    assert resized(b, 0, (40, 30)) == Box(30, 20, 10, 10)  # dragged past the far corner
    assert resized(b, 5, (50, 99)) == Box(10, 10, 40, 10)  # right edge only
    rb = box_from((0, 0), (10, 0), (3, 4))
    assert (rb.cx, rb.cy, rb.w, rb.h, rb.angle) == pytest.approx((5, 2, 10, 4, 0))
    rb = box_from((0, 0), (0, 10), (-4, 5))
    assert rb.angle == pytest.approx(90) and rb.corners()[0] == pytest.approx((0, 0))
    r = RotatedBox(50, 50, 20, 10, 0)
    turned = resized(r, 4, (60, 50))
    assert turned.angle == pytest.approx(90) and (turned.w, turned.h) == (20, 10)
    grown = resized(r, 2, (70, 60))  # bottom-right corner; top-left stays
    assert grown.corners()[0] == pytest.approx(r.corners()[0])
    assert (grown.w, grown.h) == pytest.approx((30, 15))
    assert math.isclose(resized(r, 4, (61, 51), snap=True).angle, 90)
