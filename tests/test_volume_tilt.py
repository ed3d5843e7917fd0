"""Tilted and unevenly spaced CT, as a GE head series is (dcm_qa_ct ``In/GE``: 18.5° gantry
tilt, 14 slices 4 mm apart along the table, then 14 at 7 mm): made in the test with pydicom,
with a known object (a sphere at known LPS coordinates) in the pixels.

The geometry test of the issue: for every voxel of an exported label map (painted where the
sphere is), the world point from nibabel's affine, from SimpleITK's origin/spacing/direction
and from the source slice's own ImagePositionPatient/ImageOrientationPatient agree within half
a voxel, and the exported volume's HU there equals the source DICOM pixel's. dcm2niix's
tilt-corrected output (``_Tilt_``) and ours agree on the sphere's world centroid within 1 mm.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from test_volume_support import CT, _dataset

from app.core.commands import ModifyLabelMap, Put
from app.core.document import Document
from app.core.labelmap import LabelMapInfo, Mode, Segment

TILT = 18.5
ROWS = COLS = 64
SPACING = 1.2  # mm, square pixels
STEPS = [4.0] * 13 + [7.0] * 14  # along the table: 14 slices 4 mm apart, then 14 at 7 mm
CENTRE = np.array([5.0, -8.0, 70.0])  # LPS mm: the sphere, across the spacing change
RADIUS = 20.0
INSIDE, OUTSIDE = 1200, 100  # stored values (HU = stored - 1024), plus a small ramp


def vellum(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def _slice_frame(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IPP, row and column direction of acquired slice k (rows lean about L by TILT; slice
    origins step straight along the table, S)."""
    t = math.radians(TILT)
    row = np.array([1.0, 0.0, 0.0])
    col = np.array([0.0, math.cos(t), -math.sin(t)])
    origin = np.array([-38.0, -40.0, 0.0]) + np.array([0, 0, sum(STEPS[:k])])
    return origin, row, col


def _pixel_worlds(k: int) -> np.ndarray:
    """LPS of every pixel centre of slice k, ``[j, i, 3]``."""
    ipp, row, col = _slice_frame(k)
    j, i = np.mgrid[0:ROWS, 0:COLS]
    return ipp + (i[..., None] * SPACING) * row + (j[..., None] * SPACING) * col


def _stored(k: int) -> np.ndarray:
    w = _pixel_worlds(k)
    inside = np.linalg.norm(w - CENTRE, axis=-1) < RADIUS
    j, i = np.mgrid[0:ROWS, 0:COLS]
    ramp = (k * 7 + j * 3 + i) % 50  # makes every pixel's value tell where it came from
    return (np.where(inside, INSIDE, OUTSIDE) + ramp).astype(np.uint16)


def make_tilted_series(folder: Path) -> list[Path]:
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    files = []
    for k in range(len(STEPS) + 1):
        ipp, row, col = _slice_frame(k)
        ds = _dataset(CT, series, study, frame, Modality="CT", SeriesNumber=2,
                      SeriesDescription="HEAD tilt")
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.Rows, ds.Columns = ROWS, COLS
        ds.PixelSpacing = [SPACING, SPACING]
        ds.SliceThickness = 4.0 if k < 14 else 7.0
        ds.ImageOrientationPatient = [*map(float, row), *map(float, col)]
        ds.ImagePositionPatient = [float(v) for v in ipp]
        ds.GantryDetectorTilt = TILT
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1.0, -1024.0, "HU"
        ds.PixelData = _stored(k).tobytes()
        path = folder / f"IM{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def _source_lookup(world: np.ndarray) -> tuple[float, int]:
    """(distance mm, stored value) of the acquired pixel nearest to an LPS point."""
    best = (math.inf, -1)
    for k in range(len(STEPS) + 1):
        ipp, row, col = _slice_frame(k)
        rel = world - ipp
        normal = np.cross(row, col)
        if abs(rel @ normal) > 4.0:
            continue
        i, j = round(rel @ row / SPACING), round(rel @ col / SPACING)
        if 0 <= i < COLS and 0 <= j < ROWS:
            d = float(np.linalg.norm(ipp + i * SPACING * row + j * SPACING * col - world))
            if d < best[0]:
                best = (d, int(_stored(k)[j, i]))
    return best


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tilt")
    files = make_tilted_series(tmp / "dicom" / "ge")
    proj = tmp / "p"
    assert vellum("new", proj).returncode == 0
    added = vellum("add", proj, tmp / "dicom")
    assert added.returncode == 0, added.stderr
    with Document.open(proj) as doc:
        vols = [m for m in doc.media() if m.kind.value == "volume"]
        for vol in vols:  # label the sphere in each part: voxels whose HU says "inside"
            from app.io.volume import load_source

            volume = load_source(doc.media_path(vol), vol.source, expected=vol.volume)
            inside = volume.array > INSIDE - 1024 - 1
            k, j, i = vol.volume_shape
            info = LabelMapInfo(vol.id, k, j, i, "uint8", name="Sphere",
                                segments=(Segment(1, "sphere", "#ff0000"),))
            doc.execute(Put((info,)))
            doc.execute(ModifyLabelMap(info.id, (0, 0, 0), inside, Mode.ADD, 1))
    out = tmp / "out"
    r = vellum("export", "nifti", proj, out, "--with-volumes")
    assert r.returncode == 0, r.stderr
    return tmp, files, added, out


def test_add_says_what_was_done(exported):
    _, _, added, _ = exported
    text = added.stdout + added.stderr
    assert "split" in text or "2 volumes" in text, text
    assert "18.50°" in text and "orthogonal" in text, text


def test_every_labelled_voxel_is_where_the_pixel_was_with_its_value(exported):
    _, _, _, out = exported
    labels = sorted(p for p in out.glob("*_Sphere.nii.gz"))
    assert len(labels) == 2  # one per part of the split series
    total = 0
    for path in labels:
        lab = nib.load(str(path))
        volume_path = next(p for p in out.glob("*.nii.gz") if p != path and
                           path.name.startswith(p.name[:-len(".nii.gz")]))
        vol = nib.load(str(volume_path))
        # never a NIfTI whose qform and sform disagree
        assert np.allclose(lab.get_qform(), lab.get_sform(), atol=1e-4)
        assert np.allclose(vol.get_qform(), vol.get_sform(), atol=1e-4)
        itk = sitk.ReadImage(str(path))
        data = np.asarray(lab.dataobj)
        hu = np.asarray(vol.dataobj)
        spacing = np.array(itk.GetSpacing())
        for ijk in np.argwhere(data > 0)[::7]:
            ras = lab.affine @ [*ijk, 1]
            lps_nib = ras[:3] * [-1, -1, 1]
            lps_itk = np.array(itk.TransformIndexToPhysicalPoint(tuple(int(v) for v in ijk)))
            assert np.linalg.norm(lps_nib - lps_itk) < 1e-3
            dist, stored = _source_lookup(lps_nib)
            assert dist <= 0.5 * SPACING * math.sqrt(2) + 1e-6, (ijk, dist)
            assert hu[tuple(ijk)] == stored - 1024
            total += 1
    assert total > 100


def test_dcm2niix_tilt_corrected_centroid_agrees(exported, tmp_path):
    if shutil.which("dcm2niix") is None:
        pytest.skip("dcm2niix is not installed (apt-get install dcm2niix)")
    tmp, _, _, out = exported
    d2n = tmp_path / "d2n"
    d2n.mkdir()
    subprocess.run(["dcm2niix", "-z", "y", "-o", str(d2n), "-f", "ge", str(tmp / "dicom")],
                   capture_output=True, check=True)

    def centroid(paths: list[Path], threshold: float) -> np.ndarray:
        pts, n = np.zeros(3), 0
        for p in paths:
            img = nib.load(str(p))
            idx = np.argwhere(np.asarray(img.dataobj) > threshold)  # scaled by nibabel
            ras = (img.affine @ np.c_[idx, np.ones(len(idx))].T).T[:, :3]
            pts += ras.sum(axis=0)
            n += len(idx)
        return pts / n * [-1, -1, 1]  # LPS

    theirs = [p for p in d2n.glob("*.nii.gz") if "_Tilt" in p.name]  # ge_Tilt_Eq_1
    if not theirs:
        pytest.skip(f"dcm2niix wrote no _Tilt_ file: {sorted(p.name for p in d2n.iterdir())}")
    ours = [p for p in out.glob("*.nii.gz") if "_Sphere" not in p.name]
    mid = INSIDE - 1024 - 1
    c_ours, c_theirs = centroid(ours, mid), centroid(theirs[:1], mid)
    assert np.linalg.norm(c_ours - CENTRE) < 1.0
    assert np.linalg.norm(c_ours - c_theirs) < 1.0, (c_ours, c_theirs)
