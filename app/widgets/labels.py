"""Text on the canvas (keypoint names near the cursor, hints) and the fonts it needs.

Labels are drawn at a fixed pixel size (independent of the screen's DPI, which the offscreen
and Xvfb platforms report oddly) on a dark translucent plate, so they read on any image.
Without any font on the machine Qt draws no glyphs at all: :func:`ensure_fonts` then loads
fonts shipped under ``resources/fonts/`` if there are any, and says which package to install.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetricsF, QPainter

LABEL_PX = 13  # label text height in screen pixels
FONT_DIR = Path(__file__).resolve().parents[2] / "resources" / "fonts"
MISSING_FONTS = ("Vellum: Qt finds no fonts, so text will not be drawn. Install a font package "
                 "(Debian/Ubuntu: fonts-dejavu-core; Fedora: dejavu-sans-fonts).")


def ensure_fonts(folder: Path = FONT_DIR) -> list[str]:
    """The font families Qt can use (needs a QGuiApplication); when there are none, first
    registers the fonts under ``folder`` and, failing that, warns once on stderr."""
    families = list(QFontDatabase.families())
    if families:
        return families
    for path in sorted(folder.glob("*.[ot]tf")) if folder.is_dir() else []:
        QFontDatabase.addApplicationFont(str(path))
    families = list(QFontDatabase.families())
    if not families:
        print(MISSING_FONTS, file=sys.stderr)
    return families


@lru_cache(maxsize=8)
def label_font(base_family: str, pixel_size: int = LABEL_PX) -> QFont:
    """A medium-weight sans font of ``pixel_size`` pixels (the application's family)."""
    font = QFont(base_family)
    font.setStyleHint(QFont.StyleHint.SansSerif)
    font.setPixelSize(pixel_size)
    font.setWeight(QFont.Weight.DemiBold)
    font.setHintingPreference(QFont.HintingPreference.PreferFullHinting)
    return font


def draw_label(painter: QPainter, at: QPointF, text: str, color: QColor,
               pixel_size: int = LABEL_PX) -> QRectF:
    """Draw ``text`` with its baseline starting at ``at`` (painter units = screen pixels) on a
    dark plate with a strip of ``color`` at its left; returns the plate's rectangle."""
    if not text:
        return QRectF()
    font = label_font(painter.font().family(), pixel_size)
    metrics = QFontMetricsF(font)
    pad = 3.0
    width = metrics.horizontalAdvance(text)
    plate = QRectF(at.x() - pad - 3, at.y() - metrics.ascent() - pad,
                   width + 2 * pad + 3, metrics.ascent() + metrics.descent() + 2 * pad)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(20, 20, 20, 220))
    painter.drawRoundedRect(plate, 3, 3)
    painter.setBrush(color)
    painter.drawRect(QRectF(plate.left(), plate.top() + 2, 3, plate.height() - 4))
    painter.setFont(font)
    painter.setPen(QColor(245, 245, 245))
    painter.drawText(at, text)
    painter.restore()
    return plate
