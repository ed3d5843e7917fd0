"""Samples the self-test makes for itself, small and deterministic, in its own temporary
folder: a PNG and a JPEG photo, an H.264 clip with B-frames whose frames say their own number,
a CT-like volume written as DICOM series (uncompressed and in compressed transfer syntaxes)
and as NIfTI. Nothing is downloaded or read from the user's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SIZE = (160, 120)  # width, height
VIDEO_SIZE = (160, 96)
VIDEO_FRAMES = 24
VOLUME_SHAPE = (6, 40, 48)  # k, j, i
SPACING = (0.8, 0.8, 2.5)  # si, sj, sk in mm
SQUARE = 20  # side of the moving square in the clip


def image_rgb() -> np.ndarray:
    """A 160x120 RGB picture: a gradient, a red box (where a segmenter is prompted) and a
    blue disc."""
    import cv2

    w, h = IMAGE_SIZE
    x = np.linspace(30, 200, w, dtype=np.float32)
    y = np.linspace(0, 40, h, dtype=np.float32)[:, None]
    grey = (x[None, :] + y).astype(np.uint8)
    rgb = np.stack([grey, grey, grey], axis=2).copy()
    cv2.rectangle(rgb, (40, 30), (99, 79), (220, 40, 40), -1)
    cv2.circle(rgb, (128, 90), 16, (40, 60, 220), -1)
    return rgb


def image_box() -> tuple[float, float, float, float]:
    """The red box of :func:`image_rgb` (x, y, w, h, continuous pixels)."""
    return (40.0, 30.0, 60.0, 50.0)


def write_images(folder: Path) -> tuple[Path, Path]:
    """``photo.png`` and ``photo.jpg`` (quality 95) of :func:`image_rgb`."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(image_rgb(), cv2.COLOR_RGB2BGR)
    png, jpg = folder / "photo.png", folder / "photo.jpg"
    for path, ext, params in ((png, ".png", []), (jpg, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95])):
        ok, buf = cv2.imencode(ext, bgr, params)
        if not ok:
            raise OSError(f"OpenCV could not encode {path.name}")
        path.write_bytes(buf.tobytes())
    return png, jpg


def level(n: int) -> int:
    """The grey level of frame ``n``'s number patch."""
    return 16 + 9 * n


def square_box(n: int) -> tuple[float, float, float, float]:
    """Where frame ``n``'s white square is (x, y, w, h)."""
    return (60.0 + 3 * n, 40.0 + n, float(SQUARE), float(SQUARE))


def frame_rgb(n: int) -> np.ndarray:
    """Frame ``n`` of the clip: a 32x32 patch in the corner of grey ``level(n)`` (its number),
    and a white square moving right and down on a dark background."""
    w, h = VIDEO_SIZE
    rgb = np.full((h, w, 3), 40, np.uint8)
    rgb[:32, :32] = level(n)
    x, y, sw, sh = (int(v) for v in square_box(n))
    rgb[y:y + sh, x:x + sw] = (250, 250, 250)
    return rgb


def frame_number(rgb: np.ndarray) -> int:
    """The frame number a decoded frame shows (from its corner patch)."""
    return int(round((float(rgb[4:28, 4:28].mean()) - 16) / 9))


def write_video(path: Path) -> Path:
    """:data:`VIDEO_FRAMES` frames of H.264 (libx264, 2 B-frames between references, GOP 12)
    at 12 fps in MP4."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = VIDEO_SIZE
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"g": "12", "bf": "2", "crf": "16", "preset": "veryfast",
                          "b-adapt": "0", "threads": "1"}
        for n in range(VIDEO_FRAMES):
            frame = av.VideoFrame.from_ndarray(frame_rgb(n), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def b_frames(path: Path) -> int:
    """How many B-frames the clip really holds (decoded picture types)."""
    import av

    def is_b(kind: Any) -> bool:  # an enum in older PyAV, FFmpeg's int (B = 3) in newer
        name = getattr(kind, "name", None)
        return name == "B" if isinstance(name, str) else int(kind) == 3

    with av.open(str(path)) as container:
        return sum(1 for f in container.decode(video=0) if is_b(f.pict_type))


def volume_hu() -> np.ndarray:
    """A CT-like ``[k, j, i]`` int16 volume in HU: air, a bright ring, soft tissue, a blob."""
    k, j, i = VOLUME_SHAPE
    zz, yy, xx = np.meshgrid(np.arange(k) - (k - 1) / 2, np.arange(j) - (j - 1) / 2,
                             np.arange(i) - (i - 1) / 2, indexing="ij")
    r = np.sqrt((xx / (i / 2.4)) ** 2 + (yy / (j / 2.4)) ** 2)
    vol = np.full(VOLUME_SHAPE, -1000, np.int16)
    vol[r < 1.0] = 900
    vol[r < 0.85] = 40
    vol[np.sqrt((xx - 5) ** 2 + (yy + 3) ** 2 + (zz * 2) ** 2) < 5] = 75
    vol += (np.arange(vol.size, dtype=np.int64).reshape(VOLUME_SHAPE) % 7).astype(np.int16)
    return vol


def blob_mask() -> np.ndarray:
    """A small sphere of voxels (the label map painted and exported)."""
    k, j, i = VOLUME_SHAPE
    zz, yy, xx = np.meshgrid(np.arange(k), np.arange(j), np.arange(i), indexing="ij")
    return (xx - i // 2) ** 2 + (yy - j // 2) ** 2 + ((zz - k // 2) * 3) ** 2 < 36


def write_dicom_series(folder: Path, transfer_syntax: str, tag: str) -> Path:
    """:func:`volume_hu` as an axial CT series, one file per slice, in ``transfer_syntax``
    (compressed with pydicom's encoders: RLE natively, JPEG 2000 through pylibjpeg)."""
    from app.demo_media import write_ct_series

    return write_ct_series(folder, volume_hu(), SPACING, uid_seed=f"vellum-self-test-{tag}",
                           instance_seed=f"vst-{tag}", patient=("SELF^TEST", "VELLUM-SELF-TEST"),
                           description=f"self-test {tag}", number=1, prefix="IM",
                           transfer_syntax=transfer_syntax)


def write_nifti(path: Path) -> Path:
    """:func:`volume_hu` as a NIfTI-1 file (``.nii.gz``), RAS affine with the same spacing."""
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.ascontiguousarray(volume_hu().transpose(2, 1, 0))  # [i, j, k]
    affine = np.diag([SPACING[0], SPACING[1], SPACING[2], 1.0])
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm")
    nib.save(img, str(path))
    return path
