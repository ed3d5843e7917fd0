"""Gold items (``vellum gold``) and scoring an annotator against them (``vellum score``): the
marks are one undoable, audited edit kept in the project; the score equals
:func:`app.io.compare.compare` run on the gold items alone."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from factories import image_item, make_schema, write_image

from app.cli import main
from app.core.annotations import Annotation
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.places import Place
from app.core.shapes import Box, Polygon, Tag
from app.io import compare as cmp
from app.io.gold import gold_items, mark_gold

W = H = 100
IMAGES = {"one.png": 1, "two.png": 2, "three.png": 3}


def _project(tmp: Path, name: str) -> Document:
    doc = Document.create(tmp / name)
    doc.execute(SetSchema(make_schema()))
    items = [image_item(write_image(doc.folder / f, W, H, seed=s), doc, n)
             for n, (f, s) in enumerate(IMAGES.items())]
    doc.execute(Put(tuple(items)))
    return doc


def _put(doc: Document, media: str, cls: str, shape, **kw) -> None:
    m = next(x for x in doc.media() if x.name == media)
    doc.execute(Put((Annotation(place=Place(m.id), class_id=doc.schema.class_by_name(cls).id,
                                shape=shape, **kw),)))


def _cli(*argv) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.fixture
def lead_and_annotator(tmp_path):
    lead, ann = _project(tmp_path, "lead"), _project(tmp_path, "annotator")
    # gold items one.png and two.png; three.png is not gold (and disagrees wildly)
    for box in (Box(5, 5, 20, 20), Box(40, 40, 20, 20), Box(70, 10, 20, 30)):
        _put(lead, "one.png", "car", box, attributes={"colour": "red"})
    for box, colour in ((Box(7, 6, 20, 20), "red"), (Box(42, 40, 18, 20), "blue")):
        _put(ann, "one.png", "car", box, attributes={"colour": colour})
    _put(lead, "two.png", "road", Polygon(((0, 60), (35, 60), (35, 95), (0, 95))))
    _put(ann, "two.png", "road", Polygon(((2, 62), (35, 60), (35, 95), (0, 93))))
    _put(lead, "two.png", "weather", Tag())
    _put(lead, "three.png", "car", Box(10, 10, 30, 30))
    _put(ann, "three.png", "road", Box(50, 50, 10, 10))
    paths = str(lead.folder), str(ann.folder)
    lead.close()
    ann.close()
    return paths


def test_marking_gold_is_one_undoable_audited_edit(lead_and_annotator):
    lead, _ = lead_and_annotator
    with Document.open(lead) as doc:
        cmd = mark_gold(doc, ["one.png", "two.png"])
        doc.execute(cmd)
        assert [m.name for m in gold_items(doc)] == ["one.png", "two.png"]
        assert doc.store.history(1)[0]["action"] == "SetMeta"
        assert mark_gold(doc, ["one.png"]) is None  # already gold: nothing to do
        doc.execute(mark_gold(doc, remove=["two.png"]))
        assert [m.name for m in gold_items(doc)] == ["one.png"]
        assert doc.undo()
        assert [m.name for m in gold_items(doc)] == ["one.png", "two.png"]
        assert doc.undo()
        assert gold_items(doc) == []
        assert doc.redo()
        assert len(gold_items(doc)) == 2
    with Document.open(lead) as doc:  # durable
        assert [m.name for m in gold_items(doc)] == ["one.png", "two.png"]


def test_gold_cli_adds_removes_and_lists(lead_and_annotator, capsys):
    lead, _ = lead_and_annotator
    code, out = _cli("gold", lead)
    assert code == 0 and "has no gold items" in out
    code, out = _cli("gold", lead, "--add", "one.png", "three.png")
    assert code == 0 and "one.png" in out and "2 gold item(s)" in out
    code, out = _cli("gold", lead, "--remove", "three.png", "--json")
    data = json.loads(out)
    assert [g["name"] for g in data["gold"]] == ["one.png"]
    assert main(["gold", lead, "--add", "nothing.png"]) == 1
    assert "no media item named 'nothing.png'" in capsys.readouterr().err


def test_score_equals_compare_on_the_gold_items(lead_and_annotator):
    lead, ann = lead_and_annotator
    assert _cli("gold", lead, "--add", "one.png", "two.png")[0] == 0
    code, out = _cli("score", ann, "--gold", lead, "--json")
    assert code == 0
    got = json.loads(out)
    # the reference: compare() on the two gold items alone
    a, b = cmp.load_project(lead, "lead"), cmp.load_project(ann, "annotator")
    gold = {"one.png", "two.png"}
    a.items = [i for i in a.items if i.name in gold]
    b.items = [i for i in b.items if i.name in gold]
    ref = cmp.jsonable(cmp.compare([a, b]))
    assert got["gold"]["items"] == ["one.png", "two.png"] and got["gold"]["scored"] == 2
    for key in ("pairs", "per_item", "classifications", "media"):
        assert got[key] == ref[key]
    car = next(r for r in got["pairs"][0]["per_class"] if r["class"] == "car")
    assert (car["reference_objects"], car["matches"]) == (3, 2)  # three.png left out
    q = {c["question"]: c for c in got["classifications"]}
    assert q["car.colour"]["pairs"][0]["units"] == 2
    code, text = _cli("score", ann, "--gold", lead)
    assert code == 0 and "Scored annotator on 2 of 2 gold item(s) of lead" in text
    assert "car: P 1.000 R 0.667" in text


def test_score_without_gold_items_is_one_sentence(lead_and_annotator, capsys):
    lead, ann = lead_and_annotator
    assert main(["score", ann, "--gold", lead]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "has no gold items" in err


def test_a_gold_item_missing_from_the_package_is_listed(lead_and_annotator, tmp_path):
    lead, _ = lead_and_annotator
    other = Document.create(tmp_path / "other")
    other.execute(SetSchema(make_schema()))
    other.execute(Put((image_item(write_image(other.folder / "one.png", W, H, seed=1),
                                  other, 0),)))
    other.close()
    _cli("gold", lead, "--add", "one.png", "two.png")
    code, out = _cli("score", str(tmp_path / "other"), "--gold", lead, "--json")
    got = json.loads(out)
    assert got["gold"]["scored"] == 1
    assert [m["item"] for m in got["media"]["missing"]] == ["two.png"]


def test_packages_carry_gold_items_unlabelled_and_merge_leaves_their_labels(tmp_path):
    """A work package must not hand an annotator the answers: gold items go out without their
    labels, and what the annotator draws there is rated by `vellum score`, not merged."""
    from app.io.package_merge import merge_packages
    from app.io.packages import split_project

    lead = _project(tmp_path, "lead")
    _put(lead, "one.png", "car", Box(5, 5, 20, 20))
    _put(lead, "three.png", "car", Box(50, 50, 10, 10))
    lead.execute(mark_gold(lead, add=["one.png"]))
    before = {a.id for a in lead.iter_annotations()}
    lead.close()
    split_project(tmp_path / "lead", 1, tmp_path / "packages")
    with Document.open(tmp_path / "packages" / "package-1") as pkg:
        names = {m.id: m.name for m in pkg.media()}
        assert {names[a.media_id] for a in pkg.iter_annotations()} == {"three.png"}
        _put(pkg, "one.png", "car", Box(6, 6, 20, 20))  # the annotator's answer
    [result] = merge_packages(tmp_path / "lead", [tmp_path / "packages" / "package-1"])
    assert result.gold >= 1 and not result.conflicts
    with Document.open(tmp_path / "lead") as doc:
        assert {a.id for a in doc.iter_annotations()} == before
