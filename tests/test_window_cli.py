"""The window and the command line agree: "New project" in the window makes what
``vellum new`` makes (a folder holding project.vellum), and ``vellum info P | head`` stops
quietly when the reader goes away."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from app.core.commands import SetSchema
from app.core.document import Document
from app.core.schema import LabelClass, LabelSchema
from tools_scene import WindowScene

pytest.importorskip("pytestqt")
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("typed", ["street", "street.vellum"])
def test_new_project_in_the_window_makes_a_folder_like_vellum_new(qtbot, tmp_path,
                                                                  monkeypatch, typed):
    from app.cli import main

    s = WindowScene(qtbot, tmp_path, open_project=False)
    try:
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            lambda *a, **k: (str(tmp_path / "gui" / typed), ""))
        new = next(a for a in s.win.actions() if a.text() == "&New project…")
        new.trigger()
        assert s.doc is not None
        assert s.doc.path == tmp_path / "gui" / "street" / "project.vellum"
        assert not (tmp_path / "gui" / "street.vellum").exists()
        assert main(["new", str(tmp_path / "cli" / "street")]) == 0
        made = {p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*")}
        made_gui = {p.relative_to(tmp_path / "gui") for p in (tmp_path / "gui").rglob("*")
                    if not p.name.endswith(".lock")}
        assert {Path("street"), Path("street/project.vellum")} <= made & made_gui
    finally:
        s.win.close()


def test_info_piped_into_head_prints_no_traceback(tmp_path):
    with Document.create(tmp_path / "big") as doc:  # enough output to fill the pipe
        doc.execute(SetSchema(LabelSchema(tuple(LabelClass(f"class {n:04d}")
                                                for n in range(3000)))))
    cmd = (f"{sys.executable} -m app info {tmp_path / 'big'} | head -n 2")
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=REPO,
                         timeout=60)
    assert out.stdout.splitlines()[0].startswith("Project")
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr
