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


# Generic names Qt lists even when fontconfig finds no font file at all: they resolve to no
# font, so a list holding only these (["Monospace", "Sans Serif", "Serif"]) means no text.
ALIAS_FAMILIES = frozenset({"sans serif", "sans-serif", "sans", "serif", "monospace", "mono",
                            "cursive", "fantasy", "system-ui"})


def real_font_families() -> list[str]:
    """Families backed by a font file (Qt's alias families left out)."""
    return [f for f in QFontDatabase.families() if f.casefold() not in ALIAS_FAMILIES]


def ensure_fonts(folder: Path = FONT_DIR) -> list[str]:
    """The font families Qt can use (needs a QGuiApplication); when there are none (only Qt's
    alias families), first registers the fonts under ``folder`` (the bundled DejaVu Sans) and
    makes the first the application font if the default still resolves to nothing; failing
    that, warns once on stderr and returns []."""
    if real_font_families():
        return list(QFontDatabase.families())
    added: list[str] = []
    for path in sorted(folder.glob("*.[ot]tf")) if folder.is_dir() else []:
        font_id = QFontDatabase.addApplicationFont(str(path))
        if font_id >= 0:
            added += QFontDatabase.applicationFontFamilies(font_id)
    if not real_font_families():
        print(MISSING_FONTS, file=sys.stderr)
        return []
    from PySide6.QtGui import QFontInfo, QGuiApplication

    if added and not QFontInfo(QGuiApplication.font()).family():
        QGuiApplication.setFont(QFont(added[0]))
    return list(QFontDatabase.families())


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
