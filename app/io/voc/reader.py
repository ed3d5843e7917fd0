"""Pascal VOC in: Annotations/*.xml, labelmap.txt and the segmentation PNGs as one
undoable command (see :mod:`app.io.voc`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError, VellumError
from app.io.formats import Outcome, shapes_command
from app.io.voc.common import (FLAGS, KEY, KNOWN, MASK_ONLY, VOC_LABELS, _flag, _num,
                               _parse_xml, _text, _typed, colormap)


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

    from app.io.labelme.common import png_size

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
    command = shapes_command(doc, schema, anns, f"Import {root.name}", root)
    return Outcome(summary=f"Imported {len(anns)} annotations from {len(xmls)} VOC file(s) "
                           f"in {path}", command=command)
