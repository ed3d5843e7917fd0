"""Pascal VOC out: Annotations/<id>.xml, ImageSets lists, labelmap.txt and with --masks
the segmentation PNGs, all or nothing (see :mod:`app.io.voc`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.core.errors import VellumError
from app.io.formats import Outcome
from app.io.voc.common import KEY, MASK_ONLY, _safe_id, colormap, palette_png


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
