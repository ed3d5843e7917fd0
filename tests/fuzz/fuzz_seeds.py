"""Real seed files for the fuzz suite, made here (no download): images written by OpenCV,
videos encoded by PyAV (H.264 MP4, VP9 WebM, H.264 MKV, MPEG-2 TS), DICOM series written by
pydicom (uncompressed, RLE and JPEG 2000), NIfTI by nibabel, and what Vellum itself exports
(COCO, MOT with labels.txt, a label map with its JSON and ITK-SNAP tables), plus a tiny model
pack (manifest and ONNX graphs) as a folder, a zip and a tar.gz. Template projects beside them
are copied for every case.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

W, H = 64, 48


def picture(seed: int = 0, w: int = W, h: int = H) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 3 % 256], -1).astype(np.uint8)
    return np.clip(img + rng.integers(0, 30, img.shape), 0, 255).astype(np.uint8)


def write_images(folder: Path) -> dict[str, Path]:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    bgr = picture()[..., ::-1]
    out = {}
    for ext, params in ((".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]),
                        (".tif", [cv2.IMWRITE_TIFF_COMPRESSION, 1]), (".bmp", [])):
        p = folder / f"photo{ext}"
        assert cv2.imwrite(str(p), bgr, params)
        out[ext] = p
    return out


def write_video(path: Path, container: str, codec: str, frames: int = 24,
                pix_fmt: str = "yuv420p") -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=12)
        stream.width, stream.height, stream.pix_fmt = W, H, pix_fmt
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "g": "6", "bf": "2"}
        elif codec.startswith("libvpx"):
            stream.options = {"deadline": "realtime", "cpu-used": "8", "g": "6"}
        else:
            stream.options = {"g": "6"}
        for n in range(frames):
            img = np.roll(picture(n % 3), n * 2, axis=1)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


VIDEOS = {"clip.mp4": ("mp4", "libx264"), "clip.webm": ("webm", "libvpx-vp9"),
          "clip.mkv": ("matroska", "libx264"), "clip.ts": ("mpegts", "mpeg2video")}


# --- DICOM -----------------------------------------------------------------------------------

CT = "1.2.840.10008.5.1.4.1.1.2"


def dicom_slices(n: int = 4, rows: int = 12, cols: int = 10) -> list:
    """``n`` CT slices of one series as pydicom datasets (not yet written)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    series, study, frame = (generate_uid()[:48].rstrip(".") for _ in range(3))
    out = []
    for k in range(n):
        ds = Dataset()
        ds.preamble = b"\0" * 128
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CT
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{series}.{k + 1}"
        ds.SOPClassUID = CT
        ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID = series, study, frame
        ds.PatientName, ds.PatientID, ds.Modality = "Fuzz^Seed", "FUZZ1", "CT"
        ds.StudyDate, ds.StudyTime, ds.SeriesNumber = "20240101", "094500", 2
        ds.SeriesDescription = "Fuzz axial"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.Rows, ds.Columns = rows, cols
        ds.PixelSpacing = [0.7, 0.6]
        ds.SliceThickness = 2.0
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.ImagePositionPatient = [-10.0, -20.0, 30.0 + 2.0 * k]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1.0, -1024.0, "HU"
        j, i = np.mgrid[0:rows, 0:cols]
        ds.PixelData = ((k * 97 + j * 13 + i * 5) % 4095).astype(np.uint16).tobytes()
        out.append(ds)
    return out


def save_dicom(ds, path: Path, syntax: str | None = None) -> Path:
    """Write one dataset, compressed to ``syntax`` (``"rle"``, ``"j2k"``) when asked."""
    if syntax:
        from pydicom.uid import JPEG2000Lossless, RLELossless

        ds.compress(RLELossless if syntax == "rle" else JPEG2000Lossless)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_series(folder: Path, syntax: str | None = None, n: int = 4) -> list[Path]:
    side = 64 if syntax == "j2k" else None  # OpenJPEG wants a few resolution levels
    slices = dicom_slices(n, side, side) if side else dicom_slices(n)
    return [save_dicom(ds, folder / f"IM{k:04d}.dcm", syntax) for k, ds in enumerate(slices)]


# --- NIfTI -----------------------------------------------------------------------------------

def write_nifti(path: Path) -> Path:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    k, j, i = np.mgrid[0:6, 0:12, 0:16]
    data = ((i * 7 + j * 11 + k * 13) % 300 - 100).astype(np.int16).transpose(2, 1, 0)
    affine = np.diag([-0.8, -0.9, 2.0, 1.0])
    affine[:3, 3] = [10.0, 20.0, -30.0]
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    nib.save(img, str(path))
    return path


# --- templates and exported seeds ------------------------------------------------------------

@dataclass
class Seeds:
    root: Path
    images: dict[str, Path]  # suffix -> file
    videos: dict[str, Path]  # name -> file
    dicom: dict[str, Path]  # "plain" / "rle" / "j2k" -> series folder
    nifti: dict[str, Path]  # ".nii" / ".nii.gz" -> file
    templates: dict[str, Path]  # name -> folder holding proj/ and media/
    coco: Path  # an exported COCO JSON; its images in templates["coco"]/media/images
    coco_handmade: Path
    mot: Path  # gt.txt with labels.txt beside it, of templates["mot"]'s video
    labelmap: Path  # a .nii.gz label map with .json and .itksnap.txt beside it
    pack: Path  # model pack folder (manifest.json + two ONNX graphs)
    pack_zip: Path
    pack_tgz: Path


def _template(root: Path, name: str) -> tuple[Path, Path]:
    t = root / "templates" / name
    (t / "media").mkdir(parents=True)
    return t, t / "media"


def build(root: Path) -> Seeds:
    from app.core.commands import ModifyLabelMap, Put, SetSchema
    from app.core.annotations import Annotation, Track
    from app.core.document import Document
    from app.core.labelmap import LabelMapInfo, Mode, Segment
    from app.core.places import Place
    from app.core.schema import LabelClass, LabelSchema
    from app.core.shapes import Box
    from app.io.coco import export_coco
    from app.io.ingest import add_media
    from app.io.mot import export_mot
    from app.io.volume.project import export_nifti

    root.mkdir(parents=True, exist_ok=True)
    images = write_images(root / "images")
    videos = {name: write_video(root / "videos" / name, *spec) for name, spec in VIDEOS.items()}
    dicom = {how: root / "dicom" / how for how in ("plain", "rle", "j2k")}
    for how, folder in dicom.items():
        write_series(folder, None if how == "plain" else how, n=4 if how == "plain" else 3)
    nifti = {".nii": write_nifti(root / "nifti" / "vol.nii"),
             ".nii.gz": write_nifti(root / "nifti" / "vol.nii.gz")}
    templates: dict[str, Path] = {}

    # "add": a project holding one photo (so validate has a file to check)
    t, media = _template(root, "add")
    shutil.copy(images[".png"], media / "base.png")
    with Document.create(t / "proj") as doc:
        add_media(doc, [media / "base.png"])
    templates["add"] = t

    # "coco": COCO exported by Vellum from a project with every 2D shape; the importing
    # project already holds one of its two images
    from factories import project_with_every_shape  # tests/factories.py

    src, src_images = project_with_every_shape(root / "coco-src")
    coco = root / "coco" / "instances.json"
    coco.parent.mkdir()
    export_coco(src, coco, images_root=src_images)
    src.close()
    t, media = _template(root, "coco")
    shutil.copytree(src_images, media / "images")
    with Document.create(t / "proj") as doc:
        add_media(doc, [media / "images" / "img0.png"])
    templates["coco"] = t
    handmade = root / "coco" / "handmade.json"
    handmade.write_text(json.dumps({
        "info": {"description": "CVAT-style"}, "licenses": [{"id": 1, "name": "CC0", "url": ""}],
        "categories": [{"id": 1, "name": "car", "supercategory": "vehicle"},
                       {"id": 2, "name": "person", "supercategory": "",
                        "keypoints": ["head", "foot"], "skeleton": [[1, 2]]}],
        "images": [{"id": 1, "file_name": "img1.png", "width": 100, "height": 100,
                    "license": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 15], "area": 300,
             "iscrowd": 0, "segmentation": [[10, 10, 30, 10, 30, 25, 10, 25]],
             "attributes": {"occluded": False}},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [40, 40, 10, 10], "area": 60,
             "iscrowd": 1, "segmentation": {"size": [100, 100], "counts": [4040, 10, 90, 10,
                                                                           5850]}},
            {"id": 3, "image_id": 1, "category_id": 2, "bbox": [50, 5, 10, 40], "area": 400,
             "iscrowd": 0, "num_keypoints": 2, "keypoints": [55, 8, 2, 55, 44, 1]}]}))

    # "mot": a project with an H.264 video and two tracks, exported as MOT
    t, media = _template(root, "mot")
    shutil.copy(videos["clip.mp4"], media / "cam.mp4")
    with Document.create(t / "proj") as doc:
        add_media(doc, [media / "cam.mp4"])
        (video,) = doc.media()
        doc.execute(SetSchema(LabelSchema((LabelClass("car", "#ff0000"),
                                           LabelClass("pedestrian", "#00ff00")))))
        car, ped = (doc.schema.class_by_name(n).id for n in ("car", "pedestrian"))
        t1, t2 = Track(video.id, car), Track(video.id, ped)
        keys = [Annotation(Place(video.id, 0), Box(10, 20, 30, 20), car, track_id=t1.id),
                Annotation(Place(video.id, 10), Box(20, 10, 30, 20), car, track_id=t1.id),
                Annotation(Place(video.id, 3), Box(0, 0, 8, 16), ped, track_id=t2.id,
                           occluded=True),
                Annotation(Place(video.id, 20), Box(40.5, 8.25, 8, 16), ped, track_id=t2.id)]
        doc.execute(Put((t1, t2, *keys)))
        mot = root / "mot" / "gt.txt"
        mot.parent.mkdir()
        export_mot(doc, mot)
    templates["mot"] = t

    # "labelmap": a project with a NIfTI volume and a painted label map, exported as NIfTI
    t, media = _template(root, "labelmap")
    shutil.copy(nifti[".nii.gz"], media / "head.nii.gz")
    with Document.create(t / "proj") as doc:
        add_media(doc, [media / "head.nii.gz"])
        (vol,) = doc.media()
        doc.execute(SetSchema(LabelSchema((LabelClass("lesion", "#ffaa00"),))))
        lesion = doc.schema.class_by_name("lesion").id
        k, j, i = vol.volume_shape
        info = LabelMapInfo(vol.id, k, j, i, "uint8", name="Lesions",
                            segments=(Segment(1, "lesion", "#ffaa00", lesion),
                                      Segment(2, "edema")))
        doc.execute(Put((info,)))
        doc.execute(ModifyLabelMap(info.id, (1, 2, 3), np.ones((2, 3, 4), bool), Mode.ADD, 1))
        doc.execute(ModifyLabelMap(info.id, (3, 5, 6), np.ones((1, 2, 2), bool), Mode.ADD, 2))
        written = export_nifti(doc, root / "labelmap")
    labelmap = next(p for p in written if p.name.endswith(".nii.gz"))
    templates["labelmap"] = t

    # model pack: the suite's tiny SAM (ONNX graphs built with onnx.helper)
    from test_inference_tiny_models import sam_vit_pack, zip_folder

    pack = sam_vit_pack(root / "pack" / "tiny-sam")
    pack_zip = zip_folder(pack, root / "pack" / "tiny.vellum-models")
    pack_tgz = root / "pack" / "tiny.tar.gz"
    with tarfile.open(pack_tgz, "w:gz") as tf:
        tf.add(pack, arcname="tiny-sam")
    return Seeds(root, images, videos, dicom, nifti, templates, coco, handmade, mot, labelmap,
                 pack, pack_zip, pack_tgz)


def archive_members(path: Path) -> list[str]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    with tarfile.open(path) as t:
        return t.getnames()
