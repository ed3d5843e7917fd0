"""Bad input: what can be loaded is loaded, every problem is one sentence naming its file,
and no output is ever half-written or written over an input."""

from __future__ import annotations

import numpy as np
import pytest
from test_volume_support import expected_volume, make_series, transcode_series

from app.cli import main
from app.core.errors import BadInputError
from app.io.volume import load_volume, scan_series


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_corrupt_slice_header(tmp_path):
    files = make_series(tmp_path / "ct")
    files[4].write_bytes(files[4].read_bytes()[:700])  # cut inside the header
    volume = load_volume(tmp_path / "ct")
    full = expected_volume()
    kept = [k for k in range(8) if k != 4]
    np.testing.assert_array_equal(volume.array[kept], full[kept])
    assert any(files[4].name in w and "damaged or cut short" in w for w in volume.warnings)
    assert any("missing between" in w for w in volume.warnings)  # and its plane is kept


def test_corrupt_slice_pixels(tmp_path):
    files = make_series(tmp_path / "ct")
    files[2].write_bytes(files[2].read_bytes()[:-300])  # pixel data cut short
    volume = load_volume(tmp_path / "ct")
    np.testing.assert_array_equal(volume.array[3:], expected_volume()[3:])
    [warning] = volume.warnings
    assert str(files[2]) in warning and "could not be decoded" in warning and "k=2" in warning
    assert np.all(volume.array[2] == volume.array.min())


def test_truncated_jpeg2000_file(tmp_path):
    src = make_series(tmp_path / "src")
    files = transcode_series(src, tmp_path / "j2k", "gdcm:JPEG2000Lossless")
    files[5].write_bytes(files[5].read_bytes()[: len(files[5].read_bytes()) // 2])
    volume = load_volume(tmp_path / "j2k")
    np.testing.assert_array_equal(volume.array[:5], expected_volume()[:5])
    assert any(str(files[5]) in w and "cut short" in w for w in volume.warnings)


def test_non_dicom_files_are_named_and_skipped(tmp_path):
    make_series(tmp_path / "ct", n=3)
    (tmp_path / "ct" / "notes.txt").write_text("not an image\n")
    (tmp_path / "ct" / "DIRFILE").write_bytes(b"\x00" * 50)
    found = scan_series(tmp_path / "ct")
    assert [s.is_image for s in found] == [True, False]
    assert sorted(found[-1].warnings) == [f"{tmp_path / 'ct' / 'DIRFILE'} is not a DICOM file.",
                                          f"{tmp_path / 'ct' / 'notes.txt'} is not a DICOM file."]
    assert load_volume(tmp_path / "ct").array.shape == (3, 16, 12)
    with pytest.raises(BadInputError, match="notes.txt holds no image series .*not a DICOM"):
        load_volume(tmp_path / "ct" / "notes.txt")


def test_convert_errors_are_one_sentence_and_write_nothing(tmp_path, capsys):
    (tmp_path / "junk.dcm").write_bytes(b"DICM" * 100)
    code, out, err = _run(capsys, "volume", "convert", str(tmp_path / "junk.dcm"),
                          str(tmp_path / "out.nii.gz"))
    assert code == 1 and out == ""
    assert err.startswith("vellum: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "junk.dcm" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "junk.dcm"]


def test_convert_never_writes_over_an_input(tmp_path, capsys):
    files = make_series(tmp_path / "ct", n=2)
    target = files[0].with_name("x.nii")
    assert main(["volume", "convert", str(tmp_path / "ct"), str(target)]) == 0
    before = target.read_bytes()
    code, _, err = _run(capsys, "volume", "convert", str(target), str(target))
    assert code == 1 and "Refusing to write" in err and "input file" in err
    assert target.read_bytes() == before
    link = tmp_path / "link.nii"  # a hard link to a DICOM slice: the same file
    link.hardlink_to(files[1])
    slice_bytes = files[1].read_bytes()
    code, _, err = _run(capsys, "volume", "convert", str(tmp_path / "ct"), str(link))
    assert code == 1 and "it is an input file" in err
    assert files[1].read_bytes() == slice_bytes


def test_failed_convert_keeps_the_previous_output(tmp_path, capsys):
    files = make_series(tmp_path / "ct", n=2)
    out = tmp_path / "ct.nii.gz"
    assert main(["volume", "convert", str(tmp_path / "ct"), str(out)]) == 0
    before = out.read_bytes()
    for f in files:  # every slice's pixels cut short: nothing to convert
        f.write_bytes(f.read_bytes()[:-100])
    code, _, err = _run(capsys, "volume", "convert", str(tmp_path / "ct"), str(out),
                        "--overwrite")
    assert code == 1 and "None of the 2 image(s)" in err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct", "ct.nii.gz"]  # no temp left


def test_unknown_series_uid_lists_the_known_ones(tmp_path, capsys):
    make_series(tmp_path / "ct", n=2, series_uid="1.2.3.4")
    code, _, err = _run(capsys, "volume", "convert", str(tmp_path / "ct"),
                        str(tmp_path / "o.nii"), "--series", "9.9")
    assert code == 1 and "no series 9.9" in err and "1.2.3.4" in err


def test_colour_and_non_image_objects_are_refused_in_one_sentence(shared_data, tmp_path,
                                                                   capsys):
    palette = shared_data / "dicom" / "pydicom_test_files" / "examples_palette.dcm"
    code, _, err = _run(capsys, "volume", "convert", str(palette), str(tmp_path / "p.nii"))
    assert code == 1 and "colour image (PALETTE COLOR)" in err and err.count("\n") == 1
    seg = shared_data / "dicom" / "pydicom_test_files" / "liver_1frame.dcm"
    code, _, err = _run(capsys, "volume", "convert", str(seg), str(tmp_path / "s.nii"))
    assert code == 1 and "segmentation (SEG)" in err
    assert list(tmp_path.iterdir()) == []
