"""``vellum export|import dicom-seg``: label maps on a DICOM series out as DICOM SEG and back.

Outside references: highdicom reads the SEG (segments, referenced source instances, frame of
reference, patient and study of the source) and gives, per source instance, the pixels of our
label map slice; dcmqi's ``segimage2itkimage`` converts it to a label image that is voxel-equal
(in world position, through nibabel) to our NIfTI export of the same label map. The SEG in
shared/data/dicom/pydicom_test_files (liver_1frame.dcm, written by dcmqi) imports onto its
series; that series is not in shared/, so a stand-in with its UIDs and geometry is made."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from test_volume_support import make_series

from app.core.commands import ModifyLabelMap, Put
from app.core.document import Document
from app.core.errors import VellumError
from app.core.labelmap import LabelMapInfo, Mode, Segment
from app.io import formats
from app.io.ingest import add_media

hd = pytest.importorskip("highdicom")
import pydicom  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODULE = "app.io.formats.dicom_seg"
SHARED = REPO.parent / "shared" / "data" / "dicom" / "pydicom_test_files"
SEGMENTS = (Segment(1, "liver", "#ff0000"), Segment(3, "spleen", "#0000ff"))


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setenv("VELLUM_FORMATS", MODULE)


def _vellum(*argv) -> subprocess.CompletedProcess:
    env = dict(os.environ, VELLUM_FORMATS=MODULE, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "app", *map(str, argv)], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=300)


def _paint(doc: Document, vol, name="Organs") -> LabelMapInfo:
    k, j, i = vol.volume_shape
    info = LabelMapInfo(vol.id, k, j, i, "uint8", name=name, segments=SEGMENTS)
    doc.execute(Put((info,)))
    block = np.zeros((3, 4, 5), bool)
    block[1, 1:3, 1:4] = True
    block[2, 0, :] = True
    doc.execute(ModifyLabelMap(info.id, (2, 3, 4), block, Mode.ADD, 1))
    doc.execute(ModifyLabelMap(info.id, (4, 0, 0), np.ones((2, 2, 2), bool), Mode.ADD, 3))
    return info


def _project(tmp_path: Path, name="p", **series):
    files = make_series(tmp_path / "dicom" / "s1", n=8, rows=12, cols=14, **series)
    doc = Document.create(tmp_path / name)
    add_media(doc, [tmp_path / "dicom"])
    (vol,) = doc.media()
    return doc, vol, files


def _fresh(tmp_path: Path, name: str) -> tuple[Document, object]:
    doc = Document.create(tmp_path / name)
    add_media(doc, [tmp_path / "dicom"])
    (vol,) = doc.media()
    return doc, vol


def _maps(doc: Document, vol) -> list[tuple[str, tuple, np.ndarray]]:
    return [(i.name, tuple((s.value, s.name, s.color) for s in i.segments),
             doc.labelmap_volume(i.id)) for i in doc.labelmaps(vol.id)]


# ------------------------------------------------------------------ export, outside references
def _dcmqi_equals_nifti(path: Path, npath: Path, lut: np.ndarray, dq: Path) -> None:
    """dcmqi's segimage2itkimage converts SEG ``path`` to a label image (SEG segment numbers,
    ``lut`` to our values) that equals our NIfTI export ``npath`` voxel for voxel, placed by
    its affine (dcmqi's grid spans the labelled slices only)."""
    tool = shutil.which("segimage2itkimage", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.skip("dcmqi (pip dcmqi) is not installed")
    dq.mkdir()
    r = subprocess.run([tool, "--inputDICOM", str(path), "--outputDirectory", str(dq), "-t",
                        "nifti", "--mergeSegments"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    (dpath,) = dq.glob("*.nii*")
    theirs, ours = nib.load(str(dpath)), nib.load(str(npath))
    a, b = np.asarray(theirs.dataobj), np.asarray(ours.dataobj)  # (i, j, k)
    assert np.allclose(theirs.affine[:3, :3], ours.affine[:3, :3], atol=1e-4)
    shift = np.linalg.solve(ours.affine[:3, :3], theirs.affine[:3, 3] - ours.affine[:3, 3])
    assert np.allclose(shift, np.round(shift), atol=1e-4)
    o = np.round(shift).astype(int)
    placed = np.zeros_like(b)
    placed[o[0]:o[0] + a.shape[0], o[1]:o[1] + a.shape[1], o[2]:o[2] + a.shape[2]] = lut[a]
    assert np.array_equal(placed, b) and b.any()


@pytest.mark.parametrize("series", [
    {},  # axial
    {"row_dir": (0.0, 1.0, 0.0), "col_dir": (0.0, 0.0, -1.0), "step": 1.5},  # sagittal
    {"row_dir": (0.8660254, 0.5, 0.0), "col_dir": (-0.5, 0.8660254, 0.0),
     "origin": (40.0, -7.5, 101.0)},  # oblique in-plane
], ids=["axial", "sagittal", "oblique"])
def test_export_is_read_by_highdicom_and_dcmqi_as_our_nifti(tmp_path, series):
    doc, vol, files = _project(tmp_path, **series)
    info = _paint(doc, vol)
    labels = doc.labelmap_volume(info.id).copy()
    doc.close()
    out, nout = tmp_path / "seg", tmp_path / "nii"
    r = _vellum("export", "dicom-seg", tmp_path / "p", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"Wrote 1 DICOM SEG file(s) to {out}"
    assert _vellum("export", "nifti", tmp_path / "p", nout).returncode == 0
    (path,) = out.glob("*.dcm")
    (npath,) = nout.glob("*.nii.gz")
    assert path.name == npath.name.replace(".nii.gz", ".dcm")  # named as its NIfTI twin

    # highdicom: segments, references, frame of reference, patient and study of the source
    seg = hd.seg.segread(path)
    src = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]  # k order
    assert seg.SegmentationType == "BINARY" and seg.Modality == "SEG"
    assert [(s.SegmentNumber, s.SegmentLabel) for s in seg.SegmentSequence] == [
        (1, "liver"), (2, "spleen")]
    for s in seg.SegmentSequence:
        assert s.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "85756007"
        assert s.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator == "SCT"
    red = hd.color.CIELabColor.from_dicom_value(
        seg.SegmentSequence[0].RecommendedDisplayCIELabValue).to_rgb()
    assert np.allclose(red, (255, 0, 0), atol=1)
    assert seg.FrameOfReferenceUID == src[0].FrameOfReferenceUID
    for attr in ("PatientID", "PatientName", "StudyInstanceUID"):
        assert seg.get(attr) == src[0].get(attr)
    assert seg.SeriesInstanceUID != src[0].SeriesInstanceUID
    (ref,) = seg.ReferencedSeriesSequence
    assert ref.SeriesInstanceUID == src[0].SeriesInstanceUID
    labelled = [k for k in range(labels.shape[0]) if labels[k].any()]
    assert seg.NumberOfFrames == sum(len(np.unique(labels[k])) - 1 for k in labelled)  # empty
    uids = [str(d.SOPInstanceUID) for d in src]  # frames omitted
    got = seg.get_pixels_by_source_instance([uids[k] for k in labelled],
                                            combine_segments=True, relabel=False)
    lut = np.array([0, 1, 3])  # SEG segment numbers -> our values (1 -> 1, 2 -> 3)
    for n, k in enumerate(labelled):
        assert np.array_equal(lut[got[n]], labels[k]), k
        frame_pos = [f.PlanePositionSequence[0].ImagePositionPatient
                     for f in seg.PerFrameFunctionalGroupsSequence
                     if f.DerivationImageSequence[0].SourceImageSequence[0]
                     .ReferencedSOPInstanceUID == uids[k]]
        assert frame_pos and all(list(map(float, p)) == list(map(float,
                                 src[k].ImagePositionPatient)) for p in frame_pos)

    # dcmqi: segimage2itkimage's label image equals our NIfTI export voxel for voxel
    _dcmqi_equals_nifti(path, npath, lut, tmp_path / "dcmqi")


def test_labelmap_segmentations_are_read_by_highdicom_and_dcmqi(tmp_path):
    doc, vol, files = _project(tmp_path)
    info = _paint(doc, vol)
    labels = doc.labelmap_volume(info.id).copy()
    doc.close()
    out = tmp_path / "seg"
    r = _vellum("export", "dicom-seg", tmp_path / "p", out, "--labelmap")
    assert r.returncode == 0, r.stderr
    (path,) = out.glob("*.dcm")
    seg = hd.seg.segread(path)
    assert seg.SegmentationType == "LABELMAP"
    uids = [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files]
    labelled = [k for k in range(labels.shape[0]) if labels[k].any()]
    got = seg.get_pixels_by_source_instance([uids[k] for k in labelled],
                                            combine_segments=True, relabel=False)
    lut = np.array([0, 1, 3])
    for n, k in enumerate(labelled):
        assert np.array_equal(lut[got[n]], labels[k])
    # and it imports back
    doc2, vol2 = _fresh(tmp_path, "q")
    formats.get("dicom-seg").import_from(doc2, path)
    ((name, segs, back),) = _maps(doc2, vol2)
    assert np.array_equal(back, labels) and segs == tuple((s.value, s.name, s.color)
                                                           for s in SEGMENTS)
    doc2.close()
    assert _vellum("export", "nifti", tmp_path / "p", tmp_path / "nii").returncode == 0
    (npath,) = (tmp_path / "nii").glob("*.nii.gz")
    _dcmqi_equals_nifti(path, npath, np.array([0, 1, 3]), tmp_path / "dcmqi")


# ------------------------------------------------------------------ round trips
def test_three_generation_round_trip_is_stable(tmp_path):
    doc, vol, _ = _project(tmp_path)
    info = _paint(doc, vol)
    first = _maps(doc, vol)
    doc.close()
    project = tmp_path / "p"
    generations = []
    for g in range(3):
        out = tmp_path / f"seg{g}"
        r = _vellum("export", "dicom-seg", project, out)
        assert r.returncode == 0, r.stderr
        (path,) = out.glob("*.dcm")
        doc, vol = _fresh(tmp_path, f"gen{g}")
        doc.close()
        project = tmp_path / f"gen{g}"
        r = _vellum("import", "dicom-seg", project, path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().endswith("as 1 label map(s).")
        with Document.open(project) as doc:
            (vol,) = doc.media()
            generations.append(_maps(doc, vol))
    for maps in generations:
        ((name, segs, labels),) = maps
        assert name == info.name and segs == first[0][1]
        assert np.array_equal(labels, first[0][2])


def test_overlapping_and_fractional_segments_become_separate_label_maps(tmp_path):
    doc, vol, files = _project(tmp_path)
    src = [pydicom.dcmread(f) for f in files]
    k, j, i = vol.volume_shape
    a = np.zeros((k, j, i), bool)
    a[2:5, 2:6, 3:9] = True
    b = np.zeros((k, j, i), bool)
    b[4:7, 4:10, 5:12] = True  # overlaps a on slice 4
    c = np.zeros((k, j, i), bool)
    c[0, 0:2, 0:2] = True
    codes = pydicom.sr.coding.Code("85756007", "SCT", "Tissue")
    desc = [hd.seg.SegmentDescription(n, name, codes, codes, "MANUAL")
            for n, name in ((1, "a"), (2, "b"), (3, "c"))]
    prob = np.stack([a * 0.9, b * 0.6 + (~b) * 0.4, c * 0.5], axis=-1).astype(np.float32)
    seg = hd.seg.Segmentation(src, prob, "FRACTIONAL", desc, pydicom.uid.generate_uid(), 5,
                              pydicom.uid.generate_uid(), 1, "test", "test", "1", "1",
                              max_fractional_value=200)
    path = tmp_path / "frac.dcm"
    seg.save_as(path)
    outcome = formats.get("dicom-seg").read(doc, path, {}, formats.nothing, formats.never, [])
    assert doc.labelmaps(vol.id) == []  # read() changes nothing
    doc.execute(outcome.command)
    maps = _maps(doc, vol)
    assert [m[1] for m in maps] == [((1, "a", "#3cb44b"), (3, "c", "#3cb44b")),
                                    ((2, "b", "#3cb44b"),)]
    assert np.array_equal(maps[0][2], a * 1 + c * 3)  # 0.5 of 200 is kept (>= 0.5)
    assert np.array_equal(maps[1][2], b * 2)  # 0.4 is dropped
    doc.close()


# ------------------------------------------------------------------ the SEG of pydicom's files
def _liver_series(folder: Path, seg_path: Path) -> list[Path]:
    """A stand-in for the CT series liver_1frame.dcm references (not in shared/): its
    series, SOP instance and frame-of-reference UIDs, positions, orientation and spacing."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    seg = pydicom.dcmread(seg_path)
    folder.mkdir(parents=True)
    shared = seg.SharedFunctionalGroupsSequence[0]
    out = []
    for n, f in enumerate(seg.PerFrameFunctionalGroupsSequence):
        meta = FileMetaDataset()
        sop = f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"ct{n}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.FrameOfReferenceUID = seg.StudyInstanceUID, seg.FrameOfReferenceUID
        ds.SeriesInstanceUID = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        ds.PatientID, ds.Modality, ds.InstanceNumber = seg.PatientID, "CT", n + 1
        ds.Rows, ds.Columns = seg.Rows, seg.Columns
        ds.PixelSpacing = shared.PixelMeasuresSequence[0].PixelSpacing
        ds.SliceThickness = shared.PixelMeasuresSequence[0].SliceThickness
        ds.ImageOrientationPatient = shared.PlaneOrientationSequence[0].ImageOrientationPatient
        ds.ImagePositionPatient = f.PlanePositionSequence[0].ImagePositionPatient
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = np.zeros((seg.Rows, seg.Columns), np.uint16).tobytes()
        ds.save_as(folder / f"ct{n}.dcm", enforce_file_format=True)
        out.append(folder / f"ct{n}.dcm")
    return out


def test_the_liver_seg_of_pydicoms_test_files_imports_onto_its_series(tmp_path):
    seg_path = SHARED / "liver_1frame.dcm"
    if not seg_path.is_file():
        pytest.skip("shared/data/dicom/pydicom_test_files is not here")
    _liver_series(tmp_path / "dicom" / "liver", seg_path)
    doc, vol = _fresh(tmp_path, "p")
    notes = formats.get("dicom-seg").import_from(doc, seg_path)
    ((name, segs, labels),) = _maps(doc, vol)
    assert name == "Liver Segmentation" and [s[:2] for s in segs] == [(1, "Liver")]
    assert any("NumberOfFrames" in n for n in notes)  # the file lacks it: said, not hidden
    seg = hd.seg.segread(seg_path)  # highdicom reads the same one frame
    pixels = seg.pixel_array.reshape(-1, seg.Rows, seg.Columns)
    assert len(pixels) == 1
    geometry = vol.volume
    f = seg.PerFrameFunctionalGroupsSequence[0]
    pos = [float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient]
    k = geometry.world_to_voxel(pos)
    assert np.allclose(k, [0, 0, round(k[2])], atol=1e-4)  # on slice k, by position
    src = f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
    ct = pydicom.dcmread(tmp_path / "dicom" / "liver" / "ct0.dcm", stop_before_pixels=True)
    assert ct.SOPInstanceUID == src and k[2] == 0  # the instance it references is slice 0
    assert np.array_equal(labels[0] == 1, pixels[0] > 0)
    assert not labels[1:].any()
    assert labels.sum() > 1000
    doc.close()


# ------------------------------------------------------------------ refusals
def test_a_seg_whose_series_is_not_in_the_project_gets_one_sentence(tmp_path):
    doc, vol, _ = _project(tmp_path)
    _paint(doc, vol)
    doc.close()
    out = tmp_path / "seg"
    assert _vellum("export", "dicom-seg", tmp_path / "p", out).returncode == 0
    (path,) = out.glob("*.dcm")
    other = tmp_path / "other"
    make_series(other / "dicom", n=4, rows=12, cols=14)
    with Document.create(other / "p") as doc2:
        add_media(doc2, [other / "dicom"])
    r = _vellum("import", "dicom-seg", other / "p", path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    line = r.stderr.strip()
    assert line.count("\n") == 0 and str(path) in line and "not in" in line, line
    with Document.open(other / "p") as doc2:
        (v,) = doc2.media()
        assert doc2.labelmaps(v.id) == []
    # the liver SEG, whose series is not in this project either
    if (SHARED / "liver_1frame.dcm").is_file():
        r = _vellum("import", "dicom-seg", other / "p", SHARED / "liver_1frame.dcm")
        assert r.returncode == 1 and "not in" in r.stderr and "Traceback" not in r.stderr


def test_bad_files_get_one_sentence_naming_them(tmp_path):
    doc, vol, files = _project(tmp_path)
    info = _paint(doc, vol)
    out = tmp_path / "seg"
    fmt = formats.get("dicom-seg")
    fmt.export_to(doc, out)
    (good,) = out.glob("*.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[:-300])
    text = tmp_path / "notes.dcm"
    text.write_text("hello")
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    for bad, words in ((files[0], "not a DICOM SEG"), (cut, "damaged"), (text, "not a DICOM"),
                       (fifo, "named pipe"), (tmp_path / "none.dcm", "does not exist")):
        with pytest.raises(VellumError) as exc:
            fmt.read(doc, bad, {}, formats.nothing, formats.never, [])
        assert str(bad) in str(exc.value) and words in str(exc.value), str(exc.value)
        assert str(exc.value).count("\n") == 0
    assert [i.id for i in doc.labelmaps(vol.id)] == [info.id]
    doc.close()
    r = _vellum("import", "dicom-seg", tmp_path / "p", cut)
    assert r.returncode == 1 and "Traceback" not in r.stderr and str(cut) in r.stderr


def test_export_refuses_what_it_cannot_write_faithfully_and_writes_nothing(tmp_path):
    doc, vol, _ = _project(tmp_path, tilt_deg=12.0)  # shifted in-plane onto a wider grid
    _paint(doc, vol)
    doc.close()
    out = tmp_path / "seg"
    r = _vellum("export", "dicom-seg", tmp_path / "p", out)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "tilted" in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
    assert not out.exists() or not any(out.iterdir())


def test_export_follows_the_output_rule_and_leaves_out_empty_label_maps(tmp_path):
    doc, vol, _ = _project(tmp_path)
    _paint(doc, vol)
    k, j, i = vol.volume_shape
    doc.execute(Put((LabelMapInfo(vol.id, k, j, i, name="Nothing yet"),)))
    doc.close()
    out = tmp_path / "seg"
    r = _vellum("export", "dicom-seg", tmp_path / "p", out)
    assert r.returncode == 0 and "'Nothing yet'" in r.stdout and "empty" in r.stdout, r.stdout
    assert len(list(out.glob("*.dcm"))) == 1
    again = _vellum("export", "dicom-seg", tmp_path / "p", out)
    assert again.returncode == 1 and "give --overwrite" in again.stderr
    assert _vellum("export", "dicom-seg", tmp_path / "p", out, "--overwrite").returncode == 0
    r = _vellum("export", "dicom-seg", tmp_path / "p", tmp_path / "dicom" / "s1")
    assert r.returncode == 1 and "Refusing" in r.stderr  # never into the project's media


def test_the_format_is_in_the_table_and_the_cli_help():
    table = formats.formats()
    assert "dicom-seg" in table and table["dicom-seg"].holds == {"labelmaps"}
    r = _vellum("export", "dicom-seg", "--help")
    assert r.returncode == 0 and "PROJECT OUT_DIR" in r.stdout and "--labelmap" in r.stdout
    r = _vellum("import", "dicom-seg", "--help")
    assert r.returncode == 0 and "PROJECT SEG.dcm" in r.stdout


# ------------------------------------------------------------------ parts, gaps, validators
def test_parts_of_a_split_series_reference_their_own_instances(tmp_path):
    from pydicom.uid import generate_uid

    uid = generate_uid()
    folder = tmp_path / "dicom" / "s"
    first = make_series(folder, n=6, rows=12, cols=14, step=2.0, series_uid=uid)
    second = make_series(tmp_path / "b", n=6, rows=12, cols=14, step=5.0,
                         origin=(-10.0, -20.0, 45.0), series_uid=uid)
    moved = []
    for f in second:  # one folder, one series, two spacings: Vellum reads two parts
        moved.append(folder / f"B{f.name}")
        f.rename(moved[-1])
    doc = Document.create(tmp_path / "p")
    add_media(doc, [tmp_path / "dicom"])
    vols = sorted(doc.media(), key=lambda m: m.source.series_uid)
    assert [v.source.series_uid for v in vols] == [uid, f"{uid}#part2"]
    painted = {}
    for vol in vols:
        info = _paint(doc, vol, name=f"map {vol.source.series_uid[-5:]}")
        painted[vol.id] = doc.labelmap_volume(info.id).copy()
    doc.close()
    out = tmp_path / "seg"
    r = _vellum("export", "dicom-seg", tmp_path / "p", out)
    assert r.returncode == 0, r.stderr
    assert len(list(out.glob("*.dcm"))) == 2
    for vol, files in zip(vols, (first, moved)):
        uids = [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files]
        (path,) = [p for p in out.glob("*.dcm")
                   if hd.seg.segread(p).SeriesDescription.endswith(vol.source.series_uid[-5:])]
        seg = hd.seg.segread(path)
        labels = painted[vol.id]
        labelled = [k for k in range(len(labels)) if labels[k].any()]
        refs = {str(s.ReferencedSOPInstanceUID) for f in seg.PerFrameFunctionalGroupsSequence
                for d in f.DerivationImageSequence for s in d.SourceImageSequence}
        assert refs == {uids[k] for k in labelled}  # this part's own instances only
        got = seg.get_pixels_by_source_instance([uids[k] for k in labelled],
                                                combine_segments=True, relabel=False)
        for n, k in enumerate(labelled):
            assert np.array_equal(np.array([0, 1, 3])[got[n]], labels[k])
        # and back: onto the part it references, in a fresh project
        doc2 = Document.create(tmp_path / f"q{vol.id}")
        add_media(doc2, [tmp_path / "dicom"])
        fmt = formats.get("dicom-seg")
        fmt.import_from(doc2, path)
        by_uid = {m.source.series_uid: m for m in doc2.media()}
        target = by_uid[vol.source.series_uid]
        other = next(m for m in doc2.media() if m is not target)
        ((_, _, back),) = _maps(doc2, target)
        assert np.array_equal(back, labels) and doc2.labelmaps(other.id) == []
        doc2.close()


def test_a_missing_slice_is_never_referenced(tmp_path):
    doc, vol, files = _project(tmp_path, skip=(6,))  # k=6 is a plane Vellum inserted
    assert vol.volume_shape[0] == 8
    info = _paint(doc, vol)
    fmt = formats.get("dicom-seg")
    out = tmp_path / "seg"
    fmt.export_to(doc, out)
    (path,) = out.glob("*.dcm")
    seg = hd.seg.segread(path)
    by_k = {**dict(enumerate(files[:6])), 7: files[6]}  # no file for k=6
    uids = {k: str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
            for k, f in by_k.items()}
    labels = doc.labelmap_volume(info.id)
    got = seg.get_pixels_by_source_instance([uids[k] for k in (3, 4, 5)],
                                            combine_segments=True, relabel=False)
    for n, k in enumerate((3, 4, 5)):
        assert np.array_equal(np.array([0, 1, 3])[got[n]], labels[k])
    assert len(seg.PerFrameFunctionalGroupsSequence) == 4
    doc.execute(ModifyLabelMap(info.id, (6, 0, 0), np.ones((1, 1, 1), bool), Mode.ADD, 1))
    shutil.rmtree(out)
    with pytest.raises(VellumError, match="missing from the series"):
        fmt.export_to(doc, out)
    assert not out.exists() or not any(out.iterdir())
    doc.close()


def test_validators_report_no_error(tmp_path):
    """dicom3tools' dciodvfy (Debian package dicom3tools) checks the SEG against the IOD
    tables of the standard; pydicom reads it with every value validated against its VR."""
    from pydicom import config

    doc, vol, _ = _project(tmp_path)
    _paint(doc, vol)
    fmt = formats.get("dicom-seg")
    out = tmp_path / "seg"
    fmt.export_to(doc, out)
    doc.close()
    (path,) = out.glob("*.dcm")
    old = config.settings.reading_validation_mode
    config.settings.reading_validation_mode = config.RAISE
    try:
        ds = pydicom.dcmread(path)
        for elem in ds.iterall():
            _ = elem.value
    finally:
        config.settings.reading_validation_mode = old
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    r = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=120)
    report = (r.stdout + r.stderr).strip().splitlines()
    assert report == ["Segmentation"], report  # the IOD's name, no Error or Warning line


def test_mutated_segs_get_one_sentence_or_import_cleanly(tmp_path):
    """Seeded byte mutations of a real SEG: every read either returns a command or raises
    one VellumError sentence naming the file (never another exception)."""
    doc, vol, _ = _project(tmp_path)
    _paint(doc, vol)
    fmt = formats.get("dicom-seg")
    out = tmp_path / "seg"
    fmt.export_to(doc, out)
    (good,) = out.glob("*.dcm")
    data = good.read_bytes()
    rng = np.random.default_rng(18)
    bad = tmp_path / "mutant.dcm"
    refused = 0
    for _ in range(150):
        b = bytearray(data)
        if rng.random() < 0.3:
            b = b[:int(rng.integers(132, len(b)))]
        for pos in rng.integers(128, len(b), size=int(rng.integers(1, 6))):
            b[pos] = int(rng.integers(0, 256))
        bad.write_bytes(bytes(b))
        try:
            fmt.read(doc, bad, {}, formats.nothing, formats.never, [])
        except VellumError as exc:
            refused += 1
            assert str(bad) in str(exc) and "\n" not in str(exc), str(exc)
    assert refused > 0
    doc.close()


def test_frames_without_positions_are_placed_by_the_instances_they_reference(tmp_path):
    doc, vol, _ = _project(tmp_path)
    info = _paint(doc, vol)
    labels = doc.labelmap_volume(info.id).copy()
    fmt = formats.get("dicom-seg")
    out = tmp_path / "seg"
    fmt.export_to(doc, out)
    doc.close()
    (path,) = out.glob("*.dcm")
    ds = pydicom.dcmread(path)
    for f in ds.PerFrameFunctionalGroupsSequence:
        del f.PlanePositionSequence
    bare = tmp_path / "bare.dcm"
    ds.save_as(bare)
    doc2, vol2 = _fresh(tmp_path, "q")
    fmt.import_from(doc2, bare)
    ((_, _, back),) = _maps(doc2, vol2)
    assert np.array_equal(back, labels)
    doc2.close()


def test_an_enhanced_multi_frame_source_is_referenced_frame_by_frame(tmp_path):
    from test_volume_support import make_enhanced

    (tmp_path / "dicom").mkdir()
    src = make_enhanced(tmp_path / "dicom" / "enhanced.dcm", n=8, rows=12, cols=14)
    doc, vol = _fresh(tmp_path, "p")
    info = _paint(doc, vol)
    labels = doc.labelmap_volume(info.id).copy()
    fmt = formats.get("dicom-seg")
    out = tmp_path / "seg"
    fmt.export_to(doc, out)
    doc.close()
    (path,) = out.glob("*.dcm")
    seg = hd.seg.segread(path)
    header = pydicom.dcmread(src)
    geometry = vol.volume
    lut = np.array([0, 1, 3])
    frames = []  # (source frame number, k) of each labelled slice
    for f, groups in enumerate(header.PerFrameFunctionalGroupsSequence, start=1):
        pos = [float(v) for v in groups.PlanePositionSequence[0].ImagePositionPatient]
        k = int(round(geometry.world_to_voxel(pos)[2]))
        if labels[k].any():
            frames.append((f, k))
    got = seg.get_pixels_by_source_frame(str(header.SOPInstanceUID), [f for f, _ in frames],
                                         combine_segments=True, relabel=False)
    for n, (_, k) in enumerate(frames):
        assert np.array_equal(lut[got[n]], labels[k]), k
    doc2, vol2 = _fresh(tmp_path, "q")
    fmt.import_from(doc2, path)
    ((_, _, back),) = _maps(doc2, vol2)
    assert np.array_equal(back, labels)
    doc2.close()
    assert _vellum("export", "nifti", tmp_path / "p", tmp_path / "nii").returncode == 0
    (npath,) = (tmp_path / "nii").glob("*.nii.gz")
    _dcmqi_equals_nifti(path, npath, lut, tmp_path / "dcmqi")
