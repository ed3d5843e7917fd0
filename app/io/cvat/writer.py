"""CVAT XML out: "CVAT for images 1.1" for image items, "CVAT for video 1.1" for each video.

Layout (``--layout``): ``auto`` writes OUT.xml when the project holds only images or one
video, else OUT is a folder with ``images.xml`` and one ``<video name>.xml`` per video;
``images`` writes the images only, ``video`` the videos only (OUT.xml for one, a folder for
several). Coordinates are Vellum's continuous pixels, as CVAT's; frames are 0-based. A track
is written on every frame it shows (keyframes with ``keyframe="1"``, interpolated frames with
``keyframe="0"``) and on its ``outside`` markers, as CVAT writes tracks. Output goes through
:mod:`app.io.outputs` (one file atomically, or several all-or-nothing).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from app.core.annotations import Annotation, Track
from app.core.document import Document
from app.core.errors import VellumError
from app.core.interpolate import shown_frames
from app.core.media import MediaItem, MediaKind
from app.core.rle import decode
from app.core.schema import LabelClass
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox, Tag
from app.io.cvat.common import (CVAT, OUTPUT_TYPES, ellipse_ring, mask_to_cvat, num,
                                points_text, value_to_cvat)

LAYOUTS = ("auto", "images", "video")


def _attr(**kw: Any) -> str:
    return "".join(f" {k}={quoteattr(str(v))}" for k, v in kw.items())


class _Writer:
    def __init__(self, doc: Document, notes: list[str]) -> None:
        self.doc, self.notes = doc, notes
        self.classes = {c.id: c for c in doc.schema.classes}
        self.lost: dict[str, int] = defaultdict(int)
        self.extra: dict[str, set[str]] = defaultdict(set)  # class id -> undeclared attrs
        self.count = 0
        self.reviews = doc.object_reviews()  # written as vellum_review(_reason) attributes

    # ------------------------------------------------------------------ meta
    def labels(self) -> str:
        out = ["      <labels>\n"]
        for c in self.doc.schema.classes:
            kind = "skeleton" if c.skeleton else c.foreign.get(CVAT, {}).get("type", "any")
            out.append(f"        <label>\n          <name>{escape(c.name)}</name>\n"
                       f"          <color>{c.color}</color>\n          <type>{escape(kind)}"
                       "</type>\n          <attributes>\n")
            for a in c.attributes:
                values = ""
                if a.options:
                    values = "\n".join(a.options)
                elif a.minimum is not None and a.maximum is not None:
                    values = f"{num(a.minimum)}\n{num(a.maximum)}\n1"
                default = "" if a.default is None else value_to_cvat(a.default)
                out.append(self._attr_decl(a.name, a.dynamic, OUTPUT_TYPES[a.type], default,
                                           values))
            for name in sorted(self.extra.get(c.id, ())):
                out.append(self._attr_decl(name, True, "text", "", ""))
            out.append("          </attributes>\n")
            if c.skeleton:
                out.append(f"          <svg>{escape(self._svg(c))}</svg>\n")
            out.append("        </label>\n")
            if c.skeleton:
                for p in c.skeleton.points:
                    out.append(f"        <label>\n          <name>{escape(p)}</name>\n"
                               f"          <color>{c.color}</color>\n          <type>points"
                               f"</type>\n          <attributes>\n          </attributes>\n"
                               f"          <parent>{escape(c.name)}</parent>\n"
                               "        </label>\n")
        out.append("      </labels>\n")
        return "".join(out)

    @staticmethod
    def _attr_decl(name: str, mutable: bool, kind: str, default: str, values: str) -> str:
        return ("            <attribute>\n"
                f"              <name>{escape(name)}</name>\n"
                f"              <mutable>{'True' if mutable else 'False'}</mutable>\n"
                f"              <input_type>{kind}</input_type>\n"
                f"              <default_value>{escape(default)}</default_value>\n"
                f"              <values>{escape(values)}</values>\n"
                "            </attribute>\n")

    @staticmethod
    def _svg(c: LabelClass) -> str:
        sk = c.skeleton
        assert sk is not None
        n = len(sk.points)
        lines = "".join(f'<line x1="{10 + 80 * a / n}" y1="50" x2="{10 + 80 * b / n}" y2="50" '
                        f'data-type="edge" data-node-from="{a + 1}" data-node-to="{b + 1}">'
                        "</line>" for a, b in sk.edges)
        circles = "".join(f'<circle r="1.5" cx="{10 + 80 * k / n}" cy="50" '
                          f'data-type="element node" data-element-id="{k + 1}" '
                          f'data-node-id="{k + 1}" data-label-name={quoteattr(p)}></circle>'
                          for k, p in enumerate(sk.points))
        return lines + circles

    def head(self, name: str, size: int, mode: str, labels: str, video: MediaItem | None
             ) -> str:
        extra = ""
        if video is not None:
            extra = (f"      <original_size>\n        <width>{video.width}</width>\n"
                     f"        <height>{video.height}</height>\n      </original_size>\n"
                     f"      <source>{escape(video.name)}</source>\n")
        return ('<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n'
                "  <version>1.1</version>\n  <meta>\n    <task>\n"
                f"      <name>{escape(name)}</name>\n      <size>{size}</size>\n"
                f"      <mode>{mode}</mode>\n      <overlap>0</overlap>\n"
                f"      <start_frame>0</start_frame>\n"
                f"      <stop_frame>{max(size - 1, 0)}</stop_frame>\n"
                f"      <frame_filter></frame_filter>\n{labels}{extra}"
                "    </task>\n  </meta>\n")

    # ------------------------------------------------------------------ shapes
    def attributes(self, a: Annotation, static: dict[str, Any] | None = None,
                   indent: str = "      ") -> str:
        cls = self.classes.get(a.class_id)
        values = dict(static or {})
        values.update(a.attributes)
        values.update(a.foreign.get(CVAT, {}).get("attributes", {}) or {})
        review = self.reviews.get(a.id)
        if review is not None:
            values["vellum_review"] = review.state.value
            if review.reason:
                values["vellum_review_reason"] = review.reason
        out = []
        for k in sorted(values, key=lambda k: (cls.attribute(k) is None if cls else True, k)):
            if cls is not None and cls.attribute(k) is None:
                self.extra[cls.id].add(k)
            out.append(f"{indent}<attribute name={quoteattr(k)}>"
                       f"{escape(value_to_cvat(values[k]))}</attribute>\n")
        return "".join(out)

    def shape(self, a: Annotation, extra: dict[str, Any], body: str, item: MediaItem,
              indent: str = "    ") -> str:
        """One shape element (or "" when CVAT cannot hold it; counted for the notes)."""
        s = a.shape
        cls = self.classes.get(a.class_id)
        f = a.foreign.get(CVAT, {})
        common = dict(extra)
        common.update(occluded=int(a.occluded), z_order=a.z)
        if "group_id" in f:
            common["group_id"] = f["group_id"]
        head = {"source": f.get("source", "manual")} if "frame" not in extra else {}
        if isinstance(s, Box):
            tag, geo = "box", dict(xtl=num(s.x), ytl=num(s.y), xbr=num(s.x + s.w),
                                   ybr=num(s.y + s.h))
        elif isinstance(s, RotatedBox):
            tag, geo = "box", dict(xtl=num(s.cx - s.w / 2), ytl=num(s.cy - s.h / 2),
                                   xbr=num(s.cx + s.w / 2), ybr=num(s.cy + s.h / 2),
                                   rotation=num(s.angle % 360))
        elif isinstance(s, Polygon):
            e = f.get("ellipse")
            if e and not s.holes and not s.parts and \
                    [tuple(p) for p in s.exterior] == ellipse_ring(*e):
                tag, geo = "ellipse", dict(cx=num(e[0]), cy=num(e[1]), rx=num(e[2]),
                                           ry=num(e[3]), rotation=num(e[4]))
            else:
                tag, geo = "polygon", dict(points=points_text(s.exterior))
                if s.holes:
                    self.lost["polygon holes (written without them)"] += 1
                if s.parts:
                    self.lost["polygon parts (written as the first part only)"] += 1
        elif isinstance(s, Polyline):
            tag, geo = "polyline", dict(points=points_text(s.points))
        elif isinstance(s, Keypoints):
            if cls is not None and cls.skeleton and len(cls.skeleton.points) == len(s.points) \
                    and f.get("type") != "points":
                if s.box is not None or s.region is not None:
                    self.lost["keypoint boxes/outlines"] += 1
                inner = "".join(
                    f"{indent}  <points{_attr(label=p, outside=int(v == 0))}"
                    f"{_attr(occluded=int(v == 1), points=f'{num(x)},{num(y)}')}></points>\n"
                    for p, (x, y, v) in zip(cls.skeleton.points, s.points))
                return (f"{indent}<skeleton{_attr(label=cls.name, **head, **common)}>\n"
                        f"{inner}{body}{indent}</skeleton>\n")
            pts = [(x, y) for x, y, v in s.points if v]
            if any(v == 1 for _, _, v in s.points):
                self.lost["point visibility 'occluded' of single points"] += 1
            if len(pts) != len(s.points):
                self.lost["unlabelled keypoints"] += 1
            if not pts:
                return ""
            tag, geo = "points", dict(points=points_text(pts))
        elif isinstance(s, Mask):
            got = mask_to_cvat(decode(s.rle))
            if got is None:
                self.lost["empty masks (left out)"] += 1
                return ""
            rle, left, top, width, height = got
            tag, geo = "mask", dict(rle=rle, left=left, top=top, width=width, height=height)
        else:
            self.lost[f"{a.kind} shapes (left out)"] += 1
            return ""
        if cls is None:
            self.lost["shapes without a class (left out)"] += 1
            return ""
        if a.iscrowd:
            self.lost["the crowd flag"] += 1
        self.count += 1
        return (f"{indent}<{tag}{_attr(label=cls.name, **head, **common, **geo)}>\n{body}"
                f"{indent}</{tag}>\n")

    def tag(self, a: Annotation, extra: dict[str, Any], indent: str = "    ") -> str:
        cls = self.classes.get(a.class_id)
        if cls is None:
            self.lost["tags without a class (left out)"] += 1
            return ""
        f = a.foreign.get(CVAT, {})
        kw = dict(label=cls.name, **extra, source=f.get("source", "manual"))
        if "group_id" in f:
            kw["group_id"] = f["group_id"]
        self.count += 1
        return (f"{indent}<tag{_attr(**kw)}>\n{self.attributes(a, indent=indent + '  ')}"
                f"{indent}</tag>\n")

    # ------------------------------------------------------------------ files
    def images_xml(self, images: list[MediaItem], names: list[str], progress: Any,
                   cancelled: Any) -> str:
        body = []
        for n, (item, name) in enumerate(zip(images, names)):
            if cancelled():
                raise VellumError("Export was cancelled; nothing was written.")
            progress(n, len(images), item.name)
            body.append(f"  <image{_attr(id=n, name=name)}"
                        f"{_attr(width=item.width, height=item.height)}>\n")
            for a in sorted(self.doc.annotations(item.id, all_frames=True), key=_order):
                if isinstance(a.shape, Tag):
                    body.append(self.tag(a, {}))
                else:
                    body.append(self.shape(a, {}, self.attributes(a), item))
            body.append("  </image>\n")
        progress(len(images), len(images))
        name = self.doc.schema.foreign.get(CVAT, {}).get("name") or self.doc.name
        return self.head(str(name), len(images), "annotation", self.labels(), None) + \
            "".join(body) + "</annotations>\n"

    def video_xml(self, video: MediaItem, cancelled: Any) -> str:
        body = []
        tracks = sorted(self.doc.tracks(video.id), key=lambda t: _track_order(self.doc, t))
        n = 0
        for t in tracks:
            if cancelled():
                raise VellumError("Export was cancelled; nothing was written.")
            shapes = self.doc.track_shapes(t)
            if not shapes:
                continue
            body.append(self.track(t, shapes, video, n))
            n += 1
        alone = [a for a in self.doc.annotations(video.id, all_frames=True)
                 if a.track_id is None and a.frame is not None]
        tags = [a for a in alone if isinstance(a.shape, Tag)]
        alone = sorted((a for a in alone if not isinstance(a.shape, Tag)), key=_order)
        if alone:
            self.notes.append(f"{video.name}: {len(alone)} shape(s) outside tracks were "
                              "written as one-frame tracks (CVAT for video holds tracks only).")
        for a in alone:
            marks = [a]
            if a.frame + 1 < video.frames:
                from dataclasses import replace
                marks.append(replace(a, place=a.place.at_frame(a.frame + 1), outside=True))
            body.append(self.track(Track(video.id, a.class_id), marks, video, n))
            n += 1
        for a in sorted(tags, key=_order):
            body.append(self.tag(a, {"frame": a.frame}, indent="  "))
        return self.head(video.name, video.frames, "interpolation", self.labels(), video) + \
            "".join(body) + "</annotations>\n"

    def track(self, t: Track, shapes: list[Annotation], video: MediaItem, n: int) -> str:
        cls = self.classes.get(t.class_id)
        if cls is None:
            self.lost["tracks without a class (left out)"] += 1
            return ""
        f = t.foreign.get(CVAT, {})
        kw: dict[str, Any] = dict(id=n, label=cls.name, source=f.get("source", "manual"))
        if "group_id" in f:
            kw["group_id"] = f["group_id"]
        rows = {a.frame: a for a in shown_frames(shapes, video.frames)}
        for a in shapes:
            if a.outside and a.frame is not None and a.frame < video.frames:
                rows[a.frame] = a
        stored = {a.frame for a in shapes}
        out = [f"  <track{_attr(**kw)}>\n"]
        for frame in sorted(rows):
            a = rows[frame]
            key = int(frame in stored and a.keyframe)
            extra = dict(frame=frame, keyframe=key, outside=int(a.outside))
            out.append(self.shape(a, extra, self.attributes(a, t.attributes, "      "), video))
        out.append("  </track>\n")
        return "".join(out)

    def finish_notes(self) -> None:
        for what, k in sorted(self.lost.items()):
            self.notes.append(f"CVAT XML cannot hold {what}: {k} shape(s) affected.")


def _order(a: Annotation) -> tuple:
    return (a.frame or 0, a.z, a.kind, tuple(round(v, 4) for v in a.shape.bbox()),
            a.class_id or "", a.id)


def _track_order(doc: Document, t: Track) -> tuple:
    cid = t.foreign.get(CVAT, {}).get("id")
    try:
        num_id = int(cid)
    except (TypeError, ValueError):
        num_id = 1 << 60
    shapes = doc.track_shapes(t)
    first = min((a.frame for a in shapes if a.frame is not None), default=0)
    return (num_id, first, t.created, t.id)


def image_names(doc: Document, images: list[MediaItem]) -> list[str]:
    """The ``<image name>`` of each image: the name it was imported with, else its path
    relative to the deepest folder holding every exported image."""
    if not images:
        return []
    from app.io.coco.export import absolute_media_path, default_root

    root = default_root(doc, images)
    out = []
    for m in images:
        kept = m.foreign.get(CVAT, {}).get("name")
        if isinstance(kept, str) and kept:
            out.append(kept)
            continue
        p = absolute_media_path(doc, m)
        try:
            out.append(p.relative_to(root).as_posix())
        except ValueError:
            out.append(p.name)
    return out


def _stem(name: str, used: set[str]) -> str:
    base = Path(name.replace("\\", "/")).stem.replace("/", "_").strip(" .") or "video"
    base = "".join(ch if ch.isalnum() or ch in "-_ ." else "_" for ch in base)
    cand, k = base, 2
    while cand.lower() in used:
        cand, k = f"{base}-{k}", k + 1
    used.add(cand.lower())
    return cand


def export_cvat(doc: Document, out: str | Path, layout: str = "auto", *,
                overwrite: bool = False, progress: Any = None, cancelled: Any = None,
                notes: list[str] | None = None) -> dict[str, Any]:
    """Write ``doc`` as CVAT XML at ``out`` (see the module doc for ``layout``). Returns a
    report: the files written, images, videos and shapes."""
    from app.io.atomic import atomic_write
    from app.io.outputs import StagedOutput, prepare_folder, prepare_output, prepare_outputs

    progress = progress or (lambda *a, **k: None)
    cancelled = cancelled or (lambda: False)
    notes = notes if notes is not None else []
    if layout not in LAYOUTS:
        raise VellumError(f"--layout must be one of {', '.join(LAYOUTS)}, not {layout!r}.")
    out = Path(out)
    media = doc.media()
    images = [m for m in media if m.kind is MediaKind.IMAGE] if layout != "video" else []
    videos = [m for m in media if m.kind is MediaKind.VIDEO] if layout != "images" else []
    skipped = [m for m in media if m.kind is MediaKind.VOLUME or (
        layout == "images" and m.kind is MediaKind.VIDEO) or (
        layout == "video" and m.kind is MediaKind.IMAGE)]
    if skipped:
        notes.append(f"{len(skipped)} media item(s) were left out (layout {layout}; CVAT XML "
                     "holds no volumes).")
    if not images and not videos:
        raise VellumError(f"{doc.path} has nothing to export as CVAT XML with layout "
                          f"{layout}.")
    single = out.suffix.lower() == ".xml"
    files = (1 if images else 0) + len(videos)
    if single and files > 1:
        raise VellumError(f"{out}: this project needs {files} CVAT XML files (images and "
                          "each video apart); give a folder instead of a .xml file, or "
                          "choose one with --layout.", out)
    w = _Writer(doc, notes)
    texts: list[tuple[str, str]] = []  # (file name, text)
    used: set[str] = set()
    if images:
        texts.append(("images.xml" if not single else out.name,
                      w.images_xml(images, image_names(doc, images), progress, cancelled)))
        used.add("images")
    for v in videos:
        texts.append((f"{_stem(v.name, used)}.xml" if not single else out.name,
                      w.video_xml(v, cancelled)))
    w.finish_notes()
    if single:
        target = prepare_output(out, formats=(".xml",), overwrite=overwrite, doc=doc)
        with atomic_write(target) as fh:
            fh.write(texts[0][1])
        written = [target]
    else:
        prepare_folder(out, doc)
        written = prepare_outputs([out / name for name, _ in texts], overwrite=overwrite,
                                  doc=doc)
        with StagedOutput(out, out) as stage:
            for (name, text), target in zip(texts, written):
                stage.write_text(target, text)
    return {"files": written, "images": len(images), "videos": len(videos),
            "shapes": w.count}
