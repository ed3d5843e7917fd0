"""Reading DICOM headers (never pixels): which files a path holds, what each file is, and
the 2D images (:class:`~app.io.volume.model.FrameRef`) it contributes to its series.

Positions and orientations are patient LPS (mm), as DICOM stores them. A multi-frame
(enhanced CT/MR) file gives one FrameRef per frame, from its per-frame functional groups
(position, orientation, pixel measures, rescale), falling back to the shared groups.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.project_files import is_project_file
from app.io.volume.model import FrameRef

DIRECTORY_SOP = "1.2.840.10008.1.3.10"  # Media Storage Directory (DICOMDIR, Philips DIRFILE)
_NOT_IMAGES = (  # SOP class (or class family) -> what it is, in a user's words
    ("1.2.840.10008.5.1.4.1.1.88", "a structured report (such as a dose report)"),
    ("1.2.840.10008.5.1.4.1.1.11", "a presentation state"),
    ("1.2.840.10008.5.1.4.1.1.66.4", "a segmentation (SEG) object"),
    ("1.2.840.10008.5.1.4.1.1.66", "a registration, fiducial or raw-data object"),
    ("1.2.840.10008.5.1.4.1.1.481", "a radiotherapy (RT) object"),
    ("1.2.840.10008.5.1.4.1.1.104", "an encapsulated document"),
    ("1.2.840.10008.5.1.4.1.1.9", "a waveform"),
    ("1.2.840.10008.5.1.4.1.1.7", "a secondary capture (a screenshot such as a dose summary)"),
    ("1.2.840.10008.5.1.4.1.1.68", "a surface object"),
    ("1.2.840.10008.5.1.4.1.1.77.1.6", "a whole-slide microscopy image"),
)
_IMAGE_ROOT = "1.2.840.10008.5.1.4.1.1."  # storage SOP classes (images, once _NOT_IMAGES are out)
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420",
           "PALETTE COLOR")


@dataclass
class FileHeader:
    """What one file is. ``kind``: "image" (greyscale frames for a volume), "other" (a DICOM
    object that is not a volume; ``reason`` says what), "directory" (DICOMDIR)."""

    path: Path
    kind: str
    series_uid: str = ""
    modality: str = ""
    description: str = ""
    number: int | None = None
    reason: str = ""
    frames: list[FrameRef] = field(default_factory=list)
    monochrome1: bool = False
    references: list[list[str]] = field(default_factory=list)  # directory records' file IDs
    damage: str = ""  # an image whose pixel data is cut short: why, in a few words


class Unreadable(Exception):
    """A file that is not DICOM or cannot be parsed; ``str()`` is the sentence to show."""


def walk(folder: Path) -> list[Path]:
    """Every file under ``folder`` (recursively, sorted, hidden files and folders left out)."""
    out: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(Path(root, f) for f in sorted(files)
                   if not f.startswith(".") and not is_project_file(Path(root, f)))
    return out


def read_header(path: Path) -> FileHeader:
    """Parse ``path``'s header (pixel data is not read, but an image's Pixel Data element is
    checked against the file's length: ``damage`` says when it is cut short). Raises
    :class:`Unreadable`; a folder member that is not a regular file is never opened."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from app.io.inputs import special_kind

    try:
        st = os.stat(path)
    except OSError as exc:
        raise Unreadable(f"{path} cannot be opened ({exc.strerror}).") from exc
    kind = special_kind(st.st_mode)
    if kind is not None:
        raise Unreadable(f"{path} is {kind}, not a regular file; it is skipped.")
    if st.st_size == 0:
        raise Unreadable(f"{path} is empty (0 bytes): the file is damaged or cut short.")
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise Unreadable(f"{path} cannot be opened ({exc.strerror}).") from exc
    with fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        head = fh.read(132)
        fh.seek(0)
        try:
            ds = pydicom.dcmread(fh, stop_before_pixels=True)
        except InvalidDicomError:
            # DICOM without the 128-byte preamble (old ACR-NEMA style) starts with group 8
            if head[:2] not in (b"\x08\x00", b"\x02\x00"):
                raise Unreadable(f"{path} is not a DICOM file.") from None
            try:
                fh.seek(0)
                ds = pydicom.dcmread(fh, stop_before_pixels=True, force=True)
            except Exception as exc:
                raise Unreadable(f"{path} is not a DICOM file ({exc}).") from None
            if "SOPClassUID" not in ds:
                raise Unreadable(f"{path} is not a DICOM file.") from None
        except Exception as exc:  # pydicom raises many kinds for a damaged header
            raise Unreadable(f"{path} has a damaged DICOM header ({exc}).") from None
        try:
            header = describe(path, ds)
        except _DAMAGED_ELEMENT as exc:  # elements are decoded lazily, on first access
            raise Unreadable(f"{path} has a damaged DICOM header ({_one_line(exc)}).") from None
        except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
            raise Unreadable(f"{path} has an invalid DICOM header ({exc}).") from None
        if header.kind == "image":
            header.damage = pixel_damage(fh, st.st_size, ds, header.frames)
        return header


# What pydicom raises when it decodes a damaged element on first access: an unknown VR
# (bit flips in an explicit-VR element header) is a NotImplementedError; bytes it cannot
# unpack a struct.error; a length past the end an EOFError or OverflowError.
_DAMAGED_ELEMENT = (NotImplementedError, struct.error, EOFError, OverflowError)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()).rstrip(".") or type(exc).__name__


_DEFLATED = "1.2.840.10008.1.2.1.99"
_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # sequence delimitation item (LE)


def pixel_damage(fh: Any, size: int, ds: Any, frames: list[FrameRef]) -> str:
    """Why the Pixel Data element at ``fh``'s position (where a header read stopped) is cut
    short, in a few words; "" when it is whole or cannot be judged without decoding. Reads at
    most a few bytes unless compressed data lacks its closing delimiter at the very end."""
    if not frames or frames[0].syntax == _DEFLATED:
        return ""
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None or little is None:
        return ""
    pos = fh.tell()
    if pos >= size:
        return "the file ends where its pixel data should begin"
    order = "little" if little else "big"
    head = fh.read(12 if not implicit else 8)
    tag = (b"\xe0\x7f\x10\x00" if little else b"\x7f\xe0\x00\x10")
    if len(head) < 8:
        return "the file ends inside its pixel data header"
    if head[:4] != tag:
        return ""  # not Pixel Data (float pixels, trailing elements): left to the decoder
    if implicit:
        length, start = int.from_bytes(head[4:8], order), pos + 8
    elif head[4:6] in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN"):
        length, start = int.from_bytes(head[8:12], order), pos + 12
    else:
        length, start = int.from_bytes(head[6:8], order), pos + 8
    if len(head) < start - pos:
        return "the file ends inside its pixel data header"
    if length == 0xFFFFFFFF:  # encapsulated (compressed): must close with a delimiter
        fh.seek(max(start, size - len(_DELIMITER)))
        if fh.read() == _DELIMITER or _has_delimiter(fh, start):
            return ""
        return f"its compressed pixel data is cut short ({size - start} bytes, no end marker)"
    held = size - start
    if held < length:
        return f"its pixel data is cut short ({held} of {length} bytes)"
    f = frames[0]
    want = f.rows * f.columns * f.file_frames * f.bits_allocated // 8
    if frames[0].syntax in _NATIVE_SYNTAXES and length < want:
        return f"its pixel data holds {length} bytes, {want} expected"
    return ""


def _has_delimiter(fh: Any, start: int, chunk: int = 1 << 20) -> bool:
    """Whether the sequence delimiter's tag occurs after ``start`` (read in chunks)."""
    fh.seek(start)
    tail = b""
    while block := fh.read(chunk):
        if _DELIMITER[:4] in tail + block:
            return True
        tail = block[-3:]
    return False


_NATIVE_SYNTAXES = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}


def _sop_class(ds: Any) -> str:
    sop = str(ds.get("SOPClassUID", "") or "")
    if not sop and getattr(ds, "file_meta", None) is not None:
        sop = str(ds.file_meta.get("MediaStorageSOPClassUID", "") or "")
    return sop


def _not_image(sop: str) -> str | None:
    for prefix, what in _NOT_IMAGES:
        if sop == prefix or sop.startswith(prefix + "."):
            return what
    return None


def describe(path: Path, ds: Any) -> FileHeader:
    """Classify a parsed header and list its frames."""
    sop = _sop_class(ds)
    if sop == DIRECTORY_SOP or "DirectoryRecordSequence" in ds:
        refs = []
        for rec in ds.get("DirectoryRecordSequence", []):
            ref = rec.get("ReferencedFileID")
            if ref:
                refs.append([str(ref)] if isinstance(ref, str) else [str(p) for p in ref])
        return FileHeader(path, "directory", references=refs)
    number = ds.get("SeriesNumber")
    header = FileHeader(path, "other", series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
                        modality=str(ds.get("Modality", "") or ""),
                        description=str(ds.get("SeriesDescription", "")
                                        or ds.get("ProtocolName", "") or "").strip(),
                        number=int(number) if number not in (None, "") else None)
    what = _not_image(sop)
    if what is not None:
        header.reason = f"{what}, not an image volume"
        return header
    if "Rows" not in ds or "Columns" not in ds:
        if sop.startswith(_IMAGE_ROOT):  # an image storage class: the file must be damaged
            from pydicom.uid import UID

            raise Unreadable(f"{path} is a {UID(sop).name} object without its image "
                             "attributes (Rows, Columns): the file is damaged or cut short.")
        header.reason = "a DICOM object without pixel data"
        return header
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if int(ds.get("SamplesPerPixel", 1) or 1) > 1 or photometric in _COLOUR:
        header.reason = (f"a colour image ({photometric}); Vellum reads greyscale volumes "
                         "only")
        return header
    if int(ds.get("BitsAllocated", 16) or 16) == 1:
        header.reason = "a 1-bit (binary) image, not an intensity volume"
        return header
    if not header.series_uid:
        header.reason = "an image without a SeriesInstanceUID"
        return header
    header.kind = "image"
    header.monochrome1 = photometric == "MONOCHROME1"
    header.frames = _frames(path, ds)
    return header


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    """``n`` floats from a DICOM multi-value (None when absent or malformed)."""
    if value is None:
        return None
    items = [value] if isinstance(value, (str, bytes, int, float)) else list(value)
    try:
        out = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n else None


def _float(value: Any, default: float | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _item(groups: Any, seq: str) -> Any:
    """First item of functional-group sequence ``seq`` inside ``groups``, or None."""
    if groups is None or seq not in groups:
        return None
    items = groups.get(seq)
    return items[0] if items else None


def _lookup(per: Any, shared: Any, seq: str, attr: str) -> Any:
    for groups in (per, shared):
        item = _item(groups, seq)
        if item is not None and attr in item:
            return item.get(attr)
    return None


def _order(ds: Any) -> tuple:
    def num(name: str) -> float:
        return _float(ds.get(name), 0.0) or 0.0

    return (num("TemporalPositionIdentifier"), num("EchoNumbers"), num("AcquisitionNumber"),
            num("TriggerTime"), num("InstanceNumber"))


_MIN_FRAME_BYTES = 8  # an encapsulated frame's item header; a native frame holds more


def _frame_count(path: Path, ds: Any) -> int:
    """NumberOfFrames, refused (:class:`Unreadable`) when it is below 1 or far more than the
    file could hold (a damaged header may claim 2^31 frames: listing them would never end).
    A count the file holds too few bytes for, but within this bound, is left to
    :func:`pixel_damage` (pixel data cut short: the file's readable slices are kept)."""
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    if n_frames < 1:
        raise Unreadable(f"{path} has a damaged DICOM header: it claims {n_frames} frames.")
    size = os.stat(path).st_size
    if n_frames > 1 and n_frames * _MIN_FRAME_BYTES > size:
        raise Unreadable(f"{path} has a damaged DICOM header: it claims {n_frames} frames, "
                         f"more than its {size} bytes can hold.")
    return n_frames


def _frames(path: Path, ds: Any) -> list[FrameRef]:
    rows, cols = int(ds.Rows), int(ds.Columns)
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "") or "") if meta is not None else ""
    allocated = int(ds.get("BitsAllocated", 16) or 16)
    n_frames = _frame_count(path, ds)
    common = dict(rows=rows, columns=cols, bits_allocated=allocated,
                  bits_stored=int(ds.get("BitsStored", allocated) or allocated),
                  signed=int(ds.get("PixelRepresentation", 0) or 0) == 1, syntax=syntax,
                  file_frames=n_frames)
    shared = (ds.SharedFunctionalGroupsSequence[0]
              if ds.get("SharedFunctionalGroupsSequence") else None)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    top_step = _float(ds.get("SpacingBetweenSlices"), None) or _float(ds.get("SliceThickness"),
                                                                       None)
    if per_frame or shared is not None:  # enhanced multi-frame: functional groups
        frames = []
        for f in range(n_frames):
            per = per_frame[f] if per_frame and f < len(per_frame) else None
            step = (_float(_lookup(per, shared, "PixelMeasuresSequence",
                                   "SpacingBetweenSlices"), None)
                    or _float(_lookup(per, shared, "PixelMeasuresSequence", "SliceThickness"),
                              None) or top_step)
            content = _item(per, "FrameContentSequence")
            order: tuple = (f,)
            if content is not None:
                dims = content.get("DimensionIndexValues") or []
                dims = [dims] if isinstance(dims, int) else list(dims)
                order = (_float(content.get("TemporalPositionIndex"), 0.0),
                         *(float(v) for v in dims), f)
            frames.append(FrameRef(
                path, f, **common,
                position=_floats(_lookup(per, shared, "PlanePositionSequence",
                                         "ImagePositionPatient")
                                 or ds.get("ImagePositionPatient"), 3),
                orientation=_floats(_lookup(per, shared, "PlaneOrientationSequence",
                                            "ImageOrientationPatient")
                                    or ds.get("ImageOrientationPatient"), 6),
                pixel_spacing=_floats(_lookup(per, shared, "PixelMeasuresSequence",
                                              "PixelSpacing") or ds.get("PixelSpacing"), 2),
                slope=_float(_lookup(per, shared, "PixelValueTransformationSequence",
                                     "RescaleSlope") or ds.get("RescaleSlope"), 1.0) or 1.0,
                intercept=_float(_lookup(per, shared, "PixelValueTransformationSequence",
                                         "RescaleIntercept") or ds.get("RescaleIntercept"),
                                 0.0) or 0.0,
                order=order, slice_step=step))
        return frames
    position = _floats(ds.get("ImagePositionPatient"), 3)
    orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    spacing = _floats(ds.get("PixelSpacing"), 2) or _floats(ds.get("ImagerPixelSpacing"), 2)
    slope = _float(ds.get("RescaleSlope"), 1.0) or 1.0
    intercept = _float(ds.get("RescaleIntercept"), 0.0) or 0.0
    order = _order(ds)
    if n_frames == 1:
        return [FrameRef(path, 0, **common, position=position, orientation=orientation,
                         pixel_spacing=spacing, slope=slope, intercept=intercept, order=order,
                         slice_step=top_step)]
    # Legacy multi-frame (NM, some MR/CT exports): one position for the whole file; the
    # frames are stacked along the slice normal at the file's slice spacing.
    frames = []
    step = top_step or 1.0
    for f in range(n_frames):
        pos = position
        if position is not None and orientation is not None:
            r, c = orientation[:3], orientation[3:]
            n = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
            pos = tuple(position[a] + f * step * n[a] for a in range(3))
        frames.append(FrameRef(path, f, **common, position=pos, orientation=orientation,
                               pixel_spacing=spacing, slope=slope, intercept=intercept,
                               order=(*order, f), slice_step=step, stacked=True))
    return frames


def resolve_reference(base: Path, parts: list[str]) -> Path | None:
    """Find a DICOMDIR ReferencedFileID under ``base``: exactly, then ignoring case, then
    dropping leading components (some scanners, e.g. Philips DIRFILEs, name the study folder
    as it was on the scanner)."""
    for start in range(len(parts)):
        here = base
        for part in parts[start:]:
            nxt = here / part
            if not nxt.exists() and here.is_dir():
                nxt = next((p for p in here.iterdir() if p.name.lower() == part.lower()), nxt)
            here = nxt
            if not here.exists():
                break
        else:
            if here.is_file():
                return here
    return None
