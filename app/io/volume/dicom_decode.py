"""Decoding the frames of one DICOM file to stored values (before rescale).

Uncompressed little-endian files are read straight from disk (the Pixel Data element is the
file's last); everything else goes through pydicom's decoder plugins: GDCM (python-gdcm) for
JPEG baseline/extended/lossless and JPEG-LS, pylibjpeg-openjpeg or GDCM for JPEG 2000,
pylibjpeg-rle (or pydicom) for RLE; deflate and big endian are pydicom's own. 12-bit JPEG
Extended, which pydicom's GDCM plugin refuses, is handed to GDCM directly.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from app.io.volume.model import FrameRef


def _gdcm_frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    """Decode with GDCM directly: 12-bit JPEG Extended, which python-gdcm decodes correctly
    but pydicom's GDCM plugin refuses to hand it (and the other plugins are GPL)."""
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(str(path))
    if not reader.Read():
        raise ValueError("GDCM cannot read it either")
    image = reader.GetImage()
    fmt = image.GetPixelFormat()
    types = {gdcm.PixelFormat.UINT8: np.uint8, gdcm.PixelFormat.INT8: np.int8,
             gdcm.PixelFormat.UINT12: np.uint16, gdcm.PixelFormat.INT12: np.int16,
             gdcm.PixelFormat.UINT16: np.uint16, gdcm.PixelFormat.INT16: np.int16,
             gdcm.PixelFormat.UINT32: np.uint32, gdcm.PixelFormat.INT32: np.int32,
             gdcm.PixelFormat.FLOAT32: np.float32, gdcm.PixelFormat.FLOAT64: np.float64}
    dtype = types.get(fmt.GetScalarType())
    if dtype is None or fmt.GetSamplesPerPixel() != 1:
        raise ValueError("GDCM decodes it to an unsupported pixel type")
    cols, rows = image.GetDimension(0), image.GetDimension(1)
    frames = image.GetDimension(2) if image.GetNumberOfDimensions() > 2 else 1
    buffer = image.GetBuffer().encode("utf-8", "surrogateescape")
    data = np.frombuffer(buffer, dtype=dtype).reshape(frames, rows, cols)
    return [data[i].copy() for i in indices]


NATIVE = {"1.2.840.10008.1.2": False, "1.2.840.10008.1.2.1": True}  # LE syntax: explicit VR?


def _native_frames(path: Path, frames: list[FrameRef]) -> list[np.ndarray] | None:
    """Frames of an uncompressed little-endian file read straight from disk, or None when
    the file is not laid out as expected (then pydicom reads it). The Pixel Data element
    is the file's last: its header sits just before the last ``frames x rows x columns``
    samples. Unused high bits are cleared (or sign-extended), as pydicom does."""
    f = frames[0]
    explicit = NATIVE.get(f.syntax)
    if explicit is None or f.bits_allocated not in (8, 16, 32):
        return None
    itemsize = f.bits_allocated // 8
    frame_bytes = f.rows * f.columns * itemsize
    length = frame_bytes * f.file_frames
    length += length % 2  # values have even length
    header = 12 if explicit else 8
    try:
        size = path.stat().st_size
        start = size - length
        with open(path, "rb") as fh:
            fh.seek(start - header)
            head = fh.read(header)
            if head[:4] != b"\xe0\x7f\x10\x00" or int.from_bytes(head[-4:], "little") != length:
                return None
            if explicit and head[4:6] not in (b"OW", b"OB"):
                return None
            dtype = np.dtype(f"<{'i' if f.signed else 'u'}{itemsize}")
            out = []
            for fr in frames:
                fh.seek(start + fr.index * frame_bytes)
                data = np.frombuffer(fh.read(frame_bytes), dtype)
                if data.size != f.rows * f.columns:
                    return None
                out.append(_used_bits(data.reshape(f.rows, f.columns), f))
    except OSError:
        return None
    return out


def _used_bits(a: np.ndarray, f: FrameRef) -> np.ndarray:
    """Only the BitsStored low bits of each sample count (higher ones may hold overlays)."""
    unused = f.bits_allocated - f.bits_stored
    if unused <= 0:
        return a
    if f.signed:
        return (a << unused) >> unused  # arithmetic shift: sign-extends
    return a & np.array((1 << f.bits_stored) - 1, a.dtype)


class SharedFile:
    """A multi-frame file's dataset, parsed once and shared by the jobs decoding its chunks
    (an enhanced header lists every frame: parsing it per chunk costs more than decoding);
    dropped when its last chunk is done."""

    def __init__(self, path: Path, chunks: int) -> None:
        self.path, self._left, self._ds, self._lock = path, chunks, None, threading.Lock()

    def dataset(self) -> Any:
        import pydicom

        with self._lock:
            if self._ds is None:
                self._ds = pydicom.dcmread(self.path, force=True)
            return self._ds

    def release(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left <= 0:
                self._ds = None


def _decode(path: Path, indices: list[int], shared: SharedFile | None, plugin: str
            ) -> list[np.ndarray]:
    import pydicom
    from pydicom.pixels import iter_pixels, pixel_array

    if shared is None:
        return [pixel_array(pydicom.dcmread(path, force=True), decoding_plugin=plugin)]
    return list(iter_pixels(shared.dataset(), indices=indices, decoding_plugin=plugin))


def read_frames(path: Path, frames: list[FrameRef], shared: SharedFile | None,
                plugin: str = "") -> list[np.ndarray]:
    """Decoded ``frames`` of ``path`` (stored values, before rescale); ``shared`` holds the
    dataset of a multi-frame file; ``plugin`` is the pydicom decoder to try first."""
    native = _native_frames(path, frames)
    if native is not None:
        return native
    indices = [f.index for f in frames]
    try:
        try:
            return _decode(path, indices, shared, plugin)
        except Exception:
            if not plugin:
                raise
            return _decode(path, indices, shared, "")  # any other plugin
    except Exception:  # no plugin would, or could, decode it
        if not _jpeg_extended_12bit(path):
            raise
        try:
            return _gdcm_frames(path, indices)
        except Exception:
            pass
        raise


def _jpeg_extended_12bit(path: Path) -> bool:
    """Whether ``path`` is 12-bit JPEG Extended with well-formed encapsulated fragments (GDCM
    is called directly only then: on broken encapsulation it aborts the process)."""
    import pydicom
    from pydicom.encaps import generate_fragments
    from pydicom.uid import JPEGExtended12Bit

    try:
        ds = pydicom.dcmread(path, force=True)
        if ds.file_meta.get("TransferSyntaxUID") != JPEGExtended12Bit or \
                int(ds.get("BitsStored", 8)) <= 8:
            return False
        for _ in generate_fragments(ds.PixelData):
            pass
    except Exception:  # unreadable or malformed: not a case for the fallback
        return False
    return True


def first_plugin(syntax: str, workers: int) -> str:
    """The pydicom decoder to try first: GDCM when several threads decode (it releases the
    GIL, pylibjpeg's OpenJPEG does not), else pydicom's own order."""
    if workers <= 1:
        return ""
    try:
        from pydicom.pixels.decoders.base import get_decoder

        return "gdcm" if "gdcm" in get_decoder(syntax).available_plugins else ""
    except (ImportError, NotImplementedError, ValueError):
        return ""
