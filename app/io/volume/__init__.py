"""Volumes in and out: DICOM series (files, folders, DICOMDIR) and NIfTI files to arrays
``[k, j, i]`` in real units with LPS geometry; volumes and label maps back out to NIfTI.

Libraries (pydicom, nibabel) are imported inside the functions, so importing this package
stays cheap (the ``vellum`` command imports it to build its help).
"""

from app.io.volume.labelmap_nifti import LabelMapFile, read_labelmap_nifti, write_labelmap_nifti
from app.io.volume.model import FrameRef, SeriesInfo, Volume
from app.io.volume.nifti import read_nifti, write_nifti
from app.io.volume.reader import (load_series, load_source, load_volume, pick_series,
                                  scan_series, volume_source)

__all__ = ["FrameRef", "LabelMapFile", "SeriesInfo", "Volume", "load_series", "load_source",
           "load_volume", "pick_series", "read_labelmap_nifti", "read_nifti", "scan_series",
           "volume_source", "write_labelmap_nifti", "write_nifti"]
