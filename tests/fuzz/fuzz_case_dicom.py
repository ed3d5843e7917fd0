"""DICOM series for the fuzz cases: a fresh uncompressed series, or the RLE / JPEG 2000 seeds,
with one tag at an extreme (via pydicom, before writing), removed, a wrong transfer syntax,
duplicated positions, damaged pixel data, or bytes mutated after writing."""

from __future__ import annotations

import random
from pathlib import Path

from fuzz_case_media import file_names, template
from fuzz_harness import Case
from fuzz_mutate import mutate_bytes


def _uid(rng: random.Random) -> str:
    return "1.2.826.0.1.3680043.10.543." + str(rng.randrange(10 ** 20))


DICOM_FIELDS = {
    "Rows": (0, 1, 65535), "Columns": (0, 1, 65535),
    "BitsAllocated": (0, 1, 7, 8, 12, 32, 64, 65535), "BitsStored": (0, 17, 64),
    "HighBit": (0, 16, 63), "SamplesPerPixel": (0, 2, 3, 4, 65535),
    "NumberOfFrames": ("0", "-1", "2147483647", "3", "x"),
    "PixelRepresentation": (1, 2, 65535),
    "PhotometricInterpretation": ("RGB", "PALETTE COLOR", "YBR_FULL_422", "", "XYZ"),
    "PixelSpacing": ([0, 0], [-1, 1], ["nan", "1"], ["inf", "1"], ["1e308", "1"], [1], "abc"),
    "ImagePositionPatient": (["nan", 0, 0], [0, 0], ["1e308", 0, 0], [0, 0, 0], ["-inf", 0, 0]),
    "ImageOrientationPatient": ([0, 0, 0, 0, 0, 0], [1, 0, 0, 1, 0, 0], ["nan"] * 6,
                                [1, 0, 0], [1e308, 0, 0, 0, 1, 0]),
    "SliceThickness": (0, -1, "nan"), "RescaleSlope": (0, "nan", "1e308", -1),
    "RescaleIntercept": ("inf", "1e308"), "WindowCenter": ("nan",), "WindowWidth": (0, -1),
    "SpecificCharacterSet": ("ISO_IR 999", "ISO 2022 IR 87", "ISO_IR 192"),
    "SeriesDescription": ("a" * 10000, "../../etc/passwd", "x\x00y", "/abs/name"),
    "SeriesInstanceUID": ("", "1..2", "x" * 64), "SOPClassUID": ("1.2.3", ""),
    "InstanceNumber": ("abc", "-2147483649", ""),
}
DICOM_DELETE = ("Rows", "Columns", "PixelData", "BitsAllocated", "ImagePositionPatient",
                "ImageOrientationPatient", "SOPClassUID", "SeriesInstanceUID", "PixelSpacing",
                "SamplesPerPixel", "PhotometricInterpretation")


def _set_dicom(ds, key: str, value) -> None:
    from pydicom.dataelem import DataElement
    from pydicom.datadict import tag_for_keyword

    try:
        setattr(ds, key, value)
    except (ValueError, TypeError, OverflowError):
        ds[tag_for_keyword(key)] = DataElement(tag_for_keyword(key), "LO", str(value))


def dicom_header_mutation(rng: random.Random, slices: list) -> str:
    from pydicom.uid import UID

    op = rng.random()
    targets = slices if rng.random() < 0.4 else [rng.choice(slices)]
    who = "every slice" if len(targets) > 1 else f"slice {slices.index(targets[0])}"
    if op < 0.6:
        key = rng.choice(sorted(DICOM_FIELDS))
        value = rng.choice(DICOM_FIELDS[key])
        for ds in targets:
            _set_dicom(ds, key, value)
        return f"DICOM {key} = {str(value)[:30]!r} on {who}"
    if op < 0.72:
        key = rng.choice(DICOM_DELETE)
        for ds in targets:
            if key in ds:
                delattr(ds, key)
        return f"DICOM {key} removed on {who}"
    if op < 0.84:
        how = rng.choice(("half", "empty", "double", "one"))
        for ds in targets:
            px = ds.PixelData
            ds.PixelData = {"half": px[:len(px) // 2], "empty": b"", "double": px + px,
                            "one": px[:1]}[how]
        return f"DICOM PixelData {how} on {who}"
    if op < 0.92:
        syntax = rng.choice(("1.2.840.10008.1.2.5", "1.2.840.10008.1.2.2",
                             "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.90", "1.2.3.4",
                             "1.2.840.10008.1.2"))
        for ds in targets:
            ds.file_meta.TransferSyntaxUID = UID(syntax)
        return f"DICOM transfer syntax claimed {syntax} on {who}"
    dup = rng.choice(("position", "sop"))
    for ds in slices[1:]:
        if dup == "position":
            ds.ImagePositionPatient = list(slices[0].ImagePositionPatient)
        else:
            ds.SOPInstanceUID = slices[0].SOPInstanceUID
    return f"DICOM every slice with the same {dup}"


def dicom_input(rng: random.Random, seeds, case_dir: Path) -> tuple[Path, str]:
    """A series folder under the case's input with one mutation (header via pydicom, or
    bytes)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the values it is asked to write
        return _dicom_input(rng, seeds, case_dir)


def _dicom_input(rng: random.Random, seeds, case_dir: Path) -> tuple[Path, str]:
    from pydicom import dcmread
    from pydicom.uid import ExplicitVRLittleEndian

    import fuzz_seeds

    kind = rng.choice(("plain", "plain", "plain", "rle", "j2k"))
    folder = case_dir / "fuzz-input" / "fuzz-series"
    folder.mkdir(parents=True)
    if kind == "plain":
        slices = fuzz_seeds.dicom_slices(rng.choice((1, 2, 4, 5)))
        series, study = _uid(rng), _uid(rng)
        for k, ds in enumerate(slices):
            ds.SeriesInstanceUID, ds.StudyInstanceUID = series, study
            ds.FrameOfReferenceUID = series + ".9"
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{series}.{k + 1}"
    else:
        slices = [dcmread(p) for p in sorted(seeds.dicom[kind].iterdir())]
    r = rng.random()
    byte_target = None
    if r < 0.55:
        what = dicom_header_mutation(rng, slices)
    elif r < 0.9:
        byte_target = rng.randrange(len(slices))
        what = ""
    elif r < 0.95:
        what = "one slice without its DICOM preamble and file meta"
    else:
        what = "valid series"
    names = []
    for k, ds in enumerate(slices):
        name = f"IM{k:04d}.dcm" if rng.random() < 0.9 else f"slice{k}"
        path = folder / name
        names.append(name)
        if what.startswith("one slice without") and k == 0:
            del ds.file_meta
            ds.preamble = None
            ds.save_as(path, enforce_file_format=False, implicit_vr=True, little_endian=True)
            continue
        try:
            ds.save_as(path, enforce_file_format=False)
        except Exception as exc:  # noqa: BLE001 - pydicom cannot write this value: mutate bytes
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            path.unlink(missing_ok=True)
            what += f" (not writable by pydicom: {type(exc).__name__}; bytes instead)"
            byte_target = k
            fuzz_seeds.dicom_slices(1)[0].save_as(path, enforce_file_format=False)
        if byte_target == k:
            data, how = mutate_bytes(path.read_bytes(), rng)
            path.write_bytes(data)
            what += f"{'; ' if what else ''}slice {k}: {how}"
    if rng.random() < 0.1:
        extra = rng.choice(("notes.txt", "DICOMDIR", "thumb.json"))
        (folder / extra).write_bytes(rng.randbytes(200))
        what += f"; a random-bytes {extra} beside"
        names.append(extra)
    return folder, f"{kind} series: {what}"


def add_dicom(rng: random.Random, d: Path, seeds) -> Case:
    proj = template(seeds, "add", d)
    folder, what = dicom_input(rng, seeds, d)
    target = folder if rng.random() < 0.8 else rng.choice(sorted(folder.iterdir()))
    return Case(["add", str(proj), str(target)], d, what,
                [folder.name, target.name, *file_names(folder)], project=proj,
                partial_ok=True)
