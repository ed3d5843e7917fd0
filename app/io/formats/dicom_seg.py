"""DICOM Segmentation objects in the format registry: :mod:`app.io.dicom_seg` (``export_seg``,
``plan_import``) behind the one read/write signature of :mod:`app.io.formats`."""

from __future__ import annotations

from typing import Any

from app.io.formats import Format, Option, Outcome, staged_progress


def read(doc: Any, path: Any, options: dict[str, Any], progress: Any, cancelled: Any,
         notes: list[str]) -> Outcome:
    from app.io.dicom_seg.read import plan_import

    command, summary = plan_import(doc, path, progress, cancelled, notes)
    return Outcome(summary=summary + ".", command=command)


def write(doc: Any, out: Any, options: dict[str, Any], progress: Any, cancelled: Any,
          notes: list[str]) -> Outcome:
    from app.io.dicom_seg.write import export_seg

    step = staged_progress(out, progress, cancelled)

    written, left_out = export_seg(doc, out, labelmap=bool(options.get("labelmap")),
                                   progress=step, cancelled=cancelled,
                                   overwrite=bool(options.get("overwrite")))
    notes.extend(left_out)
    head = f"Wrote {len(written)} DICOM SEG file(s) to {out}"
    return Outcome(summary=head + ".", lines=(head, *(f"  {p.name}" for p in written)))


FORMAT = Format(
    name="dicom-seg", title="DICOM SEG", patterns=("*.dcm",),
    holds=frozenset({"labelmaps"}), read=read, write=write,
    read_metavar="SEG.dcm", write_metavar="OUT_DIR", write_target="folder",
    read_help="a DICOM Segmentation onto the series it references",
    read_description="Add the segments of a DICOM SEG (binary, fractional thresholded at 0.5, "
                     "or label map) to the project's volume of the series it references "
                     "(found by SeriesInstanceUID), as one undoable step. Overlapping "
                     "segments become separate label maps. A SEG whose series is not in the "
                     "project, or whose frames do not lie on its slices, is refused.",
    write_help="label maps as DICOM SEG in the source patient's study",
    write_description="Write every label map of a volume read from DICOM as OUT_DIR/<volume>_"
                      "<label map>.dcm: a DICOM Segmentation (highdicom) in the source "
                      "series' study and frame of reference, each frame referencing its "
                      "source image, empty frames omitted, one segment per segment record "
                      "(name, colour, and the category and type codes set with Segments ▸ "
                      "Codes…, SCT Tissue when none). Unlike NIfTI exports these carry the "
                      "source patient's identity.",
    write_options=(
        Option("labelmap", "bool", "write LABELMAP segmentations (DICOM 2024, one frame per "
               "slice) instead of BINARY; fewer readers support them",
               label="LABELMAP segmentations (fewer readers support them)"),
    ),
    overwrite_help="replace files of the same names in OUT_DIR",
)
