"""DICOM Segmentation (SEG) objects in and out (``vellum export|import dicom-seg``).

:mod:`~app.io.dicom_seg.source` finds, for a volume item read from a DICOM series, the source
SOP instance of each slice k (headers read again from the project's media, every slice checked
against the volume's grid); :mod:`~app.io.dicom_seg.write` writes one SEG per label map with
highdicom; :mod:`~app.io.dicom_seg.read` turns a SEG into the one command that adds its
segments to the volume it references. pydicom and highdicom are imported inside functions.
"""
