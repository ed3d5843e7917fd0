"""A DICOM SEG in: the one command that adds its segments to the volume it references.

The volume is found by the SEG's Referenced Series Sequence (SeriesInstanceUID) among the
project's DICOM volumes (for a series Vellum split into stacks or parts, the one whose grid
holds every frame). Each frame is placed by its ImagePositionPatient onto slice k of that
grid (orientation, pixel spacing and size must be the grid's; a frame without a position is
placed by the source SOP instance it references, read again from the project's media).
BINARY and LABELMAP segments are taken as they are; FRACTIONAL ones are thresholded at 0.5
(value >= half the MaximumFractionalValue). Segments that overlap go into separate label maps
(a label map holds one value per voxel): each segment joins the first label map it does not
overlap. Anything wrong is one sentence naming the file; nothing is changed until the
caller executes the returned command.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import BadInputError, VellumError

SEG_CLASSES = {"1.2.840.10008.5.1.4.1.1.66.4": "Segmentation Storage",
               "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage"}
POSITION_MM = 0.05  # a frame's ImagePositionPatient within this of voxel (0, 0, k)
ORIENTATION_TOL = 1e-3
SPACING_TOL = 1e-3  # relative
_TRACKING = re.compile(r"^vellum:[0-9a-f]{32}:(\d{1,5})$")


def _codes(item: Any) -> Any:
    """A SEG segment's (category, type) as (value, scheme, meaning) each, or None when either
    is missing or incomplete (the segment is then uncoded, not refused)."""
    from app.core.labelmap import coded

    out = []
    for key in ("SegmentedPropertyCategoryCodeSequence", "SegmentedPropertyTypeCodeSequence"):
        seq = item.get(key)
        if not seq:
            return None
        c = seq[0]
        out.append((str(c.get("CodeValue", "") or c.get("LongCodeValue", "") or ""),
                    str(c.get("CodingSchemeDesignator", "") or ""),
                    str(c.get("CodeMeaning", "") or "")))
    try:
        return coded(out)
    except ValueError:
        return None


@dataclass
class _Segment:
    number: int
    name: str
    color: str
    value: int | None  # restored from a Vellum Tracking ID
    codes: Any = None  # (category, type) coded concepts, each (value, scheme, meaning)
    # bool [j, i] by slice k, only where a frame gives it (memory: the SEG's own size)
    planes: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def overlaps(self, taken: dict[int, np.ndarray]) -> bool:
        return any(k in taken and bool((taken[k] & m).any()) for k, m in self.planes.items())

    def box(self) -> tuple[tuple[int, int, int], np.ndarray] | None:
        """Start ``(k, j, i)`` and the bool array of the smallest box holding the segment."""
        ks = sorted(k for k, m in self.planes.items() if m.any())
        if not ks:
            return None
        rows = np.any([self.planes[k].any(axis=1) for k in ks], axis=0).nonzero()[0]
        cols = np.any([self.planes[k].any(axis=0) for k in ks], axis=0).nonzero()[0]
        j0, j1, i0, i1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        out = np.zeros((ks[-1] - ks[0] + 1, j1 - j0, i1 - i0), bool)
        for k in ks:
            out[k - ks[0]] = self.planes[k][j0:j1, i0:i1]
        return (ks[0], int(j0), int(i0)), out


@dataclass
class _Frame:
    segment: int | None  # None: a LABELMAP frame holds every segment
    position: tuple[float, ...] | None
    source: list[str]


def _words(exc: BaseException) -> str:
    return _shown(" ".join(str(exc).split()).rstrip(".") or type(exc).__name__)


def _shown(text: str, limit: int = 160) -> str:
    """Text from a file fit for a one-line sentence: printable, at most ``limit`` long."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _get(groups: Any, seq: str, attr: str) -> Any:
    if groups is None or seq not in groups or not groups.get(seq):
        return None
    item = groups.get(seq)[0]
    return item.get(attr) if attr in item else None


def _color(value: Any) -> str:
    import highdicom as hd

    try:
        r, g, b = hd.color.CIELabColor.from_dicom_value([int(v) for v in value]).to_rgb()
        return f"#{int(r):02x}{int(g):02x}{int(b):02x}"
    except Exception:  # noqa: BLE001 - no colour, or a damaged one: the default
        return "#3cb44b"


def _read(p: Path, notes: list[str]) -> tuple[Any, list[_Segment], list[_Frame], np.ndarray]:
    """The SEG's dataset, segments, frames and pixels ``[frame, row, column]``."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.uid import UID

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(p)
    except InvalidDicomError:
        raise BadInputError(f"{p} is not a DICOM file.", p) from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds for damage
        raise BadInputError(f"{p} is a damaged DICOM file ({_words(exc)}).", p) from None
    try:
        sop = str(ds.get("SOPClassUID", "") or "")
        if sop not in SEG_CLASSES:
            if not sop:
                what = "a DICOM object without a SOP class"
            elif re.fullmatch(r"[0-9.]{1,64}", sop):
                what = f"a {UID(sop).name} object" if UID(sop).name != sop else \
                    f"an object of SOP class {sop}"
            else:
                what = "an object whose SOP Class UID is damaged"
            raise BadInputError(f"{p} is not a DICOM SEG (it is {what}).", p)
        kind = str(ds.SegmentationType).upper()
        if kind not in ("BINARY", "FRACTIONAL", "LABELMAP"):
            raise BadInputError(f"{p} has a SegmentationType {kind!r} Vellum does not read.", p)
        segments = []
        for s in ds.SegmentSequence:
            number = int(s.SegmentNumber)
            if number == 0 and kind == "LABELMAP":  # the background of a LABELMAP SEG
                continue
            tracking = _TRACKING.match(str(s.get("TrackingID", "") or ""))
            value = int(tracking.group(1)) if tracking else None
            segments.append(_Segment(number, str(s.get("SegmentLabel", "") or "").strip()
                                     or f"Segment {number}",
                                     _color(s.get("RecommendedDisplayCIELabValue")),
                                     value if value and value <= 65535 else None,
                                     codes=_codes(s)))
        if not segments or len({s.number for s in segments}) != len(segments):
            raise BadInputError(f"{p} is a DICOM SEG without distinct segments.", p)
        rows, cols = int(ds.Rows), int(ds.Columns)
        n = int(ds.get("NumberOfFrames", 1) or 1)
        shared = (ds.SharedFunctionalGroupsSequence[0]
                  if ds.get("SharedFunctionalGroupsSequence") else None)
        per = list(ds.get("PerFrameFunctionalGroupsSequence") or [])
        if "NumberOfFrames" not in ds and len(per) > 1 and not ds.file_meta.get(
                "TransferSyntaxUID", pydicom.uid.ExplicitVRLittleEndian).is_compressed and len(
                ds.PixelData) * 8 < 2 * rows * cols * int(ds.BitsAllocated):
            # NumberOfFrames (type 1) missing and one frame of pixels: read as highdicom does
            notes.append(f"{p} has no NumberOfFrames and one frame of pixel data for its "
                         f"{len(per)} frame descriptions; the frame is read with the first "
                         "description, as highdicom reads it.")
            per = per[:1]
        if len(per) != n:
            raise BadInputError(f"{p} is a damaged DICOM SEG: {n} frames but {len(per)} "
                                "per-frame descriptions.", p)
        frames = []
        for groups in per:
            number = _get(groups, "SegmentIdentificationSequence", "ReferencedSegmentNumber")
            if number is None:
                number = _get(shared, "SegmentIdentificationSequence",
                              "ReferencedSegmentNumber")
            position = (_get(groups, "PlanePositionSequence", "ImagePositionPatient")
                        or _get(shared, "PlanePositionSequence", "ImagePositionPatient"))
            sources = [str(src.ReferencedSOPInstanceUID)
                       for der in groups.get("DerivationImageSequence", [])
                       for src in der.get("SourceImageSequence", [])
                       if "ReferencedSOPInstanceUID" in src]
            if kind != "LABELMAP" and number is None:
                raise BadInputError(f"{p} is a damaged DICOM SEG: a frame names no segment.", p)
            frames.append(_Frame(None if kind == "LABELMAP" else int(number),
                                 tuple(float(v) for v in position) if position else None,
                                 sources))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = np.asarray(ds.pixel_array).reshape(n, rows, cols)
        if kind == "FRACTIONAL":
            top = int(ds.get("MaximumFractionalValue", 255) or 255)
            pixels = pixels.astype(np.int64) * 2 >= top
        elif kind == "BINARY":
            pixels = pixels != 0
    except VellumError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged element of any kind: one sentence
        raise BadInputError(f"{p} is a damaged DICOM SEG ({_words(exc)}).", p) from None
    return ds, segments, frames, pixels


def _plane(ds: Any) -> tuple[np.ndarray | None, tuple[float, float] | None]:
    shared = ds.SharedFunctionalGroupsSequence[0] if ds.get(
        "SharedFunctionalGroupsSequence") else None
    first = (ds.get("PerFrameFunctionalGroupsSequence") or [None])[0]
    orient = (_get(shared, "PlaneOrientationSequence", "ImageOrientationPatient")
              or _get(first, "PlaneOrientationSequence", "ImageOrientationPatient"))
    spacing = (_get(shared, "PixelMeasuresSequence", "PixelSpacing")
               or _get(first, "PixelMeasuresSequence", "PixelSpacing"))
    return (np.array([float(v) for v in orient]) if orient else None,
            (float(spacing[0]), float(spacing[1])) if spacing else None)


def _place(doc: Any, item: Any, ds: Any, frames: list[_Frame]) -> list[int] | str:
    """Slice k of each frame on ``item``'s grid, or why they do not fit (a few words)."""
    from app.io.volume.project import volume_geometry

    g = volume_geometry(doc, item)
    depth, j, i = g.shape
    if (int(ds.Rows), int(ds.Columns)) != (j, i):
        return f"frames of {ds.Columns}x{ds.Rows} pixels, not {i}x{j}"
    d = np.asarray(g.direction)
    orient, spacing = _plane(ds)
    if orient is not None and (np.max(np.abs(orient[:3] - d[:, 0])) > ORIENTATION_TOL
                               or np.max(np.abs(orient[3:] - d[:, 1])) > ORIENTATION_TOL):
        return "another orientation"
    if spacing is not None and any(abs(a - b) > SPACING_TOL * b
                                   for a, b in zip(spacing, (g.spacing[1], g.spacing[0]))):
        return "another pixel spacing"
    uids: list[str | None] | None = None
    out = []
    for f in frames:
        if f.position is not None:
            k = int(round(float(g.world_to_voxel(f.position)[2])))
            if not 0 <= k < depth or np.max(np.abs(
                    g.voxel_to_world((0, 0, k)) - np.asarray(f.position))) > POSITION_MM:
                return "frames that lie off its slices"
            out.append(k)
            continue
        if uids is None:
            from app.io.dicom_seg.source import source_slices

            uids = source_slices(doc, item).uids
        k = next((uids.index(u) for u in f.source if u in uids), -1)
        if k < 0:
            return "frames that reference none of its instances"
        out.append(k)
    return out


def plan_import(doc: Any, path: str | Path, progress: Any, cancelled: Any,
                notes: list[str] | None = None) -> tuple[Any, str]:
    """The command adding ``path``'s segments to the volume it references, and a summary."""
    from app.io.inputs import require_readable

    p = require_readable(path, what="DICOM SEG")
    try:
        with warnings.catch_warnings():  # pydicom warns on each odd value it decodes
            warnings.simplefilter("ignore")
            ds, segments, frames, pixels = _read(p, notes if notes is not None else [])
            return _plan(doc, p, path, ds, segments, frames, pixels, progress, cancelled)
    except VellumError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged value found late: one sentence
        raise BadInputError(f"{p} is a damaged DICOM SEG ({_words(exc)}).", p) from None


def _plan(doc: Any, p: Path, path: Any, ds: Any, segments: list[_Segment],
          frames: list[_Frame], pixels: np.ndarray, progress: Any, cancelled: Any
          ) -> tuple[Any, str]:
    from app.core.commands import Batch, ModifyLabelMap, Put
    from app.core.labelmap import LabelMapInfo, Mode, Segment
    from app.io.dicom_seg.source import base_uid, is_dicom_volume

    wanted = {str(s.SeriesInstanceUID) for s in ds.get("ReferencedSeriesSequence", [])
              if "SeriesInstanceUID" in s}
    if not wanted:
        raise BadInputError(f"{p} names no series it segments (no Referenced Series "
                            "Sequence).", p)
    items = [m for m in doc.media() if not m.removed and is_dicom_volume(m)
             and base_uid(m.source.series_uid) in wanted]
    if not items:
        shown = _shown(", ".join(sorted(wanted)))
        raise BadInputError(f"{p} segments series {shown}, which is not in {doc.path}; add "
                            "that series to the project first.", p)
    why: list[str] = []
    for item in items:
        ks = _place(doc, item, ds, frames)
        if isinstance(ks, list):
            break
        why.append(f"{item.name} has {ks}")
    else:
        raise BadInputError(f"{p} does not fit the grid of the series it references ("
                            f"{'; '.join(why)}).", p)
    depth, j, i = item.volume_shape
    by_number = {s.number: s for s in segments}
    for n, (f, k) in enumerate(zip(frames, ks)):
        if cancelled():
            raise VellumError(f"Import of {path} was cancelled; nothing was changed.", path)
        progress(n, len(frames))
        numbers = ([f.segment] if f.segment is not None
                   else [int(v) for v in np.unique(pixels[n]) if v])
        for number in numbers:
            seg = by_number.get(number)
            if seg is None:
                raise BadInputError(f"{p} is a damaged DICOM SEG: a frame names segment "
                                    f"{number}, which it does not describe.", p)
            plane = pixels[n] if f.segment is not None else pixels[n] == number
            seg.planes[k] = seg.planes[k] | plane if k in seg.planes else plane.copy()
    progress(len(frames), len(frames))
    restore = all(s.value is not None for s in segments) and len(
        {s.value for s in segments}) == len(segments)
    groups: list[list[Any]] = []  # [voxels taken by slice k, segments] per label map
    for seg in sorted(segments, key=lambda s: s.number):
        home = next((g for g in groups if not seg.overlaps(g[0])), None)
        if home is None:
            home = [{}, []]
            groups.append(home)
        for k, plane in seg.planes.items():
            home[0][k] = home[0][k] | plane if k in home[0] else plane
        home[1].append(seg)
    base = str(ds.get("SeriesDescription", "") or "").strip()[:60] or p.name.split(".")[0]
    by_name = {c.name.lower(): c.id for c in doc.schema.classes}
    steps: list[Any] = []
    for g, (_, members) in enumerate(groups):
        records = tuple(Segment(s.value if restore else s.number, s.name, s.color,
                                by_name.get(s.name.lower()), codes=s.codes) for s in members)
        info = LabelMapInfo(item.id, depth, j, i, "uint8" if max(
            r.value for r in records) <= 255 else "uint16",
            name=base if len(groups) == 1 else f"{base} ({g + 1})", segments=records)
        steps.append(Put((info,), label="Import label map"))
        for s, r in zip(members, records):
            box = s.box()
            if box is not None:
                steps.append(ModifyLabelMap(info.id, box[0], box[1], Mode.ADD, r.value))
    summary = (f"Imported {len(segments)} segment(s) from {p.name} onto {item.name} as "
               f"{len(groups)} label map(s)")
    return Batch(tuple(steps), label=f"Import {p.name}"), summary
