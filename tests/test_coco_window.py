"""COCO from the window (File > Import / Export COCO JSON): a file imported twice asks first,
and export refuses the project's own files, through the real background jobs."""

from __future__ import annotations

import hashlib

import pytest
from coco_judge import STYLES, load, materialize
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from app.core.document import Document

pytest.importorskip("pytestqt")


@pytest.fixture
def win(qtbot, tmp_path):
    from app.widgets.main_window import MainWindow

    root = materialize(load(STYLES / "cvat.json"), tmp_path / "data")
    Document.create(tmp_path / "proj").close()
    w = MainWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(tmp_path / "proj")
    yield w, root
    w.close()


def _count(doc) -> int:
    return sum(len(doc.annotations(m.id)) for m in doc.media())


def test_importing_a_file_again_asks_first(win, qtbot, monkeypatch):
    from app.widgets import exchange

    w, root = win
    errors: list[str] = []
    monkeypatch.setattr(w, "error", errors.append)
    answers: list[str] = []

    def answer(reply):
        def ask(*args, **kwargs):
            answers.append(args[2] if len(args) > 2 else "")
            return reply
        return ask

    doc = w.state.doc
    src = STYLES / "cvat.json"
    exchange.import_coco(w, src, root)
    qtbot.waitUntil(lambda: _count(doc) == 7 or bool(errors), timeout=20000)
    assert errors == []
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    exchange.import_coco(w, src, root)
    qtbot.waitUntil(lambda: bool(answers), timeout=20000)
    qtbot.wait(200)
    assert _count(doc) == 7 and "already imported" in answers[0]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    exchange.import_coco(w, src, root)
    qtbot.waitUntil(lambda: _count(doc) == 14 or bool(errors), timeout=20000)
    assert errors == [] and _count(doc) == 14
    doc.undo()
    assert _count(doc) == 7


def test_export_onto_the_project_file_is_refused(win, qtbot, monkeypatch):
    from app.widgets import exchange

    w, _ = win
    errors: list[str] = []
    monkeypatch.setattr(w, "error", errors.append)
    db = w.state.doc.path
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    exchange.export_coco(w, db)
    qtbot.waitUntil(lambda: bool(errors), timeout=20000)
    assert "Refusing to write" in errors[0]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
