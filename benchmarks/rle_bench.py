"""Benchmark app.core.rle (pure numpy) against pycocotools (C) on typical and awkward masks.

Times are best-of-N wall-clock milliseconds (``time.perf_counter``). Our functions get the
app's natural inputs (C-ordered boolean masks, ``Rle`` values) and return C-contiguous boolean
masks; pycocotools gets its preferred inputs prepared outside the timed region (Fortran-ordered
uint8) and returns Fortran-ordered uint8 masks. Run with ``python -m benchmarks.rle_bench``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from app.core import polygon_raster as P, rle as R

PEER = "pycocotools"


def _best_ms(fn: Callable[[], Any], budget_s: float = 0.4, max_runs: int = 50) -> float:
    """Best of at least 3 (and at most ``max_runs``) runs, within about ``budget_s`` seconds."""
    best = float("inf")
    spent = 0.0
    runs = 0
    while runs < 3 or (runs < max_runs and spent < budget_s):
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        best = min(best, took)
        spent += took
        runs += 1
    return best * 1e3


def _blobs(h: int, w: int, seed: int, count: int = 4) -> np.ndarray:
    """A C-ordered boolean mask with a few filled ellipses, like a typical instance mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[:h, :w]
    mask = np.zeros((h, w), dtype=bool)
    for _ in range(count):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        ry, rx = rng.uniform(0.05, 0.2) * h, rng.uniform(0.05, 0.2) * w
        mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0
    return mask


def _polygon(n: int, h: int, w: int, seed: int) -> list[float]:
    """A star-shaped (concave) polygon with ``n`` float vertices around the image centre."""
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = rng.uniform(0.25, 0.45, n) * min(h, w)
    pts = np.stack([w / 2 + rad * np.cos(ang), h / 2 + rad * np.sin(ang)], axis=1)
    return [float(v) for v in pts.reshape(-1)]


def _mask_rows(label: str, mask: np.ndarray) -> list[dict[str, Any]]:
    from pycocotools import mask as coco

    h, w = mask.shape
    fortran = np.asfortranarray(mask.astype(np.uint8))
    theirs = coco.encode(fortran)
    ours = R.encode(mask)
    assert ours.counts == theirs["counts"].decode(), "encode differs from pycocotools"
    counts = R.string_to_counts(ours.counts)
    counts_u32 = counts.astype(np.uint32)
    runs = f"{counts.size} runs, {len(ours.counts)} chars"

    enc_conv = _best_ms(lambda: coco.encode(np.asfortranarray(mask.astype(np.uint8))))
    fortran_bool = np.asfortranarray(mask)
    enc_ours_f = _best_ms(lambda: R.encode(fortran_bool))
    rows = [
        {
            "name": f"encode {label}",
            "ours_ms": _best_ms(lambda: R.encode(mask)),
            "peer_ms": _best_ms(lambda: coco.encode(fortran)),
            "notes": f"{runs}; ours from C-order bool, peer from ready Fortran uint8 "
            f"(peer incl. that conversion {enc_conv:.2f} ms; "
            f"ours given Fortran bool {enc_ours_f:.2f} ms)",
        },
        {
            "name": f"decode {label}",
            "ours_ms": _best_ms(lambda: R.decode(ours)),
            "peer_ms": _best_ms(lambda: coco.decode(theirs)),
            "notes": "ours -> C-contiguous bool, peer -> Fortran uint8",
        },
        {
            "name": f"counts->string {label}",
            "ours_ms": _best_ms(lambda: R.counts_to_string(counts)),
            "peer_ms": _best_ms(
                lambda: coco.frPyObjects({"size": [h, w], "counts": counts_u32}, h, w)
            ),
            "notes": "peer: frPyObjects on an uncompressed RLE (uint32 array)",
        },
        {
            "name": f"string->counts {label}",
            "ours_ms": _best_ms(lambda: R.string_to_counts(ours.counts)),
            "peer_ms": _best_ms(lambda: coco.area(theirs)),
            "notes": "peer has no public string->counts; area() = rleFrString + one pass",
        },
    ]
    return rows


def _polygon_rows() -> list[dict[str, Any]]:
    from pycocotools import mask as coco

    h, w = 1080, 1920
    poly = [_polygon(200, h, w, seed=11)]
    ours = P.rasterize_polygons(poly, h, w)
    theirs = coco.decode(coco.merge(coco.frPyObjects(poly, h, w)))
    assert np.array_equal(ours, theirs.astype(bool)), "polygon pixels differ from pycocotools"
    rle_only = _best_ms(lambda: coco.merge(coco.frPyObjects(poly, h, w)))
    return [
        {
            "name": "rasterize 200-gon 1080x1920",
            "ours_ms": _best_ms(lambda: P.rasterize_polygons(poly, h, w)),
            "peer_ms": _best_ms(lambda: coco.decode(coco.merge(coco.frPyObjects(poly, h, w)))),
            "notes": "mask out; peer decode(merge(frPyObjects)), "
            f"its RLE step alone {rle_only:.2f} ms",
        }
    ]


def _small_polygons(count: int, k: int, h: int, w: int, seed: int) -> list[list[float]]:
    """``count`` star-shaped ``k``-gons, 5 to 60 px across, anywhere on (and a little off) the
    image: the small instance polygons of a typical COCO export."""
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, (count, k)), axis=1)
    rad = rng.uniform(2.5, 30.0, (count, 1)) * rng.uniform(0.6, 1.0, (count, k))
    cx = rng.uniform(-10, w + 10, (count, 1))
    cy = rng.uniform(-10, h + 10, (count, 1))
    pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=2)
    return [[round(float(v), 2) for v in poly] for poly in pts.reshape(count, -1)]


def _area_rows() -> list[dict[str, Any]]:
    from pycocotools import mask as coco

    h, w = 480, 640
    polys = _small_polygons(10_000, 8, h, w, seed=21)

    def peer() -> np.ndarray:
        # pycocotools 2.0.11's area() fails on more than 255 RLEs at once (an uint8 overflow),
        # so the batch goes through in slices of 255, each still one batched call
        return np.concatenate(
            [coco.area(coco.frPyObjects(polys[i : i + 255], h, w)) for i in range(0, 10_000, 255)]
        )

    ours = P.polygon_areas(polys, h, w)
    assert np.array_equal(ours, peer()), "polygon areas differ from pycocotools"
    few = polys[:500]
    per_call = _best_ms(lambda: [P.rasterize_polygons([p], h, w).sum() for p in few], 1.0, 3)
    return [
        {
            "name": "area 10k 8-gons 640x480",
            "ours_ms": _best_ms(lambda: P.polygon_areas(polys, h, w)),
            "peer_ms": _best_ms(peer),
            "notes": "ours one polygon_areas call; peer area(frPyObjects) in slices of 255; "
            f"one rasterize_polygons([p]).sum() per polygon: {per_call / len(few) * 1e3:.0f} us",
        }
    ]


def run() -> list[dict[str, Any]]:
    """Measure every case; each row: name, ours_ms, peer_ms, peer, notes."""
    cases = [
        ("1080x1920 blobs", _blobs(1080, 1920, seed=1)),
        ("8000x8000 blobs", _blobs(8000, 8000, seed=2)),
        ("512x512 noisy", np.random.default_rng(3).random((512, 512)) < 0.5),
    ]
    rows: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        # pycocotools' decode trips numpy 2's __array__ copy-keyword deprecation on every call
        warnings.simplefilter("ignore", DeprecationWarning)
        for label, mask in cases:
            rows.extend(_mask_rows(label, mask))
        rows.extend(_polygon_rows())
        rows.extend(_area_rows())
    for row in rows:
        row["peer"] = PEER
    return rows


def _print_table(rows: list[dict[str, Any]]) -> None:
    name_w = max(len(r["name"]) for r in rows)
    print(f"{'case':<{name_w}}  {'ours ms':>9}  {PEER + ' ms':>15}  {'ratio':>6}  notes")
    for r in rows:
        ratio = r["ours_ms"] / r["peer_ms"] if r["peer_ms"] else float("nan")
        print(
            f"{r['name']:<{name_w}}  {r['ours_ms']:>9.3f}  {r['peer_ms']:>15.3f}  "
            f"{ratio:>6.2f}  {r['notes']}"
        )


if __name__ == "__main__":
    _print_table(run())
