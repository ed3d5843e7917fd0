"""What the labelme reader and writer share: constants, mask PNGs, circles."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, VellumError

KEY = "labelme"
VERSION = "5.5.0"  # the labelme version our files claim to be written by (labelme 5 layout)
SHAPE_KEYS = ("label", "points", "group_id", "description", "shape_type", "flags", "mask")
TOP_KEYS = ("version", "flags", "shapes", "imagePath", "imageData", "imageHeight",
            "imageWidth")
CIRCLE_SIDES = 64
MAX_COORD = 4.0e8
MAX_BYTES = 512 * 1024 * 1024


# ------------------------------------------------------------------ small helpers
def _digest(shape: Any) -> int:
    from app.io.coco.foreign import digest

    return digest(shape)


def _png_bytes(mask: Any) -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".png", mask.astype(np.uint8))
    if not ok:  # pragma: no cover - cv2 encodes any uint8 2D array
        raise VellumError("Cannot encode a mask as PNG.")
    return buf.tobytes()


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, None if ``data`` is no PNG (read before decoding,
    so that a small file claiming a huge image is refused without decoding it)."""
    import struct

    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def _png_mask(text: str, where: str, p: Path, size: tuple[int, int]) -> Any:
    """The boolean array of a base64 PNG of ``size`` (w, h) (non-zero = inside); one
    sentence if unusable."""
    import cv2
    import numpy as np

    try:
        data = base64.b64decode(text, validate=False)
        got = png_size(data)
        if got is not None and got != size:
            raise BadInputError(f"{p}: {where} is a mask of {got[0]}x{got[1]} pixels for a "
                                f"box of {size[0]}x{size[1]}.", p)
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) \
            if got is not None else None
    except (ValueError, TypeError, cv2.error):
        arr = None
    if arr is None:
        raise BadInputError(f"{p}: {where} has a mask that is not a base64 PNG.", p)
    if arr.ndim == 3:
        arr = arr[..., :3].any(axis=2) if arr.shape[2] >= 3 else arr[..., 0]
    return arr != 0


def _circle(c: tuple[float, float], q: tuple[float, float]) -> list[tuple[float, float]]:
    r = math.hypot(q[0] - c[0], q[1] - c[1])
    return [(c[0] + r * math.cos(2 * math.pi * n / CIRCLE_SIDES),
             c[1] + r * math.sin(2 * math.pi * n / CIRCLE_SIDES)) for n in range(CIRCLE_SIDES)]
