"""labelme JSON: one JSON per image, as labelme 5 writes it.

Coordinates: labelme's points are continuous pixel coordinates with the origin at the top-left
corner of the top-left pixel, exactly Vellum's (CONVENTIONS.md), so points pass unchanged.
One exception, from labelme's own source (``labelme/utils/shape.py``, ``shapes_to_label``): a
``mask`` shape's two points are *integer pixel indices* ``(x1, y1), (x2, y2)`` of the first
and last (inclusive) column and row of its box, and ``mask`` is a base64 PNG of exactly
``(y2 - y1 + 1) x (x2 - x1 + 1)`` pixels (non-zero = inside).

Import (``vellum import labelme PROJECT FOLDER_OR_JSON``): each JSON's ``imagePath`` (relative
to the JSON) is matched to a project image (else by its trailing name); ``imageData`` is
ignored, never decoded. rectangle -> Box, polygon -> Polygon, line/linestrip -> Polyline,
point -> Keypoints of one point (as COCO and CVAT carry a point), points -> Keypoints,
circle and oriented_rectangle -> Polygon (a 64-gon for a circle; the original is kept and
written back while the polygon is unedited), mask -> Mask. ``group_id``, ``flags``,
``description`` and every other key of a shape are kept in ``foreign["labelme"]`` and
written back; image-level flags that are true become tags of that class.

Export (``vellum export labelme PROJECT OUT_FOLDER``): one JSON per labelled-or-not image,
named after the image (its path under the images' common folder), ``imagePath`` relative to
the JSON, ``imageData`` null. Written all or nothing through :mod:`app.io.outputs`.

:mod:`.common` holds the constants and the PNG/circle helpers; :mod:`.reader` has
``read``, :mod:`.writer` ``write``; registered as the ``labelme`` format by
:mod:`app.io.formats.labelme`.
"""
