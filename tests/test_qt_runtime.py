"""The Qt binding itself must be sound: PySide6 6.12.0 dropped a reference to None on every
void method call, which crashes Python 3.11 ('none_dealloc') after a few thousand calls."""

from __future__ import annotations

import sys


def test_void_qt_calls_do_not_leak_references_to_none(qapp):
    from PySide6.QtGui import QColor, QImage, QPainter, QPen

    img = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(img)
    before = sys.getrefcount(None)
    for _ in range(2000):
        painter.setPen(QPen(QColor(1, 2, 3)))
    after = sys.getrefcount(None)
    painter.end()
    assert after >= before - 50, f"None lost {before - after} references in 2000 Qt calls"
