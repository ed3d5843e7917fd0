"""The audit trail read back: ``vellum history`` and its per-annotator summary.

Every command a project ran left one entry in its ``history`` table (:meth:`Store.log`): the
time (UTC ISO-8601, ``2026-12-01T10:04:05.123Z``), the author, the action (``Put``,
``Remove``, ``Batch``, ``ModifyLabelMap``, ``undo Put``...) and a detail whose ``objects``
counts the label objects (annotations, tracks, label maps) it created, changed and deleted and
names the media items they lie on (entries written before that count existed give edits only).

Rules (the CLI help says them too):

- ``--since``: an ISO 8601 date (``2026-12-01``: midnight UTC that day) or date and time; a
  time without an offset is UTC (the trail is stored in UTC), one with ``Z`` or ``+02:00`` is
  converted. Entries at or after that instant are kept.
- Order: oldest first (the order they happened, as the trail was written).
- Time spent per author: the sum of the gaps between that author's consecutive entries that
  are shorter than the idle cutoff (default 300 s); a longer gap is a break and adds nothing,
  so a single edit counts 0 s. Only the filtered entries count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import VellumError
from app.core.store import Store

IDLE_CUTOFF_S = 300.0


def parse_since(text: str) -> str:
    """``--since`` text as the trail's own UTC form (``YYYY-MM-DDTHH:MM:SS.mmmZ``); a date
    alone is midnight UTC, a time without offset is UTC."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            when = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time())
        else:
            when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise VellumError(f"--since {text!r} is not an ISO 8601 date or time (e.g. 2026-12-01 "
                          "or 2026-12-01T10:00:00Z).") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return to_text(when)


def to_text(when: dt.datetime) -> str:
    when = when.astimezone(dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_time(text: str) -> dt.datetime | None:
    """A trail time as an aware datetime (None for text that is not one)."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


@dataclass
class AuthorSummary:
    """What one author did in the listed entries (times UTC, ``active_s`` in seconds)."""

    author: str
    edits: int = 0
    created: int = 0
    changed: int = 0
    deleted: int = 0
    items: set[str] = field(default_factory=set)
    first: str = ""
    last: str = ""
    active_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"edits": self.edits, "items": len(self.items), "item_ids": sorted(self.items),
                "created": self.created, "changed": self.changed, "deleted": self.deleted,
                "objects": self.created + self.changed + self.deleted,
                "first": self.first, "last": self.last,
                "active_seconds": round(self.active_s, 3)}


def entries(store: Store, author: str | None = None, since: str | None = None
            ) -> list[dict[str, Any]]:
    """Trail entries oldest first, filtered (``since`` as :func:`parse_since` gives it)."""
    return store.history_entries(author=author, since=since)


def _objects(entry: dict[str, Any], labelmap_media: dict[str, str]) -> dict[str, Any]:
    """An entry's object counts and media ids (a voxel edit: its label map's media item)."""
    detail = entry.get("detail") or {}
    objs = detail.get("objects") if isinstance(detail, dict) else None
    out = {"added": 0, "changed": 0, "removed": 0, "media": set()}
    if isinstance(objs, dict):
        for key in ("added", "changed", "removed"):
            if isinstance(objs.get(key), int):
                out[key] = objs[key]
        out["media"] = {m for m in objs.get("media") or () if isinstance(m, str)}
    elif isinstance(detail, dict) and isinstance(detail.get("labelmap_id"), str):
        out["changed"] = 1
        media = labelmap_media.get(detail["labelmap_id"])
        out["media"] = {media} if media else set()
    return out


def summarise(store: Store, listed: list[dict[str, Any]], idle_s: float = IDLE_CUTOFF_S
              ) -> dict[str, AuthorSummary]:
    """Per-author summary of ``listed`` (oldest first), by author name."""
    labelmap_media = {i.id: i.media_id for i in store.load_labelmaps()}
    out: dict[str, AuthorSummary] = {}
    previous: dict[str, dt.datetime] = {}
    for entry in listed:
        who = entry["author"]
        s = out.setdefault(who, AuthorSummary(who))
        s.edits += 1
        objs = _objects(entry, labelmap_media)
        s.created += objs["added"]
        s.changed += objs["changed"]
        s.deleted += objs["removed"]
        s.items |= objs["media"]
        s.first = s.first or entry["time"]
        s.last = entry["time"]
        when = parse_time(entry["time"])
        if when is None:
            continue
        before = previous.get(who)
        if before is not None:
            gap = (when - before).total_seconds()
            if 0 <= gap < idle_s:
                s.active_s += gap
        previous[who] = when
    return out


def report(store: Store, author: str | None = None, since: str | None = None,
           idle_s: float = IDLE_CUTOFF_S) -> dict[str, Any]:
    """The JSON of ``vellum history --json``: entries (oldest first) and the summary."""
    listed = entries(store, author, since)
    summary = summarise(store, listed, idle_s)
    return {"project": str(store.path), "order": "oldest first", "time_zone": "UTC",
            "idle_cutoff_seconds": idle_s, "since": since, "author": author,
            "entries": listed,
            "summary": {who: s.to_json() for who, s in sorted(summary.items())}}


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else \
        f"{s // 60}m{s % 60:02d}s"


def text_lines(data: dict[str, Any], summary_only: bool = False) -> list[str]:
    """The text form: one line per entry, then the summary table."""
    lines: list[str] = []
    if not summary_only:
        for e in data["entries"]:
            objs = (e.get("detail") or {}).get("objects") if isinstance(e.get("detail"),
                                                                      dict) else None
            what = ""
            if isinstance(objs, dict):
                parts = [f"{objs.get(k, 0)} {w}" for k, w in
                         (("added", "created"), ("changed", "changed"), ("removed", "deleted"))
                         if objs.get(k)]
                what = ("  " + ", ".join(parts)) if parts else ""
            lines.append(f"{e['time']}  {e['author']}  {e['action']}{what}")
        lines.append("")
    lines.append(f"Summary (time spent: gaps under {data['idle_cutoff_seconds']:g} s between "
                 "an author's consecutive edits; times UTC)")
    lines.append(f"{'author':<20} {'edits':>6} {'items':>6} {'created':>8} {'changed':>8} "
                 f"{'deleted':>8} {'time':>10}  first .. last")
    for who, s in data["summary"].items():
        lines.append(f"{who[:20]:<20} {s['edits']:>6} {s['items']:>6} {s['created']:>8} "
                     f"{s['changed']:>8} {s['deleted']:>8} {_duration(s['active_seconds']):>10}"
                     f"  {s['first']} .. {s['last']}")
    if not data["summary"]:
        lines.append("(no entries)")
    return lines
