"""Work packages: ``vellum split`` / ``vellum merge``.

Acceptance: a project split into three packages, each annotated in a separate process, merges
into the same records (by id, who/when fields aside) as the same edits made in one process;
a conflicting edit is listed and kept both ways; a package of another project is refused;
merging twice is a no-op."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from app.cli import main
from app.core.annotations import Annotation, Track
from app.core.commands import Put, Remove, SetSchema
from app.core.document import Document
from app.core.errors import VellumError
from app.core.geometry import VideoGeometry
from app.core.media import MediaItem, MediaKind, MediaStatus
from app.core.places import Place
from app.core.shapes import Box
from app.io.package_merge import merge_into, merge_packages
from app.io.packages import MANIFEST, MARKER, read_manifest, split_project
from tests.factories import image_item, make_schema, write_image

ROOT = Path(__file__).resolve().parent.parent
WHO_WHEN = ("creator", "created", "modified", "timestamp")


def _id(*parts: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, "test:" + ":".join(parts)).hex


def _images_project(path: Path, n: int = 6) -> Path:
    with Document.create(path) as doc:
        (doc.folder / "images").mkdir()
        items = [image_item(write_image(doc.folder / "images" / f"i{k}.png", 32, 24, k), doc, k)
                 for k in range(n)]
        doc.execute(Put(tuple(items)))
        doc.execute(SetSchema(make_schema()))
        car = doc.schema.class_by_name("car")
        doc.execute(Put(tuple(
            Annotation(place=Place(m.id), shape=Box(1 + j, 2, 6, 5), class_id=car.id,
                       id=_id(m.id, str(j))) for m in items for j in range(3))))
    return path


def edit_project(path: str) -> None:
    """The annotator's work, the same whatever process runs it: on every item, add a box (an
    id derived from the item), move the first stored box and give it an attribute, delete
    the second."""
    with Document.open(path) as doc:
        car = doc.schema.class_by_name("car")
        for m in doc.media():
            anns = sorted(doc.annotations(m.id, all_frames=True), key=lambda a: a.id)
            doc.execute(Put((Annotation(place=Place(m.id), shape=Box(10, 10, 4, 4),
                                        class_id=car.id, id=_id(m.id, "new")),)))
            doc.execute(Put((doc.edited(anns[0], shape=Box(3, 3, 7, 7),
                                        attributes={"doors": 2}),)))
            doc.execute(Remove((anns[1],)))


def _records(path: Path) -> dict[str, dict]:
    with Document.open(path) as doc:
        out = {}
        for a in doc.iter_annotations():
            body = a.to_json()
            for k in WHO_WHEN:
                body.pop(k)
            out[a.id] = body
        for m in doc.media():
            out["status:" + m.id] = m.status.value
            out.update(("track:" + t.id, {k: v for k, v in t.to_json().items()
                                          if k not in WHO_WHEN}) for t in doc.tracks(m.id))
        return out


def test_split_annotate_in_three_processes_merge_equals_one_process(tmp_path):
    source = _images_project(tmp_path / "proj")
    reference = tmp_path / "reference"
    shutil.copytree(source, reference)  # the same project, edited in this process
    made = split_project(source, 3, tmp_path / "pkgs", by="item")
    assert [p.folder.name for p in made] == ["package-1", "package-2", "package-3"]
    for p in made:  # media referenced, never copied
        assert set(os.listdir(p.folder)) <= {MANIFEST, "project.vellum", "project.vellum.lock",
                                             "project.vellum-wal", "project.vellum-shm"}
        manifest = read_manifest(p.folder)
        assert len(manifest["share"]["media"]) == 2  # contiguous runs of 6 items
        assert len(manifest["ids"]["annotation"]) == 6
    for n, p in enumerate(made):
        env = {**os.environ, "VELLUM_AUTHOR": f"annotator-{n + 1}"}
        subprocess.run([sys.executable, "-c", "import sys; from tests.test_packages import "
                        "edit_project; edit_project(sys.argv[1])", str(p.folder)],
                       cwd=ROOT, env=env, check=True, timeout=120)
    edit_project(str(reference))
    results = merge_packages(source, [p.folder for p in made])
    assert all(not r.conflicts for r in results)
    assert [(r.landed, r.deleted) for r in results] == [(4, 2)] * 3
    assert _records(source) == _records(reference)
    # one undoable command per package
    with Document.open(source) as doc:
        actions = [h["action"] for h in doc.store.history(3)]
        assert actions == ["Batch"] * 3
        with Document.open(made[0].folder) as pkg:
            assert {m.id for m in pkg.media()} <= {m.id for m in doc.media()}
            # the package's media point at the source's own files
            assert all(pkg.media_path(m) == doc.media_path(m).resolve() for m in pkg.media())
    # merging again changes nothing
    with Document.open(source) as doc:
        entries = doc.store.count("history")
    again = merge_packages(source, [p.folder for p in made])
    assert all(r.summary.startswith("nothing new") for r in again)
    with Document.open(source) as doc:
        assert doc.store.count("history") == entries
    assert _records(source) == _records(reference)


def _video_project(path: Path) -> Path:
    with Document.create(path) as doc:
        write_image(doc.folder / "still.png", 32, 24, 1)
        still = image_item(doc.folder / "still.png", doc)
        video = MediaItem(kind=MediaKind.VIDEO, path="cam.mp4", fingerprint="f", size_bytes=1,
                          width=0, height=0, id="cam", position=1,
                          video=VideoGeometry(40, 320, 240, avg_fps=25.0))
        doc.execute(Put((still, video)))
        doc.execute(SetSchema(make_schema()))
        car = doc.schema.class_by_name("car")
        track = Track(media_id="cam", class_id=car.id, id=_id("track"))
        shapes = [Annotation(place=Place("cam", f), shape=Box(f, 5, 20, 20), class_id=car.id,
                             track_id=track.id, id=_id("shape", str(f))) for f in (0, 10, 30)]
        still_box = Annotation(place=Place(still.id), shape=Box(1, 1, 5, 5), class_id=car.id,
                               id=_id("still"))
        doc.execute(Put((track, *shapes, still_box)))
    return path


def test_conflicts_are_listed_and_kept_both_ways(tmp_path):
    source = _video_project(tmp_path / "proj")
    made = split_project(source, 2, tmp_path / "pkgs", by="frames")
    m1, m2 = (read_manifest(p.folder) for p in made)
    assert m1["share"]["frames"] == {"cam": [0, 20]} and m2["share"]["frames"] == {"cam": [20, 40]}
    assert len(m1["ids"]["annotation"]) == 3 and len(m2["ids"]["annotation"]) == 1
    assert m1["ids"]["track"] == m2["ids"]["track"] == [_id("track")]
    with Document.open(made[0].folder) as p1:  # package 1: the track, frame 10, the still
        t = p1.track(_id("track"))
        p1.execute(Put((replace(t, attributes={"plate": "P1"}),)))
        s10 = p1.annotation("cam", _id("shape", "10"))
        p1.execute(Put((p1.edited(s10, shape=Box(11, 6, 20, 20)),)))
        still = p1.annotation(p1.media()[0].id, _id("still"))
        p1.execute(Put((p1.edited(still, shape=Box(2, 2, 5, 5)),)))
        p1.execute(Remove((p1.annotation("cam", _id("shape", "0")),)))
    with Document.open(made[1].folder) as p2:  # package 2: the same track, frame 30 gone
        t = p2.track(_id("track"))
        p2.execute(Put((replace(t, attributes={"plate": "P2"}),)))
        p2.execute(Remove((p2.annotation("cam", _id("shape", "30")),)))
    with Document.open(source) as doc:  # and the project: the still's box since the split
        still = doc.store.get_annotations([_id("still")])[0]
        doc.execute(Put((doc.edited(still, shape=Box(9, 9, 5, 5)),)))
        s0 = doc.annotation("cam", _id("shape", "0"))
        doc.execute(Put((doc.edited(s0, shape=Box(1, 1, 9, 9)),)))
    with Document.open(source) as doc:
        r1, r2 = merge_into(doc, [p.folder for p in made])
        doc.undo()  # a merge is one undoable command
        assert doc.annotation("cam", _id("shape", "30")) is not None
        assert doc.track(_id("track")).attributes == {"plate": "P1"}  # package 1 stays
        doc.redo()
    assert len(r1.conflicts) == 2
    assert any("changed in the package and in the project" in c and _id("still") in c
               for c in r1.conflicts)
    assert any("deleted in the package, changed in the project (kept)" in c
               and _id("shape", "0") in c for c in r1.conflicts)
    assert len(r2.conflicts) == 1 and f"track {_id('track')}" in r2.conflicts[0]
    with Document.open(source) as doc:
        kept = doc.store.get_annotations([_id("still")])[0]
        assert kept.shape == Box(9, 9, 5, 5)  # the project's version stays in place
        copies = [a for a in doc.iter_annotations() if MARKER in a.attributes]
        assert len(copies) == 1 and copies[0].shape == Box(2, 2, 5, 5)
        assert copies[0].attributes[MARKER]["of"] == _id("still")
        assert doc.track(_id("track")).attributes == {"plate": "P1"}  # first merged lands
        track_copies = [t for t in doc.tracks("cam") if MARKER in t.attributes]
        assert len(track_copies) == 1 and track_copies[0].attributes["plate"] == "P2"
        assert doc.annotation("cam", _id("shape", "10")).shape == Box(11, 6, 20, 20)
        assert doc.annotation("cam", _id("shape", "30")) is None  # deleted in package 2
        assert doc.annotation("cam", _id("shape", "0")).shape == Box(1, 1, 9, 9)
        n_ann, entries = doc.store.count("annotations"), doc.store.count("history")
    again = merge_packages(source, [p.folder for p in made])
    assert all(r.summary.startswith("nothing new") for r in again)
    with Document.open(source) as doc:
        assert doc.store.count("annotations") == n_ann
        assert doc.store.count("history") == entries


def test_refusals(tmp_path, capsys):
    source = _images_project(tmp_path / "proj", n=3)
    other = _images_project(tmp_path / "other", n=3)
    made = split_project(source, 3, tmp_path / "pkgs")
    with pytest.raises(VellumError, match="another project"):
        merge_packages(other, [made[0].folder])
    with pytest.raises(VellumError, match="already exists"):
        split_project(source, 2, tmp_path / "pkgs")
    with pytest.raises(VellumError, match="too few"):
        split_project(source, 4, tmp_path / "more")
    assert not (tmp_path / "more" / "package-1").exists()
    with pytest.raises(VellumError, match="not a work package"):
        merge_packages(source, [other])
    # the CLI spellings
    assert main(["split", str(source), "--into", "2", "--by", "item", "-o",
                 str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "package-2" / MANIFEST).is_file()
    with Document.open(source) as doc:
        entries = doc.store.count("history")
    assert main(["merge", str(source), str(tmp_path / "cli" / "package-1"),
                 str(tmp_path / "cli" / "package-2")]) == 0
    assert "nothing new" in capsys.readouterr().out
    with Document.open(source) as doc:  # untouched packages leave no trace
        assert doc.store.count("history") == entries
    assert main(["merge", str(other), str(tmp_path / "cli" / "package-1")]) == 1
    assert "another project" in capsys.readouterr().err
    assert main(["split", str(source), "--into", "2", "--by", "volume", "-o",
                 str(tmp_path / "vol")]) == 1
    assert "no volume" in capsys.readouterr().err


def _ball(shape, centre, r):
    import numpy as np

    k, j, i = np.ogrid[:shape[0], :shape[1], :shape[2]]
    return (k - centre[0]) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2 <= r * r


def test_volumes_split_whole_and_voxels_merge_brick_by_brick(tmp_path):
    import numpy as np

    from app.core.geometry import VolumeGeometry
    from app.core.labelmap import BRICK, LabelMapInfo, Mode, Segment
    from app.core.commands import ModifyLabelMap

    shape = (40, 70, 90)  # not multiples of the brick edge
    source = tmp_path / "proj"
    with Document.create(source) as doc:
        vols = [MediaItem(kind=MediaKind.VOLUME, path=f"ct{n}", fingerprint="f", size_bytes=1,
                          width=0, height=0, id=f"vol{n}", position=n,
                          volume=VolumeGeometry(shape)) for n in range(2)]
        infos = [LabelMapInfo(v.id, *shape, id=f"lm{n}",
                              segments=(Segment(1, "bone"), Segment(2, "liver")))
                 for n, v in enumerate(vols)]
        doc.execute(Put((*vols, *infos)))
        for info in infos:
            doc.execute(ModifyLabelMap(info.id, (0, 0, 0), _ball(shape, (20, 35, 45), 12)))
    made = split_project(source, 2, tmp_path / "pkgs", by="volume")
    assert [read_manifest(p.folder)["share"]["media"] for p in made] == [["vol0"], ["vol1"]]
    with Document.open(made[0].folder) as p1:  # paints liver in two places of volume 0
        assert np.array_equal(p1.labelmap_volume("lm0") == 1, _ball(shape, (20, 35, 45), 12))
        p1.execute(ModifyLabelMap("lm0", (0, 0, 0), _ball(shape, (5, 5, 5), 4), Mode.ADD, 2))
        p1.execute(ModifyLabelMap("lm0", (0, 0, 0), _ball(shape, (35, 60, 80), 4), Mode.ADD, 2))
        package_lm0 = p1.labelmap_volume("lm0")
    with Document.open(made[1].folder) as p2:  # erases volume 1's bone
        p2.execute(ModifyLabelMap("lm1", (0, 0, 0), np.ones(shape, bool), Mode.ERASE, 0))
    with Document.open(source) as doc:  # the project paints near one of them since the split
        doc.execute(ModifyLabelMap("lm0", (0, 0, 0), _ball(shape, (6, 6, 6), 3), Mode.ADD, 1))
        project_lm0 = doc.labelmap_volume("lm0")
    r1, r2 = merge_packages(source, [p.folder for p in made])
    assert len(r1.conflicts) == 1 and "voxels changed" in r1.conflicts[0] and not r2.conflicts
    with Document.open(source) as doc:
        merged = doc.labelmap_volume("lm0")
        corner = (slice(0, BRICK),) * 3  # the brick both changed: the project's stays
        assert np.array_equal(merged[corner], project_lm0[corner])
        far = (slice(32, 40), slice(32, 70), slice(64, 90))  # changed in the package only
        assert np.array_equal(merged[far], package_lm0[far])
        copy = [i for i in doc.labelmaps("vol0") if i.id != "lm0"]
        assert len(copy) == 1 and "conflict" in copy[0].name
        assert np.array_equal(doc.labelmap_volume(copy[0].id)[corner], package_lm0[corner])
        assert not doc.labelmap_volume("lm1").any()
    again = merge_packages(source, [p.folder for p in made])
    assert all(r.summary.startswith("nothing new") for r in again)


def test_package_side_media_changes_lose_nothing(tmp_path):
    source = _images_project(tmp_path / "proj", n=2)
    made = split_project(source, 1, tmp_path / "pkgs")
    with Document.open(made[0].folder) as pkg:
        first, second = pkg.media()
        pkg.execute(Put((replace(first, removed=True),)))  # removing an item keeps its labels
        write_image(pkg.folder / "extra.png", 32, 24, 9)
        extra = image_item(pkg.folder / "extra.png", pkg, 5)
        car = pkg.schema.class_by_name("car")
        pkg.execute(Put((extra, Annotation(place=Place(extra.id), shape=Box(1, 1, 3, 3),
                                           class_id=car.id, id=_id("extra")))))
        pkg.execute(Put((replace(pkg.media_item(second.id), status=MediaStatus.DONE),)))
    before = _records(source)
    (result,) = merge_packages(source, [made[0].folder])
    assert len(result.conflicts) == 1 and "does not have (not merged)" in result.conflicts[0]
    after = _records(source)
    assert after.pop("status:" + second.id) == "done"  # a status set in the package lands
    before.pop("status:" + second.id)
    assert after == before  # nothing else changed, nothing deleted
