"""Case makers for ``vellum models import``: the tiny model pack as a folder, a .vellum-models
zip or a tar.gz, with a damaged manifest or model file (its hash updated to match, or not), odd
names in the manifest, hostile archive members (traversal, absolute, links, FIFO, thousands,
deep, duplicate) and a zip bomb."""

from __future__ import annotations

import io
import json
import random
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

from fuzz_case_media import file_names, put
from fuzz_harness import Case
from fuzz_mutate import mutate_bytes
from fuzz_mutate_text import mutate_json


# --- model packs -----------------------------------------------------------------------------

_BOMB_CACHE: dict[str, bytes] = {}


def _bomb(manifest: bytes, size: int = 600 << 20) -> bytes:
    """A .vellum-models zip whose manifest names the encoder (a few KiB) and whose encoder
    member inflates to ``size`` zero bytes (built once per process)."""
    if "zip" not in _BOMB_CACHE:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.writestr("manifest.json", manifest)
            with z.open("tiny_sam_encoder.onnx", "w", force_zip64=True) as f:
                chunk = bytes(1 << 24)
                for _ in range(size >> 24):
                    f.write(chunk)
        _BOMB_CACHE["zip"] = buf.getvalue()
    return _BOMB_CACHE["zip"]


def _fix_manifest(folder: Path, names: list[str]) -> None:
    """Make the manifest's sha256/bytes match the (damaged) model files again."""
    import hashlib

    m = json.loads((folder / "manifest.json").read_text())
    for spec in m["files"].values():
        p = folder / spec["name"]
        if spec["name"] in names and p.is_file():
            spec["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
            spec["bytes"] = p.stat().st_size
    (folder / "manifest.json").write_text(json.dumps(m, indent=2))


def _archive(folder: Path, out: Path, kind: str, rng: random.Random, d: Path) -> str:
    """Pack ``folder`` into ``out`` (zip or tar.gz), maybe with a hostile member."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile: "Duplicate name" is the point
        return _archive_quiet(folder, out, kind, rng, d)


def _archive_quiet(folder: Path, out: Path, kind: str, rng: random.Random, d: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    hostile = rng.choice((None, None, None, "traversal", "absolute", "symlink", "hardlink",
                          "fifo", "many", "deep", "duplicate"))
    if kind == "zip":
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files:
                z.write(p, p.relative_to(folder).as_posix())
            enc = (folder / "tiny_sam_encoder.onnx")
            payload = enc.read_bytes() if enc.is_file() else b"x"
            if hostile == "traversal":
                z.writestr("../../../evil_traversal.onnx", payload)
            elif hostile == "absolute":
                z.writestr(str(d / "evil_absolute.onnx"), payload)
            elif hostile == "many":
                for n in range(3000):
                    z.writestr(f"junk/{n}.onnx", b"")
            elif hostile == "deep":
                z.writestr("/".join(["d"] * 60) + "/tiny_sam_decoder.onnx", payload)
            elif hostile == "duplicate":
                z.writestr("manifest.json", b'{"manifest": 1, "id": "dup"}')
            elif hostile in ("symlink", "hardlink", "fifo"):
                info = zipfile.ZipInfo("tiny_sam_encoder.onnx")
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                z.writestr(info, "/etc/passwd")
                hostile = "symlink"
        return f"zip{' with a ' + hostile + ' member' if hostile else ''}"
    with tarfile.open(out, "w:gz") as t:
        for p in files:
            t.add(p, arcname="pack/" + p.relative_to(folder).as_posix())

        def add(name: str, typ: bytes, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.linkname = typ, len(data), link
            t.addfile(info, io.BytesIO(data) if data else None)

        enc = folder / "tiny_sam_encoder.onnx"
        payload = enc.read_bytes() if enc.is_file() else b"x"
        if hostile == "traversal":
            add("../../../evil_traversal.onnx", tarfile.REGTYPE, payload)
        elif hostile == "absolute":
            add(str(d / "evil_absolute.onnx"), tarfile.REGTYPE, payload)
        elif hostile == "symlink":
            add("pack/evil_link.onnx", tarfile.SYMTYPE, link="/etc/passwd")
            add("pack/evil_dir", tarfile.SYMTYPE, link=str(d))
            add("pack/evil_dir/evil_through_link.onnx", tarfile.REGTYPE, payload)
        elif hostile == "hardlink":
            add("pack/evil_hard.onnx", tarfile.LNKTYPE, link="/etc/passwd")
        elif hostile == "fifo":
            add("pack/tiny_sam_encoder.onnx", tarfile.FIFOTYPE)
        elif hostile == "many":
            for n in range(3000):
                add(f"pack/junk/{n}.onnx", tarfile.REGTYPE)
        elif hostile == "deep":
            add("/".join(["d"] * 60) + "/tiny_sam_decoder.onnx", tarfile.REGTYPE, payload)
        elif hostile == "duplicate":
            add("pack/manifest.json", tarfile.REGTYPE, b'{"manifest": 1, "id": "dup"}')
    return f"tar.gz{' with a ' + hostile + ' member' if hostile else ''}"


def models_import(rng: random.Random, d: Path, seeds) -> Case:
    pack = d / "fuzz-input" / "tiny-sam"
    shutil.copytree(seeds.pack, pack)
    names = ["tiny-sam", *file_names(pack)]
    model_files = ["tiny_sam_encoder.onnx", "tiny_sam_decoder.onnx"]
    r = rng.random()
    if r < 0.4:
        data, what = mutate_json(json.loads((pack / "manifest.json").read_text()), rng,
                                 name_keys=("name", "id", "extends", "sha256"))
        (pack / "manifest.json").write_bytes(data)
        what = "manifest: " + what
    elif r < 0.7:
        victim = pack / rng.choice(model_files)
        data, what = mutate_bytes(victim.read_bytes(), rng)
        victim.write_bytes(data)
        what = f"{victim.name}: {what}"
        if rng.random() < 0.6:
            _fix_manifest(pack, [victim.name])
            what += " (manifest hash updated to match)"
    elif r < 0.8:
        victim = pack / rng.choice(model_files)
        new = rng.choice(("../../../evil_name.onnx", "/etc/evil.onnx", "sub/x.onnx",
                          "a" * 300 + ".onnx", "manifest.json", ""))
        m = json.loads((pack / "manifest.json").read_text())
        for spec in m["files"].values():
            if spec["name"] == victim.name:
                spec["name"] = new
        (pack / "manifest.json").write_text(json.dumps(m))
        what = f"manifest names {victim.name} {new[:40]!r}"
    else:
        what = "valid pack"
    form = rng.choice(("folder", "folder", "zip", "tgz", "bomb")) if rng.random() < 0.97 \
        else "bomb"
    if form == "bomb" and rng.random() < 0.7:
        form = "zip"  # keep the costly bomb rare
    if form == "folder":
        target = pack
    elif form == "bomb":
        target = put(d, "bomb.vellum-models",
                     _bomb((seeds.pack / "manifest.json").read_bytes()))
        what = "a zip member that inflates to 600 MiB"
    else:
        target = d / "fuzz-input" / ("tiny.vellum-models" if form == "zip" else "tiny.tar.gz")
        what += "; " + _archive(pack, target, form if form == "zip" else "tgz", rng, d)
        shutil.rmtree(pack)
        if rng.random() < 0.3:
            data, how = mutate_bytes(target.read_bytes(), rng)
            target.write_bytes(data)
            what += f"; archive bytes: {how}"
    names.append(target.name)
    return Case(["models", "import", str(target)], d, what, names)
