"""COCO export and import: the one package that owns the COCO JSON format.

Conventions at this boundary (see CONVENTIONS.md): boxes and polygons are continuous pixel
coordinates and pass unchanged; COCO keypoints are integer pixel *indices*, so export subtracts
0.5 and import adds it (labelled points only; unlabelled ones keep what the file wrote); masks
are compressed RLE exactly as pycocotools writes them.

Shape mapping: box -> bbox + polygon of its corners; rotated box -> CVAT's bbox before rotation
+ ``attributes.rotation`` (clockwise degrees) + polygon of its corners; polygon -> polygon
(a multi-part polygon -> several rings of one object), or RLE when it has holes; mask -> RLE;
keypoints -> one entry with ``keypoints``, ``num_keypoints`` and the object's bbox and
segmentation when the set carries them (a COCO person is one object); polyline -> kept only in
``images[].attributes.vellum_polylines`` (COCO has no lines; a line written as a polygon would
be filled by other tools); tags of an image -> ``images[].tags`` (tags that came from a file as
annotations without geometry, e.g. datumaro labels and captions, go back as such annotations);
frame-range events -> ``videos[].events``; video frames -> images with ``video_id`` and
``frame_index``. Vellum-only details ride in ``attributes`` (``vellum_id``, ``vellum_shape``,
...). What another tool wrote and Vellum does not interpret is kept in each record's
``foreign["coco"]`` (see :mod:`app.io.coco.foreign`) and written back: ids, unedited bbox and
area, supercategory, colours, licenses, info, unknown keys.

Modules: :mod:`.stream` (two-pass streaming reader), :mod:`.reader` (import), :mod:`.classes`,
:mod:`.media_map`, :mod:`.decode` (entries to annotations), :mod:`.export`, :mod:`.entries`
(annotations to entries), :mod:`.geometry` (computed COCO values), :mod:`.foreign`.
"""

from app.io.coco.export import export_coco, frame_file_name, protected_files
from app.io.coco.reader import AlreadyImported, import_coco, plan_import

__all__ = ["AlreadyImported", "export_coco", "frame_file_name", "import_coco", "plan_import",
           "protected_files"]
