"""COCO import memory: peak RSS of ``vellum import coco`` on a big synthetic instances file,
beside pycocotools' ``COCO()`` loading the same file (the peer every training loader uses).

The file is COCO-like: 640x480 images, polygons of 8-40 vertices with 2 decimals, bbox rounded
to 2 decimals (so it is kept as given), float areas, 80 categories; ~450 bytes an annotation,
as instances_train2017.json. Each tool runs in a fresh subprocess; its peak RSS comes from
``getrusage(RUSAGE_CHILDREN)`` of a wrapper process that runs only it. Goal (issue 6): ours at
most 4x the file size (it was ~12x: 2.8 GB for a 240 MB file).

Run: ``python -m benchmarks coco_import`` (``VELLUM_BENCH_COCO_MB`` sets the size, default 120;
``VELLUM_BENCH_COCO_PIXEL_BBOX=1`` writes labelme2coco-style whole-pixel boxes instead).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PER_IMAGE = 50
BYTES_PER_ANN = 450


def write_coco(folder: Path, megabytes: float, seed: int = 0, pixel_bbox: bool = False
               ) -> Path:
    """A synthetic COCO instances file of about ``megabytes`` MB, with its (tiny, valid) PNG
    images in ``folder/images``. Boxes are the vertices' box rounded to 2 decimals, as COCO's
    own files and CVAT/datumaro write them, or (``pixel_bbox``) whole-pixel boxes of the mask,
    as labelme2coco writes them, which Vellum must keep as given."""
    import cv2

    n_ann = int(megabytes * 1e6 / BYTES_PER_ANN)
    n_images = max(1, n_ann // PER_IMAGE)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    png = cv2.imencode(".png", np.zeros((480, 640, 3), np.uint8))[1].tobytes()
    for n in range(n_images):
        (images / f"{n:06d}.png").write_bytes(png)
    rng = np.random.default_rng(seed)
    out = folder / "instances.json"
    with open(out, "w") as f:
        f.write('{"info":{"description":"synthetic","year":2024},"licenses":[{"id":1,'
                '"name":"CC BY 4.0","url":""}],"images":')
        f.write(json.dumps([{"id": n + 1, "file_name": f"{n:06d}.png", "width": 640,
                             "height": 480, "license": 1} for n in range(n_images)]))
        f.write(',"categories":' + json.dumps([{"id": i + 1, "name": f"class{i}",
                                               "supercategory": "thing"} for i in range(80)]))
        f.write(',"annotations":[')
        for k in range(n_images * PER_IMAGE):
            m = int(rng.integers(8, 40))
            cx, cy = rng.uniform(60, 580), rng.uniform(60, 420)
            ang = np.sort(rng.uniform(0, 2 * np.pi, m))
            r = rng.uniform(10, 50, m)
            xs, ys = np.round(cx + r * np.cos(ang), 2), np.round(cy + r * np.sin(ang), 2)
            w, h = round(float(xs.max() - xs.min()), 2), round(float(ys.max() - ys.min()), 2)
            box = [float(xs.min()), float(ys.min()), w, h]
            if pixel_bbox:
                x0, y0 = np.floor(xs.min()), np.floor(ys.min())
                box = [float(x0), float(y0), float(np.ceil(xs.max()) - x0),
                       float(np.ceil(ys.max()) - y0)]
            ann = {"segmentation": [np.stack([xs, ys], 1).ravel().tolist()],
                   "area": round(w * h * 0.6, 2), "iscrowd": 0, "image_id": k // PER_IMAGE + 1,
                   "bbox": box,
                   "category_id": int(rng.integers(1, 81)), "id": k + 1}
            f.write(("," if k else "") + json.dumps(ann, separators=(",", ":")))
        f.write("]}")
    return out


_WRAP = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
         "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
         "print(r.returncode, time.perf_counter() - t, "
         "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True); "
         "sys.stderr.write(r.stderr[-2000:])")


def peak(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of ``cmd`` run alone in a fresh process."""
    res = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True,
                         timeout=3600)
    code, seconds, kb = res.stdout.split()
    if int(code) != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {res.stderr}")
    return float(seconds), int(kb) / 1024


def run() -> list[dict]:
    size_mb = float(os.environ.get("VELLUM_BENCH_COCO_MB", "120"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pixel = os.environ.get("VELLUM_BENCH_COCO_PIXEL_BBOX") == "1"
        coco = write_coco(folder, size_mb, pixel_bbox=pixel)
        mb = coco.stat().st_size / 1e6
        project = folder / "proj"
        subprocess.run([sys.executable, "-m", "app", "new", str(project)], check=True,
                       capture_output=True)
        t_ours, m_ours = peak([sys.executable, "-m", "app", "import", "coco", str(project),
                               str(coco), "--images", str(folder / "images")])
        t_peer, m_peer = peak([sys.executable, "-c", "import sys; from pycocotools.coco "
                               "import COCO; COCO(sys.argv[1])", str(coco)])
        t_base, m_base = peak([sys.executable, "-c", "import app.cli, app.io.coco, numpy, "
                               "cv2, app.core.document"])
        out = folder / "out.json"
        t_exp, m_exp = peak([sys.executable, "-m", "app", "export", "coco", str(project),
                             str(out)])
        same = _same_annotations(coco, out)
    style = "whole-pixel bbox kept as given" if pixel else "bbox = vertices' box to 2 decimals"
    return [
        {"name": f"import {mb:.0f} MB COCO: wall time", "ours_ms": t_ours * 1000,
         "peer_ms": t_peer * 1000, "peer": "pycocotools COCO() (load + index only)",
         "notes": f"{style}; ours also probes 1 file per image and writes the project"},
        {"name": f"import {mb:.0f} MB COCO: peak RSS", "ours_ms": None, "peer_ms": None,
         "peer": "pycocotools COCO()",
         "notes": f"ours {m_ours:.0f} MB = {m_ours / mb:.2f}x the file; pycocotools "
                  f"{m_peer:.0f} MB = {m_peer / mb:.2f}x; interpreter + imports alone "
                  f"{m_base:.0f} MB; goal <= 4x"},
        {"name": "export the same project: wall time / RSS", "ours_ms": t_exp * 1000,
         "peer_ms": None, "peer": "",
         "notes": f"peak RSS {m_exp:.0f} MB = {m_exp / mb:.2f}x; ids, bbox, area, "
                  f"segmentation as in the source: {same}"},
    ]


def _same_annotations(a: Path, b: Path) -> bool:
    keys = ("id", "image_id", "category_id", "bbox", "area", "segmentation", "iscrowd")
    x = {e["id"]: [e[k] for k in keys] for e in json.loads(a.read_text())["annotations"]}
    y = {e["id"]: [e[k] for k in keys] for e in json.loads(b.read_text())["annotations"]}
    return x == y


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table("coco_import_bench", run())
