"""Media probing against outside references: ffprobe for video, nibabel/pydicom headers."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from app.core.errors import BadInputError
from app.core.media import MediaKind
from app.io.images import image_size, read_image
from app.io.probe import probe


def ffmpeg_shown(path) -> tuple[int, int, int]:
    """Displayed width, height and frame count as the ffmpeg command outputs them."""
    from test_video_decoder import ffmpeg_count, ffmpeg_frames

    h, w, _ = ffmpeg_frames(path, [0])[0].shape
    return w, h, ffmpeg_count(path)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
@pytest.mark.parametrize("name", ["bikes.mp4", "cfr_h264_bframes.mp4", "vfr_h264.mkv",
                                  "bigbuckbunny.mp4"])
def test_video_size_and_frame_count_match_ffmpeg(shared_data, name, tmp_path, monkeypatch):
    monkeypatch.setenv("VELLUM_CACHE_DIR", str(tmp_path / "cache"))
    path = shared_data / "video" / name
    p = probe(path)
    assert p.kind is MediaKind.VIDEO
    assert (p.width, p.height, p.frames) == ffmpeg_shown(path)
    assert (p.video.width, p.video.height, p.video.frame_count) == (p.width, p.height, p.frames)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_rotated_video_and_edit_list_cut_are_probed_as_ffmpeg_shows_them(
        shared_data, tmp_path, monkeypatch):
    """A rotate=90 phone-style video is taller than wide; a stream-copy cut has an edit list
    and ffmpeg shows fewer frames than the container holds."""
    monkeypatch.setenv("VELLUM_CACHE_DIR", str(tmp_path / "cache"))
    src = shared_data / "video" / "bikes.mp4"
    rotated, cut = tmp_path / "rotated.mp4", tmp_path / "cut.mp4"
    for args in (["-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated],
                 ["-ss", "1.7", "-i", src, "-c", "copy", cut]):
        subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *map(str, args)],
                       check=True)
    p = probe(rotated)
    assert (p.width, p.height, p.frames) == ffmpeg_shown(rotated) == (272, 640, 250)
    assert p.video.rotation in (90, 270)
    p = probe(cut)
    assert (p.width, p.height, p.frames) == ffmpeg_shown(cut)
    import av

    with av.open(str(cut)) as c:
        assert c.streams.video[0].frames > p.frames  # the container counts hidden packets
    assert any("edit list" in w for w in p.warnings)


def test_images_match_their_decoded_size(shared_data):
    for path in sorted((shared_data / "images").iterdir()):
        img = read_image(path)
        assert img.dtype.name == "uint8" and img.ndim == 3 and img.shape[2] == 3
        assert image_size(path) == (img.shape[1], img.shape[0]), path.name


def test_nifti_and_dicom_volumes(shared_data):
    import nibabel as nib

    nifti = sorted((shared_data / "nifti").glob("*.nii*"))
    assert nifti
    for path in nifti:
        p = probe(path)
        shape = nib.load(str(path)).shape
        assert (p.width, p.height, p.frames) == (tuple(shape) + (1, 1))[:3]
    series = shared_data / "dicom" / "philips_phantom_study" / "S2020"
    p = probe(series)
    assert p.kind is MediaKind.VOLUME and p.frames == 140 and p.source.modality == "CT"
    assert p.volume.shape == (140, 512, 512) and p.title == "CT series 202 (029137)"
    assert p.source.description == "STD BRAIN 1MM, iDose"  # kept, never the title


def test_a_study_folder_becomes_one_volume_per_image_series(tmp_path, shared_data):
    from app.core.document import Document
    from app.io.ingest import add_media

    study = shared_data / "dicom" / "philips_phantom_study"
    with Document.create(tmp_path / "p") as doc:
        report = add_media(doc, [study, shared_data / "dicom" / "pydicom_test_files" /
                                 "CT_small.dcm"])
        names = sorted(m.name for m in doc.media())  # never the series descriptions
        assert names == sorted(["CT series 202 (029137)", "CT series 201 (34c687)",
                                "CT series 100 (a35171)", "CT series 1 (5713db)"]), names
        assert sorted(m.source.description for m in doc.media()) == sorted(
            ["STD BRAIN 1MM, iDose", "STD BRAIN 5MM", "1A TRAUMA/PLAIN HEAD DM /Head",
             "CT series 1"])
        assert any("secondary capture" in n for n in report.notes)  # the dose report
        assert any("LICENSE_dcm_qa_ct is not a DICOM file" in n for n in report.notes)
        single = next(m for m in doc.media() if m.name == "CT series 1 (5713db)")
        assert single.volume_shape == (1, 128, 128) and single.source.series_uid
        uids = {m.source.series_uid for m in doc.media()}
        assert len(uids) == 4
        again = add_media(doc, [study])  # every series already there, by path and series
        assert not again.added and len(again.duplicates) == 3


def test_truncated_video_and_image_are_named(tmp_path, shared_data):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((shared_data / "video" / "bikes.mp4").read_bytes()[:2000])
    with pytest.raises(BadInputError, match="cut.mp4"):
        probe(cut)
    img = tmp_path / "half.png"
    img.write_bytes((shared_data / "images" / "coins.png").read_bytes()[:3000])
    with pytest.raises(BadInputError, match="truncated PNG"):
        read_image(img)
