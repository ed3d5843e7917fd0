"""Is a still-image file whole? A cheap structural check of PNG, JPEG, BMP and WebP files.

Decoders fill the missing part of a cut-short file with grey and say nothing (OpenCV) or print
a warning; this reads only the file's structure, never its pixels: a PNG's chunks are walked
by their lengths up to IEND, a JPEG's header segments up to its first scan and then its
end-of-image marker is looked for, a BMP's or WebP's size is compared with what its header
says. Standard library only, so both ``app.io`` (at add time) and ``vellum validate`` (on the
file as it is now) use it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TAIL = 64  # bytes at the end of a JPEG searched for its end-of-image marker first
_CHUNK = 1 << 20


def truncated_image(path: str | Path) -> str | None:
    """Why an image file is cut short or broken in its structure (``"is a truncated PNG
    (...)"``, to follow the file's name in a sentence), or None when it is whole or not a
    PNG, JPEG, BMP or WebP file. Raises ``OSError`` when it cannot be read."""
    with open(path, "rb") as f:
        head = f.read(64)
        size = f.seek(0, 2)
        if len(head) >= 2 and PNG_SIGNATURE.startswith(head[:8]):
            return _png(f, size)
        if head[:3] == b"\xff\xd8\xff":
            return _jpeg(f, size)
        if head[:2] == b"BM":
            return _bmp(head, size)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            (riff,) = struct.unpack("<I", head[4:8])
            if size < 8 + riff:
                return f"is a truncated WebP ({size} of the {8 + riff} bytes its header says)"
    return None


def _png(f: BinaryIO, size: int) -> str | None:
    """Walk the chunks from the signature to IEND by their lengths (CRCs are not checked)."""
    if size < len(PNG_SIGNATURE):
        return "is a truncated PNG (cut short inside its signature)"
    pos, first = len(PNG_SIGNATURE), True
    while True:
        if pos == size:
            what = "IHDR header" if first else "IEND chunk"
            return f"is a truncated PNG (its {what} is missing)"
        f.seek(pos)
        hdr = f.read(8)
        if len(hdr) < 8:
            return f"is a truncated PNG (cut short inside a chunk header at byte {pos})"
        length, kind = struct.unpack(">I4s", hdr)
        if length > 0x7FFFFFFF or not kind.isalpha() or (first and kind != b"IHDR"):
            return f"is a damaged PNG (no PNG chunk at byte {pos})"
        name = kind.decode("ascii")
        end = pos + 12 + length
        if end > size:
            what = "image data" if kind == b"IDAT" else f"{name} chunk"
            return f"is a truncated PNG (it ends inside its {what}, at byte {size})"
        if kind == b"IEND":
            return None
        pos, first = end, False


def _jpeg(f: BinaryIO, size: int) -> str | None:
    """The header segments up to the first start-of-scan must lie within the file, and an
    end-of-image marker must follow that scan (data appended after it is allowed)."""
    scan = _jpeg_scan_start(f, size)
    if scan is None:
        return "is a truncated JPEG (cut short inside its headers, before the image data)"
    f.seek(max(scan, size - _TAIL))
    if b"\xff\xd9" in f.read():
        return None
    f.seek(scan)
    last = b""
    while block := f.read(_CHUNK):
        if b"\xff\xd9" in last + block:
            return None
        last = block[-1:]
    return "is a truncated JPEG (its end-of-image marker is missing)"


def _jpeg_scan_start(f: BinaryIO, size: int) -> int | None:
    """Offset of the first scan's entropy-coded data, skipping header segments by their
    lengths; None when the headers are cut short or end (EOI) before any scan."""
    pos = 2
    while pos + 2 <= size:
        f.seek(pos)
        seg = f.read(4)
        if seg[0] != 0xFF:
            return None
        marker = seg[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9 or len(seg) < 4:
            return None
        (length,) = struct.unpack(">H", seg[2:4])
        if length < 2 or pos + 2 + length > size:
            return None
        if marker == 0xDA:
            return pos + 2 + length
        pos += 2 + length
    return None


def _bmp(head: bytes, size: int) -> str | None:
    """An uncompressed BMP must hold the rows its header promises."""
    if len(head) < 18:
        return "is a truncated BMP (cut short inside its header)"
    offset, header_size = struct.unpack("<II", head[10:18])
    if header_size < 40:
        return None  # an OS/2 bitmap (or not a BMP): not checked
    if len(head) < 34:
        return "is a truncated BMP (cut short inside its header)"
    width, height, _planes, bits, compression = struct.unpack("<iiHHI", head[18:34])
    if compression not in (0, 3) or width <= 0 or bits not in (1, 4, 8, 16, 24, 32):
        return None
    need = offset + (width * bits + 31) // 32 * 4 * abs(height)
    if size < need:
        return f"is a truncated BMP ({size} of the {need} bytes its header says)"
    return None
