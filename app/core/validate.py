"""Integrity check of a project, reported in plain words (``vellum validate``)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np

from app.core.document import Document
from app.core.errors import VellumError
from app.core.image_check import truncated_image
from app.core.labelmap import brick_count, unpack_brick
from app.core.media import MediaKind, fingerprint
from app.core.media_damage import volume_damage
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
            if not _regular(path):  # a FIFO or device would block or never end: not opened
                out.append(f"Media file {path} is not a regular file or folder any more (a "
                           "named pipe, device or socket); it was not read.")
                continue
            try:
                if fingerprint(path) != m.fingerprint:
                    out.append(f"Media file {path} has changed since it was added; its labels "
                               "may no longer fit it.")
                if m.kind is MediaKind.IMAGE and path.is_file():
                    cut = truncated_image(path)
                    if cut:
                        out.append(f"Media file {path} {cut}.")
                if m.kind is MediaKind.VOLUME:  # a NIfTI cut short; a damaged DICOM slice
                    out.extend(volume_damage(path, m.foreign, lambda p=path, f=m.fingerprint:
                                             fingerprint(p) == f))
            except (OSError, VellumError) as exc:
                out.append(f"Media file {path} cannot be read ({exc}).")
    return out


def _regular(path: Path) -> bool:
    """Whether ``path`` is a regular file or a folder (checked without opening it)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return True  # let the reading report it
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)
