"""``vellum compare A B [C ...] [--json] [--html REPORT.html]``: agreement between
annotators' projects (or work packages) over the same media (:mod:`app.io.compare`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli_registry import CommandRegistry

EXIT_OK = 0


def cmd_compare(args: argparse.Namespace) -> int:
    from app.core.errors import BadInputError
    from app.core.store import project_file
    from app.io.compare import compare, jsonable, labels_for, load_project, summary_lines
    from app.progress import terminal_progress

    if len(args.projects) < 2:
        raise BadInputError("Give at least two projects to compare (vellum compare A B).")
    target = None
    if args.html:
        from app.io.outputs import Guard, prepare_output, project_files

        protected = []
        for p in args.projects:  # every compared project, its journals and media
            protected += project_files(project_file(p))
        Guard(protected).check(args.html)
        target = prepare_output(args.html, formats=(".html", ".htm"),
                                overwrite=args.overwrite, inputs=args.projects)
    labels = labels_for(args.projects)
    with terminal_progress("Reading projects", unit="project") as progress:
        projects = []
        for n, (p, label) in enumerate(zip(args.projects, labels)):
            projects.append(load_project(p, label))
            progress(n + 1, len(args.projects), label)
    with terminal_progress("Comparing", unit="item") as progress:
        result = jsonable(compare(projects, progress))
    if target is not None:
        from app.io.compare_report import write_report

        write_report(result, Path(target))
    if args.json:
        json.dump(result, sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print("\n".join(summary_lines(result)))
        if target is not None:
            print(f"Wrote {target}")
    return EXIT_OK


def register(cli: CommandRegistry) -> None:
    p = cli.command(
        "compare", cmd_compare, "agreement between annotators' projects over the same media",
        "Compare projects (or work packages) labelled by different annotators over the\n"
        "same media (matched by content, else by file name; items missing from some are\n"
        "listed). The first project is the reference.\n\n"
        "  boxes, polygons   matched per class by IoU >= 0.5 (Hungarian): precision,\n"
        "                    recall, F1, mean IoU; COCO mAP (pycocotools)\n"
        "  masks, label maps Dice, Jaccard, Hausdorff and 95% Hausdorff (mm), volume\n"
        "                    difference (mL)\n"
        "  keypoints         OKS (COCO's formula)\n"
        "  classes, tags     Cohen's kappa per pair, Fleiss' kappa, Krippendorff's alpha\n"
        "  video tracks      MOTA and IDF1 (motmetrics)\n\n"
        "Per annotator pair, per class and per item.")
    p.add_argument("projects", metavar="PROJECT", nargs="+",
                   help="two or more projects or packages; the first is the reference")
    p.add_argument("--json", action="store_true",
                   help="print every table as one JSON document")
    p.add_argument("--html", metavar="REPORT.html",
                   help="also write a self-contained HTML report (tables and plots; opens "
                        "offline in any browser)")
    p.add_argument("--overwrite", action="store_true", help="replace REPORT.html if it exists")
