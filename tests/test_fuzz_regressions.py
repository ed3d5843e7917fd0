"""Regressions of the fuzz suite's findings (tests/fuzz): each hostile input is built here,
small and deterministic, and run through the real CLI in a subprocess. Every one must end in
one sentence naming the file (``vellum: error:``, or ``skipped:``/``note:``/``refused:`` for
``add`` and ``models import``), never a traceback or a hang, and a failed command leaves the
project as it was."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_volume_support import make_series

REPO = Path(__file__).resolve().parents[1]


def vellum(*args: str | Path, timeout: float = 120, env: dict | None = None
           ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, errors="backslashreplace")


def new_project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    assert vellum("new", proj).returncode == 0
    return proj


def digest(project: Path) -> str:
    return hashlib.sha256((project / "project.vellum").read_bytes()).hexdigest()


def assert_sentence(result: subprocess.CompletedProcess, code: int, *names: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "this is a bug in Vellum" not in result.stderr
    said = result.stderr + result.stdout  # volume info lists a folder's problems on stdout
    for name in names:
        assert name in said, said


# ------------------------------------------------------------------ NIfTI qform quaternion
def _nifti(path: Path, qcode: int, scode: int, quatern_b: float) -> Path:
    import nibabel as nib

    img = nib.Nifti1Image(np.arange(48, dtype=np.int16).reshape(4, 4, 3), np.eye(4))
    img.header.set_qform(np.eye(4), code=qcode)
    img.header.set_sform(np.eye(4), code=scode)
    nib.save(img, str(path))
    raw = bytearray(path.read_bytes())
    raw[256:260] = struct.pack("<f", quatern_b)  # quatern_b: b^2 > 1 is no rotation
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("quatern_b", [1e9, -1.0 - 1e-3, float("inf")])
def test_nifti_impossible_qform_with_sform_is_added_with_a_note(tmp_path, quatern_b):
    vol = _nifti(tmp_path / "vol.nii", qcode=1, scode=1, quatern_b=quatern_b)
    proj = new_project(tmp_path)
    result = vellum("add", proj, vol)
    assert_sentence(result, 0, "note:", str(vol), "qform")
    assert vellum("validate", proj).returncode == 0
    assert_sentence(vellum("volume", "info", vol), 0)


def test_nifti_impossible_qform_alone_is_refused(tmp_path):
    vol = _nifti(tmp_path / "vol.nii", qcode=1, scode=0, quatern_b=1e9)
    proj = new_project(tmp_path)
    before = digest(proj)
    assert_sentence(vellum("add", proj, vol), 1, "skipped:", str(vol), "qform")
    assert digest(proj) == before
    info = vellum("volume", "info", vol)
    assert_sentence(info, 1, "vellum: error:", str(vol))


# ------------------------------------------------------------------ NIfTI name not UTF-8
@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux only")
def test_nifti_named_with_invalid_utf8_is_added(tmp_path):
    import nibabel as nib

    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"bad-\xff\xfe-utf8.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3), np.int16), np.eye(4)), str(folder / name))
    proj = new_project(tmp_path)
    result = vellum("add", proj, folder / name)
    assert_sentence(result, 0)
    assert "Added 1 volume" in result.stdout
    assert vellum("validate", proj).returncode == 0


# ------------------------------------------------------------------ DICOM headers
def test_dicom_unknown_value_representation_is_named(tmp_path):
    files = make_series(tmp_path / "ct", n=3)
    raw = files[0].read_bytes()
    tag = b"\x08\x00\x3e\x10LO"  # (0008,103E) SeriesDescription, explicit VR little endian
    assert tag in raw
    files[0].write_bytes(raw.replace(tag, b"\x08\x00\x3e\x10LN"))
    info = vellum("volume", "info", tmp_path / "ct")
    assert_sentence(info, 0, str(files[0]), "damaged DICOM header")
    one = vellum("volume", "info", files[0])  # lists what it could not read
    assert_sentence(one, 0, str(files[0]), "Unknown Value Representation 'LN'")
    proj = new_project(tmp_path)
    assert_sentence(vellum("add", proj, tmp_path / "ct"), 0, str(files[0]))


def test_dicom_absurd_number_of_frames_does_not_hang(tmp_path):
    import pydicom

    files = make_series(tmp_path / "ct", n=3)
    ds = pydicom.dcmread(files[1])
    ds.NumberOfFrames = 2147483647
    ds.save_as(files[1])
    info = vellum("volume", "info", tmp_path / "ct", timeout=60)
    assert_sentence(info, 0, str(files[1]), "2147483647 frames")
    proj = new_project(tmp_path)
    assert_sentence(vellum("add", proj, tmp_path / "ct", timeout=60), 0, str(files[1]))


def test_dicom_slice_that_links_to_itself(tmp_path):
    make_series(tmp_path / "ct", n=3)
    loop = tmp_path / "ct" / "IM_LOOP.dcm"
    loop.symlink_to(loop.name)
    info = vellum("volume", "info", tmp_path / "ct")
    assert_sentence(info, 0, str(loop))
    proj = new_project(tmp_path)
    assert_sentence(vellum("add", proj, tmp_path / "ct"), 0, str(loop))


# ------------------------------------------------------------------ video codec unknown
def test_video_whose_codec_cannot_be_identified(tmp_path):
    import av

    good = tmp_path / "good.mkv"
    with av.open(str(good), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, np.uint8),
                                               format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    raw = good.read_bytes()
    assert b"V_MPEG4/ISO/ASP" in raw
    bad = tmp_path / "clip.mkv"
    bad.write_bytes(raw.replace(b"V_MPEG4/ISO/ASP", b"V_ZZZZ4/ISO/ASP"))
    assert_sentence(vellum("video", "info", bad), 1, "vellum: error:", str(bad), "codec")
    proj = new_project(tmp_path)
    before = digest(proj)
    assert_sentence(vellum("add", proj, bad), 1, "skipped:", str(bad))
    assert digest(proj) == before


# ------------------------------------------------------------------ COCO wrong types
@pytest.fixture(scope="module")
def coco_export(tmp_path_factory):
    from factories import project_with_every_shape

    from app.io.coco import export_coco

    tmp = tmp_path_factory.mktemp("coco")
    doc, img_dir = project_with_every_shape(tmp)
    good = tmp / "good.json"
    export_coco(doc, good)
    doc.close()
    return json.loads(good.read_text()), img_dir


def _first(entries, test):
    return next(e for e in entries if test(e))


def _own_attrs(data, key):
    return _first(data["annotations"], lambda a: key in (a.get("attributes") or {}))["attributes"]


def _image_id_dict(data):
    data["images"][0]["id"] = {"": None}


def _tags_true(data):
    data["images"][0]["tags"] = True


def _polyline_category_list(data):
    im = _first(data["images"], lambda i: i.get("attributes", {}).get("vellum_polylines"))
    im["attributes"]["vellum_polylines"][0]["category_id"] = [None]


def _hole_odd(data):
    attrs = _own_attrs(data, "vellum_polygon")
    attrs["vellum_polygon"]["holes"] = [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]


def _exterior_empty(data):
    _own_attrs(data, "vellum_polygon")["vellum_polygon"]["exterior"] = []


def _rotated_box_six(data):
    _own_attrs(data, "vellum_rotated_box")["vellum_rotated_box"] = [1, 2, 3, 4, 5, 6]


def _file_name_too_long(data):
    data["images"][0]["file_name"] = "a" * 5000


def _category_id_list(data):
    data["categories"][0]["id"] = [1]


COCO_CASES = {
    "image id an object": (_image_id_dict, "image 0 has an id that is not a number or text"),
    "tags not a list": (_tags_true, "'tags' is not a list"),
    "line category a list": (_polyline_category_list, "unknown category [None]"),
    "hole of odd count": (_hole_odd, "vellum_polygon"),
    "empty exterior": (_exterior_empty, "vellum_polygon"),
    "rotated box of six": (_rotated_box_six, "vellum_rotated_box"),
    "file name too long": (_file_name_too_long, "cannot be looked up"),
    "category id a list": (_category_id_list, "category 0 has an id"),
}


@pytest.mark.parametrize("case", sorted(COCO_CASES))
def test_coco_wrong_types_are_one_sentence(tmp_path, coco_export, case):
    data, img_dir = coco_export
    data = json.loads(json.dumps(data))
    mutate, words = COCO_CASES[case]
    mutate(data)
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    proj = new_project(tmp_path)
    before = digest(proj)
    result = vellum("import", "coco", proj, path, "--images", img_dir)
    assert_sentence(result, 1, "vellum: error:", str(path), words)
    assert digest(proj) == before


def test_coco_image_status_of_a_wrong_type_is_ignored(tmp_path, coco_export):
    """Found by the fuzz suite (seed 4218676317): an image's Vellum status hint that is not a
    word (here a nested list) reached a set lookup and raised TypeError; it is a hint, so the
    import goes on with the item's usual status."""
    data, img_dir = coco_export
    data = json.loads(json.dumps(data))
    data["images"][0].setdefault("attributes", {})["status"] = [[[[]]]]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    proj = new_project(tmp_path)
    result = vellum("import", "coco", proj, path, "--images", img_dir)
    assert result.returncode == 0, result.stderr
    assert "unexpected" not in result.stderr


def test_labelme_point_past_a_float_is_one_sentence(tmp_path):
    """Found by the fuzz suite (seed 11, case 61): a JSON integer too large for a float in a
    labelme point raised OverflowError; it is a point out of range."""
    import cv2

    proj = new_project(tmp_path)
    img = tmp_path / "img0.png"
    cv2.imwrite(str(img), np.zeros((20, 30, 3), np.uint8))
    assert vellum("add", proj, img).returncode == 0
    before = digest(proj)
    js = tmp_path / "labels" / "img0.json"
    js.parent.mkdir()
    js.write_text('{"version": "5.4.1", "flags": {}, "imagePath": "../img0.png", '
                  '"imageData": null, "imageHeight": 20, "imageWidth": 30, "shapes": ['
                  '{"label": "car", "points": [[1, ' + "9" * 400 + '], [5, 6]], '
                  '"shape_type": "rectangle", "group_id": null, "flags": {}}]}')
    result = vellum("import", "labelme", proj, js.parent)
    assert_sentence(result, 1, "vellum: error:", "out of range")
    assert digest(proj) == before


# ------------------------------------------------------------------ label map tables
@pytest.mark.parametrize("table", ["itksnap", "json"])
def test_label_table_listing_a_value_twice_is_refused(tmp_path, table):
    import nibabel as nib

    vol = tmp_path / "head.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3), np.int16), np.eye(4)), str(vol))
    proj = new_project(tmp_path)
    assert vellum("add", proj, vol).returncode == 0
    labels = np.zeros((4, 4, 3), np.uint8)
    labels[1, 1, 1] = 1
    lm = tmp_path / "head_Lesions.nii.gz"
    nib.save(nib.Nifti1Image(labels, np.eye(4)), str(lm))
    if table == "itksnap":
        side = tmp_path / "head_Lesions.itksnap.txt"
        side.write_text('0 0 0 0 0 0 0 "Clear Label"\n1 255 0 0 1 1 1 "Lesion"\n'
                        '1 0 255 0 1 1 1 "Lesion again"\n')
    else:
        side = tmp_path / "head_Lesions.json"
        side.write_text(json.dumps({"segments": [{"value": 1, "name": "Lesion"},
                                                 {"value": 1, "name": "Lesion again"}]}))
    before = digest(proj)
    result = vellum("import", "nifti", proj, lm)
    assert_sentence(result, 1, "vellum: error:", str(side), "listed twice")
    assert digest(proj) == before


# ------------------------------------------------------------------ models import
def _models(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess:
    return vellum("models", "import", *args, env={"VELLUM_MODELS_DIR": str(tmp_path / "m")})


@pytest.mark.parametrize("manifest", [{"id": "x"}, None, {"manifest": {"": None}}])
def test_models_import_names_an_unusable_manifest(tmp_path, manifest):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "manifest.json").write_text(json.dumps(manifest))
    result = _models(tmp_path, pack)
    assert_sentence(result, 1, "refused:", str(pack / "manifest.json"),
                    "not a usable model manifest")
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pack/manifest.json", json.dumps(manifest))
    result = _models(tmp_path, archive)
    assert_sentence(result, 1, "vellum: error:", str(archive), "not a usable model manifest")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_models_import_names_a_manifest_that_is_a_fifo(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    os.mkfifo(pack / "manifest.json")
    result = _models(tmp_path, pack)
    assert_sentence(result, 1, "refused:", str(pack / "manifest.json"), "FIFO")


def test_models_import_with_nothing_to_import_is_an_error_sentence(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "readme.txt").write_text("no models here\n")
    result = _models(tmp_path, folder)
    assert_sentence(result, 1, str(folder))
    assert result.stderr.startswith("vellum: error: Nothing to import"), result.stderr
