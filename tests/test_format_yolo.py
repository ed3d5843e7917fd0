"""The ``yolo`` format (issue 18): Ultralytics layout written and read, darknet layout read;
judged by datumaro (its ``yolo`` importer reads our export with the same objects, classes and
boxes; datasets datumaro writes import with nothing lost); three generations stable; bad
input is one sentence and leaves the project unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from factories import image_item, project_with_every_shape, write_image

from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.schema import LabelClass, LabelSchema
from app.io import formats

REPO = Path(__file__).resolve().parents[1]
MODULE = "app.io.formats.yolo"
TASKS = ("detect", "segment", "pose", "obb")


def _env() -> dict[str, str]:
    return dict(os.environ, VELLUM_FORMATS=MODULE, QT_QPA_PLATFORM="offscreen")


def _vellum(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, argv)], capture_output=True,
                          text=True, cwd=REPO, env=_env(), timeout=300)


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setenv("VELLUM_FORMATS", MODULE)


def _run(doc, verb: str, path, **options):
    fmt = formats.get("yolo")
    opts = fmt.defaults(verb == "write") | options
    notes: list[str] = []
    fn = fmt.read if verb == "read" else fmt.write
    out = fn(doc, path, opts, formats.nothing, formats.never, notes)
    if verb == "read":
        formats.apply(doc, out, path)
    return out, notes


def _twin(tmp: Path, name: str, images: Path) -> Document:
    """A new project holding copies of the images in ``images`` (same file names)."""
    doc = Document.create(tmp / name)
    (doc.folder / "images").mkdir()
    items = []
    for n, f in enumerate(sorted(images.glob("*.png"))):
        items.append(image_item(Path(shutil.copy(f, doc.folder / "images" / f.name)), doc, n))
    doc.execute(Put(tuple(items)))
    return doc


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _objects(doc: Document) -> list[tuple]:
    names = {c.id: c.name for c in doc.schema.classes}
    return sorted((m.file_name, a.kind, names.get(a.class_id),
                   tuple(round(v, 3) for v in a.shape.bbox()))
                  for m in doc.media() for a in doc.annotations(m.id))


# ------------------------------------------------------------------ the CLI
def test_yolo_is_in_the_cli_help():
    for verb in ("import", "export"):
        r = _vellum(verb, "--help")
        assert r.returncode == 0 and "yolo" in r.stdout, r.stderr
    r = _vellum("export", "yolo", "--help")
    for flag in ("--task", "--split", "--with-images", "--overwrite"):
        assert flag in r.stdout


def test_cli_round_trip_with_split_and_images(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    for n in range(2, 10):  # more images for a split
        write_image(images / f"img{n}.png", 100, 100, seed=n)
    doc.execute(Put(tuple(image_item(images / f"img{n}.png", doc, n) for n in range(2, 10))))
    doc.close()
    out = tmp_path / "ds"
    r = _vellum("export", "yolo", tmp_path / "proj", out, "--task", "detect", "--split",
                "train=0.8,val=0.2", "--with-images")
    assert r.returncode == 0, r.stderr
    assert "tags (YOLO holds no classifications)" in r.stdout
    assert len(list((out / "images" / "train").glob("*.png"))) == 8
    assert len(list((out / "labels" / "val").glob("*.txt"))) == 2
    first = _files(out)
    again = _vellum("export", "yolo", tmp_path / "proj", out, "--task", "detect", "--split",
                    "train=0.8,val=0.2", "--with-images")
    assert again.returncode == 1 and "--overwrite" in again.stderr
    r = _vellum("export", "yolo", tmp_path / "proj", out, "--task", "detect", "--split",
                "train=0.8,val=0.2", "--with-images", "--overwrite")
    assert r.returncode == 0 and _files(out) == first  # seeded: the same split
    twin = _twin(tmp_path, "twin", images)
    twin.close()
    r = _vellum("import", "yolo", tmp_path / "twin", out)
    assert r.returncode == 0, r.stderr
    assert "Imported 8 annotations" in r.stdout
    with Document.open(tmp_path / "twin") as d:
        assert len(d.schema.classes) == 4


# ------------------------------------------------------------------ three generations
@pytest.mark.parametrize("task", TASKS)
def test_three_generations_are_identical(tmp_path, task):
    doc, images = project_with_every_shape(tmp_path)
    _run(doc, "write", tmp_path / "g1", task=task)
    g2 = _twin(tmp_path, "p2", images)
    _, notes = _run(g2, "read", tmp_path / "g1")
    assert notes == []
    _run(g2, "write", tmp_path / "g2", task=task)
    g3 = _twin(tmp_path, "p3", images)
    _run(g3, "read", tmp_path / "g2")
    _run(g3, "write", tmp_path / "g3", task=task)
    assert _files(tmp_path / "g2") == _files(tmp_path / "g3")
    if task in ("detect", "pose"):
        assert _files(tmp_path / "g1") == _files(tmp_path / "g2")
    assert _objects(g2) == _objects(g3)
    for d in (doc, g2, g3):
        d.close()


def test_export_notes_say_what_yolo_cannot_hold(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    _, notes = _run(doc, "write", tmp_path / "seg", task="segment")
    text = " ".join(notes)
    assert "polygon holes" in text and "tags" in text and "attributes" in text
    doc.close()


def test_pose_keeps_kpt_shape_flip_idx_and_visibility(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    _run(doc, "write", tmp_path / "pose", task="pose")
    yaml_text = (tmp_path / "pose" / "data.yaml").read_text()
    assert "kpt_shape: [5, 3]" in yaml_text and "flip_idx: [0, 2, 1, 4, 3]" in yaml_text
    twin = _twin(tmp_path, "t", images)
    _run(twin, "read", tmp_path / "pose")
    (kp,) = [a.shape for m in twin.media() for a in twin.annotations(m.id)]
    before = next(a.shape for a in doc.annotations(doc.media()[0].id) if a.kind == "keypoints")
    assert [tuple(p) for p in kp.points] == [tuple(p) for p in before.points]
    doc.close()
    twin.close()


# ------------------------------------------------------------------ datumaro, both ways
def _datumaro_boxes(path: Path, fmt: str = "yolo") -> tuple[list, list]:
    dm = pytest.importorskip("datumaro")
    ds = dm.Dataset.import_from(str(path), fmt)
    labels = [c.name for c in ds.categories()[dm.AnnotationType.label]]
    boxes = sorted((item.id, labels[a.label], a.get_bbox()) for item in ds
                   for a in item.annotations if a.type == dm.AnnotationType.bbox)
    return labels, boxes


def test_datumaro_reads_our_export(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    _run(doc, "write", tmp_path / "ds", task="detect", split="train=0.5,val=0.5",
         with_images=True)
    labels, boxes = _datumaro_boxes(tmp_path / "ds")
    assert labels == [c.name for c in doc.schema.classes]
    names = {c.id: c.name for c in doc.schema.classes}
    ours = sorted((m.file_name.rsplit(".", 1)[0], names[a.class_id],
                   a.shape.object_bbox() if a.kind == "keypoints" else a.shape.bbox())
                  for m in doc.media() for a in doc.annotations(m.id) if a.kind != "tag")
    assert len(boxes) == len(ours) == 8
    for (i1, n1, b1), (i2, n2, b2) in zip(boxes, ours):
        clipped = (max(b2[0], 0), max(b2[1], 0))
        assert (i1, n1) == (i2, n2)
        assert abs(b1[0] - clipped[0]) <= 0.5 and abs(b1[1] - clipped[1]) <= 0.5
        assert abs(b1[2] - b2[2]) <= 0.5 + abs(b2[0] - clipped[0]) and abs(b1[3] - b2[3]) <= 0.5
    doc.close()


def _datumaro_dataset(tmp: Path):
    dm = pytest.importorskip("datumaro")
    rng = np.random.default_rng(3)
    items = []
    for n, subset in enumerate(("train", "train", "val")):
        pixels = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
        anns = [dm.Bbox(5.0 + n, 6.0, 20.0, 10.5, label=n % 2),
                dm.Bbox(40.0, 30.0, 30.0, 25.0, label=2)]
        items.append(dm.DatasetItem(id=f"pic{n}", subset=subset, media=dm.Image.from_numpy(
            pixels), annotations=anns))
    return dm.Dataset.from_iterable(items, categories=["cat", "dog", "bird person"])


@pytest.mark.parametrize("dm_format", ["yolo_ultralytics", "yolo"])
def test_a_dataset_written_by_datumaro_imports_with_nothing_lost(tmp_path, dm_format):
    from app.io.images import write_png

    ds = _datumaro_dataset(tmp_path)
    ds.export(str(tmp_path / "dm"), dm_format, save_media=True)
    doc = Document.create(tmp_path / "p")
    (doc.folder / "images").mkdir()
    items = []
    for n, item in enumerate(ds):
        write_png(doc.folder / "images" / f"{item.id}.png", item.media.data.astype(np.uint8))
        items.append(image_item(doc.folder / "images" / f"{item.id}.png", doc, n))
    doc.execute(Put(tuple(items)))
    _, notes = _run(doc, "read", tmp_path / "dm")
    assert notes == []
    assert [c.name for c in doc.schema.classes] == ["cat", "dog", "bird person"]
    names = {c.id: c.name for c in doc.schema.classes}
    got = sorted((m.file_name[:-4], names[a.class_id], a.shape.bbox()) for m in doc.media()
                 for a in doc.annotations(m.id))
    want = sorted((item.id, ["cat", "dog", "bird person"][a.label], tuple(a.get_bbox()))
                  for item in ds for a in item.annotations)
    assert len(got) == len(want) == 6
    for (i1, n1, b1), (i2, n2, b2) in zip(got, want):
        assert (i1, n1) == (i2, n2) and np.allclose(b1, b2, atol=0.01)
    doc.close()


# ------------------------------------------------------------------ bad input
def _bad_dataset(tmp: Path, line: str, yaml: str = "names: [car, road]\n") -> Path:
    root = tmp / "bad"
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text("train: images/train\nval: images/train\n" + yaml)
    (root / "labels" / "train" / "img0.txt").write_text("0 0.5 0.5 0.1 0.1\n" + line + "\n")
    return root


@pytest.mark.parametrize("line,words", [
    ("7 0.5 0.5 0.1 0.1", "has class 7"),
    ("1 0.5 1.5 0.1 0.1", "outside [0, 1]"),
    ("1 0.5 0.5 0.1", "has 3 numbers"),
    ("car 0.5 0.5 0.1 0.1", "not a class index"),
    ("1 0.5 nan 0.1 0.1", "not finite"),
    ("1 0.5 0.5 -0.1 0.1", "coordinate -0.1"),
])
def test_a_bad_line_is_one_sentence_and_changes_nothing(tmp_path, line, words):
    doc, _ = project_with_every_shape(tmp_path)
    before = _objects(doc)
    doc.close()
    root = _bad_dataset(tmp_path, line)
    r = _vellum("import", "yolo", tmp_path / "proj", root)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert words in r.stderr and "img0.txt line 2" in r.stderr
    assert r.stderr.strip().count("\n") == 0
    with Document.open(tmp_path / "proj") as d:
        assert _objects(d) == before


def test_bad_datasets_are_one_sentence(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    before = _objects(doc)
    doc.close()
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_yaml = tmp_path / "y"
    bad_yaml.mkdir()
    (bad_yaml / "data.yaml").write_text("names: [a, b\n")
    fifo_ds = _bad_dataset(tmp_path, "")
    fifo = fifo_ds / "labels" / "train" / "img0.txt"
    fifo.unlink()
    os.mkfifo(fifo)
    for path, words in ((empty, "no data.yaml"), (bad_yaml, "not a usable YOLO data.yaml"),
                        (tmp_path / "missing", "does not exist"),
                        (fifo_ds, "named pipe")):
        r = _vellum("import", "yolo", tmp_path / "proj", path)
        assert r.returncode == 1 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.strip().count("\n") == 0
    with Document.open(tmp_path / "proj") as d:
        assert _objects(d) == before


def test_labels_without_project_images_are_a_note(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    _run(doc, "write", tmp_path / "ds", with_images=True)
    (tmp_path / "ds" / "labels" / "train" / "extra.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    shutil.copy(images / "img0.png", tmp_path / "ds" / "images" / "train" / "extra.png")
    twin = _twin(tmp_path, "t", images)
    _, notes = _run(twin, "read", tmp_path / "ds")
    assert any("1 label file(s) name no image" in n and "in the dataset folder" in n
               for n in notes)
    doc.close()
    twin.close()


def test_names_as_a_dict_and_split_is_seeded():
    from app.io.yolo.common import parse_yaml
    from app.io.yolo.writer import assign, parse_split

    data, _ = parse_yaml("names:\n  0: person  # a comment\n  1: 'traffic light'\n"
                         "kpt_shape: [17, 3]\nflip_idx: [0, 2, 1]\n")
    assert data == {"names": {0: "person", 1: "traffic light"}, "kpt_shape": [17, 3],
                    "flip_idx": [0, 2, 1]}
    keys = [f"v{n}" for n in range(10)]
    a = assign(keys, parse_split("train=0.8,val=0.2"), 0)
    assert a == assign(list(reversed(keys)), parse_split("train=0.8,val=0.2"), 0)
    assert sorted(a.values()).count("val") == 2


# ------------------------------------------------------------------ video frames
def test_video_frames_are_entries_grouped_by_video(tmp_path, shared_data):
    from app.core.annotations import Annotation, Track
    from app.core.places import Place
    from app.core.shapes import Box
    from app.io.images import read_image
    from app.io.ingest import add_media
    from app.io.video import open_video

    proj = tmp_path / "proj"
    doc = Document.create(proj)
    for name in ("bikes.mp4", "track_patch.mp4"):
        shutil.copy(shared_data / "video" / name, proj / name)
    add_media(doc, [proj / "bikes.mp4", proj / "track_patch.mp4"])
    doc.execute(SetSchema(LabelSchema((LabelClass("car", "#ff0000"),))))
    car = doc.schema.classes[0]
    puts = []
    for video in doc.media():
        track = Track(media_id=video.id, class_id=car.id)
        puts += [track, *(Annotation(place=Place(video.id, f), class_id=car.id,
                                     track_id=track.id, shape=Box(10 + f, 20, 30, 40),
                                     outside=f == 8) for f in (0, 4, 8))]
    doc.execute(Put(tuple(puts)))
    _, notes = _run(doc, "write", tmp_path / "ds", split="train=0.5,val=0.5",
                    with_images=True)
    assert any("16 track shape(s)" in n for n in notes)  # frames 0..7 of each video
    labels = sorted(p.relative_to(tmp_path / "ds").as_posix()
                    for p in (tmp_path / "ds" / "labels").rglob("*.txt"))
    assert len(labels) == 16
    splits = {p.split("/")[1] for p in labels if "bikes_" in p}
    assert len(splits) == 1  # one video's frames stay in one split
    assert f"labels/{splits.pop()}/bikes_000002.txt" in labels
    # frame 2 is interpolated half way between x=10 and x=14
    text = next((tmp_path / "ds" / "labels").rglob("bikes_000002.txt")).read_text()
    w = doc.media()[0].width
    cx = float(text.split()[1]) * w
    assert abs(cx - (12 + 15)) < 0.01
    frame = next((tmp_path / "ds" / "images").rglob("bikes_000002.png"))
    with open_video(proj / "bikes.mp4") as v:
        assert np.array_equal(read_image(frame), v.frame(2))
    fresh = Document.create(tmp_path / "fresh")
    add_media(fresh, [proj / "bikes.mp4", proj / "track_patch.mp4"])
    _run(fresh, "read", tmp_path / "ds")
    assert sum(len(fresh.annotations(m.id, all_frames=True)) for m in fresh.media()) == 16
    doc.close()
    fresh.close()


def test_unknown_data_yaml_keys_and_obb_corners_are_kept(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    root = tmp_path / "ds"
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/train\n"
        "names: ['car', \"road\"]\ndownload: |\n  echo never run\nlicense: CC-BY\n")
    skew = "1 0.100000 0.100000 0.300000 0.120000 0.280000 0.300000 0.090000 0.250000"
    (root / "labels" / "train" / "img1.txt").write_text(skew + "\n")
    _, notes = _run(doc, "read", root)
    assert any("no rectangle" in n for n in notes)
    _run(doc, "write", tmp_path / "out", task="obb")
    text = (tmp_path / "out" / "data.yaml").read_text()
    assert "download: |\n  echo never run" in text and "license: CC-BY" in text
    assert (tmp_path / "out" / "labels" / "train" / "img1.txt").read_text() == skew + "\n"
    doc.close()


def test_images_sharing_a_stem_get_label_files_of_their_own(tmp_path):
    doc, images = project_with_every_shape(tmp_path)
    other = doc.folder / "other"
    other.mkdir()
    write_image(other / "img0.png", 50, 40, seed=7)  # same file name, another folder
    (doc.folder / "images" / "img0.jpg").write_bytes((images / "img1.png").read_bytes())
    doc.execute(Put((image_item(other / "img0.png", doc, 5),)))
    _run(doc, "write", tmp_path / "ds")
    labels = sorted(p.relative_to(tmp_path / "ds" / "labels" / "train").as_posix()
                    for p in (tmp_path / "ds" / "labels").rglob("*.txt"))
    assert labels == ["img0.txt", "img1.txt", "other/img0.txt"]
    fresh = Document.create(tmp_path / "fresh")
    (fresh.folder / "images").mkdir()
    (fresh.folder / "other").mkdir()
    shutil.copy(images / "img0.png", fresh.folder / "images")
    shutil.copy(other / "img0.png", fresh.folder / "other")
    fresh.execute(Put((image_item(fresh.folder / "images" / "img0.png", fresh, 0),
                       image_item(fresh.folder / "other" / "img0.png", fresh, 1))))
    _, notes = _run(fresh, "read", tmp_path / "ds")
    first = fresh.media()[0]
    assert len(fresh.annotations(first.id)) == 8 and len(fresh.annotations(
        fresh.media()[1].id)) == 0
    assert any("1 label file(s) name no image" in n for n in notes)  # img1
    doc.close()
    fresh.close()


def test_a_cancelled_export_writes_nothing_and_import_task_is_obeyed(tmp_path):
    from app.core.errors import VellumError

    doc, images = project_with_every_shape(tmp_path)
    fmt = formats.get("yolo")
    with pytest.raises(VellumError, match="cancelled"):
        fmt.write(doc, tmp_path / "c", fmt.defaults(True) | {"with_images": True},
                  formats.nothing, lambda: True, [])
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("*"))
    _run(doc, "write", tmp_path / "obb", task="obb")
    for task, kinds in (("segment", {"polygon"}), ("obb", {"rotated_box"})):
        twin = _twin(tmp_path, f"t_{task}", images)
        _run(twin, "read", tmp_path / "obb", task=task)
        assert {a.kind for m in twin.media() for a in twin.annotations(m.id)} == kinds
        twin.close()
    doc.close()


def test_seeded_mutations_give_one_sentence_or_an_import(tmp_path):
    import random

    from app.core.errors import VellumError
    from app.io.yolo.reader import plan_yolo

    doc, _ = project_with_every_shape(tmp_path)
    for task in TASKS:
        _run(doc, "write", tmp_path / f"o_{task}", task=task)
    rng = random.Random(18)
    for _ in range(200):
        task = rng.choice(TASKS)
        d = tmp_path / "fz"
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(tmp_path / f"o_{task}", d)
        f = rng.choice([d / "data.yaml", d / "labels" / "train" / "img0.txt"])
        b = bytearray(f.read_bytes())
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(b) + 1)
            if rng.random() < 0.5 and at < len(b):
                b[at] = rng.choice(b"0123456789.-e \n:[]{}'\"#,|x\x00\xff")
            else:
                b.insert(at, rng.choice(b"0123456789.- \n:[]{}'\"#,|"))
        f.write_bytes(bytes(b))
        try:
            plan_yolo(doc, d)
        except VellumError as exc:
            assert "\n" not in str(exc) and str(exc).endswith(".")
    doc.close()


@pytest.mark.parametrize("train", ["../train/images", "train/images"])
def test_a_roboflow_export_imports(tmp_path, train):
    """Roboflow's YOLOv8 layout: split-first folders (train/images, train/labels), data.yaml
    saying ``train: ../train/images`` (Ultralytics drops the ``../`` when that path is not
    there) with ``nc``, ``names`` and a ``roboflow:`` block."""
    import cv2

    ds = tmp_path / "ds"
    for split, stem in (("train", "a_jpg.rf.123"), ("valid", "b_jpg.rf.456")):
        (ds / split / "images").mkdir(parents=True)
        (ds / split / "labels").mkdir()
        cv2.imwrite(str(ds / split / "images" / f"{stem}.jpg"), np.zeros((40, 60, 3), np.uint8))
    (ds / "train" / "labels" / "a_jpg.rf.123.txt").write_text(
        "0 0.5 0.5 0.2 0.25\n1 0.1 0.1 0.3 0.1 0.3 0.3 0.1 0.3\n")
    (ds / "valid" / "labels" / "b_jpg.rf.456.txt").write_text("1 0.25 0.25 0.1 0.1\n")
    (ds / "data.yaml").write_text(
        f"train: {train}\nval: {train.replace('train', 'valid')}\ntest: ../test/images\n\n"
        "nc: 2\nnames: ['cat', 'dog']\n\nroboflow:\n  workspace: w\n  project: p\n"
        "  version: 1\n  license: CC BY 4.0\n  url: https://universe.roboflow.com/w/p/1\n")
    proj = tmp_path / "proj"
    assert _vellum("new", proj).returncode == 0
    assert _vellum("add", proj, ds / "train" / "images", ds / "valid" / "images").returncode == 0
    r = _vellum("import", "yolo", proj, ds)
    assert r.returncode == 0, r.stderr
    with Document.open(proj) as doc:
        boxes = sorted((a.shape.bbox(), doc.schema.class_by_id(a.class_id).name)
                       for m in doc.media() for a in doc.annotations(m.id))
    assert [n for _, n in boxes].count("dog") == 2 and len(boxes) == 3
    assert any(b == pytest.approx((24.0, 15.0, 12.0, 10.0)) for b, _ in boxes)  # cat, in px
