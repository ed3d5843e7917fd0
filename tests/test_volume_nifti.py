"""NIfTI in and out: qform/sform choice, 4D, scaling, LPS<->RAS, label maps with their
segment tables, world coordinates against SimpleITK, and no patient data in any export."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from test_volume_support import PATIENT, expected_volume, make_series, sitk_series

from app.cli import main
from app.core.errors import BadInputError
from app.core.geometry import VolumeGeometry
from app.core.labelmap import Segment
from app.io.volume import (load_volume, read_labelmap_nifti, read_nifti, scan_series,
                           write_labelmap_nifti, write_nifti)

NIFTI_FILES = ["anatomical.nii", "functional.nii", "example4d.nii.gz", "standard.nii.gz"]


def _oblique_geometry(shape=(5, 6, 7)) -> VolumeGeometry:
    c, s = np.cos(0.3), np.sin(0.3)
    rot = ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))
    return VolumeGeometry(shape, (0.8, 1.1, 2.5), (-12.0, 40.5, 7.25), rot)


@pytest.mark.parametrize("name", NIFTI_FILES)
def test_shared_nifti_files_match_nibabel_and_simpleitk(shared_data, name):
    import nibabel as nib
    import SimpleITK as sitk

    path = shared_data / "nifti" / name
    img = nib.load(str(path))
    volume = read_nifti(path)
    assert volume.volumes == (img.shape[3] if img.ndim > 3 else 1)
    ref = np.asarray(img.dataobj[..., 0] if img.ndim > 3 else img.dataobj)
    # [k, j, i] is NIfTI's (i, j, k) turned; scaled files come back as float32
    np.testing.assert_allclose(volume.array, ref.T, rtol=1e-6)
    np.testing.assert_allclose(volume.geometry.affine_ras(), img.affine, atol=1e-5)
    image = sitk.ReadImage(str(path))
    if image.GetDimension() == 3:  # SimpleITK reads 4D files as 4D images
        np.testing.assert_allclose(volume.geometry.spacing, image.GetSpacing(), atol=1e-5)
        np.testing.assert_allclose(volume.geometry.origin, image.GetOrigin(), atol=1e-4)
        np.testing.assert_allclose(np.ravel(volume.geometry.direction), image.GetDirection(),
                                   atol=1e-5)
    [info] = scan_series(path)
    assert info.source == "nifti" and info.geometry == volume.geometry


def test_four_d_volume_index_and_scaled_values(tmp_path):
    import nibabel as nib

    data = np.arange(4 * 5 * 6 * 3, dtype=np.int16).reshape(4, 5, 6, 3)
    img = nib.Nifti1Image(data, np.diag([2.0, 3.0, 4.0, 1.0]))
    img.header.set_slope_inter(0.5, -100.0)
    nib.save(img, str(tmp_path / "series.nii.gz"))
    third = read_nifti(tmp_path / "series.nii.gz", volume_index=2)
    assert third.volumes == 3 and third.array.shape == (6, 5, 4)
    np.testing.assert_allclose(third.array, data[..., 2].T * 0.5 - 100.0)
    with pytest.raises(BadInputError, match="holds 3 volume"):
        read_nifti(tmp_path / "series.nii.gz", volume_index=3)


def test_sform_wins_over_qform_as_in_nibabel(tmp_path):
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_shape((3, 4, 5))
    hdr.set_data_dtype(np.int16)
    hdr.set_qform(np.eye(4), code=1)
    sform = np.array([[-2.0, 0, 0, 10], [0, 2.0, 0, -5], [0, 0, 3.0, 1], [0, 0, 0, 1]])
    hdr.set_sform(sform, code=2)
    nib.save(nib.Nifti1Image(np.zeros((3, 4, 5), np.int16), None, hdr), str(tmp_path / "b.nii"))
    volume = read_nifti(tmp_path / "b.nii")
    np.testing.assert_allclose(volume.geometry.affine_ras(), sform)
    assert any("disagree" in w and "sform is used" in w for w in volume.warnings)
    hdr.set_sform(sform, code=0)  # no sform: the qform is used
    nib.save(nib.Nifti1Image(np.zeros((3, 4, 5), np.int16), None, hdr),
             str(tmp_path / "qonly.nii"))
    np.testing.assert_allclose(read_nifti(tmp_path / "qonly.nii").geometry.affine_ras(),
                               np.eye(4))


def test_write_nifti_round_trip_lps_to_ras(tmp_path):
    import nibabel as nib
    import SimpleITK as sitk

    g = _oblique_geometry()
    array = np.random.default_rng(0).normal(size=g.shape).astype(np.float32)
    out = write_nifti(tmp_path / "v.nii.gz", array, g)
    img = nib.load(str(out))
    assert img.shape == (7, 6, 5)  # (i, j, k)
    np.testing.assert_array_equal(np.asarray(img.dataobj), array.T)
    np.testing.assert_allclose(img.affine, np.diag([-1, -1, 1, 1]) @ g.affine_lps(), atol=1e-5)
    assert int(img.header["qform_code"]) == 1 and int(img.header["sform_code"]) == 1
    image = sitk.ReadImage(str(out))
    np.testing.assert_allclose(image.GetOrigin(), g.origin, atol=1e-4)  # SimpleITK is LPS
    np.testing.assert_allclose(image.GetSpacing(), g.spacing, atol=1e-5)
    np.testing.assert_allclose(image.GetDirection(), np.ravel(g.direction), atol=1e-5)
    back = read_nifti(out)
    np.testing.assert_array_equal(back.array, array)
    np.testing.assert_allclose(back.geometry.affine_lps(), g.affine_lps(), atol=1e-4)


def test_world_coordinates_of_a_dicom_voxel_survive_export(tmp_path):
    """Voxel (i, j, k) of a DICOM series, through the exported NIfTI's RAS affine, lands
    where SimpleITK puts it in LPS, with x and y negated; the label map written on the same
    grid holds that voxel where nibabel and SimpleITK both look."""
    import nibabel as nib
    import SimpleITK as sitk

    make_series(tmp_path / "ct", row_dir=(0.96, 0.28, 0.0), col_dir=(0.0, 0.0, -1.0),
                origin=(33.3, -71.7, 12.9), step=1.25)
    assert main(["volume", "convert", str(tmp_path / "ct"), str(tmp_path / "ct.nii.gz")]) == 0
    image = sitk_series(tmp_path / "ct")
    affine = nib.load(str(tmp_path / "ct.nii.gz")).affine
    for ijk in [(0, 0, 0), (11, 0, 0), (3, 15, 7), (11, 15, 7)]:
        lps = np.array(image.TransformIndexToPhysicalPoint(ijk))
        ras = (affine @ [*ijk, 1.0])[:3]
        np.testing.assert_allclose(ras, lps * [-1, -1, 1], atol=1e-3)
    volume = load_volume(tmp_path / "ct")
    labels = np.zeros(volume.geometry.shape, np.uint8)
    labels[7, 15, 3] = 4  # [k, j, i]
    write_labelmap_nifti(tmp_path / "seg.nii.gz", labels, volume.geometry,
                         [Segment(4, "Lesion", "#ff8000")])
    img = nib.load(str(tmp_path / "seg.nii.gz"))
    assert [tuple(int(x) for x in v) for v in np.argwhere(np.asarray(img.dataobj))] == [(3, 15, 7)]
    seg = sitk.ReadImage(str(tmp_path / "seg.nii.gz"))
    assert [tuple(int(x) for x in v) for v in np.argwhere(sitk.GetArrayFromImage(seg))] == [(7, 15, 3)]
    np.testing.assert_allclose(seg.TransformIndexToPhysicalPoint((3, 15, 7)),
                               image.TransformIndexToPhysicalPoint((3, 15, 7)), atol=1e-3)
    np.testing.assert_allclose((img.affine @ [3, 15, 7, 1])[:3],
                               np.array(image.TransformIndexToPhysicalPoint((3, 15, 7)))
                               * [-1, -1, 1], atol=1e-3)


def _segments():
    return [Segment(1, "Liver", "#aa3311", class_id="c-liver", id="seg-1"),
            Segment(2, 'Tumour "A"', "#00ff00", class_id="c-tumour", id="seg-2")]


def test_label_map_sidecars_and_round_trip(tmp_path):
    g = _oblique_geometry()
    labels = np.zeros(g.shape, np.uint8)
    labels[1:3, 2:4, 3:6] = 1
    labels[4, 5, 6] = 2
    paths = write_labelmap_nifti(tmp_path / "seg.nii.gz", labels, g, _segments(),
                                 class_names={"c-liver": "Liver", "c-tumour": "Tumour"},
                                 labelmap_id="lm-9", name="Abdomen")
    assert [p.name for p in paths] == ["seg.nii.gz", "seg.json", "seg.itksnap.txt"]
    table = json.loads((tmp_path / "seg.json").read_text())
    assert table["segments"][0] == {"value": 1, "name": "Liver", "color": "#aa3311",
                                    "rgb": [170, 51, 17], "class_id": "c-liver",
                                    "class_name": "Liver", "vellum_id": "seg-1"}
    assert table["labelmap"] == {"vellum_id": "lm-9", "name": "Abdomen"}
    snap = (tmp_path / "seg.itksnap.txt").read_text().splitlines()
    assert snap[0].startswith("####") and "ITK-SnAP Label Description File" in snap[1]
    assert snap[-2].split() == ["1", "170", "51", "17", "1", "1", "1", '"Liver"']
    assert snap[-1].endswith("\"Tumour 'A'\"")
    back = read_labelmap_nifti(tmp_path / "seg.nii.gz", g)
    np.testing.assert_array_equal(back.labels, labels)
    assert [(s.value, s.name, s.color, s.class_id, s.id) for s in back.segments] == [
        (1, "Liver", "#aa3311", "c-liver", "seg-1"), (2, 'Tumour "A"', "#00ff00", "c-tumour",
                                                     "seg-2")]
    assert back.labelmap_id == "lm-9" and back.warnings == []
    (tmp_path / "seg.json").unlink()  # ITK-SNAP's table alone still names the segments
    names = [(s.value, s.name, s.color) for s in read_labelmap_nifti(paths[0], g).segments]
    assert names == [(1, "Liver", "#aa3311"), (2, "Tumour 'A'", "#00ff00")]


def test_label_map_from_another_grid_is_refused(tmp_path):
    g = _oblique_geometry()
    labels = np.ones(g.shape, np.uint8)
    write_labelmap_nifti(tmp_path / "seg.nii.gz", labels, g, [Segment(1, "A")])
    bigger = VolumeGeometry((5, 6, 8), g.spacing, g.origin, g.direction)
    with pytest.raises(BadInputError, match="is 7x6x5 voxels but the volume is 8x6x5"):
        read_labelmap_nifti(tmp_path / "seg.nii.gz", bigger)
    shifted = VolumeGeometry(g.shape, g.spacing, (g.origin[0] + 0.002, *g.origin[1:]),
                             g.direction)
    with pytest.raises(BadInputError, match="does not sit on the volume's grid"):
        read_labelmap_nifti(tmp_path / "seg.nii.gz", shifted)
    nudged = VolumeGeometry(g.shape, g.spacing, (g.origin[0] + 0.0002, *g.origin[1:]),
                            g.direction)  # within 1e-3 mm: accepted
    assert read_labelmap_nifti(tmp_path / "seg.nii.gz", nudged).labels.shape == g.shape


def test_label_map_made_by_another_tool_gets_segment_names(tmp_path):
    import nibabel as nib

    g = _oblique_geometry()
    data = np.zeros(tuple(reversed(g.shape)), np.float32)
    data[1, 2, 3] = 7.0
    nib.save(nib.Nifti1Image(data, g.affine_ras()), str(tmp_path / "other.nii"))
    back = read_labelmap_nifti(tmp_path / "other.nii", g)
    assert back.labels.dtype == np.uint8 and back.labels[3, 2, 1] == 7
    assert [s.name for s in back.segments] == ["Segment 7"]
    data[0, 0, 0] = 0.5
    nib.save(nib.Nifti1Image(data, g.affine_ras()), str(tmp_path / "frac.nii"))
    with pytest.raises(BadInputError, match="fractional"):
        read_labelmap_nifti(tmp_path / "frac.nii", g)


def test_no_patient_data_in_any_export(tmp_path):
    # even the folder and the series description (typed at the scanner) name the patient
    make_series(tmp_path / "Quixote" / "ct", description="Quixote^Alonso head")
    out = tmp_path / "export"
    out.mkdir()
    assert main(["volume", "convert", str(tmp_path / "Quixote"), str(out / "ct.nii.gz")]) == 0
    assert main(["volume", "convert", str(tmp_path / "Quixote"), str(out / "ct.nii")]) == 0
    volume = load_volume(tmp_path / "Quixote")
    labels = (volume.array > 0).astype(np.uint8)
    write_labelmap_nifti(out / "seg.nii.gz", labels, volume.geometry, _segments())
    secrets = {v for v in PATIENT.values()} | {"Quixote", "Alonso", "7345219"}
    written = sorted(out.iterdir())
    assert len(written) == 5
    for path in written:
        blobs = [path.read_bytes(), path.name.encode()]
        if path.name.endswith(".gz"):
            blobs.append(gzip.decompress(blobs[0]))
        for secret in secrets:
            assert all(secret.encode() not in b for b in blobs), (secret, path)
    assert expected_volume().shape == volume.array.shape
