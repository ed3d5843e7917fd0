"""Reading a COCO JSON file without holding it twice: two streaming passes with ijson's C
parser (yajl2).

Pass 1 (:func:`read_header`) walks the whole file once: it builds every top-level value except
``annotations`` (images, categories, videos, info, licenses, unknown keys), counts the
annotations, checks the nesting depth and takes the file's SHA-256. Pass 2
(:func:`iter_annotations`) yields the annotations one at a time, so only one raw annotation is
in memory at a time. Numbers: integers stay ``int``, others are ``float``; a number beyond
double range, ``NaN`` or ``Infinity`` is not JSON and is refused as such.
"""

from __future__ import annotations

import re

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ijson
from ijson.common import ObjectBuilder

from app.core.errors import BadInputError
from app.io.inputs import require_readable

MAX_DEPTH = 100  # COCO nests about 6 levels; deeper files are refused before any recursion
_BOM = b"\xef\xbb\xbf"
_START = {"start_map", "start_array"}
_END = {"end_map", "end_array"}

Progress = Callable[[int, int], None]


class _Reader:
    """File wrapper for ijson: skips a UTF-8 byte-order mark, counts bytes, optionally hashes."""

    def __init__(self, f: IO[bytes], hash_it: bool) -> None:
        self.f = f
        self.sha = hashlib.sha256() if hash_it else None
        self.done = 0
        self.first = True

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        if self.sha is not None:
            self.sha.update(data)
        self.done += len(data)
        if self.first:
            self.first = False
            if data.startswith(_BOM):
                data = data[len(_BOM):]
        return data


@dataclass
class Header:
    """Everything of a COCO file but its annotations."""

    data: dict[str, Any] = field(default_factory=dict)
    annotations: int = 0  # how many annotation entries the file lists
    annotations_type: str | None = None  # JSON type of the 'annotations' value, if present
    sha256: str = ""
    size: int = 0


def _open(path: Path) -> IO[bytes]:
    if not path.is_dir():  # a FIFO or device would block or never end: refused unopened
        require_readable(path, what="COCO JSON file")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise BadInputError(f"{path} does not exist.", path) from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a folder, not a COCO JSON file.", path) from None
    except OSError as exc:
        raise BadInputError(f"{path} cannot be read ({exc.strerror}).", path) from exc


_NON_FINITE = re.compile(rb"[:\[,]\s*-?(?:NaN|Infinity)\b")


def _non_finite_at(path: Path) -> int | None:
    """Byte offset of the first of Python's non-standard ``NaN``/``Infinity`` values (only on
    the error path: the parser's own offset is where its buffer ended, not the token)."""
    try:
        with open(path, "rb") as f:
            done, tail = 0, b""
            while chunk := f.read(1 << 22):
                m = _NON_FINITE.search(tail + chunk)
                if m:
                    return done - len(tail) + m.start()
                tail = chunk[-32:]
                done += len(chunk)
    except OSError:
        return None
    return None


def _json_error(path: Path, exc: Exception, at: int) -> BadInputError:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    first = str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
    bad = _non_finite_at(path)
    if bad is not None:
        return BadInputError(f"{path} is not valid JSON: it holds NaN or Infinity at byte "
                             f"{bad}, which JSON does not allow (write null or a finite "
                             "number).", path)
    return BadInputError(f"{path} is not valid JSON ({first.rstrip('.')}, near byte {at}).",
                         path)


def read_header(path: str | Path, progress: Progress | None = None,
                cancelled: Callable[[], bool] | None = None) -> Header:
    """Pass 1: every top-level value but ``annotations``; see the module docstring."""
    p = Path(path)
    head = Header()
    with _open(p) as f:
        size = p.stat().st_size
        reader = _Reader(f, hash_it=True)
        depth = 0
        key: str | None = None
        builder: ObjectBuilder | None = None
        seen: set[str] = set()
        count = 0

        def finish() -> None:
            if builder is not None and key is not None:
                head.data[key] = builder.value

        try:
            for n, (event, value) in enumerate(ijson.basic_parse(reader, use_float=True)):
                if event in _START:
                    depth += 1
                    if depth > MAX_DEPTH:
                        raise BadInputError(
                            f"{p} nests JSON deeper than {MAX_DEPTH} levels (near byte "
                            f"{reader.done}); a COCO file nests about 6, so it is not one.", p)
                    if depth == 1:
                        if event != "start_map":
                            raise BadInputError(f"{p}: the top level must be a JSON object "
                                                "(COCO's images, annotations, categories).", p)
                        continue
                    if depth == 2 and key == "annotations":
                        head.annotations_type = "list" if event == "start_array" else "object"
                    elif depth == 3 and key == "annotations":
                        count += 1
                elif event in _END:
                    depth -= 1
                    if depth == 0:
                        finish()
                        builder = None
                        continue
                elif depth == 0:
                    raise BadInputError(f"{p}: the top level must be a JSON object (COCO's "
                                        "images, annotations, categories).", p)
                elif depth == 1 and event == "map_key":
                    finish()
                    if value in seen:
                        raise BadInputError(f"{p} lists the top-level key {value!r} twice.", p)
                    seen.add(value)
                    key = value
                    builder = None if key == "annotations" else ObjectBuilder()
                    continue
                elif depth == 1 and key == "annotations":
                    head.annotations_type = type(value).__name__
                if builder is not None:
                    builder.event(event, value)
                if n % 500_000 == 0:
                    if cancelled and cancelled():
                        raise BadInputError(f"Import of {p} was cancelled; nothing was "
                                            "written.", p)
                    if progress:
                        progress(reader.done, size)
        except ijson.JSONError as exc:
            raise _json_error(p, exc, reader.done) from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise _json_error(p, exc, reader.done) from None
        except OSError as exc:
            raise BadInputError(f"{p} cannot be read ({exc.strerror}).", p) from exc
    if depth != 0:
        raise BadInputError(f"{p} is not valid JSON (it ends before its top-level object "
                            "does).", p)
    head.annotations = count
    head.sha256 = reader.sha.hexdigest() if reader.sha else ""
    head.size = size
    return head


def iter_annotations(path: str | Path) -> Iterator[Any]:
    """Pass 2: the entries of the top-level ``annotations`` list, one at a time (call after
    :func:`read_header` accepted the file and found a list)."""
    p = Path(path)
    with _open(p) as f:
        reader = _Reader(f, hash_it=False)
        try:
            yield from ijson.items(reader, "annotations.item", use_float=True)
        except ijson.JSONError as exc:
            raise _json_error(p, exc, reader.done) from None
        except OSError as exc:
            raise BadInputError(f"{p} cannot be read ({exc.strerror}).", p) from exc
