"""Memory of label-map edits, counted (tracemalloc), never timed: a change's box is found by
reducing along axes (no list of voxels), and an edit's extra memory stays within 1.5x the
changed box's label bytes plus a few bricks; the box equals the np.nonzero one on random masks."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from app.core.commands import ModifyLabelMap, Put
from app.core.document import Document
from app.core.geometry import VolumeGeometry
from app.core.labelmap import LabelMapInfo, Mode, Region, Segment
from app.core.media import MediaItem, MediaKind

SHAPE = (64, 256, 256)  # k, j, i: 4 Mi voxels, 8 MiB of uint16 labels
SLACK = 2 << 20  # bytes: a few bricks, compressed blobs, Python objects


def _nonzero_box(mask: np.ndarray, value: int | None = None) -> Region | None:
    """The box the old implementation found (np.nonzero of the mask)."""
    idx = np.nonzero(mask if value is None else mask == value)
    if not idx[0].size:
        return None
    lo = tuple(int(a.min()) for a in idx)
    hi = tuple(int(a.max()) + 1 for a in idx)
    return Region(lo, tuple(h - l for l, h in zip(lo, hi)))  # type: ignore[arg-type]


def test_region_around_equals_the_nonzero_box_on_random_masks():
    rng = np.random.default_rng(20)
    for n in range(300):
        shape = tuple(int(v) for v in rng.integers(1, 40, 3))
        density = rng.choice([0.0, 1e-4, 0.002, 0.05, 0.5, 1.0])
        mask = rng.random(shape) < density
        if n % 7 == 0:  # a single voxel somewhere
            mask[:] = False
            mask[tuple(int(rng.integers(0, s)) for s in shape)] = True
        assert Region.around(mask) == _nonzero_box(mask), (shape, density)
        labels = (mask * rng.integers(1, 4, shape)).astype(np.uint16)
        assert Region.around(labels) == _nonzero_box(labels)  # non-zero of any dtype
        for value in (1, 2, 3):
            assert Region.around(labels, value) == _nonzero_box(labels, value)


def test_region_around_holds_a_plane_not_a_list_of_voxels():
    mask = np.zeros((128, 256, 256), bool)  # 8 MiB, two voxels set at opposite corners
    mask[0, 0, 0] = mask[-1, -1, -1] = True
    full = np.ones((128, 256, 256), bool)  # np.nonzero of this one: 24 bytes a voxel
    labels = np.where(full, 3, 0).astype(np.uint16)
    tracemalloc.start()
    try:
        assert Region.around(mask) == Region((0, 0, 0), mask.shape)
        assert Region.around(full) == Region((0, 0, 0), full.shape)
        assert Region.around(labels, 3) == Region((0, 0, 0), full.shape)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 6 << 20, peak  # one 4M-voxel slab mask (value form) and a 256x256 plane


@pytest.fixture
def doc(tmp_path):
    d = Document.create(tmp_path / "mem", cache_bytes=1 << 20)  # the cache: 1 MiB, counted
    vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                    height=0, volume=VolumeGeometry(SHAPE, (0.5, 0.5, 1.0)))
    info = LabelMapInfo(vol.id, *SHAPE, segments=(Segment(1, "a"), Segment(2, "b")))
    d.execute(Put((vol, info)))
    yield d, info
    d.close()


def _peak(fn) -> int:
    """Peak bytes allocated (tracemalloc) while ``fn`` runs, above what was there before."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _box_bytes(cmd: ModifyLabelMap) -> int:
    before = cmd._undo[0][1]
    return int(np.prod(before.shape)) * before.dtype.itemsize


def test_a_large_sparse_change_costs_its_box_not_its_modifier(doc):
    d, info = doc
    modifier = np.zeros(SHAPE, bool)  # the whole label map offered, a small ball changed
    k, j, i = np.ogrid[:20, :20, :20]
    modifier[30:50, 100:120, 200:220] = (k - 10) ** 2 + (j - 10) ** 2 + (i - 10) ** 2 <= 81
    cmd = ModifyLabelMap(info.id, (0, 0, 0), modifier, Mode.ADD, 1)
    peak = _peak(lambda: d.execute(cmd))
    assert cmd.voxels_changed == int(modifier.sum())
    assert cmd._undo[0][0] == (31, 101, 201) and cmd._undo[0][1].shape == (19, 19, 19)
    assert peak <= 1.5 * _box_bytes(cmd) + SLACK, peak  # old: ~6x the whole label map
    assert np.array_equal(d.labelmap_volume(info.id) == 1, modifier)


@pytest.mark.parametrize("mode", [Mode.ADD, Mode.SET, Mode.ERASE])
def test_a_full_volume_edit_and_its_undo_stay_within_one_and_a_half_boxes(doc, mode):
    d, info = doc
    rng = np.random.default_rng(4)
    noisy = rng.random(SHAPE) < 0.3  # existing labels: the undo copy is a real array
    d.execute(ModifyLabelMap(info.id, (0, 0, 0), noisy, Mode.ADD, 2))
    before_all = d.labelmap_volume(info.id)
    modifier = np.ones(SHAPE, bool)
    modifier[:, :, :3] = False  # a full-volume fill but for a thin wall
    value = 2 if mode is Mode.ERASE else 1
    cmd = ModifyLabelMap(info.id, (0, 0, 0), modifier, mode, value)
    peak = _peak(lambda: d.execute(cmd))
    assert peak <= 1.5 * _box_bytes(cmd) + SLACK, (peak, _box_bytes(cmd))
    from app.core.labelmap import apply_mode

    expected = apply_mode(before_all, modifier, mode, value, None)
    assert np.array_equal(d.labelmap_volume(info.id), expected)
    assert cmd.voxels_changed == int((expected != before_all).sum())
    box = cmd._undo[0][1].nbytes
    undo_peak = _peak(d.undo)  # reads the current box (the redo copy) and writes it back
    assert undo_peak <= 1.5 * box + SLACK, (undo_peak, box)
    assert np.array_equal(d.labelmap_volume(info.id), before_all)
    redo_peak = _peak(d.redo)
    assert redo_peak <= 1.5 * box + SLACK, (redo_peak, box)
    assert np.array_equal(d.labelmap_volume(info.id), expected)


def test_an_edit_of_an_empty_label_map_keeps_no_undo_array(doc):
    d, info = doc
    modifier = np.ones(SHAPE, bool)
    cmd = ModifyLabelMap(info.id, (0, 0, 0), modifier, Mode.ADD, 1)
    peak = _peak(lambda: d.execute(cmd))
    before = cmd._undo[0][1]
    assert before.shape == SHAPE and not before.any()  # zeros that cost nothing (a view)
    assert peak <= SLACK + int(np.prod(SHAPE)) * 2 // 4, peak
    assert int(d.labelmap_volume(info.id).sum()) == int(np.prod(SHAPE))
    d.undo()
    assert not d.labelmap_volume(info.id).any() and d.store.brick_keys(info.id) == []
    d.redo()
    assert int(d.labelmap_volume(info.id).sum()) == int(np.prod(SHAPE))


def test_small_edits_still_keep_their_bricks_in_the_cache(tmp_path):
    d = Document.create(tmp_path / "cache")  # default cache: 256 MiB
    vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                    height=0, volume=VolumeGeometry(SHAPE, (0.5, 0.5, 1.0)))
    info = LabelMapInfo(vol.id, *SHAPE, segments=(Segment(1, "a"),))
    d.execute(Put((vol, info)))
    d.execute(ModifyLabelMap(info.id, (10, 10, 10), np.ones((5, 40, 40), bool), Mode.ADD, 1))
    found, brick = d.brick_cache.get(info.id, (0, 0, 0))
    assert found and brick is not None and int(brick.sum()) == 5 * 22 * 22
    d.close()


def test_the_3d_fill_finds_connected_thresholds_region_on_random_volumes():
    import SimpleITK as sitk

    from app.tools.volume_fill import flood_3d

    rng = np.random.default_rng(6)
    for _ in range(25):
        shape = tuple(int(v) for v in rng.integers(3, 60, 3))
        vol = rng.integers(0, 100, shape).astype(np.int16)
        seed = tuple(int(rng.integers(0, s)) for s in shape)
        lo = float(vol[seed]) - rng.integers(20, 60)
        hi = float(vol[seed]) + rng.integers(20, 60)
        start, mask = flood_3d(vol, seed, lo, hi, limit=10 ** 9)
        inside = ((vol >= lo) & (vol <= hi)).astype(np.uint8)
        ref = sitk.GetArrayFromImage(sitk.ConnectedThreshold(
            sitk.GetImageFromArray(inside), seedList=[seed[::-1]], lower=1, upper=1,
            replaceValue=1)).astype(bool)
        full = np.zeros(shape, bool)
        full[tuple(slice(s, s + n) for s, n in zip(start, mask.shape))] = mask
        assert np.array_equal(full, ref)


def test_a_nifti_label_import_holds_the_labels_once_and_its_boxes(tmp_path):
    from app.io.volume import write_labelmap_nifti
    from app.io.volume.project import import_labelmap

    d = Document.create(tmp_path / "imp")
    vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                    height=0, volume=VolumeGeometry(SHAPE, (0.5, 0.5, 1.0)))
    d.execute(Put((vol,)))
    labels = np.zeros(SHAPE, np.uint8)
    labels[: SHAPE[0] // 2] = 1  # half the volume, one segment: 2 MiB of 4 MiB uint8 labels
    labels[40:50, 10:20, 10:20] = 2
    path = tmp_path / "seg.nii.gz"
    write_labelmap_nifti(path, labels, VolumeGeometry(SHAPE, (0.5, 0.5, 1.0)),
                         [Segment(1, "a"), Segment(2, "b")])
    del labels
    made = []
    label_bytes = int(np.prod(SHAPE))  # uint8
    peak = _peak(lambda: made.append(import_labelmap(d, path, vol)))
    # the labels once, segment 1's box as bools (half of them), a slab's mask: old ~11x
    assert peak <= 1.5 * label_bytes + SLACK + (4 << 20), peak
    cached = d.brick_cache.bytes
    peak = _peak(lambda: d.execute(made[0]))
    kept = d.brick_cache.bytes - cached  # a small edit keeps its new bricks in the cache
    assert kept <= d.brick_cache.max_bytes // 4
    assert peak <= SLACK + kept, peak  # undo copies of a new label map: zeros costing nothing
    back = d.labelmap_volume(d.labelmaps(vol.id)[0].id)
    assert int((back == 1).sum()) == 32 * 256 * 256 and int((back == 2).sum()) == 1000
    d.close()
