"""CVAT XML ("CVAT for images 1.1" and "CVAT for video 1.1") in and out.

Coordinates: CVAT writes continuous pixel coordinates with the origin at the top-left corner
of the top-left pixel, as Vellum does (``../shared/CONVENTIONS.md``), so boxes, polygons,
polylines, points and skeleton points pass unchanged; a CVAT mask is ``rle`` run lengths that
alternate background/foreground (background first) over its ``width`` x ``height`` pixel box
at pixel ``left, top``, row by row (as CVAT and datumaro write it). Frames are 0-based in
presentation order on both sides. :mod:`.reader` builds the one import command,
:mod:`.writer` writes the XML through :mod:`app.io.outputs`.
"""

from app.io.cvat.reader import plan_import
from app.io.cvat.writer import export_cvat

__all__ = ["plan_import", "export_cvat"]
