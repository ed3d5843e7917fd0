"""Every series in ../shared/data/dicom (a real Philips CT study and pydicom's test files)
against dcm2niix and SimpleITK, plus DICOMDIR reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_volume_support import assert_matches_nifti, assert_matches_sitk, dcm2niix

from app.cli import main
from app.io.volume import load_series, load_volume, scan_series, write_nifti


@pytest.fixture(scope="module")
def dicom_tree(request):
    # (not 'from conftest import': tests/fuzz has a conftest module of its own)
    SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

    if not (SHARED_DATA / "dicom").is_dir():
        pytest.skip(f"{SHARED_DATA / 'dicom'} is absent on this machine")
    return SHARED_DATA / "dicom"


@pytest.fixture(scope="module")
def d2n_outputs(dicom_tree, tmp_path_factory):
    """dcm2niix's files for the whole tree, by SeriesInstanceUID (only series it wrote as
    one file: it names the pieces of a series it splits with suffixes)."""
    files = dcm2niix(dicom_tree, tmp_path_factory.mktemp("d2n"))
    by_uid: dict[str, list] = {}
    for f in files:
        uid = f.stem.split("_", 1)[1]
        by_uid.setdefault(uid.rstrip("ab") if uid[-1:] in "ab" else uid, []).append(f)
    return by_uid


def _sitk_image(info):
    import SimpleITK as sitk

    if len(info.files) == 1:
        return sitk.ReadImage(str(info.files[0]))
    reader = sitk.ImageSeriesReader()
    uid = info.uid.split("#part")[0]
    names = reader.GetGDCMSeriesFileNames(str(info.files[0].parent), uid)
    if info.part:  # one part of a series split where its spacing changes: those files
        names = [n for n in names if Path(n) in set(info.files)]
    reader.SetFileNames(names)
    return reader.Execute()


def test_every_shared_series_agrees_with_dcm2niix_and_simpleitk(dicom_tree, d2n_outputs,
                                                                   tmp_path):
    """Where the peers differ from each other we side with one and say so:
    - one-slice images: k spacing is SliceThickness (as dcm2niix); SimpleITK says 1 mm;
    - MONOCHROME1 (CR): values as stored and rescaled (as dcm2niix); SimpleITK inverts them;
    - no ImagePositionPatient/Orientation (CR): identity grid at the origin with
      ImagerPixelSpacing (as SimpleITK); dcm2niix centres a 1 mm grid;
    - a series of differently oriented images (scouts): one volume per orientation (as
      SimpleITK's series reader with details); dcm2niix stacks them with a 45° 'tilt';
    - uneven spacing: one volume per run of regular spacing, each compared with SimpleITK
      reading that run's files (SimpleITK alone averages the spacing, dcm2niix takes one gap
      and writes a resampled _Eq copy)."""
    import SimpleITK as sitk

    series = scan_series(dicom_tree)
    images = [s for s in series if s.is_image]
    assert len(images) >= 20
    compared_d2n = 0
    for info in images:
        volume = load_series(info)
        g = volume.geometry
        image = _sitk_image(info)
        with_geometry = not any("identity grid" in w for w in info.warnings)
        split = "#" in info.uid or any("stacks of images" in w for w in info.warnings) \
            or bool(info.part)
        if split or g.shape[0] == 1:
            np.testing.assert_allclose(g.spacing[:2], image.GetSpacing()[:2], atol=1e-6)
            np.testing.assert_allclose(g.origin, image.GetOrigin(), atol=1e-3)
            np.testing.assert_allclose(np.ravel(g.direction), image.GetDirection(), atol=1e-6)
        else:
            assert_matches_sitk(g, image)
        theirs = sitk.GetArrayFromImage(image).reshape(volume.array.shape)
        if info.monochrome1:  # SimpleITK inverts: its value + ours is one constant
            total = volume.array.astype(np.float64) + theirs
            assert total.max() - total.min() < 1e-2
        elif not np.array_equal(volume.array, theirs):  # (the quick check for 36M voxels)
            np.testing.assert_allclose(volume.array, theirs, atol=1e-3)
        uneven = any("uneven" in w for w in info.warnings)  # dcm2niix: last gap + _Eq copy
        if with_geometry and not (split or uneven) and len(d2n_outputs.get(info.uid, [])) == 1:
            out = write_nifti(tmp_path / f"{compared_d2n}.nii", volume.array, g)
            assert_matches_nifti(out, d2n_outputs[info.uid][0])
            compared_d2n += 1
    assert compared_d2n >= 10


def test_philips_study_folder(dicom_tree, tmp_path):
    study = dicom_tree / "philips_phantom_study"
    found = scan_series(study)
    images = [s for s in found if s.is_image]
    assert [s.description for s in images] == ["STD BRAIN 1MM, iDose", "STD BRAIN 5MM",
                                               "1A TRAUMA/PLAIN HEAD DM /Head"]
    assert [s.geometry.shape for s in images] == [(140, 512, 512), (28, 512, 512), (1, 256, 512)]
    dose = next(s for s in found if s.description == "Exam Summary")
    assert not dose.is_image and "secondary capture" in dose.warnings[0]
    assert main(["volume", "convert", str(study), str(tmp_path / "brain.nii")]) == 0
    volume = load_volume(tmp_path / "brain.nii")
    assert volume.geometry.shape == (140, 512, 512)
    assert volume.array.min() == -1024  # HU


def test_dicomdir_and_philips_dirfile(dicom_tree):
    tiny = dicom_tree / "pydicom_test_files" / "dicomdirtests" / "DICOMDIR"
    from_dir = scan_series(tiny)
    images = [s for s in from_dir if s.is_image]
    assert len(images) >= 10
    folders = {f.parent.parent.name for s in images for f in s.files}
    assert folders == {"77654033", "98892001", "98892003"}
    # A Philips DIRFILE names files under the study folder as it was on the scanner
    # (S21570/...), and lists a series that is not on disk: found by name, gap reported.
    dirfile = dicom_tree / "philips_phantom_study" / "DIRFILE"
    found = scan_series(dirfile)
    assert [s.geometry.shape for s in found if s.is_image] == [(140, 512, 512), (28, 512, 512),
                                                               (1, 256, 512)]
    assert any("S21570/S2030/DIRFILE" in w for s in found for w in s.warnings)
    volume = load_volume(dicom_tree / "philips_phantom_study" / "S2010" / "DIRFILE")
    assert volume.geometry.shape == (28, 512, 512)
