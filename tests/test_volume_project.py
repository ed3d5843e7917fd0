"""Label maps of a project out to NIfTI and back: a voxel painted at (i, j, k) on a DICOM
series lands, in the exported NIfTI, at the voxel whose RAS world position is the DICOM's LPS
position (SimpleITK) with x and y negated; nibabel and SimpleITK read the same voxels."""

from __future__ import annotations

import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from test_volume_support import make_series

from app.core.commands import ModifyLabelMap, Put, SetSchema
from app.core.document import Document
from app.core.labelmap import LabelMapInfo, Mode, Segment
from app.core.schema import LabelClass, LabelSchema
from app.io.ingest import add_media

PAINTED = [(3, 5, 2), (10, 1, 0), (0, 11, 7)]  # (i, j, k)


def _project(tmp_path, **series):
    files = make_series(tmp_path / "dicom" / "s1", n=8, rows=12, cols=14, **series)
    doc = Document.create(tmp_path / "p")
    add_media(doc, [tmp_path / "dicom"])
    (vol,) = doc.media()
    doc.execute(SetSchema(LabelSchema((LabelClass("bone", "#ffffff"),))))
    bone = doc.schema.class_by_name("bone").id
    k, j, i = vol.volume_shape
    info = LabelMapInfo(vol.id, k, j, i, "uint8", name="Bones",
                        segments=(Segment(1, "bone", "#f0f0f0", bone), Segment(2, "other")))
    doc.execute(Put((info,)))
    for n, (pi, pj, pk) in enumerate(PAINTED):
        doc.execute(ModifyLabelMap(info.id, (pk, pj, pi), np.ones((1, 1, 1), bool), Mode.ADD,
                                   1 + n % 2))
    return doc, vol, info, files


@pytest.mark.parametrize("series", [
    {},  # axial
    {"row_dir": (0.0, 1.0, 0.0), "col_dir": (0.0, 0.0, -1.0), "step": 1.5},  # sagittal
    {"row_dir": (0.8660254, 0.5, 0.0), "col_dir": (-0.5, 0.8660254, 0.0),
     "origin": (40.0, -7.5, 101.0)},  # oblique in-plane
])
def test_painted_voxels_land_on_the_same_world_points(tmp_path, series):
    doc, vol, info, files = _project(tmp_path, **series)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "app", "export", "nifti", str(doc.path.parent),
                        str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (path,) = out.glob("*.nii.gz")
    assert path.with_name(path.name.replace(".nii.gz", ".json")).is_file()
    assert path.with_name(path.name.replace(".nii.gz", ".itksnap.txt")).is_file()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in files])
    dicom = reader.Execute()
    img = nib.load(str(path))
    data = np.asarray(img.dataobj)  # (i, j, k)
    found = np.argwhere(data > 0)
    assert len(found) == len(PAINTED)
    for n, (pi, pj, pk) in enumerate(PAINTED):
        lps = np.array(dicom.TransformIndexToPhysicalPoint((pi, pj, pk)))
        ras = lps * [-1, -1, 1]
        # the exported voxel whose world position is that point holds the painted value
        ijk = np.linalg.solve(img.affine[:3, :3], ras - img.affine[:3, 3])
        assert np.allclose(ijk, np.round(ijk), atol=1e-6)
        v = tuple(int(x) for x in np.round(ijk))
        assert data[v] == 1 + n % 2
        assert np.allclose(img.affine @ [*v, 1], [*ras, 1], atol=1e-3)
    # SimpleITK reads the export onto the same voxels and the same LPS points
    back = sitk.ReadImage(str(path))
    arr = sitk.GetArrayFromImage(back)  # [k, j, i]
    assert sorted(map(tuple, np.argwhere(arr > 0))) == sorted((k, j, i) for i, j, k in PAINTED)
    for pi, pj, pk in PAINTED:
        assert np.allclose(back.TransformIndexToPhysicalPoint((pi, pj, pk)),
                           dicom.TransformIndexToPhysicalPoint((pi, pj, pk)), atol=1e-3)
    doc.close()


def test_import_puts_the_label_map_back_and_refuses_another_grid(tmp_path):
    doc, vol, info, _ = _project(tmp_path)
    out = tmp_path / "out"
    from app.io.volume.project import export_nifti, import_labelmap

    written = export_nifti(doc, out, with_volumes=True)
    assert any(p.name.endswith(".nii.gz") and "Bones" not in p.name for p in written)
    (lm,) = [p for p in written if "Bones" in p.name and p.name.endswith(".nii.gz")]
    doc.execute(import_labelmap(doc, lm, vol, "again"))
    again = doc.labelmaps(vol.id)[-1]
    assert np.array_equal(doc.labelmap_volume(again.id), doc.labelmap_volume(info.id))
    assert [(s.value, s.name, s.class_id) for s in again.segments] == [
        (s.value, s.name, s.class_id) for s in info.segments]
    # a label map of another grid is refused in one sentence
    other = tmp_path / "other.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.uint8), np.eye(4)), other)
    r = subprocess.run([sys.executable, "-m", "app", "import", "nifti", str(doc.path.parent),
                        str(other)], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr and other.name in r.stderr
    doc.close()
