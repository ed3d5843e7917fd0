"""Integrity check of a project, reported in plain words (``vellum validate``)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from app.core.document import Document
from app.core.errors import VellumError
from app.core.labelmap import brick_count, unpack_brick
from app.core.media import fingerprint
from app.core.shapes import shape_from_json


def problems(doc: Document, check_files: bool = True) -> list[str]:
    """Every problem found, one sentence each; empty when the project is sound."""
    out = list(doc.store.integrity_problems())
    if out:
        return out  # the rest reads the database, which SQLite says is damaged
    media = {m.id: m for m in doc.media(include_removed=True)}
    schema = doc.schema
    track_ids = {t.id for m in media for t in doc.tracks(m)}

    for ann_id, media_id, class_id, kind, shape_json, track_id, attrs in (
            doc.store.annotation_rows()):
        where = f"Annotation {ann_id}"
        if media_id not in media:
            out.append(f"{where} belongs to media {media_id}, which is not in the project.")
            continue
        try:
            shape = shape_from_json(json.loads(shape_json))
            json.loads(attrs)
        except ValueError as exc:
            out.append(f"{where} on {media[media_id].name} has unreadable geometry ({exc}).")
            continue
        if shape.kind != kind:
            out.append(f"{where} on {media[media_id].name} says it is a {kind} but holds a "
                       f"{shape.kind}.")
        cls = schema.class_by_id(class_id) if class_id else None
        if class_id and cls is None:
            out.append(f"{where} on {media[media_id].name} has a class that is not in the "
                       "label schema.")
        elif cls and not cls.allows(kind):
            out.append(f"{where} on {media[media_id].name} is a {kind}, which class "
                       f"{cls.name!r} does not allow.")
        if track_id and track_id not in track_ids:
            out.append(f"{where} on {media[media_id].name} belongs to a track that does not "
                       "exist.")
    for m in media.values():
        for info in doc.labelmaps(m.id):
            if info.shape != m.volume_shape:
                out.append(f"Segmentation {info.name!r} of {m.name} is "
                           f"{'x'.join(map(str, info.shape))} voxels but its volume is "
                           f"{'x'.join(map(str, m.volume_shape))}.")
            counts = brick_count(info)
            values = {s.value for s in info.segments}
            for key in doc.store.brick_keys(info.id):
                if not all(0 <= b < n for b, n in zip(key, counts)):
                    out.append(f"Segmentation {info.name!r} of {m.name} has a brick {key} "
                               "outside its volume.")
                    continue
                try:
                    brick = unpack_brick(doc.store.load_brick(info.id, key) or b"", info, key)
                except ValueError as exc:
                    out.append(f"Segmentation {info.name!r} of {m.name}: {exc}.")
                    continue
                stray = set(np.unique(brick).tolist()) - values - {0}
                if stray:
                    out.append(f"Segmentation {info.name!r} of {m.name} holds value(s) "
                               f"{sorted(stray)} that no segment names.")
    if check_files:
        for m in media.values():
            if m.removed:
                continue
            path = doc.media_path(m)
            if not path.exists():
                out.append(f"Media file {path} is missing (run 'vellum relink' with the folder "
                           "it moved to).")
                continue
            try:
                if fingerprint(path) != m.fingerprint:
                    out.append(f"Media file {path} has changed since it was added; its labels "
                               "may no longer fit it.")
                if path.is_file():
                    cut = truncated_image(path)
                    if cut:
                        out.append(f"Media file {path} {cut}.")
            except (OSError, VellumError) as exc:
                out.append(f"Media file {path} cannot be read ({exc}).")
    return out


def truncated_image(path: str | Path) -> str | None:
    """Why an image file is cut short (``"is a truncated JPEG (...)"``), or None when it is
    complete or not a JPEG/PNG. Reads the header and the last bytes; only a JPEG whose last
    64 bytes hold no end-of-image marker is scanned further, past its headers (so that data
    appended after the image, or an EXIF thumbnail's own marker, decide nothing wrongly)."""
    p = Path(path)
    with open(p, "rb") as f:
        head = f.read(8)
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 64))
        tail = f.read()
        if head[:3] == b"\xff\xd8\xff":
            if b"\xff\xd9" in tail:
                return None
            f.seek(0)
            data = f.read()
            scan = _jpeg_scan_start(data)
            if scan is None or data.rfind(b"\xff\xd9", scan) < 0:
                return "is a truncated JPEG (its end-of-image marker is missing)"
            return None
        if head == b"\x89PNG\r\n\x1a\n" and b"IEND" not in tail:
            return "is a truncated PNG (its IEND chunk is missing)"
    return None


def _jpeg_scan_start(data: bytes) -> int | None:
    """Offset of the first start-of-scan marker's data, skipping header segments by their
    lengths; None when the headers themselves are cut short."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker == 0xDA:
            return i + 2 + length
        i += 2 + length
    return None
