"""``vellum export mot`` and ``vellum import mot`` (MOT Challenge CSV; see app.io.mot)."""

from __future__ import annotations

import argparse

from app.cli_registry import CommandRegistry


def _export(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.io.mot import export_mot

    with Document.open(args.project) as doc:
        reports = export_mot(doc, args.out, args.video, args.pixel_origin, args.scores,
                             overwrite=args.overwrite)
    for name, r in reports.items():
        print(f"{name}: {r.tracks} tracks, {r.lines} lines")
        for s in r.skipped:
            print(f"  skipped {s}")
    print(f"Wrote {args.out}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.io.mot import import_mot

    with Document.open(args.project) as doc:
        command, report = import_mot(doc, args.file, args.video, args.pixel_origin)
        doc.execute(command)
    print(f"Imported {report.tracks} tracks ({report.lines} lines) from {args.file}")
    return 0


def register(cli: CommandRegistry) -> None:
    p = cli.exporter("mot", _export, "MOT Challenge CSV (tracks of boxes)",
                     "Write every box track of each video as MOT Challenge ground truth: "
                     "OUT/<video>/gt/gt.txt with labels.txt and seqinfo.ini (or OUT.txt for "
                     "one video). Frames are 1-based as MOT wants; every frame a track shows "
                     "is written, interpolated ones included.")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--video", metavar="NAME", help="only this video (id, file name or path)")
    p.add_argument("--pixel-origin", type=int, choices=(0, 1), default=1,
                   help="1 (default): 1-based pixel positions as the MOT paper, its devkit "
                        "and motmetrics read them; 0: Vellum's own coordinates, as CVAT and "
                        "datumaro write MOT")
    p.add_argument("--scores", action="store_true",
                   help="write model scores in the conf column (a results file)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files of the same names that already exist")
    p = cli.importer("mot", _import, "MOT Challenge CSV (tracks of boxes)",
                     "Add the tracks of a MOT file (gt.txt or a results file) to a video of "
                     "the project as one undoable step. Class numbers are read from a "
                     "labels.txt beside the file, else MOT16's classes.")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("file", metavar="FILE.txt")
    p.add_argument("--video", metavar="NAME", help="the video the file belongs to (needed "
                   "when the project has several)")
    p.add_argument("--pixel-origin", type=int, choices=(0, 1), default=1,
                   help="pixel origin of the file's boxes (see export; 0 for CVAT/datumaro)")
