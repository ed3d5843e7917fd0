"""Volume segmentation tools without a window: brush strokes sized in mm (disc and sphere) on
anisotropic voxels, paint constrained to an intensity range, flood fill in a slice and in 3D
with a voxel limit, fill between slices (shape-based), per-segment counts and mL, segment
edits linked to classes - each through the document's one label-map modify, undone per step."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.geometry import VolumeGeometry
from app.core.labelmap import LabelMapInfo, Segment
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.schema import LabelClass, LabelSchema
from app.tools.paint import LabelMapPaint
from app.tools.volume_brush import BrushSettings, VolumeBrush, footprint
from app.tools.volume_fill import FillTooLarge, flood_2d, flood_3d
from app.tools.volume_interpolate import fill_between, fill_between_command
from app.tools.volume_segments import add_segment, delete_segment, edit_segment
from app.tools.volume_stats import SegmentStats, voxel_ml

SHAPE = (20, 40, 50)  # k, j, i
SPACING = (0.8, 1.0, 2.5)  # si, sj, sk (mm)
GEO = VolumeGeometry(SHAPE, SPACING, (10.0, -20.0, 5.0))


def ct() -> np.ndarray:
    """Soft tissue (40 HU) with a bone block (700 HU) at i >= 30 and air at j < 5."""
    vol = np.full(SHAPE, 40.0, np.float32)
    vol[:, :, 30:] = 700.0
    vol[:, :5, :] = -1000.0
    return vol


@pytest.fixture
def scene(tmp_path):
    doc = Document.create(tmp_path / "p")
    item = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                     height=0, volume=GEO)
    doc.execute(Put((item,)))
    doc.execute(SetSchema(LabelSchema((LabelClass("bone", "#ffd700", id="bone"),))))
    info = LabelMapInfo(item.id, *SHAPE, segments=(Segment(1, "bone", "#ffd700", "bone"),))
    doc.execute(Put((info,)))
    settings = BrushSettings(radius_mm=4.0)
    brush = VolumeBrush(ct(), GEO, settings)
    target = LabelMapPaint(info.id, 1, "#ffd700", brush=brush)
    yield doc, item, info, brush, target
    doc.close()


def stroke(brush, target, place, path, erase=False):
    h, w = brush.picture(place).shape
    buf = np.zeros((h, w), np.uint8)
    for p0, p1 in zip([path[0]] + path, path):
        brush.stamp(buf, place, p0, p1)
    return buf, brush.command(target, place, path, buf, erase, "Paint")


def test_a_disc_is_round_in_millimetres_on_an_anisotropic_pane(scene):
    doc, item, info, brush, target = scene
    place = Place(item.id, axis="j", index=20)  # picture [k, i]: pixels 0.8 mm x 2.5 mm
    buf, cmd = stroke(brush, target, place, [(25.5, 10.5)])
    rows, cols = np.nonzero(buf)
    assert cols.max() - cols.min() + 1 == 2 * math.floor(4.0 / 0.8) + 1 - 0  # +-5 columns
    assert rows.max() - rows.min() + 1 == 2 * math.floor(4.0 / 2.5) + 1  # +-1 row
    # every painted pixel centre lies within 4 mm of the centre
    d = np.hypot((cols + 0.5 - 25.5) * 0.8, (rows + 0.5 - 10.5) * 2.5)
    assert d.max() <= 4.0
    doc.execute(cmd)
    lab = doc.labelmap_volume(info.id)
    assert set(np.nonzero(lab)[1]) == {20} and lab.sum() == buf.sum()
    doc.undo()
    assert not doc.labelmap_volume(info.id).any()


def test_a_sphere_paints_the_neighbouring_slices_within_the_radius(scene):
    doc, item, info, brush, target = scene
    brush.settings.sphere = True
    brush.settings.radius_mm = 6.0
    place = Place(item.id, axis="k", index=10)  # picture [j, i], slices 2.5 mm apart
    _, cmd = stroke(brush, target, place, [(20.5, 20.5), (24.5, 20.5)])
    doc.execute(cmd)
    k, j, i = np.nonzero(doc.labelmap_volume(info.id))
    assert set(k) == {8, 9, 10, 11, 12}  # floor(6 / 2.5) = 2 slices each side
    # distance of each voxel centre (mm) to the segment (20.5..24.5, 20.5) on slice 10
    x, y = (i + 0.5) * 0.8, (j + 0.5) * 1.0
    tx = np.clip(x, 20.5 * 0.8, 24.5 * 0.8)
    d = np.sqrt((x - tx) ** 2 + (y - 20.5) ** 2 + ((k - 10) * 2.5) ** 2)
    assert d.max() <= 6.0 + 1e-6
    # and every voxel within 5.5 mm is painted (nothing missed inside)
    kk, jj, ii = np.indices(SHAPE)
    x, y = (ii + 0.5) * 0.8, (jj + 0.5) * 1.0
    tx = np.clip(x, 20.5 * 0.8, 24.5 * 0.8)
    near = np.sqrt((x - tx) ** 2 + (y - 20.5) ** 2 + ((kk - 10) * 2.5) ** 2) <= 5.5
    assert doc.labelmap_volume(info.id)[near].all()


def test_paint_only_where_the_intensity_lies_in_a_range(scene):
    doc, item, info, brush, target = scene
    brush.settings.intensity = (200.0, 3000.0)  # bone only
    brush.settings.radius_mm = 10.0
    place = Place(item.id, axis="k", index=5)
    buf, cmd = stroke(brush, target, place, [(25.5, 20.5), (35.5, 20.5)])
    assert buf[:, :30].sum() == 0 and buf[:, 30:].sum() > 0  # the preview too
    doc.execute(cmd)
    lab = doc.labelmap_volume(info.id)
    vol = ct()
    assert lab.any() and (vol[lab == 1] >= 200).all()
    assert lab[:, :, :30].sum() == 0


def test_the_eraser_clears_any_segment_under_it(scene):
    doc, item, info, brush, target = scene
    place = Place(item.id, axis="i", index=10)
    _, cmd = stroke(brush, target, place, [(20.5, 10.5)])
    doc.execute(cmd)
    assert doc.labelmap_volume(info.id).any()
    _, cmd = stroke(brush, target, place, [(20.5, 10.5)], erase=True)
    doc.execute(cmd)
    assert not doc.labelmap_volume(info.id).any()
    assert doc.undo_label == "Paint"  # the eraser's stroke, labelled by the caller


def test_flood_fill_in_a_slice_and_in_3d_with_a_limit():
    vol = ct()
    region = flood_2d(vol[3], (20, 10), 0, 100)  # soft tissue of slice 3
    assert region.sum() == (40 - 5) * 30 and not region[:5].any() and not region[:, 30:].any()
    assert not flood_2d(vol[3], (2, 2), 0, 100).any()  # seed outside the range
    start, mask = flood_3d(vol, (3, 20, 10), 0, 100, limit=10 ** 6)
    full = np.zeros(SHAPE, bool)
    full[tuple(slice(s, s + n) for s, n in zip(start, mask.shape))] = mask
    assert np.array_equal(full, (vol >= 0) & (vol <= 100))  # one connected block
    with pytest.raises(FillTooLarge):
        flood_3d(vol, (3, 20, 10), 0, 100, limit=1000)


def test_flood_3d_agrees_with_scipy_on_a_maze():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(3)
    vol = rng.normal(0, 1, (30, 70, 60)).astype(np.float32)
    vol = ndimage.gaussian_filter(vol, 1.5)
    seed = tuple(int(v) for v in np.unravel_index(np.argmax(vol), vol.shape))
    lo, hi = 0.0, 10.0
    labels, _ = ndimage.label((vol >= lo) & (vol <= hi))  # 6-connected by default
    expected = labels == labels[seed]
    start, mask = flood_3d(vol, seed, lo, hi, limit=10 ** 7)
    full = np.zeros(vol.shape, bool)
    full[tuple(slice(s, s + n) for s, n in zip(start, mask.shape))] = mask
    assert np.array_equal(full, expected)


def test_fill_between_two_identical_slices_gives_the_slab():
    stack = np.zeros((9, 30, 30), bool)
    stack[1, 5:20, 8:25] = True
    stack[7, 5:20, 8:25] = True
    out = fill_between(stack, (0.7, 1.3))
    assert all(np.array_equal(out[s], stack[1]) for s in range(1, 8))
    assert not out[0].any() and not out[8].any()


def test_fill_between_grows_a_disc_to_a_larger_one_monotonically():
    yy, xx = np.mgrid[0:61, 0:61]
    r = np.hypot(xx - 30, yy - 30)
    stack = np.zeros((11, 61, 61), bool)
    stack[0], stack[10] = r <= 6, r <= 26
    out = fill_between(stack, (1.0, 1.0))
    areas = out.reshape(11, -1).sum(1)
    assert all(a < b for a, b in zip(areas, areas[1:]))
    assert abs(math.sqrt(areas[5] / math.pi) - 16) < 1.0  # half-way radius


def test_fill_between_slices_command_fills_only_the_gap_and_spares_other_segments(scene):
    from app.core.commands import ModifyLabelMap

    doc, item, info, brush, target = scene
    info2 = info.with_segment(Segment(2, "other", "#00ff00", "bone"))
    doc.execute(Put((info2,)))
    square = np.zeros(SHAPE, bool)
    square[4, 10:20, 10:30] = square[12, 10:20, 10:30] = True
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), square, value=1))
    other = np.zeros(SHAPE, bool)
    other[8, 15, 15] = True
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), other, value=2))
    cmd, text = fill_between_command(doc, info.id, 1, "k", GEO)
    assert cmd is not None and "7 slice" in text
    doc.execute(cmd)
    lab = doc.labelmap_volume(info.id)
    slab = np.zeros(SHAPE, bool)
    slab[4:13, 10:20, 10:30] = True
    assert np.array_equal(lab == 1, slab & ~other) and lab[8, 15, 15] == 2
    doc.undo()
    assert (doc.labelmap_volume(info.id) == 1).sum() == square.sum()
    none, why = fill_between_command(doc, info.id, 2, "k", GEO)
    assert none is None and "two slices" in why


def test_segment_counts_and_millilitres_follow_every_edit(scene):
    from app.core.commands import ModifyLabelMap

    doc, item, info, brush, target = scene
    stats = SegmentStats(doc, info.id)
    assert stats.counts() == {}
    block = np.ones((3, 4, 5), bool)
    doc.execute(ModifyLabelMap(info.id, (2, 30, 30), block, value=1))
    stats.update((2, 30, 30), (3, 4, 5))
    assert stats.counts() == {1: 60}
    assert math.isclose(60 * voxel_ml(GEO), 60 * 0.8 * 1.0 * 2.5 / 1000)
    box = stats.box_of(1)
    assert box.start == (0, 0, 0) and box.shape == (20, 40, 50)  # the bricks holding it
    doc.undo()
    stats.recount()
    assert stats.counts() == {}


def test_segments_are_added_linked_to_classes_renamed_and_deleted_with_one_undo(scene):
    from app.core.commands import ModifyLabelMap

    doc, item, info, brush, target = scene
    cmd, new_info, seg = add_segment(doc.schema, info, item, name="Liver")
    doc.execute(cmd)
    cls = doc.schema.class_by_name("Liver")
    assert cls is not None and seg.class_id == cls.id and seg.value == 2
    doc.execute(edit_segment(doc.labelmap_info(info.id), 2, name="liver", color="#123456"))
    got = doc.labelmap_info(info.id).segment(2)
    assert (got.name, got.color, got.class_id) == ("liver", "#123456", cls.id)
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), np.ones((2, 2, 2), bool), value=2))
    doc.execute(delete_segment(doc.labelmap_info(info.id), 2))
    assert doc.labelmap_info(info.id).segment(2) is None
    assert not doc.labelmap_volume(info.id).any()
    doc.undo()
    assert doc.labelmap_info(info.id).segment(2) is not None
    assert doc.labelmap_volume(info.id).sum() == 2 * 8
    # a label map made on the way: add_segment without one
    cmd, made, seg = add_segment(doc.schema, None, item, class_id="bone")
    doc.execute(cmd)
    assert doc.labelmap_info(made.id).shape == SHAPE and seg.class_id == "bone"


def test_footprint_always_holds_the_pixel_under_the_pointer():
    (r0, c0), hit = footprint([(3.2, 7.9)], 0.01, (1.0, 1.0), (20, 20))
    assert hit.sum() == 1 and hit[7 - r0, 3 - c0]
