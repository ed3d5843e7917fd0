"""YOLO export and import of 100k boxes (issue 18), beside datumaro's ``yolo_ultralytics``
exporter and ``yolo`` importer on the same data, measured in the same run.

The data: ``VELLUM_BENCH_YOLO_BOXES`` boxes (default 100,000), 100 per 640x480 PNG image, 80
classes, split train=0.8,val=0.2. Ours: ``export_yolo`` from a project, then ``plan_yolo``
(parse and match) and the project write of its one command into a second project with the same
images. Datumaro: ``Dataset.export(..., "yolo_ultralytics")`` of a dataset holding the same
boxes (built before the clock starts), and ``Dataset.import_from(our export, "yolo")`` with
every item and annotation iterated. Ours fsyncs each file before the all-or-nothing rename
(:class:`app.io.outputs.StagedOutput`); a second row shows our export with fsync patched out,
to say where the time goes. Neither side copies images (datumaro imports need them in
the folder: they are put there before the clock starts).

Run: ``python -m benchmarks yolo``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

PER_IMAGE = 100
W, H = 640, 480


def _project(folder: Path, n_images: int, boxes: np.ndarray | None):
    import cv2

    from app.core.annotations import Annotation
    from app.core.commands import Put, SetSchema
    from app.core.document import Document
    from app.core.media import MediaItem, MediaKind, fingerprint
    from app.core.places import Place
    from app.core.schema import PALETTE, LabelClass, LabelSchema
    from app.core.shapes import Box

    doc = Document.create(folder)
    images = doc.folder / "images"
    images.mkdir()
    png = cv2.imencode(".png", np.zeros((H, W, 3), np.uint8))[1].tobytes()
    items = []
    for n in range(n_images):
        p = images / f"{n:06d}.png"
        p.write_bytes(png)
        items.append(MediaItem(kind=MediaKind.IMAGE, path=f"images/{p.name}",
                               fingerprint=fingerprint(p), size_bytes=len(png), width=W,
                               height=H, position=n))
    doc.execute(Put(tuple(items)))
    if boxes is not None:
        doc.execute(SetSchema(LabelSchema(tuple(
            LabelClass(f"class{i}", PALETTE[i % len(PALETTE)]) for i in range(80)))))
        ids = [c.id for c in doc.schema.classes]
        anns = [Annotation(place=Place(items[k // PER_IMAGE].id), class_id=ids[int(b[4])],
                           shape=Box(*map(float, b[:4]))) for k, b in enumerate(boxes)]
        doc.execute(Put(tuple(anns)))
    return doc, items


def _boxes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = rng.uniform(4, 120, n).round(2), rng.uniform(4, 120, n).round(2)
    x, y = (rng.uniform(0, 1, n) * (W - w)).round(2), (rng.uniform(0, 1, n) * (H - h)).round(2)
    return np.stack([x, y, w, h, rng.integers(0, 80, n)], 1)


def _ms(t: float) -> float:
    return (time.perf_counter() - t) * 1000


def run() -> list[dict]:
    import datumaro as dm

    from app.io.yolo.reader import plan_yolo
    from app.io.yolo.writer import export_yolo

    n = int(os.environ.get("VELLUM_BENCH_YOLO_BOXES", "100000"))
    n_images = max(1, n // PER_IMAGE)
    boxes = _boxes(n_images * PER_IMAGE)
    tmp = Path(tempfile.mkdtemp(prefix="vellum-yolo-bench-"))
    rows: list[dict] = []
    try:
        doc, items = _project(tmp / "src", n_images, boxes)
        t = time.perf_counter()
        export_yolo(doc, tmp / "ours", split="train=0.8,val=0.2")
        ours_export = _ms(t)

        # datumaro: the same boxes, the same split, as its own dataset
        split = {}
        for f in (tmp / "ours" / "labels").rglob("*.txt"):
            split[f.stem] = f.parent.name
        cats = [f"class{i}" for i in range(80)]
        dm_items = []
        for k, item in enumerate(items):
            b = boxes[k * PER_IMAGE:(k + 1) * PER_IMAGE]
            dm_items.append(dm.DatasetItem(
                id=f"{k:06d}", subset=split[f"{k:06d}"],
                media=dm.Image.from_file(str(doc.media_path(item)), size=(H, W)),
                annotations=[dm.Bbox(*map(float, r[:4]), label=int(r[4])) for r in b]))
        ds = dm.Dataset.from_iterable(dm_items, categories=cats)
        t = time.perf_counter()
        ds.export(str(tmp / "dm"), "yolo_ultralytics", save_media=False)
        dm_export = _ms(t)
        rows.append({"name": f"export {len(boxes)} boxes as YOLO", "ours_ms": ours_export,
                     "peer_ms": dm_export, "peer": f"datumaro {dm.__version__} "
                     "yolo_ultralytics export", "notes": f"{n_images} images, each label "
                     "file fsynced then renamed into place (datumaro: plain writes)"})
        from unittest import mock

        with mock.patch("os.fsync"):  # the same export without the fsyncs: where time goes
            t = time.perf_counter()
            export_yolo(doc, tmp / "ours_nofsync", split="train=0.8,val=0.2")
            rows.append({"name": "  the same, fsync off (measurement only)",
                         "ours_ms": _ms(t), "peer_ms": dm_export,
                         "peer": "datumaro, as above"})

        # import: images where datumaro looks for them (not timed), then both read
        for f in (tmp / "ours" / "labels").rglob("*.txt"):
            target = tmp / "ours" / "images" / f.parent.name / (f.stem + ".png")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(doc.media_path(items[int(f.stem)]), target)
        dst, _ = _project(tmp / "dst", n_images, None)
        t = time.perf_counter()
        command, report = plan_yolo(dst, tmp / "ours")
        ours_plan = _ms(t)
        dst.execute(command)
        ours_import = _ms(t)
        assert report["annotations"] == len(boxes), report
        t = time.perf_counter()
        got = dm.Dataset.import_from(str(tmp / "ours"), "yolo")
        count = sum(len(item.annotations) for item in got)
        dm_import = _ms(t)
        assert count == len(boxes), count
        rows.append({"name": f"import {len(boxes)} YOLO boxes (parse + match)",
                     "ours_ms": ours_plan, "peer_ms": dm_import,
                     "peer": "datumaro yolo import, every item iterated"})
        rows.append({"name": f"import {len(boxes)} YOLO boxes (+ project write)",
                     "ours_ms": ours_import, "peer_ms": None,
                     "notes": "one undoable command written to the project"})
        doc.close()
        dst.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows
