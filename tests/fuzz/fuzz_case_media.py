"""Case makers for media: damaged images, videos, DICOM series and NIfTI volumes given to
``vellum add``, ``video info`` and ``volume info``, and the helpers every case maker uses (copy a
template project, write an input, awkward file names, another kind's content)."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from fuzz_harness import Case
from fuzz_mutate import (bmp_header, ebml_header, gz, jpeg_header, mp4_header, mutate_bytes,
                         nifti_header, png_header, tiff_header, ts_header)

IMAGE_HEADERS = {".png": png_header, ".jpg": jpeg_header, ".tif": tiff_header,
                 ".bmp": bmp_header}
VIDEO_HEADERS = {".mp4": mp4_header, ".webm": ebml_header, ".mkv": ebml_header,
                 ".ts": ts_header}


# --- helpers ---------------------------------------------------------------------------------

def template(seeds, name: str, case_dir: Path) -> Path:
    """Copy template ``name`` (proj/ and media/) into the case folder; the project path."""
    shutil.copytree(seeds.templates[name], case_dir, dirs_exist_ok=True)
    return case_dir / "proj"


def put(case_dir: Path, name: str | bytes, data: bytes, sub: str = "fuzz-input") -> Path:
    folder = case_dir / sub
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(name))))
    path.write_bytes(data)
    return path


def odd_file_name(rng: random.Random, stem: str, suffix: str) -> str:
    """A legal but awkward file name keeping ``suffix`` (so the file is read as that kind)."""
    return os.fsdecode(rng.choice([
        b"bad-\xff\xfe-utf8" + suffix.encode(), b"\xc3\x28" + suffix.encode(),
        ("n" * (250 - len(suffix)) + suffix).encode(),
        f"{stem}\nnewline{suffix}".encode(), f"{stem} with spaces{suffix}".encode(),
        f"äöü漢字🙂{suffix}".encode(), f"{stem}$(id)'\"{suffix}".encode(),
        f"#{stem}%s%n{suffix}".encode(), f".{stem}{suffix}".encode(),
        f"{stem}{suffix.upper()}".encode(), f"\u202e{stem}{suffix}".encode(),
        f"{stem}{suffix}{suffix}".encode()]))


def foreign(seeds, rng: random.Random, not_suffix: str) -> tuple[bytes, str]:
    """The content of another kind of file (a still image under a video name...)."""
    options = {"a PNG": seeds.images[".png"], "a JPEG": seeds.images[".jpg"],
               "an MP4": seeds.videos["clip.mp4"], "a WebM": seeds.videos["clip.webm"],
               "an MPEG-TS": seeds.videos["clip.ts"], "a NIfTI": seeds.nifti[".nii"],
               "a gzipped NIfTI": seeds.nifti[".nii.gz"], "a COCO JSON": seeds.coco,
               "a DICOM slice": next(seeds.dicom["plain"].iterdir()),
               "a model": seeds.pack / "tiny_sam_encoder.onnx"}
    options = {k: v for k, v in options.items() if not str(v).endswith(not_suffix)}
    what = rng.choice(sorted(options) + ["random bytes", "empty"])
    if what == "random bytes":
        return rng.randbytes(rng.choice((10, 1000, 100_000))), "random bytes"
    if what == "empty":
        return b"", "an empty file"
    return options[what].read_bytes(), f"the content of {what}"


def file_names(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*")] if folder.is_dir() else []


# --- images ----------------------------------------------------------------------------------

def image_input(rng: random.Random, seeds, case_dir: Path, suffix: str) -> tuple[Path, str]:
    data = seeds.images[suffix].read_bytes()
    r = rng.random()
    if r < 0.45:
        data, what = mutate_bytes(data, rng)
    elif r < 0.85:
        data, what = IMAGE_HEADERS[suffix](data, rng)
    elif r < 0.93:
        data, what = foreign(seeds, rng, suffix)
        what += f" named {suffix}"
    else:
        what = "valid content"
    name = f"photo{suffix}"
    if rng.random() < 0.2 or what == "valid content":
        name = odd_file_name(rng, "photo", suffix)
        what += f", named {name!r}"
    return put(case_dir, name, data), what


def add_image(suffix: str):
    def make(rng: random.Random, d: Path, seeds) -> Case:
        proj = template(seeds, "add", d)
        path, what = image_input(rng, seeds, d, suffix)
        target = path if rng.random() < 0.8 else path.parent
        return Case(["add", str(proj), str(target)], d, what, [path.name, target.name],
                    project=proj, partial_ok=True)
    return make


# --- videos ----------------------------------------------------------------------------------

def video_input(rng: random.Random, seeds, case_dir: Path, seed_name: str) -> tuple[Path, str]:
    suffix = Path(seed_name).suffix
    data = seeds.videos[seed_name].read_bytes()
    r = rng.random()
    if r < 0.45:
        data, what = mutate_bytes(data, rng)
    elif r < 0.85:
        data, what = VIDEO_HEADERS[suffix](data, rng)
    elif r < 0.95:
        if rng.random() < 0.5:  # a still picture under a video name
            src = seeds.images[rng.choice(sorted(seeds.images))]
            data, what = src.read_bytes(), f"a still {src.suffix} picture"
        else:
            data, what = foreign(seeds, rng, suffix)
        what += f" named {suffix}"
    else:
        what = "valid content"
    name = f"clip{suffix}"
    if rng.random() < 0.1 or what == "valid content":
        name = odd_file_name(rng, "clip", suffix)
        what += f", named {name!r}"
    return put(case_dir, name, data), what


def add_video(seed_names: tuple[str, ...]):
    def make(rng: random.Random, d: Path, seeds) -> Case:
        proj = template(seeds, "add", d)
        path, what = video_input(rng, seeds, d, rng.choice(seed_names))
        return Case(["add", str(proj), str(path)], d, what, [path.name], project=proj,
                    partial_ok=True)
    return make


def video_info(rng: random.Random, d: Path, seeds) -> Case:
    path, what = video_input(rng, seeds, d, rng.choice(sorted(seeds.videos)))
    flags = rng.choice([[], ["--json"], ["--json", "--frames"], ["--verify"], ["--no-verify"],
                        ["--json", "--verify"]])
    return Case(["video", "info", *flags, str(path)], d, what, [path.name])


# --- NIfTI -----------------------------------------------------------------------------------

def nifti_input(rng: random.Random, seeds, case_dir: Path) -> tuple[Path, str]:
    suffix = rng.choice((".nii", ".nii.gz"))
    raw = seeds.nifti[".nii"].read_bytes()
    r = rng.random()
    if r < 0.55:
        raw, what = nifti_header(raw, rng)
        data = gz(raw) if suffix == ".nii.gz" else raw
    elif r < 0.9:
        if suffix == ".nii.gz" and rng.random() < 0.5:
            data, what = mutate_bytes(seeds.nifti[".nii.gz"].read_bytes(), rng)
            what = "gzip stream: " + what
        else:
            raw, what = mutate_bytes(raw, rng)
            data = gz(raw) if suffix == ".nii.gz" else raw
    else:
        data, what = foreign(seeds, rng, suffix)
        what += f" named {suffix}"
    name = f"vol{suffix}"
    if rng.random() < 0.1:
        name = odd_file_name(rng, "vol", suffix)
        what += f", named {name!r}"
    return put(case_dir, name, data), what


def add_nifti(rng: random.Random, d: Path, seeds) -> Case:
    proj = template(seeds, "add", d)
    path, what = nifti_input(rng, seeds, d)
    return Case(["add", str(proj), str(path)], d, what, [path.name], project=proj,
                partial_ok=True)


def volume_info(rng: random.Random, d: Path, seeds) -> Case:
    from fuzz_case_dicom import dicom_input

    if rng.random() < 0.5:
        target, what = nifti_input(rng, seeds, d)
        names = [target.name]
    else:
        target, what = dicom_input(rng, seeds, d)
        names = [target.name, *file_names(target)]
        if rng.random() < 0.2:
            target = rng.choice(sorted(target.iterdir()))
    flags = ["--json"] if rng.random() < 0.5 else []
    return Case(["volume", "info", *flags, str(target)], d, what, names)
