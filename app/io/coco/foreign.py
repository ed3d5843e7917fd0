"""What a COCO file said that Vellum keeps beside its own records, to give it back on export.

Each record's ``foreign["coco"]`` holds the entry's keys as the file wrote them, less those
Vellum interprets into its own fields (geometry, class, image, flags):

- annotation: its ``id``, ``bbox`` and ``area`` as given (``bbox`` only where it differs from
  the box Vellum would write; where it is that box rounded to a few decimals, as CVAT and
  datumaro write it, only the number of decimals: ``vellum_round``), ``num_keypoints``, ``track_id``/``instance_id``, ``score``
  outside [0, 1], ``caption``, an empty ``segmentation`` as written, and every unknown key;
  plus ``vellum_sha``, a digest of the shape at import (an edited shape gets recomputed
  values), ``vellum_osha`` for a keypoint set's box and region, ``vellum_absent``: the
  standard keys the entry did not have (so an unedited entry gains none), and ``vellum_own``
  where the entry came from Vellum's own export (its hints are written again, so that round
  trips are stable to any depth);
- image: ``id``, ``file_name`` as given, ``license``, ``coco_url``, ``flickr_url``,
  ``date_captured``, ``video_id``/``frame_id``/``frame_index`` and unknown keys;
- category (on the class): ``id``, ``name`` as given, ``supercategory``, ``color`` as given,
  ``keypoints``/``skeleton`` where the class cannot hold them as written, unknown keys, and
  ``vellum_name`` when the class got another name (a repeated or empty name);
- file level (on the schema): ``info``, ``licenses``, ``videos`` of image-sequence datasets
  (CocoVID, TAO, YouTube-VIS converted), ``tracks`` (TAO), other top-level keys (``top``) and
  the files imported (``imports``: SHA-256, name, time).
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from app.core.shapes import (Box, Event, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape,
                             Tag)

COCO = "coco"
SHA, OSHA, ABSENT, NAME = "vellum_sha", "vellum_osha", "vellum_absent", "vellum_name"
COUNTS = "vellum_counts"  # "list" where an RLE came with uncompressed counts
ROUND = "vellum_round"  # the bbox was the computed one rounded to this many decimals
OWN = "vellum_own"  # the entry came from Vellum's own export (it carried vellum_id)
OWN_KEYS = frozenset({SHA, OSHA, ABSENT, NAME, COUNTS, ROUND, OWN})
STANDARD = ("bbox", "area", "segmentation", "iscrowd")

# Keys of an annotation Vellum turns into its own fields (never kept in foreign as such).
ANN_INTERPRETED = frozenset({"image_id", "category_id", "segmentation", "keypoints", "iscrowd",
                             "attributes", "score"})
IMAGE_INTERPRETED = frozenset({"width", "height", "attributes", "tags"})
CATEGORY_INTERPRETED = frozenset({"attributes"})

MAX_COORD = 4.0e8
"""Largest coordinate magnitude accepted (pixels): pycocotools rasterises in C ``int`` after
scaling by 5, so beyond ~4.29e8 no tool can draw the shape; farther values are refused."""


def is_id(value: Any) -> bool:
    """Whether a JSON value can be a COCO id (of an image, video, category or track): a
    number, text, true/false or null, not a list or an object (which cannot be looked up)."""
    return not isinstance(value, (list, dict))


def _value(h: Any) -> int:
    # 62 bits: a small JSON integer (36 bytes in memory, half a hex string's)
    return int.from_bytes(h.digest(), "big") >> 2


def digest(shape: Shape) -> int:
    """Stable 62-bit digest of a shape's geometry, exact to the bit."""
    h = hashlib.blake2b(digest_size=8)
    _feed(h, shape)
    return _value(h)


def object_digest(kp: Keypoints) -> int:
    """Digest of what a keypoint set's COCO ``bbox``/``area``/``segmentation`` come from."""
    h = hashlib.blake2b(digest_size=8)
    h.update(b"object")
    if kp.box is not None:
        _feed(h, kp.box)
    if kp.region is not None:
        _feed(h, kp.region)
    return _value(h)


def _feed(h: Any, s: Shape) -> None:
    h.update(s.kind.encode() + b"|")
    if isinstance(s, Box):
        h.update(struct.pack("<4d", s.x, s.y, s.w, s.h))
    elif isinstance(s, RotatedBox):
        h.update(struct.pack("<5d", s.cx, s.cy, s.w, s.h, s.angle))
    elif isinstance(s, Polygon):
        for group in ((s.exterior,), s.holes, s.parts):
            h.update(struct.pack("<I", len(group)))
            for ring in group:
                h.update(struct.pack("<I", len(ring)) + ring._b)
    elif isinstance(s, Polyline):
        h.update(s.points._b)
    elif isinstance(s, Keypoints):
        h.update(s.points._b)
        if s.box is not None or s.region is not None:
            h.update(object_digest(s).to_bytes(8, "big"))
    elif isinstance(s, Mask):
        h.update(f"{s.rle.height}x{s.rle.width}|".encode() + s.rle.counts.encode())
    elif isinstance(s, Event):
        h.update(struct.pack("<2q", s.start, s.end))
    elif isinstance(s, Tag):
        pass


_SHARED: dict[tuple[str, ...], list[str]] = {}


def absent_keys(keys: tuple[str, ...]) -> list[str]:
    """One shared list per set of absent keys (thousands of entries lack the same ones)."""
    return _SHARED.setdefault(keys, list(keys))


def depth_of(value: Any, limit: int = 64) -> int:
    """Nesting depth of a JSON value, without recursion; stops counting past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > deepest:
            deepest = d
            if deepest > limit:
                return deepest
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


def coco_of(record: Any) -> dict[str, Any]:
    """The ``foreign["coco"]`` dict of a record (empty when it has none)."""
    f = getattr(record, "foreign", None) or {}
    c = f.get(COCO)
    return c if isinstance(c, dict) else {}
