"""Safe reading of XML other tools wrote (CVAT, Pascal VOC): no DTD, no entities (billion
laughs, external entities), a size limit and a nesting limit; every problem is one sentence
naming the file."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from app.core.errors import BadInputError
from app.io.inputs import read_capped

MAX_BYTES = 4 * 1024 * 1024 * 1024  # 4 GiB
MAX_DEPTH = 64  # CVAT nests 6 deep, VOC 4
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING = re.compile(rb"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")
_WIDE = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00", b"<\x00", b"\x00<")


def _utf8(data: bytes) -> bool:
    """Whether ``data`` is an ASCII-compatible UTF-8 document (no UTF-16/32 mark, no other
    declared encoding), so that a byte search finds any DOCTYPE or ENTITY in it."""
    if data[:2] in _WIDE:
        return False
    m = _ENCODING.match(data[:400])
    return m is None or m.group(1).lower() in (b"utf-8", b"utf8", b"us-ascii", b"ascii")


def read_xml(path: str | Path, what: str = "XML file") -> ET.Element:
    """The root element of the XML file at ``path``. Refuses (one sentence) a FIFO or device,
    a file over :data:`MAX_BYTES`, any DOCTYPE or ENTITY declaration, nesting deeper than
    :data:`MAX_DEPTH`, and XML that is not well formed. UTF-8 files (CVAT's) go to the C parser
after a byte search for DOCTYPE/ENTITY; files in other encodings go through ``defusedxml``."""
    p, data = read_capped(path, what, MAX_BYTES)
    if _DTD.search(data):
        raise BadInputError(f"{p} is not a usable {what}: it declares a DOCTYPE or ENTITY, "
                            "which Vellum refuses (entity expansion).", p)
    try:
        if _utf8(data):  # the DTD check above saw every byte: the C parser is safe and fast
            root: ET.Element | None = ET.fromstring(data)
        else:
            try:
                from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]
            except ImportError:
                raise BadInputError(f"{p} is not a usable {what}: it is not UTF-8 encoded "
                                    "and defusedxml is not installed.", p) from None
            root = fromstring(data, forbid_dtd=True)
    except BadInputError:
        raise
    except ET.ParseError as exc:
        raise BadInputError(f"{p} is not well-formed XML ({exc}).", p) from None
    except Exception as exc:  # noqa: BLE001 - defusedxml's refusals (DTDForbidden...)
        if "Forbidden" in type(exc).__name__:
            raise BadInputError(f"{p} is not a usable {what}: it declares a DOCTYPE or "
                                "ENTITY, which Vellum refuses (entity expansion).", p) from None
        raise BadInputError(f"{p} is not a usable {what} ({type(exc).__name__}: {exc}).",
                            p) from None
    stack = [(root, 1)] if root is not None else []
    while stack:  # no recursion: a file nested 100,000 deep gets a sentence
        el, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadInputError(f"{p} is not a usable {what}: its elements nest deeper than "
                                f"{MAX_DEPTH} levels.", p)
        stack.extend((c, depth + 1) for c in el)
    if root is None:
        raise BadInputError(f"{p} is not a usable {what}: it holds no XML element.", p)
    return root
