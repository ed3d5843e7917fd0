"""MOT Challenge CSV: tracks of a video out and in.

One line per object per frame, ``frame, id, bb_left, bb_top, bb_width, bb_height, conf, class,
visibility`` (the MOT16/17 ground-truth layout; CVAT's "MOT 1.1" and datumaro write the same):

- ``frame`` is **1-based** (MOT's convention): Vellum frame index N is written as N + 1;
- boxes are 1-based too, as the MOT paper states and its readers (the devkit, motmetrics)
  assume: ``bb_left = x + 1`` where ``x`` is Vellum's continuous coordinate, so motmetrics
  reads back exactly Vellum's box; ``pixel_origin=0`` writes ``bb_left = x`` as CVAT and
  datumaro do (and reads their files back right);
- ``conf`` is 1 ("consider"; 0 when the shape has the attribute ``ignored``), or the model's
  score with ``scores=True`` (results files);
- ``class`` is the 1-based line of ``labels.txt`` written beside the file (CVAT's layout);
- ``visibility`` is the shape's ``visibility`` attribute if it has one, else 0 when occluded
  and 1 when not.

Every frame a track shows is written: keyframes, tracker output and interpolated frames alike,
all through :func:`app.core.interpolate.shown_frames`, so the numbers match the window and the
COCO export. Import stores the lines as the track's shapes and keeps as keyframes only the
frames that interpolation between kept neighbours does not reproduce (within 0.01 px), so a
file Vellum wrote comes back with its keyframes; the frame after each run of lines (a gap, or
the end of the track before the end of the video) becomes an ``outside`` keyframe.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.annotations import Annotation, Track
from app.core.commands import Batch, Command, Put, SetSchema
from app.core.document import Document
from app.core.errors import BadInputError, VellumError
from app.core.interpolate import blend, shown_frames
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.schema import PALETTE, LabelClass
from app.core.shapes import Box
from app.io.inputs import require_readable

# The MOT16/17 classes, by their number in the ground truth.
MOT_CLASSES = ("pedestrian", "person on vehicle", "car", "bicycle", "motorbike",
               "non motorized vehicle", "static person", "distractor", "occluder",
               "occluder on the ground", "occluder full", "reflection", "crowd")
TOLERANCE = 0.01  # px: a shape this close to the interpolation of its neighbours is not a key


@dataclass
class MotReport:
    lines: int = 0
    tracks: int = 0
    skipped: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ export
def track_rows(doc: Document, video: MediaItem, label_ids: dict[str | None, int],
               pixel_origin: int = 1, scores: bool = False) -> tuple[list[list[Any]], MotReport]:
    """The MOT lines of one video's tracks (box and rotated-box tracks; others are skipped and
    reported), sorted by frame then id."""
    report = MotReport()
    rows: list[list[Any]] = []
    for n, track in enumerate(doc.tracks(video.id), start=1):
        shapes = doc.track_shapes(track)
        if not shapes:
            continue
        kinds = {a.kind for a in shapes}
        if not kinds <= {"box", "rotated_box"}:
            report.skipped.append(f"track {n} ({', '.join(sorted(kinds))}): MOT holds boxes only")
            continue
        mot_id = int(track.foreign.get("mot", {}).get("id", n))
        report.tracks += 1
        for a in shown_frames(shapes, video.frames):
            frame = a.frame
            x, y, w, h = a.shape.bbox()
            ignored = bool(a.attributes.get("ignored", False))
            conf = (a.score if a.score is not None else 1.0) if scores else (0 if ignored else 1)
            vis = a.attributes.get("visibility")
            if not isinstance(vis, (int, float)) or isinstance(vis, bool):
                vis = 0.0 if a.occluded else 1.0
            rows.append([frame + 1, mot_id, _num(x + pixel_origin), _num(y + pixel_origin),
                         _num(w), _num(h), _num(conf), label_ids.get(a.class_id, -1),
                         _num(float(vis))])
    rows.sort(key=lambda r: (r[0], r[1]))
    report.lines = len(rows)
    return rows, report


def _num(v: float) -> int | float:
    v = float(v)
    if not math.isfinite(v):
        raise VellumError("A box has a coordinate that is not a finite number.")
    return int(v) if v.is_integer() else round(v, 6)


def _sequence_names(videos: list[MediaItem]) -> list[str]:
    """One folder name per video: its file name without extension, never a path (``/``,
    ``..``), unique even on case-blind disks."""
    used: set[str] = set()
    names = []
    for v in videos:
        base = Path(v.name.replace("\\", "/")).stem.replace("/", "_").strip(" .") or "video"
        name, k = base, 2
        while name.lower() in used:
            name, k = f"{base}-{k}", k + 1
        used.add(name.lower())
        names.append(name)
    return names


def export_mot(doc: Document, out: str | Path, video_id: str | None = None,
               pixel_origin: int = 1, scores: bool = False, *,
               overwrite: bool = False) -> dict[str, MotReport]:
    """Write each video's tracks under ``out``: ``out/<video name>/gt/gt.txt`` with
    ``labels.txt`` beside it and a ``seqinfo.ini`` (MOT's sequence folder). When ``out`` ends
    in ``.txt`` and one video is exported, that file is written, with ``labels.txt`` beside.
    All files or none, never onto the project, its media or an existing file unless
    ``overwrite`` (:mod:`app.io.outputs`). Returns a report per video name."""
    from app.io.outputs import StagedOutput, prepare_folder, prepare_outputs

    out = Path(out)
    videos = [m for m in doc.media() if m.kind is MediaKind.VIDEO and (
        video_id is None or video_id in (m.id, m.name, m.path))]
    if not videos:
        raise VellumError(f"{doc.path} has no video{' ' + video_id if video_id else ''} "
                          "to export as MOT.")
    single = out.suffix.lower() == ".txt"
    if single and len(videos) > 1:
        raise VellumError(f"{doc.path} has {len(videos)} videos; give a folder to write one "
                          "MOT sequence per video, or choose one with --video.")
    classes = list(doc.schema.classes)
    label_ids: dict[str | None, int] = {c.id: n for n, c in enumerate(classes, start=1)}
    labels = "".join(f"{c.foreign.get('mot', {}).get('name', c.name)}\n" for c in classes)
    reports: dict[str, MotReport] = {}
    root = out.parent if single else prepare_folder(out, doc)
    names = _sequence_names(videos)
    targets = [out if single else out / name / "gt" / "gt.txt" for name in names]
    prepare_outputs([p for t in targets for p in (t, t.with_name("labels.txt"))]
                    + ([] if single else [t.parent.parent / "seqinfo.ini" for t in targets]),
                    overwrite=overwrite, doc=doc)
    with StagedOutput(root, out) as stage:  # all files or none
        for video, name, target in zip(videos, names, targets):
            rows, report = track_rows(doc, video, label_ids, pixel_origin, scores)
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            stage.write_text(target, buf.getvalue())
            stage.write_text(target.with_name("labels.txt"), labels)
            if not single:
                fps = video.video.avg_fps if video.video else 0.0
                stage.write_text(target.parent.parent / "seqinfo.ini",
                                 f"[Sequence]\nname={name}\nimDir=img1\n"
                                 f"frameRate={round(fps) if fps else 0}\n"
                                 f"seqLength={video.frames}\nimWidth={video.width}\n"
                                 f"imHeight={video.height}\nimExt=.png\n")
            reports[video.name] = report
    return reports


# ------------------------------------------------------------------ import
@dataclass(frozen=True)
class MotLine:
    frame: int  # 0-based Vellum frame index
    track: int
    box: tuple[float, float, float, float]
    conf: float
    label: int
    visibility: float | None


def read_mot(path: str | Path, pixel_origin: int = 1) -> list[MotLine]:
    """Parse a MOT CSV (6 to 10 columns; comma or whitespace separated). Raises
    :class:`BadInputError` naming the file and line on anything malformed; a FIFO or device
    is refused without being opened."""
    path = require_readable(path, what="MOT file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BadInputError(f"Cannot read {path} ({exc.strerror}).", path) from exc
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not a MOT text file (it is not UTF-8 text).",
                            path) from None
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p for p in (line.split(",") if "," in line else line.split())]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise BadInputError(f"{path}, line {n}, is not a MOT line (numbers expected, got "
                                f"{line[:60]!r}).", path) from None
        if len(vals) < 6 or not all(math.isfinite(v) for v in vals):
            raise BadInputError(f"{path}, line {n}, needs at least 6 finite numbers (frame, "
                                "id, left, top, width, height).", path)
        frame, tid, x, y, w, h = vals[:6]
        if frame < 1 or not frame.is_integer() or w < 0 or h < 0:
            raise BadInputError(f"{path}, line {n}: frames start at 1 and boxes cannot have "
                                "a negative size.", path)
        conf = vals[6] if len(vals) > 6 else 1.0
        label = int(vals[7]) if len(vals) > 7 and vals[7] >= 0 else -1
        vis = vals[8] if len(vals) > 8 else None
        out.append(MotLine(int(frame) - 1, int(tid), (x - pixel_origin, y - pixel_origin, w, h),
                           conf, label, vis))
    if not out:
        raise BadInputError(f"{path} holds no MOT lines.", path)
    return out


def _label_names(path: Path) -> list[str]:
    """The class names of the ``labels.txt`` beside ``path`` (one a line), else MOT16's.
    One sentence naming it when it is not text (or a FIFO or device, never opened)."""
    labels = path.with_name("labels.txt")
    if not labels.exists() or labels.is_dir():
        return list(MOT_CLASSES)
    require_readable(labels, what="labels.txt")
    try:
        text = labels.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise BadInputError(f"Cannot read {labels} ({exc.strerror}).", labels) from exc
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        raise BadInputError(f"{labels} is not a list of class names (it is not UTF-8 text).",
                            labels)
    return [s.strip() for s in text.splitlines() if s.strip()]


def _keyframes(frames: list[int], boxes: dict[int, Box]) -> list[int]:
    """The frames to keep as keyframes so that interpolation reproduces every box: the ends
    of every linear stretch, and the first frame of every run of consecutive frames. A run's
    last frame is dropped when it holds its previous key's box (the track holds its last shape
    until the outside marker after the run, or to the end of the video)."""
    keep: list[int] = []
    runs: list[list[int]] = [[frames[0]]]
    for f in frames[1:]:
        (runs[-1].append(f) if f == runs[-1][-1] + 1 else runs.append([f]))
    for run in runs:
        kept = [run[0]]
        n = 1
        while n < len(run):
            best = n
            for m in range(n, len(run)):
                a, b = boxes[kept[-1]], boxes[run[m]]
                if all(_close(blend(a, b, (run[q] - kept[-1]) / (run[m] - kept[-1])),
                              boxes[run[q]]) for q in range(n, m)):
                    best = m
                else:
                    break
            kept.append(run[best])
            n = best + 1
        if len(kept) > 1 and _close(boxes[kept[-2]], boxes[kept[-1]]):
            kept.pop()  # a hold to the run's end: implied
        keep.extend(kept)
    return keep


def _close(a: Any, b: Box) -> bool:
    return all(abs(p - q) <= TOLERANCE for p, q in zip(a.bbox(), b.bbox()))


def import_mot(doc: Document, path: str | Path, video_id: str | None = None,
               pixel_origin: int = 1) -> tuple[Command, MotReport]:
    """The one undoable command that adds a MOT file's tracks to a video of ``doc`` (the only
    video, or ``video_id``: its id, name or path); nothing is written until it runs."""
    path = Path(path)
    videos = [m for m in doc.media() if m.kind is MediaKind.VIDEO]
    if video_id is not None:
        videos = [m for m in videos if video_id in (m.id, m.name, m.path, Path(m.name).stem)]
    if len(videos) != 1:
        raise VellumError(f"{doc.path} has {len(videos)} matching videos; name the one "
                          f"{path.name} belongs to with --video.", path)
    video = videos[0]
    lines = read_mot(path, pixel_origin)
    last = max(line.frame for line in lines)
    if last >= video.frames:
        raise BadInputError(f"{path} has a line on frame {last + 1} but {video.name} has "
                            f"{video.frames} frames.", path)
    names = _label_names(path)
    schema = doc.schema
    classes: dict[int, str | None] = {}
    for label in sorted({line.label for line in lines}):
        if label < 1 or label > len(names):
            classes[label] = None
            continue
        name = names[label - 1]
        cls = schema.class_by_name(name)
        if cls is None:
            cls = LabelClass(name, PALETTE[len(schema.classes) % len(PALETTE)],
                             kinds=("box",), foreign={"mot": {"name": name, "id": label}})
            schema = schema.with_class(cls)
        classes[label] = cls.id
    by_track: dict[int, list[MotLine]] = defaultdict(list)
    for line in lines:
        by_track[line.track].append(line)
    records: list[Any] = []
    report = MotReport(lines=len(lines))
    for tid, rows in sorted(by_track.items()):
        rows.sort(key=lambda r: r.frame)
        frames = [r.frame for r in rows]
        if len(set(frames)) != len(frames):
            raise BadInputError(f"{path}: track {tid} has two lines on one frame.", path)
        labels = {r.label for r in rows}
        class_id = classes[max(labels, key=lambda v: sum(r.label == v for r in rows))]
        track = Track(video.id, class_id, foreign={"mot": {"id": tid}})
        boxes = {r.frame: Box(*r.box) for r in rows}
        by_frame = {r.frame: r for r in rows}
        keys = set(_keyframes(frames, boxes))
        records.append(track)
        for f in frames:
            r = by_frame[f]
            attrs: dict[str, Any] = {}
            if r.visibility is not None and r.visibility not in (0.0, 1.0):
                attrs["visibility"] = r.visibility
            foreign = {"mot": {"conf": r.conf, "class": r.label}}
            if f in keys:
                records.append(Annotation(Place(video.id, f), boxes[f], class_id,
                                          track_id=track.id, attributes=attrs,
                                          occluded=r.visibility is not None and r.visibility < 0.5,
                                          foreign=foreign))
            if f + 1 not in by_frame and f + 1 < video.frames:  # the object leaves the view
                records.append(Annotation(Place(video.id, f + 1), boxes[f], class_id,
                                          track_id=track.id, outside=True))
        report.tracks += 1
    steps: list[Command] = []
    if schema != doc.schema:
        steps.append(SetSchema(schema))
    steps.append(Put(tuple(records), label=f"Import {path.name}"))
    return Batch(tuple(steps), label=f"Import {path.name}"), report


def frames_of(rows: Iterable[list[Any]]) -> set[int]:
    """0-based frame indices that lines were written for (tests, reports)."""
    return {int(r[0]) - 1 for r in rows}
