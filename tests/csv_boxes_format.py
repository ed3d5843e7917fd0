"""A worked example of the format registry (:mod:`app.io.formats`): a minimal CSV of boxes,
``image,x,y,w,h,class``, in one file. Named in ``$VELLUM_FORMATS`` (the one line), it is
``vellum export csv-boxes`` / ``vellum import csv-boxes`` and File ▸ Export / Import ▸ CSV
boxes… in the window; tests/test_format_registry.py shows all four."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, VellumError
from app.io.formats import Format, Outcome

HEADER = ["image", "x", "y", "w", "h", "class"]


def write(doc: Any, out: Any, options: dict[str, Any], progress: Any, cancelled: Any,
          notes: list[str]) -> Outcome:
    from app.core.media import MediaKind
    from app.io.atomic import atomic_write
    from app.io.outputs import prepare_output

    target = prepare_output(out, formats=(".csv",), overwrite=options["overwrite"], doc=doc)
    names = {c.id: c.name for c in doc.schema.classes}
    images = [m for m in doc.media() if m.kind is MediaKind.IMAGE]
    buf = io.StringIO()
    rows = csv.writer(buf, lineterminator="\n")
    rows.writerow(HEADER)
    boxes = others = 0
    for n, item in enumerate(images):
        if cancelled():
            raise VellumError(f"Export to {out} was cancelled; nothing was written.", out)
        progress(n, len(images), item.name)
        for a in doc.annotations(item.id):
            if a.kind != "box":
                others += 1
                continue
            rows.writerow([item.path, *(repr(float(v)) for v in a.shape.bbox()),
                           names.get(a.class_id, "")])
            boxes += 1
    with atomic_write(target) as f:
        f.write(buf.getvalue())
    progress(len(images), len(images))
    if others:
        notes.append(f"{others} annotation(s) that are not boxes were left out (CSV boxes "
                     "holds boxes only).")
    return Outcome(summary=f"Wrote {out}: {boxes} boxes.")


def read(doc: Any, path: Any, options: dict[str, Any], progress: Any, cancelled: Any,
         notes: list[str]) -> Outcome:
    from app.core.annotations import Annotation
    from app.core.commands import Batch, Put, SetSchema
    from app.core.places import Place
    from app.core.schema import PALETTE, LabelClass
    from app.core.shapes import Box

    p = Path(path)
    try:
        lines = list(csv.reader(io.StringIO(p.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadInputError(f"{p} cannot be read as a CSV of boxes ({exc}).", p) from exc
    if not lines or lines[0] != HEADER:
        raise BadInputError(f"{p} does not start with the line {','.join(HEADER)}.", p)
    items = {m.path: m for m in doc.media()} | {m.name: m for m in doc.media()}
    schema, anns = doc.schema, []
    for n, row in enumerate(lines[1:], start=2):
        if cancelled():
            raise VellumError(f"Import of {p} was cancelled; nothing was written.", p)
        progress(n - 1, len(lines) - 1)
        item = items.get(row[0]) if len(row) == len(HEADER) else None
        if item is None:
            raise BadInputError(f"{p} line {n} is not image,x,y,w,h,class of an image of "
                                "the project.", p)
        try:
            x, y, w, h = (float(v) for v in row[1:5])
            if not all(map(math.isfinite, (x, y, w, h))) or w <= 0 or h <= 0:
                raise ValueError
        except ValueError:
            raise BadInputError(f"{p} line {n} has no box of positive size.", p) from None
        cls = schema.class_by_name(row[5])
        if cls is None:
            cls = LabelClass(row[5], PALETTE[len(schema.classes) % len(PALETTE)])
            schema = schema.with_class(cls)
        anns.append(Annotation(place=Place(item.id), shape=Box(x, y, w, h), class_id=cls.id))
    steps = ([SetSchema(schema)] if schema != doc.schema else []) + [
        Put(tuple(anns), label=f"Import {p.name}")]
    return Outcome(summary=f"Imported {len(anns)} boxes from {path}",
                   command=Batch(tuple(steps), label=f"Import {p.name}"))


FORMAT = Format(name="csv-boxes", title="CSV boxes", patterns=("*.csv",),
                holds=frozenset({"shapes"}), read=read, write=write,
                read_metavar="FILE.csv", write_metavar="OUT.csv",
                read_help="boxes from a CSV (image,x,y,w,h,class)",
                write_help="boxes as a CSV (image,x,y,w,h,class)")
