"""Special files where a command reads: a FIFO (a hang is the failure to catch), a link to
/dev/zero or /dev/urandom, a folder, a dangling or self-referencing link - given directly or met
inside a folder the command searches, for every command under test."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from fuzz_case_media import file_names, put, template
from fuzz_harness import Case


# --- special files ---------------------------------------------------------------------------

def _special(path: Path, kind: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
        return "a FIFO"
    if kind == "devzero":
        path.symlink_to("/dev/zero")
        return "a symlink to /dev/zero"
    if kind == "devurandom":
        path.symlink_to("/dev/urandom")
        return "a symlink to /dev/urandom"
    if kind == "dir":
        path.mkdir()
        return "a folder"
    if kind == "dangling":
        path.symlink_to(path.parent / "does-not-exist")
        return "a dangling symlink"
    if kind == "loop":
        path.symlink_to(path)
        return "a symlink to itself"
    raise ValueError(kind)


SPECIAL_KINDS = ("fifo", "fifo", "fifo", "devzero", "devzero", "devurandom", "dir", "dangling",
                 "loop")


def special(rng: random.Random, d: Path, seeds) -> Case:
    """A FIFO, /dev/zero, a folder, a dangling or looping link where a command reads a file,
    directly or inside a folder it searches."""
    kind = rng.choice(SPECIAL_KINDS)
    target = rng.choice(("add image", "add video", "add nifti", "add dicom folder",
                         "add folder", "volume info", "volume info folder", "video info",
                         "import coco", "import coco image", "import mot", "import mot labels",
                         "import nifti", "import nifti table", "models import",
                         "models import folder", "models import manifest"))
    names: list[str]
    proj = None
    if target.startswith("add"):
        proj = template(seeds, "add", d)
    if target == "add image":
        p = d / "fuzz-input" / "photo.png"
        argv, names, victim = ["add", str(proj), str(p)], ["photo.png"], p
    elif target == "add video":
        p = d / "fuzz-input" / "clip.mp4"
        argv, names, victim = ["add", str(proj), str(p)], ["clip.mp4"], p
    elif target == "add nifti":
        p = d / "fuzz-input" / "vol.nii.gz"
        argv, names, victim = ["add", str(proj), str(p)], ["vol.nii.gz"], p
    elif target in ("add dicom folder", "volume info folder"):
        import fuzz_seeds

        folder = d / "fuzz-input" / "fuzz-series"
        fuzz_seeds.write_series(folder)
        victim = folder / "IM0004.dcm"
        argv = (["add", str(proj), str(folder)] if target.startswith("add")
                else ["volume", "info", str(folder)])
        names = ["fuzz-series", *file_names(folder), victim.name]
    elif target == "add folder":
        folder = d / "fuzz-input" / "fuzz-photos"
        folder.mkdir(parents=True)
        shutil.copy(seeds.images[".jpg"], folder / "a.jpg")
        victim = folder / rng.choice(("b.png", "c.mp4", "d.nii", "e.dcm"))
        argv, names = ["add", str(proj), str(folder)], ["fuzz-photos", "a.jpg", victim.name]
    elif target == "volume info":
        victim = d / "fuzz-input" / rng.choice(("vol.nii", "vol.nii.gz", "slice.dcm"))
        argv, names = ["volume", "info", str(victim)], [victim.name]
    elif target == "video info":
        victim = d / "fuzz-input" / "clip.mp4"
        argv, names = ["video", "info", str(victim)], [victim.name]
    elif target.startswith("import coco"):
        proj = template(seeds, "coco", d)
        images = d / "media" / "images"
        js = put(d, "instances.json", seeds.coco.read_bytes())
        victim = js if target == "import coco" else images / "img1.png"
        argv = ["import", "coco", str(proj), str(js), "--images", str(images)]
        names = ["instances.json", "img1.png", "media/images"]
    elif target.startswith("import mot"):
        proj = template(seeds, "mot", d)
        gt = put(d, "gt.txt", seeds.mot.read_bytes())
        labels = put(d, "labels.txt", seeds.mot.with_name("labels.txt").read_bytes())
        victim = gt if target == "import mot" else labels
        argv, names = ["import", "mot", str(proj), str(gt)], ["gt.txt", "labels.txt"]
    elif target.startswith("import nifti"):
        proj = template(seeds, "labelmap", d)
        for p in seeds.labelmap.parent.iterdir():
            put(d, p.name, p.read_bytes())
        lm = d / "fuzz-input" / seeds.labelmap.name
        victim = lm if target == "import nifti" else lm.with_name(
            lm.name[:-len(".nii.gz")] + rng.choice((".json", ".itksnap.txt")))
        argv, names = ["import", "nifti", str(proj), str(lm)], file_names(d / "fuzz-input")
    else:
        pack = d / "fuzz-input" / "tiny-sam"
        shutil.copytree(seeds.pack, pack)
        names = ["tiny-sam", *file_names(pack)]
        if target == "models import":
            victim = d / "fuzz-input" / "tiny.vellum-models"
            argv = ["models", "import", str(victim)]
        elif target == "models import folder":
            victim = pack / rng.choice(("tiny_sam_encoder.onnx", "extra.onnx", "x.ort"))
            argv = ["models", "import", str(pack)]
        else:
            victim = pack / "manifest.json"
            argv = ["models", "import", str(victim if rng.random() < 0.5 else pack)]
        names.append(victim.name)
    what = _special(victim, kind)
    proj_arg = proj if proj is not None and proj.exists() else None
    return Case(argv, d, f"{victim.name} is {what} ({target})", names, project=proj_arg,
                timeout=15.0, partial_ok=argv[0] == "add")
