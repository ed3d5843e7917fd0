"""Scale: a project of 100,000 annotations over 10,000 images — open and COCO export times.

Targets (issue 2): open < 2 s, export < 10 s. Peers measured in the same run: pycocotools
indexing the exported file (its own 'open' of the same labels) and a bare ``json.dump`` of the
same payload (the floor any exporter pays to write it).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from app.core.places import Place
from app.core.annotations import Annotation
from app.core.commands import Batch, Put, SetSchema
from app.core.document import Document
from app.core.media import MediaItem, MediaKind
from app.core.rle import encode
from app.core.schema import LabelClass, LabelSchema, Skeleton
from app.core.shapes import Box, Keypoints, Mask, Polygon
from app.io.coco import export_coco

IMAGES, PER_IMAGE, W, H = 10_000, 10, 640, 480


def build(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    doc = Document.create(folder / "scale")
    schema = LabelSchema((LabelClass("car", "#e6194b"), LabelClass("road", "#3cb44b"),
                          LabelClass("person", "#4363d8",
                                     skeleton=Skeleton(("a", "b", "c"), ((0, 1), (1, 2))))))
    items = tuple(MediaItem(kind=MediaKind.IMAGE, path=f"images/{n:05d}.jpg",
                            fingerprint=f"sha256:{n:064x}", size_bytes=1, width=W, height=H,
                            position=n) for n in range(IMAGES))
    blob = np.zeros((H, W), bool)
    blob[100:140, 200:260] = True
    mask = Mask(encode(blob))
    car, road, person = (c.id for c in schema.classes)
    anns = []
    for item in items:
        for k in range(PER_IMAGE):
            x, y = rng.uniform(0, W - 60), rng.uniform(0, H - 60)
            if k < 4:
                anns.append(Annotation(place=Place(item.id), class_id=car, shape=Box(x, y, 50, 40)))
            elif k < 8:
                ang = np.linspace(0, 2 * np.pi, 9)[:-1]
                ring = tuple(zip(x + 25 + 20 * np.cos(ang), y + 25 + 15 * np.sin(ang)))
                anns.append(Annotation(place=Place(item.id), class_id=road, shape=Polygon(ring)))
            elif k == 8:
                anns.append(Annotation(place=Place(item.id), class_id=person, shape=Keypoints(
                    ((x, y, 2), (x + 5, y + 9, 1), (0, 0, 0)))))
            else:
                anns.append(Annotation(place=Place(item.id), class_id=road, shape=mask))
    doc.execute(Batch((SetSchema(schema), Put(items),
                       Put(tuple(anns)))))
    path = doc.path
    doc.close()
    return path


def _best(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def run() -> list[dict]:
    from pycocotools.coco import COCO

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = build(Path(tmp))
        build_s = time.perf_counter() - t0

        def open_project():
            doc = Document.open(path)
            doc.media(), doc.schema, doc.annotations(doc.media()[0].id)
            doc.close()

        open_s, _ = _best(open_project)
        out = Path(tmp) / "coco.json"

        def export():
            with Document.open(path) as doc:
                return export_coco(doc, out)

        export_s, counts = _best(export, repeat=1)
        payload = json.loads(out.read_text())
        dump_s, _ = _best(lambda: json.dump(payload, open(Path(tmp) / "x.json", "w"),
                                            separators=(",", ":")), repeat=1)
        with contextlib.redirect_stdout(io.StringIO()):
            coco_s, _ = _best(lambda: COCO(str(out)), repeat=1)
    n = counts["annotations"]
    return [
        {"name": f"open project ({n:,} anns / {IMAGES:,} images)", "ours_ms": open_s * 1e3,
         "peer": "pycocotools COCO() indexing the same labels", "peer_ms": coco_s * 1e3,
         "notes": "target < 2000 ms"},
        {"name": "export COCO JSON", "ours_ms": export_s * 1e3,
         "peer": "bare json.dump of the same payload", "peer_ms": dump_s * 1e3,
         "notes": f"target < 10000 ms; building the project took {build_s:.1f} s"},
    ]


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table("scale", run())
