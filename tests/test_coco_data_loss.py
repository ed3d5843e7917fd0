"""Issue 6's data-loss cases, each through the CLI: the target's SHA-256 is unchanged, the exit
status is not 0, stderr is one sentence. Plus what must survive: two images with the same
bytes, a person's keypoints with its mask, the user's umask on exports."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from coco_judge import STYLES, coco, evaluate, load, materialize
from factories import project_with_every_shape
from test_bad_input import assert_clean_failure, vellum

from app.core.document import Document
from app.io.coco import export_coco, import_coco


def sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture
def project(tmp_path):
    doc, img_dir = project_with_every_shape(tmp_path)
    doc.close()
    return tmp_path / "proj", img_dir


def _targets(proj: Path, img_dir: Path, tmp_path: Path) -> dict[str, Path]:
    db = proj / "project.vellum"
    hard = tmp_path / "hardlink.png"
    os.link(img_dir / "img0.png", hard)
    soft = tmp_path / "symlink.vellum"
    soft.symlink_to(db)
    return {"project file": db, "wal": Path(f"{db}-wal"), "shm": Path(f"{db}-shm"),
            "lock": Path(f"{db}.lock"), "media file": img_dir / "img1.png",
            "hard link to media": hard, "symlink to project": soft,
            "media by another path": img_dir / ".." / "images" / "img0.png"}


def test_export_never_overwrites_the_project_or_its_media(project, tmp_path):
    proj, img_dir = project
    with Document.open(proj) as doc:  # an open reader keeps the -wal and -shm files there
        doc.schema  # noqa: B018
        for name, target in _targets(proj, img_dir, tmp_path).items():
            before = sha(target)
            result = vellum("export", "coco", proj, target)
            assert_clean_failure(result, "Refusing to write")
            assert sha(target) == before, f"{name} was changed"
    assert not list(tmp_path.rglob(".*.tmp")), "no temporary file left behind"


def test_export_onto_a_folder_is_one_sentence(project, tmp_path):
    proj, _ = project
    folder = tmp_path / "out_dir"
    folder.mkdir()
    assert_clean_failure(vellum("export", "coco", proj, folder), "is a folder")
    assert_clean_failure(vellum("export", "coco", proj, proj), "folder")
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_exports_follow_the_umask(project, tmp_path, mask, mode):
    proj, _ = project
    out = tmp_path / "out.json"
    result = subprocess.run([sys.executable, "-m", "app", "export", "coco", str(proj),
                             str(out)], capture_output=True, text=True, timeout=120,
                            preexec_fn=lambda: os.umask(mask))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == mode


def test_reexport_keeps_the_mode_of_the_file_it_replaces(project, tmp_path):
    proj, _ = project
    out = tmp_path / "out.json"
    out.write_text("old")
    out.chmod(0o600)
    assert vellum("export", "coco", proj, out, "--overwrite").returncode == 0
    assert out.stat().st_mode & 0o777 == 0o600 and out.read_text() != "old"


def test_two_images_with_the_same_bytes_stay_two(tmp_path):
    data = load(STYLES / "roboflow.json")
    root = materialize(data, tmp_path / "data")
    a, b = (root / im["file_name"] for im in data["images"])
    shutil.copy(a, b)  # same bytes, two names (a blank frame, a duplicated file)
    src = tmp_path / "same.json"
    src.write_text(json.dumps(data))
    Document.create(tmp_path / "proj").close()
    assert vellum("import", "coco", tmp_path / "proj", src, "--images", root).returncode == 0
    with Document.open(tmp_path / "proj") as doc:
        assert len(doc.media()) == 2
        assert [len(doc.annotations(m.id)) for m in doc.media()] == [2, 1]
    out = tmp_path / "out.json"
    assert vellum("export", "coco", tmp_path / "proj", out).returncode == 0
    got = load(out)
    assert [im["id"] for im in got["images"]] == [0, 1]
    assert sorted(a["image_id"] for a in got["annotations"]) == [0, 0, 1]


def test_a_person_is_one_object_with_its_mask_and_keypoints(tmp_path):
    """COCO person keypoints: one entry has segmentation, bbox and keypoints; it stays one
    Vellum annotation and one exported entry, and OKS and mask scores are unchanged."""
    src = STYLES / "mmpose.json"
    orig = load(src)
    root = materialize(orig, tmp_path / "data")
    with Document.create(tmp_path / "proj") as doc:
        import_coco(doc, src, root)
        anns = [a for m in doc.media() for a in doc.annotations(m.id)]
        assert len(anns) == len(orig["annotations"])
        assert all(a.kind == "keypoints" for a in anns)
        out = tmp_path / "out.json"
        export_coco(doc, out)
    data = load(out)
    assert len(data["annotations"]) == len(orig["annotations"])
    for a in orig["annotations"]:
        b = next(x for x in data["annotations"] if x["id"] == a["id"])
        assert b["keypoints"] == a["keypoints"], "coordinates of v=0 points as given too"
        assert b["segmentation"] == a["segmentation"] and b["area"] == a["area"]
    dets = [{**{k: a[k] for k in ("image_id", "category_id", "keypoints")}, "score": 0.9}
            for a in orig["annotations"] if a["num_keypoints"]]
    dets[0]["keypoints"] = [v + (3 if n % 3 != 2 else 0) for n, v in
                            enumerate(dets[0]["keypoints"])]
    a_, b_ = (evaluate(coco(p), dets, "keypoints", 17) for p in (src, out))
    assert np.array_equal(a_, b_) and 0 < a_[0] < 1


def test_edited_annotations_get_recomputed_values(tmp_path):
    from app.core.commands import Put

    src = STYLES / "labelme2coco.json"
    orig = load(src)
    root = materialize(orig, tmp_path / "data")
    with Document.create(tmp_path / "proj") as doc:
        import_coco(doc, src, root)
        item = doc.media()[0]
        a = next(x for x in doc.annotations(item.id) if x.foreign["coco"]["id"] == 0)
        doc.execute(Put((doc.edited(a, shape=a.shape.translated(5, 0)),)))
        out = tmp_path / "out.json"
        export_coco(doc, out)
    got = {x["id"]: x for x in load(out)["annotations"]}
    was = {x["id"]: x for x in orig["annotations"]}
    assert got[1] == {**was[1], **{k: got[1][k] for k in got[1] if k not in was[1]}}
    moved = got[0]
    assert moved["bbox"][0] == pytest.approx(min(moved["segmentation"][0][0::2]))
    assert moved["segmentation"][0][0] == pytest.approx(was[0]["segmentation"][0][0] + 5)
    c = coco(out)
    assert moved["area"] == float(c.annToMask(c.anns[0]).sum()), "pixel area, recomputed"
    assert moved["attributes"]["vellum_shape"] == "polygon"


def test_reimporting_the_same_file_refuses_unless_again(tmp_path):
    src = STYLES / "cvat.json"
    root = materialize(load(src), tmp_path / "data")
    proj = tmp_path / "proj"
    Document.create(proj).close()
    assert vellum("import", "coco", proj, src, "--images", root).returncode == 0
    db = proj / "project.vellum"
    before = sha(db)
    result = vellum("import", "coco", proj, src, "--images", root)
    assert_clean_failure(result, "already imported", "--again")
    assert sha(db) == before
    result = vellum("import", "coco", proj, src, "--images", root, "--again")
    assert result.returncode == 0, result.stderr
    with Document.open(proj) as doc:
        assert sum(len(doc.annotations(m.id)) for m in doc.media()) == 14


def test_reimporting_our_export_updates_instead_of_duplicating(tmp_path):
    src = STYLES / "cvat.json"
    root = materialize(load(src), tmp_path / "data")
    proj = tmp_path / "proj"
    with Document.create(proj) as doc:
        import_coco(doc, src, root)
        out = tmp_path / "out.json"
        export_coco(doc, out)
        import_coco(doc, out, root)
        assert sum(len(doc.annotations(m.id)) for m in doc.media()) == 7


def test_file_names_follow_images_root_never_dotdot(tmp_path):
    src = STYLES / "labelme2coco.json"
    orig = load(src)
    root = materialize(orig, tmp_path / "deep" / "data")
    proj = tmp_path / "elsewhere" / "proj"
    Document.create(proj).close()
    assert vellum("import", "coco", proj, src, "--images", root).returncode == 0
    out = tmp_path / "a.json"
    assert vellum("export", "coco", proj, out).returncode == 0
    assert [im["file_name"] for im in load(out)["images"]] == [
        im["file_name"] for im in orig["images"]], "default: the folder given at import"
    result = vellum("export", "coco", proj, out, "--images-root", root / "JPEGImages",
                    "--overwrite")
    assert result.returncode == 0
    names = [im["file_name"] for im in load(out)["images"]]
    assert names == ["2011_000000.jpg", "2011_000001.jpg"]
    # and the export goes back in with --images pointing at the real images
    fresh = tmp_path / "fresh"
    Document.create(fresh).close()
    result = vellum("import", "coco", fresh, out, "--images", root / "JPEGImages")
    assert result.returncode == 0, result.stderr


def test_new_objects_get_ids_that_collide_with_none(tmp_path):
    from app.core.annotations import Annotation
    from app.core.commands import Put
    from app.core.media import MediaItem, MediaKind
    from app.core.places import Place
    from app.core.shapes import Box

    src = STYLES / "mmpose.json"
    orig = load(src)
    root = materialize(orig, tmp_path / "data")
    extra = root / "new.png"
    materialize({"images": [{"file_name": "new.png", "width": 30, "height": 20}]}, root)
    with Document.create(tmp_path / "proj") as doc:
        import_coco(doc, src, root)
        from app.core.media import fingerprint

        item = MediaItem(kind=MediaKind.IMAGE, path=os.path.relpath(extra, doc.folder),
                         fingerprint=fingerprint(extra), size_bytes=extra.stat().st_size,
                         width=30, height=20, position=9)
        cls = doc.schema.classes[0]
        doc.execute(Put((item,)))
        doc.execute(Put((Annotation(place=Place(item.id), shape=Box(1, 1, 4, 4)),
                         Annotation(place=Place(doc.media()[0].id), shape=Box(2, 2, 5, 5),
                                    class_id=None))))
        from app.core.commands import SetSchema
        from app.core.schema import LabelClass

        doc.execute(SetSchema(doc.schema.with_class(LabelClass("new class", "#123456"))))
        out = tmp_path / "out.json"
        export_coco(doc, out)
    got = load(out)
    for key, kept in (("images", {785, 872}), ("annotations", {442619, 900100785, 1201}),
                      ("categories", {1})):
        ids = [e["id"] for e in got[key]]
        assert len(ids) == len(set(ids)), f"{key}: ids collide"
        assert kept <= set(ids), f"{key}: the file's ids are kept"
        fresh = set(ids) - kept
        assert fresh and min(fresh) > max(kept), f"{key}: new ids come after the kept ones"
    assert cls.foreign["coco"]["id"] == 1


def test_category_colours_and_supercategory_survive(tmp_path):
    from dataclasses import replace

    from app.core.commands import SetSchema

    data = load(STYLES / "roboflow.json")
    data["categories"][1]["color"] = [220, 20, 60]
    data["categories"][2]["color"] = "#FF8800"
    src = tmp_path / "colours.json"
    src.write_text(json.dumps(data))
    root = materialize(data, tmp_path / "data")
    with Document.create(tmp_path / "proj") as doc:
        import_coco(doc, src, root)
        rbc, wbc = doc.schema.class_by_name("rbc"), doc.schema.class_by_name("wbc")
        assert (rbc.color, wbc.color) == ("#dc143c", "#ff8800")
        out = tmp_path / "out.json"
        export_coco(doc, out)
        cats = {c["id"]: c for c in load(out)["categories"]}
        assert cats[1]["color"] == [220, 20, 60] and cats[2]["color"] == "#FF8800"
        assert [cats[i]["supercategory"] for i in (0, 1, 2)] == ["none", "cells", "cells"]
        doc.execute(SetSchema(doc.schema.with_class(replace(rbc, color="#00ff00"))))
        export_coco(doc, out, overwrite=True)
        assert {c["id"]: c for c in load(out)["categories"]}[1]["color"] == "#00ff00"


def test_a_pasted_copy_does_not_take_its_originals_id(tmp_path):
    from app.core.commands import Put
    from app.tools.state import copied

    src = STYLES / "roboflow.json"
    root = materialize(load(src), tmp_path / "data")
    with Document.create(tmp_path / "proj") as doc:
        import_coco(doc, src, root)
        first, second = doc.media()
        original = next(a for a in doc.annotations(first.id) if a.foreign["coco"]["id"] == 0)
        doc.execute(Put((copied(original, place=original.place.__class__(second.id)),)))
        out = tmp_path / "out.json"
        export_coco(doc, out)
    anns = load(out)["annotations"]
    zero = [a for a in anns if a["id"] == 0]
    assert len(zero) == 1 and zero[0]["image_id"] == 0
    assert len({a["id"] for a in anns}) == len(anns) == 4
