"""Slicer's slice keys as an option (issue 20 item 7): Edit ▸ Preferences… ▸ Slice keys
("Vellum" or "3D Slicer", saved in preferences.json) and real key presses on the active volume
pane: with Slicer's, Left/Right (Shift: 10) and B step the slice as Down/Up do; with Vellum's,
Left/Right leave the slice where it is and B chooses the brush, as before."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialogButtonBox  # noqa: E402

from tools_scene import WindowScene, in_dialog  # noqa: E402

K = Qt.Key
NOMOD, SHIFT = Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory):
    from app.demo_media import write_demo_ct

    return write_demo_ct(tmp_path_factory.mktemp("dicom") / "ct")


@pytest.fixture
def volume(qtbot, tmp_path, ct_folder, monkeypatch):
    from app.io.ingest import add_media
    from app.widgets.volume.pane import set_slice_keys

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    s = WindowScene(qtbot, tmp_path, images=1)
    s.win.resize(1400, 900)
    s.item = add_media(s.doc, [ct_folder]).added[0]
    s.key(K.Key_End)
    qtbot.waitUntil(lambda: getattr(s.win.presenter, "session", None) is not None,
                    timeout=30000)
    QApplication.processEvents()
    yield s
    s.win.close()
    set_slice_keys("vellum")


def _choose(s, scheme: str) -> None:
    """Edit ▸ Preferences…, Slice keys = ``scheme``, OK (the real dialog)."""

    def fill(dialog) -> None:
        combo = dialog.slice_keys
        combo.setCurrentIndex(combo.findData(scheme))
        QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)

    in_dialog(s.qtbot, s.win.built.actions["preferences"].trigger, fill)


def _pane(s):
    session = s.win.presenter.session
    pane = session.panes[session.active]
    pane.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
    QApplication.processEvents()
    axis = session.axes[session.active]
    return pane.canvas, lambda: session.crosshair.index(axis)


def _press(canvas, key, mods=NOMOD) -> None:
    QTest.keyClick(canvas, key, mods)
    QApplication.processEvents()


def test_slicer_keys_step_the_active_pane_with_left_right_and_b(volume):
    from app.io import preferences
    from app.widgets.volume.pane import SLICE_KEYS

    s = volume
    assert preferences.slice_keys() == "vellum" and SLICE_KEYS.scheme == "vellum"
    _choose(s, "slicer")
    assert preferences.slice_keys() == "slicer" and SLICE_KEYS.scheme == "slicer"
    canvas, index = _pane(s)
    _press(canvas, K.Key_Down)
    _press(canvas, K.Key_Down)
    start = index()
    _press(canvas, K.Key_Up)
    up = index()
    assert up != start  # Up moves (the reference for "forward")
    _press(canvas, K.Key_Down)
    assert index() == start
    _press(canvas, K.Key_Right)
    assert index() == up  # Right = forward, as Up
    _press(canvas, K.Key_Left)
    assert index() == start  # Left = back, as Down
    tool = canvas.tool.name
    _press(canvas, K.Key_Right)
    _press(canvas, K.Key_B)
    assert index() == start and canvas.tool.name == tool  # B = back, not the brush
    _press(canvas, K.Key_F)
    assert index() == up  # F = forward (as before)
    _press(canvas, K.Key_Left)
    _press(canvas, K.Key_Right, SHIFT)
    ten = index()
    _press(canvas, K.Key_Left, SHIFT)
    assert index() == start
    _press(canvas, K.Key_Up, SHIFT)
    assert index() == ten  # Shift+Right = Shift+Up (10 slices, or up to the last)
    sections = dict(s.win.dialogs.shortcut_sections())
    assert ("Previous slice in the active pane", "Left, B") in sections[
        "Slice keys (3D Slicer's)"]


def test_vellum_keys_leave_left_right_alone_and_b_chooses_the_brush(volume):
    from app.io import preferences

    s = volume
    _choose(s, "slicer")
    _choose(s, "vellum")  # and back: the choice applies at once
    assert preferences.slice_keys() == "vellum"
    canvas, index = _pane(s)
    _press(canvas, K.Key_Down)
    start = index()
    _press(canvas, K.Key_Right)
    _press(canvas, K.Key_Right, SHIFT)
    _press(canvas, K.Key_Left)
    assert index() == start  # arrows left/right step nothing with Vellum's keys
    _press(canvas, K.Key_Up)
    assert index() != start  # Up/Down still do
    assert canvas.tool.name != "brush"
    _press(canvas, K.Key_B)
    assert canvas.tool.name == "brush"
    assert "Slice keys (3D Slicer's)" not in dict(s.win.dialogs.shortcut_sections())


def test_a_bad_saved_scheme_reads_as_vellum(tmp_path, monkeypatch):
    from app.io import preferences

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert preferences.slice_keys() == "vellum"
    preferences.save(slice_keys="emacs")
    assert preferences.slice_keys() == "vellum"
    preferences.save(slice_keys="slicer")
    assert preferences.slice_keys() == "slicer"
