"""Photos are shown by a presenter like videos and volumes (issue 17 item 6), and the window's
menu commands and dialogs are composed objects, not mixins (item 5)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tools_scene import window  # noqa: F401  (fixture)

pytest.importorskip("pytestqt")
K = Qt.Key


def test_photos_are_shown_by_the_image_presenter(window):  # noqa: F811
    from app.core.media import MediaKind
    from app.io.planes import RGBSource
    from app.widgets import modes
    from app.widgets.image_presenter import ImagePresenter

    s = window
    assert modes.mode_for(MediaKind.IMAGE).open is not None
    presenter = s.win.presenter
    assert isinstance(presenter, ImagePresenter)
    source = s.state.surface.source  # the pixels tools (segment anything) read
    assert isinstance(source, RGBSource) and source.place == s.state.place
    assert np.array_equal(source.rgb, presenter.image[:, :, :3])
    s.hover(10.5, 20.5)
    r, g, b = presenter.image[20, 10][:3]
    assert s.win.status.cursor.text() == f"x 10  y 20  ·  RGB {r} {g} {b}"
    first = s.state.media_id
    s.key(K.Key_F)
    s.qtbot.waitUntil(lambda: s.canvas.showing() == "image" and s.state.media_id != first,
                      timeout=10000)
    assert s.win.presenter is presenter  # one presenter per kind and project
    assert s.state.surface.source.place == s.state.place
    assert presenter.frames.get(first) is not None  # kept for going back
    s.win.close_project()
    assert s.win.presenter is None and not s.win.presenters
    assert presenter.frames.get(first) is None  # the closed project's pictures are let go


def test_menu_commands_and_dialogs_are_composed_objects(window):  # noqa: F811
    from app.widgets.main_window import MainWindow
    from app.widgets.window_commands import WindowCommands
    from app.widgets.window_dialogs import WindowDialogs

    s = window
    assert not issubclass(MainWindow, (WindowCommands, WindowDialogs))
    assert isinstance(s.win.commands, WindowCommands) and s.win.commands.w is s.win
    assert isinstance(s.win.dialogs, WindowDialogs) and s.win.dialogs.w is s.win
    s.key(K.Key_S, Qt.KeyboardModifier.ControlModifier)  # File ▸ Save: the commands object
    assert s.win.statusBar().currentMessage().startswith("Saved")
    assert s.win.recent_projects()[0] == str(s.path)
