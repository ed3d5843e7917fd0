"""Pascal VOC in the format registry: ``Annotations/<id>.xml`` per image, ``ImageSets/Main``
lists, ``labelmap.txt`` (datumaro's ``name:r,g,b:parts:actions``), and with ``--masks`` the
``SegmentationClass``/``SegmentationObject`` PNGs in the VOC palette.

Coordinates: the classic devkit writes boxes as 1-based pixel indices, ``xmax``/``ymax``
inclusive. As datumaro's ``coordinate_mode="voc-one-based"`` reads them
(``plugins/data_formats/voc/base.py``, ``_parse_bbox``): x0 = xmin - 1, y0 = ymin - 1,
x1 = xmax, y1 = ymax in Vellum's continuous coordinates (pixel (c, r) covers [c, c+1)).
Export is the exact inverse (xmin = x0 + 1, xmax = x1): whole numbers for boxes on whole
pixels, as the devkit writes them; a box off the pixel grid keeps its decimals (datumaro
reads them back exactly; it would round outward, losing them).

Import (``vellum import voc PROJECT VOC_ROOT``): each XML's ``<filename>`` is matched to a
project image by file name, else by its stem or the XML's id (datumaro names a ``.jpg`` it
never wrote). ``<object>``: name -> class, bndbox -> Box, ``occluded`` -> the annotation's
occluded flag, ``difficult``/``truncated``/``pose``/unknown elements -> ``foreign["voc"]``,
``<attributes>`` -> attributes (typed by the class's spec; without one, true/false and plain
numbers become bool and numbers: VOC writes text). Other top-level elements (``<source>``,
``<owner>``...) and ``<folder>`` are kept on the schema and written back. Every class of a
``labelmap.txt`` becomes a class, in its order. SegmentationObject instance k (1-based) ->
a Mask of object k's class (the devkit's rule; else, as datumaro numbers instances its own
way, the unused object of its SegmentationClass class whose box is the mask's box), linked
to that object's box so the export puts it back into the same instance; 255 (void) belongs
to no object (noted).

Export (``vellum export voc PROJECT OUT [--masks]``): boxes; without ``--masks`` polygons,
masks and rotated boxes as their bounding boxes (noted); with it, polygons (rasterised as
pycocotools does) and masks as instances, those without a box of their own as an object
carrying ``vellum_mask_only`` in its ``<attributes>`` (so a re-import adds no box). Lines,
points, tags and video/volume labels are noted as left out; images are not copied.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, VellumError
from app.io.formats import Format, Option, Outcome

KEY = "voc"
MASK_ONLY = "vellum_mask_only"  # an <object> written only to carry a mask's instance
FLAGS = ("truncated", "difficult")
KNOWN = {"name", "bndbox", "occluded", "truncated", "difficult", "pose", "attributes", "part",
         "actions", "point"}
VOC_LABELS = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
              "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
              "pottedplant", "sheep", "sofa", "train", "tvmonitor")
MAX_COORD = 4.0e8
_SAFE = re.compile(r"[^A-Za-z0-9._\- ]")


def colormap(n: int = 256) -> list[tuple[int, int, int]]:
    """The VOC palette (the devkit's bit-interleaved colours), as datumaro builds it."""
    out = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(7, -1, -1):
            r |= ((c >> 0) & 1) << j
            g |= ((c >> 1) & 1) << j
            b |= ((c >> 2) & 1) << j
            c >>= 3
        out.append((r, g, b))
    return out


def palette_png(index: Any, palette: list[tuple[int, int, int]]) -> bytes:
    """An 8-bit palette PNG of a uint8 index image (written by hand: cv2 writes no palette)."""
    import numpy as np

    h, w = index.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in np.ascontiguousarray(index, np.uint8))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    plte = b"".join(bytes(c) for c in palette[:256])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
            + chunk(b"PLTE", plte) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def _safe_id(name: str) -> str:
    stem = _SAFE.sub("_", name).strip(" .") or "image"
    return stem[:200]


# ------------------------------------------------------------------ XML, safely
def _parse_xml(p: Path) -> Any:
    from app.io.inputs import require_readable

    require_readable(p, what="a VOC XML")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise VellumError(f"Cannot read {p} ({exc.strerror or exc}).", p) from None
    if re.search(rb"<!\s*(DOCTYPE|ENTITY)", data, re.IGNORECASE):
        raise BadInputError(f"{p} declares a DOCTYPE or ENTITY, which a VOC XML never needs; "
                            "it is refused.", p)
    try:
        try:
            from defusedxml.ElementTree import fromstring
        except ImportError:
            from xml.etree.ElementTree import fromstring
        root = fromstring(data)
    except Exception as exc:  # noqa: BLE001 - expat/defusedxml errors of many kinds
        raise BadInputError(f"{p} is not well-formed XML ({exc}).", p) from None
    if root.tag != "annotation":
        raise BadInputError(f"{p} is not a VOC annotation (its root is <{root.tag}>).", p)
    return root


def _text(el: Any, tag: str) -> str | None:
    e = el.find(tag)
    return None if e is None or e.text is None else e.text.strip()


def _num(el: Any, tag: str, p: Path, where: str) -> float:
    import math

    t = _text(el, tag)
    try:
        v = float(t)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadInputError(f"{p}: {where} has no number in <{tag}>.", p) from None
    if not math.isfinite(v) or abs(v) > MAX_COORD:
        raise BadInputError(f"{p}: {where} has <{tag}> {t} out of range.", p)
    return v


def _flag(el: Any, tag: str, p: Path, where: str) -> bool | None:
    t = _text(el, tag)
    if t is None:
        return None
    if t not in ("0", "1"):
        raise BadInputError(f"{p}: {where} has <{tag}>{t}</{tag}>; VOC allows 0 or 1.", p)
    return t == "1"


def _typed(value: str | None, spec: Any) -> Any:
    from app.core.schema import AttributeType

    if value is None:
        return value
    if spec is None:  # no spec to go by: what the text plainly is (VOC writes text only)
        if value in ("true", "false", "True", "False"):
            return value.lower() == "true"
        if re.fullmatch(r"-?[0-9]{1,15}", value):
            return int(value)
        if re.fullmatch(r"-?[0-9]+\.[0-9]+", value):
            return float(value)
        return value
    if spec.type is AttributeType.BOOL and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if spec.type is AttributeType.NUMBER:
        try:
            f = float(value)
            return int(f) if f.is_integer() and "." not in value else f
        except ValueError:
            return value
    return value


# ------------------------------------------------------------------ import
def _labelmap(root: Path) -> list[tuple[str, tuple[int, int, int] | None]]:
    f = root / "labelmap.txt"
    if not f.is_file():
        pal = colormap()
        return [(n, pal[i]) for i, n in enumerate(VOC_LABELS)]
    from app.io.inputs import require_readable

    require_readable(f, what="a VOC label map")
    out: list[tuple[str, tuple[int, int, int] | None]] = []
    for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(":")
        color = None
        if len(parts) > 1 and parts[1].strip():
            try:
                rgb = tuple(int(c) for c in parts[1].split(","))
                if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
                    raise ValueError
                color = rgb
            except ValueError:
                raise BadInputError(f"{f} line {n} has no colour r,g,b.", f) from None
        if not parts[0].strip():
            raise BadInputError(f"{f} line {n} names no label.", f)
        out.append((parts[0].strip(), color))  # type: ignore[arg-type]
    pal = colormap()  # a label without a colour gets the VOC palette's (as datumaro does)
    return [(name, color or pal[i % 256]) for i, (name, color) in enumerate(out)]


def _index_image(png: Path, colors: dict[tuple[int, int, int], int], item: Any) -> Any:
    """A VOC PNG as indices (colours mapped through ``colors``; 255 void stays 255)."""
    import cv2
    import numpy as np

    from app.io.inputs import require_readable

    from app.io.formats.labelme import png_size

    require_readable(png, what="a VOC mask")
    try:
        data = png.read_bytes()
    except OSError as exc:
        raise VellumError(f"Cannot read {png} ({exc.strerror or exc}).", png) from None
    size = png_size(data)
    if size is not None and size != (item.width, item.height):
        raise BadInputError(f"{png} is {size[0]}x{size[1]} pixels but image {item.path} is "
                            f"{item.width}x{item.height}.", png)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if size else None
    if arr is None:
        raise BadInputError(f"{png} is not a readable PNG.", png)
    if arr.shape[:2] != (item.height, item.width):
        raise BadInputError(f"{png} is {arr.shape[1]}x{arr.shape[0]} pixels but image "
                            f"{item.path} is {item.width}x{item.height}.", png)
    rgb = arr[..., ::-1].astype(np.int64)
    code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    out = np.full(code.shape, -1, np.int64)
    for (r, g, b), i in colors.items():
        out[code == ((r << 16) | (g << 8) | b)] = i
    if (out < 0).any():
        y, x = np.argwhere(out < 0)[0]
        raise BadInputError(f"{png} has a colour at ({x}, {y}) that is not in the VOC "
                            "palette of its label map.", png)
    return out


def read(doc: Any, path: Any, options: dict[str, Any], progress: Any, cancelled: Any,
         notes: list[str]) -> Outcome:
    import numpy as np

    from app.core.annotations import Annotation
    from app.core.commands import Batch, Put, SetSchema
    from app.core.media import MediaKind
    from app.core.places import Place
    from app.core.rle import encode
    from app.core.schema import PALETTE, LabelClass
    from app.core.shapes import Box, Mask
    from app.io.inputs import require_readable

    root = require_readable(path, folders=True, what="a VOC folder")
    if not root.is_dir():
        raise BadInputError(f"{root} is a file; give the VOC folder (with Annotations/).", root)
    xmls = sorted((root / "Annotations").glob("*.xml")) if (root / "Annotations").is_dir() \
        else []
    if not xmls:
        raise BadInputError(f"{root} has no Annotations/*.xml; it is not a VOC folder.", root)
    labels = _labelmap(root)
    images = [m for m in doc.media() if m.kind is MediaKind.IMAGE]
    schema = doc.schema
    anns: list[Annotation] = []
    void = 0

    def class_of(name: str) -> Any:
        nonlocal schema
        cls = schema.class_by_name(name)
        if cls is None:
            color = dict(labels).get(name)
            cls = LabelClass(name, "#{:02x}{:02x}{:02x}".format(*color) if color else
                             PALETTE[len(schema.classes) % len(PALETTE)])
            schema = schema.with_class(cls)
        return cls

    def image_for(f: Path, name: str) -> Any:
        tail = name.replace("\\", "/").rsplit("/", 1)[-1]
        found = [m for m in images if m.file_name == tail]
        for stem in (tail.rsplit(".", 1)[0], f.stem):  # datumaro names a .jpg it never wrote
            if not found:
                found = [m for m in images if m.file_name.rsplit(".", 1)[0] == stem]
        if len(found) != 1:
            what = "no image" if not found else "more than one image"
            raise BadInputError(f"{f}: image {name!r} is {what} of the project.", f)
        return found[0]

    if (root / "labelmap.txt").is_file():  # the dataset's classes, used or not, in its order
        for name, _ in labels[1:]:
            if name.strip():
                class_of(name.strip())
    files_kept: dict[str, Any] = {}  # per image: <folder> and other top-level elements
    inst_colors = {c: i for i, c in enumerate(colormap())}
    cls_colors = {c: i for i, (_, c) in enumerate(labels) if c is not None}
    cls_colors.setdefault((224, 224, 192), 255)  # the devkit's void
    for n, f in enumerate(xmls):
        if cancelled():
            raise VellumError(f"Import of {path} was cancelled; nothing was written.", root)
        progress(n, len(xmls), f.name)
        xml = _parse_xml(f)
        item = image_for(f, _text(xml, "filename") or f.stem)
        size = xml.find("size")
        if size is not None and _text(size, "width") is not None:
            w, h = _num(size, "width", f, "<size>"), _num(size, "height", f, "<size>")
            if (w, h) != (item.width, item.height):
                raise BadInputError(f"{f}: <size> is {w:g}x{h:g} but image {item.path} is "
                                    f"{item.width}x{item.height}.", f)
        from xml.etree.ElementTree import tostring as xml_text

        kept_top = {"folder": _text(xml, "folder"), "elements": [
            xml_text(e, encoding="unicode").strip() for e in xml
            if e.tag not in ("folder", "filename", "size", "segmented", "object")]}
        files_kept[item.id] = {k: v for k, v in kept_top.items() if v}
        objects: list[tuple[Any, Annotation | None]] = []
        for k, obj in enumerate(xml.iterfind("object"), 1):
            where = f"object {k}"
            name = _text(obj, "name")
            if not name:
                raise BadInputError(f"{f}: {where} has no <name>.", f)
            cls = class_of(name)
            kept: dict[str, Any] = {}
            for tag in FLAGS:
                v = _flag(obj, tag, f, where)
                if v is not None:
                    kept[tag] = v
            occluded = _flag(obj, "occluded", f, where)
            if _text(obj, "pose") is not None:
                kept["pose"] = _text(obj, "pose")
            for child in obj:
                if child.tag not in KNOWN:
                    kept.setdefault("extra", {})[child.tag] = (child.text or "").strip()
            if obj.find("part") is not None or obj.find("actions") is not None:
                kept["layout"] = True
                notes.append(f"{f.name}: {where} has parts or actions, which Vellum does not "
                             "hold; they are left out.")
            attrs: dict[str, Any] = {}
            mask_only = False
            for a in obj.iterfind("attributes/attribute"):
                an, av = _text(a, "name"), _text(a, "value")
                if an == MASK_ONLY:
                    mask_only = True
                elif an:
                    attrs[an] = _typed(av, cls.attribute(an))
            bb = obj.find("bndbox")
            if bb is None:
                raise BadInputError(f"{f}: {where} has no <bndbox>.", f)
            xmin, ymin, xmax, ymax = (_num(bb, t, f, where) for t in
                                      ("xmin", "ymin", "xmax", "ymax"))
            if xmax < xmin - 1 or ymax < ymin - 1:
                raise BadInputError(f"{f}: {where} has xmax/ymax before xmin/ymin.", f)
            box = Box(xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1)
            a = None
            if not mask_only:
                a = Annotation(place=Place(item.id), shape=box, class_id=cls.id,
                               occluded=bool(occluded), attributes=attrs,
                               foreign={KEY: kept} if kept else {})
                anns.append(a)
            objects.append((cls, a, attrs))
        stem = f.stem
        inst_png = root / "SegmentationObject" / f"{stem}.png"
        cls_png = root / "SegmentationClass" / f"{stem}.png"
        if os.path.lexists(inst_png):
            inst = _index_image(inst_png, inst_colors, item)
            classes = _index_image(cls_png, cls_colors, item) if os.path.lexists(cls_png) \
                else None
            void += int((inst == 255).sum())
            used: set[int] = set()
            for k in sorted(int(v) for v in np.unique(inst) if 0 < v < 255):
                pixels = inst == k
                named = None
                if classes is not None:
                    vals, counts = np.unique(classes[pixels], return_counts=True)
                    idx = int(vals[np.argmax(counts)])
                    if idx >= len(labels) or idx == 255 or idx == 0:
                        raise BadInputError(f"{cls_png}: instance {k} has class index {idx}, "
                                            "which names no class of the label map.", cls_png)
                    named = class_of(labels[idx][0])
                # the devkit's rule: instance k is object k; else (datumaro numbers its
                # instances its own way) the unused object of that class boxing the mask
                pick = k if k <= len(objects) and k not in used and (
                    named is None or objects[k - 1][0].id == named.id) else None
                if pick is None and named is not None:
                    rows, cols = np.flatnonzero(pixels.any(1)), np.flatnonzero(pixels.any(0))
                    tight = (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1),
                             float(rows[-1] - rows[0] + 1))
                    pick = next((j for j, (c, b, _) in enumerate(objects, 1)
                                 if j not in used and c.id == named.id and b is not None
                                 and b.shape.bbox() == tight), None)
                if pick is not None:
                    used.add(pick)
                    cls, box_ann, attrs = objects[pick - 1]
                elif named is not None:
                    cls, box_ann, attrs = named, None, {}
                else:
                    raise BadInputError(f"{inst_png}: instance {k} has no <object> in {f} "
                                        "and there is no SegmentationClass PNG.", inst_png)
                anns.append(Annotation(place=Place(item.id), shape=Mask(encode(pixels)),
                                       class_id=cls.id, attributes=dict(attrs),
                                       foreign={KEY: {"object": k, **({"box": box_ann.id}
                                                      if box_ann is not None else {})}}))
        elif os.path.lexists(cls_png):
            classes = _index_image(cls_png, cls_colors, item)
            for idx in sorted(int(v) for v in np.unique(classes) if 0 < v < 255):
                if idx >= len(labels):
                    raise BadInputError(f"{cls_png}: class index {idx} is not in the label "
                                        "map.", cls_png)
                anns.append(Annotation(place=Place(item.id), class_id=class_of(
                    labels[idx][0]).id, shape=Mask(encode(classes == idx)),
                    foreign={KEY: {"semantic": True}}))
    progress(len(xmls), len(xmls))
    from dataclasses import replace

    voc = dict(schema.foreign.get(KEY) or {})
    voc["images"] = {**(voc.get("images") or {}), **files_kept}
    schema = replace(schema, foreign={**schema.foreign, KEY: voc})
    if void:
        notes.append(f"{void} void (255) pixel(s) of the object masks belong to no object in "
                     "Vellum.")
    try:
        steps = ([SetSchema(schema)] if schema != doc.schema else []) + [
            Put(tuple(anns), label=f"Import {root.name}")]
        command = Batch(tuple(steps), label=f"Import {root.name}")
    except ValueError as exc:
        raise BadInputError(f"{root}: {str(exc).rstrip('.')}.", root) from exc
    return Outcome(summary=f"Imported {len(anns)} annotations from {len(xmls)} VOC file(s) "
                           f"in {path}", command=command)


# ------------------------------------------------------------------ export
def _coord(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _element(parent: Any, tag: str, text: Any) -> Any:
    from xml.etree.ElementTree import SubElement

    e = SubElement(parent, tag)
    e.text = str(text)
    return e


def _value(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def write(doc: Any, out: Any, options: dict[str, Any], progress: Any, cancelled: Any,
          notes: list[str]) -> Outcome:
    from collections import Counter
    from xml.etree.ElementTree import Element, fromstring, indent, tostring

    import numpy as np

    from app.core.media import MediaKind
    from app.core.shapes import Box, Mask, Polygon, RotatedBox
    from app.io.outputs import StagedOutput, inside, prepare_folder, prepare_outputs

    masks_too = bool(options.get("masks"))
    root = prepare_folder(out, doc)
    items = [m for m in doc.media() if m.kind is MediaKind.IMAGE]
    if not items:
        raise VellumError(f"{doc.path} has no images to write as Pascal VOC.", doc.path)
    classes = list(doc.schema.classes)
    if len(classes) > 254 and masks_too:
        raise VellumError(f"{doc.path} has {len(classes)} classes; VOC masks hold 254.",
                          doc.path)
    names = {c.id: c.name for c in classes}
    known = (doc.schema.foreign.get(KEY) or {}).get("images") or {}
    index_of = {c.id: i + 1 for i, c in enumerate(classes)}
    pal = colormap()
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for m in items:
        base = _safe_id(m.file_name.rsplit(".", 1)[0])
        name, k = base, 2
        while name.lower() in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name.lower())
        ids[m.id] = name
    files: dict[Path, bytes] = {}
    counts: Counter[str] = Counter()
    total = 0
    for n, m in enumerate(items):
        if cancelled():
            raise VellumError(f"Export to {out} was cancelled; nothing was written.", out)
        progress(n, len(items), m.name)
        xml = Element("annotation")
        top = known.get(m.id) or {}
        _element(xml, "folder", top.get("folder") or "VOC")
        _element(xml, "filename", m.file_name)
        size = _element(xml, "size", "")
        size.text = None
        _element(size, "width", m.width)
        _element(size, "height", m.height)
        _element(size, "depth", 3)
        for text in top.get("elements") or ():  # <source>, <owner>... as the file had them
            try:
                xml.append(fromstring(text))
            except Exception:  # noqa: BLE001 - kept text that no longer parses is dropped
                continue
        seg = _element(xml, "segmented", 0)
        inst = np.zeros((m.height, m.width), np.uint8) if masks_too else None
        cls_img = np.zeros((m.height, m.width), np.uint8) if masks_too else None
        objects: list[tuple[Any, Any]] = []  # (annotation, written box)
        regions: list[Any] = []
        for a in doc.annotations(m.id):
            s = a.shape
            if isinstance(s, Box):
                objects.append((a, s))
            elif isinstance(s, (Mask, Polygon, RotatedBox)) and masks_too \
                    and not isinstance(s, RotatedBox):
                regions.append(a)
            elif isinstance(s, (Mask, Polygon, RotatedBox)):
                x, y, w, h = s.bbox()
                objects.append((a, Box(x, y, w, h)))
                counts["as_box"] += 1
            else:
                counts["other"] += 1
        # a mask imported with its <object> goes back into that object's instance
        xml_objects: list[tuple[Any, Any, bool]] = [(a, b, False) for a, b in objects]
        position = {a.id: k for k, (a, _) in enumerate(objects, 1)}
        mask_of: dict[int, Any] = {}
        for a in regions:
            k = position.get(a.foreign.get(KEY, {}).get("box"))
            if k is not None and k not in mask_of and objects[k - 1][0].class_id == a.class_id:
                mask_of[k] = a
                continue
            pixels = _pixels(a.shape, m)  # the box of the pixels the PNG will hold
            rows, cols = np.flatnonzero(pixels.any(1)), np.flatnonzero(pixels.any(0))
            if not len(rows):
                counts["empty"] += 1
                continue
            box = Box(float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1),
                      float(rows[-1] - rows[0] + 1))
            xml_objects.append((a, box, True))
            mask_of[len(xml_objects)] = a
        if len(xml_objects) > 254 and masks_too:
            raise VellumError(f"{m.name} has {len(xml_objects)} objects; VOC object masks "
                              "hold 254.", out)
        for k, (a, b, mask_only) in enumerate(xml_objects, 1):
            o = _element(xml, "object", "")
            o.text = None
            _element(o, "name", names.get(a.class_id, "unlabeled"))
            kept = a.foreign.get(KEY, {}) if not mask_only else {}
            _element(o, "pose", kept.get("pose", "Unspecified"))
            _element(o, "truncated", int(bool(kept.get("truncated"))))
            _element(o, "difficult", int(bool(kept.get("difficult"))))
            _element(o, "occluded", int(bool(a.occluded)))
            bb = _element(o, "bndbox", "")
            bb.text = None
            for tag, v in (("xmin", b.x + 1), ("ymin", b.y + 1), ("xmax", b.x + b.w),
                           ("ymax", b.y + b.h)):
                _element(bb, tag, _coord(v))
            for tag, text in (kept.get("extra") or {}).items():
                if re.fullmatch(r"[A-Za-z_][\w.\-]*", str(tag)):
                    _element(o, tag, text)
            attrs = dict(a.attributes)
            if mask_only:
                attrs[MASK_ONLY] = True
            if attrs:
                el = _element(o, "attributes", "")
                el.text = None
                for an, av in attrs.items():
                    at = _element(el, "attribute", "")
                    at.text = None
                    _element(at, "name", an)
                    _element(at, "value", _value(av))
            if masks_too and k in mask_of:
                pixels = _pixels(mask_of[k].shape, m)
                inst[pixels] = k
                cls_img[pixels] = index_of.get(a.class_id, 0)
            total += 1
        if masks_too and inst.any():
            seg.text = "1"
            files[root / "SegmentationObject" / f"{ids[m.id]}.png"] = palette_png(inst, pal)
            cpal = [(0, 0, 0)] + [_rgb(c.color) for c in classes] + pal[len(classes) + 1:]
            files[root / "SegmentationClass" / f"{ids[m.id]}.png"] = palette_png(cls_img, cpal)
        indent(xml)
        files[inside(root, f"Annotations/{ids[m.id]}.xml")] = tostring(xml, encoding="utf-8")
    lists = "".join(f"{ids[m.id]}\n" for m in items).encode()
    files[root / "ImageSets" / "Main" / "default.txt"] = lists
    if masks_too:
        files[root / "ImageSets" / "Segmentation" / "default.txt"] = lists
    lm = "# label:color_rgb:parts:actions\nbackground:0,0,0::\n" + "".join(
        f"{c.name}:{','.join(map(str, _rgb(c.color)))}::\n" for c in classes)
    files[root / "labelmap.txt"] = lm.encode()
    prepare_outputs(files, overwrite=bool(options.get("overwrite")), doc=doc)
    with StagedOutput(root) as stage:
        for target, data in files.items():
            stage.write_bytes(target, data)
    progress(len(items), len(items))
    if counts["as_box"]:
        notes.append(f"{counts['as_box']} polygon(s), mask(s) or rotated box(es) were written "
                     "as their bounding boxes" + ("" if masks_too else
                                                  " (give --masks for segmentation PNGs)")
                     + ".")
    if counts["empty"]:
        notes.append(f"{counts['empty']} mask(s) or polygon(s) covering no pixel were left "
                     "out.")
    if counts["other"]:
        notes.append(f"{counts['other']} annotation(s) VOC cannot hold (lines, points, tags) "
                     "were left out.")
    if any(m.kind is not MediaKind.IMAGE for m in doc.media()):
        notes.append("Videos and volumes were left out (VOC holds images only).")
    notes.append("Images are not copied: put them in JPEGImages/ to use the folder as a full "
                 "VOC dataset.")
    return Outcome(summary=f"Wrote {out}: {len(items)} images, {total} objects.")


def _rgb(color: str) -> tuple[int, int, int]:
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def _pixels(shape: Any, item: Any) -> Any:
    """The pixels of a mask or polygon (as pycocotools rasterises a polygon)."""
    from app.core.raster import rasterize
    from app.core.rle import decode
    from app.core.shapes import Mask

    if isinstance(shape, Mask):
        return decode(shape.rle)
    return rasterize(shape, item.height, item.width).astype(bool)


FORMAT = Format(
    name="voc", title="Pascal VOC", patterns=("*.xml",), holds=frozenset({"shapes"}),
    read=read, write=write, read_target="folder", write_target="folder",
    read_metavar="VOC_ROOT", write_metavar="OUT",
    read_help="Pascal VOC (Annotations/*.xml, optional segmentation PNGs)",
    read_description="Import a Pascal VOC folder as one undoable step: boxes with difficult/"
                     "truncated/occluded and attributes from Annotations/*.xml (1-based "
                     "pixel boxes, as the devkit and datumaro's voc-one-based read them), "
                     "object masks from SegmentationObject/SegmentationClass PNGs. Images "
                     "must be in the project already (matched by file name).",
    write_help="Pascal VOC (XML per image, ImageSets/Main, optional masks)",
    write_description="Write Annotations/<image>.xml, ImageSets/Main/default.txt and "
                      "labelmap.txt into OUT, all or nothing; with --masks also "
                      "SegmentationClass/ and SegmentationObject/ PNGs in the VOC palette.",
    write_options=(Option("masks", "bool", "also write polygons and masks as "
                          "SegmentationClass/SegmentationObject PNGs (VOC palette)",
                          label="Write segmentation masks (PNG)"),),
    overwrite_help="replace files of the same names that already exist; never the project "
                   "or its media",
)
