"""A segment's DICOM codes (segmented property category and type): set in the Segments panel
with one undo step, kept in the project, written into a DICOM-SEG export (read back by
highdicom) and taken back from a SEG on import; an uncoded segment exports as Tissue."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.commands import ModifyLabelMap, Put
from app.core.document import Document
from app.core.labelmap import LabelMapInfo, Mode, Segment, coded
from app.io import formats
from app.io.ingest import add_media
from test_volume_support import make_series

hd = pytest.importorskip("highdicom")

LIVER = (("123037004", "SCT", "Anatomical Structure"), ("10200004", "SCT", "Liver"))


def test_codes_are_checked_and_survive_json_and_the_store(tmp_path):
    with pytest.raises(ValueError):
        coded((("1", "SCT"), ("2", "SCT", "x")))
    with pytest.raises(ValueError):
        Segment(1, "liver", codes=(("1", "", "x"), ("2", "SCT", "x")))
    seg = Segment(1, "liver", "#aa0000", codes=LIVER)
    assert Segment.from_json(seg.to_json()) == seg
    assert "codes" not in Segment(2, "plain").to_json()  # old files stay as they were
    assert Segment.from_json({"value": 3, "name": "x", "codes": {"category": [1]}}).codes is None
    doc = Document.create(tmp_path / "p")
    make_series(tmp_path / "dicom", n=4, rows=8, cols=8)
    add_media(doc, [tmp_path / "dicom"])
    (vol,) = doc.media()
    k, j, i = vol.volume_shape
    doc.execute(Put((LabelMapInfo(vol.id, k, j, i, "uint8", segments=(seg,)),)))
    doc.close()
    with Document.open(tmp_path / "p") as again:
        (info,) = again.labelmaps(vol.id)
        assert info.segments[0].codes == LIVER


def _seg_project(tmp_path):
    make_series(tmp_path / "dicom" / "s1", n=6, rows=10, cols=12)
    doc = Document.create(tmp_path / "p")
    add_media(doc, [tmp_path / "dicom"])
    (vol,) = doc.media()
    k, j, i = vol.volume_shape
    info = LabelMapInfo(vol.id, k, j, i, "uint8", name="Organs", segments=(
        Segment(1, "liver", "#aa0000", codes=LIVER), Segment(2, "blob", "#00aa00")))
    doc.execute(Put((info,)))
    doc.execute(ModifyLabelMap(info.id, (1, 2, 2), np.ones((2, 3, 3), bool), Mode.ADD, 1))
    doc.execute(ModifyLabelMap(info.id, (4, 0, 0), np.ones((1, 2, 2), bool), Mode.ADD, 2))
    return doc, vol


def test_a_dicom_seg_carries_the_codes_and_brings_them_back(tmp_path):
    doc, vol = _seg_project(tmp_path)
    fmt = formats.formats()["dicom-seg"]
    out = tmp_path / "seg"
    fmt.export_to(doc, out)
    (path,) = out.glob("*.dcm")
    seg = hd.seg.segread(str(path))
    got = {}
    for n in seg.segment_numbers:
        d = seg.get_segment_description(n)
        got[d.segment_label] = tuple((c.value, c.scheme_designator, c.meaning) for c in (
            d.segmented_property_category, d.segmented_property_type))
    assert got["liver"] == LIVER
    assert got["blob"] == (("85756007", "SCT", "Tissue"),) * 2  # uncoded: Tissue
    doc.close()
    fresh = Document.create(tmp_path / "q")
    add_media(fresh, [tmp_path / "dicom"])
    (vol2,) = fresh.media()
    formats.get("dicom-seg").import_from(fresh, path)
    (info,) = fresh.labelmaps(vol2.id)
    by_name = {s.name: s.codes for s in info.segments}
    assert by_name["liver"] == LIVER
    assert by_name["blob"] == (("85756007", "SCT", "Tissue"),) * 2
    fresh.close()


def test_the_segments_panel_sets_the_codes_in_one_undo_step(qtbot, tmp_path, monkeypatch):
    from app.widgets.volume.segment_codes import SegmentCodes
    from app.widgets.volume.segments_panel import SegmentsPanel

    pytest.importorskip("pytestqt")
    from test_volume_mode import VolumeScene
    from app.demo_media import write_demo_ct

    s = VolumeScene(qtbot, tmp_path, write_demo_ct(tmp_path / "ct"))
    try:
        panel: SegmentsPanel = s.presenter.panel
        assert panel.add("liver") is not None
        (seg,) = panel.segments()
        panel.table.selectRow(0)
        dialog = SegmentCodes(seg, panel)
        dialog.preset.setCurrentIndex(next(i for i in range(dialog.preset.count())
                                           if dialog.preset.itemText(i).startswith("Liver")))
        assert dialog.codes() == LIVER
        dialog.deleteLater()
        monkeypatch.setattr(SegmentCodes, "exec", lambda self: (
            self.preset.setCurrentIndex(2), SegmentCodes.DialogCode.Accepted)[1])
        panel.codes_dialog()
        (seg,) = panel.segments()
        assert seg.codes == LIVER
        assert "Liver" in panel.table.item(0, 2).toolTip()
        assert s.doc.undo_label == "Edit segment"
        s.doc.undo()
        (seg,) = panel.segments()
        assert seg.codes is None
    finally:
        s.win.close()
