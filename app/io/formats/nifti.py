"""NIfTI label maps in the format registry: :mod:`app.io.volume.project` (``import_labelmap``,
``export_nifti``) behind the one read/write signature of :mod:`app.io.formats`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, VellumError
from app.io.formats import Format, Option, Outcome, staged_progress


def _new_labelmap(command: Any) -> Any:
    """The label map record an import command adds."""
    from app.core.commands import Put
    from app.core.labelmap import LabelMapInfo

    for step in getattr(command, "commands", (command,)):
        if isinstance(step, Put):
            for record in step.records:
                if isinstance(record, LabelMapInfo):
                    return record
    raise ValueError("an import of a label map adds no label map")  # a bug, not input


def read(doc: Any, path: Any, options: dict[str, Any], progress: Any, cancelled: Any,
         notes: list[str]) -> Outcome:
    from app.core.media import MediaKind
    from app.io.volume.project import import_labelmap

    wanted = options.get("volume")
    volumes = [m for m in doc.media() if m.kind is MediaKind.VOLUME and (
        wanted is None or wanted in (m.id, m.name, m.path, m.key))]
    if len(volumes) != 1:
        raise BadInputError(f"{doc.path} has {len(volumes)} matching volumes; name the one "
                            f"{Path(path).name} belongs to with --volume.", path)
    progress(0, 1)
    command = import_labelmap(doc, path, volumes[0], options.get("name"))
    if cancelled():
        raise VellumError(f"Import of {path} was cancelled; nothing was written.", path)
    progress(1, 1)
    info = _new_labelmap(command)
    return Outcome(summary=f"Imported label map {info.name!r} onto {volumes[0].name}: "
                           f"{len(info.segments)} segment(s)", command=command)


def write(doc: Any, out: Any, options: dict[str, Any], progress: Any, cancelled: Any,
          notes: list[str]) -> Outcome:
    from app.io.volume.project import export_nifti

    step = staged_progress(out, progress, cancelled)

    written = export_nifti(doc, out, bool(options.get("with_volumes")), step,
                           overwrite=bool(options.get("overwrite")))
    maps = [p for p in written if p.name.endswith((".nii.gz", ".nii")) and p.with_name(
        p.name.replace(".nii.gz", ".json")).exists()]
    head = f"Wrote {len(maps)} label map(s) with their segment tables to {out}"
    return Outcome(summary=head + ".", lines=(head, *(f"  {p.name}" for p in written)))


FORMAT = Format(
    name="nifti", title="NIfTI label maps", patterns=("*.nii.gz", "*.nii"),
    holds=frozenset({"labelmaps"}), read=read, write=write,
    read_metavar="FILE.nii.gz", write_metavar="OUT_DIR", write_target="folder", cli_wrap=False,
    read_help="a NIfTI label map onto a volume",
    read_description="Add a label map (.nii/.nii.gz, e.g. from 3D Slicer or ITK-SNAP) to a "
                     "volume of the project as one undoable step; its grid must be the "
                     "volume's (within 1e-3 mm). Segment names come from a JSON or ITK-SNAP "
                     "table beside it.",
    read_options=(
        Option("volume", "str", "the volume it belongs to (needed when the project has "
               "several)", metavar="NAME", label="Volume"),
        Option("name", "str", "name of the new label map", label="Label map name"),
    ),
    write_help="label maps as NIfTI with segment tables",
    write_description="Write every label map of the project as OUT_DIR/<volume>_<label "
                      "map>.nii.gz on its volume's exact grid (RAS affine, as NIfTI wants), "
                      "with a JSON segment table and an ITK-SNAP label description beside it. "
                      "No patient field is written.",
    write_options=(
        Option("with_volumes", "bool", "also write each labelled volume in real units (HU "
               "for CT)", label="Also write each labelled volume (real units, HU for CT)"),
    ),
    overwrite_help="replace files of the same names in OUT_DIR",
)
