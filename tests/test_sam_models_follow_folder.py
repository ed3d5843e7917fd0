"""The segment-anything tool's model list follows the model folder (issue 15): a pack installed
with `vellum models import` in another process while the window is open is offered without a
restart, and one removed is no longer offered."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

from app.tools.sam import SamTool
from test_inference_tiny_models import sam_vit_pack
from tools_scene import WindowScene

pytest.importorskip("pytestqt")


def model_combo(s: WindowScene):
    """The options bar's model chooser (the SAM tool declares it)."""
    return s.win.tool_options.controls[("choice", "sam_model")][1]


def offered(s: WindowScene) -> list:
    combo = model_combo(s)
    return [combo.itemData(i) for i in range(combo.count())]


def vellum_models_import(path, root) -> None:
    """The real CLI, in its own process, as a user runs it beside the open window."""
    import os

    env = {**os.environ, "VELLUM_MODELS_DIR": str(root)}
    result = subprocess.run([sys.executable, "-m", "app", "models", "import", str(path)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("folder_exists", [True, False])
def test_a_pack_installed_while_the_window_is_open_is_offered(qtbot, tmp_path, monkeypatch,
                                                             folder_exists):
    root = tmp_path / "models"
    if folder_exists:
        root.mkdir()
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(root))
    pack = sam_vit_pack(tmp_path / "pack")
    s = WindowScene(qtbot, tmp_path, images=1)
    try:
        s.key(Qt.Key.Key_W)
        assert isinstance(s.win.canvas.tool, SamTool)
        assert offered(s) == [None]  # "No model installed"
        vellum_models_import(pack, root)
        # nothing clicked: the folder itself says a pack arrived
        qtbot.waitUntil(lambda: offered(s) == ["tiny-sam"], timeout=10000)
        assert model_combo(s).currentData() == "tiny-sam"
        assert s.win.canvas.tool.model().id == "tiny-sam"  # what a box would be sent to
        shutil.rmtree(root / "tiny-sam")  # removed by hand: no longer offered
        qtbot.waitUntil(lambda: offered(s) == [None], timeout=10000)
    finally:
        s.win.close()
