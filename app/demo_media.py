"""Media the demo project makes for itself, offline: a short video with a moving object and a
CT-like head phantom as a DICOM series (anisotropic voxels, real Hounsfield units).

Everything is generated from numbers (no download, no bundled media), deterministically.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

VIDEO_SIZE = (320, 240)  # width, height
VIDEO_FRAMES = 72
VIDEO_FPS = 24
CT_SHAPE = (36, 160, 160)  # k, j, i
CT_SPACING = (1.2, 1.2, 4.0)  # si, sj, sk in mm


def car_box(frame: int) -> tuple[float, float, float, float]:
    """Where the demo video's car is on ``frame`` (x, y, w, h, continuous pixels)."""
    t = frame / (VIDEO_FRAMES - 1)
    return (20.0 + 230.0 * t, 130.0 - 40.0 * math.sin(math.pi * t), 60.0, 34.0)


def write_demo_video(path: Path) -> Path:
    """A 72-frame H.264 clip (24 fps, 320x240): a road, a drifting sky, and a red car driving
    across; the frame number is drawn in the corner so frame accuracy can be seen."""
    import av
    import cv2

    w, h = VIDEO_SIZE
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=VIDEO_FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"g": "24", "bf": "2", "crf": "23", "preset": "veryfast"}
        for n in range(VIDEO_FRAMES):
            img = np.zeros((h, w, 3), np.uint8)
            sky = np.linspace(200, 120, h // 2).astype(np.uint8)
            img[: h // 2] = np.stack([sky // 2 + 40, sky // 2 + 80, sky], axis=1)[:, None, :]
            img[h // 2:] = (70, 70, 74)
            cv2.line(img, (0, 3 * h // 4), (w, 3 * h // 4), (230, 230, 230), 2)
            cx = int((n * 3) % (w + 80)) - 40
            cv2.ellipse(img, (cx, 40), (30, 10), 0, 0, 360, (240, 240, 240), -1)
            x, y, bw, bh = car_box(n)
            cv2.rectangle(img, (int(x), int(y)), (int(x + bw), int(y + bh)), (200, 30, 30), -1)
            cv2.circle(img, (int(x + 12), int(y + bh)), 7, (20, 20, 20), -1)
            cv2.circle(img, (int(x + bw - 12), int(y + bh)), 7, (20, 20, 20), -1)
            cv2.putText(img, f"{n:03d}", (w - 52, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                        (255, 255, 0), 1, cv2.LINE_AA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def ct_phantom() -> np.ndarray:
    """A head-like phantom ``[k, j, i]`` in HU: air, a skull ring (~1000 HU), brain (~35 HU),
    ventricles (~5 HU) and a lesion (~70 HU)."""
    k, j, i = CT_SHAPE
    zz, yy, xx = np.meshgrid(np.arange(k) - k / 2 + 0.5, np.arange(j) - j / 2 + 0.5,
                             np.arange(i) - i / 2 + 0.5, indexing="ij")
    z_mm, y_mm, x_mm = zz * CT_SPACING[2], yy * CT_SPACING[1], xx * CT_SPACING[0]
    r = np.sqrt((x_mm / 72) ** 2 + (y_mm / 86) ** 2 + (z_mm / 70) ** 2)
    vol = np.full(CT_SHAPE, -1000.0)
    vol[r < 1.0] = 1000.0
    vol[r < 0.9] = 35.0
    vent = np.sqrt(((np.abs(x_mm) - 12) / 8) ** 2 + (y_mm / 22) ** 2 + (z_mm / 18) ** 2) < 1
    vol[vent] = 5.0
    lesion = np.sqrt((x_mm - 30) ** 2 + (y_mm + 25) ** 2 + (z_mm - 10) ** 2) < 11
    vol[lesion] = 70.0
    rng = np.random.default_rng(7)
    vol += rng.normal(0, 6, CT_SHAPE)
    return np.clip(np.round(vol), -1024, 3071).astype(np.int16)


def lesion_mask() -> np.ndarray:
    """The phantom's lesion as a ``[k, j, i]`` bool array (the demo's painted segment)."""
    k, j, i = CT_SHAPE
    zz, yy, xx = np.meshgrid(np.arange(k) - k / 2 + 0.5, np.arange(j) - j / 2 + 0.5,
                             np.arange(i) - i / 2 + 0.5, indexing="ij")
    return np.sqrt((xx * CT_SPACING[0] - 30) ** 2 + (yy * CT_SPACING[1] + 25) ** 2
                   + (zz * CT_SPACING[2] - 10) ** 2) < 11


def write_demo_ct(folder: Path) -> Path:
    """The phantom as an axial CT DICOM series (one file per slice, 16-bit with
    RescaleIntercept -1024, 1.2 x 1.2 x 4 mm), with an anonymous synthetic patient."""
    return write_ct_series(folder, ct_phantom(), CT_SPACING, uid_seed="vellum-demo",
                           instance_seed="vellum-demo", patient=("DEMO^PHANTOM", "VELLUM-DEMO"),
                           description="Demo head phantom", number=2, prefix="CT",
                           window=(40, 80))


def write_ct_series(folder: Path, hu: np.ndarray, spacing: tuple[float, float, float], *,
                    uid_seed: str, instance_seed: str, patient: tuple[str, str],
                    description: str, number: int, prefix: str,
                    transfer_syntax: str | None = None,
                    window: tuple[float, float] | None = None) -> Path:
    """``hu[k, j, i]`` (HU) as an axial CT series centred on the table axis, one file per slice
    (16-bit, RescaleIntercept -1024), spacing ``(si, sj, sk)`` mm; UIDs derived from the
    seeds (the same series every time); compressed in ``transfer_syntax`` when given (RLE
    natively, JPEG 2000 through pylibjpeg). Used by the demo and ``vellum self-test``."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import (CTImageStorage, ExplicitVRLittleEndian, JPEG2000Lossless,
                             RLELossless, generate_uid)

    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = (generate_uid(entropy_srcs=[f"{uid_seed}-{s}"])
                            for s in ("study", "series", "frame"))
    k, j, i = hu.shape
    origin = (-(i - 1) / 2 * spacing[0], -(j - 1) / 2 * spacing[1], 0.0)
    for n in range(k):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[f"{instance_seed}-{n}"])
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        name = folder / f"{prefix}{n:03d}.dcm"
        ds = FileDataset(str(name), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID = patient
        ds.Modality, ds.SeriesDescription, ds.SeriesNumber = "CT", description, number
        ds.InstanceNumber = n + 1
        ds.Rows, ds.Columns = j, i
        ds.PixelSpacing = [spacing[1], spacing[0]]
        ds.SliceThickness = spacing[2]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + n * spacing[2]]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = window
        pixels = np.clip(hu[n].astype(np.int32) + 1024, 0, 65535).astype(np.uint16)
        ds.PixelData = pixels.tobytes()
        if transfer_syntax == RLELossless:
            ds.compress(RLELossless, pixels)
        elif transfer_syntax == JPEG2000Lossless:
            ds.compress(JPEG2000Lossless, pixels, encoding_plugin="pylibjpeg")
        elif transfer_syntax not in (None, ExplicitVRLittleEndian):
            raise ValueError(f"no sample writer for transfer syntax {transfer_syntax}")
        ds.save_as(name, enforce_file_format=True)
    return folder
