"""YOLO (Ultralytics dataset layout, darknet layout read too) in the format registry:
:mod:`app.io.yolo` (``plan_yolo``, ``export_yolo``) behind the one read/write signature of
:mod:`app.io.formats`. Coordinates: normalised by the image size, continuous like Vellum's;
keypoints as Ultralytics converts COCO's (pixel index / size), see :mod:`app.io.yolo.common`."""

from __future__ import annotations

from typing import Any

from app.io.formats import Format, Option, Outcome

TASKS = ("detect", "segment", "pose", "obb")


def read(doc: Any, path: Any, options: dict[str, Any], progress: Any, cancelled: Any,
         notes: list[str]) -> Outcome:
    from app.io.yolo.reader import plan_yolo

    task = options.get("task") or "auto"
    command, report = plan_yolo(doc, path, task=None if task == "auto" else task,
                                progress=progress, cancelled=cancelled, notes=notes)
    return Outcome(summary=f"Imported {report['annotations']} annotations from "
                           f"{report['files']} label files of {path}.",
                   lines=(f"Imported {report['annotations']} annotations from "
                          f"{report['files']} label files, {report['classes']} new classes, "
                          f"from {path}",),
                   command=command)


def write(doc: Any, out: Any, options: dict[str, Any], progress: Any, cancelled: Any,
          notes: list[str]) -> Outcome:
    from app.io.yolo.writer import export_yolo

    r = export_yolo(doc, out, task=options.get("task") or "detect", split=options.get("split"),
                    seed=int(options.get("seed") or 0),
                    with_images=bool(options.get("with_images")),
                    overwrite=bool(options.get("overwrite")), progress=progress,
                    cancelled=cancelled, notes=notes)
    splits = ", ".join(f"{k} {v}" for k, v in r["splits"].items()) or "no images"
    return Outcome(summary=f"Wrote {out}: {r['entries']} images ({splits}), {r['objects']} "
                           "objects.",
                   lines=(f"Wrote {out}: {r['entries']} images ({splits}), {r['objects']} "
                          f"objects, {r['classes']} classes"
                          + (f", {r['images']} image files" if options.get("with_images")
                             else ""),))


FORMAT = Format(
    name="yolo", title="YOLO dataset", patterns=("data.yaml", "obj.data"),
    holds=frozenset({"shapes"}), read=read, write=write,
    read_target="folder", write_target="folder", read_metavar="PATH", write_metavar="OUT",
    read_help="YOLO dataset (Ultralytics data.yaml, or darknet obj.data)",
    read_description="Add the labels of a YOLO dataset (a folder, its data.yaml or obj.data) "
                     "to the project's images as one undoable step. Label files are matched "
                     "to the project's images by their path under images/<split>/, else by "
                     "file name; <video>_<frame:06d> names a video frame. Media are not "
                     "added. Any bad line stops the import with one sentence.",
    read_options=(
        Option("task", "choice", "how to read lines of 8 numbers: as rotated boxes (obb) or "
               "polygons (segment); auto: as data.yaml says, else rotated boxes when they are "
               "rectangles", default="auto", choices=("auto", *TASKS), label="Task"),
    ),
    write_help="YOLO dataset (Ultralytics layout: data.yaml, images/, labels/)",
    write_description="Write an Ultralytics YOLO dataset into folder OUT: data.yaml, "
                      "labels/<split>/<image>.txt, and with --with-images the images "
                      "(video frames with shapes as <video>_<frame:06d>.png). YOLO holds no "
                      "holes, tags, attributes or tracks: the notes say what was left out.",
    write_options=(
        Option("task", "choice", "detect (boxes), segment (polygons), pose (keypoints, "
               "kpt_shape and flip_idx from the skeleton) or obb (rotated boxes)",
               default="detect", choices=TASKS, label="Task"),
        Option("split", "str", "splits and shares, e.g. train=0.8,val=0.2 (seeded, by image; "
               "a video's frames stay together); default: all in train",
               metavar="NAME=SHARE,...", label="Split"),
        Option("seed", "int", "seed of the split (default 0)", default=0, label="Split seed"),
        Option("with_images", "bool", "also write the images (copies) and the labelled video "
               "frames (PNG) into images/<split>/", label="Write the images too"),
    ),
    overwrite_help="replace files of the same names in OUT; never the project or its media",
)
