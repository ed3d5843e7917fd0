"""Smooth reformats (issue 20, item 7): a coronal or sagittal pane of a thick-slice series is
drawn linearly interpolated between the slices, as 3D Slicer and ITK-SNAP draw it - display
only: the pane's source (what tools, the status bar and exports read) keeps the voxels, and
label maps stay voxel for voxel (a label edge is never blended)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.io.planes import smooth_factors, smooth_plane

pytest.importorskip("pytestqt")
nib = pytest.importorskip("nibabel")

SHAPE = (8, 30, 40)  # k, j, i
SPACING = (0.8, 0.8, 5.0)  # a 5 mm series of 0.8 mm pixels


def _series(path):
    """Left half (i < 20) one value everywhere; right half a ramp of 100 per slice."""
    k, j, i = np.indices(SHAPE)
    data = np.where(i < 20, 50.0, 100.0 * k).astype(np.int16)
    affine = np.diag([-SPACING[0], -SPACING[1], SPACING[2], 1.0])  # RAS of an LPS-aligned grid
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data.transpose(2, 1, 0)), affine), str(path))
    return data


def test_smooth_plane_is_linear_between_pixel_centres_and_keeps_square_pictures():
    a = np.array([[0.0, 10.0], [100.0, 110.0]], np.float32)  # rows 5 mm apart, cols 1 mm
    assert smooth_factors((1.0, 5.0), a.shape) == (1, 5)
    out = smooth_plane(a, (1.0, 5.0))
    assert out.shape == (10, 2)
    # display row m lies at picture row (m + 0.5) / 5 - 0.5: held before the first centre
    t = np.clip((np.arange(10) + 0.5) / 5 - 0.5, 0, 1)
    np.testing.assert_allclose(out[:, 0], 100 * t, atol=1e-4)
    np.testing.assert_allclose(out[:, 1], 10 + 100 * t, atol=1e-4)
    assert smooth_plane(a, (1.0, 1.0)) is None and smooth_plane(a, (1.0, 1.04)) is None
    assert smooth_factors((3.0, 1.0), (4, 4)) == (3, 1)
    assert smooth_factors((1.0, 100.0), (4, 4))[1] <= 16
    assert smooth_factors((1.0, 5.0), (4000, 4000), max_pixels=10**6) == (1, 1)


@pytest.fixture
def thick(qtbot, tmp_path):
    from test_volume_mode import VolumeScene

    path = tmp_path / "thick.nii.gz"
    data = _series(path)
    s = VolumeScene(qtbot, tmp_path, path)
    yield s, data
    s.win.close()
    from app.widgets.volume.pane import set_smooth_reformats

    set_smooth_reformats(True)


def test_a_thick_slice_pane_shows_values_between_slices_and_reads_the_voxels(thick):
    from app.widgets.volume.pane import ResampledPyramid, set_smooth_reformats

    s, data = thick
    assert np.array_equal(s.array, data)
    axial, coronal = s.pane("axial"), s.pane("coronal")
    assert not isinstance(axial.canvas.pyramid, ResampledPyramid)  # square pixels: as is
    pyr = coronal.canvas.pyramid
    src = coronal.source
    assert isinstance(pyr, ResampledPyramid) and src.axis == "j"
    w, h = src.size
    assert (pyr.width, pyr.height) == (w, h) == (40, 8)
    fine = pyr.level(pyr.level_for(coronal.canvas.view().scale))  # what the canvas draws
    assert fine.shape == (8 * 7, 40)  # 5 / 0.8 -> 7 rows a slice, columns as they are
    ramp = fine[:, 30]
    steps = set(np.round(ramp).tolist())
    assert len(steps) > 20, steps  # a ramp, not 8 steps of 100
    assert any(0 < v % 100 < 100 for v in ramp[4:-4])  # values between two slices
    np.testing.assert_allclose(fine[:, 5], 50.0)
    # the tile drawn is the same ramp through the window (grey levels between the slices')
    tile = pyr.tile(0, 0, 0)
    assert tile.height() == 56
    greys = {tile.pixelColor(30, y).value() for y in range(56)}
    assert len(greys) > 12, greys  # 8 slices, many more grey levels
    # display only: the source, what tools and the status bar read, stays the voxels
    j = src.index
    assert np.array_equal(src.pixels(), data[:, j, :])
    for k in range(8):
        assert src.value_at(30.5, k + 0.5) == float(data[k, j, 30]) == 100.0 * k
        assert src.value_at(30.5, k + 0.95) == 100.0 * k
    # the status bar under the pointer, 40 % of the way to the next slice: slice 3's value
    QTest.mouseMove(coronal.canvas, s.pt("coronal", 30.5, 3.9))
    text = s.win.status.cursor.text()
    assert "voxel (i 30" in text and "k 3)" in text and " 300" in text, text
    # off: drawn voxel for voxel again, at once
    set_smooth_reformats(False)
    assert not isinstance(coronal.canvas.pyramid, ResampledPyramid)
    assert coronal.canvas.pyramid.level(0).shape == (8, 40)
    set_smooth_reformats(True)
    assert isinstance(coronal.canvas.pyramid, ResampledPyramid)


def test_a_label_edge_stays_crisp_on_a_smoothed_pane(thick):
    s, _ = thick
    s.key(Qt.Key.Key_1)
    s.key(Qt.Key.Key_B)
    s.panel.radius.setValue(2.0)  # mm: one slice of 5 mm
    k = s.index("axial")
    j = s.index("coronal")
    s.pane_drag("axial", [(6.5, j + 0.5), (14.5, j + 0.5)])  # the constant half (i < 20)
    lab = s.labels()
    assert set(np.nonzero(lab)[0]) == {k} and lab[k, j, 6:15].all()
    coronal = s.pane("coronal")
    QApplication.processEvents()
    img = coronal.canvas.grab().toImage()
    dpr = img.devicePixelRatio()
    # a screen column through the painted voxels (x = 10.5), from above to below the band
    x, _ = coronal.canvas.image_to_widget(10.5, k + 0.5)
    ys = [coronal.canvas.image_to_widget(10.5, k + t)[1] for t in (-1.5, 2.5)]
    y0, y1 = sorted(ys)
    cross = coronal.canvas.image_to_widget(10.5, coronal.cross[1])[1]  # the crosshair's line
    ys = [y for y in np.arange(y0, y1, 0.5 / dpr) if abs(y - cross) > 2]
    colours = [img.pixel(int(x * dpr), int(y * dpr)) for y in ys]
    assert len(set(colours)) == 2, {hex(c) for c in colours}  # grey, label: no blend between
    # the edge lies on the voxel boundary (picture rows k and k + 1)
    inside = [y for y, c in zip(ys, colours) if c != colours[0]]
    top, bottom = sorted(coronal.canvas.image_to_widget(10.5, v)[1] for v in (k, k + 1))
    assert math.isclose(min(inside), top, abs_tol=1.5) and math.isclose(
        max(inside), bottom, abs_tol=1.5)
