"""Model packs: import from folders and archives (verified, atomic, source untouched), list,
doctor, and every kind of bad file refused in one sentence while the rest keeps working."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from app.core.errors import ModelError
from app.inference import runtime as rt
from app.inference.doctor import doctor, list_models
from app.inference.pack_import import import_models
from app.inference.packs import open_pack

from test_inference_tiny_models import (encoder, medsam_decoder, medsam_pack, sam_vit_decoder,
                                        sam_vit_pack, write_pack, zip_folder)

REPO = Path(__file__).resolve().parents[1]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() + str(p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def vellum(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_import_a_vellum_models_zip_and_list_it(tmp_path):
    pack = sam_vit_pack(tmp_path / "src")
    archive = zip_folder(pack, tmp_path / "tiny.vellum-models")
    before = archive.read_bytes()
    root = tmp_path / "models"
    report = import_models(archive, root)
    assert report.errors == [] and sorted(report.installed["tiny-sam"]) == ["decoder", "encoder"]
    assert archive.read_bytes() == before
    installed = open_pack("tiny-sam", root)
    assert installed.complete and installed.manifest.family == "sam-vit-onnx"
    assert installed.manifest.origin == "pack"
    assert not list(root.glob(".incoming-*")), "the unpacked archive is cleaned up"
    listing = list_models(root)
    entry = next(m for m in listing["models"] if m["id"] == "tiny-sam")
    assert {"id", "task", "files", "licence", "provider"} <= set(entry)
    assert entry["task"] == "segment" and entry["licence"] == "MIT"
    assert entry["provider"] == "CPUExecutionProvider" or entry["provider"].endswith("Provider")
    assert {f["name"] for f in entry["files"]} == {"tiny_sam_encoder.onnx",
                                                   "tiny_sam_decoder.onnx"}


def test_import_a_tar_archive_and_a_plain_folder_through_the_cli(tmp_path):
    pack = medsam_pack(tmp_path / "src")
    with tarfile.open(tmp_path / "tiny.tar.gz", "w:gz") as t:
        t.add(pack, arcname="tiny")
    env = dict(os.environ, VELLUM_MODELS_DIR=str(tmp_path / "models"))
    done = vellum("models", "import", str(tmp_path / "tiny.tar.gz"), env=env)
    assert done.returncode == 0, done.stderr
    assert "Installed tiny-medsam" in done.stdout and "complete" in done.stdout
    listed = json.loads(vellum("models", "list", "--json", env=env).stdout)
    assert [m["id"] for m in listed["models"]] == ["tiny-medsam"]
    before = _digest(pack)
    again = vellum("models", "import", str(pack), env=env)  # a folder; reinstalling is fine
    assert again.returncode == 0, again.stderr
    assert _digest(pack) == before, "the source folder is never modified"


def test_a_hash_mismatch_is_refused_in_one_sentence_and_the_rest_installs(tmp_path):
    pack = sam_vit_pack(tmp_path / "src")
    enc = pack / "tiny_sam_encoder.onnx"
    data = bytearray(enc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    enc.write_bytes(bytes(data))
    root = tmp_path / "models"
    report = import_models(pack, root)
    assert report.installed == {"tiny-sam": ["decoder"]}
    (sentence,) = report.errors
    assert str(enc) in sentence and "SHA-256" in sentence and sentence.count(". ") == 0
    with pytest.raises(ModelError, match="incomplete"):
        open_pack("tiny-sam", root)


def test_a_truncated_file_is_refused_as_truncated(tmp_path):
    pack = medsam_pack(tmp_path / "src")
    dec = pack / "tiny_medsam_decoder.onnx"
    dec.write_bytes(dec.read_bytes()[:1000])
    report = import_models(pack, tmp_path / "models")
    (sentence,) = report.errors
    assert str(dec) in sentence and "truncated" in sentence
    assert report.installed == {"tiny-medsam": ["encoder"]}


def test_a_decoder_with_the_wrong_inputs_is_refused(tmp_path):
    pack = write_pack(tmp_path / "src", "wrong-sam", "sam-vit-onnx", {
        "encoder": ("enc.onnx", encoder(1024)),
        "decoder": ("dec.onnx", sam_vit_decoder(with_orig_size=False))})
    report = import_models(pack, tmp_path / "models")
    (sentence,) = report.errors
    assert "dec.onnx" in sentence and "orig_im_size" in sentence
    assert report.installed == {"wrong-sam": ["encoder"]}


def test_foreign_files_and_missing_paths(tmp_path):
    stray = tmp_path / "notes.onnx"
    stray.write_bytes(b"not a model at all")
    report = import_models(stray, tmp_path / "models")
    (sentence,) = report.errors
    assert str(stray) in sentence and "matches no model pack" in sentence
    with pytest.raises(ModelError, match="does not exist"):
        import_models(tmp_path / "nowhere", tmp_path / "models")
    env = dict(os.environ, VELLUM_MODELS_DIR=str(tmp_path / "models"))
    done = vellum("models", "import", str(stray), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "matches no model pack" in done.stderr


def test_a_file_damaged_after_import_is_caught_when_the_model_opens(tmp_path):
    root = tmp_path / "models"
    import_models(medsam_pack(tmp_path / "src"), root)
    installed = root / "tiny-medsam" / "tiny_medsam_encoder.onnx"
    installed.write_bytes(installed.read_bytes()[:-10])
    with pytest.raises(ModelError, match="damaged") as err:
        open_pack("tiny-medsam", root)
    assert str(installed) in str(err.value)
    report = doctor(root)
    (entry,) = report["packs"]
    assert not entry["verified"] and str(installed) in entry["problems"][0]


def test_doctor_reports_providers_packages_and_shadowing(tmp_path, monkeypatch):
    import_models(medsam_pack(tmp_path / "src"), tmp_path / "models")
    report = doctor(tmp_path / "models", rt.Runtime())
    cpu = next(p for p in report["providers"] if p["name"] == "CPUExecutionProvider")
    assert cpu["ok"] and report["preferred"][-1] == "CPUExecutionProvider"
    for p in report["providers"]:
        assert p["ok"] or p["reason"], "a provider that is not used says why"
    assert report["packs"][0]["devices"] == {"encoder": "CPU", "decoder": "CPU"} or all(
        "GPU" in d for d in report["packs"][0]["devices"].values())
    versions = {"onnxruntime": "1.20.0", "onnxruntime-gpu": "1.20.0"}

    def fake_version(name: str) -> str:
        if name in versions:
            return versions[name]
        raise rt.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(rt.metadata, "version", fake_version)
    import app.inference.doctor as doc

    monkeypatch.setattr(doc, "runtime_packages", rt.runtime_packages)
    shadowed = doctor(tmp_path / "models", rt.Runtime(), open_models=False)
    assert any("shadow" in w for w in shadowed["warnings"])


def test_cli_doctor_runs_and_says_where_models_run(tmp_path):
    env = dict(os.environ, VELLUM_MODELS_DIR=str(tmp_path / "models"))
    done = vellum("models", "doctor", env=env)
    assert done.returncode in (0, 3), done.stderr
    assert "CPUExecutionProvider" in done.stdout and "models run on:" in done.stdout
    assert "installed packs: none" in done.stdout


def test_the_nanotrack_backbone_is_made_symbolic_in_the_installed_copy_only(tmp_path):
    """The NanoTrack edit applies to any file; checked here on a tiny fixed-size graph."""
    import onnxruntime as ort

    from app.inference.graph_edit import apply_edit

    src = tmp_path / "fixed.onnx"
    src.write_bytes(encoder(256))
    before = src.read_bytes()
    apply_edit("symbolic-hw", src, tmp_path / "free.onnx")
    assert src.read_bytes() == before
    session = ort.InferenceSession(str(tmp_path / "free.onnx"), providers=["CPUExecutionProvider"])
    assert all(isinstance(d, str) for d in session.get_inputs()[0].shape[2:])
    import numpy as np

    (out,) = session.run(None, {"image": np.zeros((1, 3, 128, 128), np.float32)})
    assert out.shape == (1, 256, 32, 32)


def test_bundled_manifests_name_the_shared_packs():
    from app.inference.manifest import bundled_families, bundled_manifests

    packs = bundled_manifests()
    assert {"litemedsam", "nanotrack-v2", "nanotrack-v3"} <= set(packs)
    assert packs["litemedsam"].files["encoder"].sha256 == (
        "65a6fe200946e8599a38c04dad45eb8c85e06ae9e5bde9a5f862015581bec907")
    assert packs["nanotrack-v2"].files["backbone"].edit == "symbolic-hw"
    fam = bundled_families()["sam-vit-onnx"]
    assert "orig_im_size" in fam.files["decoder"].inputs
    assert medsam_decoder()  # the builders import
