"""Helpers shared by the volume tests (no tests here): DICOM series made with pydicom (and
GDCM's encoders for the compressed transfer syntaxes), and comparisons with the outside
references (dcm2niix, SimpleITK, nibabel)."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

# Identifying fields every synthetic file carries; no export may contain any of them.
PATIENT = {"PatientName": "Quixote^Alonso", "PatientID": "PID-7345219",
           "PatientBirthDate": "19610203", "StudyDate": "20190417", "SeriesDate": "20190418",
           "AcquisitionDate": "20190419", "ContentDate": "20190420"}

CT = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
SHAPE = (8, 16, 12)  # k, j, i of the default synthetic series


def stored_values(k: int, rows: int, cols: int, bits: int = 12) -> np.ndarray:
    """The stored (pre-rescale) pixel values of slice ``k``: a ramp distinct per slice."""
    j, i = np.mgrid[0:rows, 0:cols]
    return ((k * 97 + j * 13 + i * 5) % (2 ** bits - 1)).astype(np.uint16)


def _normal(row: np.ndarray, col: np.ndarray) -> np.ndarray:
    n = np.cross(row, col)
    return n / np.linalg.norm(n)


def _dataset(sop_class: str, series_uid: str, study_uid: str, frame_uid: str, **extra):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = sop_class
    ds.SeriesInstanceUID, ds.StudyInstanceUID = series_uid, study_uid
    ds.FrameOfReferenceUID = frame_uid
    # Type 2 study fields, filled so that GDCM does not invent them (it stamps the current
    # time into a missing StudyTime, which makes dcm2niix split the series).
    study = {"StudyTime": "094500", "StudyID": "1", "AccessionNumber": "", "PatientSex": "O",
             "ReferringPhysicianName": ""}
    for key, value in {**PATIENT, **study, **extra}.items():
        setattr(ds, key, value)
    return ds


def make_series(folder: Path, *, n: int = SHAPE[0], rows: int = SHAPE[1],
                cols: int = SHAPE[2], pixel_spacing=(0.5, 0.7), step: float = 2.0,
                origin=(-10.0, -20.0, 30.0), row_dir=(1.0, 0.0, 0.0), col_dir=(0.0, 1.0, 0.0),
                tilt_deg: float = 0.0, skip=(), slope: float = 1.0, intercept: float = -1024.0,
                bits: int = 12, modality: str = "CT", description: str = "Synthetic axial",
                series_uid: str | None = None, bits_allocated: int = 16) -> list[Path]:
    """A CT-like series, one file per slice, file names and InstanceNumbers in an order
    unrelated to position. With ``tilt_deg`` the slices lean about the i axis while their
    origins step along the table (the slice normal at zero tilt): a gantry tilt. Returns the
    files in slice order (k = 0..n-1, skipped slices left out)."""
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    row = np.asarray(row_dir, float)
    col0 = np.asarray(col_dir, float)
    table = _normal(row, col0)
    t = math.radians(tilt_deg)
    col = col0 * math.cos(t) - table * math.sin(t)  # lean the rows about the i axis
    series_uid = series_uid or generate_uid()
    study_uid, frame_uid = generate_uid(), generate_uid()
    rng = np.random.default_rng(int(series_uid.replace(".", "")[-12:]))  # names per series
    files = []
    for k in range(n):
        if k in skip:
            continue
        ds = _dataset(CT, series_uid, study_uid, frame_uid, Modality=modality,
                      SeriesDescription=description, SeriesNumber=3)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = n - k
        ds.Rows, ds.Columns = rows, cols
        ds.PixelSpacing = [float(v) for v in pixel_spacing]
        ds.SliceThickness = step
        ds.ImageOrientationPatient = [*map(float, row), *map(float, col)]
        ds.ImagePositionPatient = [float(v) for v in np.asarray(origin) + k * step * table]
        if tilt_deg:
            ds.GantryDetectorTilt = tilt_deg
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits_allocated, bits, bits - 1
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        if modality == "CT":
            ds.RescaleType = "HU"
        values = stored_values(k, rows, cols, bits)
        ds.PixelData = values.astype(np.uint8 if bits_allocated == 8 else np.uint16).tobytes()
        path = folder / f"IM{rng.integers(10**8):08d}_{k}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def expected_volume(n: int = SHAPE[0], rows: int = SHAPE[1], cols: int = SHAPE[2],
                    slope: float = 1.0, intercept: float = -1024.0, bits: int = 12) -> np.ndarray:
    """Real values ``[k, j, i]`` of :func:`make_series` with the same arguments."""
    return np.stack([stored_values(k, rows, cols, bits) * slope + intercept for k in range(n)])


def make_enhanced(path: Path, *, n: int = SHAPE[0], rows: int = SHAPE[1], cols: int = SHAPE[2],
                  step: float = 2.5, origin=(5.0, -30.0, -40.0), slope: float = 1.0,
                  intercept: float = -1024.0, reverse: bool = True) -> Path:
    """An Enhanced CT multi-frame file: positions, orientation, spacing and rescale in the
    functional groups; frames stored in reverse slice order when ``reverse``."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import generate_uid

    ds = _dataset(ENHANCED_CT, generate_uid(), generate_uid(), generate_uid(), Modality="CT",
                  SeriesDescription="Enhanced CT", SeriesNumber=7)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, n
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.ContentQualification, ds.BurnedInAnnotation = "PRODUCT", "NO"
    measures = Dataset()
    measures.PixelSpacing, measures.SliceThickness = [0.6, 0.8], step
    orient = Dataset()
    orient.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    rescale = Dataset()
    rescale.RescaleSlope, rescale.RescaleIntercept, rescale.RescaleType = slope, intercept, "HU"
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orient])
    shared.PixelValueTransformationSequence = Sequence([rescale])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    order = list(range(n))[::-1] if reverse else list(range(n))
    per = []
    for k in order:
        item, pos, content = Dataset(), Dataset(), Dataset()
        pos.ImagePositionPatient = [origin[0], origin[1], origin[2] + k * step]
        content.StackID, content.InStackPositionNumber = "1", k + 1
        content.DimensionIndexValues = [1, k + 1]
        item.PlanePositionSequence = Sequence([pos])
        item.FrameContentSequence = Sequence([content])
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    ds.PixelData = np.stack([stored_values(k, rows, cols) for k in order]).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


# ------------------------------------------------------------------ transfer syntaxes
def gdcm_transcode(src: Path, dst: Path, syntax: str) -> Path:
    """Re-encode ``src`` with GDCM (as ``gdcmconv`` does). ``syntax``: a name of
    ``gdcm.TransferSyntax`` (e.g. "JPEGLSLossless")."""
    gdcm = pytest.importorskip("gdcm")
    reader = gdcm.ImageReader()
    reader.SetFileName(str(src))
    assert reader.Read(), src
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, syntax)))
    change.SetInput(reader.GetImage())
    assert change.Change(), f"GDCM cannot encode {syntax}"
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(dst))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write(), dst
    return dst


def pydicom_transcode(src: Path, dst: Path, syntax: str) -> Path:
    """Re-encode with pydicom's own writers: RLE (pydicom's encoder), JPEG 2000
    (pylibjpeg-openjpeg; images of at least 32 x 32), deflate, or explicit big endian."""
    import pydicom
    from pydicom import uid

    ds = pydicom.dcmread(src)
    if syntax == "deflate":
        ds.file_meta.TransferSyntaxUID = uid.DeflatedExplicitVRLittleEndian
        ds.save_as(dst, enforce_file_format=True)
    elif syntax == "bigendian":
        arr = ds.pixel_array
        ds.PixelData = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
        ds.file_meta.TransferSyntaxUID = uid.ExplicitVRBigEndian
        ds.set_original_encoding(False, False)  # implicit VR: no; little endian: no
        pydicom.dcmwrite(dst, ds, enforce_file_format=True)
    elif syntax == "rle":
        ds.compress(uid.RLELossless, encoding_plugin="pydicom")
        ds.save_as(dst, enforce_file_format=True)
    elif syntax == "j2k":
        ds.compress(uid.JPEG2000Lossless, encoding_plugin="pylibjpeg")
        ds.save_as(dst, enforce_file_format=True)
    else:
        raise ValueError(syntax)
    return dst


def transcode_series(files: list[Path], folder: Path, how: str) -> list[Path]:
    """Every file of a series in transfer syntax ``how``: "gdcm:<TransferSyntax name>" or
    one of :func:`pydicom_transcode`'s names."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        dst = folder / f.name
        if how.startswith("gdcm:"):
            gdcm_transcode(f, dst, how[5:])
        else:
            pydicom_transcode(f, dst, how)
        out.append(dst)
    return out


# ------------------------------------------------------------------ outside references
def dcm2niix(folder: Path, out: Path) -> list[Path]:
    """dcm2niix's NIfTI files for ``folder`` (skipped where dcm2niix is not installed)."""
    exe = shutil.which("dcm2niix")
    if exe is None:
        pytest.skip("dcm2niix is not installed")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([exe, "-z", "n", "-b", "n", "-f", "%s_%j", "-o", str(out), str(folder)],
                   check=True, capture_output=True, timeout=120)
    return sorted(p for p in out.glob("*.nii")
                  if not p.stem.endswith(("_Tilt_1", "_Eq_1")) and "_ROI" not in p.stem)


def sitk_series(folder: Path, series_uid: str | None = None):
    """SimpleITK's ImageSeriesReader on one series of ``folder`` (its own file order)."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    names = (reader.GetGDCMSeriesFileNames(str(folder), series_uid) if series_uid
             else reader.GetGDCMSeriesFileNames(str(folder)))
    assert names, f"SimpleITK finds no series in {folder}"
    reader.SetFileNames(names)
    return reader.Execute()


def index_map(ours: np.ndarray, theirs: np.ndarray, shape_ijk) -> tuple[np.ndarray, float]:
    """Integer (i, j, k) -> their voxel index transform between two RAS affines over grids
    of the same voxels, and the largest distance (mm) between where the two affines put our
    grid's corners once matched."""
    t = np.linalg.inv(theirs) @ ours
    t_int = np.rint(t)
    corners = np.array([[a, b, c, 1.0] for a in (0, shape_ijk[0] - 1)
                        for b in (0, shape_ijk[1] - 1) for c in (0, shape_ijk[2] - 1)])
    ours_w = corners @ ours.T
    theirs_w = (corners @ t_int.T) @ theirs.T
    return t_int, float(np.max(np.linalg.norm((ours_w - theirs_w)[:, :3], axis=1)))


def reorient_like(data_ijk: np.ndarray, t_int: np.ndarray) -> np.ndarray:
    """Our (i, j, k) array rearranged into their voxel order by the signed permutation
    ``t_int`` from :func:`index_map`."""
    m = t_int[:3, :3]
    assert np.all(np.abs(m).sum(axis=0) == 1) and np.all(np.abs(m).sum(axis=1) == 1), m
    axes = [int(np.nonzero(m[b])[0][0]) for b in range(3)]  # their axis b = our axis
    out = np.transpose(data_ijk, axes)
    for b in range(3):
        if m[b, axes[b]] < 0:
            out = np.flip(out, axis=b)
    return out


def assert_matches_nifti(ours_path: Path, theirs_path: Path, atol: float = 0.0) -> None:
    """Same voxel values once orientation is matched, and affines within 1e-3 mm."""
    import nibabel as nib

    ours, theirs = nib.load(str(ours_path)), nib.load(str(theirs_path))
    a = np.asanyarray(ours.dataobj)  # scaled by scl_slope/inter if set, else stored type
    b = np.asanyarray(theirs.dataobj)
    b = b.reshape(b.shape[:3]) if b.ndim > 3 else b
    t_int, off = index_map(ours.affine, theirs.affine, a.shape)
    assert off <= 1e-3, f"affines differ by {off} mm\n{ours.affine}\n{theirs.affine}"
    mine = reorient_like(a, t_int)
    assert mine.shape == b.shape
    if atol == 0:
        assert np.array_equal(mine, b), f"voxel values differ: {ours_path} {theirs_path}"
    else:
        assert np.abs(mine.astype(np.float64) - b).max() <= atol


def assert_matches_sitk(geometry, image, atol: float = 1e-3) -> None:
    """Spacing, origin and direction equal SimpleITK's (both LPS, i-j-k order)."""
    np.testing.assert_allclose(geometry.spacing, image.GetSpacing(), atol=atol)
    np.testing.assert_allclose(geometry.origin, image.GetOrigin(), atol=atol)
    np.testing.assert_allclose(np.asarray(geometry.direction).ravel(), image.GetDirection(),
                               atol=atol)


def sheared_geometry_allowed() -> bool:
    """Whether app.core.geometry.VolumeGeometry holds a non-orthogonal direction (a gantry
    tilt above ~2.5 degrees); the lead's patch to geometry.py allows it."""
    from app.core.geometry import VolumeGeometry

    c, s = math.cos(math.radians(15)), math.sin(math.radians(15))
    try:
        VolumeGeometry((2, 2, 2), direction=((1, 0, 0), (0, c, 0), (0, -s, 1)))
    except ValueError:
        return False
    return True
