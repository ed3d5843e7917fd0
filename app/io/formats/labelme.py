"""labelme JSON in the format registry: :mod:`app.io.labelme` (``read``, ``write``) behind
the one read/write signature; coordinates and what is kept are described there."""

from __future__ import annotations

from app.io.formats import Format
from app.io.labelme.common import png_size
from app.io.labelme.reader import read
from app.io.labelme.writer import write

__all__ = ["FORMAT", "png_size", "read", "write"]


FORMAT = Format(
    name="labelme", title="labelme JSON", patterns=("*.json",),
    holds=frozenset({"shapes"}), read=read, write=write,
    read_target="folder", write_target="folder",
    read_metavar="FOLDER_OR_JSON", write_metavar="OUT_FOLDER",
    read_help="labelme JSON (one file per image, or a folder of them)",
    read_description="Import labelme 5 JSON files (one, or every .json under a folder) as one "
                     "undoable step. Each file's imagePath must name an image of the project; "
                     "imageData is ignored. Labels become classes; group_id, flags and "
                     "description are kept and written back.",
    write_help="labelme JSON (one file per image)",
    write_description="Write one labelme 5 JSON per image into OUT_FOLDER (imagePath relative "
                      "to the JSON, no imageData), all or nothing. Tags become image flags; "
                      "what labelme cannot hold (holes, tracks, rotated boxes) is noted.",
    overwrite_help="replace JSON files of the same names that already exist; never the "
                   "project or its media",
)
