"""Write a project as an Ultralytics YOLO dataset (see :mod:`app.io.yolo`).

``OUT/data.yaml`` (``names`` by class index in schema order, the splits, ``kpt_shape`` and
``flip_idx`` for pose), ``OUT/labels/<split>/<name>.txt`` one per image (an empty file for an
image without shapes: a background image), ``OUT/images/<split>/<name>`` only with
``--with-images``. Video frames that show shapes (a track's interpolated frames included) are
entries ``<video stem>_<frame:06d>.png``. Coordinates as :mod:`app.io.yolo.common` says,
clipped to the image. Everything is written all or none (:class:`StagedOutput`).
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from app.core.annotations import Annotation
from app.core.errors import VellumError
from app.core.media import MediaItem, MediaKind
from app.io.yolo.common import TASK_COMMENT, TASKS, fmt, safe_part, yaml_str

_LEFT_RIGHT = (("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT"), ("l_", "r_"),
               ("L_", "R_"), ("_l", "_r"), ("_L", "_R"))


@dataclass
class _Entry:
    item: MediaItem
    frame: int | None
    name: str  # file name of the image under images/<split>/ (posix, maybe with a folder)
    anns: list[Annotation] = field(default_factory=list)
    split: str = "train"


def parse_split(text: str | None) -> list[tuple[str, float]]:
    """``train=0.8,val=0.2`` as (name, share) pairs, shares summing to 1."""
    if not text:
        return [("train", 1.0)]
    out: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name) or not (
                math.isfinite(share) and share >= 0) or name in (n for n, _ in out):
            raise VellumError(f"--split {text} is not NAME=SHARE,NAME=SHARE (e.g. "
                              "train=0.8,val=0.2) with distinct plain names and shares >= 0.")
        out.append((name, share))
    total = sum(s for _, s in out)
    if total <= 0:
        raise VellumError(f"--split {text} gives every split a share of 0.")
    return [(n, s / total) for n, s in out]


def assign(keys: list[str], splits: list[tuple[str, float]], seed: int) -> dict[str, str]:
    """Each unit key's split: a seeded shuffle of the sorted keys, cut by the shares
    (largest remainders), so the same keys and seed give the same split everywhere."""
    order = sorted(keys)
    random.Random(seed).shuffle(order)
    n = len(order)
    exact = [s * n for _, s in splits]
    counts = [int(math.floor(e)) for e in exact]
    rest = sorted(range(len(splits)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in rest[:n - sum(counts)]:
        counts[i] += 1
    out: dict[str, str] = {}
    at = 0
    for (name, _), c in zip(splits, counts):
        for k in order[at:at + c]:
            out[k] = name
        at += c
    return out


def flip_index(names: tuple[str, ...]) -> list[int]:
    """Ultralytics' ``flip_idx`` from point names: a left point swaps with its right twin."""
    out = list(range(len(names)))
    pos = {n: i for i, n in enumerate(names)}
    for i, n in enumerate(names):
        for a, b in _LEFT_RIGHT:
            for x, y in ((a, b), (b, a)):
                if x in n and n.replace(x, y, 1) in pos:
                    out[i] = pos[n.replace(x, y, 1)]
                    break
            else:
                continue
            break
    return out


class _Writer:
    def __init__(self, doc: Any, out: Path, task: str, notes: list[str]) -> None:
        self.doc, self.out, self.task, self.notes = doc, out, task, notes
        self.index = {c.id: i for i, c in enumerate(doc.schema.classes)}
        self.left: Counter[str] = Counter()
        self.clipped = 0
        kept = doc.schema.foreign.get("yolo") if isinstance(doc.schema.foreign, dict) else None
        self.kept = kept if isinstance(kept, dict) else {}
        self.k = 0
        self.dim = 3
        if task == "pose":
            self._pose_shape()

    # ------------------------------------------------------------------ pose
    def _pose_shape(self) -> None:
        sizes = [len(c.skeleton.points) for c in self.doc.schema.classes if c.skeleton]
        self.k = max(sizes, default=0)
        kept = self.kept.get("kpt_shape")
        if isinstance(kept, list) and len(kept) == 2 and kept[0] == self.k and kept[1] in (2, 3):
            self.dim = int(kept[1])
        if len(set(sizes)) > 1:
            self.notes.append(f"YOLO pose holds one kpt_shape for the whole dataset: skeletons "
                              f"of {sorted(set(sizes))} points were padded to {self.k} with "
                              "unlabelled points.")

    def flip(self) -> list[int]:
        kept = self.kept.get("flip_idx")
        if isinstance(kept, list) and len(kept) == self.k:
            return [int(v) for v in kept]
        cls = next((c for c in self.doc.schema.classes
                    if c.skeleton and len(c.skeleton.points) == self.k), None)
        return flip_index(cls.skeleton.points) if cls else list(range(self.k))

    # ------------------------------------------------------------------ geometry
    def _xy(self, x: float, y: float, w: int, h: int) -> str:
        nx, ny = x / w, y / h
        cx, cy = min(max(nx, 0.0), 1.0), min(max(ny, 0.0), 1.0)
        if (cx, cy) != (nx, ny):
            self.clipped += 1
        return f"{fmt(cx)} {fmt(cy)}"

    def _box(self, bbox: tuple[float, ...], w: int, h: int) -> str:
        x0, y0, bw, bh = bbox
        x1, y1 = min(max(x0, 0.0), w), min(max(y0, 0.0), h)
        x2, y2 = min(max(x0 + bw, 0.0), w), min(max(y0 + bh, 0.0), h)
        if (x1, y1, x2, y2) != (x0, y0, x0 + bw, y0 + bh):
            self.clipped += 1
        return (f"{fmt((x1 + x2) / 2 / w)} {fmt((y1 + y2) / 2 / h)} "
                f"{fmt((x2 - x1) / w)} {fmt((y2 - y1) / h)}")

    def _ring(self, points: Any, w: int, h: int) -> str:
        return " ".join(self._xy(float(p[0]), float(p[1]), w, h) for p in points)

    def line(self, a: Annotation, w: int, h: int) -> str | None:
        """The label line of ``a`` for this task (None: left out, counted in a note)."""
        kind = a.kind
        if kind in ("tag", "event"):
            self.left[f"{_plural(kind)} (YOLO holds no classifications)"] += 1
            return None
        cls = self.index.get(a.class_id) if a.class_id is not None else None
        if cls is None:
            self.left["shapes without a class"] += 1
            return None
        body = getattr(self, "_" + self.task)(a, kind, w, h)
        return None if body is None else f"{cls} {body}"

    def _detect(self, a: Annotation, kind: str, w: int, h: int) -> str | None:
        if kind != "box":
            self.left[f"{_plural(kind)} written as their axis-aligned box"
                      " (detect holds boxes)"] += 1
        s = a.shape
        return self._box(s.object_bbox() if kind == "keypoints" else s.bbox(), w, h)

    def _segment(self, a: Annotation, kind: str, w: int, h: int) -> str | None:
        s = a.shape
        if kind in ("box", "rotated_box"):
            return self._ring(s.corners(), w, h)
        if kind == "polygon":
            if s.holes:
                self.left["polygon holes (YOLO segments have none; the outline was kept)"] += 1
            if s.parts:
                self.left["further parts of multi-part polygons (YOLO writes one outline "
                          "per object)"] += 1
            return self._ring(s.exterior, w, h)
        if kind == "mask":
            from app.core.rle import decode
            from app.inference.masks import mask_to_polygons

            polys = mask_to_polygons(decode(s.rle))
            if not polys:
                self.left["empty masks"] += 1
                return None
            if len(polys) > 1 or any(p.holes for p in polys):
                self.left["mask pieces or holes beyond the largest outline"] += 1
            best = max(polys, key=lambda p: abs(_area(p.exterior)))
            return self._ring(best.exterior, w, h)
        self.left[f"{_plural(kind)} (segment holds outlines)"] += 1
        return None

    def _obb(self, a: Annotation, kind: str, w: int, h: int) -> str | None:
        s = a.shape
        kept = a.foreign.get("yolo") if isinstance(a.foreign, dict) else None
        if isinstance(kept, dict) and kept.get("shape") == s.to_json() and isinstance(
                kept.get("obb"), str):
            return kept["obb"]  # corners as imported, unedited
        if kind in ("box", "rotated_box"):
            return self._ring(s.corners(), w, h)
        if kind in ("polygon", "mask"):
            self.left[f"{_plural(kind)} written as the corners of their axis-aligned box "
                      "(obb holds rotated boxes)"] += 1
            return self._ring(_corners(s.bbox()), w, h)
        self.left[f"{_plural(kind)} (obb holds rotated boxes)"] += 1
        return None

    def _pose(self, a: Annotation, kind: str, w: int, h: int) -> str | None:
        if kind != "keypoints":
            self.left[f"{_plural(kind)} (pose holds keypoints)"] += 1
            return None
        s = a.shape
        parts = [self._box(s.object_bbox(), w, h)]
        pts = list(s.points)
        pts += [(0.0, 0.0, 0)] * (self.k - len(pts))
        for x, y, v in pts[:self.k]:
            if v:
                xy = self._xy(x - 0.5, y - 0.5, w, h)  # COCO-style pixel index, as Ultralytics
            else:
                xy = f"{fmt(x / w)} {fmt(y / h)}"
            parts.append(xy + (f" {int(v)}" if self.dim == 3 else ""))
        if self.dim == 2 and any(v == 1 for _, _, v in pts):
            self.left["occluded keypoints written as visible (the dataset's kpt_shape has no "
                      "visibility)"] += 1
        if s.region is not None:
            self.left["keypoint outlines (pose holds a box and points)"] += 1
        return " ".join(parts)


def _stem(name: str) -> str:
    """What two entries must not share: their label file (the name without extension)."""
    return str(PurePosixPath(name).with_suffix("")).lower()


def _plural(kind: str) -> str:
    return {"keypoints": "keypoint sets", "box": "boxes", "rotated_box": "rotated boxes",
            "tag": "tags", "event": "events"}.get(kind, kind + "s")


def _area(ring: Any) -> float:
    pts = [(float(p[0]), float(p[1])) for p in ring]
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]))


def _corners(b: tuple[float, ...]) -> list[tuple[float, float]]:
    x, y, w, h = b
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def _entries(doc: Any, notes: list[str]) -> tuple[list[_Entry], dict[str, str]]:
    """One entry per image and per video frame with shapes; the unit key (for the split)
    of every entry's media item."""
    from app.io.coco.video_frames import track_frames

    entries: list[_Entry] = []
    units: dict[str, str] = {}
    taken: set[str] = set()
    skipped = 0
    for item in doc.media():
        if item.kind is MediaKind.IMAGE:
            anns = [a for a in doc.annotations(item.id)]
            name = safe_part(item.file_name)
            if _stem(name) in taken:  # one label file per stem: a folder of the project path
                parent = safe_part(PurePosixPath(item.path).parent.name or "_")
                name, n = f"{parent}/{name}", 2
                while _stem(name) in taken:
                    name = f"{parent}_{n}/{safe_part(item.file_name)}"
                    n += 1
            taken.add(_stem(name))
            entries.append(_Entry(item, None, name, anns))
            units[item.id] = item.path
        elif item.kind is MediaKind.VIDEO:
            stored = doc.annotations(item.id, all_frames=True)
            by_frame: dict[int, list[Annotation]] = {}
            for a in stored:
                if a.frame is None:
                    by_frame.setdefault(-1, []).append(a)
                elif not a.outside:
                    by_frame.setdefault(a.frame, []).append(a)
            for a in track_frames(doc, item, stored):
                by_frame.setdefault(a.frame, []).append(a)
            media_level = by_frame.pop(-1, [])
            if media_level:
                notes.append(f"{len(media_level)} tag(s) or event(s) on whole videos were "
                             "left out (YOLO holds no classifications).")
            stem = safe_part(PurePosixPath(item.file_name).stem)
            for f in sorted(by_frame):
                name = f"{stem}_{f:06d}.png"
                taken.add(_stem(name))
                entries.append(_Entry(item, f, name, by_frame[f]))
            units[item.id] = item.path
        else:
            skipped += 1
    if skipped:
        notes.append(f"{skipped} volume(s) were left out (YOLO holds 2D images).")
    return entries, units


def _yaml(task: str, splits: list[str], names: list[str], writer: _Writer) -> str:
    lines = [f"{TASK_COMMENT}{task}"]
    present = splits if "val" in splits else splits + ["val"]
    for s in present:
        lines.append(f"{s}: images/{s if s in splits else splits[0]}")
    lines.append("names:")
    lines += [f"  {i}: {yaml_str(n)}" for i, n in enumerate(names)]
    if task == "pose":
        lines.append(f"kpt_shape: [{writer.k}, {writer.dim}]")
        lines.append(f"flip_idx: [{', '.join(map(str, writer.flip()))}]")
    ours = {"path", "train", "val", "test", "names", "nc", "kpt_shape", "flip_idx"} | set(splits)
    kept = writer.kept.get("yaml")
    for key, text in (kept.items() if isinstance(kept, dict) else ()):
        if key not in ours and isinstance(text, str):
            lines.append(text)
    return "\n".join(lines) + "\n"


def export_yolo(doc: Any, out: str | Path, *, task: str = "detect", split: str | None = None,
                seed: int = 0, with_images: bool = False, overwrite: bool = False,
                progress: Any = None, cancelled: Any = None, notes: list[str] | None = None
                ) -> dict[str, Any]:
    """Write ``doc`` as a YOLO dataset in folder ``out`` (see the module doc)."""
    from app.io.outputs import StagedOutput, inside, prepare_folder, prepare_outputs

    notes = notes if notes is not None else []
    progress = progress or (lambda *a, **k: None)
    cancelled = cancelled or (lambda: False)
    if task not in TASKS:
        raise VellumError(f"--task {task} is not one of {', '.join(TASKS)}.")
    splits = parse_split(split)
    root = prepare_folder(out, doc)
    entries, units = _entries(doc, notes)
    chosen = assign(list(dict.fromkeys(units.values())), splits, seed)
    writer = _Writer(doc, root, task, notes)
    files: dict[Path, str] = {}
    images: list[tuple[_Entry, Path]] = []
    tracked = attributed = boxes = 0
    for n, e in enumerate(entries):
        if cancelled():
            raise VellumError(f"Export to {out} was cancelled; nothing was written.", out)
        progress(n, len(entries), e.name)
        e.split = chosen[units[e.item.id]]
        w, h = e.item.width, e.item.height
        rows = []
        for a in e.anns:
            row = writer.line(a, w, h)
            if row is not None:
                rows.append(row)
                tracked += a.track_id is not None
                attributed += bool(a.attributes)
        boxes += len(rows)
        stem = str(PurePosixPath(e.name).with_suffix(".txt"))
        files[inside(root, Path("labels", e.split, *PurePosixPath(stem).parts))] = \
            "".join(r + "\n" for r in rows)
        if with_images:
            images.append((e, inside(root, Path("images", e.split,
                                                *PurePosixPath(e.name).parts))))
    used = [s for s, _ in splits if s in {e.split for e in entries}] or [splits[0][0]]
    files[inside(root, Path("data.yaml"))] = _yaml(
        task, used, [c.name for c in doc.schema.classes], writer)
    prepare_outputs([*files, *(t for _, t in images)], overwrite=overwrite, doc=doc)
    _notes(writer, tracked, attributed, notes)
    with StagedOutput(root) as stage:
        for target, text in files.items():
            stage.write_text(target, text)
        _write_images(doc, stage, images, progress, cancelled, out)
    progress(len(entries), len(entries))
    counts = Counter(e.split for e in entries)
    return {"entries": len(entries), "objects": boxes, "splits": dict(counts),
            "images": len(images), "classes": len(doc.schema.classes)}


def _notes(writer: _Writer, tracked: int, attributed: int, notes: list[str]) -> None:
    for what, n in sorted(writer.left.items()):
        notes.append(f"{n} {what}.")
    if writer.clipped:
        notes.append(f"{writer.clipped} shape(s) reaching outside their image were clipped to "
                     "it (YOLO coordinates lie in [0, 1]).")
    if tracked:
        notes.append(f"{tracked} track shape(s) were written as separate objects per frame "
                     "(YOLO holds no tracks).")
    if attributed:
        notes.append(f"The attributes of {attributed} shape(s) were left out (YOLO holds "
                     "classes only).")


def _write_images(doc: Any, stage: Any, images: list[tuple[_Entry, Path]], progress: Any,
                  cancelled: Any, out: Any) -> None:
    import cv2

    from app.io.video import open_video

    videos: dict[str, list[tuple[int, Path]]] = {}
    for n, (e, target) in enumerate(images):
        if e.frame is None:
            src = doc.media_path(e.item)
            try:
                copy = shutil.copyfile(src, stage.path(target))
                with open(copy, "rb") as fh:  # durable before the rename, as staged text is
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise VellumError(f"Cannot copy {src} into the export ({exc.strerror or exc});"
                                  " nothing was written.", src) from exc
        else:
            videos.setdefault(e.item.id, []).append((e.frame, target))
    done = 0
    for media_id, frames in videos.items():
        item = doc.media_item(media_id)
        path = doc.media_path(item)
        with open_video(path) as video:
            for f, target in sorted(frames):
                if cancelled():
                    raise VellumError(f"Export to {out} was cancelled; nothing was written.",
                                      out)
                if f >= video.frame_count:
                    raise VellumError(f"Frame {f} of {path} cannot be decoded (the file has "
                                      f"{video.frame_count} readable frames); nothing was "
                                      "written.", path)
                ok, buf = cv2.imencode(".png", cv2.cvtColor(video.frame(f), cv2.COLOR_RGB2BGR))
                if not ok:
                    raise VellumError(f"Cannot encode frame {f} of {path} as PNG.", path)
                stage.write_bytes(target, buf.tobytes())
                done += 1
                progress(done, len(images), "frames")
