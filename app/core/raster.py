"""Rasterisation of shapes to boolean masks, pixel-identical with pycocotools.

Every geometric shape becomes the polygon(s) Vellum writes to COCO, rasterised with the port of
pycocotools' algorithm in :mod:`app.core.rle`, so that ``annToMask`` of an exported annotation
equals :func:`rasterize` of the annotation. Masks are (height, width) bool arrays, row-major.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.core.polygon_raster import polygon_areas, rasterize_polygons
from app.core.rle import area as rle_area, decode
from app.core.rings import Ring
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox, Shape


def flat(points) -> list[float]:
    """[(x, y), ...] to COCO's flat [x0, y0, x1, y1, ...]."""
    if isinstance(points, Ring):
        return points.flat()
    return [float(v) for p in points for v in p[:2]]


def polyline_ring(points) -> list[tuple[float, float]]:
    """A polyline as the closed, zero-area ring that walks it out and back (p0..pn, pn-1..p0),
    which is how COCO (polygons only) carries a line."""
    pts = [tuple(p[:2]) for p in points]
    return pts + pts[-2::-1]


def shape_polygons(shape: Shape) -> list[list[float]] | None:
    """The COCO polygon list of a shape (several for a multi-part polygon, whose pixels are
    their union), or None where the shape is not polygonal (holes, masks, keypoints without a
    polygon region)."""
    if isinstance(shape, (Box, RotatedBox)):
        return [flat(shape.corners())]
    if isinstance(shape, Polygon) and not shape.holes:
        return [r.flat() for r in shape.outer]
    if isinstance(shape, Polyline):
        return [flat(polyline_ring(shape.points))]
    if isinstance(shape, Keypoints) and isinstance(shape.region, Polygon):
        return shape_polygons(shape.region)
    return None


def rasterize(shape: Shape, height: int, width: int) -> np.ndarray:
    """Pixels covered by ``shape`` on a ``height`` x ``width`` image (COCO semantics): a
    multi-part polygon is the union of its outer rings (``mask.merge`` of pycocotools) minus
    its holes; a keypoint set covers its region's pixels (none without a region)."""
    polys = shape_polygons(shape)
    if polys is not None:
        return rasterize_polygons(polys, height, width)
    if isinstance(shape, Polygon):
        mask = rasterize_polygons([r.flat() for r in shape.outer], height, width)
        mask &= ~rasterize_polygons([h.flat() for h in shape.holes], height, width)
        return mask
    if isinstance(shape, Mask):
        return decode(shape.rle)
    if isinstance(shape, Keypoints) and shape.region is not None:
        return rasterize(shape.region, height, width)
    return np.zeros((height, width), bool)


def pixel_area(shape: Shape, height: int, width: int) -> int:
    """Number of pixels :func:`rasterize` covers (COCO's ``area`` of a segmentation)."""
    if isinstance(shape, Keypoints):
        return pixel_area(shape.region, height, width) if shape.region is not None else 0
    if isinstance(shape, Mask):
        return rle_area(shape.rle)
    polys = shape_polygons(shape)
    if polys is not None and len(polys) == 1:  # no mask: the polygon's flip positions suffice
        return int(polygon_areas(polys, height, width)[0])
    return int(np.count_nonzero(rasterize(shape, height, width)))


def pixel_areas(shapes: Sequence[Shape], height: int, width: int) -> list[int]:
    """:func:`pixel_area` of each shape on one ``height`` x ``width`` image, single polygons
    computed together in one :func:`app.core.polygon_raster.polygon_areas` batch."""
    out: list[int] = [0] * len(shapes)
    batch: list[int] = []
    polys: list[list[float]] = []
    for i, shape in enumerate(shapes):
        p = None if isinstance(shape, Mask) else shape_polygons(shape)
        if p is not None and len(p) == 1:
            batch.append(i)
            polys.append(p[0])
        else:
            out[i] = pixel_area(shape, height, width)
    for i, a in zip(batch, polygon_areas(polys, height, width).tolist()):
        out[i] = a
    return out
