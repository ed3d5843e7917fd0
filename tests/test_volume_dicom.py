"""DICOM series in: slice order, real units, geometry and every transfer syntax, each
checked against dcm2niix and SimpleITK's ImageSeriesReader on files made here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_volume_support import (assert_matches_nifti, assert_matches_sitk, dcm2niix,
                                 expected_volume, make_enhanced, make_series,
                                 sheared_geometry_allowed, sitk_series, transcode_series)

from app.cli import main
from app.io.volume import load_volume, read_nifti, scan_series, write_nifti


def test_slices_sorted_by_position_values_in_hu_geometry_in_lps(tmp_path):
    files = make_series(tmp_path / "ct")  # names and InstanceNumbers run against position
    volume = load_volume(tmp_path / "ct")
    np.testing.assert_array_equal(volume.array, expected_volume())
    assert volume.array.dtype == np.int16 and volume.array.min() < 0  # HU, not stored values
    g = volume.geometry
    assert g.shape == (8, 16, 12)
    assert g.spacing == pytest.approx((0.7, 0.5, 2.0))  # (between columns, rows, slices)
    assert g.origin == pytest.approx((-10.0, -20.0, 30.0))
    import pydicom

    for k, f in enumerate(files):  # every slice lands at its ImagePositionPatient
        ipp = [float(v) for v in pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient]
        assert g.voxel_to_world((0, 0, k)) == pytest.approx(ipp, abs=1e-6)
    image = sitk_series(tmp_path / "ct")
    assert_matches_sitk(g, image)
    import SimpleITK as sitk

    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), volume.array)
    assert volume.warnings == []


def test_convert_agrees_with_dcm2niix_on_an_oblique_series(tmp_path):
    c, s = math.cos(math.radians(20)), math.sin(math.radians(20))
    make_series(tmp_path / "ob", row_dir=(c, s, 0.0), col_dir=(0.0, 0.0, -1.0),
                origin=(12.5, -3.25, 101.0), step=1.5)  # a rotated coronal acquisition
    out = tmp_path / "ours.nii.gz"
    assert main(["volume", "convert", str(tmp_path / "ob"), str(out)]) == 0
    theirs = dcm2niix(tmp_path / "ob", tmp_path / "d2n")
    assert len(theirs) == 1
    assert_matches_nifti(out, theirs[0])
    volume = load_volume(tmp_path / "ob")
    assert_matches_sitk(volume.geometry, sitk_series(tmp_path / "ob"))
    coronal = volume.geometry.panes()["coronal"]  # a coronal stack: k runs along A/P
    assert coronal.axis == "k" and coronal.angle_deg == pytest.approx(20.0)


LOSSLESS = ["gdcm:JPEGLosslessProcess14_1", "gdcm:JPEGLosslessProcess14", "gdcm:JPEGLSLossless",
            "gdcm:JPEG2000Lossless", "gdcm:RLELossless", "rle", "deflate", "bigendian"]
NOT_IN_DCM2NIIX = {"gdcm:JPEGLSLossless", "gdcm:JPEGLSNearLossless", "deflate"}


@pytest.mark.parametrize("syntax", LOSSLESS)
def test_lossless_transfer_syntaxes_decode_exactly(tmp_path, syntax):
    src = make_series(tmp_path / "src")
    transcode_series(src, tmp_path / "enc", syntax)
    volume = load_volume(tmp_path / "enc")
    np.testing.assert_array_equal(volume.array, expected_volume())
    assert volume.warnings == []
    import SimpleITK as sitk

    image = sitk_series(tmp_path / "enc")
    assert_matches_sitk(volume.geometry, image)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), volume.array)
    if syntax in NOT_IN_DCM2NIIX:
        return  # Debian's dcm2niix is built without JPEG-LS and does not inflate
    out = write_nifti(tmp_path / "ours.nii", volume.array, volume.geometry)
    theirs = dcm2niix(tmp_path / "enc", tmp_path / "d2n")
    assert len(theirs) == 1
    assert_matches_nifti(out, theirs[0])


def test_jpeg2000_from_pydicoms_own_encoder(tmp_path):
    src = make_series(tmp_path / "src", rows=32, cols=40)  # openjpeg wants >= 32 px
    transcode_series(src, tmp_path / "enc", "j2k")
    volume = load_volume(tmp_path / "enc")
    np.testing.assert_array_equal(volume.array, expected_volume(rows=32, cols=40))
    out = write_nifti(tmp_path / "ours.nii", volume.array, volume.geometry)
    assert_matches_nifti(out, dcm2niix(tmp_path / "enc", tmp_path / "d2n")[0])


@pytest.mark.parametrize("syntax", ["gdcm:JPEGBaselineProcess1", "gdcm:JPEGExtendedProcess2_4",
                                    "gdcm:JPEG2000", "gdcm:JPEGLSNearLossless"])
def test_lossy_transfer_syntaxes_match_simpleitk(tmp_path, syntax):
    """Lossy codecs: our values are GDCM's/OpenJPEG's, exactly what SimpleITK decodes, and
    within a grey level or two of the source. dcm2niix decodes baseline JPEG with its own
    NanoJPEG, up to 26 grey levels from the source on this sawtooth, so for it only the grid
    is compared exactly and the values loosely."""
    eight = "Baseline" in syntax
    kw = dict(bits=8, bits_allocated=8, intercept=0.0) if eight else {}
    src = make_series(tmp_path / "src", **kw)
    transcode_series(src, tmp_path / "enc", syntax)
    volume = load_volume(tmp_path / "enc")
    import SimpleITK as sitk

    image = sitk_series(tmp_path / "enc")
    assert_matches_sitk(volume.geometry, image)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), volume.array)
    source = expected_volume(**({"bits": 8, "intercept": 0.0} if eight else {}))
    assert np.abs(volume.array.astype(float) - source).max() <= 2
    if syntax in NOT_IN_DCM2NIIX or "Extended" in syntax:
        return  # Debian's dcm2niix: no JPEG-LS, no 12-bit lossy JPEG
    out = write_nifti(tmp_path / "ours.nii", volume.array, volume.geometry)
    assert_matches_nifti(out, dcm2niix(tmp_path / "enc", tmp_path / "d2n")[0],
                         atol=32 if eight else 0)


def test_enhanced_multiframe_uses_per_frame_positions(tmp_path):
    f = make_enhanced(tmp_path / "mf" / "enhanced.dcm", reverse=True, intercept=-1000.0)
    [info] = [s for s in scan_series(f) if s.is_image]
    assert info.frames == 8 and info.volumes == 1
    volume = load_volume(f)
    np.testing.assert_array_equal(volume.array, expected_volume(intercept=-1000.0))
    g = volume.geometry
    assert g.spacing == pytest.approx((0.8, 0.6, 2.5))
    assert g.origin == pytest.approx((5.0, -30.0, -40.0))
    out = write_nifti(tmp_path / "ours.nii", volume.array, g)
    theirs = dcm2niix(tmp_path / "mf", tmp_path / "d2n")
    assert len(theirs) == 1
    assert_matches_nifti(out, theirs[0])


def test_single_file_is_a_one_slice_volume(tmp_path):
    [f] = make_series(tmp_path / "one", n=1)
    volume = load_volume(f)
    assert volume.geometry.shape == (1, 16, 12)
    np.testing.assert_array_equal(volume.array, expected_volume(n=1))
    import SimpleITK as sitk

    image = sitk.ReadImage(str(f))
    np.testing.assert_allclose(volume.geometry.origin, image.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(volume.geometry.spacing[:2], image.GetSpacing()[:2], atol=1e-6)


def test_missing_slice_keeps_every_slice_at_its_position(tmp_path):
    files = make_series(tmp_path / "gap", skip=(3,))
    volume = load_volume(tmp_path / "gap")
    assert volume.geometry.shape[0] == 8  # the gap is an inserted plane, not a closed gap
    assert volume.geometry.spacing[2] == pytest.approx(2.0)
    full = expected_volume()
    kept = [k for k in range(8) if k != 3]
    np.testing.assert_array_equal(volume.array[kept], full[kept])
    assert np.all(volume.array[3] == volume.array.min())
    [warning] = volume.warnings
    assert "missing" in warning and files[2].name in warning and files[3].name in warning
    # dcm2niix closes the gap (7 slices 2 mm apart: slices after it drift by 2 mm) and
    # SimpleITK spreads it (2.33 mm); both hold the same voxels once our inserted plane is out.
    theirs = dcm2niix(tmp_path / "gap", tmp_path / "d2n")
    import nibabel as nib
    import SimpleITK as sitk

    d2n = np.asarray(nib.load(str(theirs[0])).dataobj)
    ours_stack = volume.array[kept]  # [k, j, i]
    np.testing.assert_array_equal(np.flip(d2n.T, axis=1), ours_stack)  # dcm2niix flips rows
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk_series(tmp_path / "gap")),
                                  ours_stack)


@pytest.mark.parametrize("tilt", [2.0, 15.0])
def test_gantry_tilt_is_made_orthogonal_by_whole_pixel_shifts(tmp_path, tilt):
    """A tilted stack on an orthogonal grid along the slice normal: each acquired slice is
    shifted in its plane by whole pixels, so every value is a stored one and lies within
    half a pixel of where DICOM puts it; the exported NIfTI's qform is its sform, and
    SimpleITK reads the export onto the same grid."""
    files = make_series(tmp_path / "tilt", tilt_deg=tilt)
    volume = load_volume(tmp_path / "tilt")
    g = volume.geometry
    assert any(f"tilted by {tilt:.2f}°" in w and "orthogonal" in w for w in volume.warnings)
    assert np.allclose(np.asarray(g.direction).T @ np.asarray(g.direction), np.eye(3),
                       atol=1e-9)
    want = expected_volume()
    import pydicom

    half = 0.5 * math.hypot(0.5, 0.7) + 1e-6
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        ipp = np.array([float(v) for v in ds.ImagePositionPatient])
        row = np.array([float(v) for v in ds.ImageOrientationPatient[:3]])
        col = np.array([float(v) for v in ds.ImageOrientationPatient[3:]])
        for j, i in ((9, 5), (0, 0), (15, 11)):
            world = ipp + i * 0.7 * row + j * 0.5 * col
            vi, vj, vk = np.rint(g.world_to_voxel(world)).astype(int)
            assert vk == k
            assert np.linalg.norm(g.voxel_to_world((vi, vj, vk)) - world) <= half
            assert volume.array[vk, vj, vi] == want[k, j, i]  # the stored value, moved
    import nibabel as nib
    import SimpleITK as sitk

    out = write_nifti(tmp_path / "tilt.nii.gz", volume.array, g)
    img = nib.load(str(out))
    np.testing.assert_allclose(img.affine, g.affine_ras(), atol=1e-4)
    np.testing.assert_allclose(img.get_qform(), img.get_sform(), atol=1e-4)
    back = read_nifti(out)
    np.testing.assert_allclose(back.geometry.affine_lps(), g.affine_lps(), atol=1e-4)
    np.testing.assert_array_equal(back.array, volume.array)
    exported = sitk.ReadImage(str(out))
    np.testing.assert_allclose(exported.GetOrigin(), g.origin, atol=1e-3)
    np.testing.assert_allclose(exported.GetSpacing(), g.spacing, atol=1e-4)
    np.testing.assert_allclose(np.asarray(exported.GetDirection()).reshape(3, 3),
                               np.asarray(g.direction), atol=1e-5)


def test_gantry_tilt_on_the_acquired_grid_for_older_projects(tmp_path):
    """``regularize=False`` (volumes a project added before 0.2): the sheared grid, every
    voxel exactly where DICOM puts it."""
    from app.io.volume import load_series, scan_series

    files = make_series(tmp_path / "tilt", tilt_deg=2.0)
    (info,) = [s for s in scan_series(tmp_path / "tilt", regularize=False) if s.is_image]
    volume = load_series(info)
    np.testing.assert_array_equal(volume.array, expected_volume())
    import pydicom

    for k, f in enumerate(files):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        ipp = np.array([float(v) for v in ds.ImagePositionPatient])
        row = np.array([float(v) for v in ds.ImageOrientationPatient[:3]])
        col = np.array([float(v) for v in ds.ImageOrientationPatient[3:]])
        world = ipp + 5 * 0.7 * row + 9 * 0.5 * col
        assert volume.geometry.voxel_to_world((5, 9, k)) == pytest.approx(world, abs=1e-6)


def test_folder_with_mixed_series_lists_each_and_loads_the_largest(tmp_path):
    make_series(tmp_path / "study" / "a", n=4, description="small")
    make_series(tmp_path / "study" / "b", n=6, rows=20, description="large")
    make_series(tmp_path / "study" / "a", n=3, description="interleaved", cols=8)  # same folder
    found = scan_series(tmp_path / "study")
    assert [s.description for s in found] == ["large", "small", "interleaved"]
    assert [s.geometry.shape for s in found] == [(6, 20, 12), (4, 16, 12), (3, 16, 8)]
    volume = load_volume(tmp_path / "study")
    assert volume.description == "large"
    assert "3 image series" in volume.warnings[0]
    other = load_volume(tmp_path / "study", series_uid=found[2].uid)
    np.testing.assert_array_equal(other.array, expected_volume(n=3, cols=8))


def test_four_d_series_picks_a_volume(tmp_path):
    from pydicom.uid import generate_uid

    uid = generate_uid()
    make_series(tmp_path / "t0", series_uid=uid, intercept=0.0)
    make_series(tmp_path / "t1", series_uid=uid, intercept=500.0)  # second time point
    import pydicom

    for n, folder in enumerate(("t0", "t1")):
        for f in (tmp_path / folder).iterdir():
            ds = pydicom.dcmread(f)
            ds.TemporalPositionIdentifier = n + 1
            ds.save_as(f)
    [info] = scan_series(tmp_path)
    assert info.volumes == 2 and info.geometry.shape == (8, 16, 12)
    second = load_volume(tmp_path, volume_index=1)
    np.testing.assert_array_equal(second.array, expected_volume(intercept=500.0))


@pytest.mark.parametrize("signed", [False, True])
def test_uncompressed_files_read_like_pydicom(tmp_path, signed):
    """Uncompressed slices are read straight from disk: implicit and explicit VR, unused
    high bits (overlays) cleared or sign-extended exactly as pydicom and SimpleITK do."""
    import pydicom
    import SimpleITK as sitk
    from pydicom.uid import ImplicitVRLittleEndian

    files = make_series(tmp_path / "ct", n=4)
    rng = np.random.default_rng(3)
    for n, f in enumerate(files):
        ds = pydicom.dcmread(f)
        noise = rng.integers(0, 2**16, size=(ds.Rows, ds.Columns), dtype=np.uint16)
        ds.PixelRepresentation = int(signed)
        ds.PixelData = noise.tobytes()  # garbage in bits 12-15 too
        if n % 2:
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
            ds.set_original_encoding(True, True)
            pydicom.dcmwrite(f, ds, enforce_file_format=True)
        else:
            ds.save_as(f, enforce_file_format=True)
    volume = load_volume(tmp_path / "ct")
    reference = np.stack([pydicom.dcmread(f).pixel_array.astype(np.int32) - 1024
                          for f in files])
    np.testing.assert_array_equal(volume.array, reference)
    assert volume.array.min() >= (-2048 - 1024 if signed else -1024)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk_series(tmp_path / "ct")),
                                  volume.array)
