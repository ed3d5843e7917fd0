"""Guards at the door of every reader: what kind of file a path is, before anything opens it.

A FIFO, a character device (``/dev/zero``), a socket or a block device given as input would
block a reader forever or feed it without end; only regular files (and folders, where a
command takes folders) are read. JSON from files is parsed with a nesting limit, so a file
nested 100,000 deep gets a sentence, not a ``RecursionError``.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, VellumError
from app.core.project_files import unsafe_to_open

#: Deepest nesting of JSON arrays/objects accepted from a file (COCO, manifests, sidecars
#: never go past ~10).
MAX_JSON_DEPTH = 200

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_kind(mode: int) -> str | None:
    """What a non-regular, non-folder ``st_mode`` is, in words; ``None`` for a file/folder."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return None


def require_readable(path: str | Path, *, folders: bool = False, what: str = "input") -> Path:
    """``path`` as a :class:`Path` when it is a regular file (or, with ``folders``, a folder);
    otherwise one sentence naming it. Follows symbolic links (a link to a file is that file).
    Never opens the path, so a FIFO cannot block."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise VellumError(f"{p} does not exist.", p) from None
    except OSError as exc:
        raise VellumError(f"Cannot read {p} ({exc.strerror or exc}).", p) from None
    if stat.S_ISREG(st.st_mode):
        if unsafe_to_open(p):  # opening it here would drop this process's SQLite locks
            raise BadInputError(f"{p} is a Vellum project's own file; it is opened only as "
                                f"a project, never as {what}.", p)
        return p
    if stat.S_ISDIR(st.st_mode):
        if folders:
            return p
        raise VellumError(f"{p} is a folder; give a file as {what}.", p)
    kind = special_kind(st.st_mode) or "not a regular file"
    raise BadInputError(f"{p} is {kind}, not a regular file; Vellum reads only regular files"
                        f"{' and folders' if folders else ''}.", p)


def json_depth_ok(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the brackets of a JSON text nest no deeper than ``limit`` (strings skipped).
    Linear time, no recursion."""
    if isinstance(text, str):
        data = text.encode("utf-8", "surrogatepass")
    else:
        data = text
    depth = 0
    in_string = escaped = False
    for b in data:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:  # quote
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif b in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


def load_json_text(text: str | bytes, source: str | Path, what: str = "JSON file") -> Any:
    """Parse JSON read from ``source``; any problem (bad syntax, bad UTF-8, nesting deeper than
    :data:`MAX_JSON_DEPTH`, NaN) is one sentence naming ``source``."""
    if not json_depth_ok(text):
        raise BadInputError(f"{source} is not a usable {what}: its JSON nests deeper than "
                            f"{MAX_JSON_DEPTH} levels.", source)
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8-sig")
        return json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise BadInputError(f"{source} is not a usable {what}: it is not UTF-8 text.",
                            source) from None
    except (ValueError, RecursionError) as exc:
        raise BadInputError(f"{source} is not a usable {what} ({exc}).", source) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_capped(path: str | Path, what: str, max_bytes: int) -> tuple[Path, bytes]:
    """The checked path (:func:`require_readable`) and the bytes of a file of at most
    ``max_bytes``; one sentence naming it when it is bigger or cannot be read."""
    p = require_readable(path, what=what)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise BadInputError(f"{p} is not a usable {what}: {size} bytes is more than the "
                                f"{max_bytes} a {what} may hold.", p)
        return p, p.read_bytes()
    except OSError as exc:
        raise VellumError(f"Cannot read {p} ({exc.strerror or exc}).", p) from None


def read_json_file(path: str | Path, what: str = "JSON file",
                   max_bytes: int = 256 * 1024 * 1024) -> Any:
    """Read and parse a small JSON file (a manifest, a sidecar) safely: regular files only,
    at most ``max_bytes``, nesting limited; one sentence on any problem."""
    p, data = read_capped(path, what, max_bytes)
    return load_json_text(data, p, what)
