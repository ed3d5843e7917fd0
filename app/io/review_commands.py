"""Quality-control commands: ``vellum history`` (the audit trail and a per-annotator summary),
``vellum split`` (work packages for several annotators) and ``vellum merge`` (bring them
back). Heavy work is in :mod:`app.io.history` and :mod:`app.io.packages`."""

from __future__ import annotations

import argparse
import json
import sys

from app.cli_registry import CommandRegistry

EXIT_OK, EXIT_ERROR, EXIT_PROBLEMS = 0, 1, 3


def cmd_history(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.core.errors import VellumError
    from app.io.history import parse_since, report, text_lines

    since = parse_since(args.since) if args.since else None
    if args.idle <= 0:
        raise VellumError("--idle must be a positive number of seconds.")
    with Document.open(args.project) as doc:
        data = report(doc.store, author=args.author_filter, since=since, idle_s=args.idle)
    if args.json:
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print("\n".join(text_lines(data, summary_only=args.summary)))
    return EXIT_OK


def cmd_split(args: argparse.Namespace) -> int:
    from app.io.packages import split_project
    from app.progress import terminal_progress

    with terminal_progress("Splitting", unit="package") as progress:
        made = split_project(args.project, args.into, args.out, by=args.by, progress=progress)
    for pkg in made:
        print(f"  {pkg.folder}: {pkg.summary}")
    print(f"Made {len(made)} package(s) under {args.out}")
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    from app.io.package_merge import merge_packages
    from app.progress import terminal_progress

    with terminal_progress("Merging", unit="package") as progress:
        results = merge_packages(args.project, args.packages, progress)
    conflicts = 0
    for r in results:
        print(f"{r.package}: {r.summary}")
        for line in r.conflicts:
            print(f"  conflict: {line}")
        conflicts += len(r.conflicts)
    if args.json:
        json.dump([r.to_json() for r in results], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    return EXIT_PROBLEMS if conflicts else EXIT_OK


def register(cli: CommandRegistry) -> None:
    p = cli.command(
        "history", cmd_history, "the audit trail: who edited what, when; per-annotator summary",
        "List the project's audit trail, oldest first (time UTC, author, action, objects "
        "created/changed/deleted), then a summary per author: edits, media items touched, "
        "objects created/changed/deleted, first and last edit, and time spent - the sum of "
        "the gaps between that author's consecutive edits shorter than --idle seconds (a "
        "longer gap is a break).")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--author", dest="author_filter", metavar="A",
                   help="only the entries of this author (exact name)")
    p.add_argument("--since", metavar="T", help="only entries at or after T: an ISO 8601 date "
                   "(2026-12-01 = midnight UTC) or date and time (2026-12-01T10:00:00Z, or "
                   "+02:00); a time without an offset is UTC")
    p.add_argument("--json", action="store_true",
                   help="print JSON: entries (oldest first) and a 'summary' object per author")
    p.add_argument("--summary", action="store_true", help="print the summary only")
    p.add_argument("--idle", type=float, default=300.0, metavar="SECONDS",
                   help="idle cutoff for time spent (default 300)")

    p = cli.command(
        "split", cmd_split, "make N work packages of a project for N annotators",
        "Make N package projects under DIR (DIR/package-1 ... DIR/package-N), each a normal "
        "Vellum project referencing the same media files by absolute path (nothing is "
        "copied), holding its share of the items with their existing labels, the label "
        "schema, and a manifest (source project, share, ids, split-time snapshot) for "
        "'vellum merge'. --by item: whole media items, contiguous runs in project order; "
        "frames: each video's frames cut into N contiguous ranges (other items by item); "
        "volume: whole volumes with their label maps, each to the package with the fewest "
        "slices so far (other items by item). An existing package folder is never overwritten.")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--into", type=int, required=True, metavar="N", help="number of packages")
    p.add_argument("--by", choices=("item", "frames", "volume"), default="item",
                   help="how to share the work (default: item)")
    p.add_argument("-o", "--out", required=True, metavar="DIR",
                   help="folder to make the packages in")

    p = cli.command(
        "merge", cmd_merge, "bring work packages back into their project",
        "Merge each PACKAGE made by 'vellum split' from PROJECT: new and changed objects land "
        "in PROJECT (one undoable edit per package), deletions apply unless the object "
        "changed elsewhere, and conflicts (the same object changed in two packages, or in a "
        "package and in PROJECT since the split) keep both versions: the other one as a copy "
        "with a new id and the attribute 'merge_conflict'. Merging a package again changes "
        "nothing. Exit status 3 when there were conflicts.")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("packages", metavar="PACKAGE", nargs="+")
    p.add_argument("--json", action="store_true", help="also print the result as JSON")
