"""app.core.rle against pycocotools, the outside reference, bit for bit and pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import _mask as coco_mask_c
from pycocotools import mask as coco_mask

from app.core import polygon_raster as P, rle as R

# pycocotools' decode still uses the pre-numpy-2 __array__ signature; not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

# --------------------------------------------------------------------------------------------
# reference helpers


def ref_counts(mask: np.ndarray) -> str:
    """pycocotools' compressed counts for a 2-D mask."""
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()


def ref_obj(r: R.Rle) -> dict:
    return {"size": [r.height, r.width], "counts": r.counts.encode()}


def ref_rasterize(polygons: list[list[float]], h: int, w: int) -> np.ndarray:
    """pycocotools' mask for polygons: decode(merge(frPyObjects(polygons, h, w))).

    ``frPyObjects`` reads a list whose first entry has 4 numbers as boxes, so those lists go
    through ``_mask.frPoly``, the very function ``frPyObjects`` calls for polygons.
    """
    if len(polygons[0]) > 4:
        rles = coco_mask.frPyObjects(polygons, h, w)
    else:
        rles = coco_mask_c.frPoly(polygons, h, w)
    return coco_mask.decode(coco_mask.merge(rles)).astype(bool)


def assert_same_pixels(polygons: list[list[float]], h: int, w: int) -> None:
    ours = P.rasterize_polygons(polygons, h, w)
    ref = ref_rasterize(polygons, h, w)
    assert ours.shape == (h, w) and ours.dtype == np.bool_
    diff = np.argwhere(ours != ref)
    assert diff.size == 0, f"{len(diff)} pixels differ, first (row, col) {diff[:5].tolist()}"


def blobs(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[:h, :w]
    m = np.zeros((h, w), dtype=bool)
    for _ in range(3):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(0.1, 0.4) * min(h, w)
        m |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    return m


def mask_cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(1234)
    cases: list[tuple[str, np.ndarray]] = [
        ("1x1-zero", np.zeros((1, 1), bool)),
        ("1x1-one", np.ones((1, 1), bool)),
        ("zeros", np.zeros((37, 41), bool)),
        ("ones", np.ones((37, 41), bool)),
        ("row", rng.random((1, 97)) < 0.5),
        ("column", rng.random((89, 1)) < 0.5),
        ("last-pixel", np.pad(np.ones((1, 1), bool), ((6, 0), (4, 0)))),
        ("first-pixel", np.pad(np.ones((1, 1), bool), ((0, 6), (0, 4)))),
        ("blobs", blobs(120, 170, 0)),
        ("blobs-big", blobs(480, 640, 1)),
        ("wrapping-runs", np.tile(np.array([[1], [1], [0]], bool), (1, 9))),
    ]
    for shape in [(2, 3), (7, 13), (64, 64), (31, 257), (300, 200)]:
        for p in (0.02, 0.5, 0.97):
            cases.append((f"random{shape}-{p}", rng.random(shape) < p))
    cases.append(("noisy-512", rng.random((512, 512)) < 0.5))
    # over 2**19 pixels: compared in cache-sized chunks, sparse and dense flips
    cases.append(("blobs-1100x1000", blobs(1100, 1000, 2)))
    cases.append(("noisy-1100x1000", rng.random((1100, 1000)) < 0.3))
    return cases


MASKS = mask_cases()
MASK_IDS = [name for name, _ in MASKS]


# --------------------------------------------------------------------------------------------
# encode / decode


@pytest.mark.parametrize("mask", [m for _, m in MASKS], ids=MASK_IDS)
def test_encode_matches_pycocotools_in_any_layout(mask: np.ndarray) -> None:
    expected = ref_counts(mask)
    h, w = mask.shape
    for variant in (
        mask,
        np.asfortranarray(mask),
        mask.astype(np.uint8),
        np.asfortranarray(mask.astype(np.uint8)) * 255,
        np.pad(mask, ((0, 0), (0, 3)))[:, :w],  # strided view, neither C nor F contiguous
    ):
        r = R.encode(variant)
        assert (r.height, r.width) == (h, w)
        assert r.counts == expected


@pytest.mark.parametrize("mask", [m for _, m in MASKS], ids=MASK_IDS)
def test_decode_round_trip_and_reads_pycocotools_strings(mask: np.ndarray) -> None:
    h, w = mask.shape
    out = R.decode(R.encode(mask))
    assert out.dtype == np.bool_ and out.flags.c_contiguous and out.shape == (h, w)
    assert np.array_equal(out, mask)
    theirs = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    ours = R.Rle.from_coco(theirs)
    assert np.array_equal(R.decode(ours), coco_mask.decode(theirs).astype(bool))


@pytest.mark.parametrize("mask", [m for _, m in MASKS], ids=MASK_IDS)
def test_area_and_bbox_match_pycocotools(mask: np.ndarray) -> None:
    r = R.encode(mask)
    assert R.area(r) == int(coco_mask.area(ref_obj(r))) == int(mask.sum())
    assert R.bbox(r) == tuple(float(v) for v in coco_mask.toBbox(ref_obj(r)))


def test_empty_image_encodes_like_pycocotools() -> None:
    for shape in [(0, 5), (4, 0), (0, 0)]:
        m = np.zeros(shape, bool)
        r = R.encode(m)
        assert r.counts == ref_counts(m) == "0"
        assert R.decode(r).shape == shape
        assert R.area(r) == 0 and R.bbox(r) == (0.0, 0.0, 0.0, 0.0)


def test_encode_rejects_non_2d() -> None:
    with pytest.raises(ValueError):
        R.encode(np.zeros((2, 2, 2), bool))


def test_to_coco_and_from_coco_round_trip() -> None:
    m = blobs(50, 60, 7)
    r = R.encode(m)
    obj = r.to_coco()
    assert obj == {"size": [50, 60], "counts": ref_counts(m)}
    assert R.Rle.from_coco(obj) == r
    assert R.Rle.from_coco({"size": [50, 60], "counts": obj["counts"].encode()}) == r


# --------------------------------------------------------------------------------------------
# counts <-> string


def test_counts_string_matches_pycocotools_on_large_and_varied_counts() -> None:
    rng = np.random.default_rng(5)
    for trial in range(50):
        n = int(rng.integers(1, 300))
        scale = [1, 20, 1000, 10**5, 10**7][trial % 5]
        counts = rng.integers(0 if trial % 3 == 0 else 1, scale + 1, n).astype(np.int64)
        counts[1:] = np.maximum(counts[1:], 1)
        h = int(counts.sum())
        expected = coco_mask.frPyObjects({"size": [h, 1], "counts": counts.tolist()}, h, 1)
        s = R.counts_to_string(counts)
        assert s == expected["counts"].decode()
        assert np.array_equal(R.string_to_counts(s), counts)
        assert np.array_equal(R.string_to_counts(s.encode()), counts)


def test_counts_string_extremes() -> None:
    for counts in (
        [0],
        [5],
        [0, 1],
        [2**28, 1, 2**28 - 7, 3],
        [1, 2**27, 1, 2**27, 1],
        [15, 16, 31, 32, 17, 15, 48],
    ):
        arr = np.array(counts, np.int64)
        h = int(arr.sum())
        expected = coco_mask.frPyObjects({"size": [h, 1], "counts": counts}, h, 1)["counts"]
        assert R.counts_to_string(arr) == expected.decode()
        assert R.string_to_counts(expected.decode()).tolist() == counts
    assert R.counts_to_string(np.zeros(0, np.int64)) == ""
    assert R.string_to_counts("").size == 0


# --------------------------------------------------------------------------------------------
# from_coco: uncompressed, non-canonical, malformed


def test_from_coco_uncompressed_matches_pycocotools() -> None:
    rng = np.random.default_rng(9)
    for _ in range(30):
        m = rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 40)))) < rng.random()
        h, w = m.shape
        counts = [int(c) for c in R.string_to_counts(ref_counts(m))]
        obj = {"size": [h, w], "counts": counts}
        r = R.Rle.from_coco(obj)
        assert r.counts == coco_mask.frPyObjects(obj, h, w)["counts"].decode()
        assert np.array_equal(R.decode(r), m)
        assert R.Rle.from_coco({"size": (h, w), "counts": np.array(counts)}) == r


def test_from_coco_normalises_zero_length_runs() -> None:
    obj = {"size": [2, 3], "counts": [1, 0, 0, 2, 0, 0, 3]}
    r = R.Rle.from_coco(obj)
    theirs = coco_mask.frPyObjects(obj, 2, 3)
    expected = coco_mask.decode(theirs).astype(bool)
    assert np.array_equal(R.decode(r), expected)
    assert r.counts == ref_counts(expected)  # canonical: what encode() gives for these pixels
    assert R.area(r) == int(coco_mask.area(theirs))
    assert R.bbox(r) == tuple(float(v) for v in coco_mask.toBbox(theirs))
    assert R.Rle.from_coco({"size": [2, 2], "counts": [0, 0, 4]}) == R.encode(np.zeros((2, 2)))
    assert R.Rle.from_coco({"size": [2, 2], "counts": [0, 4, 0]}) == R.encode(np.ones((2, 2)))


@pytest.mark.parametrize(
    "obj",
    [
        {"size": [3], "counts": [3]},
        {"size": [3, 1, 1], "counts": [3]},
        {"size": [-1, 2], "counts": []},
        {"size": [2.0, 2], "counts": [4]},
        {"size": ["2", 2], "counts": [4]},
        {"size": "22", "counts": [4]},
        {"size": [True, 2], "counts": [2]},
        {"size": [2, 2], "counts": [5, -1]},
        {"size": [2, 2], "counts": [1, 2]},
        {"size": [2, 2], "counts": [1, 2, 3]},
        {"size": [2, 2], "counts": [1.5, 2.5]},
        {"size": [2, 2], "counts": [[1, 3]]},
        {"size": [2, 2], "counts": "5"},
        {"size": [2, 2], "counts": "3"},
        {"size": [2, 2], "counts": "4!"},
        {"size": [2, 2], "counts": "4p"},
        {"size": [2, 2], "counts": "4\u00e9"},
        {"size": [2, 2], "counts": "0`"},  # truncated: last char says "more follows"
        {"size": [2, 2]},
        {"counts": "4"},
        [2, 2],
    ],
)
def test_from_coco_rejects_malformed(obj: object) -> None:
    with pytest.raises(ValueError):
        R.Rle.from_coco(obj)  # type: ignore[arg-type]


def test_decode_rejects_counts_that_do_not_cover_the_image() -> None:
    with pytest.raises(ValueError):
        R.decode(R.Rle(2, 2, "5"))
    with pytest.raises(ValueError):
        R.Rle(-1, 2, "0")


# --------------------------------------------------------------------------------------------
# union


def test_union_matches_pycocotools_merge() -> None:
    rng = np.random.default_rng(3)
    for trial in range(40):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        masks = [rng.random((h, w)) < rng.random() * 0.6 for _ in range(int(rng.integers(1, 5)))]
        if trial % 5 == 0:
            masks.append(np.ones((h, w), bool))
        rles = [R.encode(m) for m in masks]
        expected = coco_mask.merge([ref_obj(r) for r in rles], intersect=False)
        got = R.union(rles)
        assert got.counts == expected["counts"].decode()
        assert np.array_equal(R.decode(got), np.logical_or.reduce(masks))


def test_union_touching_runs_and_errors() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:, 1] = True  # runs [4, 8) and [8, 12) touch in column-major order
    b[:, 2] = True
    u = R.union([R.encode(a), R.encode(b)])
    assert u == R.encode(a | b)
    with pytest.raises(ValueError):
        R.union([])
    with pytest.raises(ValueError):
        R.union([R.encode(a), R.encode(np.zeros((4, 5), bool))])


# --------------------------------------------------------------------------------------------
# polygons


H, W = 48, 64

POLYGONS: dict[str, list[list[float]]] = {
    "triangle": [[10.0, 10.0, 40.0, 12.0, 20.0, 35.0]],
    "integer-square": [[10, 10, 20, 10, 20, 20, 10, 20]],
    "half-pixel-square": [[10.5, 10.5, 20.5, 10.5, 20.5, 20.5, 10.5, 20.5]],
    "box-via-rleFrBbox-corners": [[0, 0, 0, 48, 64, 48, 64, 0]],
    "thin-vertical-1px": [[20.0, 5.0, 21.0, 5.0, 21.0, 40.0, 20.0, 40.0]],
    "thin-horizontal-1px": [[5.0, 20.0, 50.0, 20.0, 50.0, 21.0, 5.0, 21.0]],
    "subpixel-sliver": [[10.2, 5.0, 10.6, 5.0, 10.6, 40.0, 10.2, 40.0]],
    "subpixel-diagonal": [[3.0, 3.0, 3.3, 3.0, 45.3, 44.0, 45.0, 44.0]],
    "tiny-inside-one-pixel": [[7.2, 7.2, 7.8, 7.2, 7.8, 7.8, 7.2, 7.8]],
    "concave-u": [[5, 5, 15, 5, 15, 30, 35, 30, 35, 5, 45, 5, 45, 40, 5, 40]],
    "concave-star": [
        [32, 2, 37, 18, 54, 18, 40, 28, 46, 45, 32, 34, 18, 45, 24, 28, 10, 18, 27, 18]
    ],
    "bow-tie": [[5.0, 5.0, 40.0, 35.0, 40.0, 5.0, 5.0, 35.0]],
    "self-touching": [[5, 5, 25, 5, 25, 25, 15, 15, 35, 15, 35, 35, 5, 35]],
    "spiral-overlap": [[5, 5, 40, 5, 40, 40, 10, 40, 10, 10, 30, 10, 30, 30, 2, 30]],
    "partly-outside": [[-10.0, -5.0, 30.0, 10.0, 70.0, 60.0, 10.0, 50.0]],
    "fully-outside-right": [[70, 5, 90, 5, 90, 20, 70, 20]],
    "fully-outside-above": [[5, -30, 30, -30, 30, -2, 5, -2]],
    "covers-image": [[-5, -5, 100, -5, 100, 100, -5, 100]],
    "negative-near-zero": [[-0.3, -0.3, 5.2, -0.05, 4.0, 6.0, -0.09, 3.0]],
    "on-edges": [[0, 0, 64, 0, 64, 48, 0, 48]],
    "edge-right-bottom": [[60, 40, 64, 40, 64, 48, 60, 48]],
    "collinear": [[5, 5, 15, 15, 25, 25, 35, 35]],
    "zero-area-horizontal": [[5, 10, 30, 10, 50, 10]],
    "two-point-there-and-back": [[5.0, 5.0, 30.5, 20.25]],
    "single-point": [[10.0, 10.0]],
    "repeated-vertices": [[10, 10, 10, 10, 30, 10, 30, 10, 30, 30, 10, 30, 10, 10]],
    "explicitly-closed": [[8.1, 9.2, 33.3, 12.7, 22.9, 41.5, 8.1, 9.2]],
    "several": [
        [2, 2, 12, 2, 12, 12, 2, 12],
        [8, 8, 20, 8, 20, 20, 8, 20],
        [40.5, 30.5, 60.2, 33.1, 50.7, 46.9],
    ],
    "several-with-degenerate-first": [[5, 5, 30, 20], [10, 10, 20, 10, 20, 20]],
}


@pytest.mark.parametrize("polygons", list(POLYGONS.values()), ids=list(POLYGONS))
def test_polygons_match_pycocotools(polygons: list[list[float]]) -> None:
    assert_same_pixels(polygons, H, W)


@pytest.mark.parametrize("h,w", [(1, 1), (1, 9), (9, 1), (5, 7), (3, 200)])
def test_polygons_on_tiny_images(h: int, w: int) -> None:
    assert_same_pixels([[0.2, 0.1, w + 0.3, 0.6, w * 0.5, h + 0.4]], h, w)
    assert_same_pixels([[-1, -1, w + 1, -1, w + 1, h + 1, -1, h + 1]], h, w)


def test_many_random_polygons_match_pycocotools() -> None:
    rng = np.random.default_rng(20240531)
    for i in range(300):
        h, w = int(rng.integers(1, 80)), int(rng.integers(1, 80))
        npoly = 1 if i % 4 else int(rng.integers(2, 4))
        polygons = []
        for _ in range(npoly):
            k = int(rng.integers(3, 25))
            if i % 3 == 0:  # star-shaped around a centre: simple, mostly concave
                ang = np.sort(rng.uniform(0, 2 * np.pi, k))
                rad = rng.uniform(0.1, 0.7, k) * max(h, w)
                cx, cy = rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h
                pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)
            else:  # arbitrary, self-intersecting, partly outside
                pts = np.stack(
                    [rng.uniform(-0.3, 1.3, k) * w, rng.uniform(-0.3, 1.3, k) * h], axis=1
                )
            if i % 7 == 0:  # coordinates exactly on the 1/5-pixel grid and its half-points
                pts = np.round(pts * 10) / 10
            polygons.append(pts.reshape(-1).tolist())
        assert_same_pixels(polygons, h, w)


def test_large_polygons_match_pycocotools() -> None:
    rng = np.random.default_rng(77)
    h, w = 1080, 1920
    for _ in range(10):
        k = int(rng.integers(50, 400))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = rng.uniform(0.05, 0.6, k) * h
        pts = np.stack([w / 2 + 1.6 * rad * np.cos(ang), h / 2 + rad * np.sin(ang)], axis=1)
        assert_same_pixels([pts.reshape(-1).tolist()], h, w)


def test_sparse_crossing_search_agrees_with_step_by_step_walk() -> None:
    """The exact per-column search for steep edges equals walking every unit step."""
    rng = np.random.default_rng(8)
    for _ in range(50):
        n = 40
        x0, x1 = rng.integers(-50, 600, n), rng.integers(-50, 600, n)
        y0 = rng.integers(-50, 600, n)
        y1 = y0 + np.abs(x1 - x0) + rng.integers(1, 400, n)  # steeper than 45 degrees
        flip = rng.random(n) < 0.5
        x0, x1 = np.where(flip, x1, x0), np.where(flip, x0, x1)
        y0, y1 = np.where(flip, y1, y0), np.where(flip, y0, y1)
        col, y = P._y_major_points(x0, y0, x1, y1, 97)
        swap = y0 > y1
        xs, xe = np.where(swap, x1, x0), np.where(swap, x0, x1)
        ys, ye = np.where(swap, y1, y0), np.where(swap, y0, y1)
        col_d, y_d = P._y_major_points_dense(xs, ys, ye - ys, (xe - xs) / (ye - ys), 97)
        assert sorted(zip(col.tolist(), y.tolist())) == sorted(zip(col_d.tolist(), y_d.tolist()))


def test_rasterize_polygon_with_holes() -> None:
    exterior = [4.0, 4.0, 60.0, 4.0, 60.0, 44.0, 4.0, 44.0]
    holes = [[10, 10, 25, 10, 25, 30, 10, 30], [30.5, 12.2, 50.1, 15.7, 41.0, 38.3]]
    got = P.rasterize_polygon_with_holes(exterior, holes, H, W)
    expected = ref_rasterize([exterior], H, W) & ~ref_rasterize(holes, H, W)
    assert np.array_equal(got, expected)
    assert np.array_equal(
        P.rasterize_polygon_with_holes(exterior, [], H, W), ref_rasterize([exterior], H, W)
    )


def test_rasterize_edge_cases_and_errors() -> None:
    assert P.rasterize_polygons([], 4, 5).shape == (4, 5)
    assert not P.rasterize_polygons([], 4, 5).any()
    assert P.rasterize_polygons([[0, 0, 5, 0, 5, 5]], 0, 5).shape == (0, 5)
    out = P.rasterize_polygons([np.array([1.0, 1.0, 9.0, 1.0, 9.0, 9.0])], 12, 12)
    assert np.array_equal(out, ref_rasterize([[1.0, 1.0, 9.0, 1.0, 9.0, 9.0]], 12, 12))
    for bad in ([[1, 2, 3]], [[0, 0, float("nan"), 1, 2, 2]], [[0, 0, 1e12, 0, 5, 5]], [["a"]]):
        with pytest.raises(ValueError):
            P.rasterize_polygons(bad, 10, 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        P.rasterize_polygons([[0, 0, 5, 0, 5, 5]], -1, 5)


def test_polygon_rle_encodes_like_pycocotools() -> None:
    poly = [[3.3, 2.1, 40.7, 9.9, 55.5, 40.2, 12.0, 44.4, 20.0, 20.0]]
    theirs = coco_mask.merge(coco_mask.frPyObjects(poly, H, W))
    assert R.encode(P.rasterize_polygons(poly, H, W)).counts == theirs["counts"].decode()


# --------------------------------------------------------------------------------------------
# polygon_areas / polygon_rle: many polygons at once, without a mask


def ref_area(polygon: list[float], h: int, w: int) -> int:
    """pycocotools' area of one polygon alone (``frPoly``: a 4-number list stays a polygon)."""
    return int(coco_mask.area(coco_mask_c.frPoly([list(map(float, polygon))], h, w))[0])


def random_polygon(rng: np.random.Generator, h: int, w: int, kind: int) -> list[float]:
    """Polygons of every awkward sort: stars, self-intersecting, outside, tiny, degenerate."""
    if kind == 0:  # star-shaped around a centre, possibly partly outside
        k = int(rng.integers(3, 50))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = rng.uniform(0.05, 0.6, k) * max(h, w)
        cx, cy = rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)
    elif kind == 1:  # arbitrary, self-intersecting, partly outside
        k = int(rng.integers(3, 25))
        pts = np.stack([rng.uniform(-0.3, 1.3, k) * w, rng.uniform(-0.3, 1.3, k) * h], axis=1)
    elif kind == 2:  # tiny: within a pixel or two
        k = int(rng.integers(3, 9))
        c = rng.uniform(0, [w, h])
        pts = c + rng.uniform(-1.2, 1.2, (k, 2))
    elif kind == 3:  # degenerate: 0-2 vertices, collinear, repeated points
        k = int(rng.integers(0, 6))
        pts = rng.uniform(-2, [w + 2, h + 2], (k, 2))
        if k >= 3 and rng.random() < 0.5:
            pts = pts[:1] + np.outer(rng.uniform(0, 1, k), pts[1] - pts[0])  # collinear
        elif k >= 2:
            pts[1:] = pts[rng.integers(0, k, k - 1)]  # repeats
    elif kind == 4:  # on the 1/5-pixel grid and its half points, where ties are decided
        k = int(rng.integers(3, 12))
        pts = np.round(rng.uniform(-0.2, 1.2, (k, 2)) * [w, h] * 10) / 10
    else:  # small annotation-like ellipse, 8 to 50 vertices, anywhere
        k = int(rng.integers(8, 51))
        ang = np.linspace(0, 2 * np.pi, k, endpoint=False)
        a, b = rng.uniform(0.5, 0.5 + 0.3 * max(h, w), 2)
        c = rng.uniform(-0.1, 1.1, 2) * [w, h]
        pts = c + np.stack([a * np.cos(ang), b * np.sin(ang)], axis=1)
    return pts.reshape(-1).tolist()


def test_polygon_areas_match_pycocotools_on_awkward_shapes() -> None:
    polygons = [p for group in POLYGONS.values() for p in group]
    got = P.polygon_areas(polygons, H, W)
    assert got.dtype == np.int64 and got.shape == (len(polygons),)
    expected = [ref_area(p, H, W) for p in polygons]
    assert got.tolist() == expected
    assert got.tolist() == [int(P.rasterize_polygons([p], H, W).sum()) for p in polygons]


@pytest.mark.parametrize("h,w", [(480, 640), (48, 64), (1, 1), (3, 200), (200, 3), (7, 5)])
def test_polygon_areas_of_a_random_batch_match_pycocotools(h: int, w: int) -> None:
    rng = np.random.default_rng(h * 1000 + w)
    polygons = [random_polygon(rng, h, w, i % 6) for i in range(500)]
    got = P.polygon_areas(polygons, h, w)  # one call for the whole batch
    assert got.tolist() == [ref_area(p, h, w) for p in polygons]
    if h * w > 100:
        assert got.any() and (got == 0).any()  # the batch has both empty and filled polygons


def test_polygon_areas_batches_and_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(42)
    polygons = [random_polygon(rng, 480, 640, i % 6) for i in range(300)]
    expected = [ref_area(p, 480, 640) for p in polygons]
    monkeypatch.setattr(P, "_BATCH_EDGES", 16)  # many small batches, polygons never split
    assert P.polygon_areas(polygons, 480, 640).tolist() == expected
    assert P.polygon_areas(tuple(np.array(p) for p in polygons), 480, 640).tolist() == expected
    pairs = [np.array(p).reshape(-1, 2) for p in polygons]  # (k, 2) arrays: read flat
    assert P.polygon_areas(pairs, 480, 640).tolist() == expected
    assert P.polygon_areas(iter(polygons), 480, 640).tolist() == expected


def test_polygon_areas_edge_cases_and_errors() -> None:
    assert P.polygon_areas([], 10, 10).shape == (0,)
    assert P.polygon_areas([[0, 0, 5, 0, 5, 5]], 0, 5).tolist() == [0]
    assert P.polygon_areas([[], [1.0, 1.0], [0, 0, 9, 0, 9, 9, 0, 9]], 10, 10).tolist() == [
        0, 0, 81,
    ]
    for bad in ([[1, 2, 3]], [[0, 0, float("nan"), 1, 2, 2]], [[0, 0, 1e12, 0, 5, 5]], [["a"]],
                ["abcd"], [[[0, 0], [1]]]):
        with pytest.raises(ValueError):
            P.polygon_areas(bad, 10, 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        P.polygon_areas([[0, 0, 5, 0, 5, 5]], 10, -1)


def test_steep_edge_crossings_survive_a_bad_estimate() -> None:
    """The closed-form step estimate is only a guess: misses are found exactly by bisection."""
    rng = np.random.default_rng(8)
    n = 500
    x0, x1 = rng.integers(-50, 600, n), rng.integers(-50, 600, n)
    y0 = rng.integers(-50, 600, n)
    y1 = y0 + np.abs(x1 - x0) + rng.integers(1, 400, n)
    edges = P._y_edges(x0, y0, x1, y1, np.zeros(n, np.int64), 97)
    five = 5.0 * np.arange(int(edges.count.sum()))
    exact = P._y_steps(edges, five)
    for shift in (0.7, -1.5, 3.0, 250.0):
        edges.q0 += shift
        assert np.array_equal(P._y_steps(edges, five), exact)
        edges.q0 -= shift


def test_polygon_rle_matches_pycocotools_merge() -> None:
    # frPoly: what frPyObjects calls for polygons, without its reading 4-number lists as boxes
    for polygons in POLYGONS.values():
        theirs = coco_mask.merge(coco_mask_c.frPoly(polygons, H, W))
        assert P.polygon_rle(polygons, H, W).counts == theirs["counts"].decode()
    rng = np.random.default_rng(11)
    for _ in range(30):
        h, w = int(rng.integers(1, 120)), int(rng.integers(1, 160))
        polygons = [random_polygon(rng, h, w, i % 6) for i in range(int(rng.integers(1, 40)))]
        theirs = coco_mask.merge(coco_mask_c.frPoly(polygons, h, w))
        ours = P.polygon_rle(polygons, h, w)
        assert (ours.height, ours.width) == (h, w)
        assert ours.counts == theirs["counts"].decode()
        assert np.array_equal(P.rasterize_polygons(polygons, h, w), R.decode(ours))
    assert P.polygon_rle([], 4, 5) == R.encode(np.zeros((4, 5), bool))
    assert P.polygon_rle([[0, 0, 5, 0, 5, 5]], 0, 5) == R.Rle(0, 5, "0")


def test_raster_pixel_area_uses_polygon_areas_and_agrees_with_rasterize() -> None:
    from app.core.raster import pixel_area, pixel_areas, rasterize
    from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox

    h, w = 60, 80
    shapes = [
        Box(3.2, 4.7, 20.5, 11.1),
        Box(-5.0, -5.0, 200.0, 200.0),
        RotatedBox(40.0, 30.0, 25.0, 9.0, 33.0),
        Polygon(((5.0, 5.0), (40.0, 8.0), (22.0, 50.0))),
        Polygon(((2.0, 2.0), (70.0, 2.0), (70.0, 55.0), (2.0, 55.0)),
                holes=(((10.0, 10.0), (30.0, 10.0), (30.0, 30.0)),)),
        Polyline(((1.0, 1.0), (50.0, 30.0), (70.0, 2.0))),
        Keypoints(((5.0, 5.0, 2),)),
        Mask(R.encode(blobs(h, w, 3))),
    ]
    expected = [int(rasterize(s, h, w).sum()) for s in shapes]
    assert [pixel_area(s, h, w) for s in shapes] == expected
    assert pixel_areas(shapes, h, w) == expected
    assert pixel_areas([], h, w) == []
