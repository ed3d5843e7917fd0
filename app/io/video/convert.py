"""Decoded video frames to RGB uint8 in display orientation, as the ``ffmpeg`` command does it.

Colour: FFmpeg's swscale turns YUV into RGB using the frame's own colour matrix and range
(BT.601 when untagged). 8-bit YUV goes through swscale's unscaled converters, which give the
same bytes as ``ffmpeg -pix_fmt rgb24``. For high bit depths with vertically subsampled chroma
(10/12-bit 4:2:0) the reference ``ffmpeg`` (5.1, the one tests compare with) upsamples chroma vertically with its
bicubic filter (B=0, C=0.6, chroma sited between luma rows) and shares each chroma sample
between two horizontal neighbours; newer swscale resamples differently. :func:`to_rgb`
reproduces the reference here (chroma upsampled in numpy, then a point conversion).

Orientation: the display matrix is interpreted exactly as ``ffmpeg``'s autorotate does
(transpose/hflip/vflip for multiples of 90 degrees); :data:`TRANSFORMS` names the results.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from typing import Any

import numpy as np

# name -> (clockwise rotation in degrees, mirrored?)
TRANSFORMS = {"none": (0, False), "clock": (90, False), "cclock": (270, False),
              "hflip+vflip": (180, False), "cclock_flip": (90, True), "clock_flip": (270, True),
              "hflip": (0, True), "vflip": (0, True)}


_local = threading.local()


def _rgb24(frame: Any, interpolation: str | None = None) -> np.ndarray:
    """swscale to rgb24 with this thread's own context: a frame's built-in reformatter is one
    SwsContext shared by every thread that converts that frame, and must not be."""
    r = getattr(_local, "reformatter", None)
    if r is None:
        from av.video.reformatter import VideoReformatter

        r = _local.reformatter = VideoReformatter()
    return r.reformat(frame, format="rgb24", interpolation=interpolation).to_ndarray()


#: Codecs whose FFmpeg decoders attach no side data with a metadata dictionary of its own, so
#: that PyAV's ``frame.side_data`` is safe to read on their frames. PyAV wraps each entry's
#: ``AVFrameSideData.metadata`` in an ``av.Dictionary`` that frees it when the wrapper goes,
#: and the frame frees it again: a double free that kills the process at a later garbage
#: collection. FFmpeg's PNG decoders name the ICC profile of an ``iCCP`` chunk that way
#: (a PNG renamed ``.mp4``, PNG-in-MOV, APNG), so ``png``/``apng`` are not here.
SIDE_DATA_SAFE_CODECS = frozenset({
    "h264", "hevc", "vp8", "vp9", "av1", "libdav1d", "libaom-av1", "mpeg4", "mpeg2video",
    "mpeg1video", "h263", "vc1", "wmv3", "theora", "mjpeg", "prores", "dnxhd", "ffv1",
    "rawvideo", "qtrle", "utvideo", "huffyuv", "ffvhuff", "magicyuv", "cfhd"})


def display_matrix(frame: Any, codec: str) -> tuple[int, ...] | None:
    """The 3x3 display matrix (9 int32, row-major, 16.16 / 2.30 fixed point) a frame decoded
    by ``codec`` carries, or None. For codecs outside :data:`SIDE_DATA_SAFE_CODECS` the side
    data are never wrapped: the matrix is rebuilt from the rotation angle alone (a flip in it,
    which such files practically never carry, is not seen)."""
    if codec not in SIDE_DATA_SAFE_CODECS:
        return _rotation_matrix(frame)
    from av.sidedata.sidedata import Type

    try:
        for sd in frame.side_data:
            if sd.type == Type.DISPLAYMATRIX:
                values = np.frombuffer(bytes(sd), dtype="<i4")
                if values.size >= 9:
                    return tuple(int(v) for v in values[:9])
    except Exception:  # side data PyAV cannot read: treat as absent
        return None
    return None


def _rotation_matrix(frame: Any) -> tuple[int, ...] | None:
    """The pure-rotation display matrix of a frame's rotation, as ``av_display_rotation_set``
    writes it, from PyAV's ``frame.rotation`` (read in C, no side-data wrappers); None for
    no rotation."""
    try:
        ccw = float(frame.rotation)  # counter-clockwise degrees, as av_display_rotation_get
    except Exception:  # an unreadable matrix: treat as absent
        return None
    if not math.isfinite(ccw) or ccw == 0:
        return None
    r = math.radians(ccw)
    c, s = int(math.cos(r) * 65536), int(math.sin(r) * 65536)
    return (c, -s, 0, s, c, 0, 0, 0, 1 << 30)


def display_transform(matrix: tuple[int, ...] | None) -> tuple[str, float]:
    """``(transform, theta)`` for a display matrix, as ffmpeg's autorotate picks its filters.
    ``theta`` = clockwise degrees in [0, 360); a transform of ``"none"`` with ``theta`` not a
    multiple of 90 means an arbitrary angle Vellum does not apply."""
    if matrix is None:
        return "none", 0.0
    m = matrix
    s0, s1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if s0 == 0 or s1 == 0:
        return "none", 0.0
    ccw = -math.degrees(math.atan2(m[1] / s1, m[0] / s0))  # av_display_rotation_get
    theta = -float(round(ccw))
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        return ("cclock_flip" if m[3] > 0 else "clock"), theta
    if abs(theta - 180) < 1:
        h, v = m[0] < 0, m[4] < 0
        return ("hflip+vflip" if h and v else "hflip" if h else "vflip" if v else "none"), theta
    if abs(theta - 270) < 1:
        return ("clock_flip" if m[3] < 0 else "cclock"), theta
    if abs(theta) < 1:
        return ("vflip" if m[4] < 0 else "none"), theta
    return "none", theta


def apply_transform(rgb: np.ndarray, transform: str) -> np.ndarray:
    """Turn a decoded ``(H, W, 3)`` picture into display orientation (a new C-contiguous
    array unless ``transform`` is ``"none"``)."""
    if transform == "none":
        return rgb
    import cv2

    if transform == "clock":
        return cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE)
    if transform == "cclock":
        return cv2.rotate(rgb, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if transform == "hflip+vflip":
        return cv2.rotate(rgb, cv2.ROTATE_180)
    if transform == "hflip":
        return cv2.flip(rgb, 1)
    if transform == "vflip":
        return cv2.flip(rgb, 0)
    if transform == "cclock_flip":  # plain transpose
        return cv2.transpose(rgb)
    if transform == "clock_flip":  # anti-transpose
        return cv2.rotate(cv2.transpose(rgb), cv2.ROTATE_180)
    raise ValueError(f"unknown display transform {transform!r}")


def displayed_size(width: int, height: int, transform: str) -> tuple[int, int]:
    """Displayed ``(width, height)`` of a decoded ``width x height`` picture."""
    turned = transform in ("clock", "cclock", "cclock_flip", "clock_flip")
    return (height, width) if turned else (width, height)


def _cubic(x: np.ndarray, a: float = -0.6) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1, (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1,
                    np.where(x < 2, a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a, 0.0))


@lru_cache(maxsize=16)
def _vertical_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (4, dst) and normalised weights (4, dst, 1) of swscale's bicubic
    upsampling of ``src`` chroma rows to ``dst`` rows (chroma centred between luma rows)."""
    pos = (np.arange(dst) + 0.5) * src / dst - 0.5
    base = np.floor(pos).astype(np.int64)
    idx = np.stack([np.clip(base + t, 0, src - 1) for t in (-1, 0, 1, 2)])
    w = np.stack([_cubic(pos - (base + t)) for t in (-1, 0, 1, 2)])
    w /= w.sum(axis=0, keepdims=True)
    return idx, w[..., None].astype(np.float32)


def _plane(frame: Any, i: int, width: int, height: int) -> np.ndarray:
    plane = frame.planes[i]
    arr = np.frombuffer(plane, dtype="<u2")
    return arr.reshape(-1, plane.line_size // 2)[:height, :width]


def _is_high_depth_yuv(fmt: Any) -> bool:
    comps = fmt.components
    return (fmt.is_planar and not fmt.is_rgb and len(comps) >= 3 and 8 < comps[0].bits <= 16
            and not fmt.is_big_endian)


def _high_depth_rgb(frame: Any) -> np.ndarray:
    """4:2:0 at 9-16 bits: chroma upsampled vertically as the reference swscale does, then
    swscale's own 4:2:2 point conversion (which matches the reference bit for bit)."""
    import av

    w, h = frame.width, frame.height
    fmt = frame.format
    bits = fmt.components[0].bits
    cw, ch = fmt.chroma_width(w), fmt.chroma_height(h)
    if fmt.chroma_width(64) != 32 or ch >= h:
        raise ValueError("not horizontally halved, vertically subsampled chroma")
    target = av.VideoFrame(w, h, f"yuv422p{bits}le")
    idx, wts = _vertical_taps(ch, h)
    for i in range(3):
        if i == 0:
            out = _plane(frame, 0, w, h)
        else:
            c = _plane(frame, i, cw, ch).astype(np.float32)
            up = (c[idx[0]] * wts[0] + c[idx[1]] * wts[1] + c[idx[2]] * wts[2]
                  + c[idx[3]] * wts[3])
            out = np.clip(np.rint(up), 0, (1 << bits) - 1).astype(np.uint16)
        plane = target.planes[i]
        buf = np.zeros((out.shape[0], plane.line_size // 2), dtype="<u2")
        buf[:, :out.shape[1]] = out
        plane.update(buf.tobytes())
    target.colorspace = frame.colorspace
    target.color_range = frame.color_range
    return _rgb24(target, "POINT")


def to_rgb(frame: Any) -> np.ndarray:
    """An ``av.VideoFrame`` as ``(H, W, 3)`` RGB uint8 in decoded (not display) orientation,
    matching ``ffmpeg -pix_fmt rgb24``."""
    fmt = frame.format
    if fmt.name == "rgb24":
        return frame.to_ndarray()
    if _is_high_depth_yuv(fmt):
        if fmt.chroma_height(64) < 64:
            try:
                return _high_depth_rgb(frame)
            except Exception:  # an unusual layout: plain swscale below
                pass
        # 4:2:2 / 4:4:4: the reference shares chroma between horizontal pairs (point).
        return _rgb24(frame, "POINT")
    return _rgb24(frame)


def detach(frame: Any) -> Any:
    """A copy of a decoded frame in memory of its own, so that the decoder's buffer pool can
    reuse its buffer at once (a pool only ever grows: frames held from it stay allocated in
    it after they are let go)."""
    import av

    try:
        out = av.VideoFrame(frame.width, frame.height, frame.format.name)
        for src, dst in zip(frame.planes, out.planes):
            d = np.frombuffer(dst, dtype=np.uint8)
            s = np.frombuffer(src, dtype=np.uint8)
            if src.line_size == dst.line_size:
                d[:] = s[:d.size]
            else:
                rows = d.size // dst.line_size
                width = min(src.line_size, dst.line_size)
                d.reshape(rows, dst.line_size)[:, :width] = \
                    s[:rows * src.line_size].reshape(rows, src.line_size)[:, :width]
        out.colorspace = frame.colorspace
        out.color_range = frame.color_range
        out.pts = frame.pts
        return out
    except Exception:  # a layout numpy cannot copy: keep the decoder's frame
        return frame


def frame_bytes(frame: Any) -> int:
    """Bytes a decoded frame holds (its plane buffers)."""
    try:
        return int(sum(p.buffer_size for p in frame.planes))
    except Exception:
        return frame.width * frame.height * 2
