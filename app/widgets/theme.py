"""Dark and light themes: a Fusion palette plus a short style sheet, applied app-wide.

Colours are chosen for contrast (WCAG: text on background above 7:1, selected text above
4.5:1); the canvas keeps its own neutral background so image colours are judged against grey.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption, QWidget

THEMES = ("dark", "light")

_COLORS = {
    "dark": {"window": "#26282b", "base": "#1d1f21", "alt": "#2c2f33", "text": "#e6e6e6",
             "dim": "#9aa0a6", "button": "#33363b", "highlight": "#2f6bd0", "hl_text": "#ffffff",
             "border": "#3f4348", "tooltip": "#33363b", "link": "#7fb2ff"},
    "light": {"window": "#f1f2f4", "base": "#ffffff", "alt": "#f6f7f9", "text": "#1d1f21",
              "dim": "#5f6368", "button": "#e6e8eb", "highlight": "#2b6cd4", "hl_text": "#ffffff",
              "border": "#c8ccd1", "tooltip": "#ffffdc", "link": "#1a56b8"},
}

_QSS = """
QMainWindow::separator {{ background: {border}; width: 1px; height: 1px; }}
QDockWidget {{ titlebar-close-icon: none; }}
QDockWidget::title {{ background: {alt}; padding: 4px 6px; border-bottom: 1px solid {border}; }}
QStatusBar {{ border-top: 1px solid {border}; }}
QStatusBar QLabel {{ padding: 0 6px; }}
QStatusBar::item {{ border: none; }}
QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox {{ padding: 2px 4px; }}
QListView, QTreeView, QTableView {{ border: 1px solid {border}; }}
QToolBar {{ border: none; spacing: 2px; padding: 2px; }}
QToolButton:checked {{ background: {highlight}; color: {hl_text}; border-radius: 3px; }}
QToolBar#tools_toolbar {{ background: {window}; border-right: 1px solid {border}; padding: 4px 3px; }}
QToolBar#tools_toolbar QToolButton {{ padding: 5px; margin: 1px 0; border: 1px solid transparent;
                                     border-radius: 5px; }}
QToolBar#tools_toolbar QToolButton:hover:!checked {{ background: {button}; border-color: {border}; }}
QToolBar#tools_toolbar QToolButton:checked {{ background: {highlight}; border-color: {highlight}; }}
QLabel#muted {{ color: {dim}; }}
QLabel#errorBanner {{ color: #ffffff; background: #b3261e; padding: 6px; border-radius: 3px; }}
"""


def colors(name: str) -> dict[str, str]:
    """The named colours of theme ``name`` ('dark' or 'light')."""
    return _COLORS[name if name in _COLORS else "dark"]


def palette(name: str) -> QPalette:
    """A complete QPalette for the theme (active, inactive and disabled groups)."""
    c = colors(name)
    p = QPalette()
    roles = {QPalette.Window: c["window"], QPalette.WindowText: c["text"],
             QPalette.Base: c["base"], QPalette.AlternateBase: c["alt"],
             QPalette.Text: c["text"], QPalette.Button: c["button"],
             QPalette.ButtonText: c["text"], QPalette.Highlight: c["highlight"],
             QPalette.HighlightedText: c["hl_text"], QPalette.ToolTipBase: c["tooltip"],
             QPalette.ToolTipText: c["text"], QPalette.PlaceholderText: c["dim"],
             QPalette.Link: c["link"], QPalette.BrightText: "#ff5555",
             QPalette.Mid: c["border"], QPalette.Dark: c["border"], QPalette.Light: c["alt"]}
    for role, value in roles.items():
        p.setColor(role, QColor(value))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, QColor(c["dim"]))
    return p


class VellumStyle(QProxyStyle):
    """Fusion, with check boxes that stay clearly visible on dark backgrounds."""

    _CHECKS = (QStyle.PE_IndicatorCheckBox, QStyle.PE_IndicatorItemViewItemCheck)

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption,  # noqa: N802
                      painter: QPainter, widget: QWidget | None = None) -> None:
        if element not in self._CHECKS:
            super().drawPrimitive(element, option, painter, widget)
            return
        pal = option.palette
        r = QRectF(option.rect).adjusted(1.5, 1.5, -1.5, -1.5)
        side = min(r.width(), r.height())
        r = QRectF(r.center().x() - side / 2, r.center().y() - side / 2, side, side)
        on = bool(option.state & QStyle.State_On)
        enabled = bool(option.state & QStyle.State_Enabled)
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing)
        edge = QColor(pal.highlight().color() if on else pal.text().color())
        edge.setAlphaF(1.0 if on else (0.65 if enabled else 0.3))
        painter.setPen(QPen(edge, 1.2))
        painter.setBrush(pal.highlight() if on else pal.base())
        painter.drawRoundedRect(r, 2.5, 2.5)
        if on:
            painter.setPen(QPen(pal.highlightedText().color(), max(1.6, side / 7), Qt.SolidLine,
                                Qt.RoundCap, Qt.RoundJoin))
            painter.setBrush(Qt.NoBrush)
            painter.drawPolyline(QPolygonF([
                QPointF(r.left() + side * 0.22, r.top() + side * 0.52),
                QPointF(r.left() + side * 0.42, r.top() + side * 0.72),
                QPointF(r.left() + side * 0.78, r.top() + side * 0.3)]))
        painter.restore()


def apply_theme(app: QApplication, name: str) -> None:
    """Switch the whole application to theme ``name``."""
    if not isinstance(app.style(), VellumStyle):
        app.setStyle(VellumStyle("Fusion"))
    app.setPalette(palette(name))
    app.setStyleSheet(_QSS.format(**colors(name)))
    app.setProperty("vellum_theme", name)


def current_theme(app: QApplication) -> str:
    return app.property("vellum_theme") or "dark"
