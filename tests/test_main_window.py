"""The main window as a user meets it: open the demo, browse, label, edit, drop files, break.

Runs offscreen (QT_QPA_PLATFORM=offscreen, set in conftest). Each test gets its own QSettings
file so nothing leaks between tests or into the user's settings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog

from app.core.document import Document
from app.core.media import MediaStatus
from app.demo import build_demo
from app.io.images import write_png
from app.widgets.media_list import IdRole

pytest.importorskip("pytestqt")


@pytest.fixture(scope="session")
def demo_copy(tmp_path_factory) -> Path:
    """One demo project built per session; tests copy it before writing."""
    return build_demo(tmp_path_factory.mktemp("demo_src") / "demo")


@pytest.fixture
def demo_path(demo_copy: Path, tmp_path: Path) -> Path:
    import shutil

    dst = tmp_path / "demo"
    shutil.copytree(demo_copy.parent, dst)
    return dst / demo_copy.name


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def win(qtbot, settings, demo_path):
    from app.widgets.main_window import MainWindow

    w = MainWindow(None, settings=settings)
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(demo_path)
    qtbot.waitUntil(lambda: w.canvas.showing() == "image", timeout=10000)
    yield w
    w.close()


def _doc_anns(win):
    return win.state.doc.annotations(win.state.media_id)


def test_demo_opens_with_media_labels_objects(win):
    doc = win.state.doc
    assert win.media.proxy.rowCount() == len(doc.media()) == 8
    assert win.labels.tree.topLevelItemCount() == len(doc.schema.classes) == 11
    assert win.objects.tree.topLevelItemCount() == len(_doc_anns(win)) > 5
    assert win.state.image_size == (1280, 720)
    assert "saved" in win.status.saved.text().lower()
    assert win.status.zoom.text().endswith("%")


def test_thumbnails_load_in_the_background(win, qtbot):
    model = win.media.model
    for row in range(model.rowCount()):
        model.data(model.index(row), Qt.DecorationRole)
    qtbot.waitUntil(lambda: model.thumbnail_count() == model.rowCount(), timeout=10000)
    img = model.data(model.index(0), Qt.DecorationRole)
    assert max(img.width(), img.height()) >= 64


def test_class_hotkeys_and_navigation_keys(win, qtbot):
    schema = win.state.doc.schema
    QTest.keyClick(win.canvas, Qt.Key_2)
    assert win.state.class_id == schema.class_by_name("person").id
    first = win.state.media_id
    QTest.keyClick(win.canvas, Qt.Key_F)
    assert win.state.media_id != first
    qtbot.waitUntil(lambda: win.canvas.showing() == "image" and
                    win.state.image_size == (1600, 1200), timeout=10000)
    QTest.keyClick(win.canvas, Qt.Key_D)
    assert win.state.media_id == first
    QTest.keyClick(win.canvas, Qt.Key_End)
    assert win.state.media_id == win.state.doc.media()[-1].id


def test_every_tool_has_a_shortcut_that_selects_it(win):
    from app.tools import TOOLS

    for cls in TOOLS:
        assert cls.shortcut, f"{cls.name} has no shortcut"
        QTest.keyClick(win.canvas, cls.shortcut[-1])
        assert win.canvas.tool is win.tools[cls.name], cls.name
        assert win.tool_actions[cls.name].isChecked()


def test_shortcut_sheet_lists_tools_and_actions(win):
    from app.tools import TOOLS
    from app.widgets.shortcuts import ShortcutSheet, action_rows

    sections = [(t, action_rows(a)) for t, a in win.sections.items()]
    sheet = ShortcutSheet(sections)
    keys = {k for _n, k in sheet.rows()}
    for cls in TOOLS:
        assert cls.shortcut in keys
    text = " ".join(keys)
    for needed in ("Ctrl+Z", "Ctrl+Shift+Z", "F1", "Del", "PgDown", "PgUp", "H"):
        assert needed in text, needed
    sheet.search.setText("undo")
    shown = [sheet.tree.topLevelItem(i) for i in range(sheet.tree.topLevelItemCount())]
    assert [i.text(0).strip() for i in shown if not i.isHidden() and i.text(1)] == ["Undo"]


def test_object_list_selection_follows_state_both_ways(win):
    anns = _doc_anns(win)
    win.state.set(selection=(anns[0].id,))
    selected = win.objects.tree.selectedItems()
    assert [i.data(0, Qt.UserRole) for i in selected] == [anns[0].id]
    item = win.objects.tree.topLevelItem(0)  # frontmost = highest z
    win.objects.tree.clearSelection()
    item.setSelected(True)
    assert win.state.selection == (anns[-1].id,)


def test_visibility_lock_and_z_order_are_commands(win):
    doc = win.state.doc
    anns = _doc_anns(win)
    back = anns[0]
    win.state.set(selection=(back.id,))
    QTest.keyClick(win.canvas, Qt.Key_H)
    assert back.id in win.state.hidden
    QTest.keyClick(win.canvas, Qt.Key_H)
    assert back.id not in win.state.hidden
    win.objects.actions_["lock"].trigger()
    assert doc.annotation(win.state.media_id, back.id).locked
    win.objects.actions_["forward"].trigger()
    order = [a.id for a in _doc_anns(win)]
    assert order.index(back.id) == 1
    doc.undo()
    assert [a.id for a in _doc_anns(win)].index(back.id) == 0
    with Document.open(doc.path) as again:  # already on disk
        assert again.annotation(win.state.media_id, back.id).locked


def test_attribute_editor_edits_are_one_undoable_command(win, qtbot):
    doc = win.state.doc
    car_cls = doc.schema.class_by_name("car")
    car = next(a for a in _doc_anns(win) if a.class_id == car_cls.id)
    win.state.set(selection=(car.id,))
    combo = win.attributes.editors["color"]
    target = "black" if car.attributes["color"] != "black" else "blue"
    combo.setCurrentText(target)
    assert doc.annotation(car.media_id, car.id).attributes["color"] == target
    check = win.attributes.editors["truncated"]
    check.setChecked(not check.isChecked())
    assert doc.annotation(car.media_id, car.id).attributes["truncated"] is check.isChecked()
    win.undo()
    win.undo()
    assert doc.annotation(car.media_id, car.id).attributes["color"] == car.attributes["color"]
    assert combo.currentText() == car.attributes["color"]


def test_choosing_a_class_relabels_the_selection(win):
    doc = win.state.doc
    lane = next(a for a in _doc_anns(win) if a.kind == "polyline")
    win.state.set(selection=(lane.id,))
    QTest.keyClick(win.canvas, Qt.Key_1)  # car does not allow polylines: unchanged
    assert doc.annotation(lane.media_id, lane.id).class_id == lane.class_id
    box = next(a for a in _doc_anns(win) if a.kind == "box")
    win.state.set(selection=(box.id,))
    QTest.keyClick(win.canvas, Qt.Key_6)  # building allows boxes
    assert doc.annotation(box.media_id, box.id).class_id == doc.schema.class_by_name(
        "building").id


def test_media_status_keys_filter_and_persistence(win, qtbot):
    doc = win.state.doc
    mid = win.state.media_id
    QTest.keyClick(win.canvas, Qt.Key_4, Qt.AltModifier)
    assert doc.media_item(mid).status is MediaStatus.NEEDS_REVIEW
    win.media.status_box.setCurrentIndex(win.media.status_box.findData("needs_review"))
    ids = {win.media.proxy.index(r, 0).data(IdRole) for r in range(win.media.proxy.rowCount())}
    assert mid in ids and len(ids) == 2
    win.media.status_box.setCurrentIndex(0)
    win.media.search.setText("parking")
    assert win.media.proxy.rowCount() == 1
    with Document.open(doc.path) as again:
        assert again.media_item(mid).status is MediaStatus.NEEDS_REVIEW


def test_bad_image_shows_a_message_and_the_rest_stays_usable(win, qtbot, tmp_path):
    doc = win.state.doc
    broken = doc.folder / "images" / "01_street.png"
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 3])  # truncated on disk after it was added
    shown: list[str] = []
    win.canvas.show_error = lambda msg, orig=win.canvas.show_error: (shown.append(msg),
                                                                     orig(msg))
    win.frames.clear()
    first = doc.media()[0].id
    QTest.keyClick(win.canvas, Qt.Key_F)
    QTest.keyClick(win.canvas, Qt.Key_D)
    qtbot.waitUntil(lambda: bool(shown), timeout=10000)
    assert "01_street.png" in shown[-1] and "truncated" in shown[-1]
    assert win.media.model.data(win.media.model.index(0), Qt.ToolTipRole).count("truncated")
    assert win.state.media_id == first
    QTest.keyClick(win.canvas, Qt.Key_F)  # the next image still opens and can be labelled
    qtbot.waitUntil(lambda: win.canvas.showing() == "image", timeout=10000)
    assert win.objects.tree.topLevelItemCount() > 0


def test_dropping_a_folder_adds_media_off_the_ui_thread(win, qtbot, tmp_path, monkeypatch):
    """Probing and fingerprinting run in a worker thread; only the command runs on the UI
    thread. (How long the UI thread is ever blocked is measured by scripts/responsiveness.py,
    not asserted here.)"""
    import threading

    from app.io import ingest

    folder = tmp_path / "drop"
    rng = np.random.default_rng(0)
    for n in range(40):
        write_png(folder / f"x{n:02d}.png", rng.integers(0, 255, (300, 400, 3), np.uint8))
    doc = win.state.doc
    before = len(doc.media())
    threads = []
    real_plan = ingest.plan_media

    def plan(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(ingest, "plan_media", plan)
    win.drop_paths([str(folder)])
    qtbot.waitUntil(lambda: len(doc.media()) == before + 40, timeout=20000)
    assert threads and threads[0] is not threading.main_thread()
    assert win.media.proxy.rowCount() == before + 40


def test_window_state_and_recent_projects_are_remembered(qtbot, settings, demo_path):
    from app.widgets.main_window import MainWindow

    w = MainWindow(None, settings=settings)
    qtbot.addWidget(w)
    w.show()
    w.open_project(demo_path)
    w.resize(w.width(), 470)  # (the offscreen screen is 800x600: widths get clamped)
    w.docks[-1].hide()
    w.close()
    w2 = MainWindow(None, settings=settings)
    qtbot.addWidget(w2)
    assert w2.recent_projects()[0] == str(demo_path)
    assert w2.height() == 470
    assert all(d.isHidden() for d in w2.docks)  # welcome page: no panels
    w2.open_project(demo_path)
    assert w2.docks[-1].isHidden() and not w2.docks[0].isHidden()
    w2.close()


def test_bad_project_shows_a_message_not_a_traceback(qtbot, settings, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from app.widgets.main_window import MainWindow

    bad = tmp_path / "bad.vellum"
    bad.write_bytes(b"not a database at all" * 10)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    w = MainWindow(None, settings=settings)
    qtbot.addWidget(w)
    assert not w.open_project(bad)
    assert "bad.vellum" in shown[0] and "Traceback" not in shown[0]
    assert w.stack.currentWidget() is w.welcome


@pytest.mark.parametrize("name", ["dark", "light"])
def test_themes_have_readable_contrast(qapp, name):
    from app.widgets.theme import palette

    def lum(c: QColor) -> float:
        ch = [v / 255 for v in (c.red(), c.green(), c.blue())]
        ch = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]

    p = palette(name)
    for fg, bg in ((p.text(), p.base()), (p.windowText(), p.window()),
                   (p.highlightedText(), p.highlight())):
        a, b = sorted((lum(fg.color()), lum(bg.color())))
        assert (b + 0.05) / (a + 0.05) >= 4.5


def test_open_demo_builds_in_user_data_off_the_ui_thread(qtbot, settings, tmp_path, monkeypatch):
    from app.widgets.main_window import MainWindow

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "data"))
    w = MainWindow(None, settings=settings)
    qtbot.addWidget(w)
    w.show()
    w.open_demo()
    qtbot.waitUntil(lambda: w.state.doc is not None and w.canvas.showing() == "image",
                    timeout=20000)
    assert w.state.doc.name == "Vellum demo"
    assert not w.status.jobs_bar.isVisible()
    w.close()


def test_undo_redo_keys_and_delete(win):
    doc = win.state.doc
    before = len(_doc_anns(win))
    target = _doc_anns(win)[-1]
    win.state.set(selection=(target.id,))
    QTest.keyClick(win.canvas, Qt.Key_Delete)
    assert len(_doc_anns(win)) == before - 1
    QTest.keyClick(win.canvas, Qt.Key_Z, Qt.ControlModifier)
    assert len(_doc_anns(win)) == before
    QTest.keyClick(win.canvas, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert len(_doc_anns(win)) == before - 1
    assert doc.annotation(win.state.media_id, target.id) is None


def test_fill_opacity_and_outlines_only_are_remembered_display_settings(qtbot, settings,
                                                                         demo_path):
    from app.widgets.main_window import MainWindow

    w = MainWindow(None, settings=settings)
    qtbot.addWidget(w)
    w.show()
    w.open_project(demo_path)
    stored = w.state.doc.annotations(w.state.media_id)
    w.activateWindow()  # window shortcuts need an active window
    qtbot.waitUntil(lambda: w.isActiveWindow())
    w.status.fill.slider.setValue(70)  # the status-bar slider
    assert w.canvas.layer_style().fill_opacity == pytest.approx(0.7)
    QTest.keyClick(w.canvas, Qt.Key_O, Qt.ControlModifier | Qt.ShiftModifier)
    assert w.canvas.layer_style().outlines_only and w.outlines_action.isChecked()
    assert w.state.doc.annotations(w.state.media_id) == stored  # display only
    w.close()
    w2 = MainWindow(None, settings=settings)
    qtbot.addWidget(w2)
    assert w2.canvas.layer_style().fill_opacity == pytest.approx(0.7)
    assert w2.status.fill.slider.value() == 70
    assert w2.canvas.layer_style().outlines_only and w2.outlines_action.isChecked()
    w2.outlines_action.trigger()
    assert not w2.canvas.layer_style().outlines_only
    w2.close()


@pytest.mark.parametrize("theme_name", ["dark", "light"])
def test_tool_buttons_have_icons_in_the_theme_and_tooltips_with_keys(win, theme_name):
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app.widgets import theme

    app = QApplication.instance()
    theme.apply_theme(app, theme_name)
    try:
        window_light = app.palette().window().color().lightness()
        for name, act in win.tool_actions.items():
            tool = win.tools[name]
            assert not act.icon().isNull(), name
            assert tool.label in act.toolTip() and f"[{tool.shortcut}]" in act.toolTip()
            for scale in (1.0, 2.0):  # crisp at 2x: drawn at the device size
                pm = act.icon().pixmap(QSize(24, 24), scale, QIcon.Mode.Normal, QIcon.State.Off)
                img = pm.toImage()
                assert (img.width(), img.height()) == (round(24 * scale),) * 2, name
                inked = [img.pixelColor(x, y) for x in range(img.width())
                         for y in range(img.height()) if img.pixelColor(x, y).alpha() > 200]
                assert len(inked) > 8 * scale * scale, name  # something is drawn
                # strokes contrast with the bar: light on dark, dark on light
                darkest = min(c.lightness() for c in inked)
                brightest = max(c.lightness() for c in inked)
                assert (brightest > 180) if window_light < 128 else (darkest < 80), name
    finally:
        theme.apply_theme(app, "dark")


def test_display_pyramid_is_built_off_the_ui_thread(win):
    """The reduced levels of a picture are computed in the loading job, so the first paint of
    a huge image never builds them on the UI thread."""
    picture = win.frames.get(win.state.media_id)
    assert picture is not None
    assert picture.levels_built() == picture.max_level() + 1


def test_options_bar_is_built_from_what_the_tools_declare(win, qtbot):
    """One control per declared option; the active tool's are enabled; the controls are the
    real widgets a user types into and clicks."""
    opts = win.tool_options
    _label, slider, spin, _mm = opts.controls[("size", "brush_radius")]
    (inside,) = opts.controls[("toggle", "paint_inside")]
    (fill,) = opts.controls[("action", "Fill holes")]
    QTest.keyClick(win.canvas, Qt.Key_V)
    assert not spin.isEnabled() and not fill.isEnabled() and "Select" in opts.hint.text()
    QTest.keyClick(win.canvas, Qt.Key_B)
    assert spin.isEnabled() and inside.isEnabled() and fill.isEnabled()
    qtbot.mouseClick(spin, Qt.LeftButton)
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin.lineEdit(), "25")
    QTest.keyClick(spin.lineEdit(), Qt.Key_Return)
    assert win.state.brush_radius == 25.0
    slider.setValue(100)
    assert win.state.brush_radius == 500.0 and spin.value() == 500
    win.state.set(brush_radius=12.0)  # e.g. the [ ] keys: the bar follows
    assert spin.value() == 12
    qtbot.mouseClick(inside, Qt.LeftButton)
    assert win.state.paint_inside is True
    QTest.keyClick(win.canvas, Qt.Key_E)  # the eraser declares the same size and toggle
    assert inside.isEnabled() and inside.isChecked() and not fill.isEnabled()


def test_delete_class_only_when_unused(win, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from app.core.commands import SetSchema
    from app.core.schema import LabelClass

    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: shown.append(a[2]))
    doc = win.state.doc
    used = next(c for c in doc.schema.classes if doc.class_usage(c.id))
    win.labels.choose(used.id)
    win.labels.delete_class()
    assert shown and "used by" in shown[0] and doc.schema.class_by_id(used.id)
    doc.execute(SetSchema(doc.schema.with_class(LabelClass("unused", id="u"))))
    win.labels.choose("u")
    win.labels.delete_class()
    assert doc.schema.class_by_id("u") is None
    doc.undo()
    assert doc.schema.class_by_id("u") is not None


def test_unexpected_errors_go_to_a_log_and_a_plain_message(qapp, tmp_path, monkeypatch):
    import sys

    from PySide6.QtWidgets import QMessageBox

    from app.widgets.app import install_error_hook

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    old = sys.excepthook
    try:
        log = install_error_hook(tmp_path / "vellum.log")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = old
    assert "Traceback" in log.read_text() and "boom" in log.read_text()
    assert shown and "boom" in shown[0] and "Traceback" not in shown[0]


def test_export_and_import_coco_from_the_window(win, qtbot, tmp_path, monkeypatch):
    import json

    from app.widgets import exchange

    errors = []
    monkeypatch.setattr(win, "error", errors.append)
    doc = win.state.doc
    out = tmp_path / "demo_coco.json"
    exchange.export_coco(win, out)
    qtbot.waitUntil(out.exists, timeout=20000)
    data = json.loads(out.read_text())
    stills = [i for i in data["images"] if "frame_index" not in i]
    assert len(data["annotations"]) > 20 and len(stills) == 6  # the volume is not COCO
    first = {k: data["images"][0][k] for k in ("id", "file_name", "width", "height")}
    foreign = {"images": [first], "categories": [{"id": 1, "name": "imported"}],
               "annotations": [{"id": 1, "image_id": first["id"], "category_id": 1,
                                "bbox": [5, 6, 20, 10], "segmentation": [], "iscrowd": 0}]}
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(foreign))
    root = next(p for p in (doc.folder / "images", doc.folder)
                if (p / first["file_name"]).is_file())  # the folder file_name is relative to
    exchange.import_coco(win, path, root)
    qtbot.waitUntil(lambda: bool(errors or doc.schema.class_by_name("imported")),
                    timeout=20000)
    assert errors == []
    media = next(m for m in doc.media() if doc.media_path(m) == root / first["file_name"])
    assert any(a.shape.bbox() == (5, 6, 20, 10) for a in doc.annotations(media.id))
    doc.undo()
    assert doc.schema.class_by_name("imported") is None
