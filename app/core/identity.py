"""Ids, timestamps and authorship shared by everything in the document.

Ids are random 128-bit hex strings (stable across export and re-import); times are UTC
ISO-8601 with millisecond precision and a trailing ``Z``; the author is the name the user set
(:func:`set_author`, the ``VELLUM_AUTHOR`` environment variable), else the OS user name.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import os
import uuid

_chosen_author: str | None = None


def new_id() -> str:
    """A fresh, globally unique id (32 lowercase hex digits)."""
    return uuid.uuid4().hex


def utc_now() -> str:
    """Current time as UTC ISO-8601, e.g. ``2026-11-22T10:04:05.123Z``."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def os_user() -> str:
    """The operating-system user name, or ``"unknown"`` where none can be found."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # noqa: BLE001 - getpass raises various errors on odd systems
        return "unknown"


def set_author(name: str | None) -> None:
    """Record edits of this process under ``name`` (None or blank: back to the default)."""
    global _chosen_author
    _chosen_author = (name or "").strip() or None


def author() -> str:
    """Who edits: the name set with :func:`set_author`, else ``$VELLUM_AUTHOR``, else the OS
    user name."""
    return _chosen_author or os.environ.get("VELLUM_AUTHOR", "").strip() or os_user()
