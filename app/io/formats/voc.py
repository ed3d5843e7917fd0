"""Pascal VOC in the format registry: :mod:`app.io.voc` (``read``, ``write``) behind the one
read/write signature; layout, coordinates and what is kept are described there."""

from __future__ import annotations

from app.io.formats import Format, Option
from app.io.voc.reader import read
from app.io.voc.writer import write

__all__ = ["FORMAT", "read", "write"]


FORMAT = Format(
    name="voc", title="Pascal VOC", patterns=("*.xml",), holds=frozenset({"shapes"}),
    read=read, write=write, read_target="folder", write_target="folder",
    read_metavar="VOC_ROOT", write_metavar="OUT",
    read_help="Pascal VOC (Annotations/*.xml, optional segmentation PNGs)",
    read_description="Import a Pascal VOC folder as one undoable step: boxes with difficult/"
                     "truncated/occluded and attributes from Annotations/*.xml (1-based "
                     "pixel boxes, as the devkit and datumaro's voc-one-based read them), "
                     "object masks from SegmentationObject/SegmentationClass PNGs. Images "
                     "must be in the project already (matched by file name).",
    write_help="Pascal VOC (XML per image, ImageSets/Main, optional masks)",
    write_description="Write Annotations/<image>.xml, ImageSets/Main/default.txt and "
                      "labelmap.txt into OUT, all or nothing; with --masks also "
                      "SegmentationClass/ and SegmentationObject/ PNGs in the VOC palette.",
    write_options=(Option("masks", "bool", "also write polygons and masks as "
                          "SegmentationClass/SegmentationObject PNGs (VOC palette)",
                          label="Write segmentation masks (PNG)"),),
    overwrite_help="replace files of the same names that already exist; never the project "
                   "or its media",
)
