"""``vellum volume info`` and ``vellum volume convert``, as scripts call them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_volume_support import expected_volume, make_enhanced, make_series

from app.cli import main


def _json(capsys, *argv: str):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_info_json_for_a_study_folder(tmp_path, capsys):
    make_series(tmp_path / "study" / "ax", series_uid="1.2.826.0.1.1", description="Axial",
                skip=(5,))
    make_enhanced(tmp_path / "study" / "mf.dcm")
    (tmp_path / "study" / "readme.txt").write_text("hello")
    rows = _json(capsys, "volume", "info", str(tmp_path / "study"), "--json")
    assert [r["description"] for r in rows] == ["Axial", "Enhanced CT",
                                                "files that could not be read"]
    ax = rows[0]
    assert ax["dims"] == [12, 16, 8]  # (i, j, k): columns, rows, slices
    assert ax["spacing"] == pytest.approx([0.7, 0.5, 2.0])
    assert ax["origin"] == pytest.approx([-10.0, -20.0, 30.0])
    assert ax["direction"] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert ax["modality"] == "CT" and ax["series_uid"] == "1.2.826.0.1.1"
    assert ax["is_image"] is True and len(ax["warnings"]) == 1
    assert "missing" in ax["warnings"][0]
    assert rows[1]["dims"] == [12, 16, 8] and rows[1]["spacing"] == pytest.approx([0.8, 0.6, 2.5])
    unreadable = rows[2]
    assert unreadable["series_uid"] is None and unreadable["dims"] is None
    assert unreadable["warnings"] == [f"{tmp_path / 'study' / 'readme.txt'} is not a DICOM file."]


def test_info_summary_and_help(tmp_path, capsys):
    make_series(tmp_path / "ct", description="Head CT")
    assert main(["volume", "info", str(tmp_path / "ct")]) == 0
    out = capsys.readouterr().out
    assert "Head CT" in out and "12x16x8 voxels" in out and "0.7 x 0.5 x 2 mm" in out
    with pytest.raises(SystemExit):
        main(["volume", "info", "--help"])
    text = capsys.readouterr().out
    assert "[i, j, k]" in text and "LPS" in text


def test_convert_named_series_and_nifti_volume(tmp_path, capsys):
    make_series(tmp_path / "s" / "a", n=6, series_uid="1.2.3.1")
    make_series(tmp_path / "s" / "b", n=3, series_uid="1.2.3.2", intercept=0.0)
    assert main(["volume", "convert", str(tmp_path / "s"), str(tmp_path / "b.nii.gz"),
                 "--series", "1.2.3.2"]) == 0
    assert "b.nii.gz" in capsys.readouterr().out
    import nibabel as nib

    img = nib.load(str(tmp_path / "b.nii.gz"))
    np.testing.assert_array_equal(np.asarray(img.dataobj).T, expected_volume(n=3, intercept=0))
    data = np.arange(2 * 3 * 4 * 2, dtype=np.int16).reshape(2, 3, 4, 2)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(tmp_path / "4d.nii"))
    assert main(["volume", "convert", str(tmp_path / "4d.nii"), str(tmp_path / "t1.nii"),
                 "--volume", "1"]) == 0
    np.testing.assert_array_equal(np.asarray(nib.load(str(tmp_path / "t1.nii")).dataobj),
                                  data[..., 1])
    assert "(volume 1 of 2)" in capsys.readouterr().out
    rows = _json(capsys, "volume", "info", str(tmp_path / "4d.nii"), "--json")
    assert rows[0]["dims"] == [2, 3, 4] and rows[0]["volumes"] == 2
    assert rows[0]["source"] == "nifti"


def test_a_scanned_series_reloads_from_its_project_record(tmp_path):
    from app.io.volume import load_source, scan_series, volume_source

    make_series(tmp_path / "s" / "a", n=5, series_uid="1.2.3.1", description="first")
    make_series(tmp_path / "s" / "b", n=3, series_uid="1.2.3.2", description="second")
    second = next(s for s in scan_series(tmp_path / "s") if s.uid == "1.2.3.2")
    source = volume_source(second)
    assert (source.format, source.series_uid, source.description) == ("dicom", "1.2.3.2",
                                                                      "second")
    volume = load_source(tmp_path / "s", source)
    assert volume.geometry == second.geometry and volume.description == "second"
