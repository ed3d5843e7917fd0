"""Case makers for the issue-18 importers: ``import yolo``, ``import voc``, ``import cvat`` and
``import labelme``. Each seed is Vellum's own export of the project with every 2D shape (made
once per seed folder through the format registry), copied into the case folder with one file
damaged: bytes, a JSON tree, or a token of a text line."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

from fuzz_case_media import template
from fuzz_harness import Case
from fuzz_mutate import mutate_bytes
from fuzz_mutate_text import mutate_json

# format -> (export options, suffixes of the files worth damaging)
FORMATS = {
    "yolo": ({"task": "segment"}, (".txt", ".yaml")),
    "voc": ({"masks": True}, (".xml", ".png", ".txt")),
    "cvat": ({}, (".xml",)),
    "labelme": ({}, (".json",)),
}
TOKENS = ("nan", "inf", "-1", "1e308", "2", "0", "", "x", "99999999999999999999", "0.5 0.5")


def exported(seeds, name: str) -> Path:
    """The seed export of format ``name`` (made on first use, atomically: xdist workers share
    the seed folder)."""
    out = seeds.root / "formats" / name
    if out.exists():
        return out
    from app.core.document import Document
    from app.io import formats

    fmt = formats.formats()[name]
    options, _ = FORMATS[name]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{name}-"))
    target = staging / "export" if fmt.write_target == "folder" else staging / f"export{fmt.suffix}"
    with Document.open(seeds.root / "coco-src" / "proj") as doc:
        fmt.write(doc, target, dict(options), lambda *a: None, lambda: False, [])
    try:
        os.replace(staging, out)
    except OSError:  # another worker made it first
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _damage(path: Path, rng: random.Random) -> str:
    data = path.read_bytes()
    r = rng.random()
    if path.suffix == ".json" and r < 0.5:
        try:
            new, what = mutate_json(json.loads(data), rng)
        except ValueError:
            new, what = mutate_bytes(data, rng)
    elif path.suffix in (".txt", ".yaml") and r < 0.5 and data.strip():
        lines = data.decode("utf-8", "replace").splitlines()
        i = rng.randrange(len(lines))
        tokens = lines[i].split() or [""]
        j = rng.randrange(len(tokens))
        tokens[j] = rng.choice(TOKENS)
        lines[i] = " ".join(tokens)
        new, what = ("\n".join(lines) + "\n").encode(), f"line {i + 1} token {j + 1} set"
    else:
        new, what = mutate_bytes(data, rng)
    path.write_bytes(new)
    return f"{path.name}: {what}"


def _case(name: str, rng: random.Random, d: Path, seeds) -> Case:
    proj = template(seeds, "coco", d)  # the project holds img0.png of the exported pair
    seed = exported(seeds, name)
    src = d / "fuzz-input"
    shutil.copytree(seed, src)
    if name == "labelme":  # img1 is not in the project: a labelme file for it is refused
        for extra in src.rglob("img1.json"):
            extra.unlink()
    _, suffixes = FORMATS[name]
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix in suffixes)
    victim = rng.choice(files)
    what = _damage(victim, rng)
    top = next(src.iterdir())  # export/ (a folder) or export.xml
    argv = ["import", name, str(proj), str(top)]
    names = [victim.name, top.name, "img0.png", "img1.png"]
    return Case(argv, d, f"{name} export: {what}", names, project=proj)


def import_yolo(rng: random.Random, d: Path, seeds) -> Case:
    return _case("yolo", rng, d, seeds)


def import_voc(rng: random.Random, d: Path, seeds) -> Case:
    return _case("voc", rng, d, seeds)


def import_cvat(rng: random.Random, d: Path, seeds) -> Case:
    return _case("cvat", rng, d, seeds)


def import_labelme(rng: random.Random, d: Path, seeds) -> Case:
    return _case("labelme", rng, d, seeds)
