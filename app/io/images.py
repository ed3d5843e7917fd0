"""Still-image reading: RGB uint8 arrays in stored pixel order.

EXIF orientation is ignored on purpose: coordinates refer to the pixel array as stored, which is
what pycocotools, PIL and most training loaders see. Conversion from OpenCV's BGR happens here.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from app.core.errors import BadInputError, UnsupportedFormatError
from app.core.validate import truncated_image
from app.io.atomic import atomic_write

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".jp2"})


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
    missing)"``), or None. Cheap: the header and the last bytes (see
    :func:`app.core.validate.truncated_image`)."""
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
    img = cv2.imdecode(np.frombuffer(data, np.uint8),
                       cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            raise UnsupportedFormatError(f"{p} is not an image format Vellum reads.", p)
        raise BadInputError(f"{p} is damaged or not really a {p.suffix} image.", p)
    return to_rgb8(img)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` in pixels, from the header where the format allows (PNG, JPEG, BMP,
    GIF), otherwise by decoding. Raises :class:`BadInputError` for unreadable files."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(64 * 1024)
    except OSError as exc:
        raise BadInputError(f"{p} cannot be read ({exc.strerror}).", p) from exc
    size = _header_size(head)
    if size is None:
        img = read_image(p)
        return img.shape[1], img.shape[0]
    return size


def _header_size(head: bytes) -> tuple[int, int] | None:
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return (w, h) if w and h else None
    if head[:6] in (b"GIF87a", b"GIF89a"):
        w, h = struct.unpack("<HH", head[6:10])
        return (w, h)
    if head[:2] == b"BM" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return (w, abs(h))
    if head[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(head):
            if head[i] != 0xFF:
                return None
            marker = head[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", head[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", head[i + 5:i + 9])
                return (w, h) if w and h else None
            i += 2 + length
    return None


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 array as PNG, atomically (temp file then rename)."""
    p = Path(path)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise BadInputError(f"Cannot encode {p} as PNG.", p)
    with atomic_write(p, "wb") as f:
        f.write(buf.tobytes())
