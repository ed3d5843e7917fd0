"""Quality commands: ``vellum gold`` (mark gold items), ``vellum score`` (rate an annotator
against them) and ``vellum consensus`` (fuse annotators) - :mod:`app.io.gold`,
:mod:`app.io.consensus`."""

from __future__ import annotations

import argparse
import json
import sys
from textwrap import fill

from app.cli_registry import CommandRegistry

EXIT_OK, EXIT_PROBLEMS = 0, 3


def _dump(obj: object) -> None:
    json.dump(obj, sys.stdout, indent=1, allow_nan=False, ensure_ascii=False)
    sys.stdout.write("\n")


def cmd_gold(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.io.gold import gold_items, mark_gold

    with Document.open(args.project) as doc:
        cmd = mark_gold(doc, args.add or (), args.remove or ())
        if cmd is not None:
            doc.execute(cmd)
        items = gold_items(doc)
        if args.json:
            _dump({"project": str(doc.path), "gold": [
                {"id": m.id, "name": m.name, "path": m.path, "fingerprint": m.fingerprint}
                for m in items]})
            return EXIT_OK
        if cmd is not None:
            print(f"{cmd.detail()['count']} gold mark(s) changed (undoable: {cmd.label})")
        if not items:
            print(f"{doc.path} has no gold items.")
        for m in items:
            print(f"  {m.name}")
        if items:
            print(f"{len(items)} gold item(s)")
    return EXIT_OK


def cmd_score(args: argparse.Namespace) -> int:
    from app.io.compare import jsonable
    from app.io.gold import score, score_lines
    from app.progress import terminal_progress

    with terminal_progress("Scoring", unit="item") as progress:
        result = jsonable(score(args.package, args.gold, progress))
    if args.json:
        _dump(result)
    else:
        print("\n".join(score_lines(result)))
    return EXIT_OK


def cmd_consensus(args: argparse.Namespace) -> int:
    from app.io.compare import jsonable
    from app.io.consensus import consensus, summary_lines
    from app.progress import terminal_progress

    with terminal_progress("Fusing", unit="item") as progress:
        result = jsonable(consensus(args.projects, args.out, iou=args.iou,
                                    flag_below=args.flag_below, progress=progress))
    if args.json:
        _dump(result)
    else:
        print("\n".join(summary_lines(result)))
    return EXIT_OK


# app.io.consensus's defaults (not imported here: it loads numpy; a test keeps them equal)
DEFAULT_IOU, DEFAULT_FLAG_BELOW = 0.5, 0.8


def register(cli: CommandRegistry) -> None:
    p = cli.command(
        "gold", cmd_gold, "mark media items as gold (reference answers) and list them",
        fill(
            "Mark media items of PROJECT as gold: their labels are the reference answers that "
            "'vellum score' rates annotators against. Without options, list the gold items. "
            "Marking is one undoable edit in the audit trail; the marks stay in the project."))
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--add", nargs="+", metavar="NAME",
                   help="mark these items (file name, path in the project, or id)")
    p.add_argument("--remove", nargs="+", metavar="NAME", help="unmark these items")
    p.add_argument("--json", action="store_true", help="print the gold items as JSON")

    p = cli.command(
        "score", cmd_score, "rate an annotator's package against a project's gold items",
        fill(
            "Compare PACKAGE (a work package or any project over the same media) with the gold "
            "items of PROJECT only (matched by content, else by file name), PROJECT being the "
            "reference: per class and overall precision, recall, F1 and mean IoU, COCO mAP, mask "
            "Dice and Hausdorff, kappa on classes, tags and attributes, MOTA and IDF1 on tracks "
            "(the metrics of 'vellum compare')."))
    p.add_argument("package", metavar="PACKAGE")
    p.add_argument("--gold", required=True, metavar="PROJECT",
                   help="the project whose gold items are the reference")
    p.add_argument("--json", action="store_true", help="print every table as JSON")

    p = cli.command(
        "consensus", cmd_consensus, "fuse annotators' projects into a new consensus project",
        fill(
            "Fuse projects (or packages) of several annotators over the same media into the NEW "
            "project MERGED (media referenced by path; inputs never written). An object is kept "
            "when a majority (n // 2 + 1) drew it: boxes by weighted box fusion, polygons by the "
            "medoid (highest mean IoU to the others), masks by STAPLE, label maps by multi-label "
            "STAPLE (SimpleITK), video tracks frame by frame by box fusion; classes, attributes "
            "and tags by majority vote (a tie goes to the earliest annotator given). "
            "Disagreements are flagged: on the object (attribute 'consensus') and in the "
            "output list."))
    p.add_argument("projects", metavar="PROJECT", nargs="+", help="two or more projects")
    p.add_argument("-o", "--out", required=True, metavar="MERGED",
                   help="the new project folder (must not exist)")
    p.add_argument("--iou", type=float, default=DEFAULT_IOU, metavar="T",
                   help=f"IoU above which objects are the same object (default {DEFAULT_IOU})")
    p.add_argument("--flag-below", type=float, default=DEFAULT_FLAG_BELOW, metavar="X",
                   help="flag a fused object whose members' mean IoU, or an annotator's STAPLE "
                        f"sensitivity, is below X (default {DEFAULT_FLAG_BELOW})")
    p.add_argument("--json", action="store_true", help="print the result and flags as JSON")
