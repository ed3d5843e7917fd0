"""Volumes a user can trust (issue 14): impossible NIfTI headers, absurd sidecars, FIFOs and
devices, label maps that are really images, damaged NIfTI files and DICOM slices (noted by
``add``, reported by ``validate``, marked in the window) and series descriptions kept out of
every title, file name and export. The CLI runs as a user runs it, in a subprocess."""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_volume_support import PATIENT, make_series

GEOMETRY_AFFINE = np.diag([-0.8, -0.9, 2.0, 1.0])  # RAS affine of the small test volumes
FAKE_NAME = "Quixote^Alonso"  # what a site types into SeriesDescription


def vellum(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def assert_one_sentence(result: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 1, no traceback, no library chatter: one line on stderr holding ``words``."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray = GEOMETRY_AFFINE) -> Path:
    import nibabel as nib

    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def patched(src: Path, dst: Path, offset: int, fmt: str, *values) -> Path:
    """A copy of ``src`` with one header field overwritten."""
    data = bytearray(src.read_bytes())
    struct.pack_into(fmt, data, offset, *values)
    dst.write_bytes(bytes(data))
    return dst


def project_with_volume(tmp_path: Path, shape=(30, 32, 32)) -> tuple[Path, Path]:
    """A project (made through the library: setup only) holding one NIfTI volume of
    ``shape`` (i, j, k); returns the project folder and the volume file."""
    from app.core.document import Document
    from app.io.ingest import add_media

    tmp_path.mkdir(parents=True, exist_ok=True)
    vol = write_nifti(tmp_path / "vol.nii.gz", np.zeros(shape, np.int16))
    with Document.create(tmp_path / "proj") as doc:
        assert add_media(doc, [vol]).added
    return tmp_path / "proj", vol


def labelmaps(project: Path) -> list:
    from app.core.document import Document

    with Document.open(project) as doc:
        return [lm for m in doc.media() for lm in doc.labelmaps(m.id)]


# --------------------------------------------------------------------- impossible headers
@pytest.fixture
def good_nifti(tmp_path) -> Path:
    return write_nifti(tmp_path / "good.nii", np.arange(4 * 5 * 6, dtype=np.int16)
                       .reshape(4, 5, 6))


def test_a_nifti_with_dim0_9_is_one_sentence_in_every_command(tmp_path, good_nifti):
    bad = patched(good_nifti, tmp_path / "dim9.nii", 40, "<h", 9)
    for args in (("volume", "info", bad), ("volume", "convert", bad, tmp_path / "o.nii.gz")):
        line = assert_one_sentence(vellum(*args), "dim9.nii", "9 dimensions")
        assert "sizeof_hdr" not in line
    assert not (tmp_path / "o.nii.gz").exists()
    project, _ = project_with_volume(tmp_path / "p", shape=(4, 5, 6))
    r = vellum("import", "nifti", project, bad)
    assert_one_sentence(r, "dim9.nii", "9 dimensions")
    assert labelmaps(project) == []
    r = vellum("add", project, bad)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "sizeof_hdr" not in r.stderr
    assert [ln for ln in r.stderr.splitlines() if ln] == [
        ln for ln in r.stderr.splitlines() if ln and "dim9.nii" in ln and "9 dimensions" in ln]


@pytest.mark.parametrize("field", ["negative_dim", "zero_dim", "nan_pixdim", "nan_sform"])
def test_impossible_nifti_headers_are_refused_in_one_sentence(tmp_path, good_nifti, field):
    if field == "negative_dim":
        bad = patched(good_nifti, tmp_path / "bad.nii", 42, "<h", -3)
    elif field == "zero_dim":
        bad = patched(good_nifti, tmp_path / "bad.nii", 44, "<h", 0)
    elif field == "nan_pixdim":  # no sform: the voxel size comes from pixdim
        bad = patched(good_nifti, tmp_path / "tmp.nii", 80, "<f", float("nan"))
        bad = patched(bad, tmp_path / "bad.nii", 252, "<2h", 0, 0)
    else:
        bad = patched(good_nifti, tmp_path / "bad.nii", 280, "<f", float("nan"))
    assert_one_sentence(vellum("volume", "info", bad), "bad.nii")  # a guard: old code did too


# --------------------------------------------------------------------- sidecars
def test_a_sidecar_nested_100000_deep_or_of_wrong_types_is_one_sentence(tmp_path):
    project, _ = project_with_volume(tmp_path, shape=(8, 8, 4))
    labels = np.zeros((8, 8, 4), np.uint8)
    labels[2:4, 2:4, 1] = 1
    lm = write_nifti(tmp_path / "seg.nii.gz", labels)
    sidecar = tmp_path / "seg.json"
    sidecar.write_text("[" * 100_000 + "]" * 100_000)
    assert_one_sentence(vellum("import", "nifti", project, lm), "seg.json", "nests deeper")
    for table in ({"segments": [{"value": "one", "name": 3}]}, {"segments": {"1": "a"}},
                  {"segments": [{"value": 1, "name": "Bone", "color": 7}]}, [1, 2]):
        sidecar.write_text(json.dumps(table))
        assert_one_sentence(vellum("import", "nifti", project, lm), "seg.json",
                            "not a usable segment table")
    assert labelmaps(project) == []
    sidecar.write_text(json.dumps({"segments": [{"value": 1, "name": "Bone"}]}))
    r = vellum("import", "nifti", project, lm)
    assert r.returncode == 0, r.stderr
    assert [s.name for s in labelmaps(project)[0].segments] == ["Bone"]


# --------------------------------------------------------------------- FIFOs and devices
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifos_and_devices_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.nii"
    os.mkfifo(fifo)
    for args in (("volume", "info", fifo), ("volume", "convert", fifo, tmp_path / "o.nii"),
                 ("volume", "info", "/dev/zero")):
        line = assert_one_sentence(vellum(*args, timeout=30), str(args[2]))
        assert "not a regular file" in line
    project, _ = project_with_volume(tmp_path / "p", shape=(8, 8, 4))
    assert_one_sentence(vellum("import", "nifti", project, fifo, timeout=30), "pipe.nii",
                        "named pipe")
    lm = write_nifti(tmp_path / "seg.nii.gz", np.ones((8, 8, 4), np.uint8))
    os.mkfifo(tmp_path / "seg.json")  # the segment table beside it
    assert_one_sentence(vellum("import", "nifti", project, lm, timeout=30), "seg.json",
                        "named pipe")
    assert labelmaps(project) == []
    series = tmp_path / "ct"
    make_series(series, n=3)
    os.mkfifo(series / "IM_fifo.dcm")  # a FIFO among the slices: skipped with a note
    r = vellum("volume", "info", series, "--json", timeout=30)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows[0]["dims"] == [12, 16, 3]
    assert any("IM_fifo.dcm" in w and "named pipe" in w for w in rows[-1]["warnings"])


# --------------------------------------------------------------------- label map = image
@pytest.mark.parametrize("values", [9_816, 30_000])
def test_a_label_map_with_thousands_of_values_is_refused_before_any_segment(tmp_path,
                                                                            values):
    shape = (32, 32, 30)  # 30,720 voxels
    project, _ = project_with_volume(tmp_path, shape=shape)
    data = (np.arange(np.prod(shape)) % values + 1).astype(np.uint16).reshape(shape)
    lm = write_nifti(tmp_path / "ct_as_labels.nii.gz", data)
    line = assert_one_sentence(vellum("import", "nifti", project, lm), "ct_as_labels.nii.gz",
                               f"{values} distinct values")
    assert "1000" in line
    assert labelmaps(project) == []


# --------------------------------------------------------------------- damaged NIfTI
def _cut_niftis(tmp_path: Path) -> tuple[Path, Path]:
    data = np.arange(40 * 40 * 30, dtype=np.int16).reshape(40, 40, 30) % 1000
    whole = write_nifti(tmp_path / "whole.nii", data)
    cut = tmp_path / "media" / "cut.nii"
    cut.parent.mkdir()
    cut.write_bytes(whole.read_bytes()[:-20_000])  # cut in the voxel data
    gz = tmp_path / "media" / "cutgz.nii.gz"
    packed = gzip.compress(whole.read_bytes())
    gz.write_bytes(packed[: len(packed) * 2 // 3])
    return cut, gz


def test_a_truncated_nifti_is_noted_by_add_and_reported_by_validate(tmp_path):
    cut, gz = _cut_niftis(tmp_path)
    assert vellum("new", tmp_path / "proj").returncode == 0
    r = vellum("add", tmp_path / "proj", cut, gz)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    notes = [ln for ln in r.stderr.splitlines() if ln.startswith("note:")]
    assert any("cut.nii is cut short" in n for n in notes), r.stderr
    assert any("cutgz.nii.gz is cut short" in n for n in notes), r.stderr
    assert "Added 2 volumes" in r.stdout
    r = vellum("validate", tmp_path / "proj")
    assert r.returncode == 3, r.stdout
    problems = [ln for ln in r.stdout.splitlines() if ln.startswith("- ")]
    assert any(cut.name in p and "cut short" in p for p in problems), r.stdout
    assert any(gz.name in p and "cut short" in p for p in problems), r.stdout
    for args in (("volume", "convert", cut, tmp_path / "o.nii"),
                 ("volume", "convert", gz, tmp_path / "o.nii")):
        assert_one_sentence(vellum(*args), args[2].name, "cut short")
    assert not (tmp_path / "o.nii").exists()


# --------------------------------------------------------------------- damaged DICOM slice
def damaged_series(folder: Path) -> tuple[list[Path], Path, Path]:
    """An 8-slice series whose slice k=3 is cut in its pixel data and whose slice k=5 is a
    file of zero bytes."""
    files = make_series(folder, n=8)
    cut, empty = files[3], files[5]
    cut.write_bytes(cut.read_bytes()[:-100])
    empty.write_bytes(b"")
    return files, cut, empty


def test_a_damaged_dicom_slice_is_noted_by_add_and_reported_by_validate(tmp_path):
    _, cut, empty = damaged_series(tmp_path / "ct")
    assert vellum("new", tmp_path / "proj").returncode == 0
    r = vellum("add", tmp_path / "proj", tmp_path / "ct")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    notes = [ln for ln in r.stderr.splitlines() if ln.startswith("note:")]
    assert any(str(cut) in n and "pixel data is cut short" in n and "slice k=3" in n
               and "CT series 3" in n for n in notes), r.stderr
    assert any(str(empty) in n and "empty (0 bytes)" in n for n in notes), r.stderr
    r = vellum("validate", tmp_path / "proj")
    assert r.returncode == 3, r.stdout
    problems = [ln for ln in r.stdout.splitlines() if ln.startswith("- ")]
    assert any(cut.name in p and "damaged" in p for p in problems), r.stdout
    assert any(empty.name in p and "empty" in p for p in problems), r.stdout


def test_the_window_marks_the_damaged_slice_and_the_cut_nifti(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication
    from tools_scene import WindowScene

    from app.io.ingest import add_media

    _, cut, _ = damaged_series(tmp_path / "ct")
    nifti, _ = _cut_niftis(tmp_path)
    s = WindowScene(qtbot, tmp_path / "w", images=1)  # the real window on a project
    try:
        s.win.resize(1500, 900)
        assert len(add_media(s.doc, [tmp_path / "ct", nifti]).added) == 2
        s.key(Qt.Key.Key_PageDown)  # from the photo to the CT
        presenter = s.win.presenter
        qtbot.waitUntil(lambda: getattr(presenter, "session", None) is not None,
                        timeout=20000)
        session = presenter.session
        axial = session.panes["axial"]
        qtbot.waitUntil(lambda: axial.canvas.isVisible(), timeout=5000)
        assert axial.axis == "k"
        QApplication.processEvents()
        start = axial.source.index
        key = Qt.Key.Key_Down if start > 3 else Qt.Key.Key_Up
        for _ in range(abs(start - 3)):
            s.key(key)
        QApplication.processEvents()
        assert axial.source.index == 3
        assert "damaged slice" in axial.title.text()  # a red title bar ...
        assert "#d62728" in axial.title.styleSheet()
        assert axial.mark == f"slice k=3: damaged file {cut.name}"  # ... and these words
        assert cut.name in axial.title.toolTip()
        assert any("damaged or missing slices k=3, 5" in n
                   for n in session.panes["coronal"].notes)
        s.win.grab().save("/tmp/volume_damaged.png")
        s.key(Qt.Key.Key_Up)
        QApplication.processEvents()
        assert axial.mark == "" and "damaged" not in axial.title.text()
        s.key(Qt.Key.Key_Up)  # k=5: its file is empty, the plane has no image of its own
        QApplication.processEvents()
        assert axial.source.index == 5 and "missing or damaged" in axial.mark
        s.key(Qt.Key.Key_PageDown)  # the cut NIfTI: the reason stands in for the panes
        view = presenter.view
        qtbot.waitUntil(lambda: "cut short" in view.message.text(), timeout=20000)
        assert "cut.nii" in view.message.text() and "Traceback" not in view.message.text()
    finally:
        s.win.close()


# --------------------------------------------------------------------- privacy
def test_the_series_description_never_titles_a_volume_nor_reaches_an_export(tmp_path):
    from app.core.document import Document
    from app.io.volume.project import import_labelmap

    series = tmp_path / "study"
    make_series(series, description=f"{FAKE_NAME} head", series_uid="1.2.826.0.9.77")
    assert vellum("new", tmp_path / "proj").returncode == 0
    r = vellum("add", tmp_path / "proj", series)
    assert r.returncode == 0, r.stderr
    assert "Quixote" not in r.stdout
    with Document.open(tmp_path / "proj") as doc:
        (item,) = doc.media()
        assert item.name.startswith("CT series 3 (") and "Quixote" not in item.name
        assert item.source.description == f"{FAKE_NAME} head"  # kept inside the project
        labels = np.zeros(tuple(reversed(item.volume_shape)), np.uint8)
        labels[2:5, 3:6, 1:3] = 1
        lm = write_nifti(tmp_path / "lm.nii.gz", labels, item.volume.affine_ras())
        doc.execute(import_labelmap(doc, lm, item, "Lesion"))
    out = tmp_path / "export"
    r = vellum("export", "nifti", tmp_path / "proj", out, "--with-volumes")
    assert r.returncode == 0, r.stderr
    r2 = vellum("volume", "convert", series, tmp_path / "conv" / "ct.nii.gz")
    assert r2.returncode == 0, r2.stderr
    written = sorted(out.iterdir()) + [tmp_path / "conv" / "ct.nii.gz"]
    assert len(written) == 5
    secrets = {"Quixote", "Alonso", *PATIENT.values()}
    for path in written:
        blobs = [path.read_bytes(), path.name.encode()]
        if path.name.endswith(".gz"):
            blobs.append(gzip.decompress(blobs[0]))
        for secret in secrets:
            assert all(secret.encode() not in b for b in blobs), (secret, path)
    assert "Quixote" not in r.stdout + r2.stdout
