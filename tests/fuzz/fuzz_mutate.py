"""Seeded mutations of binary files: bit flips, truncation, byte runs, splices, and header
fields at extremes (PNG IHDR, JPEG SOF, BMP, TIFF tags, NIfTI-1, MP4 boxes, Matroska/WebM
elements, MPEG-TS packets).

Every function takes a ``random.Random`` and returns the mutated content and a short description
of what it did (for the report and the repro).
"""

from __future__ import annotations

import io
import random
import struct
import zlib

U32 = (0, 1, 2, 0x7FFF, 0xFFFF, 0x10000, 100_000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
I32 = (0, 1, -1, 2, 0xFFFF, 100_000, 0x7FFFFFFF, -0x80000000, -100_000)
I16 = (0, 1, -1, 2, 7, 8, 9, 255, 0x7FFF, -0x8000)
U16 = (0, 1, 2, 7, 8, 15, 16, 17, 32, 64, 255, 0x7FFF, 0xFFFF)
F32 = (0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e38, -1e38, 1e-38, -1.0, 1e9)


# --- bytes ------------------------------------------------------------------------------------

def bitflips(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if not data:
        return data, "bit flips of an empty file"
    b = bytearray(data)
    n = rng.randint(1, 64)
    # half the time aim at the header, where the structure is
    span = len(b) if rng.random() < 0.5 else min(len(b), 1024)
    for _ in range(n):
        i = rng.randrange(span)
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b), f"{n} bit flips in the first {span} bytes"


def truncate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if rng.random() < 0.3:
        at = rng.randrange(min(len(data), 512) + 1)
    else:
        at = rng.randrange(len(data) + 1) if data else 0
    return data[:at], f"truncated at byte {at} of {len(data)}"


def byte_run(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if not data:
        return data, "byte run in an empty file"
    value = rng.choice((0x00, 0xFF, None))
    length = rng.choice((1, 2, 4, 8, 16, 64, 256, 4096))
    start = rng.randrange(len(data)) if rng.random() < 0.6 else rng.randrange(min(len(data), 256))
    b = bytearray(data)
    end = min(len(b), start + length)
    fill = bytes([value] * (end - start)) if value is not None else rng.randbytes(end - start)
    b[start:end] = fill
    what = f"0x{value:02X}" if value is not None else "random bytes"
    return bytes(b), f"bytes {start}..{end} set to {what}"


def splice(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A slice of the file copied over another place (repeated structures, wrong lengths)."""
    if len(data) < 8:
        return data + data, "file doubled"
    a = rng.randrange(len(data))
    n = rng.randint(1, min(2048, len(data) - a))
    at = rng.randrange(len(data))
    return data[:at] + data[a:a + n] + data[at:], f"{n} bytes from {a} inserted at {at}"


def garbage_tail(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    n = rng.choice((1, 100, 65536))
    return data + rng.randbytes(n), f"{n} random bytes appended"


BYTE_OPS = (bitflips, truncate, byte_run, splice, garbage_tail)


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if rng.random() < 0.02:
        return b"", "emptied"
    op = rng.choices(BYTE_OPS, weights=(4, 3, 3, 1, 1))[0]
    return op(data, rng)


# --- format headers ---------------------------------------------------------------------------

def png_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """IHDR width/height/bit depth/colour type to extremes, the CRC fixed (so only the values
    are wrong) or not."""
    assert data[12:16] == b"IHDR"
    body = bytearray(data[16:29])
    field = rng.choice(("width", "height", "both", "depth", "colour", "interlace"))
    if field in ("width", "height", "both"):
        v = rng.choice(U32)
        if field in ("width", "both"):
            body[0:4] = struct.pack(">I", v)
        if field in ("height", "both"):
            body[4:8] = struct.pack(">I", rng.choice(U32) if field == "both" else v)
        what = f"IHDR {field} {struct.unpack('>II', bytes(body[0:8]))}"
    elif field == "depth":
        body[8] = rng.choice((0, 3, 7, 16, 32, 255))
        what = f"IHDR bit depth {body[8]}"
    elif field == "colour":
        body[9] = rng.choice((1, 5, 7, 255))
        what = f"IHDR colour type {body[9]}"
    else:
        body[12] = rng.choice((2, 255))
        what = f"IHDR interlace {body[12]}"
    fix = rng.random() < 0.8
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(body))) if fix else data[29:33]
    return data[:16] + bytes(body) + crc + data[33:], what + (" (CRC fixed)" if fix else "")


def jpeg_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """SOF height/width/components to extremes; or a DQT/DHT length field broken."""
    b = bytearray(data)
    i = 2
    while i + 4 <= len(b) and b[i] == 0xFF:
        marker, length = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            field = rng.choice(("height", "width", "components", "precision"))
            if field == "height":
                b[i + 5:i + 7] = struct.pack(">H", rng.choice(U16))
            elif field == "width":
                b[i + 7:i + 9] = struct.pack(">H", rng.choice(U16))
            elif field == "components":
                b[i + 9] = rng.choice((0, 2, 4, 255))
            else:
                b[i + 4] = rng.choice((0, 12, 16, 255))
            return bytes(b), f"JPEG SOF{marker - 0xC0} {field} set to an extreme"
        if rng.random() < 0.2:
            b[i + 2:i + 4] = struct.pack(">H", rng.choice((0, 1, 2, 0xFFFF)))
            return bytes(b), f"JPEG marker 0x{marker:02X} length broken"
        i += 2 + length
    return mutate_bytes(data, rng)


def bmp_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    b = bytearray(data)
    field = rng.choice(("width", "height", "bpp", "offset", "compression", "size"))
    if field == "width":
        b[18:22] = struct.pack("<i", rng.choice(I32))
    elif field == "height":
        b[22:26] = struct.pack("<i", rng.choice(I32))
    elif field == "bpp":
        b[28:30] = struct.pack("<H", rng.choice((0, 1, 3, 7, 33, 64, 0xFFFF)))
    elif field == "offset":
        b[10:14] = struct.pack("<I", rng.choice(U32))
    elif field == "compression":
        b[30:34] = struct.pack("<I", rng.choice((1, 2, 3, 4, 5, 99, 0xFFFFFFFF)))
    else:
        b[14:18] = struct.pack("<I", rng.choice(U32))
    return bytes(b), f"BMP {field} set to an extreme"


def tiff_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One tag of the first IFD (width, length, bits, strips, rows per strip, compression...)
    set to an extreme, or the IFD offset / entry count broken."""
    bo = "<" if data[:2] == b"II" else ">"
    b = bytearray(data)
    ifd = struct.unpack(bo + "I", b[4:8])[0]
    if rng.random() < 0.1:
        b[4:8] = struct.pack(bo + "I", rng.choice(U32))
        return bytes(b), "TIFF first-IFD offset set to an extreme"
    n = struct.unpack(bo + "H", b[ifd:ifd + 2])[0]
    if rng.random() < 0.1:
        b[ifd:ifd + 2] = struct.pack(bo + "H", rng.choice((0, 1, 0xFFFF)))
        return bytes(b), "TIFF IFD entry count set to an extreme"
    entries = []
    for k in range(n):
        at = ifd + 2 + 12 * k
        tag, typ, count = struct.unpack(bo + "HHI", b[at:at + 8])
        entries.append((at, tag, typ, count))
    interesting = [e for e in entries if e[1] in (256, 257, 258, 259, 262, 273, 277, 278, 279,
                                                   284, 317, 339)] or entries
    at, tag, typ, count = rng.choice(interesting)
    what = rng.choice(("value", "value", "type", "count"))
    if what == "value":
        v = rng.choice(U32)
        if typ == 3:
            b[at + 8:at + 10] = struct.pack(bo + "H", v & 0xFFFF)
        else:
            b[at + 8:at + 12] = struct.pack(bo + "I", v)
        return bytes(b), f"TIFF tag {tag} value (or offset) set to {v}"
    if what == "type":
        t = rng.choice((0, 2, 4, 5, 12, 13, 99))
        b[at + 2:at + 4] = struct.pack(bo + "H", t)
        return bytes(b), f"TIFF tag {tag} type set to {t}"
    c = rng.choice(U32)
    b[at + 4:at + 8] = struct.pack(bo + "I", c)
    return bytes(b), f"TIFF tag {tag} count set to {c}"


# NIfTI-1: (offset, struct format, name)
_NIFTI_FIELDS = [(0, "i", "sizeof_hdr"), (40, "h", "dim[0]"), (42, "h", "dim[1]"),
                 (44, "h", "dim[2]"), (46, "h", "dim[3]"), (48, "h", "dim[4]"),
                 (50, "h", "dim[5]"), (70, "h", "datatype"), (72, "h", "bitpix"),
                 (76, "f", "pixdim[0]"), (80, "f", "pixdim[1]"), (84, "f", "pixdim[2]"),
                 (88, "f", "pixdim[3]"), (108, "f", "vox_offset"), (112, "f", "scl_slope"),
                 (116, "f", "scl_inter"), (252, "h", "qform_code"), (254, "h", "sform_code"),
                 (256, "f", "quatern_b"), (268, "f", "qoffset_x"), (280, "f", "srow_x[0]"),
                 (300, "f", "srow_y[1]"), (320, "f", "srow_z[2]"), (123, "B", "xyzt_units"),
                 (344, "4s", "magic")]
#: dim, datatype, bitpix, vox_offset and scaling decide how much is read: drawn more often.
_NIFTI_WEIGHTS = [3 if name.startswith(("dim", "datatype", "bitpix", "vox_offset", "scl"))
                  else 1 for _, _, name in _NIFTI_FIELDS]
_NIFTI_DTYPES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048,
                 2304, 255, 0x7FFF, -1)


def nifti_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A header field of an uncompressed NIfTI-1 set to an extreme (dim, datatype, bitpix,
    pixdim, vox_offset, scaling, qform/sform, magic); several at once sometimes."""
    b = bytearray(data)
    bo = "<" if struct.unpack("<i", data[:4])[0] == 348 else ">"
    done = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        off, fmt, name = rng.choices(_NIFTI_FIELDS, weights=_NIFTI_WEIGHTS)[0]
        if name == "dim[0]":
            v = rng.choice((0, -1, 8, 9, 100, 0x7FFF, -0x8000))
        elif name == "datatype":
            v = rng.choice(_NIFTI_DTYPES)
        elif fmt == "h":
            v = rng.choice(I16)
        elif fmt == "i":
            v = rng.choice((0, 540, 348 + 1, -1, 0x7FFFFFFF))
        elif fmt == "B":
            v = rng.choice((0, 255))
        elif fmt == "4s":
            v = rng.choice((b"n+2\0", b"ni1\0", b"\0\0\0\0", b"n+1\0"))
        else:
            v = rng.choice(F32)
            if name == "vox_offset":
                v = rng.choice((0.0, 1.0, 351.0, 352.5, 1e9, float("nan"), -352.0, 3.4e38))
        b[off:off + struct.calcsize(fmt)] = struct.pack(bo + fmt, v)
        done.append(f"{name}={v!r}")
    return bytes(b), "NIfTI header " + ", ".join(done)


_MP4_FIELDS = {b"mvhd": (12, 16), b"mdhd": (12, 16), b"tkhd": (76, 80), b"stsz": (4, 8, 12),
               b"stco": (4, 8), b"stts": (4, 8, 12), b"stsc": (4, 8), b"stss": (4, 8),
               b"ctts": (4, 8, 12), b"elst": (4, 8, 12), b"avcC": (0, 4), b"hdlr": (8,),
               b"stsd": (4, 8), b"avc1": (24, 26), b"mdat": (), b"moov": (), b"trak": ()}


def mp4_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A box size, or an integer inside a box (timescale, duration, sample count, chunk
    offset, width, height...), set to an extreme."""
    found = [(data.find(k), k) for k in _MP4_FIELDS if data.find(k) >= 4]
    if not found:
        return mutate_bytes(data, rng)
    at, box = rng.choice(found)
    b = bytearray(data)
    v = rng.choice(U32)
    if rng.random() < 0.3 or not _MP4_FIELDS[box]:
        b[at - 4:at] = struct.pack(">I", v)
        return bytes(b), f"MP4 box {box.decode()} size set to {v}"
    off = at + 4 + rng.choice(_MP4_FIELDS[box])
    b[off:off + 4] = struct.pack(">I", v)
    return bytes(b), f"MP4 box {box.decode()} field at +{off - at - 4} set to {v}"


def ebml_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Matroska/WebM: an element's size byte run to 0xFF (unknown size) or 0x01 + huge, at a
    known element id (EBML header, Segment, Tracks, PixelWidth/Height, TimecodeScale)."""
    ids = {b"\x1a\x45\xdf\xa3": "EBML", b"\x18\x53\x80\x67": "Segment",
           b"\x16\x54\xae\x6b": "Tracks", b"\xb0": "PixelWidth", b"\xba": "PixelHeight",
           b"\x2a\xd7\xb1": "TimecodeScale", b"\x1f\x43\xb6\x75": "Cluster",
           b"\xa3": "SimpleBlock", b"\x44\x89": "Duration"}
    found = [(data.find(k), k) for k in ids if data.find(k) >= 0]
    if not found:
        return mutate_bytes(data, rng)
    at, key = rng.choice(found)
    b = bytearray(data)
    p = at + len(key)
    choice = rng.choice(("ff", "01", "zero"))
    if choice == "ff":
        b[p:p + 8] = b"\x01\xff\xff\xff\xff\xff\xff\xff"
    elif choice == "01":
        b[p:p + 8] = b"\x01\x00\x00\x00\x7f\xff\xff\xff"
    else:
        b[p] = 0x80  # size 0
    return bytes(b[:len(data)]), f"EBML element {ids[key]} size set to {choice}"


def ts_header(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """MPEG-TS: packets' sync bytes, PIDs or PAT/PMT section lengths broken."""
    b = bytearray(data)
    n = len(b) // 188
    if not n:
        return mutate_bytes(data, rng)
    what = rng.choice(("sync", "pid", "section", "cc"))
    for _ in range(rng.randint(1, 20)):
        p = rng.randrange(n) * 188
        if what == "sync":
            b[p] = rng.choice((0x00, 0x46, 0xFF))
        elif what == "pid":
            b[p + 1] = (b[p + 1] & 0xE0) | rng.randrange(32)
            b[p + 2] = rng.randrange(256)
        elif what == "section":
            b[p + 6:p + 8] = b"\xbf\xff"
        else:
            b[p + 3] ^= 0x0F
    return bytes(b), f"MPEG-TS packets' {what} broken"


def gz(data: bytes) -> bytes:
    import gzip

    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()
