"""CVAT XML (CVAT for images 1.1 / CVAT for video 1.1) in the format registry:
:mod:`app.io.cvat` (``plan_import``, ``export_cvat``) behind the one read/write signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.io.formats import Format, Option, Outcome


def read(doc: Any, path: Any, options: dict[str, Any], progress: Any, cancelled: Any,
         notes: list[str]) -> Outcome:
    from app.io.cvat import plan_import

    command, report = plan_import(doc, path, options.get("images"), options.get("video"),
                                  progress, cancelled)
    notes.extend(report["notes"])
    return Outcome(
        summary=f"Imported {report['annotations']} annotations from {Path(path).name}.",
        lines=(f"Imported {report['annotations']} annotations, {report['tracks']} tracks, "
               f"{report['media']} new media, {report['classes']} new classes from {path}",),
        command=command)


def write(doc: Any, out: Any, options: dict[str, Any], progress: Any, cancelled: Any,
          notes: list[str]) -> Outcome:
    from app.io.cvat import export_cvat

    r = export_cvat(doc, out, options.get("layout") or "auto",
                    overwrite=bool(options.get("overwrite")), progress=progress,
                    cancelled=cancelled, notes=notes)
    return Outcome(summary=f"Wrote {out}: {r['images']} images, {r['videos']} videos, "
                           f"{r['shapes']} shapes.",
                   lines=tuple(f"Wrote {p}" for p in r["files"]))


FORMAT = Format(
    name="cvat", title="CVAT XML", patterns=("*.xml",),
    holds=frozenset({"shapes", "tracks"}), read=read, write=write,
    read_metavar="FILE.xml", write_metavar="OUT",
    read_help="CVAT for images / CVAT for video 1.1 XML",
    read_description="Import a CVAT XML file (CVAT for images 1.1 or CVAT for video 1.1) as "
                     "one undoable step: labels with their attributes and skeletons, boxes "
                     "(rotated too), polygons, polylines, points, ellipses (as polygons), "
                     "skeletons, masks, tags, and tracks with keyframe/outside/occluded.",
    read_options=(
        Option("images", "path", "folder the <image> names are looked up under when not in "
               "the project (default: the XML file's folder)", metavar="DIR", folder=True,
               label="Folder of the images"),
        Option("video", "str", "the video the tracks belong to (default: the task's source, "
               "else the project's only video)", metavar="NAME", label="Video"),
    ),
    write_help="CVAT for images / CVAT for video 1.1 XML",
    write_description="Write CVAT XML: images as 'CVAT for images 1.1', each video as 'CVAT "
                      "for video 1.1' (tracks on every frame they show, with keyframe, "
                      "outside and occluded). OUT.xml for one file; a folder (images.xml and "
                      "one <video>.xml per video) when the project mixes them.",
    write_options=(
        Option("layout", "choice", "auto (default): OUT.xml when the project holds only "
               "images or one video, else OUT is a folder with images.xml and one <video>.xml "
               "per video; images: image items only ('CVAT for images'); video: videos only "
               "('CVAT for video', a folder when several)", default="auto",
               choices=("auto", "images", "video"), label="Layout"),
    ),
    overwrite_help="replace OUT files that already exist; never the project or its media",
)
