"""Drawing for the canvas: the annotation layer and tool overlays (the view mapping is
:class:`app.widgets.view.View`: picture px -> widget px, with per-axis scale and flips)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPolygonF

from app.core.annotations import Annotation
from app.core.schema import LabelSchema
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox
from app.tools.base import OverlayItem, OverlayKind
from app.tools.geometry import MASKS, cached_bbox
from app.widgets.labels import draw_label
from app.widgets.mask_render import draw_mask
from app.widgets.view import LayerStyle, View

__all__ = ["AnnotationLayer", "LayerStyle", "View", "cosmetic_pen", "draw_overlay", "qcolor"]

UNCLASSIFIED = "#c8c8c8"
DEFAULT_STYLE = LayerStyle()


def qcolor(hex_color: str, alpha: float = 1.0) -> QColor:
    c = QColor(hex_color)
    c.setAlphaF(max(0.0, min(1.0, alpha)))
    return c


def cosmetic_pen(color: QColor, width: float, dashed: bool = False) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)  # width in screen pixels whatever the transform
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


SUBPIXEL_BITS = 4  # cv2 drawing precision: 1/16 widget pixel
DASH, GAP = 8.0, 6.0  # screen px of the dashed outline of a track's non-key shape
FINE_OUTLINE_LIMIT = 1500  # more shapes on screen than this: 1-px aliased outlines (speed)


def _hex_bgra(hex_color: str, alpha: float) -> tuple[int, int, int, int]:
    """Premultiplied (b, g, r, a) bytes of a colour, as Qt's ARGB32_Premultiplied stores them."""
    c = QColor(hex_color)
    a = max(0.0, min(1.0, alpha))
    return (round(c.blue() * a), round(c.green() * a), round(c.red() * a), round(255 * a))


def _rings(shape) -> tuple[list[np.ndarray], bool]:
    """Vertex rings (float64 N x 2 arrays, image px) of a vector shape, and whether closed."""
    if isinstance(shape, (Box, RotatedBox)):
        return [np.asarray(shape.corners(), np.float64)], True
    if isinstance(shape, Polygon):
        return [np.asarray(shape.exterior, np.float64)] + [
            np.asarray(h, np.float64) for h in shape.holes], True
    if isinstance(shape, Polyline):
        return [np.asarray(shape.points, np.float64)], False
    return [], False


def is_dashed(a: Annotation) -> bool:
    """A track's shape that no person set on this frame (interpolated, or a tracker's): drawn
    with a dashed outline, so keyframes stand out. Shapes off tracks are never dashed."""
    return a.track_id is not None and not a.keyframe


def dashes(ring: np.ndarray, closed: bool, on: float, off: float) -> list[np.ndarray]:
    """The dash pieces (each an N x 2 path, same units as ``ring``) of a ring or path: ``on``
    long, ``off`` apart, following its corners."""
    pts = np.vstack([ring, ring[:1]]) if closed else ring
    if len(pts) < 2:
        return []
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(cum[-1])
    if total <= 0:
        return []
    out = []
    for start in np.arange(0.0, total, on + off):
        end = min(start + on, total)
        inner = pts[1:-1][(cum[1:-1] > start) & (cum[1:-1] < end)]
        a = [np.interp(start, cum, pts[:, 0]), np.interp(start, cum, pts[:, 1])]
        b = [np.interp(end, cum, pts[:, 0]), np.interp(end, cum, pts[:, 1])]
        out.append(np.vstack([a, inner, b]))
    return out


class AnnotationLayer:
    """Renders annotations through a view into a premultiplied BGRA buffer.

    Boxes, rotated boxes, polygons and polylines are drawn with OpenCV in one vectorised pass
    (fills first, then anti-aliased outlines; about 6x faster than one QPainter path per shape
    for thousands of shapes); masks and keypoints follow with QPainter, on top.
    """

    def __init__(self) -> None:
        self._rings: dict[str, tuple[object, list[np.ndarray], bool, tuple[float, ...]]] = {}

    def _cached(self, a: Annotation) -> tuple[list[np.ndarray], bool, tuple[float, ...]]:
        hit = self._rings.get(a.id)
        if hit is not None and hit[0] is a.shape:
            return hit[1], hit[2], hit[3]
        rings, closed = _rings(a.shape)
        pts = rings[0] if rings else np.zeros((0, 2))
        bbox = (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()),
                float(pts[:, 1].max())) if len(pts) else (0.0, 0.0, 0.0, 0.0)
        self._rings[a.id] = (a.shape, rings, closed, bbox)
        return rings, closed, bbox

    def prune(self, keep: Iterable[str]) -> None:
        keep = set(keep)
        for k in [k for k in self._rings if k not in keep]:
            del self._rings[k]

    def render(self, anns: Sequence[Annotation], schema: LabelSchema | None,
               selection: frozenset[str], view: View, image_size: tuple[int, int],
               dpr: float = 1.0, style: LayerStyle = DEFAULT_STYLE) -> tuple[QImage, np.ndarray]:
        """The layer as a transparent image of the view's size (times ``dpr``) and the buffer
        it wraps (keep both alive together)."""
        dev = view.scaled(dpr)
        buf = np.zeros((dev.height, dev.width, 4), np.uint8)
        colors: dict[str | None, str] = {c.id: c.color for c in schema.classes} if schema else {}
        img = QImage(buf.data, dev.width, dev.height, buf.strides[0],
                     QImage.Format.Format_ARGB32_Premultiplied)
        img.setDevicePixelRatio(dpr)
        self._draw_vectors(buf, anns, colors, selection, dev, style, dpr)
        p = QPainter(img)  # masks blend over the vector shapes; keypoints go on top
        try:
            p.scale(1 / dpr, 1 / dpr)  # painter units = device pixels
            for a in anns:
                if isinstance(a.shape, Mask):
                    sel = a.id in selection
                    draw_mask(p, MASKS.get(a.shape.rle), colors.get(a.class_id, UNCLASSIFIED),
                              style.fill(sel), dev, sel, cached_bbox(a.shape), dpr)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            for a in anns:
                if isinstance(a.shape, Keypoints):
                    self._draw_keypoints(p, a.shape, colors.get(a.class_id, UNCLASSIFIED),
                                         a.id in selection, schema, a.class_id, dev, dpr,
                                         is_dashed(a))
                elif isinstance(a.shape, Polyline) and a.id in selection:
                    _draw_vertices(p, [dev.to_widget(x, y) for x, y in a.shape.points], dpr)
        finally:
            p.end()
        return img, buf

    def _draw_vectors(self, buf: np.ndarray, anns: Sequence[Annotation],
                      colors: dict[str | None, str], selection: frozenset[str],
                      view: View, style: LayerStyle, dpr: float = 1.0) -> None:
        (ax, ay), (bx, by) = view.to_image(0, 0), view.to_image(view.width, view.height)
        vis = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
        # (ring count, closed, colour, selected, dashed)
        shapes: list[tuple[int, bool, str, bool, bool]] = []
        rings_all: list[np.ndarray] = []
        for a in anns:
            rings, closed, (x0, y0, x1, y1) = self._cached(a)
            if not rings or x1 < vis[0] or y1 < vis[1] or x0 > vis[2] or y0 > vis[3]:
                continue
            shapes.append((len(rings), closed, colors.get(a.class_id, UNCLASSIFIED),
                           a.id in selection, is_dashed(a)))
            rings_all.extend(rings)
        if not rings_all:
            return
        # one vectorised image -> device transform for every vertex on screen
        lens = np.fromiter((len(r) for r in rings_all), np.int64, len(rings_all))
        flat = np.concatenate(rings_all)
        scale = float(1 << SUBPIXEL_BITS)
        dev = np.rint(view.apply(flat) * scale).astype(np.int32)
        parts = np.split(dev, np.cumsum(lens)[:-1])
        # level of detail: thin aliased outlines when thousands of shapes are on screen
        fine = len(shapes) <= FINE_OUTLINE_LIMIT
        line_type, width = (cv2.LINE_AA, 2) if fine else (cv2.LINE_8, 1)
        width, extra = max(1, round(width * dpr)), max(1, round(dpr))  # + extra when selected
        outlines: dict[tuple[str, bool, bool], list[np.ndarray]] = {}
        fills: dict[tuple[str, bool], tuple[int, ...]] = {}
        i = 0
        for n, closed, color, sel, dashed in shapes:
            pts = parts[i:i + n]
            i += n
            if closed and style.fill(sel) > 0:  # one call per shape: its holes stay open,
                bgra = fills.get((color, sel))  # overlaps with other shapes do not
                if bgra is None:
                    bgra = fills[(color, sel)] = _hex_bgra(color, style.fill(sel))
                cv2.fillPoly(buf, pts, bgra, cv2.LINE_8, SUBPIXEL_BITS)
            if dashed:
                on, off = DASH * dpr * scale, GAP * dpr * scale
                pieces = [np.rint(d).astype(np.int32) for r in pts
                          for d in dashes(r.astype(np.float64), closed, on, off)]
                outlines.setdefault((color, sel, False), []).extend(pieces)
            else:
                outlines.setdefault((color, sel, closed), []).extend(pts)
        for (color, sel, closed), pts in outlines.items():
            cv2.polylines(buf, pts, closed, _hex_bgra(color, 1.0), width + extra * sel,
                          line_type, SUBPIXEL_BITS)

    def _draw_keypoints(self, painter: QPainter, kp: Keypoints, color: str, selected: bool,
                        schema: LabelSchema | None, class_id: str | None, view: View,
                        dpr: float = 1.0, dashed: bool = False) -> None:
        """Skeleton edges and points; ``view`` and the painter work in device pixels, so
        widths and radii (screen pixels) are multiplied by ``dpr``. ``dashed``: a track's
        non-key shape (dashed edges, hollow points)."""
        cls = schema.class_by_id(class_id) if schema is not None else None
        pts = [(view.to_widget(x, y), v) for x, y, v in kp.points]
        c = QColor(color)
        if cls is not None and cls.skeleton is not None:
            pen = QPen(c, (2.0 if selected else 1.5) * dpr)
            if dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            for i, j in cls.skeleton.edges:
                if i < len(pts) and j < len(pts) and pts[i][1] and pts[j][1]:
                    painter.drawLine(QPointF(*pts[i][0]), QPointF(*pts[j][0]))
        r = (5.0 if selected else 4.0) * dpr
        shown = [(QPointF(wx, wy), v) for (wx, wy), v in pts if v]
        if selected and shown:  # a white ring round every point and a dashed frame round all
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor("#ffffff"), 2.0 * dpr))
            for p, _v in shown:
                painter.drawEllipse(p, r + 3.0 * dpr, r + 3.0 * dpr)
            xs, ys = [p.x() for p, _ in shown], [p.y() for p, _ in shown]
            pad = r + 7.0 * dpr
            frame = QPen(QColor("#ffffff"), 1.0 * dpr, Qt.PenStyle.DashLine)
            painter.setPen(frame)
            painter.drawRect(QRectF(min(xs) - pad, min(ys) - pad, max(xs) - min(xs) + 2 * pad,
                                    max(ys) - min(ys) + 2 * pad))
        for p, v in shown:
            painter.setPen(QPen(QColor("#000000") if v == 2 and not dashed else c, 1.5 * dpr))
            painter.setBrush(QBrush(c) if v == 2 and not dashed else Qt.BrushStyle.NoBrush)
            painter.drawEllipse(p, r, r)


def _draw_vertices(painter: QPainter, pts: Sequence[tuple[float, float]], dpr: float) -> None:
    """White vertex squares with a dark rim: how a selected polyline shows it is selected
    (its line alone looks like any other)."""
    half = 3.5 * dpr
    painter.setPen(QPen(QColor("#000000"), 1.0 * dpr))
    painter.setBrush(QBrush(QColor("#ffffff")))
    for x, y in pts:
        painter.drawRect(QRectF(x - half, y - half, 2 * half, 2 * half))


def draw_overlay(painter: QPainter, items: Iterable[OverlayItem], view: View,
                 style: LayerStyle = DEFAULT_STYLE) -> None:
    """Draw tool overlay items (image coordinates) over everything else. A mask being painted
    looks like a selected mask in ``style``."""
    painter.resetTransform()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    dpr = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
    for it in items:
        if it.kind == OverlayKind.MASK:
            if it.mask is not None:
                painter.save()
                painter.scale(1 / dpr, 1 / dpr)
                draw_mask(painter, it.mask, it.color, style.fill(True), view.scaled(dpr), True,
                          dpr=dpr)
                painter.restore()
            continue
        color = QColor(it.color)
        pts = [QPointF(*view.to_widget(x, y)) for x, y in it.points]
        if it.kind == OverlayKind.CROSSHAIR:
            if pts:
                _draw_crosshair(painter, pts[0], view, it.width)
            continue
        if it.kind == OverlayKind.TEXT:
            if pts:
                draw_label(painter, pts[0] + QPointF(12, -12), it.text, color)
            continue
        pen = cosmetic_pen(color, it.width, it.dashed)
        brush = QBrush(qcolor(it.color, it.fill_alpha)) if it.fill_alpha > 0 else QBrush()
        if it.kind == OverlayKind.POINTS:
            r = it.point_size / 2
            painter.setPen(QPen(QColor("#000000") if not it.hollow else color, it.width))
            painter.setBrush(Qt.BrushStyle.NoBrush if it.hollow else QBrush(color))
            for p in pts:
                painter.drawEllipse(p, r, r)
            continue
        if it.kind == OverlayKind.CIRCLE:
            if pts:
                r = it.radius * view.scale
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(cosmetic_pen(QColor(0, 0, 0, 160), it.width + 2))
                painter.drawEllipse(pts[0], r, r)
                painter.setPen(pen)
                painter.drawEllipse(pts[0], r, r)
            continue
        # dark halo under thin lines keeps them readable on any image
        halo = cosmetic_pen(QColor(0, 0, 0, 110), it.width + 2)
        for p_ in (halo, pen):
            painter.setPen(p_)
            painter.setBrush(brush if p_ is pen else Qt.BrushStyle.NoBrush)
            if it.kind == OverlayKind.RECT and len(pts) == 2:
                painter.drawRect(QRectF(pts[0], pts[1]).normalized())
            elif it.kind == OverlayKind.POLYGON and pts:
                painter.drawPolygon(QPolygonF(pts))
            elif it.kind == OverlayKind.POLYLINE and pts:
                painter.drawPolyline(QPolygonF(pts))


def _draw_crosshair(painter: QPainter, at: QPointF, view: View, width: float) -> None:
    """A full-width and a full-height line through ``at`` (widget px): white on a dark halo,
    so the edge the next corner will snap to can be judged on any image."""
    w, h = float(view.width), float(view.height)
    for pen in (cosmetic_pen(QColor(0, 0, 0, 140), width + 2), cosmetic_pen(
            QColor(255, 255, 255, 200), width)):
        painter.setPen(pen)
        painter.drawLine(QPointF(0, at.y()), QPointF(w, at.y()))
        painter.drawLine(QPointF(at.x(), 0), QPointF(at.x(), h))
