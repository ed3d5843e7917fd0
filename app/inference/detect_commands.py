"""``vellum detect PROJECT --model ID``: run an installed detector over a project's images,
videos and volume slices and store its boxes (source = the model id, score = its confidence), in undoable steps
of at most :data:`STEP` pictures, so that a run that is killed or interrupted (Ctrl+C) keeps
what it finished. Heavy libraries load inside the handler."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.cli_registry import CommandRegistry
from app.core.errors import BadInputError

STEP = 100  # pictures (images or video frames) per committed step, at most
EXIT_OK, EXIT_INTERRUPTED = 0, 130


class _Steps:
    """Buffers records and commits them, one undoable command per step; a step also stores
    the planned new classes (``schema``) that its boxes are the first to use, so that a class
    the detector never found is never added."""

    def __init__(self, doc: Any, schema: Any, label: str) -> None:
        self.doc, self.schema, self.label = doc, schema, label
        self.records: list[Any] = []
        self.pictures = 0
        self.steps = 0
        self.created: list[str] = []

    def add(self, records: list[Any]) -> None:
        self.records += records
        self.pictures += 1
        if self.pictures >= STEP:
            self.flush()

    def flush(self) -> None:
        from app.core.commands import Batch, Put, SetSchema

        if self.records:
            put = Put(tuple(self.records), label=self.label)
            used = {getattr(r, "class_id", None) for r in self.records}
            new = [c for c in self.schema.classes
                   if c.id in used and self.doc.schema.class_by_id(c.id) is None]
            command: Any = put
            if new:
                schema = self.doc.schema
                for cls in new:
                    schema = schema.with_class(cls)
                command = Batch((SetSchema(schema), put), label=self.label)
            self.doc.execute(command)
            self.created += [c.name for c in new]
            self.steps += 1
        self.records, self.pictures = [], 0


def _classes(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise BadInputError("--classes needs class names separated by commas (e.g. "
                            "--classes person,car).")
    return names


def _keys(item: Any, every: int, axis: str) -> range | None:
    """The frames (video) or slice indices along ``axis`` (volume) to detect on; None for
    an image."""
    kind = str(getattr(item.kind, "value", item.kind))
    if kind == "video":
        return range(0, item.frames, every)
    if kind == "volume":
        shape = item.volume.shape if item.volume is not None else (item.frames, 0, 0)
        return range(0, int(shape["kji".index(axis)]), every)
    return None


def cmd_detect(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.core.media import MediaKind
    from app.inference.detection import iter_detections, load_detector
    from app.inference.detection_records import DetectionRecords, class_map_for
    from app.inference.prelabel import find_media
    from app.progress import terminal_progress

    if args.every < 1:
        raise BadInputError(f"--every needs a whole number of frames of 1 or more (got "
                            f"{args.every}).")
    classes = _classes(args.classes)
    window = tuple(args.window) if args.window else None
    if window is not None and not window[0] > 0:
        raise BadInputError(f"--window needs a positive width (got {window[0]:g}).")
    detector = load_detector(args.model, conf=args.conf, iou=args.iou, classes=classes)
    label = f"Detect with {detector.model_id}"
    seed = "|".join(str(v) for v in (
        "vellum-detect", detector.model_id, detector.pack.files["model"].get("sha256"),
        args.conf, args.iou, ",".join(sorted(c.lower() for c in classes or [])), args.every,
        args.track))
    if args.axis != "k" or window is not None:  # slices of another axis or window: own ids
        seed += f"|{args.axis}|{window}"
    summary: list[dict[str, Any]] = []
    interrupted = False
    with Document.open(args.project) as doc:
        if args.media:
            items = list({m.id: m for m in (find_media(doc, n) for n in args.media)}.values())
        else:
            items = list(doc.media())
        schema, class_map = class_map_for(doc, detector.names, only=classes)
        steps = _Steps(doc, schema, label)
        total = sum(len(_keys(m, args.every, args.axis) or [None]) for m in items)
        done = 0
        with terminal_progress("Detecting", unit="picture") as progress:
            try:
                for item in items:
                    entry = {"id": item.id, "name": item.name, "kind": item.kind.value,
                             "pictures": 0, "detections": 0, "tracks": 0}
                    summary.append(entry)
                    writer = DetectionRecords(doc, item.id, class_map=class_map,
                                              source=detector.model_id, track=args.track,
                                              id_seed=seed, track_conf=args.conf,
                                              axis=args.axis)
                    volume = item.kind is MediaKind.VOLUME
                    for key, found in iter_detections(
                            detector, str(doc.media_path(item)), item.kind.value,
                            _keys(item, args.every, args.axis), source=item.source,
                            geometry=item.volume, axis=args.axis, window=window):
                        records = writer.records({key: found})
                        entry["pictures"] += 1
                        entry["detections"] += sum(1 for r in records
                                                   if getattr(r, "shape", None) is not None
                                                   and not r.outside)
                        entry["tracks"] = writer.tracks_made
                        steps.add(records)
                        done += 1
                        progress(done, total, item.name if key is None else
                                 f"{item.name} {'slice' if volume else 'frame'} {key}")
                    if item.kind is not MediaKind.IMAGE:
                        steps.flush()  # a video's frames (a volume's slices) never share a
                        # step with another item's
                steps.flush()
            except KeyboardInterrupt:
                interrupted = True
                steps.flush()  # what was found is kept; the picture under way is not
    _report(args, detector, summary, steps.created, steps.steps, interrupted)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def _report(args: argparse.Namespace, detector: Any, summary: list[dict[str, Any]],
            created: list[str], steps: int, interrupted: bool) -> None:
    if args.json:
        json.dump({"model": detector.model_id, "device": detector.device,
                   "conf": args.conf, "iou": args.iou, "every": args.every,
                   "track": args.track, "media": summary, "classes_created": created,
                   "steps": steps, "interrupted": interrupted}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for e in summary:
        where = "" if e["kind"] == "image" else (
            f" over {e['pictures']} {'slices' if e['kind'] == 'volume' else 'frames'}")
        tracks = f" in {e['tracks']} tracks" if args.track and e["kind"] == "video" else ""
        print(f"Detected {e['detections']} objects{tracks} on {e['name']}{where} with "
              f"{detector.model_id}")
    if created:
        print(f"New classes: {', '.join(created)}")
    print(f"Stored in {steps} undoable step{'s' if steps != 1 else ''} (device "
          f"{detector.device})" + ("; interrupted: the pictures done so far are kept"
                                   if interrupted else ""),
          file=sys.stderr if interrupted else sys.stdout)


def register(cli: CommandRegistry) -> None:
    p = cli.command(
        "detect", cmd_detect, "detect objects with a YOLO model and store their boxes",
        "Run an installed detector (a YOLO .onnx imported with 'vellum models import FOLDER') "
        "over the project's images, videos and volumes (or those named with --media) and "
        "store each box as an annotation with the model as source and its confidence as "
        "score, so that model output can be reviewed and filtered. Boxes are continuous "
        "pixel coordinates; frames are 0-based in presentation order; a volume is read slice "
        "by slice along array axis k (--axis), each slice windowed to 8-bit (--window; "
        "default CT soft tissue, else percentiles), its boxes stored on that slice. The model's class names map to the "
        "project's classes by name (case-insensitive); a class the project lacks is "
        "created. Results are written in steps of at most 100 pictures, each one undoable "
        "command: a run that dies or is interrupted (Ctrl+C) keeps the steps it finished, and "
        "running the same command again replaces its own earlier boxes instead of adding "
        "more (ids are derived from the model, options, media and frame).")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--model", required=True, metavar="ID",
                   help="installed detector id (see 'vellum models list')")
    p.add_argument("--media", action="extend", nargs="+", metavar="NAME",
                   help="media item (id, name or path); repeatable; default: every image, "
                        "video and volume")
    p.add_argument("--every", type=int, default=1, metavar="K",
                   help="on videos, detect on every K-th frame (0, K, 2K, ...); on volumes "
                        "on every K-th slice (default 1)")
    p.add_argument("--axis", choices=("k", "j", "i"), default="k",
                   help="on volumes, the array axis whose slices are read (default k)")
    p.add_argument("--window", nargs=2, type=float, metavar=("W", "L"),
                   help="on volumes, the window width and level each slice is shown to the "
                        "model with (default: CT soft tissue, else percentiles)")
    p.add_argument("--conf", type=float, default=0.25, metavar="C",
                   help="keep boxes scoring above C (0-1, default 0.25)")
    p.add_argument("--iou", type=float, default=0.45, metavar="I",
                   help="non-maximum suppression: of two boxes of a class overlapping by an "
                        "IoU above I, keep the better (default 0.45)")
    p.add_argument("--classes", metavar="a,b",
                   help="keep only these model classes (case-insensitive); no other class is "
                        "created")
    p.add_argument("--track", action="store_true",
                   help="on videos, join detections across frames into tracks (ByteTrack, "
                        "per class); a track gets an outside keyframe where it is lost")
    p.add_argument("--json", action="store_true",
                   help='print {"model", "device", "media": [{"id", "name", "pictures", '
                        '"detections", "tracks"}], "classes_created", "steps", "interrupted"}')


__all__ = ["register", "cmd_detect"]
