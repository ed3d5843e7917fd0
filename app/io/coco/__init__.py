"""COCO export and import: the one module that owns the COCO JSON format.

Conventions at this boundary (see CONVENTIONS.md): boxes and polygons are continuous pixel
coordinates and pass unchanged; COCO keypoints are integer pixel *indices*, so export subtracts
0.5 and import adds it; masks are compressed RLE exactly as pycocotools writes them.
Vellum-only details ride in each object's ``attributes`` (``vellum_id``, ``vellum_shape``, ...)
so a round trip is lossless while other tools still read plain COCO.

Shape mapping: box → polygon of its corners + bbox; rotated box → polygon of its corners,
enclosing bbox, ``attributes.rotation`` (degrees, clockwise); polygon → polygon, or RLE when it
has holes; polyline → the zero-area polygon walking it out and back; keypoints → ``keypoints``
with an empty RLE segmentation; mask → RLE. Image-level tags go to ``images[].tags``; frame-range
events to ``videos[].events``; video frames become images with ``video_id``/``frame_index``.
"""

from app.io.coco.export import export_coco, frame_file_name
from app.io.coco.reader import import_coco, plan_import

__all__ = ["export_coco", "frame_file_name", "import_coco", "plan_import"]
