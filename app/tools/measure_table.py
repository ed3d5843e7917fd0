"""The measurements of a project as one table (``vellum measurements``), Qt-free.

One row per measurement annotation (an annotation marked ``measure``, see
:mod:`app.tools.measure`), media item by media item in project order. Figures are recomputed
from the stored shape and the picture's geometry (so they follow any later edit of the
shape): on a volume slice in mm, mm² and the volume's real units (HU for CT); on a photo or a
video frame in px and px² (a video frame's ROI statistics are the ones stored when it was
drawn: frames are not decoded here). Nothing is written; the caller prints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from app.core.errors import VellumError
from app.tools.measure import KINDS, PlaneMap, kind_of, measure

COLUMNS = ("media", "place", "id", "class", "measure", "unit", "length", "long_axis",
           "short_axis", "angle_deg", "area", "pixels", "mean", "sd", "min", "max", "points_lps")
_FIGURES = {"length": "length_{u}", "long_axis": "long_{u}", "short_axis": "short_{u}",
            "angle_deg": "angle_deg", "area": "area_{u}2", "pixels": "pixels", "mean": "mean",
            "sd": "sd", "min": "min", "max": "max"}


def _row(doc: Any, item: Any, a: Any, source: Any, pixels: np.ndarray | None) -> dict[str, Any]:
    kind = kind_of(a)
    plane = PlaneMap.of(source)
    try:
        values = measure(kind, a.shape, plane, pixels)  # type: ignore[arg-type]
    except ValueError:
        values = {}
    if kind == "ellipse" and pixels is None:  # no picture read: the values stored at drawing
        values.update({k: a.attributes.get(k) for k in ("pixels", "mean", "sd", "min", "max")})
    cls = doc.schema.class_by_id(a.class_id) if a.class_id else None
    u = plane.unit
    row: dict[str, Any] = {"media": item.name, "place": a.place.describe(), "id": a.id,
                           "class": cls.name if cls else None, "measure": kind, "unit": u}
    for col, key in _FIGURES.items():
        row[col] = values.get(key.format(u=u))
    pts = a.shape.exterior if kind == "ellipse" else a.shape.points
    row["points_lps"] = ([[float(v) for v in w] for w in plane.world(np.asarray(pts)[:, :2])]
                         if u == "mm" and kind != "ellipse" else None)
    return row


def project_measurements(doc: Any, progress: Callable[..., None] | None = None
                         ) -> list[dict[str, Any]]:
    """Rows (dicts with :data:`COLUMNS`) of every measurement of the project. A volume whose
    source cannot be read is refused in one sentence naming it."""
    from app.core.media import MediaKind

    say = progress or (lambda *a, **k: None)
    items = doc.media()
    out: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        say(n, len(items), item.name)
        anns = [a for a in doc.annotations(item.id, all_frames=True) if kind_of(a)]
        if not anns:
            continue
        if item.kind is MediaKind.VOLUME:
            from app.io.planes import VolumeSliceSource
            from app.io.volume import load_source
            from app.io.volume.project import volume_geometry

            geometry = volume_geometry(doc, item)
            path = doc.media_path(item)
            array = load_source(path, item.source, expected=item.volume).array
            if array.ndim != 3 or tuple(array.shape) != tuple(geometry.shape):
                raise VellumError(f"{path} no longer reads as the project's volume; its "
                                  "measurements cannot be computed on it.", path)
            for a in anns:
                src = VolumeSliceSource(a.place, array, geometry)
                out.append(_row(doc, item, a, src, src.pixels()))
            del array
        else:
            pixels = None
            if item.kind is MediaKind.IMAGE and any(kind_of(a) == "ellipse" for a in anns):
                from app.io.images import read_image

                pixels = read_image(doc.media_path(item))
            out += [_row(doc, item, a, None, pixels) for a in anns]
    say(len(items), len(items), "")
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def table_text(rows: Sequence[dict[str, Any]]) -> str:
    """A readable table, one line per measurement (points left out: see --json)."""
    head = COLUMNS[:-1]
    body = [[_fmt(r[c]) for c in head] for r in rows]
    widths = [max([len(h)] + [len(b[n]) for b in body]) for n, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) if n < 6 else c.rjust(w)
                        for n, (c, w) in enumerate(zip(b, widths))).rstrip() for b in body]
    return "\n".join(lines) + "\n"


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """CSV with :data:`COLUMNS` as header (full precision; empty where a figure does not
    apply); ``points_lps`` as x y z triples joined by ';'."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        cells = []
        for c in COLUMNS:
            v = r[c]
            if c == "points_lps":
                v = ";".join(" ".join(repr(x) for x in p) for p in v) if v else ""
            cells.append("" if v is None else (repr(v) if isinstance(v, float) else v))
        writer.writerow(cells)
    return buf.getvalue()


__all__ = ["COLUMNS", "KINDS", "csv_text", "project_measurements", "table_text"]
