"""Label maps: bricked storage, one modify entry point (set/add/erase, paint-only-where), undo
that restores every voxel, and a bounded cache."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.commands import ModifyLabelMap, Put, Remove
from app.core.document import Document
from app.core.errors import RefusedEdit
from app.core.geometry import VolumeGeometry
from app.core.labelmap import BRICK, LabelMapInfo, Mode, Segment, apply_mode
from app.core.media import MediaItem, MediaKind

SHAPE = (40, 70, 90)  # k, j, i: not multiples of the brick edge


@pytest.fixture
def labelled(tmp_path):
    doc = Document.create(tmp_path / "vol")
    vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                    height=0, volume=VolumeGeometry(SHAPE, (0.5, 0.5, 2.5)))
    info = LabelMapInfo(vol.id, *SHAPE, segments=(Segment(1, "bone"), Segment(2, "liver")))
    doc.execute(Put((vol, info)))
    yield doc, info
    doc.close()


def _ball(shape, centre, r):
    k, j, i = np.ogrid[:shape[0], :shape[1], :shape[2]]
    return (k - centre[0]) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2 <= r * r


def test_modes_follow_slicer():
    old = np.array([[[0, 1, 2, 1]]], np.uint8)
    mod = np.array([[[True, False, True, False]]])
    assert apply_mode(old, mod, Mode.ADD, 1, None).tolist() == [[[1, 1, 1, 1]]]
    assert apply_mode(old, mod, Mode.SET, 1, None).tolist() == [[[1, 0, 1, 0]]]
    assert apply_mode(old, mod, Mode.ERASE, 2, None).tolist() == [[[0, 1, 0, 1]]]
    assert apply_mode(old, mod, Mode.ERASE, 0, None).tolist() == [[[0, 1, 0, 1]]]
    where = np.array([[[True, True, False, False]]])
    assert apply_mode(old, mod, Mode.ADD, 1, where).tolist() == [[[1, 1, 2, 1]]]


def test_a_stroke_in_any_orientation_writes_only_its_bricks_and_undo_restores_every_voxel(
        labelled, tmp_path):
    doc, info = labelled
    rng = np.random.default_rng(3)
    # a sagittal stroke: fixed i, a disc in (k, j)
    disc = _ball((12, 12, 1), (6, 6, 0), 5)
    doc.execute(ModifyLabelMap(info.id, (10, 20, 45), disc, Mode.ADD, 1))
    labels = doc.labelmap_volume(info.id)
    assert int(labels.sum()) == int(disc.sum())
    assert doc.store.brick_keys(info.id) == [(0, 0, 1)]  # k 10-21, j 20-31, i 45: one brick
    # add another segment over it, then erase part of it, all undoable
    noisy = rng.random((20, 30, 40)) > 0.5
    doc.execute(ModifyLabelMap(info.id, (5, 10, 30), noisy, Mode.ADD, 2))
    after_two = doc.labelmap_volume(info.id)
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), np.ones(SHAPE, bool), Mode.ERASE, 2))
    assert not (doc.labelmap_volume(info.id) == 2).any()
    doc.undo()
    assert np.array_equal(doc.labelmap_volume(info.id), after_two)
    doc.undo()
    assert np.array_equal(doc.labelmap_volume(info.id), labels)
    doc.redo()
    assert np.array_equal(doc.labelmap_volume(info.id), after_two)
    doc.close()
    with Document.open(tmp_path / "vol") as again:
        assert np.array_equal(again.labelmap_volume(info.id), after_two)


def test_undo_keeps_only_the_changed_box_never_the_volume(labelled):
    doc, info = labelled
    cmd = ModifyLabelMap(info.id, (0, 0, 0), _ball(SHAPE, (20, 35, 45), 3), Mode.ADD, 1)
    doc.execute(cmd)
    start, before, changed = cmd._undo[0]
    assert start == (17, 32, 42) and before.shape == (7, 7, 7) and changed == cmd.voxels_changed


def test_paint_only_where_and_set_mode(labelled):
    doc, info = labelled
    where = np.zeros((1, 70, 90), bool)
    where[:, :, :45] = True  # e.g. an intensity range
    doc.execute(ModifyLabelMap(info.id, (3, 0, 0), np.ones((1, 70, 90), bool), Mode.ADD, 1,
                               where=where))
    plane = doc.labelmap_plane(info.id, "k", 3)
    assert plane.shape == (70, 90) and plane[:, :45].all() and not plane[:, 45:].any()
    # SET: inside the box the segment becomes exactly the modifier
    mod = np.zeros((1, 70, 90), bool)
    mod[0, 10:20, 10:20] = True
    doc.execute(ModifyLabelMap(info.id, (3, 0, 0), mod, Mode.SET, 1))
    assert int(doc.labelmap_plane(info.id, "k", 3).sum()) == 100


def test_planes_of_every_axis_read_the_same_voxels(labelled):
    doc, info = labelled
    ball = _ball(SHAPE, (20, 30, 40), 9)
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), ball, Mode.ADD, 2))
    vol = doc.labelmap_volume(info.id)
    assert np.array_equal(doc.labelmap_plane(info.id, "k", 20), vol[20])
    assert np.array_equal(doc.labelmap_plane(info.id, "j", 30), vol[:, 30])
    assert np.array_equal(doc.labelmap_plane(info.id, "i", 40), vol[:, :, 40])


def test_refusals(labelled):
    doc, info = labelled
    with pytest.raises(RefusedEdit, match="outside label map"):
        doc.execute(ModifyLabelMap(info.id, (35, 0, 0), np.ones((10, 1, 1), bool)))
    with pytest.raises(RefusedEdit, match="no segment with value 7"):
        doc.execute(ModifyLabelMap(info.id, (0, 0, 0), np.ones((1, 1, 1), bool), value=7))
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), np.ones((1, 1, 1), bool), value=2))
    with pytest.raises(RefusedEdit, match="still painted"):
        doc.execute(Put((LabelMapInfo(info.media_id, *SHAPE, segments=info.segments[:1],
                                      id=info.id),)))


def test_removing_a_label_map_is_undone_with_its_voxels(labelled):
    doc, info = labelled
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), _ball(SHAPE, (5, 5, 5), 4), value=1))
    before = doc.labelmap_volume(info.id)
    doc.execute(Remove((info,)))
    assert doc.labelmaps(info.media_id) == [] and doc.store.brick_keys(info.id) == []
    doc.undo()
    assert np.array_equal(doc.labelmap_volume(info.id), before)


def test_the_brick_cache_is_bounded(tmp_path):
    shape = (96, 128, 128)
    cap = 3 * BRICK ** 3 * 2  # three uint16 bricks
    doc = Document.create(tmp_path / "big", cache_bytes=cap)
    vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                    height=0, volume=VolumeGeometry(shape))
    info = LabelMapInfo(vol.id, *shape, segments=(Segment(1, "a"),))
    doc.execute(Put((vol, info)))
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), np.ones(shape, bool), value=1))
    assert int(doc.labelmap_volume(info.id).sum()) == np.prod(shape)
    assert doc.brick_cache.bytes <= cap and doc.brick_cache.peak_bytes <= cap
    doc.close()
