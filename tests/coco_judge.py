"""Judging a COCO round trip on the files, with pycocotools as the reference (used by the
tests/test_coco_*.py modules)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

STYLES = Path(__file__).resolve().parent / "coco_styles"


def quiet(fn, *a, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*a, **kw)


def load(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def materialize(data: dict[str, Any], root: Path, seed: int = 0) -> Path:
    """Write an image of the listed size for every image entry, under ``root``."""
    rng = np.random.default_rng(seed)
    for im in data.get("images", []):
        p = root / im["file_name"]
        p.parent.mkdir(parents=True, exist_ok=True)
        img = rng.integers(0, 255, (im["height"], im["width"], 3), dtype=np.uint8)
        ok, buf = cv2.imencode(p.suffix or ".png", img)
        assert ok
        p.write_bytes(buf.tobytes())
    return root


def coco(path_or_data: Path | dict) -> COCO:
    c = quiet(COCO)
    c.dataset = load(path_or_data) if isinstance(path_or_data, Path) else path_or_data
    quiet(c.createIndex)
    return c


def by_id(entries: list[dict]) -> dict[Any, dict]:
    return {e["id"]: e for e in entries}


def assert_kept(orig: dict, out: dict, what: str, skip: tuple[str, ...] = ()) -> None:
    """Every key of ``orig`` is in ``out`` with the same value (``skip``: compared apart)."""
    for k, v in orig.items():
        if k in skip:
            continue
        assert k in out, f"{what}: key {k!r} was lost"
        assert out[k] == v, f"{what}: {k!r} was {v!r}, exported {out[k]!r}"


def assert_same_dataset(orig: dict, out: dict) -> None:
    """Ids, bbox, area, supercategory, unknown keys and object counts unchanged."""
    for key, value in orig.items():
        if key not in ("images", "annotations", "categories"):
            assert out.get(key) == value, f"top-level {key!r} changed"
    assert len(out["images"]) == len(orig.get("images", []))
    oi, xi = by_id(orig.get("images", [])), by_id(out["images"])
    assert set(oi) == set(xi), "image ids changed"
    for i, im in oi.items():
        assert_kept(im, xi[i], f"image {i}")
    oc = by_id(orig.get("categories", []))
    xc = {c["id"]: c for c in out["categories"] if not c.get("attributes", {}).get(
        "vellum_unlabeled")}
    assert set(oc) == set(xc), "category ids changed"
    for i, c in oc.items():
        assert_kept(c, xc[i], f"category {i}")
    anns = orig.get("annotations", [])
    assert len(out["annotations"]) == len(anns), "object count changed"
    if all("id" in a for a in anns):
        xa = by_id(out["annotations"])
        assert set(xa) == {a["id"] for a in anns}, "annotation ids changed"
        for a in anns:
            assert_kept(a, xa[a["id"]], f"annotation {a['id']}")
    else:  # a file without annotation ids: in order, each one kept
        for a, b in zip(anns, out["annotations"]):
            assert_kept(a, b, "annotation")
        ids = [b["id"] for b in out["annotations"]]
        assert len(set(ids)) == len(ids)


def masks_equal(orig_path: Path, out_path: Path) -> int:
    """annToMask of every annotation with a segmentation is the same in both files."""
    a, b = coco(orig_path), coco(out_path)
    n = 0
    for ann in a.loadAnns(a.getAnnIds()):
        segm = ann.get("segmentation")
        if not segm:
            continue
        other = b.anns[ann["id"]]
        assert np.array_equal(a.annToMask(ann), b.annToMask(other)), f"mask of {ann['id']}"
        n += 1
    return n


def evaluate(gt: COCO, results: list[dict], iou: str, sigmas: int | None = None) -> np.ndarray:
    dt = quiet(gt.loadRes, results) if results else None
    ev = COCOeval(gt, dt, iou)
    if sigmas:
        ev.params.kpt_oks_sigmas = np.full(sigmas, 0.05) if sigmas != 17 else \
            ev.params.kpt_oks_sigmas
    for step in (ev.evaluate, ev.accumulate, ev.summarize):
        quiet(step)
    return np.asarray(ev.stats)


def as_results(data: dict, kind: str) -> list[dict]:
    """The annotations of a file as detections (score 1), for COCOeval against a GT
    (``loadRes`` takes masks as RLE only, so polygons are converted with pycocotools)."""
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    out = []
    for a in data["annotations"]:
        if a.get("iscrowd"):
            continue
        r = {"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0}
        if kind == "bbox" and a.get("bbox"):
            r["bbox"] = a["bbox"]
        elif kind == "segm" and a.get("segmentation"):
            r["segmentation"] = rle_of(a["segmentation"], sizes[a["image_id"]])
        elif kind == "keypoints" and a.get("num_keypoints"):
            r["keypoints"] = a["keypoints"]
        else:
            continue
        out.append(r)
    return out


def rle_of(segm: Any, size: tuple[int, int]) -> dict:
    from pycocotools import mask as mu

    h, w = size
    if isinstance(segm, list):
        rle = mu.merge(mu.frPyObjects(segm, h, w))
    elif isinstance(segm.get("counts"), list):
        rle = mu.frPyObjects(segm, h, w)
    else:
        rle = {"size": segm["size"], "counts": segm["counts"].encode()}
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}


def perturbed(data: dict) -> list[dict]:
    """Detections that partly miss: every other box shifted by half its width, one false
    positive per image; AP on them lies strictly between 0 and 1."""
    out = []
    for n, a in enumerate(data["annotations"]):
        if a.get("iscrowd") or not a.get("bbox"):
            continue
        x, y, w, h = a["bbox"]
        dx = w / 2 if n % 2 else 0.0
        out.append({"image_id": a["image_id"], "category_id": a["category_id"],
                    "bbox": [x + dx, y, w, h], "score": 0.5 + 0.4 * (n % 3) / 2})
    for im in data["images"]:
        cat = data["annotations"][0]["category_id"] if data["annotations"] else 1
        out.append({"image_id": im["id"], "category_id": cat, "bbox": [0.0, 0.0, 3.0, 3.0],
                    "score": 0.99})
    return out
