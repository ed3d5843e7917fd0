"""Plane sources: the picture of each place, its physical pixel size, its radiological
orientation and the world position of every point (checked against SimpleITK)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from app.core.geometry import VolumeGeometry
from app.core.places import Place
from app.io.planes import (CT_PRESETS, BrightnessContrast, RGBSource, VolumeSliceSource,
                           WindowLevel, default_window, lps_and_ras, volume_orientation)

GEO = VolumeGeometry((20, 30, 40), (0.5, 0.6, 2.5), (10.0, -20.0, 30.0))


def _volume(geo=GEO):
    k, j, i = np.indices(geo.shape)
    return (1000 * k + 10 * j + i / 100).astype(np.float32)


def test_each_axis_gives_its_picture_as_a_view_with_its_pixel_size():
    vol = _volume()
    k = VolumeSliceSource(Place("v", axis="k", index=3), vol, GEO)
    j = VolumeSliceSource(Place("v", axis="j", index=4), vol, GEO)
    i = VolumeSliceSource(Place("v", axis="i", index=5), vol, GEO)
    assert k.size == (40, 30) and k.pixel_size == (0.5, 0.6)
    assert j.size == (40, 20) and j.pixel_size == (0.5, 2.5)
    assert i.size == (30, 20) and i.pixel_size == (0.6, 2.5)
    assert np.shares_memory(k.pixels(), vol) and np.shares_memory(i.pixels(), vol)
    assert k.value_at(7.5, 2.2) == vol[3, 2, 7]
    assert j.value_at(7.5, 2.2) == vol[2, 4, 7]
    assert i.value_at(7.5, 2.2) == vol[2, 7, 5]
    assert k.value_at(-0.1, 0) is None and k.value_at(40, 0) is None


def test_world_positions_match_simpleitk():
    img = sitk.Image(40, 30, 20, sitk.sitkFloat32)
    img.SetSpacing(GEO.spacing)
    img.SetOrigin(GEO.origin)
    vol = _volume()
    for axis, (x, y), ijk in (("k", (7.5, 2.5), (7, 2, 3)), ("j", (7.5, 2.5), (7, 4, 2)),
                              ("i", (7.5, 2.5), (5, 7, 2))):
        index = {"k": 3, "j": 4, "i": 5}[axis]
        src = VolumeSliceSource(Place("v", axis=axis, index=index), vol, GEO)
        assert np.allclose(src.to_world(x, y), img.TransformIndexToPhysicalPoint(ijk))
        # and back: the point on this pane and the slice it lies on
        px, py, s = src.point_of(src.to_world(x, y))
        assert np.allclose((px, py, s), (x, y, index))


def test_standard_axial_ct_is_shown_in_the_radiological_convention():
    for axis, pane, letters, flips in (
            ("k", "axial", ("R", "L", "A", "P"), (False, False)),
            ("j", "coronal", ("R", "L", "S", "I"), (False, True)),
            ("i", "sagittal", ("A", "P", "S", "I"), (False, True))):
        got_pane, o = volume_orientation(GEO, axis)
        assert got_pane == pane and o.letters == letters and (o.flip_x, o.flip_y) == flips
        assert not o.transpose and not o.oblique


def test_a_sagittal_acquisition_still_shows_axial_in_the_axial_pane():
    # slices along patient left (k), columns toward anterior (i = -P), rows toward inferior
    geo = VolumeGeometry((20, 30, 40), direction=((0, 0, 1), (-1, 0, 0), (0, -1, 0)))
    pane, o = volume_orientation(geo, "k")
    assert pane == "sagittal" and o.letters == ("A", "P", "S", "I")
    assert o.flip_x and not o.flip_y and not o.transpose
    pane, o = volume_orientation(geo, "j")  # picture [k, i]: rows along L, cols along A
    assert pane == "axial" and o.transpose and o.letters == ("R", "L", "A", "P")


def test_tilted_panes_say_oblique():
    a = np.radians(15)
    d = ((1, 0, 0), (0, np.cos(a), -np.sin(a)), (0, np.sin(a), np.cos(a)))
    _, o = volume_orientation(VolumeGeometry((5, 5, 5), direction=d), "k")
    assert o.oblique and abs(o.oblique_deg - 15) < 1e-6


def test_display_mappings():
    hu = np.array([[-1000, 0, 40, 240, 3000]], np.int16)
    wl = CT_PRESETS["CT soft tissue"]  # W400 L40: -160 .. 240 HU
    assert wl.apply(hu).tolist() == [[0, 102, 127, 255, 255]]
    assert WindowLevel(80, 40).apply(np.array([0, 40, 80])).tolist() == [0, 127, 255]
    assert default_window("CT", hu) == wl
    mr = np.linspace(0, 1000, 10001)
    auto = default_window("MR", mr)
    assert abs(auto.low - 10) < 1 and abs(auto.high - 990) < 1
    dragged = WindowLevel(400, 40).dragged(10, -5, 2.0)
    assert (dragged.width, dragged.level) == (420, 30)
    with pytest.raises(ValueError):
        WindowLevel(0, 0)
    rgb = np.full((2, 2, 3), 100, np.uint8)
    assert BrightnessContrast().apply(rgb) is rgb
    assert (BrightnessContrast(0.2, 0).apply(rgb) == 151).all()


def test_rgb_source_and_status_text():
    src = RGBSource(Place("m"), np.zeros((4, 6), np.uint8))
    assert src.size == (6, 4) and src.pixels().shape == (4, 6, 3) and src.to_world(1, 1) is None
    assert lps_and_ras(np.array([-12.3, 45.6, 7.8])) == "R 12.3 P 45.6 S 7.8 mm (RAS 12.3, -45.6, 7.8)"
