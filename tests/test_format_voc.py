"""Pascal VOC (app/io/formats/voc.py), judged by datumaro.

datumaro pulls a large dependency tree, so it runs in its own interpreter:
``$VELLUM_DATUMARO_PYTHON``, else /tmp/dmvenv/bin/python (``python -m venv /tmp/dmvenv &&
/tmp/dmvenv/bin/pip install datumaro``); without one those tests are skipped with that
reason. datumaro reads our boxes with ``coordinate_mode="voc-one-based"`` (the devkit's
1-based inclusive pixel indices)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from factories import image_item, project_with_every_shape

from app.core.commands import Put
from app.core.document import Document
from app.core.errors import VellumError
from app.core.rle import decode
from app.core.shapes import Box
from app.io import formats

REPO = Path(__file__).resolve().parents[1]
MODULE = "app.io.formats.voc"
def _datumaro_python() -> Path:
    """$VELLUM_DATUMARO_PYTHON, else this interpreter when it has datumaro (the test extras
    install it), else /tmp/dmvenv/bin/python."""
    import importlib.util
    import sys

    if os.environ.get("VELLUM_DATUMARO_PYTHON"):
        return Path(os.environ["VELLUM_DATUMARO_PYTHON"])
    if importlib.util.find_spec("datumaro") is not None:
        return Path(sys.executable)
    return Path("/tmp/dmvenv/bin/python")


DM_PY = _datumaro_python()


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setenv("VELLUM_FORMATS", MODULE)


def _dm(script: str, *args: str) -> str:
    if not DM_PY.exists() or subprocess.run([str(DM_PY), "-c", "import datumaro"],
                                            capture_output=True).returncode:
        pytest.skip(f"no datumaro interpreter at {DM_PY} (set $VELLUM_DATUMARO_PYTHON)")
    r = subprocess.run([str(DM_PY), "-c", script, *args], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


def _vellum(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, VELLUM_FORMATS=MODULE)
    return subprocess.run([sys.executable, "-m", "app", *map(str, argv)], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=120)


def _export(doc: Document, out: Path, **options) -> list[str]:
    return formats.get("voc").export_to(doc, out, **options)[1]


def _import(doc: Document, path: Path) -> list[str]:
    return formats.get("voc").import_from(doc, path)


def _objects(doc: Document, ids: bool = True) -> list[tuple]:
    names = {c.id: c.name for c in doc.schema.classes}
    return sorted((m.file_name, names.get(a.class_id), a.kind,
                   json.dumps(a.shape.to_json(), sort_keys=True), a.occluded,
                   json.dumps(a.attributes, sort_keys=True))
                  for m in doc.media() for a in doc.annotations(m.id))


def _copy_project(tmp_path: Path, src_images: Path, name: str) -> Document:
    doc = Document.create(tmp_path / name)
    (doc.folder / "images").mkdir()
    items = [image_item(Path(shutil.copy(img, doc.folder / "images" / img.name)), doc, n)
             for n, img in enumerate(sorted(src_images.glob("*.png")))]
    doc.execute(Put(tuple(items)))
    return doc


def _flagged_project(tmp_path: Path) -> tuple[Document, Path]:
    """project_with_every_shape plus boxes with VOC's flags, one off the pixel grid."""
    from app.core.annotations import Annotation
    from app.core.places import Place

    doc, images = project_with_every_shape(tmp_path)
    img1 = doc.media()[1]
    road = doc.schema.class_by_name("road").id
    doc.execute(Put((
        Annotation(Place(img1.id), Box(0, 0, 1, 1), road, occluded=True,
                   foreign={"voc": {"difficult": True, "truncated": True, "pose": "Left"}}),
        Annotation(Place(img1.id), Box(10, 20, 30, 40), road),
        Annotation(Place(img1.id), Box(10.25, 20.5, 5.5, 7.75), road))))
    return doc, images


READ = r"""
import json, sys
from datumaro.components.dataset import Dataset
from datumaro.components.annotation import AnnotationType
ds = Dataset.import_from(sys.argv[1], sys.argv[2], coordinate_mode="voc-one-based")
labels = ds.categories()[AnnotationType.label]
out = []
for item in ds:
    for a in item.annotations:
        d = {"item": item.id, "type": a.type.name, "label": labels[a.label].name,
             "attrs": {k: v for k, v in a.attributes.items()}}
        if a.type == AnnotationType.bbox:
            d["box"] = [a.x, a.y, a.w, a.h]
        if a.type == AnnotationType.mask:
            d["pixels"] = int(a.image.sum())
            d["bbox"] = a.get_bbox()
        out.append(d)
print(json.dumps(out, default=str))
"""


def test_datumaro_reads_our_export_with_the_same_objects(tmp_path):
    doc, _ = _flagged_project(tmp_path)
    out = tmp_path / "voc"
    notes = _export(doc, out)
    assert "bounding boxes" in " ".join(notes) and "left out" in " ".join(notes)
    assert (out / "Annotations" / "img0.xml").is_file()
    assert (out / "ImageSets" / "Main" / "default.txt").read_text() == "img0\nimg1\n"
    xml = (out / "Annotations" / "img1.xml").read_text()
    assert "<xmin>1</xmin>" in xml and "<xmax>1</xmax>" in xml  # pixel (0, 0): 1..1
    for fmt in ("voc", "voc_detection"):
        got = json.loads(_dm(READ, str(out), fmt))
        boxes = [g for g in got if g["type"] == "bbox"]
        names = {c.id: c.name for c in doc.schema.classes}
        want = []
        for m in doc.media():
            for a in doc.annotations(m.id):
                if a.kind in ("box", "polygon", "mask", "rotated_box"):
                    want.append((m.file_name.rsplit(".", 1)[0], names[a.class_id],
                                 a.shape.bbox(), a))
        assert len(boxes) == len(want)
        for g, (item, label, bbox, a) in zip(boxes, want):
            assert g["item"] == item and g["label"] == label
            assert g["box"] == pytest.approx(list(bbox), abs=0.5)
            if a.kind == "box":
                assert g["box"] == pytest.approx(list(bbox), abs=1e-9)  # exact, in fact
            voc = a.foreign.get("voc", {})
            assert g["attrs"]["occluded"] is a.occluded
            assert g["attrs"]["difficult"] is bool(voc.get("difficult"))
            assert g["attrs"]["truncated"] is bool(voc.get("truncated"))
            for k, v in a.attributes.items():
                assert str(g["attrs"][k]).lower() == str(v).lower()
    doc.close()


def test_disjoint_masks_are_read_by_datumaro_pixel_for_pixel(tmp_path):
    from app.core.annotations import Annotation
    from app.core.places import Place
    from app.core.rle import encode
    from app.core.shapes import Mask, Polygon

    doc, _ = project_with_every_shape(tmp_path)
    img1 = doc.media()[1]
    road = doc.schema.class_by_name("road").id
    car = doc.schema.class_by_name("car").id
    m = np.zeros((100, 100), bool)
    m[5:9, 60:97] = True
    m[30, 30] = True
    poly = Polygon(((10.5, 50), (40, 52.25), (20, 80)))
    doc.execute(Put((Annotation(Place(img1.id), Mask(encode(m)), road),
                     Annotation(Place(img1.id), poly, car))))
    out = tmp_path / "voc"
    _export(doc, out, masks=True)
    script = READ.replace('d["pixels"] = int(a.image.sum())',
                          'd["pixels"] = np.argwhere(a.image).tolist()').replace(
                          "import json, sys", "import json, sys, numpy as np")
    got = [g for g in json.loads(_dm(script, str(out), "voc"))
           if g["type"] == "mask" and g["item"] == "img1"]
    from app.core.raster import rasterize

    want = {"road": m, "car": rasterize(poly, 100, 100)}
    assert sorted(g["label"] for g in got) == ["car", "road"]
    for g in got:
        assert sorted(map(tuple, g["pixels"])) == sorted(
            map(tuple, np.argwhere(want[g["label"]]).tolist()))
    doc.close()


def test_masks_are_read_by_datumaro(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    out = tmp_path / "voc"
    _export(doc, out, masks=True)
    assert (out / "SegmentationObject" / "img0.png").is_file()
    got = json.loads(_dm(READ, str(out), "voc"))
    masks = sorted(g["pixels"] for g in got if g["type"] == "mask")
    from app.core.raster import rasterize

    img0 = doc.media()[0]
    want = sorted(int(rasterize(a.shape, img0.height, img0.width).sum())
                  for a in doc.annotations(img0.id) if a.kind in ("polygon", "mask"))
    # the masks overlap: the later object wins a shared pixel, as in any VOC instance PNG
    assert len(masks) == len(want) and sum(masks) <= sum(want)
    doc.close()


WRITE = r"""
import sys, numpy as np
from datumaro.components.dataset import Dataset
from datumaro.components.dataset_base import DatasetItem
from datumaro.components.annotation import Bbox, Mask, AnnotationType, LabelCategories
from datumaro.components.media import Image
m = np.zeros((100, 100), np.uint8); m[40:60, 10:30] = 1
ds = Dataset.from_iterable([
    DatasetItem(id="img0", subset="train", media=Image.from_numpy(np.zeros((100, 100, 3))),
                annotations=[
        Bbox(3, 4, 20, 11, label=0, id=0, group=1,
             attributes={"difficult": True, "truncated": False, "occluded": True,
                         "pose": "Frontal", "colour": "blue"}),
        Bbox(10, 40, 20, 20, label=1, id=1, group=2, attributes={"difficult": False}),
        Mask(m, label=1, id=1, group=2)]),
    DatasetItem(id="img1", subset="train", media=Image.from_numpy(np.zeros((100, 100, 3))),
                annotations=[Bbox(0, 0, 1, 1, label=0)]),
], categories=["car", "road"])
ds.export(sys.argv[1], "voc", save_media=False, coordinate_mode="voc-one-based")
print("ok")
"""


def test_a_voc_dataset_datumaro_wrote_imports_with_nothing_lost(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    fresh = _copy_project(tmp_path, images, "fresh")
    doc.close()
    src = tmp_path / "dm"
    _dm(WRITE, str(src))
    _import(fresh, src)
    names = {c.id: c.name for c in fresh.schema.classes}
    img0, img1 = fresh.media()
    a0 = {(names[a.class_id], a.kind, a.shape.bbox()): a for a in fresh.annotations(img0.id)}
    car = a0["car", "box", (3.0, 4.0, 20.0, 11.0)]
    assert car.occluded and car.foreign["voc"]["difficult"] is True
    assert car.foreign["voc"]["pose"] == "Frontal" and car.attributes["colour"] == "blue"
    road_box = a0["road", "box", (10.0, 40.0, 20.0, 20.0)]
    mask = next(a for a in fresh.annotations(img0.id) if a.kind == "mask")
    expect = np.zeros((100, 100), bool)
    expect[40:60, 10:30] = True
    assert (decode(mask.shape.rle) == expect).all() and names[mask.class_id] == "road"
    assert mask.foreign["voc"]["box"] == road_box.id
    assert [a.shape for a in fresh.annotations(img1.id)] == [Box(0, 0, 1, 1)]
    assert [c.name for c in fresh.schema.classes][-2:] == ["car", "road"]
    out = tmp_path / "back"  # written back: the same boxes, flags, attributes, <source>
    _export(fresh, out, masks=True)
    for name in ("img0.xml", "img1.xml"):
        a, b = ((d / "Annotations" / name).read_text() for d in (src, out))
        for tag in ("<source>", "<database>Unknown</database>", "<xmin>4</xmin>",
                    "<ymax>15</ymax>", "<pose>Frontal</pose>", "<difficult>1</difficult>",
                    "<occluded>1</occluded>", "<value>blue</value>", "<xmax>1</xmax>"):
            assert (tag in a) == (tag in b), (name, tag)
    got = json.loads(_dm(READ, str(out), "voc"))
    assert sorted((g["item"], g["type"], g["label"]) for g in got) == [
        ("img0", "bbox", "car"), ("img0", "bbox", "road"), ("img0", "mask", "road"),
        ("img1", "bbox", "car")]
    fresh.close()


def test_three_generations_are_identical(tmp_path):
    doc, images = _flagged_project(tmp_path)
    g1 = tmp_path / "g1"
    _export(doc, g1, masks=True)
    docs = [_copy_project(tmp_path, images, f"p{n}") for n in (2, 3)]
    _import(docs[0], g1)
    g2 = tmp_path / "g2"
    _export(docs[0], g2, masks=True)
    _import(docs[1], g2)
    g3 = tmp_path / "g3"
    _export(docs[1], g3, masks=True)
    files = sorted(p.relative_to(g1).as_posix() for p in g1.rglob("*") if p.is_file())
    for g in (g2, g3):
        assert files == sorted(p.relative_to(g).as_posix() for p in g.rglob("*") if p.is_file())
    assert "SegmentationObject/img0.png" in files
    for f in files:  # identical files, the first generation included
        assert (g1 / f).read_bytes() == (g2 / f).read_bytes() == (g3 / f).read_bytes(), f
    # boxes are the same from the first generation on
    def boxes(d: Document) -> set:
        return {(t[0], t[1], tuple(map(float, json.loads(t[3])["bbox"])), t[4], t[5])
                for t in _objects(d) if t[2] == "box"}

    assert boxes(doc) <= boxes(docs[0])  # the same boxes, flags and attributes
    assert _objects(docs[0]) == _objects(docs[1])
    for d in (doc, *docs):
        d.close()


def test_cli_round_trip_and_help(tmp_path):
    doc, images = _flagged_project(tmp_path)
    doc.close()
    out = tmp_path / "cli"
    r = _vellum("export", "voc", tmp_path / "proj", out, "--masks")
    assert r.returncode == 0, r.stderr
    assert (out / "SegmentationClass" / "img0.png").is_file()
    again = _vellum("export", "voc", tmp_path / "proj", out)
    assert again.returncode == 1 and "give --overwrite" in again.stderr
    fresh = _copy_project(tmp_path, images, "fresh")
    fresh.close()
    r = _vellum("import", "voc", tmp_path / "fresh", out)
    assert r.returncode == 0, r.stderr
    assert "VOC file(s)" in r.stdout
    for verb, meta in (("import", "VOC_ROOT"), ("export", "OUT")):
        assert "voc" in _vellum(verb, "--help").stdout
        assert meta in _vellum(verb, "voc", "--help").stdout
    assert "--masks" in _vellum("export", "voc", "--help").stdout


GOOD = ("<annotation><filename>img0.png</filename><object><name>car</name><bndbox>"
        "<xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>"
        "</annotation>")
BAD = {
    "not xml": "<annotation><object>",
    "entity": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><annotation/>',
    "wrong root": "<something/>",
    "unknown image": GOOD.replace("img0.png", "nowhere.png"),
    "no number": GOOD.replace("<xmin>1</xmin>", "<xmin>one</xmin>"),
    "huge": GOOD.replace("<xmax>5</xmax>", "<xmax>1e300</xmax>"),
    "inverted": GOOD.replace("<xmax>5</xmax>", "<xmax>-7</xmax>"),
    "bad flag": GOOD.replace("<name>car</name>", "<name>car</name><difficult>2</difficult>"),
    "no name": GOOD.replace("<name>car</name>", ""),
    "mask bomb": GOOD,  # with a SegmentationObject PNG claiming 100000 x 100000 pixels
    "wrong size": GOOD.replace("<object>", "<size><width>7</width><height>7</height>"
                               "</size><object>"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_sentence_and_changes_nothing(tmp_path, case):
    doc, _ = project_with_every_shape(tmp_path)
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a_good.xml").write_text(GOOD)
    bad = root / "Annotations" / "b_bad.xml"
    bad.write_text(BAD[case])
    if case == "mask bomb":
        import struct
        import zlib

        (root / "SegmentationObject").mkdir()
        bad = root / "SegmentationObject" / "b_bad.png"
        ihdr = b"IHDR" + struct.pack(">IIBBBBB", 100000, 100000, 8, 3, 0, 0, 0)
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr
                        + struct.pack(">I", zlib.crc32(ihdr)) + b"\0" * 64)
    before = (_objects(doc), doc.schema.to_json())
    with pytest.raises(VellumError) as err:
        _import(doc, root)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert (_objects(doc), doc.schema.to_json()) == before
    doc.close()


def test_a_mask_in_a_colour_off_the_palette_and_a_fifo_are_refused(tmp_path):
    import cv2

    doc, _ = project_with_every_shape(tmp_path)
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "SegmentationObject").mkdir()
    (root / "Annotations" / "img0.xml").write_text(GOOD)
    png = root / "SegmentationObject" / "img0.png"
    cv2.imwrite(str(png), np.full((100, 100, 3), 7, np.uint8))
    before = _objects(doc)
    with pytest.raises(VellumError, match=str(png)):
        _import(doc, root)
    png.unlink()
    os.mkfifo(png)
    with pytest.raises(VellumError, match="FIFO"):
        _import(doc, root)
    assert _objects(doc) == before
    doc.close()


def test_names_from_the_project_never_leave_the_output_folder(tmp_path):
    from app.core.commands import Put as P

    doc, images = project_with_every_shape(tmp_path)
    evil = images / "..evil name;$.png"
    shutil.copy(images / "img1.png", evil)
    doc.execute(P((image_item(evil, doc, 5),)))
    out = tmp_path / "voc"
    _export(doc, out)
    for p in out.rglob("*"):
        assert out in p.resolve().parents
    assert (out / "Annotations" / "evil name__.xml").is_file()
    doc.close()
