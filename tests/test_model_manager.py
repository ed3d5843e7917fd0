"""Tools ▸ Models…: the installed packs with task, licence, files, verified state and the
device each file runs on; importing a folder or an archive off the UI thread through the real
buttons; a damaged file refused in one sentence that names it; the window's SAM model list
follows an import."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.inference.pack_import import import_models
from test_inference_tiny_models import medsam_pack, sam_vit_pack, zip_folder
from tools_scene import WindowScene, in_dialog  # noqa: F401

pytest.importorskip("pytestqt")


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    assert import_models(sam_vit_pack(tmp_path / "tiny"), folder).errors == []
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(folder))
    return folder


def _dialog(qtbot, root: Path, changed=None):
    from app.widgets.jobs import Jobs
    from app.widgets.model_manager import ModelManager

    jobs = Jobs()
    dialog = ModelManager(jobs, None, root, changed)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=30000)
    return dialog


def _row(dialog, model_id: str) -> list[str]:
    t = dialog.table
    item = next(t.topLevelItem(n) for n in range(t.topLevelItemCount())
                if t.topLevelItem(n).data(0, Qt.ItemDataRole.UserRole) == model_id)
    return [item.text(c) for c in range(t.columnCount())]


def test_the_installed_packs_with_task_licence_files_verified_and_device(qtbot, root):
    dialog = _dialog(qtbot, root)
    assert dialog.pack_ids() == ["tiny-sam"]
    name, task, licence, files, verified, runs_on = _row(dialog, "tiny-sam")
    assert task == "segment" and licence == "MIT"
    assert "tiny_sam_encoder.onnx" in files and "tiny_sam_decoder.onnx" in files
    assert verified.startswith("✓")
    assert "encoder: CPU" in runs_on and "decoder: CPU" in runs_on
    assert "Models run on" in dialog.device.text()
    assert str(root) in dialog.folder.text()
    assert "CPU (CPUExecutionProvider): works" in dialog.providers.text()


def test_import_a_folder_and_an_archive_through_the_buttons(qtbot, root, tmp_path,
                                                            monkeypatch):
    from app.widgets import model_manager

    changed: list[bool] = []
    dialog = _dialog(qtbot, root, lambda: changed.append(True))
    pack = medsam_pack(tmp_path / "medsam")
    monkeypatch.setattr(model_manager, "ask_import_folder", lambda parent: str(pack))
    refreshed: list[bool] = []
    dialog.refreshed.connect(lambda: refreshed.append(True))
    QTest.mouseClick(dialog.import_folder, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(refreshed), timeout=30000)
    assert dialog.messages_text() == ["Installed tiny-medsam: decoder, encoder."]
    assert dialog.pack_ids() == ["tiny-medsam", "tiny-sam"] and changed == [True]
    assert pack.is_dir() and (pack / "manifest.json").is_file()  # the source is untouched
    archive = zip_folder(sam_vit_pack(tmp_path / "again", "tiny-sam-2"),
                         tmp_path / "more.vellum-models")
    monkeypatch.setattr(model_manager, "ask_import_file", lambda parent: str(archive))
    refreshed.clear()
    QTest.mouseClick(dialog.import_file, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(refreshed), timeout=30000)
    assert "tiny-sam-2" in dialog.pack_ids()


def test_a_damaged_file_is_refused_in_one_sentence_and_the_rest_installs(qtbot, root,
                                                                        tmp_path):
    dialog = _dialog(qtbot, root)
    pack = medsam_pack(tmp_path / "damaged")
    encoder = pack / "tiny_medsam_encoder.onnx"
    encoder.write_bytes(encoder.read_bytes()[:-200])  # truncated on the way
    got: list = []
    dialog.imported.connect(got.append)
    dialog.import_path(pack)
    qtbot.waitUntil(lambda: bool(got), timeout=30000)
    lines = dialog.messages_text()
    assert "Installed tiny-medsam: decoder." in lines
    (refusal,) = [line for line in lines if str(encoder) in line]
    assert "truncated" in refusal and "\n" not in refusal
    qtbot.waitUntil(lambda: "tiny-medsam" in dialog.pack_ids(), timeout=30000)
    *_, verified, _ = _row(dialog, "tiny-medsam")
    assert "not installed" in verified  # the pack is listed as incomplete, not verified
    assert _row(dialog, "tiny-sam")[4].startswith("✓")  # the others keep working


def test_tools_models_in_the_window_and_its_model_list_follows_an_import(qtbot, tmp_path,
                                                                         root):
    s = WindowScene(qtbot, tmp_path)
    try:
        s.key(Qt.Key.Key_W)
        combo = s.win.tool_options.controls[("choice", "sam_model")][1]
        assert [combo.itemData(i) for i in range(combo.count())] == ["tiny-sam"]
        action = next(a for a in s.win.menuBar().actions() if a.text() == "&Tools")
        models = next(a for a in action.menu().actions() if a.text() == "&Models…")
        pack = medsam_pack(tmp_path / "medsam")

        def fill(dialog) -> None:
            qtbot.waitUntil(lambda: dialog.report is not None, timeout=30000)
            assert dialog.pack_ids() == ["tiny-sam"]
            done: list = []
            dialog.imported.connect(done.append)
            dialog.import_path(pack)
            qtbot.waitUntil(lambda: bool(done), timeout=30000)
            QTest.keyClick(QApplication.focusWidget() or dialog, Qt.Key.Key_Escape)

        in_dialog(qtbot, models.trigger, fill)
        assert [combo.itemData(i) for i in range(combo.count())] == ["tiny-medsam", "tiny-sam"]
    finally:
        s.win.close()
