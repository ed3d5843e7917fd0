"""Measurements on a picture (ruler, RECIST pair, angle, ellipse ROI): the maths, Qt-free.

Every figure is computed in **world space** from the picture's pixel -> world mapping
(:meth:`PlaneSource.to_world`: on a volume slice, :meth:`VolumeGeometry.voxel_to_world` through
the slice's voxel indices, so anisotropic spacing, oblique and even sheared (gantry-tilt)
grids come out right: a 10-pixel line along a 2.5 mm axis is 25 mm). A slice's mapping is
affine, ``W(x, y) = W0 + x*u + y*v`` (u, v: the world vectors of one picture pixel step, mm),
which :class:`PlaneMap` keeps. On a photo or a video frame (no world) the same maths runs in
pixels and the values say so (``length_px`` instead of ``length_mm``).

A measurement is an ordinary annotation (saved, undone, copied and exported like any other) of
an existing shape kind, marked by the attribute ``measure`` (:data:`MEASURE`; an attribute
the class does not declare is kept as it came, see ``core/rules.py``, so no schema or store
change is needed); its values at the time it was drawn ride in further attributes
(``length_mm``...) so that exports carry them. The figures shown and tabled are recomputed
from the shape (:func:`measure`), so they follow a later vertex edit. Shapes:

- ``ruler``: a 2-point :class:`Polyline` (A, B); ``length_mm``.
- ``recist``: a 5-point :class:`Polyline` A, B, X, C, D: long axis A-B, short axis C-D
  through X on A-B (X repeated so that the line draws exactly the two crossing axes);
  ``long_mm``, ``short_mm``. The tool makes C-D perpendicular to A-B in world space.
- ``angle``: a 3-point :class:`Polyline` A, B, C; ``angle_deg`` at B, between BA and BC in
  world space (0..180).
- ``ellipse``: a :class:`Polygon` of :data:`ELLIPSE_SIDES` vertices; ``area_mm2`` the
  polygon's area in world space; ``mean``, ``sd`` (sample, n - 1, as ITK and ``vellum stats``),
  ``min``, ``max`` of the picture's values (HU on CT) over the pixels the polygon covers
  (rasterised as pycocotools does, :func:`app.core.raster.rasterize`, the project's one
  polygon -> pixels rule) and ``pixels`` their count. On an RGB picture the values are the
  mean of the three channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core.shapes import Polygon, Polyline, Shape

MEASURE = "measure"  # the attribute that marks an annotation as a measurement
KINDS: dict[str, str] = {"ruler": "Ruler", "recist": "RECIST", "angle": "Angle",
                         "ellipse": "Ellipse ROI"}
POINTS: dict[str, int] = {"ruler": 2, "recist": 4, "angle": 3, "ellipse": 2}  # clicks needed
ELLIPSE_SIDES = 64


@dataclass(frozen=True)
class PlaneMap:
    """The affine picture -> world map of one picture: ``W(x, y) = origin + x*u + y*v``
    (continuous picture px -> mm, LPS); ``unit`` "mm", or "px" for a picture without world
    (then u, v are the unit px steps)."""

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    unit: str = "mm"

    @classmethod
    def pixels(cls) -> PlaneMap:
        return cls(np.zeros(3), np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), "px")

    @classmethod
    def of(cls, source: Any) -> PlaneMap:
        """The map of a plane source (anything with ``to_world(x, y)``; None or a source
        whose ``to_world`` gives None: pixels)."""
        to_world = getattr(source, "to_world", None)
        w0 = to_world(0.0, 0.0) if to_world is not None else None
        if w0 is None:
            return cls.pixels()
        w0 = np.asarray(w0, float)
        return cls(w0, np.asarray(to_world(1.0, 0.0), float) - w0,
                   np.asarray(to_world(0.0, 1.0), float) - w0, "mm")

    def world(self, points: Any) -> np.ndarray:
        """World positions (n, 3) of picture points (n, 2)."""
        p = np.asarray(points, float).reshape(-1, 2)
        return self.origin + p[:, :1] * self.u + p[:, 1:2] * self.v

    def vector(self, d: Any) -> np.ndarray:
        """World vector of a picture displacement (dx, dy)."""
        return float(d[0]) * self.u + float(d[1]) * self.v

    @property
    def area_per_px(self) -> float:
        """World area (mm², or px²) of one picture pixel: |u x v|."""
        return float(np.linalg.norm(np.cross(self.u, self.v)))

    def perpendicular(self, d: Any) -> np.ndarray:
        """A picture direction (unit length in world) whose world vector is perpendicular to
        that of picture direction ``d``, within the plane."""
        dw = self.vector(d)
        e = np.array([-float(self.v @ dw), float(self.u @ dw)])
        n = np.linalg.norm(self.vector(e))
        return e / n if n > 0 else e


# ------------------------------------------------------------------ the figures
def distance(a: Any, b: Any, plane: PlaneMap) -> float:
    """World distance (mm, or px) between picture points ``a`` and ``b``."""
    w = plane.world([a, b])
    return float(np.linalg.norm(w[1] - w[0]))


def angle_deg(a: Any, b: Any, c: Any, plane: PlaneMap) -> float:
    """Angle ABC at ``b`` in degrees (0..180), between the world vectors BA and BC."""
    wa, wb, wc = plane.world([a, b, c])
    p, q = wa - wb, wc - wb
    n = float(np.linalg.norm(p) * np.linalg.norm(q))
    if n == 0:
        return 0.0
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(p, q))), float(p @ q)))


def polygon_area(points: Any, plane: PlaneMap) -> float:
    """World area (mm², or px²) of a simple polygon given in picture px (shoelace x |u x v|)."""
    p = np.asarray(points, float).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    px2 = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    return px2 * plane.area_per_px


def short_axis(a: Any, b: Any, c: Any, d: Any, plane: PlaneMap
               ) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """RECIST's short axis from a dragged C-D: made perpendicular (in world space) to the long
    axis A-B, crossing it at X, the foot on A-B (clamped to the segment) of C-D's midpoint;
    C and D keep their world distance from the long axis' line. Returns (X, C', D') in px."""
    a, b, c, d = (np.asarray(p, float) for p in (a, b, c, d))
    ab = plane.vector(b - a)
    mid = (c + d) / 2
    t = float(plane.vector(mid - a) @ ab) / max(float(ab @ ab), 1e-12)
    x = a + min(max(t, 0.0), 1.0) * (b - a)
    e = plane.perpendicular(b - a)
    ew = plane.vector(e)  # unit in world
    sc, sd = (float(plane.vector(p - x) @ ew) for p in (c, d))
    cc, dd = x + sc * e, x + sd * e
    return (tuple(x), tuple(cc), tuple(dd))  # type: ignore[return-value]


def recist_points(a: Any, b: Any, c: Any, d: Any, plane: PlaneMap) -> list[tuple[float, float]]:
    """The stored RECIST polyline A, B, X, C', D' (see :func:`short_axis`)."""
    x, cc, dd = short_axis(a, b, c, d, plane)
    return [tuple(map(float, a)), tuple(map(float, b)), x, cc, dd]  # type: ignore[list-item]


def ellipse_points(x0: float, y0: float, x1: float, y1: float, sides: int = ELLIPSE_SIDES
                   ) -> list[tuple[float, float]]:
    """The ellipse inscribed in the picture box with corners (x0, y0), (x1, y1)."""
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2
    return [(cx + rx * math.cos(2 * math.pi * n / sides),
             cy + ry * math.sin(2 * math.pi * n / sides)) for n in range(sides)]


def roi_values(pixels: np.ndarray, polygon: Polygon) -> np.ndarray:
    """The picture values (1D, float64) of the pixels ``polygon`` covers (pycocotools'
    rasterisation); an RGB picture gives the mean of its channels."""
    from app.core.raster import rasterize

    arr = np.asarray(pixels)
    h, w = arr.shape[:2]
    inside = rasterize(polygon, h, w).astype(bool)
    vals = arr[inside].astype(np.float64)
    return vals.mean(axis=1) if vals.ndim == 2 else vals


def roi_stats(values: np.ndarray) -> dict[str, Any]:
    """pixels, mean, sd (sample, n - 1; None under 2 values), min, max of ``values``."""
    n = int(values.size)
    if n == 0:
        return {"pixels": 0, "mean": None, "sd": None, "min": None, "max": None}
    return {"pixels": n, "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if n > 1 else None,
            "min": float(values.min()), "max": float(values.max())}


def measure(kind: str, shape: Shape, plane: PlaneMap, pixels: np.ndarray | None = None
            ) -> dict[str, Any]:
    """The figures of a measurement of ``kind`` drawn as ``shape`` on a picture with ``plane``
    (``pixels``: the picture's values, for the ellipse's statistics; None: no statistics).
    Keys end in the unit (``_mm``, ``_mm2``; ``_px``, ``_px2`` without world). Raises
    ``ValueError`` when the shape is not that measurement's."""
    u = plane.unit
    if kind in ("ruler", "recist", "angle"):
        if not isinstance(shape, Polyline):
            raise ValueError(f"a {kind} measurement is a polyline, not a {shape.kind}")
        p = np.asarray(shape.points, float)
        need = {"ruler": 2, "recist": 5, "angle": 3}[kind]
        if len(p) != need:
            raise ValueError(f"a {kind} measurement has {need} points, not {len(p)}")
        if kind == "ruler":
            return {f"length_{u}": distance(p[0], p[1], plane)}
        if kind == "recist":
            return {f"long_{u}": distance(p[0], p[1], plane),
                    f"short_{u}": distance(p[3], p[4], plane)}
        return {"angle_deg": angle_deg(p[0], p[1], p[2], plane)}
    if kind == "ellipse":
        if not isinstance(shape, Polygon):
            raise ValueError(f"an ellipse measurement is a polygon, not a {shape.kind}")
        out: dict[str, Any] = {f"area_{u}2": polygon_area(shape.exterior, plane)}
        if pixels is not None:
            out.update(roi_stats(roi_values(pixels, shape)))
        return out
    raise ValueError(f"unknown measurement {kind!r} (one of {', '.join(KINDS)})")


def kind_of(annotation: Any) -> str | None:
    """The measurement an annotation is (its ``measure`` attribute), None if none."""
    k = annotation.attributes.get(MEASURE) if isinstance(annotation.attributes, dict) else None
    return k if isinstance(k, str) and k in KINDS else None


def measure_annotation(annotation: Any, source: Any) -> dict[str, Any] | None:
    """The figures of a measurement annotation on the picture ``source`` shows (a plane
    source of its place; None: in pixels, without statistics), None when it is not a
    measurement or its shape no longer is one."""
    kind = kind_of(annotation)
    if kind is None:
        return None
    pixels = source.pixels() if (source is not None and kind == "ellipse") else None
    try:
        return measure(kind, annotation.shape, PlaneMap.of(source), pixels)
    except ValueError:
        return None


def _num(v: Any, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def label_text(kind: str, values: dict[str, Any]) -> str:
    """The figures for the canvas and the status bar: '25.0 mm', '31.2 x 14.0 mm', '87.5°',
    or for an ellipse up to three lines ('412.3 mm²', 'mean 41.2 SD 3.0', 'min 35 max 48')."""
    u = "mm" if any(k.endswith(("_mm", "_mm2")) for k in values) else "px"
    if kind == "ruler":
        return f"{_num(values.get(f'length_{u}'))} {u}"
    if kind == "recist":
        return f"{_num(values.get(f'long_{u}'))} x {_num(values.get(f'short_{u}'))} {u}"
    if kind == "angle":
        return f"{_num(values.get('angle_deg'))}°"
    text = f"{_num(values.get(f'area_{u}2'))} {u}²"
    if values.get("mean") is not None:
        text += (f"\nmean {_num(values['mean'])} SD {_num(values.get('sd'))}"
                 f"\nmin {values['min']:g} max {values['max']:g}")
    return text
