"""The bundled demo project: pictures, a video and a CT volume generated here (no download),
a schema covering every tool, a few pre-drawn annotations of each shape kind, a tracked car
with an event on the video and a painted lesion on the CT - every mode of the window.

``build_demo(folder)`` is idempotent: an existing demo project is reopened as it is. It builds
into a temporary sibling folder and renames it into place, so a crash never leaves half a demo.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.core.annotations import Annotation
from app.core.places import Place
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.errors import VellumError
from app.core.media import MediaStatus
from app.core.rle import encode
from app.core.schema import AttributeSpec, AttributeType, LabelClass, LabelSchema, Skeleton
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape, Tag
from app.core.store import PROJECT_FILE
from app.demo_images import Scene, parking, shapes, street, title_card
from app.io.user_data import user_data_folder

Progress = Callable[[int, int], None]
A = AttributeType

SKELETON = Skeleton(("head", "neck", "left hand", "right hand", "pelvis", "left foot",
                     "right foot"), ((0, 1), (1, 2), (1, 3), (1, 4), (4, 5), (4, 6)))


def demo_folder() -> Path:
    """``<user data>/vellum/demo``."""
    return user_data_folder() / "demo"


def _data_variable() -> str:
    """The environment variable that moves the user data folder, for a sentence."""
    return ("LOCALAPPDATA" if sys.platform == "win32" else "HOME" if sys.platform == "darwin"
            else "XDG_DATA_HOME")


def _require_writable(folder: Path, default: bool) -> None:
    """Create ``folder``'s parent and write a file in it, or say in one sentence which folder
    is not writable and what moves it (a read-only home, a file in the way...)."""
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        hint = (f"set {_data_variable()} to a writable folder to move it" if default
                else "choose a writable folder")
        raise VellumError(f"The demo project cannot be built because {parent} is not writable "
                          f"({exc.strerror or exc}); {hint}.", parent) from None


def demo_schema() -> LabelSchema:
    """Classes for every tool, attributes of every type, hotkeys 1–9."""
    def attr(name: str, kind: AttributeType, *options: str, **kw: Any) -> AttributeSpec:
        return AttributeSpec(name, kind, tuple(options), **kw)

    classes = (
        LabelClass("car", "#e6194b", ("box", "rotated_box", "polygon", "mask"), "1", (
            attr("color", A.ENUM, "red", "blue", "white", "black"),
            attr("truncated", A.BOOL), attr("parked", A.BOOL, dynamic=True))),
        LabelClass("person", "#ffe119", ("keypoints", "box", "polygon", "mask"), "2", (
            attr("pose", A.ENUM, "standing", "walking", "sitting"),
            attr("height_m", A.NUMBER, default=1.75, minimum=0.3, maximum=2.5)),
                   skeleton=SKELETON),
        LabelClass("road", "#aaffc3", ("polygon", "mask"), "3", (
            attr("surface", A.ENUM, "asphalt", "gravel", "dirt"),)),
        LabelClass("lane", "#f58231", ("polyline",), "4", (attr("dashed", A.BOOL),)),
        LabelClass("sky", "#46f0f0", ("mask", "polygon"), "5"),
        LabelClass("building", "#911eb4", ("polygon", "box", "mask"), "6", (
            attr("floors", A.NUMBER, default=1.0, minimum=1, maximum=200),)),
        LabelClass("sign", "#f032e6", ("box", "rotated_box"), "7", (attr("text", A.TEXT),)),
        LabelClass("tree", "#bcf60c", ("mask", "polygon"), "8"),
        LabelClass("weather", "#4363d8", ("tag",), "9", (
            attr("condition", A.ENUM, "clear", "cloudy", "rain", "snow"),
            attr("notes", A.TEXT))),
    )
    return LabelSchema(classes)


def _scenes() -> list[tuple[str, Scene, MediaStatus]]:
    return [
        ("01_street.png", street(1280, 720, 1, cars=3, people=3), MediaStatus.DONE),
        ("02_parking.png", parking(1600, 1200, 2), MediaStatus.IN_PROGRESS),
        ("03_signs.png", shapes(800, 600, 3), MediaStatus.NEEDS_REVIEW),
        ("04_street_wide.png", street(1024, 768, 4, cars=2, people=2), MediaStatus.IN_PROGRESS),
        ("05_title.png", title_card(640, 480), MediaStatus.UNLABELED),
        ("06_street_empty.png", street(960, 720, 5, cars=1, people=0), MediaStatus.UNLABELED),
    ]


def _shape(kind: str, g: dict[str, Any]) -> Shape:
    if kind == "box":
        return Box(float(g["x"]), float(g["y"]), float(g["w"]), float(g["h"]))
    if kind == "rotated_box":
        return RotatedBox(g["cx"], g["cy"], g["w"], g["h"], g["angle"])
    if kind == "polygon":
        return Polygon(tuple(g["points"]))
    if kind == "polyline":
        return Polyline(tuple(g["points"]))
    if kind == "keypoints":
        return Keypoints(tuple(g["points"]))
    if kind == "mask":
        return Mask(encode(g["mask"]))
    return Tag()


def _add_video_and_volume(doc: Document, folder: Path) -> None:
    """The demo's video (a car driving across, tracked, with a braking event) and CT head
    phantom (a DICOM series with a painted lesion), generated offline."""
    from app.demo_media import write_demo_ct, write_demo_video
    from app.io.ingest import add_media
    from app.widgets.video.demo import demo_video_labels
    from app.widgets.volume.demo import demo_volume_labels

    video = write_demo_video(folder / "video" / "drive.mp4")
    ct = write_demo_ct(folder / "ct" / "head_phantom")
    report = add_media(doc, [video, ct])
    if report.errors:
        raise report.errors[0]
    for item in report.added:
        labels = demo_video_labels if item.kind.value == "video" else demo_volume_labels
        doc.execute(labels(doc, item))


def build_demo(folder: str | Path | None = None, progress: Progress | None = None) -> Path:
    """Create (or reopen) the demo project in ``folder``; returns its project file path."""
    from app.io.images import write_png
    from app.io.ingest import add_media

    folder = Path(folder) if folder is not None else demo_folder()
    default = folder == demo_folder()
    project = folder / PROJECT_FILE
    if project.is_file():
        return project
    _require_writable(folder, default)
    tmp = folder.with_name(folder.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    scenes = _scenes()
    total = len(scenes) + 2
    for n, (name, scene, _status) in enumerate(scenes):
        write_png(tmp / "images" / name, scene.rgb)
        if progress:
            progress(n + 1, total)
    with Document.create(tmp / PROJECT_FILE, name="Vellum demo") as doc:
        schema = demo_schema()
        doc.execute(SetSchema(schema, label="Demo classes"))
        report = add_media(doc, [tmp / "images"])
        if report.errors:
            raise report.errors[0]
        by_name = {m.name: m for m in doc.media()}
        anns: list[Annotation] = []
        for name, scene, _status in scenes:
            item = by_name[name]
            for z, (cls_name, kind, geometry, attrs) in enumerate(scene.objects):
                cls = schema.class_by_name(cls_name)
                anns.append(Annotation(Place(item.id), _shape(kind, geometry), cls.id, z=z,
                                       attributes={**cls.default_attributes(), **attrs}))
        doc.execute(Put(tuple(anns), label="Demo annotations"))
        after = tuple(replace(by_name[name], status=st) for name, _s, st in scenes)
        doc.execute(Put(after, label="Demo statuses"))
        _add_video_and_volume(doc, tmp)
    if progress:
        progress(total - 1, total)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.exists():
        if any(folder.iterdir()):
            shutil.rmtree(tmp, ignore_errors=True)
            raise VellumError(f"{folder} is not empty and holds no demo project; choose an "
                              f"empty folder for the demo.", folder)
        folder.rmdir()
    os.replace(tmp, folder)
    if progress:
        progress(total, total)
    return project
