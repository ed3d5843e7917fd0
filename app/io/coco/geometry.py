"""The COCO ``segmentation``, ``bbox`` and ``area`` Vellum computes for a shape (for new and
edited annotations; unedited ones keep what their file said).

- box: bbox as is, area w x h, segmentation the polygon of its corners;
- rotated box: CVAT's convention, bbox the box before rotation plus ``attributes.rotation``
  (clockwise degrees about its centre), area w x h, segmentation the polygon of its corners;
- polygon: its rings (a multi-part polygon writes several), bbox of its vertices, area its
  pixel count as pycocotools rasterises it; with holes it is written as RLE;
- mask: compressed RLE, bbox and area of its pixels;
- keypoint set: its box (else its region's box, else its labelled points'), its region as
  polygons or RLE, area the region's pixels (else box w x h).
"""

from __future__ import annotations

import functools

from typing import Any

import numpy as np

from app.core.raster import rasterize
from app.core.rle import area as rle_area, bbox as rle_bbox, encode, string_to_counts
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape


def coco_bbox(shape: Shape) -> tuple[float, ...] | None:
    """``[x, y, w, h]`` Vellum writes for a shape (None for tags and events)."""
    if isinstance(shape, Box):
        return (shape.x, shape.y, shape.w, shape.h)
    if isinstance(shape, RotatedBox):
        return (shape.cx - shape.w / 2, shape.cy - shape.h / 2, shape.w, shape.h)
    if isinstance(shape, Mask):
        return tuple(float(v) for v in rle_bbox(shape.rle))
    if isinstance(shape, Keypoints):
        if shape.box is None and shape.region is None and shape.labelled:
            # a keypoint-only object: the tight box around its labelled points, in the
            # integer pixel-index space COCO writes keypoints in (see keypoint_list), so the
            # box and the keypoints agree as written ([min x, min y, max-min x, max-min y])
            x, y, w, h = shape.points_bbox()
            return (x - 0.5, y - 0.5, w, h)
        return shape.object_bbox()
    if isinstance(shape, (Polygon, Polyline)):
        return shape.bbox()
    return None


def polygon_list(shape: Polygon) -> list[list[float]] | None:
    """COCO polygons of a polygon without holes (its outer rings), else None."""
    return None if shape.holes else [r.flat() for r in shape.outer]


def rle_counts(counts: str, uncompressed: bool) -> Any:
    """RLE counts as the file wrote them: the compressed string, or a list of run lengths."""
    return [int(c) for c in string_to_counts(counts)] if uncompressed else counts


def region_segmentation(region: Polygon | Mask, h: int, w: int,
                        uncompressed: bool = False) -> Any:
    if isinstance(region, Mask):
        return {"size": [region.rle.height, region.rle.width],
                "counts": rle_counts(region.rle.counts, uncompressed)}
    polys = polygon_list(region)
    if polys is not None:
        return polys
    rle = encode(rasterize(region, h, w))
    return {"size": [h, w], "counts": rle_counts(rle.counts, uncompressed)}


def empty_rle(h: int, w: int) -> dict[str, Any]:
    """An all-zero RLE of h x w (Vellum's segmentation of keypoints without a region, so that
    pycocotools' ``annToMask`` works on every annotation)."""
    return {"size": [h, w], "counts": _empty_counts(h, w)}


@functools.lru_cache(maxsize=64)
def _empty_counts(h: int, w: int) -> str:
    return encode(np.zeros((h, w), bool)).counts


def segmentation(shape: Shape, h: int, w: int, uncompressed: bool = False) -> Any:
    """The ``segmentation`` Vellum writes for a shape."""
    if isinstance(shape, (Box, RotatedBox)):
        return [[float(v) for p in shape.corners() for v in p]]
    if isinstance(shape, (Polygon, Mask)):
        return region_segmentation(shape, h, w, uncompressed)
    if isinstance(shape, Keypoints):
        if shape.region is not None:
            return region_segmentation(shape.region, h, w, uncompressed)
        return empty_rle(h, w)
    raise TypeError(f"no COCO segmentation for {shape.kind}")


def simple_area(shape: Shape) -> float | None:
    """Area known without rasterising (boxes, masks, keypoints without a polygon region);
    None where the pixel count of polygons is needed."""
    if isinstance(shape, (Box, RotatedBox)):
        return float(shape.w * shape.h)
    if isinstance(shape, Mask):
        return float(rle_area(shape.rle))
    if isinstance(shape, Keypoints):
        if isinstance(shape.region, Mask):
            return float(rle_area(shape.region.rle))
        if shape.region is None:
            # no region: the area of the object's box (for a keypoint-only object, the box
            # around its points), the scale COCO's OKS needs
            b = shape.object_bbox()
            return float(b[2] * b[3])
    return None
