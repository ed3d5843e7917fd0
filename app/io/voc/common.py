"""What the Pascal VOC reader and writer share: constants, the VOC palette, XML read
safely, value helpers."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError

KEY = "voc"
MASK_ONLY = "vellum_mask_only"  # an <object> written only to carry a mask's instance
FLAGS = ("truncated", "difficult")
KNOWN = {"name", "bndbox", "occluded", "truncated", "difficult", "pose", "attributes", "part",
         "actions", "point"}
VOC_LABELS = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
              "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
              "pottedplant", "sheep", "sofa", "train", "tvmonitor")
MAX_COORD = 4.0e8
_SAFE = re.compile(r"[^A-Za-z0-9._\- ]")


def colormap(n: int = 256) -> list[tuple[int, int, int]]:
    """The VOC palette (the devkit's bit-interleaved colours), as datumaro builds it."""
    out = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(7, -1, -1):
            r |= ((c >> 0) & 1) << j
            g |= ((c >> 1) & 1) << j
            b |= ((c >> 2) & 1) << j
            c >>= 3
        out.append((r, g, b))
    return out


def palette_png(index: Any, palette: list[tuple[int, int, int]]) -> bytes:
    """An 8-bit palette PNG of a uint8 index image (written by hand: cv2 writes no palette)."""
    import numpy as np

    h, w = index.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in np.ascontiguousarray(index, np.uint8))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    plte = b"".join(bytes(c) for c in palette[:256])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
            + chunk(b"PLTE", plte) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def _safe_id(name: str) -> str:
    stem = _SAFE.sub("_", name).strip(" .") or "image"
    return stem[:200]


# ------------------------------------------------------------------ XML, safely
def _parse_xml(p: Path) -> Any:
    """The root <annotation> of a VOC XML, read safely (:func:`app.io.xml_safe.read_xml`)."""
    from app.io.xml_safe import read_xml

    root = read_xml(p, what="VOC XML")
    if root.tag != "annotation":
        raise BadInputError(f"{p} is not a VOC annotation (its root is <{root.tag}>).", p)
    return root


def _text(el: Any, tag: str) -> str | None:
    e = el.find(tag)
    return None if e is None or e.text is None else e.text.strip()


def _num(el: Any, tag: str, p: Path, where: str) -> float:
    import math

    t = _text(el, tag)
    try:
        v = float(t)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadInputError(f"{p}: {where} has no number in <{tag}>.", p) from None
    if not math.isfinite(v) or abs(v) > MAX_COORD:
        raise BadInputError(f"{p}: {where} has <{tag}> {t} out of range.", p)
    return v


def _flag(el: Any, tag: str, p: Path, where: str) -> bool | None:
    t = _text(el, tag)
    if t is None:
        return None
    if t not in ("0", "1"):
        raise BadInputError(f"{p}: {where} has <{tag}>{t}</{tag}>; VOC allows 0 or 1.", p)
    return t == "1"


def _typed(value: str | None, spec: Any) -> Any:
    from app.core.schema import AttributeType

    if value is None:
        return value
    if spec is None:  # no spec to go by: what the text plainly is (VOC writes text only)
        if value in ("true", "false", "True", "False"):
            return value.lower() == "true"
        if re.fullmatch(r"-?[0-9]{1,15}", value):
            return int(value)
        if re.fullmatch(r"-?[0-9]+\.[0-9]+", value):
            return float(value)
        return value
    if spec.type is AttributeType.BOOL and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if spec.type is AttributeType.NUMBER:
        try:
            f = float(value)
            return int(f) if f.is_integer() and "." not in value else f
        except ValueError:
            return value
    return value
