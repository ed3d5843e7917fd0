"""CVAT XML: export and import of 100k boxes (1,000 images of 100 boxes each, 640x480, two
attributes a box) beside datumaro's CVAT exporter and importer on the same data, measured in
the same run. Ours: ``export_cvat`` from a project; ``plan_import`` (parse + build the one
command) and executing it into a fresh project with the same images. datumaro: ``export(...,
"cvat")`` of a ``Dataset`` holding the same boxes, and ``Dataset.import_from(ours, "cvat")``
with every annotation visited.

Run: ``python -m benchmarks cvat`` (``VELLUM_BENCH_CVAT_BOXES`` sets the count, default
100000).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

PER_IMAGE = 100


def _project(folder: Path, n_images: int, boxes: np.ndarray | None):
    from app.core.annotations import Annotation
    from app.core.commands import Put, SetSchema
    from app.core.document import Document
    from app.core.media import MediaItem, MediaKind
    from app.core.places import Place
    from app.core.schema import AttributeSpec, AttributeType, LabelClass, LabelSchema
    from app.core.shapes import Box

    doc = Document.create(folder)
    items = [MediaItem(kind=MediaKind.IMAGE, path=f"images/{n:06d}.png", fingerprint=f"f{n}",
                       size_bytes=1, width=640, height=480, position=n)
             for n in range(n_images)]
    doc.execute(Put(tuple(items)))
    if boxes is None:
        return doc, items
    schema = LabelSchema(tuple(LabelClass(f"class{k}", attributes=(
        AttributeSpec("occluded_pct", AttributeType.NUMBER, dynamic=True),
        AttributeSpec("note", AttributeType.TEXT, dynamic=True))) for k in range(10)))
    doc.execute(SetSchema(schema))
    ids = [c.id for c in schema.classes]
    anns = [Annotation(place=Place(items[k // PER_IMAGE].id),
                       shape=Box(*(float(v) for v in boxes[k, :4])),
                       class_id=ids[int(boxes[k, 4])],
                       attributes={"occluded_pct": int(boxes[k, 5]), "note": "x"})
            for k in range(len(boxes))]
    doc.execute(Put(tuple(anns)))
    return doc, items


def _boxes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(0, 560, n), 2)
    y = np.round(rng.uniform(0, 400, n), 2)
    w = np.round(rng.uniform(4, 80, n), 2)
    h = np.round(rng.uniform(4, 80, n), 2)
    return np.stack([x, y, w, h, rng.integers(0, 10, n), rng.integers(0, 100, n)], 1)


def run() -> list[dict]:
    import datumaro as dm

    from app.io.cvat import export_cvat, plan_import
    from app.io.images import write_png

    n = int(os.environ.get("VELLUM_BENCH_CVAT_BOXES", "100000"))
    n_images = max(1, n // PER_IMAGE)
    boxes = _boxes(n_images * PER_IMAGE)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        doc, items = _project(folder / "src", n_images, boxes)
        (doc.folder / "images").mkdir()
        png = folder / "tiny.png"
        write_png(png, np.zeros((4, 4, 3), np.uint8))
        for item in items:  # datumaro insists that every named image exists
            os.link(png, doc.folder / item.path)

        ours_xml = doc.folder / "ours.xml"
        t = time.perf_counter()
        export_cvat(doc, ours_xml)
        t_exp = time.perf_counter() - t

        ds = dm.Dataset.from_iterable([dm.DatasetItem(
            id=f"{i:06d}", media=dm.Image.from_file(str(doc.folder / items[i].path),
                                                    size=(480, 640)),
            annotations=[dm.Bbox(*boxes[k, :4], label=int(boxes[k, 4]),
                                 attributes={"occluded_pct": int(boxes[k, 5]), "note": "x"})
                         for k in range(i * PER_IMAGE, (i + 1) * PER_IMAGE)])
            for i in range(n_images)],
            categories={dm.AnnotationType.label: dm.LabelCategories.from_iterable(
                [(f"class{k}", "", ["occluded_pct", "note"]) for k in range(10)])})
        t = time.perf_counter()
        ds.export(str(folder / "dm"), "cvat", save_media=False)
        t_dm_exp = time.perf_counter() - t

        fresh, _ = _project(folder / "dst", n_images, None)
        t = time.perf_counter()
        command, report = plan_import(fresh, ours_xml, images_dir=doc.folder)
        t_plan = time.perf_counter() - t
        t = time.perf_counter()
        fresh.execute(command)
        t_exec = time.perf_counter() - t
        got = sum(1 for m in fresh.media() for _ in fresh.annotations(m.id))

        t = time.perf_counter()
        dmi = dm.Dataset.import_from(str(ours_xml), "cvat")
        dm_count = sum(len(item.annotations) for item in dmi)
        t_dm_imp = time.perf_counter() - t
        mb = ours_xml.stat().st_size / 1e6
        doc.close()
        fresh.close()
    return [
        {"name": f"export {n} boxes as CVAT XML ({mb:.0f} MB)", "ours_ms": t_exp * 1000,
         "peer_ms": t_dm_exp * 1000, "peer": "datumaro export 'cvat'"},
        {"name": f"import {n} boxes from CVAT XML", "ours_ms": (t_plan + t_exec) * 1000,
         "peer_ms": t_dm_imp * 1000, "peer": "datumaro import_from 'cvat' + visit",
         "notes": f"ours: parse+plan {t_plan * 1000:.0f} ms, store {t_exec * 1000:.0f} ms; "
                  f"{got} vs datumaro {dm_count} annotations read"},
    ]
