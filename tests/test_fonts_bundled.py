"""A machine without any font package: Qt then lists only its alias families ("Monospace",
"Sans Serif", "Serif"), which resolve to no font, and every label is an empty box. The app must
see through the aliases and register the DejaVu Sans shipped in ``resources/fonts``.

Qt reads fonts once, when the application starts, so each case runs in a fresh process whose
fontconfig configuration lists one empty font folder (``FONTCONFIG_FILE``): Qt sees no system
font at all, as on a bare server or a minimal container."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, sys
from pathlib import Path
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
from app.widgets import labels
before = list(QFontDatabase.families())
real_before = labels.real_font_families()
folder = Path(sys.argv[1]) if len(sys.argv) > 1 else labels.FONT_DIR
got = labels.ensure_fonts(folder)
label = QLabel("Vellum 0123 label")
label.setStyleSheet("background: white; color: black")
label.resize(240, 40)
img = label.grab().toImage()
inked = sum(img.pixelColor(x, y).lightness() < 128 for x in range(img.width())
            for y in range(img.height()))
print(json.dumps({"before": before, "real_before": real_before, "after": got,
                  "inked": inked}))
"""


def _no_system_fonts(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
                    f"<fontconfig><dir>{empty}</dir><cachedir>{tmp_path / 'cache'}</cachedir>"
                    "</fontconfig>\n")
    env = dict(os.environ, FONTCONFIG_FILE=str(conf), QT_QPA_PLATFORM="offscreen",
               QT_QPA_FONTDIR=str(empty), PYTHONPATH=str(ROOT))
    env.pop("FONTCONFIG_PATH", None)
    return env


def _probe(env: dict[str, str], *args: str) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_bundled_font_is_registered_when_qt_lists_only_alias_families(tmp_path):
    assert (ROOT / "resources" / "fonts" / "DejaVuSans.ttf").is_file()
    assert "Bitstream" in (ROOT / "resources" / "fonts" / "LICENSE.txt").read_text()
    out, err = _probe(_no_system_fonts(tmp_path))
    # The trap: Qt's list is not empty, only aliases are in it (the old check was fooled).
    assert out["before"] and out["real_before"] == [], out["before"]
    assert "DejaVu Sans" in out["after"]
    assert out["inked"] > 30, "the label drew no glyphs"
    assert "fonts-dejavu-core" not in err


def test_no_fonts_anywhere_is_said_and_nothing_claimed(tmp_path):
    empty = tmp_path / "no-bundled-fonts"
    empty.mkdir()
    out, err = _probe(_no_system_fonts(tmp_path), str(empty))
    assert out["after"] == []  # (Qt then draws empty boxes, which is why it must be said)
    assert "fonts-dejavu-core" in err


def test_system_fonts_are_used_as_they_are(tmp_path):
    if not Path("/usr/share/fonts").is_dir():
        pytest.skip("this machine has no system fonts folder")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    out, _ = _probe(env)
    if not out["real_before"]:
        pytest.skip("fontconfig finds no system font here")
    assert out["after"] == out["before"] and out["inked"] > 30
