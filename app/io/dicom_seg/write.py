"""Label maps out as DICOM Segmentation objects (highdicom), one file per label map.

Each SEG lies in the source patient's study (patient and study identity copied from the
source series by highdicom), in the source's frame of reference, each frame referencing the
source SOP instance of its slice (:mod:`app.io.dicom_seg.source`); empty frames are omitted.
One SEG segment per segment record of the label map, numbered 1..N in order of value, with
its name, colour (CIELab), a segmented property category and type (the segment's codes, set in
the Segments panel or kept from an imported SEG; SCT 85756007 "Tissue" for an uncoded one) and
a Tracking ID
``vellum:<segment id>:<value>`` from which an import restores the value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import VellumError
from app.core.labelmap import LabelMapInfo
from app.core.media import MediaKind

TISSUE = ("85756007", "SCT", "Tissue")  # segmented property category and type by default
SERIES_NUMBER = 900  # the SEG series' SeriesNumber (sorts after the source series)
TRACKING = "vellum:"


def seg_name(item: Any, info: LabelMapInfo) -> str:
    """The file stem of a label map's SEG: as its NIfTI export is named (volume title made of
    modality and a hash of the series UID, the label map's name), letters, digits, - and _."""
    from app.io.volume.project import export_title, safe_name

    return f"{export_title(item)}_{safe_name(info.name, 'labels')}"


def build_seg(src: Any, labels: np.ndarray, info: LabelMapInfo, *, labelmap: bool = False,
              class_names: dict[str, str] | None = None) -> Any:
    """The SEG dataset of label map ``info`` (voxels ``labels[k, j, i]``) on source slices
    ``src``; one sentence when it cannot be written faithfully."""
    import highdicom as hd
    from pydicom.sr.coding import Code
    from pydicom.uid import generate_uid

    from app import __version__

    path = src.path
    segments = sorted(info.segments, key=lambda s: s.value)
    present = {int(v) for v in np.unique(labels) if v}
    unnamed = present - {s.value for s in segments}
    if unnamed:
        raise VellumError(f"Label map {info.name!r} of {src.item.name} holds value(s) "
                          f"{sorted(unnamed)} with no segment record; name them in the "
                          "Segments panel first.", path)
    if not present:
        raise VellumError(f"Label map {info.name!r} of {src.item.name} is empty; a DICOM SEG "
                          "needs at least one labelled voxel.", path)
    ks = [k for k, ds in enumerate(src.datasets) if ds is not None]
    missing = [k for k, ds in enumerate(src.datasets) if ds is None and labels[k].any()]
    if missing:
        raise VellumError(f"Label map {info.name!r} of {src.item.name} labels slice k="
                          f"{missing[0]}, a plane inserted for a slice missing from the series: "
                          "no source instance holds it.", path)
    lut = np.zeros(max(s.value for s in segments) + 1, np.uint16)
    for n, seg in enumerate(segments, start=1):
        lut[seg.value] = n
    dtype = np.uint8 if len(segments) < 256 else np.uint16
    if src.multiframe is not None:  # one frame per source frame, in the file's order
        header, index = src.multiframe
        frames = np.zeros((int(header.NumberOfFrames), *labels.shape[1:]), dtype)
        for k, f in enumerate(index):
            if f is not None:
                frames[f] = lut[labels[k]]
        sources = [header]
    else:
        frames = lut[labels[ks]].astype(dtype)
        sources = [src.datasets[k] for k in ks]
    descriptions = []
    for n, seg in enumerate(segments, start=1):
        rgb = tuple(int(seg.color[c:c + 2], 16) for c in (1, 3, 5))
        category, kind_code = seg.codes if seg.codes is not None else (TISSUE, TISSUE)
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=n, segment_label=seg.name[:64] or f"Segment {seg.value}",
            segmented_property_category=Code(*category),
            segmented_property_type=Code(*kind_code),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            tracking_uid=generate_uid(entropy_srcs=[info.id, seg.id]),
            tracking_id=f"{TRACKING}{seg.id}:{seg.value}",
            display_color=hd.color.CIELabColor.from_rgb(*rgb)))
    kind = (hd.seg.SegmentationTypeValues.LABELMAP if labelmap
            else hd.seg.SegmentationTypeValues.BINARY)
    try:
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=frames,
            segmentation_type=kind, segment_descriptions=descriptions,
            series_instance_uid=generate_uid(), series_number=SERIES_NUMBER,
            sop_instance_uid=generate_uid(), instance_number=1, manufacturer="Vellum",
            manufacturer_model_name="Vellum", software_versions=str(__version__),
            device_serial_number="0", content_label="VELLUM",
            content_description=info.name[:64] or None, omit_empty_frames=True)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise VellumError(f"A DICOM SEG of label map {info.name!r} cannot be made from "
                          f"{path} ({' '.join(str(exc).split())}).", path) from None
    seg.SeriesDescription = info.name[:64]
    return seg


def export_seg(doc: Any, out_dir: str | Path, *, labelmap: bool = False,
               progress: Callable[..., None] | None = None,
               cancelled: Callable[[], bool] | None = None, overwrite: bool = False
               ) -> tuple[list[Path], list[str]]:
    """Write every label map on a DICOM volume as ``OUT/<volume>_<label map>.dcm``, all or
    none (:mod:`app.io.outputs`); returns the files written and notes on what was left out."""
    from app.io.dicom_seg.source import is_dicom_volume, source_slices
    from app.io.outputs import StagedOutput, prepare_folder, prepare_outputs

    out = prepare_folder(out_dir, doc)
    pairs = [(m, info) for m in doc.media() if m.kind is MediaKind.VOLUME
             for info in doc.labelmaps(m.id)]
    notes = [f"Label map {info.name!r} of {m.name} is left out: its volume was not read from "
             "a DICOM series, so a SEG has no source to reference (export it as NIfTI)."
             for m, info in pairs if not is_dicom_volume(m)]
    pairs = [(m, info) for m, info in pairs if is_dicom_volume(m)]
    if not pairs:
        raise VellumError(f"{doc.path} has no label maps on DICOM series to export.", doc.path)
    used: set[str] = set()
    plan = []
    for item, info in pairs:
        stem, base, n = seg_name(item, info), seg_name(item, info), 2
        while stem.lower() in used:
            stem, n = f"{base}-{n}", n + 1
        used.add(stem.lower())
        plan.append((item, info, out / f"{stem}.dcm"))
    prepare_outputs([t for *_, t in plan], overwrite=overwrite, doc=doc)
    sources: dict[str, Any] = {}
    written: list[Path] = []
    with StagedOutput(out) as stage:  # all or none
        for n, (item, info, target) in enumerate(plan):
            if cancelled is not None and cancelled():
                raise VellumError(f"Export to {out_dir} was cancelled; nothing was written.",
                                  out_dir)
            if progress is not None:
                progress(n, len(plan), info.name)
            labels = doc.labelmap_volume(info.id)
            if not labels.any():
                notes.append(f"Label map {info.name!r} of {item.name} is left out: it is "
                             "empty, and a DICOM SEG needs at least one labelled voxel.")
                continue
            if item.id not in sources:
                sources[item.id] = source_slices(doc, item)
            seg = build_seg(sources[item.id], labels, info, labelmap=labelmap)
            seg.save_as(stage.path(target), enforce_file_format=True)
            written.append(target)
        if not written:
            raise VellumError(f"{doc.path} has no labelled voxels on DICOM series to export.",
                              doc.path)
    if progress is not None:
        progress(len(plan), len(plan), "")
    return written, notes
