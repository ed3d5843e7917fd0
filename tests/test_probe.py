"""Media probing against outside references: ffprobe for video, nibabel/pydicom headers."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from app.core.errors import BadInputError
from app.core.media import MediaKind
from app.io.images import image_size, read_image
from app.io.probe import probe


def ffprobe_frames(path) -> tuple[int, int, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                          "-show_entries", "stream=width,height,nb_read_frames", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True).stdout
    s = json.loads(out)["streams"][0]
    return int(s["width"]), int(s["height"]), int(s["nb_read_frames"])


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe (ffmpeg) is not installed")
@pytest.mark.parametrize("name", ["bikes.mp4", "cfr_h264_bframes.mp4", "vfr_h264.mkv",
                                  "bigbuckbunny.mp4"])
def test_video_size_and_frame_count_match_ffprobe(shared_data, name):
    path = shared_data / "video" / name
    p = probe(path)
    assert p.kind is MediaKind.VIDEO
    assert (p.width, p.height, p.frames) == ffprobe_frames(path)


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
    assert p.volume.shape == (140, 512, 512) and p.title == "STD BRAIN 1MM, iDose"


def test_a_study_folder_becomes_one_volume_per_image_series(tmp_path, shared_data):
    from app.core.document import Document
    from app.io.ingest import add_media

    study = shared_data / "dicom" / "philips_phantom_study"
    with Document.create(tmp_path / "p") as doc:
        report = add_media(doc, [study, shared_data / "dicom" / "pydicom_test_files" /
                                 "CT_small.dcm"])
        names = sorted(m.name for m in doc.media())
        assert names == sorted(["STD BRAIN 1MM, iDose", "STD BRAIN 5MM",
                                "1A TRAUMA/PLAIN HEAD DM /Head", "CT series 1"]), names
        assert any("secondary capture" in n for n in report.notes)  # the dose report
        assert any("LICENSE_dcm_qa_ct is not a DICOM file" in n for n in report.notes)
        single = next(m for m in doc.media() if m.name == "CT series 1")
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
