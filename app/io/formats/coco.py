"""COCO JSON in the format registry: :mod:`app.io.coco` (``plan_import``, ``export_coco``)
behind the one read/write signature of :mod:`app.io.formats`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.io.formats import Confirm, Format, Option, Outcome


def read(doc: Any, path: Any, options: dict[str, Any], progress: Any, cancelled: Any,
         notes: list[str]) -> Outcome:
    from app.io.coco import AlreadyImported, plan_import

    try:
        command, report = plan_import(doc, path, options.get("images"),
                                      again=bool(options.get("again")), progress=progress,
                                      cancelled=cancelled)
    except AlreadyImported as exc:
        raise Confirm(str(exc), exc.path, title="Import again?", option="again",
                      question=f"{Path(path).name} was already imported into this project "
                      f"({exc.when}).\n\nImporting it again adds its {exc.count} annotations a "
                      "second time. Import it again anyway?") from exc
    notes.extend(report.get("notes", []))
    return Outcome(
        summary=f"Imported {report['annotations']} annotations and {report['media']} new "
                f"media from {Path(path).name}.",
        lines=(f"Imported {report['annotations']} annotations, {report['media']} new media, "
               f"{report['classes']} new classes, {report['tracks']} tracks from {path}",),
        warnings=tuple(report.get("warnings", [])), command=command)


def write(doc: Any, out: Any, options: dict[str, Any], progress: Any, cancelled: Any,
          notes: list[str]) -> Outcome:
    from app.io.coco import export_coco

    with_images = bool(options.get("with_images"))
    report = export_coco(doc, out, progress=progress, cancelled=cancelled,
                         images_root=options.get("images_root"), with_images=with_images,
                         frame_progress=progress if with_images else None,
                         overwrite=bool(options.get("overwrite")))
    notes.extend(report.get("notes", []))
    return Outcome(
        summary=f"Wrote {out}: {report['images']} images, {report['annotations']} annotations.",
        lines=(f"Wrote {out}: {report['images']} images, {report['annotations']} annotations, "
               f"{report['categories']} categories"
               + (f", {report['frame_images']} frame images beside it" if with_images else ""),))


FORMAT = Format(
    name="coco", title="COCO JSON", patterns=("*.json",),
    holds=frozenset({"shapes", "tracks"}), read=read, write=write,
    read_metavar="FILE.json", write_metavar="OUT.json",
    read_help="COCO JSON (from Vellum, CVAT, labelme, ...)",
    read_description="Import COCO JSON as one undoable step. Images are found under --images "
                     "and added if new. Nothing is written unless the whole file is valid. A "
                     "file already imported is refused unless --again is given.",
    read_options=(
        Option("images", "path", "folder the file_names are relative to (default: the JSON "
               "file's folder)", metavar="DIR", folder=True,
               label="Folder the file names are relative to"),
        Option("again", "bool", "import a file that was already imported into this project "
               "(its annotations are added a second time)", window=False),  # the window asks
    ),
    write_help="COCO JSON",
    write_description="Write boxes, polygons, masks (RLE), keypoints and tags as COCO JSON, "
                      "atomically. Ids, bbox and area of unedited annotations and every key "
                      "another tool wrote are kept as imported. Never writes onto the project "
                      "or its media.",
    write_options=(
        Option("images_root", "path", "folder the file_names are written relative to "
               "(default: the folder the images were imported from, else the deepest folder "
               "holding all exported media)", metavar="DIR", folder=True, window=False),
        Option("with_images", "bool", "also write the labelled video frames as PNG beside the "
               "JSON (<video>/frame_000123.png, frame numbers 0-based as in the project), all "
               "or none", window=False),
    ),
    overwrite_help="replace OUT.json (and frame images) that already exist; never the project "
                   "or its media",
)
