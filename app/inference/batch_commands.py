"""``vellum batch PROJECT --task detect|track|propagate ...``: one model task over many media
as one resumable job (:mod:`app.inference.batch`, tasks in :mod:`app.inference.batch_tasks`).
Heavy libraries load inside the handler."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from app.cli_registry import CommandRegistry
from app.core.errors import BadInputError, ModelError

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130
NOTHING = {"detect": "no image or video", "track": "no open track (its last shape a keyframe, "
           "not outside, before the last frame)", "propagate": "no open mask track (its last "
           "shape a mask keyframe, not outside, before the last frame)"}

DESCRIPTION = """\
Run one model task over many media of PROJECT as one job, on local worker processes
(--workers N; no network socket is opened) or on a Dask cluster (--cluster tcp://HOST:8786).
Workers compute from the media files alone; this process writes every result into the
project, at least every 100 frames, each step with its journal entry in one transaction.

tasks:
  detect     every frame of the chosen videos (units of 100 frames) and every chosen image
             with an object detector (--model ID); boxes with the model as source and score
  track      every open track of the chosen videos (its last shape is a keyframe, not
             outside, not on the last frame) tracked forward from that keyframe with the
             installed tracker (--model ID, default the best installed; --frames N)
  propagate  every open mask track (its last shape is a mask keyframe) carried forward frame
             by frame with a segment-anything model (--model ID; --frames N)

A job killed or stopped with Ctrl+C keeps what it committed: run the same command with
--resume to finish it (nothing is lost or written twice). Without --resume, a new job of a
task whose last job is unfinished is refused, and the same job run again after it finished
writes nothing.

On a cluster, every worker needs this version of Vellum and must see the media files and the
model folder at the same paths as this machine (a shared file system mounted alike)."""


def _items(doc: Any, names: list[str] | None) -> list[Any]:
    from app.inference.prelabel import find_media

    if not names:
        return doc.media()
    out: list[Any] = []
    for name in names:
        item = find_media(doc, name)
        if item not in out:
            out.append(item)
    return out


def _segment_model(root: Any) -> str:
    from app.inference.packs import installed_packs

    packs = [p for p in installed_packs(root)[0]
             if p.complete and p.manifest.task == "segment"]
    if not packs:
        raise ModelError("No segment-anything model is installed for --task propagate "
                         "(vellum models import PATH, then --model ID).")
    return sorted(p.id for p in packs)[0]


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The job's options (JSON; part of its identity) from the command line."""
    from app.inference.packs import models_dir

    root = models_dir()
    opts: dict[str, Any] = {"models_root": str(root)}
    if args.frames is not None:
        if args.frames < 1:
            raise BadInputError(f"--frames needs a positive number of frames (got "
                                f"{args.frames}).")
        opts["frames"] = int(args.frames)
    if args.task == "track":
        from app.inference.tracking import installed_tracker_id

        opts["model"] = args.model or installed_tracker_id(root)
        opts["lost"] = args.lost
    elif args.task == "propagate":
        opts["model"] = args.model or _segment_model(root)
    else:
        if not args.model:
            raise BadInputError("--task detect needs the detector to use: --model ID (see "
                                "'vellum models list').")
        opts["model"] = args.model
        if args.every < 1:
            raise BadInputError(f"--every must be 1 or more, not {args.every}.")
        opts.update({"conf": args.conf, "iou": args.iou, "track": bool(args.track),
                     "classes": _names(args.classes), "every": int(args.every),
                     "class_map": None})
    return opts


def cmd_batch(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.inference import batch
    from app.progress import terminal_progress

    if args.workers is not None and args.workers < 1:
        raise BadInputError(f"--workers needs at least 1 (got {args.workers}).")
    workers = args.workers or max(1, min(8, (os.cpu_count() or 2) // 2))
    task = batch.task_named(args.task)
    options = _options(args)
    with Document.open(args.project) as doc:
        items = _items(doc, args.media)
        job, new = batch.prepare(doc, task, items, options, args.resume)
        if new and not job.units:
            return _report(args, batch.Outcome(job, where="no worker"),
                           f"Nothing to do: {NOTHING[job.task]} in the chosen media.")
        done, _ = batch.journal(doc, job)
        if job.finished is not None or (not new and len(done) == len(job.units)
                                        and not args.resume):
            return _report(args, batch.Outcome(job, skipped=len(done), where="no worker"),
                           f"Nothing to do: this {job.task} job ({job.id[:8]}) already "
                           f"finished on {job.finished or 'an earlier run'}.")
        pool = batch.make_pool(workers, args.cluster)
        with terminal_progress(f"Batch {job.task}", unit="frame") as progress:
            out = batch.run_job(doc, job, task, pool, new=new, progress=progress)
        project = batch.project_arg(doc)
    return _report(args, out, "\n".join(batch.summary_lines(out, project)))


def _report(args: argparse.Namespace, out: Any, text: str) -> int:
    if args.json:
        json.dump(out.to_json(), sys.stdout)
        sys.stdout.write("\n")
    stream = sys.stderr if args.json else sys.stdout
    print(text, file=stream)
    if out.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_ERROR if out.failed else EXIT_OK


def register(cli: CommandRegistry) -> None:
    p = cli.command("batch", cmd_batch, "run detection, tracking or propagation over many "
                    "media as one resumable job", DESCRIPTION)
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--task", required=True, choices=("detect", "track", "propagate"))
    p.add_argument("--media", metavar="NAME", nargs="+", action="extend",
                   help="only these media items (id, name or path; default: all)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: half the CPU cores, at most 8)")
    p.add_argument("--cluster", metavar="tcp://HOST:8786",
                   help="run on the Dask distributed scheduler at this address (needs "
                        "the 'cluster' extra)")
    p.add_argument("--resume", action="store_true",
                   help="finish the task's unfinished job (its own options and units)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    t = p.add_argument_group("task options")
    t.add_argument("--model", metavar="ID", help="installed model id (track: default the best "
                   "installed tracker, else 'classical'; propagate: default the installed "
                   "segment-anything model; detect: required)")
    t.add_argument("--frames", type=int, metavar="N", help="track, propagate: at most N "
                   "frames past each keyframe; detect: the first N frames of each video")
    t.add_argument("--lost", choices=("occluded", "outside"), default="occluded",
                   help="track: what a stretch the tracker lost becomes (as 'vellum track')")
    t.add_argument("--conf", type=float, default=0.25, metavar="P",
                   help="detect: lowest confidence kept (default 0.25)")
    t.add_argument("--iou", type=float, default=0.45, metavar="P",
                   help="detect: IoU above which overlapping boxes are merged (default 0.45)")
    t.add_argument("--classes", nargs="+", metavar="NAME", help="detect: keep only these "
                   "of the model's classes (names, or one comma-separated list: a,b)")
    t.add_argument("--every", type=int, default=1, metavar="K", help="detect: on videos, "
                   "every K-th frame (0, K, 2K, ...; default 1)")
    t.add_argument("--track", action="store_true", help="detect: link detections across "
                   "frames into tracks (one unit per video)")


def _names(given: list[str] | None) -> list[str] | None:
    """``--classes a b`` or ``--classes a,b`` (as ``vellum detect``) as one list."""
    names = [n.strip() for g in given or () for n in g.split(",") if n.strip()]
    return names or None


__all__ = ["register"]
