"""Still-image reading: RGB uint8 arrays in stored pixel order.

EXIF orientation is ignored on purpose: coordinates refer to the pixel array as stored, which is
what pycocotools, PIL and most training loaders see. Conversion from OpenCV's BGR happens here.

Before anything is decoded, a file cut short is refused (:mod:`app.core.image_check`) and so is
one whose header claims more than :data:`MAX_IMAGE_PIXELS` (a 100000x100000 TIFF would make
OpenCV assert or allocate 30 GB); decoders run with their own messages hushed
(:mod:`app.io.quiet`), so the caller's one sentence is all a user sees.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from app.core.errors import BadInputError, UnsupportedFormatError
from app.core.image_check import truncated_image
from app.io.atomic import atomic_write
from app.io.quiet import hushed, quiet_opencv

quiet_opencv(cv2)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".jp2"})
#: Largest image Vellum opens, in pixels and along one side: OpenCV's own limits
#: (CV_IO_MAX_IMAGE_PIXELS, CV_IO_MAX_IMAGE_WIDTH/HEIGHT). Vellum does not tile larger ones.
MAX_IMAGE_PIXELS = 1 << 30
MAX_IMAGE_SIDE = 1 << 20
_HEAD = 64 * 1024  # bytes read to find an image's size in its header


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"{path} does not exist.", path) from None
    except OSError as exc:
        raise BadInputError(f"{path} cannot be read ({exc.strerror}).", path) from exc


def _check_complete(data: bytes, path: Path) -> None:
    """Refuse JPEG and PNG files cut short (OpenCV would silently decode half an image)."""
    cut = truncated(path)
    if cut:
        raise BadInputError(f"{path} {cut}.", path)


def truncated(path: str | Path) -> str | None:
    """Why an image file is cut short (e.g. ``"is a truncated JPEG (its end-of-image marker is
    missing)"``), or None. Cheap: its structure only, never its pixels (see
    :func:`app.core.image_check.truncated_image`)."""
    try:
        return truncated_image(path)
    except OSError as exc:
        raise BadInputError(f"{path} cannot be read ({exc.strerror}).", Path(path)) from exc


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """OpenCV array (gray, BGR or BGRA; 8- or 16-bit or float) to RGB uint8."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
        img = ((img - lo) * (255.0 / (hi - lo or 1.0))).clip(0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to an (H, W, 3) RGB uint8 array; :class:`BadInputError` naming the
    file when it is missing, truncated or not an image."""
    p = Path(path)
    data = _read_bytes(p)
    if not data:
        raise BadInputError(f"{p} is empty (0 bytes).", p)
    _check_complete(data, p)
    claimed = _header_size(data[:_HEAD])
    if claimed is not None:
        _check_pixels(claimed, p)
    try:
        with hushed():
            img = cv2.imdecode(np.frombuffer(data, np.uint8),
                               cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error:  # OpenCV asserts on sizes and layouts it refuses
        img = None
    if img is None:
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            raise UnsupportedFormatError(f"{p} is not an image format Vellum reads.", p)
        raise BadInputError(f"{p} is damaged or not really a {p.suffix} image.", p)
    return to_rgb8(img)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` in pixels, from the header where the format allows (PNG, JPEG, BMP,
    GIF), otherwise by decoding (which also finds a damaged TIFF, WebP or JPEG 2000). Raises
    :class:`BadInputError` for unreadable files and for sizes beyond
    :data:`MAX_IMAGE_PIXELS`."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(_HEAD)
    except OSError as exc:
        raise BadInputError(f"{p} cannot be read ({exc.strerror}).", p) from exc
    size = _header_size(head)
    if size is not None:
        _check_pixels(size, p)
    if size is None or _is_tiff(head):
        img = read_image(p)
        return img.shape[1], img.shape[0]
    return size


def require_size(path: str | Path, width: int, height: int) -> None:
    """Refuse, in one sentence, an image whose file is no longer the ``width`` x ``height`` it
    was when it was added to a project (replaced or rewritten since)."""
    w, h = image_size(path)
    if (w, h) != (width, height):
        raise BadInputError(f"{path} is {w}x{h} pixels, but it was {width}x{height} when it "
                            "was added to the project: the file has changed since (run "
                            "'vellum validate').", Path(path))


def _check_pixels(size: tuple[int, int], path: Path) -> None:
    w, h = size
    if w * h > MAX_IMAGE_PIXELS or max(w, h) > MAX_IMAGE_SIDE:
        raise BadInputError(f"{path} claims {w}x{h} pixels, more than Vellum opens "
                            f"({MAX_IMAGE_PIXELS:,} pixels, {MAX_IMAGE_SIDE:,} along a side).",
                            path)


def _is_tiff(head: bytes) -> bool:
    return head[:4] in (b"II*\0", b"MM\0*")


def _header_size(head: bytes) -> tuple[int, int] | None:
    """``(width, height)`` as the header states it (PNG, GIF, BMP, JPEG, TIFF), or None when
    the format keeps it elsewhere or the header is cut short."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        w, h = struct.unpack(">II", head[16:24])
        return (w, h) if w and h else None
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        w, h = struct.unpack("<HH", head[6:10])
        return (w, h) if w and h else None
    if head[:2] == b"BM" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return (w, abs(h)) if w > 0 and h else None
    if head[:2] == b"\xff\xd8":
        return _jpeg_size(head)
    if _is_tiff(head):
        return _tiff_size(head)
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker in (0xD8, 0x01, 0xFF) or 0xD0 <= marker <= 0xD7:
            i += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", head[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", head[i + 5:i + 9])
            return (w, h) if w and h else None
        if marker in (0xDA, 0xD9) or length < 2:
            return None
        i += 2 + length
    return None


def _tiff_size(head: bytes) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) of a classic TIFF's first directory, when it
    lies in ``head``."""
    end = "<" if head[:2] == b"II" else ">"
    if len(head) < 8:
        return None
    (ifd,) = struct.unpack(end + "I", head[4:8])
    if ifd + 2 > len(head):
        return None
    (count,) = struct.unpack(end + "H", head[ifd:ifd + 2])
    found: dict[int, int] = {}
    for n in range(count):
        at = ifd + 2 + 12 * n
        if at + 12 > len(head):
            break
        tag, kind = struct.unpack(end + "HH", head[at:at + 4])
        if tag in (256, 257) and kind in (3, 4):
            fmt = "H" if kind == 3 else "I"
            (found[tag],) = struct.unpack(end + fmt, head[at + 8:at + 8 + struct.calcsize(fmt)])
    w, h = found.get(256), found.get(257)
    return (w, h) if w and h else None


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 array as PNG, atomically (temp file then rename)."""
    p = Path(path)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise BadInputError(f"Cannot encode {p} as PNG.", p)
    with atomic_write(p, "wb") as f:
        f.write(buf.tobytes())
