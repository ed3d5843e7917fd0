"""MOT Challenge CSV in the format registry: :mod:`app.io.mot` (``import_mot``,
``export_mot``) behind the one read/write signature of :mod:`app.io.formats`."""

from __future__ import annotations

from typing import Any

from app.core.errors import VellumError
from app.io.formats import Format, Option, Outcome


def _stop_if(cancelled: Any, what: str, path: Any) -> None:
    if cancelled():
        raise VellumError(f"{what} {path} was cancelled; nothing was written.", path)


def read(doc: Any, path: Any, options: dict[str, Any], progress: Any, cancelled: Any,
         notes: list[str]) -> Outcome:
    from app.io.mot import import_mot

    progress(0, 1)
    command, report = import_mot(doc, path, options.get("video"),
                                 options.get("pixel_origin", 1))
    _stop_if(cancelled, "Import of", path)
    progress(1, 1)
    return Outcome(summary=f"Imported {report.tracks} tracks ({report.lines} lines) from {path}",
                   command=command)


def write(doc: Any, out: Any, options: dict[str, Any], progress: Any, cancelled: Any,
          notes: list[str]) -> Outcome:
    from app.io.mot import export_mot

    _stop_if(cancelled, "Export to", out)
    progress(0, 1)
    reports = export_mot(doc, out, options.get("video"), options.get("pixel_origin", 1),
                         bool(options.get("scores")), overwrite=bool(options.get("overwrite")))
    progress(1, 1)
    lines: list[str] = []
    for name, r in reports.items():
        lines.append(f"{name}: {r.tracks} tracks, {r.lines} lines")
        lines += [f"  skipped {s}" for s in r.skipped]
    lines.append(f"Wrote {out}")
    tracks = sum(r.tracks for r in reports.values())
    skipped = sum(len(r.skipped) for r in reports.values())
    return Outcome(
        summary=f"Wrote {out}: {tracks} tracks of {len(reports)} video(s)."
                + (f" {skipped} track(s) skipped: MOT holds boxes only." if skipped else ""),
        lines=tuple(lines))


PIXEL_ORIGIN = (0, 1)

FORMAT = Format(
    name="mot", title="MOT Challenge CSV", patterns=("*.txt",), holds=frozenset({"tracks"}),
    read=read, write=write, read_metavar="FILE.txt", write_metavar="OUT",
    write_target="folder", cli_wrap=False,
    read_help="MOT Challenge CSV (tracks of boxes)",
    read_description="Add the tracks of a MOT file (gt.txt or a results file) to a video of "
                     "the project as one undoable step. Class numbers are read from a "
                     "labels.txt beside the file, else MOT16's classes.",
    read_options=(
        Option("video", "str", "the video the file belongs to (needed when the project has "
               "several)", metavar="NAME", label="Video"),
        Option("pixel_origin", "choice", "pixel origin of the file's boxes (see export; 0 for "
               "CVAT/datumaro)", default=1, choices=PIXEL_ORIGIN, label="Pixel origin"),
    ),
    write_help="MOT Challenge CSV (tracks of boxes)",
    write_description="Write every box track of each video as MOT Challenge ground truth: "
                      "OUT/<video>/gt/gt.txt with labels.txt and seqinfo.ini (or OUT.txt for "
                      "one video). Frames are 1-based as MOT wants; every frame a track shows "
                      "is written, interpolated ones included.",
    write_options=(
        Option("video", "str", "only this video (id, file name or path)", metavar="NAME",
               label="Only this video"),
        Option("pixel_origin", "choice", "1 (default): 1-based pixel positions as the MOT "
               "paper, its devkit and motmetrics read them; 0: Vellum's own coordinates, as "
               "CVAT and datumaro write MOT", default=1, choices=PIXEL_ORIGIN,
               label="Pixel origin"),
        Option("scores", "bool", "write model scores in the conf column (a results file)",
               label="Write model scores (a results file)"),
    ),
    overwrite_help="replace files of the same names that already exist",
)
