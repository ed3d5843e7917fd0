"""Gold items and scoring an annotator against them (``vellum gold``, ``vellum score``).

A **gold item** is a media item of a project whose labels are the reference answers. The mark
is a project note in the ``meta`` table, key ``gold:<media id>``, value JSON
``{"name": ..., "fingerprint": ...}`` (the item's file name and content fingerprint, so a
package or another annotator's project over the same media is matched by content, else by
name, as :func:`app.io.compare.match_media` does). Marking and unmarking is one
:class:`~app.core.commands.SetMeta` command: undoable and in the audit trail.

``vellum split`` packages do not carry the marks (a package's meta starts empty): gold stays
with the lead's project, so annotators cannot tell which items are scored. Their labels on
the gold items are scored against the gold project by :func:`score`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from app.core.commands import SetMeta
from app.core.document import Document
from app.core.errors import VellumError
from app.core.media import MediaItem

PREFIX = "gold:"


def gold_marks(doc: Document) -> dict[str, dict[str, Any]]:
    """media id -> {"name", "fingerprint"} of every gold mark of ``doc`` (in key order)."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in sorted(doc.store.meta(PREFIX).items()):
        try:
            data = json.loads(value)
        except ValueError:
            data = {}
        out[key[len(PREFIX):]] = data if isinstance(data, dict) else {}
    return out


def gold_items(doc: Document) -> list[MediaItem]:
    """The project's gold media items, in project order (marks of purged items left out)."""
    marks = gold_marks(doc)
    return [m for m in doc.media() if m.id in marks]


def _resolve(doc: Document, names: Iterable[str]) -> list[MediaItem]:
    """Media items named ``names`` (a file name, a project-relative path or an id)."""
    media = doc.media()
    out = []
    for name in names:
        hit = [m for m in media if name in (m.id, m.path, m.name)]
        if not hit:
            raise VellumError(f"{doc.path} has no media item named {name!r}.")
        if len(hit) > 1:
            raise VellumError(f"{doc.path} has {len(hit)} media items named {name!r}; give its "
                              "path in the project instead.")
        out.append(hit[0])
    return out


def mark_gold(doc: Document, add: Sequence[str] = (), remove: Sequence[str] = ()
              ) -> SetMeta | None:
    """The one command that marks items ``add`` as gold and unmarks ``remove`` (names as
    :func:`_resolve` takes them); None when nothing would change. The caller executes it."""
    marks = gold_marks(doc)
    values: dict[str, str | None] = {}
    for m in _resolve(doc, add):
        if m.id not in marks:
            values[PREFIX + m.id] = json.dumps({"name": m.name, "fingerprint": m.fingerprint},
                                               sort_keys=True)
    for m in _resolve(doc, remove):
        if m.id in marks:
            values[PREFIX + m.id] = None
    if not values:
        return None
    return SetMeta(values, label="Gold items")


# ------------------------------------------------------------------ scoring
def score(package: str, gold_project: str, progress: Any = None) -> dict[str, Any]:
    """Rate ``package`` (a package or any project over the same media) against the gold items
    of ``gold_project``: :func:`app.io.compare.compare` of the gold project's gold items (the
    reference) and the package's items matched to them (by content, else by name). A gold
    item the package lacks is listed under ``media.missing``. ``VellumError`` when the gold
    project has no gold items or the package holds none of them."""
    from app.io.compare import ProjectData, compare, labels_for, load_project, match_media

    with Document.open(gold_project) as doc:
        marked = gold_items(doc)
    if not marked:
        raise VellumError(f"{gold_project} has no gold items; mark some with 'vellum gold "
                          f"{gold_project} --add NAME'.")
    labels = labels_for([gold_project, package])
    if labels[0] == labels[1]:
        labels = [f"{labels[0]} (gold)", labels[1]]
    ref = load_project(gold_project, labels[0])
    keys = {(m.name, m.fingerprint) for m in marked}
    ref = ProjectData(ref.label, ref.path,
                      [i for i in ref.items if (i.name, i.fingerprint) in keys])
    other = load_project(package, labels[1])
    groups = match_media([ref, other])
    wanted = {id(g.members[1]) for g in groups
              if g.members[0] is not None and g.members[1] is not None}
    if not wanted:
        raise VellumError(f"{package} holds none of the {len(ref.items)} gold item(s) of "
                          f"{gold_project}.")
    other = ProjectData(other.label, other.path,
                        [i for i in other.items if id(i) in wanted])
    result = compare([ref, other], progress)
    result["gold"] = {"project": str(gold_project), "items": [i.name for i in ref.items],
                      "scored": len(wanted)}
    return result


def score_lines(result: dict[str, Any]) -> list[str]:
    """The terminal summary of :func:`score`."""
    from app.io.compare import summary_lines

    g = result["gold"]
    head = (f"Scored {result['annotators'][1]} on {g['scored']} of {len(g['items'])} gold "
            f"item(s) of {result['annotators'][0]}")
    lines = summary_lines(result)
    return [head] + lines[1:] + [
        f"  {row['class']}: P {_f(row['precision'])} R {_f(row['recall'])} "
        f"F1 {_f(row['f1'])} mean IoU {_f(row['mean_iou'])}"
        for p in result["pairs"] for row in p["per_class"]]


def _f(v: Any) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
