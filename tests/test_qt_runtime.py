"""The Qt binding itself must be sound: PySide6 6.12.0 dropped a reference to None on every
void method call, which crashes Python 3.11 ('none_dealloc') after a few thousand calls."""

from __future__ import annotations

import os
import subprocess
import sys

# Measured in a fresh interpreter: in the test process, background jobs of earlier GUI tests
# (thumbnails, importing onnxruntime) would move None's reference count on their own.
PROBE = """
import sys
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen
app = QGuiApplication([])
img = QImage(8, 8, QImage.Format.Format_ARGB32)
painter = QPainter(img)
before = sys.getrefcount(None)
for _ in range(2000):
    painter.setPen(QPen(QColor(1, 2, 3)))
after = sys.getrefcount(None)
painter.end()
print(before - after)
"""


def test_void_qt_calls_do_not_leak_references_to_none():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lost = int(result.stdout.strip().splitlines()[-1])
    assert lost < 50, f"None lost {lost} references in 2000 Qt calls"
