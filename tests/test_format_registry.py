"""One format registry (app.io.formats): ``vellum import|export FORMAT`` and the window's
File ▸ Import / Export submenus are built from one table. The worked example: a format added
in one file (tests/csv_boxes_format.py, a minimal CSV of boxes) and named in one line
($VELLUM_FORMATS) appears in the CLI and both File menus, round-trips through the CLI, and
exports from the Export menu with a real click. And File ▸ Export ▸ NIfTI writes the label
maps of a volume project (before the registry the window exported only COCO)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from factories import project_with_every_shape
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog

from app.core.document import Document
from app.io import formats

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
EXAMPLE = "csv_boxes_format"

pytest.importorskip("pytestqt")


def _env() -> dict[str, str]:
    env = dict(os.environ, VELLUM_FORMATS=EXAMPLE)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(REPO), env.get("PYTHONPATH", "")])
    return env


def _vellum(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, argv)], capture_output=True,
                          text=True, cwd=REPO, env=_env(), timeout=120)


def _boxes(doc: Document) -> list[tuple[str, tuple[float, ...], str]]:
    names = {c.id: c.name for c in doc.schema.classes}
    return sorted((m.path, a.shape.bbox(), names[a.class_id]) for m in doc.media()
                  for a in doc.annotations(m.id) if a.kind == "box")


# ------------------------------------------------------------------ the table itself
BUILT_IN = ["coco", "nifti", "mot", "yolo", "voc", "cvat", "labelme", "dicom-seg"]
MENU_TEXTS = ["COCO JSON…", "NIfTI label maps…", "MOT Challenge CSV…", "YOLO dataset…",
              "Pascal VOC…", "CVAT XML…", "labelme JSON…", "DICOM SEG…"]


def test_the_built_in_formats_are_the_table(monkeypatch):
    monkeypatch.delenv("VELLUM_FORMATS", raising=False)
    table = formats.formats()
    assert list(table) == BUILT_IN
    assert [f.name for f in formats.readers()] == [f.name for f in formats.writers()]
    assert table["nifti"].holds == {"labelmaps"} and table["mot"].holds == {"tracks"}
    assert table["nifti"].write_target == "folder" and table["coco"].suffix == ".json"
    monkeypatch.setenv("VELLUM_FORMATS", EXAMPLE)
    assert list(formats.formats()) == BUILT_IN + ["csv-boxes"]


def test_a_plugin_that_cannot_load_is_left_out_in_one_sentence(monkeypatch, capsys):
    monkeypatch.setenv("VELLUM_FORMATS", "no_such_format_module")
    assert list(formats.formats()) == BUILT_IN
    err = capsys.readouterr().err
    assert "no_such_format_module" in err and "left out" in err and err.count("\n") == 1


# ------------------------------------------------------------------ the CLI
def test_the_example_appears_in_the_cli_help():
    for verb, metavar in (("export", "OUT.csv"), ("import", "FILE.csv")):
        r = _vellum(verb, "--help")
        assert r.returncode == 0, r.stderr
        assert "csv-boxes" in r.stdout and "image,x,y,w,h,class" in r.stdout
        r = _vellum(verb, "csv-boxes", "--help")
        assert r.returncode == 0 and f"PROJECT {metavar}" in r.stdout
    assert "--overwrite" in _vellum("export", "csv-boxes", "--help").stdout
    plain = subprocess.run([sys.executable, "-m", "app", "export", "--help"], cwd=REPO,
                           capture_output=True, text=True, timeout=120,
                           env={k: v for k, v in os.environ.items() if k != "VELLUM_FORMATS"})
    assert "csv-boxes" not in plain.stdout  # one line adds it; nothing else does


def test_the_example_round_trips_through_the_cli(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    before = _boxes(doc)
    doc.close()
    project, out = tmp_path / "proj", tmp_path / "boxes.csv"
    r = _vellum("export", "csv-boxes", project, out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == f"Wrote {out}: {len(before)} boxes."
    assert "note: 8 annotation(s) that are not boxes were left out" in r.stdout
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["image", "x", "y", "w", "h", "class"] and len(rows) == 1 + len(before)
    assert rows[1] == ["images/img0.png", "3.5", "4.25", "20.0", "11.5", "car"]
    again = _vellum("export", "csv-boxes", project, out)  # the output rule holds for it too
    assert again.returncode == 1 and "give --overwrite" in again.stderr
    assert _vellum("export", "csv-boxes", project, out, "--overwrite").returncode == 0
    r = _vellum("import", "csv-boxes", project, out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"Imported {len(before)} boxes from {out}"
    with Document.open(project) as doc:
        assert _boxes(doc) == sorted(before * 2)  # the same boxes, a second time
        assert len(doc.schema.classes) == 4  # onto the classes of those names


# ------------------------------------------------------------------ the window
def _window(qtbot, tmp_path, project: Path):
    from app.widgets.main_window import MainWindow

    w = MainWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    assert w.open_project(project)
    return w


def _submenu(win, title: str):
    file_menu = next(a for a in win.menuBar().actions() if a.text() == "&File").menu()
    return next(a for a in file_menu.actions() if a.text() == title).menu()


def _click_menu_item(qtbot, win, submenu_title: str, item_text: str) -> None:
    """As a user: click File on the menu bar, click the submenu, click the item."""
    bar = win.menuBar()
    file_action = next(a for a in bar.actions() if a.text() == "&File")
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(file_action).center())
    file_menu = file_action.menu()
    qtbot.waitUntil(file_menu.isVisible, timeout=5000)
    sub_action = next(a for a in file_menu.actions() if a.text() == submenu_title)
    QTest.mouseClick(file_menu, Qt.MouseButton.LeftButton,
                     pos=file_menu.actionGeometry(sub_action).center())
    sub = sub_action.menu()
    qtbot.waitUntil(sub.isVisible, timeout=5000)
    item = next(a for a in sub.actions() if a.text() == item_text)
    QTest.mouseClick(sub, Qt.MouseButton.LeftButton, pos=sub.actionGeometry(item).center())


def test_the_example_is_in_both_file_menus_and_exports_by_a_click(qtbot, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("VELLUM_FORMATS", EXAMPLE)
    doc, _ = project_with_every_shape(tmp_path)
    before = _boxes(doc)
    doc.close()
    win = _window(qtbot, tmp_path, tmp_path / "proj")
    try:
        for title in ("&Import", "&Export"):
            texts = [a.text() for a in _submenu(win, title).actions()]
            assert texts == MENU_TEXTS + ["CSV boxes…"], title
        errors: list[str] = []
        monkeypatch.setattr(win, "error", errors.append)
        out = tmp_path / "from_window"  # typed without the extension: .csv is added
        asked: list[tuple] = []

        def save_dialog(*args, **kwargs):
            asked.append(args)
            return str(out), ""

        monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
        _click_menu_item(qtbot, win, "&Export", "CSV boxes…")
        written = tmp_path / "from_window.csv"
        try:  # the export runs as a window job (slow on a loaded machine: be patient)
            qtbot.waitUntil(lambda: (written.exists() and not win.jobs.running())
                            or bool(errors), timeout=60000)
        except Exception:
            raise AssertionError(f"no export after 60 s: file {written.exists()}, jobs "
                                 f"{[j.label for j in win.jobs.running()]}, errors {errors}, "
                                 f"dialog asked {asked}") from None
        assert errors == []
        assert asked[0][1] == "Export CSV boxes" and asked[0][3] == "CSV boxes (*.csv)"
        assert len(list(csv.reader(written.open()))) == 1 + len(before)
        qtbot.waitUntil(lambda: "boxes" in win.statusBar().currentMessage(), timeout=5000)
        assert "left out" in win.statusBar().currentMessage()  # the note, beside the count
    finally:
        win.close()


def _volume_project(tmp_path: Path) -> tuple[Path, list[tuple[int, int, int]]]:
    from test_volume_support import make_series

    from app.core.commands import ModifyLabelMap, Put, SetSchema
    from app.core.labelmap import LabelMapInfo, Mode, Segment
    from app.core.schema import LabelClass, LabelSchema
    from app.io.ingest import add_media

    make_series(tmp_path / "dicom" / "s1", n=6, rows=10, cols=12)
    painted = [(1, 2, 3), (4, 5, 6)]  # (k, j, i)
    with Document.create(tmp_path / "vol") as doc:
        add_media(doc, [tmp_path / "dicom"])
        (vol,) = doc.media()
        doc.execute(SetSchema(LabelSchema((LabelClass("lesion", "#ff0000"),))))
        k, j, i = vol.volume_shape
        info = LabelMapInfo(vol.id, k, j, i, "uint8", name="Lesions",
                            segments=(Segment(1, "lesion", "#ff0000",
                                              doc.schema.classes[0].id),))
        doc.execute(Put((info,)))
        for at in painted:
            doc.execute(ModifyLabelMap(info.id, at, np.ones((1, 1, 1), bool), Mode.ADD, 1))
        return doc.path, painted


def test_file_export_nifti_writes_the_label_maps_of_a_volume_project(qtbot, tmp_path,
                                                                     monkeypatch):
    import nibabel as nib
    from tools_scene import in_dialog

    project, painted = _volume_project(tmp_path)
    win = _window(qtbot, tmp_path, project)
    try:
        errors: list[str] = []
        monkeypatch.setattr(win, "error", errors.append)
        out = tmp_path / "nifti_out"
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
        seen: list[str] = []

        def accept(dialog) -> None:  # the options dialog: with volumes, then OK
            seen.append(dialog.windowTitle())
            box = dialog.fields["with_volumes"]
            QTest.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
            assert box.isChecked()
            ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
            QTest.mouseClick(ok, Qt.MouseButton.LeftButton)

        in_dialog(qtbot, lambda: _click_menu_item(qtbot, win, "&Export",
                                                  "NIfTI label maps…"), accept)
        assert seen == ["Export NIfTI label maps"]
        qtbot.waitUntil(lambda: bool(errors) or (len(list(out.glob("*.nii.gz"))) == 2
                                                 and not win.jobs.running()), timeout=30000)
        assert errors == []
        (labels,) = [p for p in out.glob("*_Lesions.nii.gz")]
        assert labels.with_name(labels.name.replace(".nii.gz", ".json")).is_file()
        data = np.asarray(nib.load(str(labels)).dataobj)  # (i, j, k)
        assert sorted(map(tuple, np.argwhere(data > 0))) == sorted((i, j, k)
                                                                   for k, j, i in painted)
        qtbot.waitUntil(lambda: "label map(s)" in win.statusBar().currentMessage(),
                        timeout=5000)
        # a second export into the same folder asks before replacing, then replaces
        from PySide6.QtWidgets import QMessageBox

        questions: list[str] = []

        def yes(*args, **kwargs):
            questions.append(args[2])
            return QMessageBox.StandardButton.Yes

        monkeypatch.setattr(QMessageBox, "question", yes)
        stamp = labels.stat().st_mtime_ns
        in_dialog(qtbot, lambda: _click_menu_item(qtbot, win, "&Export",
                                                  "NIfTI label maps…"), accept)
        qtbot.waitUntil(lambda: bool(errors) or labels.stat().st_mtime_ns != stamp,
                        timeout=30000)
        assert errors == [] and len(questions) == 1 and "already exists" in questions[0]
    finally:
        win.jobs.wait(10000)
        win.close()


def test_file_import_coco_asks_the_images_folder_in_its_options_dialog(qtbot, tmp_path,
                                                                      monkeypatch):
    from tools_scene import in_dialog

    from app.cli import main

    doc, images = project_with_every_shape(tmp_path)
    doc.close()
    exported = tmp_path / "labels.json"
    assert main(["export", "coco", str(tmp_path / "proj"), str(exported)]) == 0
    Document.create(tmp_path / "empty").close()
    win = _window(qtbot, tmp_path, tmp_path / "empty")
    try:
        errors: list[str] = []
        monkeypatch.setattr(win, "error", errors.append)
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(exported), ""))

        def fill(dialog) -> None:  # the folder the file names are relative to, then OK
            line = dialog.fields["images"].line
            QTest.mouseClick(line, Qt.MouseButton.LeftButton)
            QTest.keyClicks(line, str(images))
            QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok),
                             Qt.MouseButton.LeftButton)

        in_dialog(qtbot, lambda: _click_menu_item(qtbot, win, "&Import", "COCO JSON…"), fill)
        doc = win.state.doc
        qtbot.waitUntil(lambda: bool(errors) or len(doc.media()) == 2, timeout=20000)
        assert errors == []
        assert sum(len(doc.annotations(m.id)) for m in doc.media()) == 9
        qtbot.waitUntil(lambda: "Imported 9 annotations" in win.statusBar().currentMessage(),
                        timeout=5000)
    finally:
        win.jobs.wait(10000)
        win.close()
