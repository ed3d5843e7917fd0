"""Tool icons, drawn with QPainter at whatever size and pixel ratio they are shown (crisp at
2x), in the current theme's colours: text colour for strokes, the accent for handles, and
white on the accent when the tool is active. No image files, nothing to download.

Each icon is one small function drawing on a 24 x 24 grid; :func:`tool_icon` wraps it in a
QIcon. A tool without a drawing gets its initial letter.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
)

GRID = 24.0
Draw = Callable[[QPainter, QColor, QColor], None]


def _pen(p: QPainter, color: QColor, width: float = 1.6) -> None:
    p.setPen(QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                  Qt.PenJoinStyle.RoundJoin))
    p.setBrush(Qt.BrushStyle.NoBrush)


def _handles(p: QPainter, pts: list[tuple[float, float]], accent: QColor, r: float = 1.9,
             square: bool = False) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(accent)
    for x, y in pts:
        if square:
            p.drawRect(QRectF(x - r, y - r, 2 * r, 2 * r))
        else:
            p.drawEllipse(QPointF(x, y), r, r)


def _tint(c: QColor, alpha: float) -> QColor:
    out = QColor(c)
    out.setAlphaF(alpha)
    return out


def _poly(pts: list[tuple[float, float]]) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in pts])


def draw_select(p: QPainter, fg: QColor, accent: QColor) -> None:
    arrow = _poly([(6, 3.5), (6, 19), (10, 15.2), (12.8, 21), (15.4, 19.8), (12.7, 14.2),
                   (18, 14)])
    p.setPen(QPen(fg, 1.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                  Qt.PenJoinStyle.RoundJoin))
    p.setBrush(_tint(fg, 0.25))
    p.drawPolygon(arrow)


def draw_vertex(p: QPainter, fg: QColor, accent: QColor) -> None:
    pts = [(4, 17), (9, 4.5), (20, 8), (17, 20)]
    _pen(p, fg)
    p.drawPolygon(_poly(pts))
    _handles(p, pts, accent, 2.3, square=True)


def draw_box(p: QPainter, fg: QColor, accent: QColor) -> None:
    _pen(p, fg)
    p.setBrush(_tint(accent, 0.18))
    p.drawRect(QRectF(4.5, 6.5, 15, 11))
    _handles(p, [(4.5, 6.5), (19.5, 6.5), (4.5, 17.5), (19.5, 17.5)], accent, 2.0, True)


def draw_rotated_box(p: QPainter, fg: QColor, accent: QColor) -> None:
    p.save()
    p.translate(12, 12)
    p.rotate(-30)
    _pen(p, fg)
    p.setBrush(_tint(accent, 0.18))
    p.drawRect(QRectF(-7.5, -5, 15, 10))
    _handles(p, [(0, -5)], accent, 1.8)
    _pen(p, accent, 1.3)
    p.drawLine(QPointF(0, -5), QPointF(0, -9))
    _handles(p, [(0, -9.5)], accent, 1.8)
    p.restore()


def draw_polygon(p: QPainter, fg: QColor, accent: QColor) -> None:
    pts = [(4, 10), (11, 4), (20, 8), (18, 19), (8, 20)]
    _pen(p, fg)
    p.setBrush(_tint(accent, 0.18))
    p.drawPolygon(_poly(pts))
    _handles(p, pts, accent)


def draw_polyline(p: QPainter, fg: QColor, accent: QColor) -> None:
    pts = [(3.5, 18), (9, 8), (15, 16), (20.5, 5)]
    _pen(p, fg)
    p.drawPolyline(_poly(pts))
    _handles(p, pts, accent)


def draw_keypoints(p: QPainter, fg: QColor, accent: QColor) -> None:
    head, neck, pelvis = (12, 4.5), (12, 9), (12, 15)
    pts = [head, neck, (6.5, 12.5), (17.5, 12.5), pelvis, (8, 21), (16, 21)]
    _pen(p, fg, 1.4)
    for a, b in ((0, 1), (1, 2), (1, 3), (1, 4), (4, 5), (4, 6)):
        p.drawLine(QPointF(*pts[a]), QPointF(*pts[b]))
    _handles(p, pts, accent, 1.8)


def draw_brush(p: QPainter, fg: QColor, accent: QColor) -> None:
    stroke = QPainterPath(QPointF(3.5, 20.5))
    stroke.cubicTo(QPointF(6, 15.5), QPointF(9, 21), QPointF(11.5, 16.5))
    p.setPen(QPen(accent, 3.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(stroke)
    p.save()
    p.translate(16.8, 9.2)
    p.rotate(40)
    _pen(p, fg, 1.4)
    p.setBrush(_tint(fg, 0.2))
    p.drawRoundedRect(QRectF(-1.7, -8.5, 3.4, 9.5), 1.6, 1.6)  # handle
    p.setBrush(fg)
    p.drawRect(QRectF(-2.3, 1.0, 4.6, 2.2))  # ferrule
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(accent)
    p.drawPolygon(_poly([(-2.3, 3.6), (2.3, 3.6), (0.9, 7.6), (-0.9, 7.6)]))  # bristles
    p.restore()


def draw_eraser(p: QPainter, fg: QColor, accent: QColor) -> None:
    p.save()
    p.translate(12.5, 11)
    p.rotate(-40)
    _pen(p, fg, 1.5)
    p.setBrush(_tint(fg, 0.15))
    p.drawRoundedRect(QRectF(-8, -4.5, 16, 9), 1.5, 1.5)
    p.setBrush(_tint(accent, 0.85))
    p.drawRoundedRect(QRectF(-8, -4.5, 6, 9), 1.5, 1.5)
    p.restore()
    _pen(p, fg, 1.4)
    p.drawLine(QPointF(9, 20.5), QPointF(21, 20.5))


def draw_tag(p: QPainter, fg: QColor, accent: QColor) -> None:
    label = _poly([(3.5, 12), (10, 5), (20, 5), (20, 19), (10, 19)])
    _pen(p, fg)
    p.setBrush(_tint(accent, 0.18))
    p.drawPolygon(label)
    _handles(p, [(9.5, 12)], accent, 2.0)
    _pen(p, fg, 1.3)
    p.drawLine(QPointF(13, 10), QPointF(17.5, 10))
    p.drawLine(QPointF(13, 14), QPointF(17.5, 14))


DRAWINGS: dict[str, Draw] = {
    "select": draw_select, "vertex": draw_vertex, "box": draw_box,
    "rotated_box": draw_rotated_box, "polygon": draw_polygon, "polyline": draw_polyline,
    "keypoints": draw_keypoints, "brush": draw_brush, "eraser": draw_eraser, "tag": draw_tag,
}


def _letter(text: str) -> Draw:
    def draw(p: QPainter, fg: QColor, accent: QColor) -> None:
        font = QFont(p.font())
        font.setPixelSize(14)
        font.setBold(True)
        p.setFont(font)
        p.setPen(fg)
        p.drawText(QRectF(0, 0, GRID, GRID), int(Qt.AlignmentFlag.AlignCenter), text[:1].upper())
    return draw


class ToolIconEngine(QIconEngine):
    """Paints one drawing at any size, in the palette's colours at paint time (so a theme
    switch re-colours it)."""

    def __init__(self, draw: Draw) -> None:
        super().__init__()
        self._draw = draw

    def colors(self, mode: QIcon.Mode, state: QIcon.State) -> tuple[QColor, QColor]:
        pal = QGuiApplication.palette()
        if mode == QIcon.Mode.Disabled:
            c = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
            return c, c
        if state == QIcon.State.On or mode == QIcon.Mode.Selected:
            c = pal.color(QPalette.ColorRole.HighlightedText)
            return c, c
        accent = QColor(pal.color(QPalette.ColorRole.Highlight))
        if pal.color(QPalette.ColorRole.Window).lightness() < 128:
            accent = accent.lighter(150)  # the accent on a dark bar needs more light
        return pal.color(QPalette.ColorRole.WindowText), accent

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode,
              state: QIcon.State) -> None:
        fg, accent = self.colors(mode, state)
        side = min(rect.width(), rect.height())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.translate(rect.x() + (rect.width() - side) / 2,
                          rect.y() + (rect.height() - side) / 2)
        painter.scale(side / GRID, side / GRID)
        self._draw(painter, fg, accent)
        painter.restore()

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State,
                     scale: float) -> QPixmap:
        pm = QPixmap(QSize(max(1, round(size.width() * scale)),
                           max(1, round(size.height() * scale))))
        pm.fill(Qt.GlobalColor.transparent)
        pm.setDevicePixelRatio(scale)
        p = QPainter(pm)
        self.paint(p, QRect(0, 0, size.width(), size.height()), mode, state)
        p.end()
        return pm

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def clone(self) -> QIconEngine:
        return ToolIconEngine(self._draw)


def tool_icon(name: str, label: str = "") -> QIcon:
    """The icon of tool ``name`` (its label's initial when it has no drawing)."""
    return QIcon(ToolIconEngine(DRAWINGS.get(name) or _letter(label or name)))


def _draw_eye(p: QPainter, c: QColor, on: bool) -> None:
    path = QPainterPath(QPointF(1.5, 8))
    path.quadTo(8, 1, 14.5, 8)
    path.quadTo(8, 15, 1.5, 8)
    p.drawPath(path)
    p.setBrush(c)
    p.drawEllipse(QPointF(8, 8), 2.2, 2.2)
    if not on:
        p.drawLine(QPointF(2.5, 13.5), QPointF(13.5, 2.5))


def _draw_lock(p: QPainter, c: QColor, on: bool) -> None:
    p.setBrush(c if on else Qt.BrushStyle.NoBrush)
    p.drawRoundedRect(QRectF(3, 7.5, 10, 7), 1.5, 1.5)
    p.setBrush(Qt.BrushStyle.NoBrush)
    shackle = QPainterPath(QPointF(5, 7.5))
    shackle.lineTo(5, 5)
    shackle.arcTo(QRectF(5, 1.5, 6, 7), 180, -180)
    if on:
        shackle.lineTo(11, 7.5)
    p.drawPath(shackle)


class ToggleIconEngine(ToolIconEngine):
    """An eye (visible / hidden, struck through) or a padlock (locked / open) on a 16 px grid,
    in the palette's text colour at paint time: it reads in both themes and follows a theme
    switch without the panel redrawing it (the 'off' state is faint)."""

    def __init__(self, kind: str, on: bool) -> None:
        self.kind, self.on = kind, on
        draw = _draw_eye if kind == "eye" else _draw_lock

        def paint16(p: QPainter, fg: QColor, _accent: QColor) -> None:
            c = QColor(fg)
            if not on:
                c.setAlphaF(0.4)
            p.scale(GRID / 16, GRID / 16)
            p.setPen(QPen(c, 1.4))
            draw(p, c, on)
        super().__init__(paint16)

    def colors(self, mode: QIcon.Mode, state: QIcon.State) -> tuple[QColor, QColor]:
        pal = QGuiApplication.palette()
        role = QPalette.ColorRole.HighlightedText if mode == QIcon.Mode.Selected else (
            QPalette.ColorRole.Text)
        c = pal.color(role)
        return c, c

    def clone(self) -> QIconEngine:
        return ToggleIconEngine(self.kind, self.on)


def toggle_icon(kind: str, on: bool) -> QIcon:
    """Eye (``kind`` 'eye') or padlock ('lock') icon, ``on`` = visible / locked."""
    return QIcon(ToggleIconEngine(kind, on))


def swatch(color: str, size: int = 14, dpr: float = 1.0) -> QIcon:
    """A small rounded colour square."""
    pm = QPixmap(round(size * dpr), round(size * dpr))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QColor(0, 0, 0, 120))
    p.setBrush(QColor(color))
    p.drawRoundedRect(QRectF(0.5, 0.5, size - 1, size - 1), 3, 3)
    p.end()
    icon = QIcon(pm)
    icon.addPixmap(pm, QIcon.Mode.Selected)  # no tinting on selected rows: the colour is the point
    return icon
