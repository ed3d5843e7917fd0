"""CVAT XML in: one undoable command (schema, new media, tracks, annotations).

``<image name=...>`` entries are matched to the project's images by the longest trailing part
of their name (``a/b/c.png``, then ``b/c.png``, then ``c.png``); an image not in the project
is looked for the same way under the images folder (default: the XML file's folder) and added.
``<track>`` entries belong to the video named by ``--video``, else the one the task's
``<source>`` names, else the project's only video. Coordinates pass unchanged (CVAT's are
continuous, as Vellum's); frames are 0-based on both sides. What a Vellum shape cannot hold
is kept in ``foreign["cvat"]`` and said in the notes: an ellipse becomes a 64-vertex polygon
that keeps its ellipse (written back as an ellipse while unedited); group ids and sources are
kept; track shapes with ``keyframe="0"`` that interpolation between the keyframes reproduces
(within 0.01 px) are not stored (CVAT writes every frame of a track).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any
import re
import xml.etree.ElementTree as ET

import numpy as np

from app.core.annotations import Annotation, Track
from app.core.commands import Batch, Command, Put, SetSchema
from app.core.document import Document
from app.core.errors import BadInputError, VellumError
from app.core.identity import utc_now
from app.core.interpolate import interpolate
from app.core.media import MediaItem, MediaKind, fingerprint, relative_path
from app.core.places import Place
from app.core.review import ObjectReview, ObjectState, SetReview
from app.core.rle import encode
from app.core.schema import PALETTE, LabelClass, LabelSchema, Skeleton
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape, Tag
from app.io.cvat.common import (CVAT, ellipse_ring, mask_from_cvat, parse_points,
                                spec_from_cvat, value_from_cvat)
from app.io.xml_safe import read_xml

REVIEW_STATE, REVIEW_REASON = "vellum_review", "vellum_review_reason"
REVIEW_ATTRS = (REVIEW_STATE, REVIEW_REASON)

SHAPES = ("box", "polygon", "polyline", "points", "ellipse", "mask", "skeleton")
TOLERANCE = 0.01
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_TRACK_KEYS = {"frame", "keyframe", "outside", "occluded", "z_order", "label", "source",
               "group_id"}


def _text(el: ET.Element | None, tag: str, default: str = "") -> str:
    c = el.find(tag) if el is not None else None
    return (c.text or "").strip() if c is not None and c.text is not None else default


def _flag(el: ET.Element, name: str) -> bool:
    return el.get(name, "0").strip().lower() in ("1", "true")


class _Reader:
    def __init__(self, doc: Document, path: Path, images_dir: Path, video: str | None,
                 progress: Any, cancelled: Any) -> None:
        self.doc, self.path, self.images_dir, self.video_name = doc, path, images_dir, video
        self.progress, self.cancelled = progress, cancelled
        self.schema: LabelSchema = doc.schema
        self.notes: list[str] = []
        self.new_media: list[MediaItem] = []
        self.updated: dict[str, MediaItem] = {}  # media of the project given their CVAT name
        self.position = doc.next_position()
        self.counts: dict[str, int] = defaultdict(int)
        self.label_types: dict[str, str] = {}
        self.who = {"creator": doc.author, "created": utc_now()}  # author() is slow per record
        self.reviews: dict[str, tuple[str, str]] = {}  # annotation id -> (state, reason)

    def fail(self, message: str) -> None:
        raise BadInputError(f"{self.path}: {message}.", self.path)

    def check_cancel(self) -> None:
        if self.cancelled():
            raise VellumError(f"Import of {self.path} was cancelled; nothing was changed.",
                              self.path)

    # ------------------------------------------------------------------ labels
    def labels(self, meta: ET.Element | None) -> None:
        holder = None
        if meta is not None:
            for tag in ("task", "job", "project"):
                holder = meta.find(tag)
                if holder is not None:
                    break
        labels = holder.find("labels") if holder is not None else None
        entries = list(labels.findall("label")) if labels is not None else []
        parents: dict[str, list[str]] = defaultdict(list)
        tops = []
        for lab in entries:
            name = _text(lab, "name")
            if not name:
                self.fail("a <label> has no <name>")
            parent = _text(lab, "parent")
            if parent:
                parents[parent].append(name)
            else:
                tops.append(lab)
            for sub in lab.findall("sublabels/label"):  # older nested layout
                parents[name].append(_text(sub, "name"))
        for lab in tops:
            self.add_class(lab, parents.get(_text(lab, "name"), []))

    def add_class(self, lab: ET.Element, points: list[str]) -> None:
        name = _text(lab, "name")
        kind = _text(lab, "type") or "any"
        self.label_types[name] = kind
        specs = []
        for a in lab.findall("attributes/attribute"):
            aname = _text(a, "name")
            if not aname:
                self.fail(f"an attribute of label {name!r} has no <name>")
            if aname in REVIEW_ATTRS:
                continue  # Vellum's review state rides as an attribute; not the class's
            values = [v for v in (_text(a, "values")).split("\n") if v != ""]
            specs.append(spec_from_cvat(aname, _text(a, "input_type"),
                                        _text(a, "mutable").lower() in ("true", "1"),
                                        _text(a, "default_value"), values))
        skeleton = None
        if kind == "skeleton" and points:
            try:
                skeleton = Skeleton(tuple(points), self.edges(_text(lab, "svg"), points))
            except ValueError as exc:
                self.fail(f"the skeleton of label {name!r} is not usable ({exc})")
        color = _text(lab, "color")
        cls = self.schema.class_by_name(name)
        if cls is None:
            cls = LabelClass(name, color if _COLOR.match(color) else
                             PALETTE[len(self.schema.classes) % len(PALETTE)],
                             attributes=tuple(specs), skeleton=skeleton,
                             foreign={CVAT: {"type": kind}})
        else:
            have = {a.name for a in cls.attributes}
            more = tuple(s for s in specs if s.name not in have)
            if more or (skeleton and not cls.skeleton):
                cls = replace(cls, attributes=cls.attributes + more,
                              skeleton=cls.skeleton or skeleton)
        self.schema = self.schema.with_class(cls)

    @staticmethod
    def edges(svg: str, points: list[str]) -> tuple[tuple[int, int], ...]:
        """Skeleton edges from CVAT's ``<svg>``: circles name their point (data-label-name)
        and node id; lines join node ids."""
        ids: dict[str, int] = {}
        for m in re.finditer(r"<circle\b[^>]*>", svg):
            tag = m.group(0)
            nid = re.search(r'data-node-id="(\d+)"', tag)
            lname = re.search(r'data-label-name="([^"]*)"', tag)
            if nid and lname and lname.group(1) in points:
                ids[nid.group(1)] = points.index(lname.group(1))
        out = []
        for m in re.finditer(r"<line\b[^>]*>", svg):
            a = re.search(r'data-node-from="(\d+)"', m.group(0))
            b = re.search(r'data-node-to="(\d+)"', m.group(0))
            if a and b and a.group(1) in ids and b.group(1) in ids:
                e = (ids[a.group(1)], ids[b.group(1)])
                if e[0] != e[1] and e not in out:
                    out.append(e)
        return tuple(out)

    def cls(self, name: str | None, where: str) -> LabelClass:
        if not name:
            self.fail(f"{where} has no label")
        c = self.schema.class_by_name(name)
        if c is None:  # a label the <meta> did not declare
            c = LabelClass(name, PALETTE[len(self.schema.classes) % len(PALETTE)],
                           foreign={CVAT: {"type": "any"}})
            self.schema = self.schema.with_class(c)
            self.notes.append(f"Label {name!r} is not declared in the file's <meta>; it was "
                              "added as a class.")
        return c

    def attributes(self, el: ET.Element, cls: LabelClass) -> tuple[dict[str, Any],
                                                                    dict[str, str]]:
        """(typed values, raw values that do not fit their declared type)."""
        good: dict[str, Any] = {}
        bad: dict[str, str] = {}
        for a in el.findall("attribute"):
            name = a.get("name")
            if not name:
                self.fail(f"an <attribute> of a {el.tag} has no name")
            raw = a.text or ""
            spec = cls.attribute(name)
            value = value_from_cvat(spec, raw)
            if spec is not None:
                try:
                    value = spec.check(value)
                except ValueError:
                    bad[name] = raw
                    continue
            good[name] = value
        if bad:
            self.notes.append(f"{len(bad)} attribute value(s) of class {cls.name!r} do not fit "
                              "their declared type; they are kept as written and given back "
                              "on export.")
        return good, bad

    # ------------------------------------------------------------------ shapes
    def shape(self, el: ET.Element, cls: LabelClass, h: int, w: int,
              where: str) -> tuple[Shape, dict[str, Any]]:
        """A Vellum shape of one CVAT shape element, and what ``foreign`` keeps of it."""
        tag, keep = el.tag, {}
        try:
            if tag == "box":
                x0, y0, x1, y1 = (float(el.get(k, "nan")) for k in ("xtl", "ytl", "xbr", "ybr"))
                rot = float(el.get("rotation", "0") or 0)
                if x1 < x0 or y1 < y0:
                    raise ValueError("xbr/ybr lie before xtl/ytl")
                if rot % 360:
                    return RotatedBox((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0,
                                      rot % 360), keep
                return Box(x0, y0, x1 - x0, y1 - y0), keep
            if tag == "polygon":
                return Polygon(parse_points(el.get("points", ""))), keep
            if tag == "polyline":
                return Polyline(parse_points(el.get("points", ""))), keep
            if tag == "points":
                pts = parse_points(el.get("points", ""))
                keep["type"] = "points"
                return Keypoints(tuple((x, y, 2) for x, y in pts)), keep
            if tag == "ellipse":
                cx, cy, rx, ry = (float(el.get(k, "nan")) for k in ("cx", "cy", "rx", "ry"))
                rot = float(el.get("rotation", "0") or 0)
                if not (rx > 0 and ry > 0):
                    raise ValueError("an ellipse needs positive radii")
                keep["ellipse"] = [cx, cy, rx, ry, rot]
                self.counts["ellipses"] += 1
                return Polygon(ellipse_ring(cx, cy, rx, ry, rot)), keep
            if tag == "mask":
                m = mask_from_cvat(el.get("rle", ""), int(el.get("left", "")),
                                   int(el.get("top", "")), int(el.get("width", "")),
                                   int(el.get("height", "")), h, w)
                return Mask(encode(m)), keep
            if tag == "skeleton":
                return self.skeleton(el, cls, where), keep
        except (ValueError, TypeError) as exc:
            self.fail(f"{where}: a <{tag}> is not usable ({exc})")
        self.fail(f"{where}: <{tag}> is not a shape Vellum reads")
        raise AssertionError

    def skeleton(self, el: ET.Element, cls: LabelClass, where: str) -> Keypoints:
        names = list(cls.skeleton.points) if cls.skeleton else []
        found: dict[str, tuple[float, float, int]] = {}
        for p in el.findall("points"):
            label = p.get("label", "")
            if label not in names:
                self.fail(f"{where}: a skeleton point {label!r} is not a point of label "
                          f"{cls.name!r}")
            (x, y), = parse_points(p.get("points", ""))
            v = 0 if _flag(p, "outside") else 1 if _flag(p, "occluded") else 2
            found[label] = (x, y, v)
        return Keypoints(tuple(found.get(n, (0.0, 0.0, 0)) for n in names))

    def annotation(self, el: ET.Element, place: Place, h: int, w: int, where: str,
                   track: Track | None = None, label: str | None = None) -> Annotation:
        cls = self.cls(label or el.get("label"), where)
        shape, keep = self.shape(el, cls, h, w, where)
        attrs, bad, review = self.review_attributes(el, cls)
        if bad:
            keep["attributes"] = bad
        for k in ("group_id", "source"):
            if el.get(k) not in (None, "", "0", "manual"):
                keep[k] = el.get(k)
        try:
            z = int(el.get("z_order", "0") or 0)
        except ValueError:
            self.fail(f"{where}: z_order {el.get('z_order')!r} is not a whole number")
        self.counts[el.tag] += 1
        return self.reviewed(Annotation(
            place=place, shape=shape, class_id=cls.id, attributes=attrs, z=z,
            occluded=_flag(el, "occluded"), foreign={CVAT: keep} if keep else {},
            track_id=track.id if track else None, **self.who), review)

    def review_attributes(self, el: ET.Element, cls: LabelClass
                          ) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        """:meth:`attributes` less the review state Vellum's export adds, and that state."""
        review = {a.get("name"): a.text or "" for a in el.findall("attribute")
                  if a.get("name") in REVIEW_ATTRS}
        attrs, bad = self.attributes(el, cls)
        for name in REVIEW_ATTRS:
            attrs.pop(name, None)
            bad.pop(name, None)
        return attrs, bad, review

    def reviewed(self, ann: Annotation, review: dict[str, str]) -> Annotation:
        if review.get(REVIEW_STATE):
            self.reviews[ann.id] = (review[REVIEW_STATE], review.get(REVIEW_REASON, ""))
        return ann

    # ------------------------------------------------------------------ media
    def image_index(self) -> dict[str, list[MediaItem]]:
        index: dict[str, list[MediaItem]] = defaultdict(list)
        for m in self.doc.media():
            if m.kind is MediaKind.IMAGE:
                parts = m.path.replace("\\", "/").split("/")
                for n in range(len(parts)):
                    index["/".join(parts[n:])].append(m)
        return index

    def video_frame(self, el: ET.Element, index: dict[str, list[MediaItem]]) -> int | None:
        """The frame index of an <image> CVAT names ``frame_000012`` when it exports a video
        task "for images" (0-based, presentation order), when no project image has that name
        and the project has a video; None otherwise."""
        name = (el.get("name") or "").replace("\\", "/").rsplit("/", 1)[-1]
        m = re.fullmatch(r"frame_(\d{1,9})(\.[A-Za-z0-9]+)?", name)
        if m is None or index.get(name) or not any(
                v.kind is MediaKind.VIDEO for v in self.doc.media()):
            return None
        return int(m.group(1))

    def image(self, el: ET.Element, index: dict[str, list[MediaItem]]) -> MediaItem:
        name = el.get("name") or ""
        parts = [q for q in name.replace("\\", "/").split("/") if q not in ("", ".")]
        if parts and parts[0].endswith(":"):
            parts = parts[1:]
        if not parts:
            self.fail(f"an <image> (id {el.get('id')!r}) has no name")
        for n in range(len(parts)):
            hits = index.get("/".join(parts[n:]), [])
            if len(hits) == 1:
                return self.named(hits[0], name, index)
        for n in range(len(parts)):
            tail = parts[n:]
            if ".." in tail:
                continue
            p = self.images_dir.joinpath(*tail)
            try:
                if p.is_file():
                    return self.named(self.add_image(p, index), name, index)
            except OSError:
                continue
        self.fail(f"image {name!r} is neither in the project nor under {self.images_dir}")
        raise AssertionError

    def named(self, item: MediaItem, name: str, index: dict[str, list[MediaItem]]
              ) -> MediaItem:
        """``item`` keeping the ``<image name>`` it was imported with (written back)."""
        if item.foreign.get(CVAT, {}).get("name") == name:
            return item
        new = replace(item, foreign={**item.foreign, CVAT: {**item.foreign.get(CVAT, {}),
                                                            "name": name}})
        for hits in index.values():
            for k, m in enumerate(hits):
                if m.id == item.id:
                    hits[k] = new
        self.new_media = [new if m.id == item.id else m for m in self.new_media]
        if all(m.id != item.id for m in self.new_media):
            self.updated[item.id] = new
        return new

    def add_image(self, p: Path, index: dict[str, list[MediaItem]]) -> MediaItem:
        from app.io.ingest import media_item
        from app.io.probe import probe

        rel = relative_path(p, self.doc.folder)
        for m in self.new_media:
            if m.path == rel:
                return m
        try:
            info = probe(p)
            item = media_item(info, rel, fingerprint(p), p.stat().st_size, self.position)
        except (VellumError, OSError) as exc:
            self.fail(f"its image {p} cannot be read ({exc})")
        if item.kind is not MediaKind.IMAGE:
            self.fail(f"{p} is not an image")
        self.position += 1
        self.new_media.append(item)
        parts = rel.split("/")
        for n in range(len(parts)):
            index["/".join(parts[n:])].append(item)
        return item

    def video(self, source: str) -> MediaItem:
        videos = [m for m in self.doc.media() if m.kind is MediaKind.VIDEO]
        want = self.video_name or source
        if want:
            hits = [m for m in videos if want in (m.id, m.name, m.path) or
                    Path(m.path).name == Path(want.replace("\\", "/")).name]
            if len(hits) == 1:
                return hits[0]
            if self.video_name:
                self.fail(f"the project has no single video named {self.video_name!r}")
        if len(videos) == 1:
            return videos[0]
        self.fail(f"its tracks belong to the video {source!r}, which is not the project's "
                  f"only video ({len(videos)} videos); name it with --video")
        raise AssertionError

    # ------------------------------------------------------------------ tracks
    def track(self, el: ET.Element, video: MediaItem, records: list[Any]) -> None:
        where = f"track {el.get('id')!r}"
        cls = self.cls(el.get("label"), where)
        keep: dict[str, Any] = {}
        for k in ("id", "group_id", "source"):
            if el.get(k) not in (None, ""):
                keep[k] = el.get(k)
        shapes = [c for c in el if c.tag in SHAPES]
        if not shapes:
            return
        track = Track(video.id, cls.id, foreign={CVAT: keep}, **self.who)
        anns: list[Annotation] = []
        static: dict[str, Any] = {}
        seen: set[int] = set()
        for c in shapes:
            try:
                frame = int(c.get("frame", ""))
            except ValueError:
                self.fail(f"{where}: a <{c.tag}> has no whole frame number")
            if not 0 <= frame < video.frames:
                self.fail(f"{where} has a shape on frame {frame}, but {video.name} has frames "
                          f"0-{video.frames - 1}")
            if frame in seen:
                self.fail(f"{where} has two shapes on frame {frame}")
            seen.add(frame)
            a = self.annotation(c, Place(video.id, frame), video.height, video.width,
                                f"{where}, frame {frame}", track, el.get("label"))
            st, per = cls.split_attributes(a.attributes)
            if not anns:
                static = st
            a = replace(a, attributes=per, keyframe=_flag(c, "keyframe") if "keyframe" in
                        c.attrib else True, outside=_flag(c, "outside"))
            anns.append(a)
        anns.sort(key=lambda a: a.frame)
        keys = [a for a in anns if a.keyframe]
        kept = []
        for a in anns:
            if not a.keyframe and keys and self.reproduced(keys, a):
                self.counts["interpolated"] += 1
                continue
            kept.append(a)
        track = replace(track, attributes=static)
        records.append(track)
        records.extend(kept)
        self.counts["tracks"] += 1

    @staticmethod
    def reproduced(keys: list[Annotation], a: Annotation) -> bool:
        got = interpolate(keys, a.frame)
        if got is None:
            return a.outside
        if a.outside or got.kind != a.kind or got.occluded != a.occluded or \
                got.attributes != a.attributes or got.z != a.z:
            return False
        j1, j2 = got.shape.to_json(), a.shape.to_json()
        try:
            x = np.asarray(_numbers(j1), float)
            y = np.asarray(_numbers(j2), float)
        except ValueError:
            return False
        return x.shape == y.shape and bool(np.all(np.abs(x - y) <= TOLERANCE))

    # ------------------------------------------------------------------ all
    def read(self) -> tuple[Command, dict[str, Any]]:
        root = read_xml(self.path)
        if root.tag != "annotations":
            self.fail(f"its root element is <{root.tag}>, not CVAT's <annotations>")
        meta = root.find("meta")
        self.labels(meta)
        holder = None
        if meta is not None:
            holder = meta.find("task") if meta.find("task") is not None else meta.find("job")
        source = _text(holder, "source")
        task_name = _text(holder, "name")
        if task_name and not _text(holder, "source"):
            kept = dict(self.schema.foreign.get(CVAT, {}))
            if kept.get("name") != task_name:
                kept["name"] = task_name
                self.schema = replace(self.schema, foreign={**self.schema.foreign,
                                                            CVAT: kept})
        records: list[Any] = []
        index = self.image_index()
        children = list(root)
        video: MediaItem | None = None
        for n, el in enumerate(children):
            if n % 200 == 0:
                self.check_cancel()
                self.progress(n, len(children))
            if el.tag == "image":
                frame = self.video_frame(el, index)
                if frame is not None:  # "CVAT for images" of a video task: frame_000012
                    video = video or self.video(source)
                    if not 0 <= frame < video.frames:
                        self.fail(f"image {el.get('name')!r} is frame {frame}, past the end "
                                  f"of {video.name}")
                    item, place = video, Place(video.id, frame)
                else:
                    item = self.image(el, index)
                    place = Place(item.id)
                where = f"image {el.get('name')!r}"
                try:
                    w, h = int(el.get("width", item.width)), int(el.get("height", item.height))
                except ValueError:
                    self.fail(f"{where} has a width or height that is not a whole number")
                if (w, h) != (item.width, item.height):
                    self.fail(f"{where} is {w}x{h} in the file but {item.width}x{item.height} "
                              "in the project")
                for c in el:
                    if c.tag in SHAPES:
                        records.append(self.annotation(c, place, h, w, where))
                    elif c.tag == "tag":
                        records.append(self.tag(c, place, where))
            elif el.tag == "track":
                video = video or self.video(source)
                self.track(el, video, records)
            elif el.tag == "tag" and el.get("frame") is not None:
                video = video or self.video(source)
                try:
                    frame = int(el.get("frame", ""))
                except ValueError:
                    self.fail("a <tag> has no whole frame number")
                if not 0 <= frame < video.frames:
                    self.fail(f"a <tag> is on frame {frame}, past the end of {video.name}")
                records.append(self.tag(el, Place(video.id, frame), f"frame {frame}"))
        self.progress(len(children), len(children))
        if self.counts["ellipses"]:
            self.notes.append(f"{self.counts['ellipses']} ellipse(s) became 64-vertex "
                              "polygons (Vellum has no ellipse); each keeps its ellipse and "
                              "is written back as one while unedited.")
        if self.counts["points"]:
            self.notes.append(f"{self.counts['points']} <points> shape(s) became keypoints "
                              "without names; they are written back as <points>.")
        steps: list[Command] = []
        if self.schema != self.doc.schema:
            steps.append(SetSchema(self.schema))
        if self.new_media or self.updated:
            steps.append(Put(tuple(self.new_media) + tuple(self.updated.values()),
                             label="Add media"))
        steps.append(Put(tuple(records), label=f"Import {self.path.name}"))
        review = self.review_command(records)
        if review is not None:
            steps.append(review)
        anns = sum(isinstance(r, Annotation) for r in records)
        report = {"annotations": anns, "tracks": self.counts["tracks"],
                  "media": len(self.new_media),
                  "classes": len(self.schema.classes) - len(self.doc.schema.classes),
                  "notes": self.notes}
        return Batch(tuple(steps), label=f"Import {self.path.name}"), report

    def review_command(self, records: list[Any]) -> SetReview | None:
        """The review states the file's shapes carried (``vellum_review`` attributes of
        Vellum's own export), for the shapes this import stores."""
        out = []
        for r in records:
            if isinstance(r, Annotation) and r.id in self.reviews:
                state, reason = self.reviews[r.id]
                try:
                    out.append(ObjectReview(r.id, r.media_id, ObjectState(state), reason,
                                            self.who["creator"], self.who["created"]))
                except ValueError:
                    self.fail(f"a shape's {REVIEW_STATE} is {state!r}, not one of "
                              f"{', '.join(s.value for s in ObjectState)}")
        return SetReview(tuple(out), label="Import reviews") if out else None

    def tag(self, el: ET.Element, place: Place, where: str) -> Annotation:
        cls = self.cls(el.get("label"), f"{where}: a <tag>")
        attrs, bad, review = self.review_attributes(el, cls)
        keep: dict[str, Any] = {"attributes": bad} if bad else {}
        for k in ("group_id", "source"):
            if el.get(k) not in (None, "", "0", "manual"):
                keep[k] = el.get(k)
        self.counts["tag"] += 1
        return self.reviewed(Annotation(place=place, shape=Tag(), class_id=cls.id,
                                        attributes=attrs, foreign={CVAT: keep} if keep else {},
                                        **self.who), review)


def _numbers(obj: Any) -> list[float]:
    out: list[float] = []
    if isinstance(obj, dict):
        for k in sorted(obj):
            if k != "type":
                out.extend(_numbers(obj[k]))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            out.extend(_numbers(v))
    elif isinstance(obj, (int, float)):
        out.append(float(obj))
    else:
        raise ValueError("not numeric")
    return out


def plan_import(doc: Document, path: str | Path, images_dir: str | Path | None = None,
                video: str | None = None, progress: Any = None, cancelled: Any = None
                ) -> tuple[Command, dict[str, Any]]:
    """The one undoable command importing the CVAT XML at ``path`` into ``doc`` (nothing is
    changed until the caller executes it), and a report (counts, notes)."""
    p = Path(path)
    r = _Reader(doc, p, Path(images_dir) if images_dir else p.parent, video,
                progress or (lambda *a, **k: None), cancelled or (lambda: False))
    return r.read()
