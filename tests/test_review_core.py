"""Review states, item verdicts and pinned comments: commands, undo, audit, persistence, the
queue's filters, migration of an old project, and the COCO round trip."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from factories import project_with_every_shape

from app.core.changes import ChangeKind
from app.core.commands import Put
from app.core.document import Document
from app.core.errors import RefusedEdit
from app.core.places import Place
from app.core.review import (Comment, ObjectState, Verdict, add_comment, resolve_comment,
                             set_state, set_verdict)
from app.core.review_queue import QueueFilter, build_queue, next_unreviewed
from app.core.store import SCHEMA_VERSION

FIXTURE = Path(__file__).with_name("fixtures") / "v1_project"


@pytest.fixture
def doc(tmp_path):
    d, _ = project_with_every_shape(tmp_path)
    yield d
    d.close()


def test_states_verdicts_comments_are_commands_with_undo_and_audit(doc, monkeypatch):
    monkeypatch.setenv("VELLUM_AUTHOR", "rita")
    item = doc.media()[0]
    ids = [a.id for a in doc.annotations(item.id)]
    seen = []
    doc.subscribe(lambda ch: seen.extend(c.kind for c in ch))
    doc.execute(set_state(item.id, ids[:2], ObjectState.ACCEPTED))
    doc.execute(set_state(item.id, [ids[2]], ObjectState.REJECTED, "wrong class"))
    doc.execute(set_verdict(item.id, Verdict.NEEDS_WORK, "two missing"))
    doc.execute(add_comment(Place(item.id), 12.5, 30.0, "edge is off here"))
    reviews = doc.object_reviews(item.id)
    assert {i: r.state for i, r in reviews.items()} == {
        ids[0]: ObjectState.ACCEPTED, ids[1]: ObjectState.ACCEPTED,
        ids[2]: ObjectState.REJECTED}
    assert reviews[ids[2]].reason == "wrong class" and reviews[ids[2]].author == "rita"
    assert doc.verdicts()[item.id].verdict == Verdict.NEEDS_WORK
    (c,) = doc.comments(item.id)
    assert (c.x, c.y, c.text, c.author, c.resolved) == (12.5, 30.0, "edge is off here", "rita",
                                                       False)
    assert ChangeKind.REVIEW in seen
    # the audit trail says who did what
    hist = doc.store.history(10)
    assert [h["action"] for h in hist[:4]] == ["SetReview"] * 4
    assert hist[3]["detail"]["review"][0]["state"] == "accepted"
    assert hist[2]["detail"]["review"][0]["reason"] == "wrong class"
    assert all(h["author"] == "rita" for h in hist[:4])
    # a review edit does not start an unlabeled item
    other = doc.media()[1]
    doc.execute(set_verdict(other.id, Verdict.APPROVED))
    assert doc.media_item(other.id).status.value == "unlabeled"
    # undo, one step at a time, restores exactly what was there
    doc.undo()
    assert other.id not in doc.verdicts()
    doc.execute(resolve_comment(c))
    assert doc.comments(item.id)[0].resolved
    doc.undo()
    assert not doc.comments(item.id)[0].resolved
    doc.undo()
    assert doc.comments(item.id) == []
    doc.undo()
    assert item.id not in doc.verdicts()
    doc.undo()
    assert ids[2] not in doc.object_reviews()
    doc.redo()
    assert doc.object_reviews()[ids[2]].reason == "wrong class"
    # re-reviewing replaces the state; undo brings the old one back
    doc.execute(set_state(item.id, [ids[0]], ObjectState.NEEDS_FIX, "tighten"))
    assert doc.object_reviews()[ids[0]].state == ObjectState.NEEDS_FIX
    doc.undo()
    assert doc.object_reviews()[ids[0]].state == ObjectState.ACCEPTED
    doc.execute(set_state(item.id, [ids[0]], None))
    assert ids[0] not in doc.object_reviews()
    doc.undo()
    assert doc.object_reviews()[ids[0]].state == ObjectState.ACCEPTED


def test_review_survives_reopen_and_a_bad_edit_changes_nothing(doc):
    item = doc.media()[0]
    ann = doc.annotations(item.id)[0]
    doc.execute(set_state(item.id, [ann.id], ObjectState.REJECTED, "too loose"))
    doc.execute(add_comment(Place(item.id), 1, 2, "here"))
    with pytest.raises(RefusedEdit):
        doc.execute(add_comment(Place("nope"), 1, 2, "lost"))
    path = doc.path
    doc.close()
    with Document.open(path) as again:
        assert again.object_reviews()[ann.id].reason == "too loose"
        assert [c.text for c in again.comments()] == ["here"]


def test_comments_pin_to_frames_and_voxels(doc):
    item = doc.media()[0]
    doc.execute(add_comment(Place(item.id, frame=7), 3, 4, "frame 7"))
    doc.execute(add_comment(Place(item.id, axis="k", index=12, more={"t": 2}), 5, 6, "voxel"))
    path = doc.path
    doc.close()
    with Document.open(path) as again:
        by_text = {c.text: c for c in again.comments(item.id)}
        assert by_text["frame 7"].place.frame == 7
        vox = by_text["voxel"].place
        assert (vox.axis, vox.index, vox.get("t"), by_text["voxel"].x) == ("k", 12, 2, 5.0)


def test_the_queue_filters_and_goes_to_the_next_unreviewed(doc):
    first, second = doc.media()
    anns = doc.annotations(first.id)
    car = doc.schema.class_by_name("car")
    model = replace(anns[0], id="m1", source="detector-x", score=0.9, place=Place(second.id))
    low = replace(anns[1], id="m2", source="detector-x", score=0.2, place=Place(second.id),
                  creator="bot")
    doc.execute(Put((model, low)))
    q = build_queue(doc)
    assert [e.place.media_id for e in q] == [first.id, second.id]
    assert q[0].unreviewed == len(anns)
    cars = build_queue(doc, QueueFilter(class_id=car.id))
    assert sum(len(e.object_ids) for e in cars) == 4  # two on each item
    assert build_queue(doc, QueueFilter(source="model", min_score=0.5))[0].object_ids == ("m1",)
    assert build_queue(doc, QueueFilter(author="bot"))[0].object_ids == ("m2",)
    assert build_queue(doc, QueueFilter(attribute=("colour", "blue")))[0].object_ids == (
        anns[0].id,)
    assert [e.place.media_id for e in build_queue(doc, QueueFilter(max_objects=2))] == [
        second.id]
    # accept one, the next unreviewed is the one after it; the status filter sees it
    doc.execute(set_state(first.id, [anns[0].id], ObjectState.ACCEPTED))
    assert next_unreviewed(doc, q, Place(first.id), anns[0].id) == (Place(first.id),
                                                                    anns[1].id)
    assert build_queue(doc, QueueFilter(status="accepted"))[0].object_ids == (anns[0].id,)
    assert anns[0].id not in build_queue(doc, QueueFilter(status="unreviewed"))[0].object_ids
    doc.execute(set_verdict(second.id, Verdict.APPROVED))
    assert [e.place.media_id for e in build_queue(doc, QueueFilter(verdict="none"))] == [
        first.id]


def test_a_format_1_project_migrates_to_the_review_tables(tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(FIXTURE, folder)
    with Document.open(folder) as doc:
        assert SCHEMA_VERSION >= 4
        assert doc.object_reviews() == {} and doc.comments() == []
        item = doc.media()[0]
        doc.execute(add_comment(Place(item.id), 1, 1, "after migration"))
    conn = sqlite3.connect(folder / "project.vellum")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT text FROM comments").fetchall() == [("after migration",)]
    conn.close()


def test_comment_needs_a_place():
    with pytest.raises(ValueError):
        Comment("not a place", 0, 0, "x")  # type: ignore[arg-type]


def test_review_states_verdicts_and_comments_survive_a_coco_round_trip(doc, tmp_path,
                                                                        monkeypatch):
    import json

    from app.io.coco import export_coco, import_coco

    monkeypatch.setenv("VELLUM_AUTHOR", "rita")
    first, second = doc.media()
    anns = doc.annotations(first.id)
    doc.execute(set_state(first.id, [anns[0].id], ObjectState.ACCEPTED))
    doc.execute(set_state(first.id, [anns[1].id], ObjectState.REJECTED, "wrong class"))
    doc.execute(set_verdict(first.id, Verdict.NEEDS_WORK, "two missing"))
    doc.execute(add_comment(Place(second.id), 40.5, 8.25, "nothing labelled?"))
    doc.execute(resolve_comment(doc.comments()[0]))
    out = tmp_path / "out.json"
    export_coco(doc, out)
    block = json.loads(out.read_text())["vellum_review"]
    assert {o["state"] for o in block["objects"]} == {"accepted", "rejected"}
    assert block["items"][0]["verdict"] == "needs_work" and "image_id" in block["items"][0]
    fresh = Document.create(tmp_path / "fresh")
    import_coco(fresh, out, doc.folder / "images")
    reviews = fresh.object_reviews()
    assert reviews[anns[1].id].reason == "wrong class" and reviews[anns[1].id].author == "rita"
    assert reviews[anns[0].id].state == ObjectState.ACCEPTED
    by_name = {m.name: m.id for m in fresh.media()}
    (v,) = fresh.verdicts().values()
    assert v.media_id == by_name[first.name] and v.note == "two missing"
    (c,) = fresh.comments()
    assert (c.media_id, c.x, c.y, c.text, c.resolved) == (by_name[second.name], 40.5, 8.25,
                                                          "nothing labelled?", True)
    # the import is one undo step, reviews included
    fresh.undo()
    assert fresh.object_reviews() == {} and fresh.comments() == []
    fresh.redo()
    # and a second export of the imported project says the same
    again = tmp_path / "again.json"
    export_coco(fresh, again)
    assert json.loads(again.read_text())["vellum_review"] == block
    fresh.close()


def test_a_bad_review_block_is_one_sentence_naming_the_file(doc, tmp_path):
    import json

    from app.core.errors import VellumError
    from app.io.coco import export_coco, import_coco

    out = tmp_path / "out.json"
    export_coco(doc, out)
    data = json.loads(out.read_text())
    data["vellum_review"] = {"objects": [{"annotation": doc.annotations(
        doc.media()[0].id)[0].id, "state": "maybe"}]}
    out.write_text(json.dumps(data))
    fresh = Document.create(tmp_path / "fresh")
    with pytest.raises(VellumError, match="out.json.*vellum_review"):
        import_coco(fresh, out, doc.folder / "images")
    assert fresh.media() == []
    fresh.close()


def test_review_states_survive_a_cvat_xml_round_trip(doc, tmp_path):
    from app.io.cvat import export_cvat, plan_import

    first = doc.media()[0]
    box = next(a for a in doc.annotations(first.id) if a.kind == "box")
    tag = next(a for a in doc.annotations(first.id) if a.kind == "tag")
    doc.execute(set_state(first.id, [box.id], ObjectState.REJECTED, "box too loose"))
    doc.execute(set_state(first.id, [tag.id], ObjectState.ACCEPTED))
    out = tmp_path / "out.xml"
    export_cvat(doc, out)
    text = out.read_text()
    assert '<attribute name="vellum_review">rejected</attribute>' in text
    assert '<attribute name="vellum_review_reason">box too loose</attribute>' in text
    fresh = Document.create(tmp_path / "fresh")
    command, _ = plan_import(fresh, out, doc.folder / "images")
    fresh.execute(command)
    states = {fresh.annotation(r.media_id, i).kind: (r.state, r.reason)
              for i, r in fresh.object_reviews().items()}
    assert states == {"box": (ObjectState.REJECTED, "box too loose"),
                      "tag": (ObjectState.ACCEPTED, "")}
    # the review is not a class attribute or an annotation attribute after import
    assert all(not a.name.startswith("vellum_review") for c in fresh.schema.classes
               for a in c.attributes)
    assert all("vellum_review" not in a.attributes for m in fresh.media()
               for a in fresh.annotations(m.id))
    fresh.close()


@pytest.mark.parametrize("block", [
    [], {"objects": "x"}, {"items": [1]},
    {"comments": [{"image_id": "IMG", "x": "left", "y": 1, "text": "t"}]},
    {"comments": [{"image_id": "IMG", "x": float("nan"), "y": 1, "text": "t"}]},
    {"comments": [{"image_id": "IMG", "x": 1, "y": 1}]},
    {"items": [{"image_id": "IMG", "verdict": "great"}]},
])
def test_malformed_review_blocks_are_refused_whole(doc, tmp_path, block):
    import json

    from app.core.errors import VellumError
    from app.io.coco import export_coco, import_coco

    out = tmp_path / "out.json"
    export_coco(doc, out)
    data = json.loads(out.read_text())
    image_id = data["images"][0]["id"]
    text = json.dumps(block).replace('"IMG"', json.dumps(image_id))
    data["vellum_review"] = json.loads(text)
    out.write_text(json.dumps(data))
    fresh = Document.create(tmp_path / "fresh")
    with pytest.raises(VellumError, match="out.json"):
        import_coco(fresh, out, doc.folder / "images")
    assert fresh.media() == [] and fresh.comments() == []
    fresh.close()


def test_review_records_naming_nothing_imported_are_left_out_with_a_note(doc, tmp_path):
    import json

    from app.io.coco import export_coco, import_coco

    out = tmp_path / "out.json"
    export_coco(doc, out)
    data = json.loads(out.read_text())
    data["vellum_review"] = {"objects": [{"annotation": "nope", "state": "accepted"}],
                             "comments": [{"image_id": 999999, "x": 1, "y": 1, "text": "t"}]}
    out.write_text(json.dumps(data))
    fresh = Document.create(tmp_path / "fresh")
    report = import_coco(fresh, out, doc.folder / "images")
    assert any("2 review record(s)" in n for n in report["notes"])
    assert fresh.object_reviews() == {} and len(fresh.media()) == 2
    fresh.close()
