"""``vellum segment``, ``vellum track`` and ``vellum models import|list|pack|doctor``.

Boxes are always ``X Y W H`` in continuous pixel coordinates (corners ``(X, Y)`` and
``(X + W, Y + H)``); frame indices are 0-based in presentation order. Nothing here downloads:
models come from ``vellum models import PATH``. Heavy libraries load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli_registry import CommandRegistry, Group
from app.core.errors import BadInputError, ModelError

EXIT_OK, EXIT_ERROR, EXIT_PROBLEMS = 0, 1, 3


def _box(values: list[float], what: str) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in values)
    if w <= 0 or h <= 0:
        raise BadInputError(f"The {what} box needs a positive width and height (got W={w:g}, "
                            f"H={h:g}).")
    return x, y, w, h


def _write_mask_png(path: Path, mask: Any) -> None:
    import cv2
    import numpy as np

    from app.io.atomic import atomic_write

    ok, buf = cv2.imencode(".png", np.where(mask, 255, 0).astype(np.uint8))
    if not ok:
        raise BadInputError(f"Cannot encode {path} as PNG.", path)
    with atomic_write(path, "wb") as f:
        f.write(buf.tobytes())


def _print_json(obj: Any, indent: int | None = 2) -> None:
    """``obj`` as JSON on standard output, then a newline (``--json``)."""
    json.dump(obj, sys.stdout, indent=indent)
    sys.stdout.write("\n")


def _is_project(path: str) -> bool:
    p = Path(path)
    return p.suffix == ".vellum" and p.is_file() or (p / "project.vellum").is_file()


def cmd_segment(args: argparse.Namespace) -> int:
    from app.inference.sam import SamSession
    from app.io.images import read_image
    from app.progress import terminal_progress

    if _is_project(args.image):
        return _segment_project(args)
    if args.output is None:
        raise BadInputError("Give the mask file to write with -o MASK.png.")
    from app.io.outputs import prepare_output

    out = prepare_output(args.output, formats=(".png",), overwrite=args.overwrite,
                         inputs=[args.image])
    image = read_image(args.image)
    box = _box(args.box, "segment") if args.box else None
    points = [tuple(p) for p in args.point] + [tuple(p) for p in args.negative]
    labels = [1] * len(args.point) + [0] * len(args.negative)
    if box is None and not points:
        raise BadInputError("Give a prompt: --box X Y W H and/or --point X Y.")
    with SamSession(args.model) as sam:
        with terminal_progress("Encoding", unit="image") as progress:
            progress(0, 1, Path(args.image).name)
            sam.set_image(image)
            progress(1, 1)
        answer = sam.predict(box=box, points=points, labels=labels).best()
        _write_mask_png(out, answer.mask)
        device = sam.device
    if args.json:
        print(json.dumps({"mask": str(out), "pixels": int(answer.mask.sum()),
                          "score": round(answer.score, 4), "source": answer.source,
                          "device": device}))
    else:
        print(f"Wrote {out}: {int(answer.mask.sum())} pixels inside, predicted IoU "
              f"{answer.score:.3f} ({answer.source} on {device})")
    return EXIT_OK


def _segment_project(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.core.media import MediaKind
    from app.core.shapes import Box
    from app.inference.prelabel import find_media, segment_in_project
    from app.inference.sam import SamSession
    from app.io.images import require_size

    box = Box(*_box(args.box, "segment")) if args.box else None
    points = [tuple(p) for p in args.point] + [tuple(p) for p in args.negative]
    labels = [1] * len(args.point) + [0] * len(args.negative)
    if box is None and not points:
        raise BadInputError("Give a prompt: --box X Y W H and/or --point X Y.")
    slice_ = (args.slice[0], int(args.slice[1])) if args.slice else None
    window = tuple(args.window) if args.window else None
    with Document.open(args.image) as doc, SamSession(args.model) as sam:
        item = find_media(doc, args.media)
        if item.kind is MediaKind.IMAGE:  # replaced or rewritten since it was added: say so
            require_size(doc.media_path(item), item.width, item.height)
        command, score = segment_in_project(doc, sam, item, box, points, labels, args.frame,
                                            slice_, args.class_name, args.as_ == "polygon",
                                            window)
        doc.execute(command)
        where = (f" frame {args.frame}" if args.frame is not None else "") + (
            f" slice {slice_[0]}={slice_[1]}" if slice_ else "")
    print(f"Segmented {item.name}{where} with {args.model} (predicted IoU {score:.3f})")
    return EXIT_OK


def _track_project(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.core.shapes import Box
    from app.inference.prelabel import TrackWriter, find_media
    from app.inference.tracking import open_tracker, track_steps
    from app.progress import terminal_progress

    boxes = [_box(b, "track") for b in args.box]
    with Document.open(args.video) as doc:
        item = find_media(doc, args.media)
        path = doc.media_path(item)
        reader = open_video(str(path))
        try:
            count = int(reader.frame_count)
            if not 0 <= args.start < count:
                raise BadInputError(f"{item.name} has frames 0 to {count - 1}; --start "
                                    f"{args.start} is outside them.", path)
            _check_end(args, str(path))
            for n, box in enumerate(boxes):  # one track per --box, each as its own run
                tracker = open_tracker(args.model)
                found: list[Any] = []
                writer = TrackWriter(doc, item, Box(*box), args.start, tracker.model_id,
                                     args.class_name)
                # committed in steps (at least every 100 frames), so that a run that dies
                # keeps what it did; each step is one undoable command
                label = "Tracking" if len(boxes) == 1 else f"Tracking {n + 1}/{len(boxes)}"
                with terminal_progress(label, unit="frame") as progress:
                    for step in track_steps(reader, box, args.start, args.end, args.backward,
                                            tracker, lost=args.lost, progress=progress):
                        found += step.done
                        command = writer.command(step.done, step.pending, final=step.last)
                        if command is not None:
                            doc.execute(command)
                steps = writer.steps
                print(f"Tracked {item.name} over {len(found)} frames with {tracker.model_id}"
                      + _states_summary(found)
                      + (" (one undoable step)" if steps == 1 else
                         f" ({steps} undoable steps)"))
        finally:
            close = getattr(reader, "close", None)
            if callable(close):
                close()
    return EXIT_OK


def _check_end(args: argparse.Namespace, video: str) -> None:
    if args.end is not None and (args.backward and args.end > args.start
                                 or not args.backward and args.end < args.start):
        direction = "backward" if args.backward else "forward"
        raise BadInputError(f"--end {args.end} lies on the wrong side of --start {args.start} "
                            f"for tracking {direction} in {video}.", video)


def _states_summary(found: list[Any]) -> str:
    """``"; 15 occluded (boxes interpolated, flagged for review), 3 outside"`` or ``""``."""
    occluded = sum(t.state == "occluded" for t in found)
    outside = sum(t.state == "outside" for t in found)
    parts = ([f"{occluded} occluded (boxes interpolated, flagged for review)"] if occluded
             else []) + ([f"{outside} outside"] if outside else [])
    return "; " + ", ".join(parts) if parts else ""


def open_video(path: str) -> Any:
    """The project's one video decoder (``app.io.video.open_video``)."""
    try:
        from app.io.video import open_video as opener
    except ImportError as exc:
        raise BadInputError(f"Cannot read {path}: this build has no video decoder "
                            "(app.io.video).", path) from exc
    return opener(path)


def cmd_track(args: argparse.Namespace) -> int:
    from app.inference.tracking import open_tracker, track_steps
    from app.progress import terminal_progress

    if _is_project(args.video):
        return _track_project(args)
    boxes = [_box(b, "track") for b in args.box]
    reader = open_video(args.video)
    count = int(reader.frame_count)
    if not 0 <= args.start < count:
        raise BadInputError(f"{args.video} has frames 0 to {count - 1}; --start {args.start} "
                            "is outside them.", args.video)
    _check_end(args, args.video)
    runs: list[tuple[Any, list[Any]]] = []  # (tracker, boxes found), one per --box
    try:
        for n, box in enumerate(boxes):  # one tracker per object, as its own run would
            tracker = open_tracker(args.model)
            found: list[Any] = []
            label = "Tracking" if len(boxes) == 1 else f"Tracking {n + 1}/{len(boxes)}"
            with terminal_progress(label, unit="frame") as progress:
                for step in track_steps(reader, box, args.start, args.end, args.backward,
                                        tracker, lost=args.lost, progress=progress):
                    found += step.done
            found.sort(key=lambda t: t.frame)
            runs.append((tracker, found))
    finally:
        close = getattr(reader, "close", None)
        if callable(close):
            close()
    tracker = runs[0][0]
    if args.json:
        # "states" runs beside "frames" (same order), so that each frame object keeps exactly
        # its keys; an occluded frame's "box" is the interpolated one, its "lost" stays true
        head = {"video": str(args.video), "model": tracker.model_id, "device": tracker.device}
        if len(runs) == 1:
            found = runs[0][1]
            _print_json({**head, "frames": [t.to_json() for t in found],
                         "lost_policy": args.lost, "states": [t.state for t in found]},
                        indent=None)
        else:
            _print_json({**head, "lost_policy": args.lost, "tracks": [
                {"box": list(box), "frames": [t.to_json() for t in found],
                 "states": [t.state for t in found]}
                for box, (_, found) in zip(boxes, runs)]}, indent=None)
        return EXIT_OK
    for n, (box, (_, found)) in enumerate(zip(boxes, runs)):
        if len(runs) > 1:
            print(f"# track {n + 1}: box " + " ".join(f"{v:g}" for v in box))
        for t in found:
            x, y, w, h = t.box
            print(f"{t.frame:>6}  {x:9.2f} {y:9.2f} {w:8.2f} {h:8.2f}  {t.score:.3f}"
                  + (f"  {t.state}" if t.state != "tracked" else ""))
        print(f"Tracked {len(found)} frames with {tracker.model_id} on {tracker.device}"
              + _states_summary(found), file=sys.stderr)
    return EXIT_OK


def cmd_models_import(args: argparse.Namespace) -> int:
    from app.inference.pack_import import import_models
    from app.inference.packs import models_dir
    from app.progress import terminal_progress

    root = models_dir()
    with terminal_progress("Importing", unit="file") as progress:
        report = import_models(args.path, root, progress=progress)
    for sentence in report.errors:
        print(f"refused: {sentence}", file=sys.stderr)
    for model_id, roles in sorted(report.installed.items()):
        pack = report.packs[model_id]
        state = "complete" if pack.complete else f"still missing {', '.join(pack.missing)}"
        print(f"Installed {model_id} ({', '.join(sorted(roles))}) in {pack.folder}: {state}")
    if not report.installed and not report.errors:
        raise ModelError(f"Nothing to import: {args.path} holds no model file Vellum knows.",
                         args.path)
    return EXIT_ERROR if report.errors else EXIT_OK


def cmd_models_pack(args: argparse.Namespace) -> int:
    from app.inference.pack_export import make_pack
    from app.progress import terminal_progress

    with terminal_progress("Verifying", unit="file") as verify, \
            terminal_progress("Packing", unit="B") as progress:
        report = make_pack(args.folder, args.output, overwrite=args.overwrite,
                           progress=progress, verify_progress=verify)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for pack in report.packs:
        m = pack.manifest
        licences = ", ".join(p.name for p in pack.licences) or "no licence file"
        print(f"  {m.id}: {', '.join(str(m.files[r].name) for r in m.files)} "
              f"(licence {m.licence}: {licences})")
    print(f"Wrote {report.archive} ({report.bytes / 1e6:.1f} MB, {len(report.packs)} "
          f"pack{'s' if len(report.packs) != 1 else ''}, every file verified by SHA-256)")
    print(f"SHA-256 of the archive: {report.sha256}")
    return EXIT_OK


def cmd_models_list(args: argparse.Namespace) -> int:
    from app.inference.doctor import list_models

    listing = list_models()
    if args.json:
        _print_json(listing)
        return EXIT_OK
    print(f"Model folder: {listing['models_dir']}")
    if not listing["models"]:
        print("No models installed (vellum models import PATH).")
    for m in listing["models"]:
        state = "" if m["complete"] else f"  (incomplete: missing {', '.join(m['missing'])})"
        print(f"{m['id']:<16} {m['task']:<8} {m['licence']:<12} {m['device']:<14} "
              f"{', '.join(f['name'] for f in m['files'])}{state}")
        print(f"{'':<16} source: {m['source']}")
    if listing["importable"]:
        print(f"Known packs not installed: {', '.join(listing['importable'])}")
    for e in listing["errors"]:
        print(f"problem: {e}", file=sys.stderr)
    return EXIT_OK


def cmd_models_doctor(args: argparse.Namespace) -> int:
    from app.inference.doctor import doctor, doctor_ok, format_doctor

    report = doctor()
    if args.json:
        _print_json(report)
    else:
        print("\n".join(format_doctor(report)))
    return EXIT_OK if doctor_ok(report) else EXIT_PROBLEMS


def register(cli: CommandRegistry) -> None:
    box_help = "box in continuous pixel coordinates: corners (X, Y) and (X+W, Y+H)"
    p = cli.command("segment", cmd_segment, "segment an object in an image with a SAM model",
                    "Run a Segment Anything model on IMAGE with a box and/or points and write "
                    "the mask as an 8-bit PNG of the image's size (255 inside, 0 outside).\n"
                    "With a PROJECT instead of an image, the answer is written into the "
                    "project (source = the model, score = its predicted IoU): a mask or "
                    "polygons on an image (--media) or video frame (--frame N), or painted "
                    "into the label map of a volume slice (--slice AXIS INDEX).")
    p.add_argument("image", metavar="IMAGE|PROJECT")
    p.add_argument("--model", required=True, metavar="ID", help="installed model id, e.g. "
                   "litemedsam (see 'vellum models list')")
    p.add_argument("--box", nargs=4, type=float, metavar=("X", "Y", "W", "H"), help=box_help)
    p.add_argument("--point", nargs=2, type=float, action="append", default=[],
                   metavar=("X", "Y"), help="a point inside the object (repeatable)")
    p.add_argument("--negative", nargs=2, type=float, action="append", default=[],
                   metavar=("X", "Y"), help="a point outside the object (repeatable)")
    p.add_argument("-o", "--output", metavar="MASK.png", help="the mask to write (IMAGE form; "
                   "never onto a project or its media)")
    p.add_argument("--overwrite", action="store_true", help="replace MASK.png if it exists")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    project = p.add_argument_group("PROJECT form")
    project.add_argument("--media", metavar="NAME", help="media item (id, name or path; "
                         "needed when the project has several)")
    project.add_argument("--frame", type=int, metavar="N", help="video frame (0-based)")
    project.add_argument("--slice", nargs=2, metavar=("AXIS", "INDEX"),
                         help="volume slice: array axis k, j or i and the index along it")
    project.add_argument("--class", dest="class_name", metavar="NAME",
                         help="class of the new object (created if new)")
    project.add_argument("--as", dest="as_", choices=("mask", "polygon"), default="mask",
                         help="on images and frames: store a mask (default) or polygons")
    project.add_argument("--window", nargs=2, type=float, metavar=("W", "L"),
                         help="volume window width and level for the model (default: CT "
                              "soft tissue, else percentiles)")

    p = cli.command("track", cmd_track, "track a box through a video",
                    "Track one object from frame N forward (or --backward) and print a box, "
                    "a score and a state per frame (tracked, occluded or outside). Frame "
                    "indices are 0-based in presentation order. Where the tracker loses the "
                    "object and finds it again, the frames between are occluded (--lost "
                    "occluded, the default): their boxes are interpolated between the last "
                    "confident box and the found one and keep the tracker's low score; they "
                    "are outside only where the object left the picture (its last box touches "
                    "the border) or is never found again (--lost outside: every lost frame). "
                    "With a PROJECT, the result becomes a track of that video: the given box "
                    "is its keyframe, the tracker's boxes its shapes (with their scores), "
                    "occluded frames flagged occluded, an outside keyframe where the object "
                    "leaves; it is written in steps of at most 100 frames, each one undoable "
                    "command, so that a run that dies keeps what it did.")
    p.add_argument("video", metavar="VIDEO|PROJECT")
    p.add_argument("--model", required=True, metavar="ID", help="installed tracker id "
                   "(nanotrack-v2, nanotrack-v3) or 'classical' for OpenCV template matching")
    p.add_argument("--box", nargs=4, type=float, required=True, metavar=("X", "Y", "W", "H"),
                   action="append", help=box_help + ", on frame N; give --box again to track "
                   "several objects in one job (each as its own run would)")
    p.add_argument("--start", type=int, required=True, metavar="N", help="frame holding the box")
    p.add_argument("--end", type=int, metavar="M", help="last frame to track (inclusive; "
                   "default: the video's last frame, or 0 with --backward)")
    p.add_argument("--backward", action="store_true", help="track towards earlier frames")
    p.add_argument("--lost", choices=("occluded", "outside"), default="occluded",
                   help="what a stretch the tracker lost becomes: occluded (interpolated, "
                        "flagged; outside only if the object left the picture or never came "
                        "back; the default) or outside (every lost frame)")
    p.add_argument("--json", action="store_true",
                   help='print {"frames": [{"frame", "box", "score", "lost"}, ...], '
                        '"states": [state of each frame, same order], "lost_policy"}; with '
                        'several --box, {"tracks": [{"box": [x, y, w, h], "frames": [...], '
                        '"states": [...]}, ...]} in the order of the boxes')
    project = p.add_argument_group("PROJECT form (writes a track with source and scores)")
    project.add_argument("--media", metavar="NAME", help="the video (id, name or path; needed "
                         "when the project has several)")
    project.add_argument("--class", dest="class_name", metavar="NAME",
                         help="class of the track (created if new)")

    models = cli.command("models", None, "install and check AI models (offline)",
                         "Model packs live in $VELLUM_MODELS_DIR, else the user data folder "
                         "(vellum/models). Nothing is ever downloaded.")
    group = Group(models, "models_command")
    q = group.add("import", cmd_models_import, "install model files from a file, folder or "
                  ".vellum-models archive", "Verify each file's SHA-256 against the model "
                  "manifests and copy it into the model folder; the source is never changed.")
    q.add_argument("path", metavar="PATH")
    q = group.add("list", cmd_models_list, "list installed models with their licence and "
                  "source")
    q.add_argument("--json", action="store_true")
    q = group.add("pack", cmd_models_pack, "make a verified .vellum-models archive of a folder",
                  "Check every model file of FOLDER by SHA-256 against the model manifests "
                  "(Vellum's own, or a manifest.json in FOLDER for a known family) and write "
                  "one zip archive holding, per pack, its manifest, its files and its licence "
                  "file(s), with SHA256SUMS; 'vellum models import' installs it (from a USB "
                  "stick or a share). A folder with no pack Vellum knows, a file whose SHA-256 "
                  "does not match its manifest or an incomplete pack is refused, and nothing "
                  "is written.")
    q.add_argument("folder", metavar="FOLDER")
    q.add_argument("-o", "--output", required=True, metavar="NAME.vellum-models",
                   help="the archive to write (never onto a project or its media)")
    q.add_argument("--overwrite", action="store_true", help="replace the archive if it exists")
    q = group.add("doctor", cmd_models_doctor, "check the runtime, GPU providers and models",
                  "Probe every execution provider, say why one is not used, detect shadowing "
                  "onnxruntime packages and verify every installed pack. Exit status 3 if "
                  "something is wrong.")
    q.add_argument("--json", action="store_true")


__all__ = ["register", "ModelError"]
