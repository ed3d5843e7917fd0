"""labelme JSON (app/io/formats/labelme.py), judged by labelme itself.

labelme pulls PyQt5, which must never enter Vellum's venv (it clashes with PySide6), so the
outside checks run labelme in its own interpreter: ``$VELLUM_LABELME_PYTHON``, else
/tmp/lmvenv/bin/python (``python -m venv /tmp/lmvenv && /tmp/lmvenv/bin/pip install
labelme``); without one those tests are skipped with that reason."""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from factories import project_with_every_shape

from app.core.document import Document
from app.core.errors import VellumError
from app.core.rle import decode
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline
from app.io import formats

REPO = Path(__file__).resolve().parents[1]
MODULE = "app.io.formats.labelme"
LABELME_PY = Path(os.environ.get("VELLUM_LABELME_PYTHON", "/tmp/lmvenv/bin/python"))


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setenv("VELLUM_FORMATS", MODULE)


def _labelme() -> Path:
    if not LABELME_PY.exists() or subprocess.run(
            [str(LABELME_PY), "-c", "import labelme"], capture_output=True).returncode:
        pytest.skip(f"no labelme interpreter at {LABELME_PY} (set $VELLUM_LABELME_PYTHON)")
    return LABELME_PY


def _run_labelme(script: str, *args: str) -> str:
    r = subprocess.run([str(_labelme()), "-c", script, *args], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def _vellum(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, VELLUM_FORMATS=MODULE)
    return subprocess.run([sys.executable, "-m", "app", *map(str, argv)], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=120)


def _export(doc: Document, out: Path, **options) -> tuple[formats.Outcome, list[str]]:
    return formats.get("labelme").export_to(doc, out, **options)


def _import(doc: Document, path: Path) -> list[str]:
    return formats.get("labelme").import_from(doc, path)


def _objects(doc: Document) -> list[tuple]:
    """Every annotation as comparable values (image name, class, kind, geometry, foreign)."""
    names = {c.id: c.name for c in doc.schema.classes}
    out = []
    for m in doc.media():
        for a in doc.annotations(m.id):
            out.append((m.file_name, names.get(a.class_id), a.kind,
                        json.dumps(a.shape.to_json(), sort_keys=True),
                        a.id if a.kind != "tag" else "",  # a tag is a flag: no id in labelme
                        json.dumps(a.attributes, sort_keys=True)))
    return sorted(out)


def _copy_project(tmp_path: Path, src_images: Path, name: str) -> Document:
    """A new project holding copies of the same images (same relative paths)."""
    from factories import image_item

    from app.core.commands import Put

    doc = Document.create(tmp_path / name)
    (doc.folder / "images").mkdir()
    items = []
    for n, img in enumerate(sorted(src_images.glob("*.png"))):
        dst = shutil.copy(img, doc.folder / "images" / img.name)
        items.append(image_item(Path(dst), doc, n))
    doc.execute(Put(tuple(items)))
    return doc


# ------------------------------------------------------------------ export, judged by labelme
JUDGE = r"""
import json, sys, numpy as np
from labelme import LabelFile
from labelme.utils.shape import shape_to_mask
out = []
for path in sys.argv[1:]:
    lf = LabelFile(path)  # reads the image through imagePath (imageData is null)
    shapes = []
    for s in lf.shapes:
        d = {k: s[k] for k in ("label", "points", "shape_type", "flags", "description",
                               "group_id")}
        d["other"] = s["other_data"]
        if s["mask"] is not None:
            d["mask"] = np.argwhere(s["mask"]).tolist()
        shapes.append(d)
    out.append({"file": path, "image": lf.image_path, "bytes": len(lf.image_data),
                "flags": lf.flags, "shapes": shapes})
print(json.dumps(out))
"""


def test_export_is_read_by_labelme_with_every_shape(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    before = {a.id: a for m in doc.media() for a in doc.annotations(m.id)}
    out = tmp_path / "lm"
    outcome, notes = _export(doc, out)
    files = sorted(out.rglob("*.json"))
    assert [f.name for f in files] == ["img0.json", "img1.json"]
    assert "polygon(s) with holes" in " ".join(notes) and "rotated box" in " ".join(notes)
    got = json.loads(_run_labelme(JUDGE, *map(str, files)))
    first = got[0]
    assert first["image"] == "../proj/images/img0.png" and first["bytes"] > 0
    assert first["flags"] == {"weather": True}  # the tag
    by_id = {s["other"]["vellum_id"]: s for s in first["shapes"]}
    assert len(by_id) == 8  # every geometric annotation (the tag is a flag)
    for aid, s in by_id.items():
        a = before[aid]
        shape = a.shape
        if isinstance(shape, Box):
            assert s["shape_type"] == "rectangle"
            assert s["points"] == [[shape.x, shape.y], [shape.x + shape.w, shape.y + shape.h]]
        elif isinstance(shape, Polygon):
            assert s["shape_type"] == "polygon"
            assert s["points"] == [list(p) for p in shape.exterior]
        elif isinstance(shape, Polyline):
            assert s["shape_type"] == "linestrip"
            assert s["points"] == [list(p) for p in shape.points]
        elif isinstance(shape, Keypoints):
            assert s["shape_type"] == "points"
        elif isinstance(shape, Mask):  # labelme's own decoding gives our pixels back
            assert s["shape_type"] == "mask"
            (x1, y1), _ = s["points"]
            pixels = sorted((r + y1, c + x1) for r, c in s["mask"])
            assert pixels == sorted(map(tuple, np.argwhere(decode(shape.rle)).tolist()))
        else:  # the rotated box, as its corners
            assert s["shape_type"] == "polygon" and len(s["points"]) == 4
    car = next(s for s in first["shapes"] if s["shape_type"] == "rectangle")
    assert car["label"] == "car" and car["other"]["attributes"]["colour"] == "blue"
    assert got[1]["shapes"] == []
    doc.close()


# ------------------------------------------------------------------ files labelme writes
WRITER = r"""
import json, sys, numpy as np
from labelme import LabelFile
from labelme import utils
out, image = sys.argv[1], sys.argv[2]
m = np.zeros((7, 5), np.uint8); m[1:6, 0:3] = 1; m[0, 4] = 1
shapes = [
  {"label": "cat", "points": [[10.5, 12.25], [40, 30]], "shape_type": "rectangle",
   "flags": {"sleeping": True}, "description": "a cat", "group_id": 3, "mask": None},
  {"label": "road", "points": [[1, 1], [50, 2], [30, 40.5]], "shape_type": "polygon",
   "flags": {}, "description": "", "group_id": None, "mask": None, "score": 0.75},
  {"label": "edge", "points": [[5, 5], [60, 6]], "shape_type": "line", "flags": {},
   "description": "", "group_id": None, "mask": None},
  {"label": "edge", "points": [[5, 5], [60, 6], [70, 80]], "shape_type": "linestrip",
   "flags": {}, "description": "", "group_id": None, "mask": None},
  {"label": "eye", "points": [[20.5, 21.5]], "shape_type": "point", "flags": {},
   "description": "", "group_id": 3, "mask": None},
  {"label": "ball", "points": [[50, 50], [60, 50]], "shape_type": "circle", "flags": {},
   "description": "round", "group_id": None, "mask": None},
  {"label": "blob", "points": [[20, 30], [24, 36]], "shape_type": "mask", "flags": {},
   "description": "", "group_id": None, "mask": utils.img_arr_to_b64(m)},
]
LabelFile().save(out, shapes=shapes, image_path=image, image_height=None, image_width=None,
                 flags={"blurry": True, "night": False}, other_data={"reviewer": "ann"})
"""


def _labelme_file(tmp_path: Path) -> tuple[Document, Path]:
    doc, images = project_with_every_shape(tmp_path)
    folder = tmp_path / "from_labelme"
    folder.mkdir()
    f = folder / "img1.json"
    h, w = doc.media()[1].height, doc.media()[1].width
    _run_labelme(WRITER, str(f), os.path.relpath(images / "img1.png", folder))
    data = json.loads(f.read_text())
    data["imageHeight"], data["imageWidth"] = h, w
    f.write_text(json.dumps(data, indent=2))
    return doc, f


def test_a_file_labelme_wrote_imports_with_nothing_lost(tmp_path):
    doc, f = _labelme_file(tmp_path)
    img1 = doc.media()[1]
    notes = _import(doc, f)
    assert "circle" in " ".join(notes)
    names = {c.id: c.name for c in doc.schema.classes}
    anns = doc.annotations(img1.id)
    got = {(names[a.class_id], a.kind): a for a in anns}
    cat = got["cat", "box"]
    assert cat.shape == Box(10.5, 12.25, 29.5, 17.75)
    assert cat.foreign["labelme"] == {"group_id": 3, "description": "a cat",
                                      "shape_type": "rectangle", "flags": {"sleeping": True}}
    assert got["road", "polygon"].foreign["labelme"]["score"] == 0.75
    assert got["eye", "keypoints"].shape.points[0] == (20.5, 21.5, 2)
    assert len([a for a in anns if names[a.class_id] == "edge"]) == 2
    ball = got["ball", "polygon"].shape
    assert len(ball.exterior) == 64 and ball.bbox() == pytest.approx((40, 40, 20, 20))
    blob = decode(got["blob", "mask"].shape.rle)
    expect = np.zeros_like(blob)
    expect[31:36, 20:23] = True
    expect[30, 24] = True
    assert (blob == expect).all()
    assert {(names[a.class_id], a.kind) for a in anns} >= {("blurry", "tag")}
    assert "night" not in {names[a.class_id] for a in anns}
    # written back as labelme had it: same shapes, flags and top-level keys
    out = tmp_path / "again"
    _export(doc, out)
    back = json.loads((out / "img1.json").read_text())
    orig = json.loads(f.read_text())
    assert back["flags"] == orig["flags"] and back["reviewer"] == "ann"
    assert back["version"] == orig["version"]
    strip = lambda s: {k: v for k, v in s.items() if k not in ("vellum_id", "mask")}  # noqa
    key = lambda s: (s["label"], s["shape_type"])  # noqa: E731
    assert sorted(map(strip, back["shapes"]), key=key) == \
        sorted(map(strip, orig["shapes"]), key=key)  # 50 == 50.0: the same JSON numbers
    bm = next(s for s in back["shapes"] if s["shape_type"] == "mask")
    judged = json.loads(_run_labelme(JUDGE, str(out / "img1.json")))[0]
    jm = next(s for s in judged["shapes"] if s["shape_type"] == "mask")
    assert bm["points"] == [[20, 30], [24, 36]]  # the box as labelme wrote it, kept
    assert sorted((r + 30, c + 20) for r, c in jm["mask"]) == \
        sorted(map(tuple, np.argwhere(expect).tolist()))
    doc.close()


# ------------------------------------------------------------------ generations
def test_three_generations_are_identical_files(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    g1 = tmp_path / "g1"
    _export(doc, g1)
    objects = _objects(doc)
    doc2 = _copy_project(tmp_path, images, "proj2")
    _import(doc2, g1)
    g2 = tmp_path / "g2"
    _export(doc2, g2)
    doc3 = _copy_project(tmp_path, images, "proj3")
    _import(doc3, g2)
    g3 = tmp_path / "g3"
    _export(doc3, g3)
    for name in ("img0.json", "img1.json"):
        a, b, c = (json.loads((g / name).read_text()) for g in (g1, g2, g3))
        for d in (a, b, c):
            d.pop("imagePath")  # relative to each project's images
        assert a == b == c
    assert _objects(doc2) == _objects(doc3)
    assert len(_objects(doc2)) == len(objects)
    kept = ("box", "polyline", "mask", "keypoints")  # unchanged from the first project on
    assert [o for o in objects if o[2] in kept] == [o for o in _objects(doc2) if o[2] in kept]
    for d in (doc, doc2, doc3):
        d.close()


def test_cli_round_trip_and_help(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    doc.close()
    out = tmp_path / "cli_out"
    r = _vellum("export", "labelme", tmp_path / "proj", out)
    assert r.returncode == 0, r.stderr
    assert "Wrote 2 labelme JSON file(s)" in r.stdout
    again = _vellum("export", "labelme", tmp_path / "proj", out)
    assert again.returncode == 1 and "give --overwrite" in again.stderr
    Document.create(tmp_path / "p2").close()
    shutil.copytree(images, tmp_path / "p2" / "images")
    from app.io.ingest import add_media

    with Document.open(tmp_path / "p2") as d2:
        add_media(d2, sorted((tmp_path / "p2" / "images").glob("*.png")))
    r = _vellum("import", "labelme", tmp_path / "p2", out)
    assert r.returncode == 0, r.stderr
    assert "Imported 9 annotations from 2 labelme file(s)" in r.stdout
    for verb, meta in (("import", "FOLDER_OR_JSON"), ("export", "OUT_FOLDER")):
        h = _vellum(verb, "--help")
        assert h.returncode == 0 and "labelme" in h.stdout
        assert meta in _vellum(verb, "labelme", "--help").stdout


# ------------------------------------------------------------------ bad input
def _state(doc: Document) -> tuple:
    return (_objects(doc), doc.schema.to_json())


BAD = {
    "not json": "{not json",
    "no shapes": json.dumps({"imagePath": "img0.png"}),
    "unknown image": json.dumps({"imagePath": "nowhere.png", "shapes": []}),
    "wrong size": json.dumps({"imagePath": "img0.png", "shapes": [], "imageWidth": 7,
                              "imageHeight": 100}),
    "bad points": json.dumps({"imagePath": "img0.png", "shapes": [
        {"label": "a", "points": [[1, "x"]], "shape_type": "polygon"}]}),
    "huge point": json.dumps({"imagePath": "img0.png", "shapes": [
        {"label": "a", "points": [[1, 1], [1e300, 2]], "shape_type": "rectangle"}]}),
    "unknown type": json.dumps({"imagePath": "img0.png", "shapes": [
        {"label": "a", "points": [[1, 1], [3, 4]], "shape_type": "hexagon"}]}),
    "mask outside": json.dumps({"imagePath": "img0.png", "shapes": [
        {"label": "a", "points": [[90, 90], [120, 95]], "shape_type": "mask",
         "mask": "iVBORw0KGgo="}]}),
    "mask not png": json.dumps({"imagePath": "img0.png", "shapes": [
        {"label": "a", "points": [[1, 1], [3, 4]], "shape_type": "mask", "mask": "AAAA"}]}),
    "mask bomb": json.dumps({"imagePath": "img0.png", "shapes": [
        {"label": "a", "points": [[1, 1], [3, 4]], "shape_type": "mask",
         "mask": base64.b64encode(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + struct.pack(
             ">II", 100000, 100000) + b"\x08\x00\x00\x00\x00" + b"\0" * 40).decode()}]}),
    "no label": json.dumps({"imagePath": "img0.png", "shapes": [
        {"points": [[1, 1], [3, 4]], "shape_type": "rectangle"}]}),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_sentence_and_changes_nothing(tmp_path, case):
    doc, images = project_with_every_shape(tmp_path)
    good = images / "good.json"
    good.write_text(json.dumps({"imagePath": "img0.png", "shapes": [
        {"label": "a", "points": [[1, 1], [3, 4]], "shape_type": "rectangle"}]}))
    bad = images / "zz_bad.json"
    bad.write_text(BAD[case])
    before = _state(doc)
    with pytest.raises(VellumError) as err:
        _import(doc, images)  # the good file first, then the bad one: nothing of either
    msg = str(err.value)
    assert str(bad) in msg and "\n" not in msg and "Traceback" not in msg
    assert _state(doc) == before
    doc.close()


def test_a_fifo_and_a_missing_path_are_refused(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    before = _state(doc)
    for p in (fifo, tmp_path / "missing.json"):
        with pytest.raises(VellumError, match=str(p)):
            _import(doc, p)
    assert _state(doc) == before
    r = _vellum("import", "labelme", tmp_path / "proj", fifo)
    assert r.returncode != 0 and "FIFO" in r.stderr and "Traceback" not in r.stderr
    doc.close()


def test_image_data_is_never_decoded_and_names_never_choose_where_we_write(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    f = images / "img0.json"
    f.write_text(json.dumps({"imagePath": "../../../img0.png", "imageData": "AAAA",
                             "shapes": [{"label": "../../evil", "points": [[1, 1], [3, 4]],
                                         "shape_type": "rectangle"}]}))
    _import(doc, f)  # matched by trailing name; imageData ignored
    assert not list(tmp_path.rglob("*.jpg"))
    out = tmp_path / "out"
    _export(doc, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == \
        ["img0.json", "img1.json"]
    data = json.loads((out / "img0.json").read_text())
    assert data["imageData"] is None
    assert "../../evil" in {s["label"] for s in data["shapes"]}
    doc.close()
