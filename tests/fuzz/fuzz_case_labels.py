"""Case makers for label importers: ``import coco`` (JSON and the images it names),
``import mot`` (gt.txt and labels.txt) and ``import nifti`` (a label map with its JSON and
ITK-SNAP tables)."""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

from fuzz_case_media import put, template
from fuzz_harness import Case
from fuzz_mutate import gz, mutate_bytes, nifti_header, png_header
from fuzz_mutate_text import dumps, mutate_json, mutate_labels, mutate_mot, odd_names


# --- COCO ------------------------------------------------------------------------------------

def import_coco(rng: random.Random, d: Path, seeds) -> Case:
    proj = template(seeds, "coco", d)
    images = d / "media" / "images"
    src = seeds.coco if rng.random() < 0.7 else seeds.coco_handmade
    tree = json.loads(src.read_text())
    r = rng.random()
    names = ["instances.json", "media/images", "img0.png", "img1.png"]
    if r < 0.55:
        data, what = mutate_json(tree, rng)
    elif r < 0.65:
        data, what = coco_extremes(tree, rng)
    elif r < 0.75:
        tree = json.loads(json.dumps(tree))
        img = rng.choice(tree["images"])
        img["file_name"] = odd_names(rng)
        data, what = dumps(tree, rng), f"file_name of image {img['id']} set to " \
            f"{str(img['file_name'])[:40]!r}"
        if isinstance(img["file_name"], str) and img["file_name"]:
            names.append(Path(img["file_name"]).name or img["file_name"])
    elif r < 0.9:
        data, what = mutate_bytes(src.read_bytes(), rng)
        what = "JSON bytes: " + what
    else:
        data = src.read_bytes()
        victim = images / "img1.png"
        damaged, how = (png_header if rng.random() < 0.5 else mutate_bytes)(
            victim.read_bytes(), rng)
        victim.write_bytes(damaged)
        what = f"the image img1.png it names: {how}"
    path = put(d, "instances.json", data)
    argv = ["import", "coco", str(proj), str(path), "--images", str(images)]
    if rng.random() < 0.2:
        argv.append("--again")
    return Case(argv, d, f"{src.name}: {what}", names, project=proj)


COCO_SIZES = ("width", "height")
EXTREMES = (0, -1, 1, 2 ** 31, 10 ** 9, 65536, 1e308, 0.5)


def coco_extremes(tree, rng: random.Random) -> tuple[bytes, str]:
    """Geometry at extremes where it sizes memory or loops: an image's width/height, a mask's
    size and counts, a bbox, keypoints, a polygon of 100,000 points."""
    tree = json.loads(json.dumps(tree))
    op = rng.choice(("image size", "rle size", "rle counts", "bbox", "polygon", "keypoints"))
    anns = tree.get("annotations") or [{}]
    ann = rng.choice(anns)
    if op == "image size":
        img = rng.choice(tree["images"])
        for key in rng.sample(COCO_SIZES, rng.choice((1, 2))):
            img[key] = rng.choice(EXTREMES)
        what = f"image {img.get('id')} size {img.get('width')}x{img.get('height')}"
    elif op == "rle size":
        side = rng.choice(EXTREMES)
        ann["segmentation"] = {"size": [side, side], "counts": rng.choice(([0, 1], "PPYo0", []))}
        what = f"annotation {ann.get('id')}: RLE of size {side}x{side}"
    elif op == "rle counts":
        n = rng.choice((10 ** 6, 10 ** 12, -5))
        ann["segmentation"] = {"size": [100, 100], "counts": [n, 3, n]}
        what = f"annotation {ann.get('id')}: RLE counts {n}"
    elif op == "bbox":
        ann["bbox"] = [rng.choice(EXTREMES) for _ in range(rng.choice((4, 4, 3, 5)))]
        what = f"annotation {ann.get('id')}: bbox {ann['bbox']}"
    elif op == "polygon":
        n = rng.choice((1, 2, 3, 10 ** 5))
        ann["segmentation"] = [[rng.choice(EXTREMES) for _ in range(2 * n)]]
        what = f"annotation {ann.get('id')}: polygon of {n} points at extremes"
    else:
        ann["keypoints"] = [rng.choice(EXTREMES) for _ in range(rng.choice((3, 15, 300)))]
        ann["num_keypoints"] = rng.choice(EXTREMES)
        what = f"annotation {ann.get('id')}: {len(ann['keypoints'])} keypoint numbers"
    return dumps(tree, rng), what


# --- MOT -------------------------------------------------------------------------------------

def import_mot(rng: random.Random, d: Path, seeds) -> Case:
    proj = template(seeds, "mot", d)
    gt_text = seeds.mot.read_text()
    labels_text = seeds.mot.with_name("labels.txt").read_text()
    r = rng.random()
    gt, labels = gt_text.encode(), labels_text.encode()
    if r < 0.6:
        gt, what = mutate_mot(gt_text, rng)
    elif r < 0.85:
        labels, what = mutate_labels(labels_text, rng)
    elif r < 0.9:
        gt, w1 = mutate_mot(gt_text, rng)
        labels, w2 = mutate_labels(labels_text, rng)
        what = f"{w1}; {w2}"
    else:
        gt, what = mutate_bytes(gt, rng)
    path = put(d, "gt.txt", gt)
    put(d, "labels.txt", labels)
    argv = ["import", "mot", str(proj), str(path)]
    if rng.random() < 0.2:
        argv += ["--pixel-origin", "0"]
    if rng.random() < 0.2:
        argv += ["--video", "cam.mp4"]
    return Case(argv, d, what, ["gt.txt", "labels.txt"], project=proj)


# --- NIfTI label maps ------------------------------------------------------------------------

def import_nifti(rng: random.Random, d: Path, seeds) -> Case:
    proj = template(seeds, "labelmap", d)
    lm = seeds.labelmap
    stem = lm.name[:-len(".nii.gz")]
    sidecar, snap = lm.with_name(stem + ".json"), lm.with_name(stem + ".itksnap.txt")
    data, js, st = lm.read_bytes(), sidecar.read_bytes(), snap.read_bytes()
    r = rng.random()
    keep_json = keep_snap = True
    if r < 0.35:
        raw, what = nifti_header(zlib.decompress(data, 31), rng)
        data = gz(raw)
    elif r < 0.55:
        if rng.random() < 0.5:
            data, what = mutate_bytes(data, rng)
            what = "gzip stream: " + what
        else:
            raw, what = mutate_bytes(zlib.decompress(data, 31), rng)
            data = gz(raw)
    elif r < 0.85:
        js, what = mutate_json(json.loads(js), rng, name_keys=("name", "class_name", "color",
                                                                "class_id", "id"))
        what = "JSON table: " + what
    elif r < 0.95:
        keep_json = False
        if rng.random() < 0.5:
            st, what = mutate_bytes(st, rng)
        else:
            st, what = mutate_labels(st.decode(), rng)
        what = "ITK-SNAP table (no JSON): " + what
    else:
        keep_json = keep_snap = rng.random() < 0.5
        what = "no segment tables beside it" if not keep_json else "valid"
    path = put(d, lm.name, data)
    if keep_json:
        put(d, sidecar.name, js)
    if keep_snap:
        put(d, snap.name, st)
    argv = ["import", "nifti", str(proj), str(path)]
    if rng.random() < 0.15:
        argv += ["--name", rng.choice(("", "../../x", "a" * 2000, "x\ny"))]
    return Case(argv, d, what, [lm.name, sidecar.name, snap.name], project=proj)
