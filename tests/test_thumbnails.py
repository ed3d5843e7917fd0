"""Thumbnails per media kind (``app/io/thumbnails.py``), from the real files of
../shared/data, against outside references: OpenCV's own decode and resize of the image,
ffmpeg's frame 0 of the video, nibabel's and SimpleITK's middle slice of a volume."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import UnsupportedFormatError, VellumError
from app.core.media import MediaItem, MediaKind
from app.io.thumbnails import THUMBNAILS, fit, thumbnail

SIZE = 64


def media(kind: MediaKind, path: Path) -> MediaItem:
    """A media item of ``kind`` at ``path`` (only kind and source matter to a thumbnail)."""
    return MediaItem(kind=kind, path=str(path), fingerprint="", size_bytes=0, width=0, height=0)


def reference_fit(rgb: np.ndarray, size: int = SIZE) -> np.ndarray:
    """``rgb`` scaled by OpenCV (area interpolation) so its longest side is ``size``."""
    import cv2

    h, w = rgb.shape[:2]
    s = size / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA)


def check_picture(rgb: np.ndarray, size: int = SIZE) -> None:
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert max(rgb.shape[:2]) == size and min(rgb.shape[:2]) >= 1
    assert rgb.flags.c_contiguous


def close(a: np.ndarray, b: np.ndarray, tolerance: float) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    assert diff.mean() <= tolerance, f"mean difference {diff.mean():.2f} > {tolerance}"


def test_every_media_kind_has_a_thumbnail():
    assert set(THUMBNAILS) == set(MediaKind)


@pytest.mark.parametrize("name", ["astronaut.png", "rocket.jpg"])
def test_image_thumbnail_is_the_image_resized(shared_data, name):
    import cv2

    path = shared_data / "images" / name
    rgb = thumbnail(path, media(MediaKind.IMAGE, path), SIZE)
    check_picture(rgb)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    close(rgb, reference_fit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)), 1.0)


def ffmpeg_frame0(path: Path) -> np.ndarray:
    """Frame 0 as ``ffmpeg -map 0:v:0 -fps_mode passthrough`` outputs it, RGB."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0",
                          "-fps_mode", "passthrough", "-frames:v", "1", "-pix_fmt", "rgb24",
                          "-f", "image2pipe", "-c:v", "ppm", "-"],
                         capture_output=True, timeout=120, check=True).stdout
    magic, w, h, top, data = out.split(maxsplit=4)
    assert magic == b"P6" and top == b"255"
    return np.frombuffer(data[:int(w) * int(h) * 3], np.uint8).reshape(int(h), int(w), 3)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
@pytest.mark.parametrize("name", ["bikes.mp4", "cfr_h264_bframes.mp4"])
def test_video_thumbnail_is_ffmpegs_frame_0(shared_data, name):
    path = shared_data / "video" / name
    rgb = thumbnail(path, media(MediaKind.VIDEO, path), SIZE)
    check_picture(rgb)
    close(rgb, reference_fit(ffmpeg_frame0(path)), 2.0)


def test_nifti_thumbnail_is_nibabels_middle_slice(shared_data):
    import nibabel as nib

    from app.io.planes import default_window

    path = shared_data / "nifti" / "anatomical.nii"
    rgb = thumbnail(path, media(MediaKind.VOLUME, path), SIZE)
    check_picture(rgb)
    voxels = np.asarray(nib.load(str(path)).get_fdata(), np.float32)  # [i, j, k]
    plane = voxels[:, :, voxels.shape[2] // 2].T  # picture [j, i]
    grey = default_window("", plane).apply(plane)  # Vellum's window; the slice is the point
    assert np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2])
    close(rgb, reference_fit(np.repeat(grey[:, :, None], 3, axis=2)), 1.0)


def test_dicom_thumbnail_is_simpleitks_middle_slice_in_the_ct_window(shared_data):
    sitk = pytest.importorskip("SimpleITK")
    from app.io.planes import default_window

    folder = shared_data / "dicom" / "philips_phantom_study" / "S2010"
    rgb = thumbnail(folder, media(MediaKind.VOLUME, folder), SIZE)
    check_picture(rgb)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    voxels = sitk.GetArrayFromImage(reader.Execute()).astype(np.float32)  # [k, j, i], HU
    plane = voxels[voxels.shape[0] // 2]
    grey = default_window("CT", plane).apply(plane)  # CT soft tissue
    close(rgb, reference_fit(np.repeat(grey[:, :, None], 3, axis=2)), 1.0)


def test_a_stop_asked_during_a_volume_scan_goes_through(shared_data):
    class Stop(Exception):
        pass

    def check() -> None:
        raise Stop

    folder = shared_data / "dicom" / "philips_phantom_study" / "S2010"
    with pytest.raises(Stop):
        thumbnail(folder, media(MediaKind.VOLUME, folder), SIZE, check)


def test_fit_keeps_the_aspect_and_enlarges_small_pictures():
    wide = np.zeros((10, 40, 3), np.uint8)
    assert fit(wide, 64).shape == (16, 64, 3)
    assert fit(np.zeros((1, 500, 3), np.uint8), 64).shape == (1, 64, 3)
    assert fit(wide, 8).shape == (2, 8, 3)


def cut(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[:int(len(data) * fraction)])
    return dst


def damaged(shared_data: Path, tmp_path: Path) -> list[tuple[MediaKind, Path]]:
    """One damaged file of each kind (and a DICOM folder of damaged slices)."""
    folder = tmp_path / "dicom"
    folder.mkdir()
    for f in sorted((shared_data / "dicom" / "philips_phantom_study" / "S2010").glob("I*")):
        cut(f, folder / f.name, 0.5)
    return [(MediaKind.IMAGE, cut(shared_data / "images" / "coins.png", tmp_path / "c.png", 0.5)),
            (MediaKind.IMAGE, cut(shared_data / "images" / "rocket.jpg", tmp_path / "r.jpg", 0.3)),
            (MediaKind.VIDEO, cut(shared_data / "video" / "bikes.mp4", tmp_path / "b.mp4", 0.3)),
            (MediaKind.VOLUME, cut(shared_data / "nifti" / "anatomical.nii",
                                   tmp_path / "a.nii", 0.5)),
            (MediaKind.VOLUME, folder),
            (MediaKind.IMAGE, tmp_path / "missing.png")]


def test_a_damaged_file_gives_one_sentence_naming_it(shared_data, tmp_path):
    for kind, path in damaged(shared_data, tmp_path):
        with pytest.raises(VellumError) as err:
            thumbnail(path, media(kind, path), SIZE)
        message = str(err.value)
        assert message.startswith(str(path)), message
        assert message.endswith(".") and "\n" not in message, message
        assert err.value.path == str(path)


def test_a_kind_without_a_thumbnail_says_so(shared_data, monkeypatch):
    monkeypatch.delitem(THUMBNAILS, MediaKind.VIDEO)
    path = shared_data / "video" / "bikes.mp4"
    with pytest.raises(UnsupportedFormatError, match="bikes.mp4 is video media"):
        thumbnail(path, media(MediaKind.VIDEO, path), SIZE)


def test_the_media_list_shows_the_thumbnail_pixels(shared_data):
    """The widget side only converts: its QImage holds the thumbnail's RGB pixels."""
    from app.widgets.media_list import load_thumbnail

    path = shared_data / "images" / "chelsea.png"
    item = media(MediaKind.IMAGE, path)
    rgb = thumbnail(path, item, SIZE)
    img = load_thumbnail(path, item, SIZE)
    assert (img.width(), img.height()) == (rgb.shape[1], rgb.shape[0])
    for y, x in ((0, 0), (rgb.shape[0] - 1, rgb.shape[1] - 1), (rgb.shape[0] // 2, 10)):
        c = img.pixelColor(x, y)
        assert (c.red(), c.green(), c.blue()) == tuple(int(v) for v in rgb[y, x])
