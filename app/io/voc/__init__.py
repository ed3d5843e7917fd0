"""Pascal VOC: ``Annotations/<id>.xml`` per image, ``ImageSets/Main``
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

:mod:`.common` holds the constants, the VOC palette and the safe XML reading;
:mod:`.reader` has ``read``, :mod:`.writer` ``write``; registered as the ``voc`` format by
:mod:`app.io.formats.voc`.
"""
