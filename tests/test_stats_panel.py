"""The Statistics panel of the volume mode (issue 20, item 4) in the real window: a segment
painted with the brush on the demo CT, its row equal to ``vellum stats``'s figures
(:func:`app.io.volume.stats.project_statistics`, SimpleITK) for that label map; Refresh after
another stroke counts the new voxels; edits refresh by themselves when Auto is on; Copy and
Export CSV (atomic, never over the project)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget

from app.core.errors import VellumError

pytest.importorskip("pytestqt")
pytest.importorskip("SimpleITK")

from test_volume_mode import VolumeScene  # noqa: E402  (the scene of the volume tests)


@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory):
    from app.demo_media import write_demo_ct

    return write_demo_ct(tmp_path_factory.mktemp("dicom") / "ct")


@pytest.fixture
def vs(qtbot, tmp_path, ct_folder):
    s = VolumeScene(qtbot, tmp_path, ct_folder)
    yield s
    s.win.close()


def _settled(s):
    p = s.presenter.statistics
    s.qtbot.waitUntil(lambda: not p.running() and not p._stale() and bool(p.rows), timeout=20000)
    return p


def _paint(s, points):
    s.pane_drag("axial", points)
    return s.labels()


def test_the_panel_shows_simpleitks_figures_and_refreshes_after_a_stroke(vs, tmp_path):
    from app.io.volume.stats import csv_text, project_statistics

    panel = vs.presenter.statistics
    dock = vs.win.findChild(QDockWidget, "mode_dock_statistics")
    assert dock is not None and dock.widget() is panel
    vs.key(Qt.Key.Key_1)
    vs.key(Qt.Key.Key_B)
    vs.panel.radius.setValue(3.0)  # mm
    lab = _paint(vs, [(100.5, 55.5), (112.5, 62.5)])  # across the lesion
    n = int(lab.sum())
    assert n > 0
    _settled(vs)
    (row,) = panel.rows
    (ref,) = project_statistics(vs.doc)  # vellum stats: reads the series again, SimpleITK
    assert row.voxels == ref.voxels == n
    for f in ("volume_ml", "mean", "sd", "min", "max", "median", "feret_mm", "surface_mm2"):
        assert getattr(row, f) == pytest.approx(getattr(ref, f), rel=1e-9, abs=1e-9), f
    assert row.centroid_lps == pytest.approx(ref.centroid_lps, abs=1e-9)
    assert (row.segment, row.value, row.labelmap) == (ref.segment, ref.value, ref.labelmap)
    t = panel.table
    assert t.rowCount() == 1 and t.item(0, 0).text() == ref.segment
    assert t.item(0, 2).text() == f"{n:,}" and t.item(0, 4).text() == f"{ref.mean:.2f}"
    assert "up to date" in panel.title.text()

    # Refresh (Auto off): a second stroke changes nothing until Refresh is pressed
    panel.auto.setChecked(False)
    lab = _paint(vs, [(40.5, 100.5), (60.5, 100.5)])
    n2 = int(lab.sum())
    assert n2 > n
    QApplication.processEvents()
    assert panel.rows[0].voxels == n and "out of date" in panel.title.text()
    vs.click(panel.refresh_button)
    _settled(vs)
    assert panel.rows[0].voxels == n2 and panel.table.item(0, 2).text() == f"{n2:,}"

    # Auto on: an undo refreshes by itself (coalesced, in the background)
    panel.auto.setChecked(True)
    vs.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    vs.qtbot.waitUntil(lambda: bool(panel.rows) and panel.rows[0].voxels == n
                       and not panel.running(), timeout=20000)

    # Copy: tab-separated with the header
    vs.click(panel.copy_button)
    copied = QApplication.clipboard().text().splitlines()
    assert copied[0].split("\t")[:3] == ["Segment", "Value", "Voxels"]
    assert copied[1].split("\t")[:3] == [ref.segment, str(ref.value), str(n)]

    # Export CSV: vellum stats --csv's table, written once, never over a file or the project
    out = tmp_path / "stats.csv"
    assert panel.export_csv(out) == out
    (ref,) = project_statistics(vs.doc)
    assert out.read_text(encoding="utf-8") == csv_text([ref])
    with pytest.raises(VellumError):
        panel.export_csv(out)  # exists: only with overwrite
    panel.export_csv(out, overwrite=True)
    with pytest.raises(VellumError):
        panel.export_csv(vs.doc.path, overwrite=True)  # the project itself: never
    assert not list(tmp_path.glob(".stats.csv.*"))  # no temporary file left


def test_no_label_map_says_so_and_leaving_the_volume_detaches(vs):
    panel = vs.presenter.statistics
    vs.qtbot.waitUntil(lambda: not panel.running(), timeout=5000)
    assert panel.table.rowCount() == 0 and "No label map" in panel.title.text()
    volume_mode = vs.presenter
    vs.key(Qt.Key.Key_Home)  # the photo: the volume mode leaves, its docks with it
    vs.qtbot.waitUntil(lambda: volume_mode.session is None, timeout=5000)
    assert panel.session is None and not panel.isEnabled()
    assert volume_mode.stats_dock is None
    vs.qtbot.waitUntil(lambda: vs.win.findChild(QDockWidget, "mode_dock_statistics") is None,
                       timeout=5000)  # deleted later
