"""Detector boxes are reviewable in the window like other model output: Tools ▸ Review model
output lists them (source = the model id, score set) in the Review dock, lowest score first;
the score filter hides the weaker ones; Accept makes the selected ones ordinary labels and
Reject deletes them, each one undoable command. Driven on the real main window."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")
pytest.importorskip("pytestqt")

from detector_graphs import detector_folder  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from tools_scene import WindowScene  # noqa: E402

from app.cli import main  # noqa: E402
from app.inference.pack_import import import_models  # noqa: E402


def _menu_action(win, menu: str, text: str):
    top = next(a for a in win.menuBar().actions() if a.text() == menu)
    return next(a for a in top.menu().actions() if a.text() == text)


def test_detector_boxes_are_listed_filtered_accepted_and_rejected(qtbot, tmp_path,
                                                                  monkeypatch, capsys):
    models = tmp_path / "models"
    report = import_models(detector_folder(tmp_path / "yolo", "yolov8"), models)
    (model_id,) = report.installed
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(models))
    s = WindowScene(qtbot, tmp_path, images=1, open_project=False)
    try:
        assert main(["detect", str(s.path), "--model", model_id]) == 0, capsys.readouterr()
        s.open(s.path)
        doc = s.doc
        (item,) = doc.media()
        boxes = {a.id: a for a in doc.annotations(item.id)}
        assert len(boxes) >= 3 and all(a.source == model_id and a.score for a in boxes.values())
        _menu_action(s.win, "&Tools", "Review model &output").trigger()
        panel = s.win._sam_review
        assert panel.isVisible() and panel.model_bar.isVisible()
        scores = sorted(a.score for a in boxes.values())
        assert panel.visible_ids() == [a.id for a in sorted(boxes.values(),
                                                            key=lambda a: a.score)]
        assert model_id in panel.list.item(0).text()
        # filter by score: only the boxes at or over 0.55 stay listed
        panel.min_score.setValue(0.55)
        strong = [a for a in boxes.values() if a.score >= 0.55]
        assert 0 < len(strong) < len(boxes)
        assert set(panel.visible_ids()) == {a.id for a in strong}
        assert f"{len(strong)} of {len(boxes)} shown" in panel.title.text()
        # reject the weakest shown one: clicked in the list, then the Reject button
        weakest = min(strong, key=lambda a: a.score)
        row = next(panel.list.item(i) for i in range(panel.list.count())
                   if not panel.list.item(i).isHidden()
                   and panel.list.item(i).data(Qt.ItemDataRole.UserRole + 1) == weakest.id)
        panel.list.setCurrentItem(row)
        qtbot.mouseClick(panel.reject_button, Qt.MouseButton.LeftButton)
        assert weakest.id not in {a.id for a in doc.annotations(item.id)}
        assert doc.undo_label == "Reject 1 model box"
        assert weakest.id not in panel.visible_ids()
        # accept the best one: it stays, as an ordinary label (source manual, no score)
        best = max(boxes.values(), key=lambda a: a.score)
        row = next(panel.list.item(i) for i in range(panel.list.count())
                   if panel.list.item(i).data(Qt.ItemDataRole.UserRole + 1) == best.id)
        panel.list.setCurrentItem(row)
        qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
        kept = {a.id: a for a in doc.annotations(item.id)}[best.id]
        assert kept.source == "manual" and kept.score is None
        assert kept.shape == best.shape and kept.class_id == best.class_id
        assert best.id not in panel.visible_ids()  # reviewed: no longer listed
        assert doc.undo_label == "Accept 1 model box"
        # both are undoable
        doc.undo()
        doc.undo()
        after = {a.id: a for a in doc.annotations(item.id)}
        assert after[best.id].source == model_id and after[best.id].score == best.score
        assert weakest.id in after
        assert scores == sorted(a.score for a in after.values())
    finally:
        s.win.close()
