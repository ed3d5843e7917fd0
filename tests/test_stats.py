"""``vellum stats``: per-segment statistics equal SimpleITK's LabelShapeStatisticsImageFilter
(Feret diameter and perimeter on) and LabelIntensityStatisticsImageFilter, run here on images
built independently of the app (nibabel's affine turned RAS -> LPS by the test; SimpleITK's own
DICOM series reader for the phantom)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from app.cli import main
from app.core.commands import ModifyLabelMap, Put
from app.core.document import Document
from app.core.labelmap import LabelMapInfo, Mode, Segment
from app.io.ingest import add_media

SPACING = (0.7, 0.9, 2.5)  # si, sj, sk mm
SHAPE_IJK = (40, 34, 18)


def _rotation() -> np.ndarray:
    """An oblique direction: rotations about z (25°) and x (-15°), in RAS."""
    a, b = np.deg2rad(25.0), np.deg2rad(-15.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def _masks(shape_kji):
    """Two segments [k, j, i]: an ellipsoid and an irregular blob (a box with a notch and
    scattered voxels, two of them far off)."""
    k, j, i = np.ogrid[:shape_kji[0], :shape_kji[1], :shape_kji[2]]
    ell = ((k - 8) / 5.0) ** 2 + ((j - 15) / 9.0) ** 2 + ((i - 14) / 10.0) ** 2 <= 1
    blob = np.zeros(shape_kji, bool)
    blob[3:9, 4:12, 26:37] = True
    blob[5:7, 6:9, 30:33] = False
    rng = np.random.default_rng(7)
    blob |= (rng.random(shape_kji) < 0.01) & ~ell
    blob[16, 30, 2] = blob[0, 1, 38] = True
    return ell, blob & ~ell


def _nifti_project(tmp_path: Path):
    """A NIfTI volume (int16 with scl_slope 0.5, inter -1000: real values are fractional),
    anisotropic and oblique, in a project with one label map painted through commands."""
    rng = np.random.default_rng(3)
    data = rng.integers(-200, 3000, size=SHAPE_IJK).astype(np.int16)  # (i, j, k)
    affine = np.eye(4)
    affine[:3, :3] = _rotation() * np.array(SPACING)
    affine[:3, 3] = (-31.5, 12.25, 40.0)
    img = nib.Nifti1Image(data, affine)
    img.header.set_slope_inter(0.5, -1000.0)
    src = tmp_path / "media" / "oblique.nii.gz"
    src.parent.mkdir()
    nib.save(img, str(src))
    doc = Document.create(tmp_path / "p")
    add_media(doc, [src])
    (vol,) = doc.media()
    k, j, i = vol.volume_shape
    info = LabelMapInfo(vol.id, k, j, i, "uint8", name="Organs",
                        segments=(Segment(1, "liver"), Segment(2, "lesion"),
                                  Segment(5, "empty")))
    doc.execute(Put((info,)))
    ell, blob = _masks((k, j, i))
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), ell, Mode.ADD, 1))
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), blob, Mode.ADD, 2))
    labels = np.zeros((k, j, i), np.uint8)
    labels[ell], labels[blob] = 1, 2
    doc.close()
    return tmp_path / "p", src, labels


def _reference_nibabel(src: Path, labels_kji: np.ndarray):
    """SimpleITK images of the volume and the label map on the geometry nibabel reads,
    turned from RAS to LPS here."""
    img = nib.load(str(src))
    values = np.asarray(img.get_fdata(), dtype=np.float64)  # (i, j, k), scaled
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ img.affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing

    def image(arr_ijk):
        im = sitk.GetImageFromArray(np.ascontiguousarray(arr_ijk.T))  # numpy [k, j, i]
        im.SetSpacing(spacing.tolist())
        im.SetOrigin(lps[:3, 3].tolist())
        im.SetDirection(direction.ravel().tolist())
        return im

    return image(values), image(np.ascontiguousarray(labels_kji.T))


def _sitk_stats(values, labels):
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.ComputeFeretDiameterOn()
    shape.ComputePerimeterOn()
    shape.Execute(labels)
    inten = sitk.LabelIntensityStatisticsImageFilter()
    inten.Execute(labels, values)
    return shape, inten


def _assert_row_matches(row, value, shape, inten, voxel_ml):
    rel = dict(rel=1e-9, abs=1e-9)
    assert row["value"] == value
    assert row["voxels"] == shape.GetNumberOfPixels(value)
    assert row["volume_ml"] == pytest.approx(shape.GetPhysicalSize(value) / 1000, **rel)
    # (nominal spacing: a NIfTI header holds float32)
    assert row["volume_ml"] == pytest.approx(row["voxels"] * voxel_ml, rel=1e-6)
    assert row["mean"] == pytest.approx(inten.GetMean(value), **rel)
    assert row["sd"] == pytest.approx(inten.GetStandardDeviation(value), **rel)
    assert row["min"] == pytest.approx(inten.GetMinimum(value), **rel)
    assert row["max"] == pytest.approx(inten.GetMaximum(value), **rel)
    assert row["median"] == pytest.approx(inten.GetMedian(value), **rel)
    # ITK measures index steps x spacing, we measure world distances: the same on an
    # orthogonal grid, up to the float32 rounding of a NIfTI header's direction (~1e-8)
    assert row["feret_mm"] == pytest.approx(shape.GetFeretDiameter(value), rel=1e-7)
    assert row["surface_mm2"] == pytest.approx(shape.GetPerimeter(value), **rel)
    assert row["centroid_lps"] == pytest.approx(list(shape.GetCentroid(value)), **rel)


def _json(capsys, *argv: str):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_oblique_anisotropic_nifti_equals_simpleitk(tmp_path, capsys):
    project, src, labels = _nifti_project(tmp_path)
    rows = _json(capsys, "stats", str(project), "--json")
    assert [(r["segment"], r["value"]) for r in rows] == [("liver", 1), ("lesion", 2),
                                                          ("empty", 5)]
    assert len({r["volume"] for r in rows}) == 1
    assert all(r["labelmap"] == "Organs" for r in rows)
    values, label_image = _reference_nibabel(src, labels)
    # the outside reference's geometry is SimpleITK's own reading of the file too
    read = sitk.ReadImage(str(src))
    assert np.allclose(read.GetDirection(), values.GetDirection(), atol=1e-6)
    assert np.allclose(read.GetOrigin(), values.GetOrigin(), atol=1e-4)
    shape, inten = _sitk_stats(values, label_image)
    ml = float(np.prod(SPACING)) / 1000
    for row in rows[:2]:
        _assert_row_matches(row, row["value"], shape, inten, ml)
    # the two segments' figures differ in kind: fractional HU (slope 0.5), SD is n - 1
    assert rows[0]["voxels"] == int((labels == 1).sum()) and rows[1]["voxels"] == int(
        (labels == 2).sum())
    real = np.asarray(nib.load(str(src)).get_fdata()).T[labels == 1]
    assert rows[0]["sd"] == pytest.approx(np.std(real, ddof=1), rel=1e-9)
    assert rows[0]["mean"] == pytest.approx(real.mean(), rel=1e-9)
    # the far-apart voxels of the lesion make its diameter, in mm on the oblique grid
    assert rows[1]["feret_mm"] > rows[0]["feret_mm"]
    # the same figures through the Python entry point, with progress to the end
    from app.io.volume.stats import project_statistics

    seen = []
    with Document.open(project) as doc:
        direct = project_statistics(doc, progress=lambda d, t, what="": seen.append((d, t)))
    assert [r.to_json() for r in direct] == rows
    assert seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(d for d, _ in seen)
    empty = rows[2]
    assert empty["voxels"] == 0
    assert all(empty[k] is None for k in ("volume_ml", "mean", "sd", "min", "max", "median",
                                          "feret_mm", "surface_mm2", "centroid_lps"))


def test_cli_spellings_csv_table_volume_filter_and_refusals(tmp_path, capsys):
    project, src, _ = _nifti_project(tmp_path)
    rows = _json(capsys, "stats", str(project), "--json")
    assert list(rows[0]) == ["volume", "labelmap", "segment", "value", "voxels", "volume_ml",
                             "mean", "sd", "min", "max", "median", "feret_mm", "surface_mm2",
                             "centroid_lps"]
    name = rows[0]["volume"]
    assert _json(capsys, "stats", str(project), "--volume", name, "--json") == rows
    assert main(["stats", str(project), "--csv"]) == 0
    import csv
    import io

    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [t["segment"] for t in table] == ["liver", "lesion", "empty"]
    assert float(table[0]["mean"]) == rows[0]["mean"]
    assert float(table[1]["feret_mm"]) == rows[1]["feret_mm"]
    assert [float(table[0][f"centroid_lps_{a}"]) for a in "xyz"] == rows[0]["centroid_lps"]
    assert table[2]["voxels"] == "0" and table[2]["mean"] == ""
    assert main(["stats", str(project)]) == 0
    text = capsys.readouterr().out
    assert "liver" in text and "Feret mm" in text and "centroid LPS mm" in text
    assert f"{rows[0]['mean']:.2f}" in text
    # unknown volume, --json with --csv, a project that is not there: one sentence each
    assert main(["stats", str(project), "--volume", "nope"]) != 0
    err = capsys.readouterr().err
    assert "no volume named 'nope'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["stats", str(project), "--json", "--csv"])
    capsys.readouterr()
    assert main(["stats", str(tmp_path / "missing")]) != 0
    err = capsys.readouterr().err
    assert "missing" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["stats", "--help"])
    assert "LPS" in capsys.readouterr().out


def test_a_project_without_label_maps_is_refused_in_one_sentence(tmp_path, capsys):
    img = nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), np.eye(4))
    nib.save(img, str(tmp_path / "v.nii"))
    doc = Document.create(tmp_path / "p")
    add_media(doc, [tmp_path / "v.nii"])
    doc.close()
    assert main(["stats", str(tmp_path / "p")]) != 0
    err = capsys.readouterr().err
    assert "no label maps" in err and "Traceback" not in err


@pytest.mark.parametrize("brute_force_below", [3000, 4])
def test_feret_hull_equals_simpleitk_on_degenerate_shapes(monkeypatch, brute_force_below):
    """One voxel, a line, a flat slab and a ball: the convex-hull Feret diameter equals
    ITK's pairwise search over border voxels, whether the candidate points are compared
    pairwise or through the convex hull (jogged where flat or on a line)."""
    from app.core.geometry import VolumeGeometry
    from app.io.volume import stats
    from app.io.volume.stats import labelmap_statistics, sitk_image

    monkeypatch.setattr(stats, "_BRUTE_FORCE_POINTS", brute_force_below)

    shape = (30, 64, 64)
    d = np.asarray(VolumeGeometry.from_affine_ras(shape, np.eye(4)).direction)
    geometry = VolumeGeometry(shape, (0.8, 0.6, 1.7), (5.0, -3.0, 2.0),
                              tuple(map(tuple, _rotation() @ d)))
    labels = np.zeros(shape, np.uint8)
    labels[3, 4, 5] = 1
    labels[10, 2:40, 7] = 2
    labels[20, 5:60, 3:50] = 3
    k, j, i = np.ogrid[:shape[0], :shape[1], :shape[2]]
    labels[((k - 15) * 1.7) ** 2 + ((j - 40) * 0.6) ** 2 + ((i - 40) * 0.8) ** 2 < 12 ** 2] = 4
    intensity = np.random.default_rng(0).normal(40, 20, shape).astype(np.float32)
    rows = labelmap_statistics(labels, intensity, geometry,
                               [Segment(v, f"s{v}") for v in (1, 2, 3, 4)])
    shape_f, inten = _sitk_stats(sitk_image(intensity, geometry), sitk_image(labels, geometry))
    for row in rows:
        _assert_row_matches(row.to_json(), row.value, shape_f, inten, np.prod(geometry.spacing)
                            / 1000)
    assert rows[0].feret_mm == 0.0


# ------------------------------------------------------------------ the phantom CT series
def test_phantom_ct_series_equals_simpleitk_series_reader(shared_data, tmp_path, capsys):
    folder = shared_data / "dicom" / "philips_phantom_study" / "S2010"
    doc = Document.create(tmp_path / "p")
    add_media(doc, [folder])
    (vol,) = doc.media()
    k, j, i = vol.volume_shape
    info = LabelMapInfo(vol.id, k, j, i, "uint8", name="Phantom",
                        segments=(Segment(1, "insert"), Segment(2, "ball")))
    doc.execute(Put((info,)))
    # SimpleITK reads the series itself (HU after rescale), sorted along the slice normal
    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(str(folder), vol.source.series_uid)
    reader.SetFileNames(names)
    ct = sitk.Cast(reader.Execute(), sitk.sitkFloat64)
    hu = sitk.GetArrayViewFromImage(ct)  # [k, j, i]
    assert hu.shape == (k, j, i)
    # the insert: dense voxels (> 100 HU) of a box of middle slices, painted through the
    # paint-only-where brush; the ball: a sphere of 12 mm around the volume's middle
    box = (slice(k // 2 - 3, k // 2 + 3), slice(j // 4, 3 * j // 4), slice(i // 4, 3 * i // 4))
    insert = np.zeros((k, j, i), bool)
    insert[box] = hu[box] > 100
    assert insert.sum() > 100
    kk, jj, ii = np.ogrid[:k, :j, :i]
    sp = vol.volume.spacing
    ball = (((kk - k // 2) * sp[2]) ** 2 + ((jj - j // 2) * sp[1]) ** 2
            + ((ii - i // 2) * sp[0]) ** 2) < 12.0 ** 2
    ball &= ~insert
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), insert, Mode.ADD, 1))
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), ball, Mode.ADD, 2))
    doc.close()
    rows = _json(capsys, "stats", str(tmp_path / "p"), "--json")
    labels = np.zeros((k, j, i), np.uint8)
    labels[insert], labels[ball] = 1, 2
    label_image = sitk.GetImageFromArray(labels)
    label_image.CopyInformation(ct)  # SimpleITK's geometry of the series, not the app's
    shape, inten = _sitk_stats(ct, label_image)
    ml = float(np.prod(ct.GetSpacing())) / 1000
    assert [r["segment"] for r in rows] == ["insert", "ball"]
    for row in rows:
        _assert_row_matches(row, row["value"], shape, inten, ml)
    assert rows[0]["min"] > 100 and rows[1]["centroid_lps"][2] == pytest.approx(
        ct.TransformIndexToPhysicalPoint((i // 2, j // 2, k // 2))[2], abs=3.0)
