"""``vellum volume info`` and ``vellum volume convert``: describe the series under a path and
convert one to NIfTI; ``vellum stats``: segment statistics of a project's label maps. Nothing
heavy is imported until a command runs. (``vellum import|export nifti`` are the NIfTI format
of :mod:`app.io.formats`.)"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli_registry import CommandRegistry, Group
from app.core.errors import BadInputError

INFO_HELP = """\
Describe every series found under PATH (a DICOM file, a folder searched recursively, a
DICOMDIR, or a NIfTI file), from headers only.

--json prints a list with, for each series:
  dims        [i, j, k] voxels: columns, rows, slices (ITK's / SimpleITK's GetSize() and
              NIfTI's dim[1..3] order; the numpy array is [k, j, i])
  spacing     [si, sj, sk] mm in the same i, j, k order (between columns, rows, slices)
  origin      [x, y, z] mm, patient LPS, centre of voxel (0, 0, 0)
  direction   3x3, rows x, y, z (LPS), columns the i, j, k axes (as SimpleITK's
              GetDirection() read row by row); not orthogonal for a gantry-tilted CT
  modality, series_uid, description, warnings (sentences), is_image, volumes, files
  title       the title a project gives it (modality, series number, UID hash; never
              the description), damaged: sentences naming files cut short
Series that are not volumes (dose reports, segmentations, colour images...) are listed with
is_image false and dims null; unreadable files are listed in one last entry (series_uid
null)."""

CONVERT_HELP = """\
Convert one series under PATH to NIfTI (.nii or .nii.gz), in real units (Hounsfield units
for CT: RescaleSlope/Intercept applied). The largest image series is converted unless
--series names one (see 'vellum volume info'). The affine is RAS (NIfTI's convention), the
voxel data is not resampled; the file is written atomically and never over an input."""


def _series_json(s: Any) -> dict[str, Any]:
    g = s.geometry
    return {"dims": list(reversed(g.shape)) if g else None,
            "spacing": list(g.spacing) if g else None,
            "origin": list(g.origin) if g else None,
            "direction": [list(r) for r in g.direction] if g else None,
            "modality": s.modality or None, "series_uid": s.uid or None,
            "description": s.description, "warnings": list(s.warnings),
            "is_image": s.is_image, "volumes": s.volumes, "files": len(s.files),
            "source": s.source, "title": (s.title or None) if s.is_image else None,
            "damaged": list(s.damaged)}


def cmd_info(args: argparse.Namespace) -> int:
    from app.io.volume import scan_series
    from app.progress import terminal_progress

    with terminal_progress("Reading headers", unit="file") as progress:
        series = scan_series(args.path, progress=progress)
    if args.json:
        json.dump([_series_json(s) for s in series], sys.stdout, indent=2)
        print()
        return 0
    for s in series:
        if s.geometry is not None:
            g = s.geometry
            dims = "x".join(str(n) for n in reversed(g.shape))
            spacing = " x ".join(f"{v:.4g}" for v in g.spacing)
            print(f"{s.modality or s.source.upper():<4} {s.description or '(no description)'}"
                  f"  {dims} voxels, {spacing} mm"
                  + (f", {s.volumes} volumes" if s.volumes > 1 else ""))
            print(f"     series {s.uid or '-'}; origin (LPS) "
                  + ", ".join(f"{v:.2f}" for v in g.origin))
            panes = g.panes()
            oblique = [f"{p.pane} {p.angle_deg:.1f}°" for p in panes.values() if p.oblique]
            if oblique:
                print("     oblique: " + ", ".join(oblique))
        else:
            print(f"---- {s.description or s.uid or 'not an image'}: not a volume")
        for w in s.warnings + [d for d in s.damaged if d not in s.warnings]:
            print(f"     ! {w}")
    return 0


def _inputs(series: list[Any]) -> list[Path]:
    return sorted({f for s in series for f in s.files})


def cmd_convert(args: argparse.Namespace) -> int:
    from app.io.outputs import NIFTI, prepare_output
    from app.io.volume import load_series, pick_series, scan_series, write_nifti
    from app.progress import terminal_progress

    path, out = Path(args.path), Path(args.out)
    if not out.name.lower().endswith((".nii", ".nii.gz")):
        raise BadInputError(f"{out} must end in .nii or .nii.gz.", out)
    series = scan_series(path)
    prepare_output(out, formats=NIFTI, overwrite=args.overwrite,
                   inputs=_inputs(series) + ([path] if path.is_file() else []))
    chosen = pick_series(series, path, args.series)
    if not chosen.is_image:
        raise BadInputError(chosen.warnings[0] if chosen.warnings
                            else f"{path} series {args.series} is not an image.", path)
    with terminal_progress("Decoding", unit="slice") as progress:
        volume = load_series(chosen, args.volume, progress=progress)
    write_nifti(out, volume.array, volume.geometry)
    others = sum(1 for s in series if s.is_image and s is not chosen)
    for w in volume.warnings:
        print(f"warning: {w}", file=sys.stderr)
    dims = "x".join(str(n) for n in reversed(volume.geometry.shape))
    print(f"Wrote {out}: {chosen.title or chosen.description or path.name}, {dims} voxels"
          + (f" (volume {args.volume} of {volume.volumes})" if volume.volumes > 1 else "")
          + (f"; {others} other image series not converted (--series UID)" if others else ""))
    return 0


STATS_HELP = """\
Segment statistics of every label map of PROJECT's volumes (or of the volume --volume
names: its name, file or folder name, path or id), computed by SimpleITK on the volume's
exact grid (LabelShapeStatisticsImageFilter with perimeter, LabelIntensityStatistics-
ImageFilter). Per segment (JSON keys; --csv has the same columns, the centroid split into
centroid_lps_x, _y, _z):
  volume, labelmap, segment (name), value (label value), voxels
  volume_ml     voxels x voxel volume (|det direction| x si x sj x sk), mL
  mean, sd, min, max, median
                the volume's values in real units (HU for CT, after rescale); sd is the
                sample SD (n - 1) and median ITK's (centre of a 128-bin histogram over the
                volume's range), as SimpleITK gives them
  feret_mm      maximum 3D diameter: largest distance between two voxel centres, mm
  surface_mm2   surface area (ITK's Perimeter of a 3D object), mm^2
  centroid_lps  [x, y, z] mm, patient LPS (x to the left, y posterior, z superior), as ITK's
                physical space; a NIfTI/RAS viewer shows -x, -y, z
Empty segments are listed with voxels 0 and null (JSON) / empty (CSV) / '-' figures. Nothing
is written; redirect stdout to keep the output."""


def cmd_stats(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.io.volume.stats import csv_text, project_statistics, table_text
    from app.progress import terminal_progress

    with Document.open(args.project) as doc:
        with terminal_progress("Measuring", unit="step") as progress:
            rows = project_statistics(doc, args.volume, progress)
    return _print_rows(args, [r.to_json() for r in rows], lambda: csv_text(rows),
                       lambda: table_text(rows))


def _print_rows(args: argparse.Namespace, as_json: Any, csv: Any, table: Any) -> int:
    """A table command's output on stdout: ``--json`` (``as_json``), ``--csv`` (``csv()``)
    or the readable table (``table()``)."""
    if args.json:
        json.dump(as_json, sys.stdout, indent=2)
        print()
    else:
        sys.stdout.write(csv() if args.csv else table())
    return 0


# ------------------------------------------------------------------ vellum measurements
MEASUREMENTS_HELP = """\
The measurements of PROJECT (ruler, RECIST, angle, ellipse ROI drawn with the Measure tool),
one row each, recomputed from the stored shapes: on a volume slice in world space from the
volume's geometry (mm, mm^2; anisotropic and oblique grids included) and the volume's real
values (HU for CT); on photos and video frames in pixels. Columns (JSON keys):
  media, place (e.g. 'slice k=40'), id, class, measure (ruler|recist|angle|ellipse),
  unit (mm or px), length, long_axis, short_axis, angle_deg (0..180), area (unit^2),
  pixels, mean, sd (sample, n - 1), min, max (ROI statistics), points_lps ([x, y, z] mm of
  the points on a volume, patient LPS; JSON and CSV only)
Figures that do not apply are null (JSON) / empty (CSV) / '-'. Nothing is written."""


def cmd_measurements(args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.progress import terminal_progress
    from app.tools.measure_table import csv_text, project_measurements, table_text

    with Document.open(args.project) as doc:
        with terminal_progress("Measuring", unit="item") as progress:
            rows = project_measurements(doc, progress)
    return _print_rows(args, rows, lambda: csv_text(rows), lambda: table_text(rows))


def _register_measurements(cli: CommandRegistry) -> None:
    p = cli.command("measurements", cmd_measurements, "the project's measurements (ruler, "
                    "RECIST, angle, ellipse ROI) in mm as a table", description=MEASUREMENTS_HELP)
    p.add_argument("project", metavar="PROJECT")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print a JSON list (keys above)")
    fmt.add_argument("--csv", action="store_true", help="print CSV (columns above)")
# ------------------------------------------------------------------ end vellum measurements


def register(cli: CommandRegistry) -> None:
    _register_measurements(cli)
    p = cli.command("stats", cmd_stats, "segment statistics (mL, HU, Feret diameter, surface, "
                    "centroid) of the label maps", description=STATS_HELP)
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--volume", metavar="NAME", help="only this volume's label maps")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print a JSON list (keys above)")
    fmt.add_argument("--csv", action="store_true", help="print CSV (columns above)")

    parser = cli.command("volume", None, "describe DICOM series / NIfTI volumes, convert to "
                         "NIfTI", description="Read DICOM series (files, folders, DICOMDIR) "
                         "and NIfTI volumes.")
    group = Group(parser, "volume_command")
    p = group.add("info", cmd_info, "describe the series found under PATH",
                  description=INFO_HELP)
    p.add_argument("path", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print JSON (see above) instead of a "
                   "summary")
    p = group.add("convert", cmd_convert, "convert a series to NIfTI in real units",
                  description=CONVERT_HELP)
    p.add_argument("path", metavar="PATH")
    p.add_argument("out", metavar="OUT.nii.gz")
    p.add_argument("--series", metavar="UID", help="SeriesInstanceUID to convert (default: "
                   "the largest image series)")
    p.add_argument("--volume", metavar="N", type=int, default=0,
                   help="which volume of a 4D series or file, from 0 (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
