"""``vellum history``: the audit trail filtered by author and time, and the per-annotator
summary (items, objects created/changed/deleted, edits, time spent from edit timestamps).

Two authors edit one project under a controlled clock: the store's ``utc_now`` is replaced,
so every audit entry gets a time the test chose (no wall-clock time is asserted)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest

from app.cli import main
from app.core import store as store_module
from app.core.annotations import Annotation
from app.core.commands import Batch, Put, Remove, SetSchema
from app.core.document import Document
from app.core.errors import VellumError
from app.core.identity import set_author
from app.core.places import Place
from app.core.shapes import Box
from app.io.history import parse_since, report
from tests.factories import image_item, make_schema, write_image

T0 = dt.datetime(2026, 12, 1, 10, 0, 0, tzinfo=dt.timezone.utc)


class Clock:
    """What the store writes as 'now': T0 plus the seconds the test set."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> str:
        now = T0 + dt.timedelta(seconds=self.seconds)
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


@pytest.fixture
def project(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(store_module, "utc_now", clock)
    doc = Document.create(tmp_path / "proj")
    (doc.folder / "images").mkdir()
    items = [image_item(write_image(doc.folder / "images" / f"i{n}.png", 40, 30, n), doc, n)
             for n in range(2)]
    schema = make_schema()
    car = schema.classes[0]

    def box(media: str, x: float) -> Annotation:
        return Annotation(place=Place(media), shape=Box(x, 1, 5, 5), class_id=car.id)

    def at(seconds: float, who: str, command) -> None:
        clock.seconds = seconds
        set_author(who)
        doc.execute(command)

    try:
        at(-3600, "setup", Put(tuple(items)))
        at(-3590, "setup", SetSchema(schema))
        a1, a2, b1 = box(items[0].id, 1), box(items[0].id, 10), box(items[1].id, 2)
        at(0, "Ada", Put((a1, a2)))                                   # 2 created
        at(30, "Bob", Put((b1,)))                                     # 1 created
        at(60, "Ada", Put((replace(a1, shape=Box(2, 2, 5, 5)),)))     # 1 changed
        at(120, "Ada", Batch((Put((replace(a2, z=1),)), Remove((a1,)))))  # 1 changed, 1 del
        at(1000, "Bob", Put((replace(b1, z=3),)))                     # after a break
        at(1100, "Bob", Remove((b1,)))
        yield doc, items
    finally:
        set_author(None)
        doc.close()


def test_summary_counts_and_time_spent(project):
    doc, items = project
    data = report(doc.store)
    ada, bob = data["summary"]["Ada"], data["summary"]["Bob"]
    assert (ada["edits"], ada["created"], ada["changed"], ada["deleted"]) == (3, 2, 2, 1)
    assert ada["item_ids"] == [items[0].id] and ada["items"] == 1
    assert ada["first"] == "2026-12-01T10:00:00.000Z"
    assert ada["last"] == "2026-12-01T10:02:00.000Z"
    assert ada["active_seconds"] == 120.0  # gaps 60 + 60, both under the 300 s cutoff
    assert (bob["edits"], bob["created"], bob["changed"], bob["deleted"]) == (3, 1, 1, 1)
    assert bob["item_ids"] == [items[1].id]
    assert bob["active_seconds"] == 100.0  # 970 s is a break; 1000 -> 1100 counts
    assert data["summary"]["setup"]["items"] == 0  # adding media and classes: no labels
    # entries oldest first
    times = [e["time"] for e in data["entries"]]
    assert times == sorted(times) and data["order"] == "oldest first"
    # a larger idle cutoff counts the break too
    assert report(doc.store, idle_s=2000)["summary"]["Bob"]["active_seconds"] == 1070.0


def test_filters_by_author_and_time(project):
    doc, _ = project
    only_bob = report(doc.store, author="Bob")
    assert {e["author"] for e in only_bob["entries"]} == {"Bob"}
    assert list(only_bob["summary"]) == ["Bob"]
    later = report(doc.store, since=parse_since("2026-12-01T10:01:00Z"))
    assert [e["time"][11:19] for e in later["entries"]] == ["10:01:00", "10:02:00",
                                                            "10:16:40", "10:18:20"]
    # a time with an offset is converted; one without is UTC; a date is midnight UTC
    assert parse_since("2026-12-01T11:01:00+01:00") == "2026-12-01T10:01:00.000Z"
    assert parse_since("2026-12-01T10:01:00") == "2026-12-01T10:01:00.000Z"
    assert parse_since("2026-12-01") == "2026-12-01T00:00:00.000Z"
    assert len(report(doc.store, since=parse_since("2026-12-02"))["entries"]) == 0
    with pytest.raises(VellumError, match="ISO 8601"):
        parse_since("yesterday")


def test_cli_text_and_json(project, capsys):
    doc, _ = project
    path = str(doc.folder)
    assert main(["history", path, "--author", "Ada", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in data["entries"]] == ["Put", "Put", "Batch"]
    assert data["summary"]["Ada"]["created"] == 2 and "Bob" not in data["summary"]
    assert main(["history", path, "--since", "2026-12-01T10:00:30Z"]) == 0
    out = capsys.readouterr().out
    assert "2026-12-01T10:00:30.000Z  Bob  Put  1 created" in out
    assert "Summary" in out and "Ada" in out and "setup" not in out
    assert main(["history", path, "--summary"]) == 0
    out = capsys.readouterr().out
    assert "Put" not in out and "Bob" in out
    assert main(["history", path, "--since", "soon"]) == 1
    assert "ISO 8601" in capsys.readouterr().err
