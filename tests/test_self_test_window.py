"""Help ▸ Self-test… in the real window: clicking the menu action opens a dialog that shows the
check under way with a progress bar while the checks run on a worker thread, then the table.
And a read-only (here: blocked) data or model folder is said by the window with the variable
that moves it: in the status bar at start, on File ▸ Open demo project, in Tools ▸ Models…."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from tools_scene import WindowScene, in_dialog

pytest.importorskip("pytestqt")


def _action(win, menu: str, text: str):
    top = next(a for a in win.menuBar().actions() if a.text() == menu)
    return next(a for a in top.menu().actions() if a.text() == text)


@pytest.fixture
def homes(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path


def test_help_self_test_runs_with_a_progress_dialog_and_shows_the_table(qtbot, homes):
    from app.widgets.self_test import SelfTestDialog

    s = WindowScene(qtbot, homes)
    try:
        action = _action(s.win, "&Help", "&Self-test…")
        seen: dict = {"status": set(), "maximum": 0}

        def fill(dialog) -> None:
            assert isinstance(dialog, SelfTestDialog)
            assert dialog.isModal() and dialog.windowTitle() == "Self-test"

            def finished() -> bool:  # meanwhile, note what the progress said
                seen["status"].add(dialog.status.text())
                seen["maximum"] = max(seen["maximum"], dialog.bar.maximum())
                return dialog.checks is not None

            qtbot.waitUntil(finished, timeout=300_000)
            checks = dialog.checks
            assert checks and all(c.ok for c in checks), [(c.check, c.detail) for c in checks
                                                        if not c.ok]
            assert dialog.table.topLevelItemCount() == len(checks)
            row = [dialog.table.topLevelItem(0).text(c) for c in range(4)]
            assert row[:2] == ["Qt platform plugin", "pass"] and row[3].isdigit()
            assert dialog.status.text().startswith(f"All {len(checks)} checks passed")
            assert not dialog.problems.isVisible()
            close = dialog.buttons.button(QDialogButtonBox.StandardButton.Close)
            assert close is not None  # Cancel became Close once the checks were done
            close.click()

        in_dialog(qtbot, action.trigger, fill)
        assert any(t.startswith("Check ") and " of " in t for t in seen["status"]), seen
        assert seen["maximum"] > 10  # one step of the bar per check
    finally:
        s.win.close()


def test_the_window_says_which_folder_is_not_writable_and_what_moves_it(qtbot, tmp_path,
                                                                         monkeypatch):
    from app.widgets.self_test import warn_unwritable_folders

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(blocker / "models"))
    s = WindowScene(qtbot, tmp_path, open_project=False)
    try:
        # at start (run_gui does this for every window it opens)
        warn_unwritable_folders(s.win)
        bar = s.win.statusBar()
        qtbot.waitUntil(lambda: "VELLUM_MODELS_DIR" in bar.currentMessage(), timeout=30_000)
        said = bar.currentMessage()
        assert f"The data folder {blocker / 'vellum'}" in said and "XDG_DATA_HOME" in said
        assert f"The model folder {blocker / 'models'}" in said

        # File ▸ Open demo project: one sentence naming the folder and the variable
        def read(box) -> None:
            assert isinstance(box, QMessageBox)
            seen.append(box.text())
            box.accept()

        seen: list[str] = []
        in_dialog(qtbot, _action(s.win, "&File", "Open &demo project").trigger, read,
                  timeout_ms=30_000)
        assert str(blocker) in seen[0] and "XDG_DATA_HOME" in seen[0], seen
        assert "Traceback" not in seen[0]

        # Tools ▸ Models…: the folder line says what moves it
        def models(dialog) -> None:
            qtbot.waitUntil(lambda: dialog.report is not None, timeout=60_000)
            text = dialog.folder.text()
            assert str(blocker / "models") in text and "VELLUM_MODELS_DIR" in text, text
            dialog.reject()

        in_dialog(qtbot, _action(s.win, "&Tools", "&Models…").trigger, models,
                  timeout_ms=30_000)
    finally:
        s.win.close()
