"""The one interpolation of tracks: what a track shows on any frame of its video.

:func:`interpolate` is pure and shared by the timeline, the canvas, every exporter and the
trackers, so the same numbers come out everywhere. Frame indices are 0-based, presentation
order. Rules (CVAT's):

- on a frame with a stored shape (a keyframe, or a tracker's shape), that shape - or nothing
  when it is marked ``outside`` (the object has left the view on that frame);
- before the first stored shape, nothing; after a stored shape marked ``outside``, nothing
  until the next stored shape; after the last one, it holds to the end of the video;
- between two stored shapes, a blend at ``t = (frame - f0) / (f1 - f0)``: boxes linearly;
  rotated boxes linearly with the angle taking the short way round; polygons and polylines by
  vertex correspondence (vertex to vertex when the counts agree, else both resampled - polygons
  by angle about their centroid when both are star-shaped about it, which can never
  self-intersect, else by arc length); keypoints point by point where both are labelled;
- masks are never blended: between and after stored masks a track shows the latest stored
  mask at or before the frame (CVAT's mask tracks); tags and events are not tracked;
- attributes are never blended either: a frame shows the per-frame ("dynamic") attribute
  values of the latest stored shape at or before it (a value set on frame 50 holds from 50
  until the next stored shape), never those of the next one.

Interpolated shapes are returned with ``source="interpolated"`` and ``keyframe=False`` and an
id ``"<track id>@<frame>"``; they are never stored (editing one makes a keyframe).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from app.core.annotations import INTERPOLATED, Annotation
from app.core.shapes import Box, Keypoints, Polygon, Polyline, RotatedBox, Shape

_SAMPLES = 64  # vertices of a resampled polygon or polyline


def interpolate(keyframes: Sequence[Annotation], frame: int) -> Annotation | None:
    """The annotation a track shows on ``frame``, from its stored shapes (any order; one per
    frame), or None where the object is not in view. See the module doc for the rules."""
    shapes = sorted(keyframes, key=lambda a: a.frame if a.frame is not None else -1)
    frames = [a.frame for a in shapes]
    n = bisect.bisect_right(frames, frame)  # shapes[n-1] is at or before frame
    if n == 0:
        return None
    prev = shapes[n - 1]
    if prev.outside:
        return None
    if prev.frame == frame:
        return prev
    nxt = shapes[n] if n < len(shapes) else None
    if nxt is None or "mask" in (prev.kind, nxt.kind):
        shape = prev.shape  # held: after the last stored shape, and masks (never blended)
    else:
        t = (frame - prev.frame) / (nxt.frame - prev.frame)
        shape = blend(prev.shape, nxt.shape, t)
    if shape is None:
        return None
    return replace(prev, shape=shape, place=prev.place.at_frame(frame), keyframe=False,
                   source=INTERPOLATED, score=None, timestamp=None, outside=False,
                   id=f"{prev.track_id}@{frame}")


def shown_frames(shapes: Sequence[Annotation], frame_count: int, *, stored: bool = True
                 ) -> Iterator[Annotation]:
    """Every shape a track shows, in frame order, on frames ``0..frame_count-1``: its stored
    shapes in view (``stored=False`` leaves them out) and the interpolated shapes between and
    after them, exactly as :func:`interpolate` gives them frame by frame (the one "frames a
    track shows" of the MOT and COCO exports). ``shapes``: the track's stored shapes."""
    ordered = sorted(shapes, key=lambda a: a.frame if a.frame is not None else -1)
    for i, a in enumerate(ordered):
        if a.outside or a.frame is None or a.frame >= frame_count:
            continue
        if stored:
            yield a
        window = ordered[i:i + 2]  # all interpolate reads for the frames up to the next
        stop = min(window[1].frame, frame_count) if len(window) > 1 else frame_count
        for f in range(a.frame + 1, stop):
            got = interpolate(window, f)
            if got is None:
                break
            yield got


def visible_runs(shapes: Sequence[Annotation], frame_count: int) -> list[tuple[int, int]]:
    """Frame ranges (inclusive) in which a track is in view, from its stored shapes sorted by
    frame: from a shape in view up to the next ``outside`` marker, else to the last frame."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for a in shapes:
        if a.outside and start is not None:
            runs.append((start, a.frame - 1))
            start = None
        elif not a.outside and start is None:
            start = a.frame
    if start is not None:
        runs.append((start, frame_count - 1))
    return [(a, b) for a, b in runs if b >= a]


def visibility_changes(shapes: Sequence[Annotation], frame_count: int) -> list[int]:
    """Frames (sorted) on which a track enters or leaves the view: the first frame of each
    run of :func:`visible_runs` and the frame after each run that ends before the video
    does. ``shapes``: the track's stored shapes sorted by frame."""
    out: set[int] = set()
    for a, b in visible_runs(shapes, frame_count):
        out.add(a)
        if b + 1 < frame_count:
            out.add(b + 1)
    return sorted(out)


def blend(a: Shape, b: Shape, t: float) -> Shape | None:
    """The shape a fraction ``t`` (0..1) of the way from ``a`` to ``b``: ``a`` until half way
    then ``b`` for shapes of different kinds; None for masks, tags and events (a track holds
    its latest mask instead, see :func:`interpolate`)."""
    if a.kind != b.kind:
        return a if t < 0.5 else b
    lerp = lambda p, q: p + (q - p) * t  # noqa: E731
    if isinstance(a, Box) and isinstance(b, Box):
        return Box(lerp(a.x, b.x), lerp(a.y, b.y), lerp(a.w, b.w), lerp(a.h, b.h))
    if isinstance(a, RotatedBox) and isinstance(b, RotatedBox):
        turn = (b.angle - a.angle + 180.0) % 360.0 - 180.0
        return RotatedBox(lerp(a.cx, b.cx), lerp(a.cy, b.cy), lerp(a.w, b.w), lerp(a.h, b.h),
                          (a.angle + turn * t) % 360.0)
    if isinstance(a, Polygon) and isinstance(b, Polygon):
        ext = _blend_rings(a.exterior, b.exterior, t, closed=True)
        holes = tuple(_blend_rings(h, g, t, closed=True) for h, g in zip(a.holes, b.holes)) \
            if len(a.holes) == len(b.holes) else ()
        return replace(a, exterior=ext, holes=holes)
    if isinstance(a, Polyline) and isinstance(b, Polyline):
        return Polyline(_blend_rings(a.points, b.points, t, closed=False))
    if isinstance(a, Keypoints) and isinstance(b, Keypoints):
        if len(a.points) != len(b.points):
            return a if t < 0.5 else b
        pts = []
        for (x0, y0, v0), (x1, y1, v1) in zip(a.points, b.points):
            if v0 and v1:
                pts.append((lerp(x0, x1), lerp(y0, y1), v0))
            else:
                pts.append((x0, y0, v0))
        return a.with_points(tuple(pts))
    return None


# ------------------------------------------------------------------ rings
def _blend_rings(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]], t: float,
                 closed: bool) -> tuple[tuple[float, float], ...]:
    pa, pb = np.asarray(a, float), np.asarray(b, float)
    if closed:
        if _signed_area(pa) * _signed_area(pb) < 0:
            pb = pb[::-1]
        if len(pa) != len(pb):
            star = _star_samples(pa), _star_samples(pb)
            if star[0] is not None and star[1] is not None:
                (ca, ra), (cb, rb) = star  # type: ignore[misc]
                centre = ca + (cb - ca) * t
                radius = ra + (rb - ra) * t
                ang = _angles()
                pts = centre + radius[:, None] * np.stack([np.cos(ang), np.sin(ang)], axis=1)
                if _signed_area(pa) < 0:
                    pts = pts[::-1]
                return tuple(map(tuple, pts.tolist()))
            pa, pb = _resample(pa, _SAMPLES, True), _resample(pb, _SAMPLES, True)
        pb = _aligned(pa, pb)
    elif len(pa) != len(pb):
        n = max(len(pa), len(pb))
        pa, pb = _resample(pa, n, False), _resample(pb, n, False)
    out = pa + (pb - pa) * t
    return tuple(map(tuple, out.tolist()))


def _signed_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _aligned(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """``pb`` cyclically shifted so that its vertices lie closest to ``pa``'s."""
    costs = [float(np.sum((pa - np.roll(pb, -s, axis=0)) ** 2)) for s in range(len(pb))]
    return np.roll(pb, -int(np.argmin(costs)), axis=0)


def _resample(p: np.ndarray, n: int, closed: bool) -> np.ndarray:
    """``n`` points evenly spaced by arc length along a ring or path (starting at p[0])."""
    pts = np.vstack([p, p[:1]]) if closed else p
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    total = float(seg.sum())
    if total == 0:
        return np.repeat(p[:1], n, axis=0)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.linspace(0.0, total, n, endpoint=not closed)
    return np.stack([np.interp(at, cum, pts[:, 0]), np.interp(at, cum, pts[:, 1])], axis=1)


def _angles() -> np.ndarray:
    return np.linspace(0.0, 2 * math.pi, _SAMPLES, endpoint=False)


def _star_samples(p: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(centroid, radius at each of the fixed angles) when the polygon is star-shaped about
    its centroid (every ray from it crosses the boundary once), else None."""
    x, y = p[:, 0], p[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    if abs(area) < 1e-12:
        return None
    centre = np.array([((x + np.roll(x, -1)) * cross).sum(), ((y + np.roll(y, -1)) * cross).sum()]
                      ) / (6 * area)
    rel = p - centre
    theta = np.arctan2(rel[:, 1], rel[:, 0])
    steps = (np.diff(np.concatenate([theta, theta[:1]])) + math.pi) % (2 * math.pi) - math.pi
    if not (np.all(steps > 0) or np.all(steps < 0)):
        return None  # the angle about the centroid turns back: not star-shaped
    radii = np.empty(_SAMPLES)
    q = np.vstack([rel, rel[:1]])
    for n, ang in enumerate(_angles()):
        d = np.array([math.cos(ang), math.sin(ang)])
        best = None
        for e in range(len(rel)):
            a, b = q[e], q[e + 1]
            # solve s*d = a + u*(b - a), s >= 0, 0 <= u <= 1
            m = np.array([[d[0], a[0] - b[0]], [d[1], a[1] - b[1]]])
            det = np.linalg.det(m)
            if abs(det) < 1e-12:
                continue
            s, u = np.linalg.solve(m, a)
            if s >= 0 and -1e-9 <= u <= 1 + 1e-9:
                best = s if best is None else max(best, s)
        if best is None:
            return None
        radii[n] = best
    return centre, radii
