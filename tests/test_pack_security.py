"""A model pack can only ever write its own verified files into the model folder.

Hostile ``.vellum-models`` archives (zip, tar, tar.gz) are refused in one sentence naming the
archive, with nothing written outside the model folder and the model folder unchanged: file
names that climb out (``../../x``) or are absolute, link / device / FIFO members, a member
that unpacks far past the size its manifest gives (the importing process runs under an
``RLIMIT_FSIZE`` of 1 MiB, so bytes are counted, not time: writing the bomb out would fail
with EFBIG instead of being refused by its cap),
damaged compression, a manifest nested 100,000 deep or of the wrong JSON types. A FIFO or
``/dev/zero`` given as the pack is refused without being opened, and a read-only model folder
(or home) is named with the variable that moves it. Positive controls: the tiny pack as zip and
tar.gz, and the real NanoTrack v2 files from ../shared/models.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from app.core.errors import ModelError
from app.inference.pack_import import import_models

from test_inference_tiny_models import encoder, medsam_decoder

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
ENC, DEC = encoder(256), medsam_decoder()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(enc_name: str = "tiny_medsam_encoder.onnx", dec_name: str = "tiny_medsam_decoder.onnx",
             model_id: str = "tiny-medsam", **files_override) -> dict:
    files = {"encoder": {"name": enc_name, "sha256": _sha(ENC), "bytes": len(ENC)},
             "decoder": {"name": dec_name, "sha256": _sha(DEC), "bytes": len(DEC)}}
    raw = {"manifest": 1, "id": model_id, "extends": "litemedsam", "licence": "MIT",
           "source": "built by the Vellum test suite", "files": files}
    raw.update(files_override)
    return raw


def good_members(prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}manifest.json": json.dumps(manifest()).encode(),
            f"{prefix}tiny_medsam_encoder.onnx": ENC, f"{prefix}tiny_medsam_decoder.onnx": DEC}


def make_zip(path: Path, members: dict[str, bytes], modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (modes or {}).get(name, 0o100644) << 16
            info.create_system = 3
            z.writestr(info, data)
    return path


def make_tar(path: Path, members: dict[str, bytes], mode: str = "w",
             special: list[tarfile.TarInfo] | None = None) -> Path:
    with tarfile.open(path, mode) as t:
        for info in special or []:
            t.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with its content hash (links as their target)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = _sha(p.read_bytes())
        else:
            out[rel] = "dir"
    return out


@pytest.fixture
def place(tmp_path):
    """tmp/sentinel/models holds an installed pack already; tmp/in holds the hostile input."""
    sentinel = tmp_path / "sentinel"
    models = sentinel / "models"
    src = tmp_path / "good"
    src.mkdir()
    for name, data in good_members().items():
        (src / name).write_bytes(data)
    (src / "manifest.json").write_text(json.dumps(manifest(model_id="already-here")))
    assert sorted(import_models(src, models).installed["already-here"]) == ["decoder", "encoder"]
    shutil.rmtree(src)
    (tmp_path / "in").mkdir()
    return tmp_path, models


def vellum(*args: str | Path, models: Path, timeout: float = 120,
           limit_bytes: int | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], cwd=REPO,
                          env=dict(env or os.environ, VELLUM_MODELS_DIR=str(models)),
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit if limit_bytes else None)


def assert_refused(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.strip().splitlines() if ln]
    assert len(lines) == 1, result.stderr
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"
    return lines[0]


def refuse_unchanged(tmp_path: Path, models: Path, archive: Path, *words: str) -> str:
    """Import ``archive`` through the CLI: refused, nothing anywhere in tmp changed."""
    before = snapshot(tmp_path)
    line = assert_refused(vellum("models", "import", archive, models=models), str(archive),
                          *words)
    assert snapshot(tmp_path) == before, "the import wrote or changed something"
    return line


# -- names that leave the pack folder -----------------------------------------------------

CLIMBS = ["../../evil.onnx", "../evil.onnx", "sub/evil.onnx", "..\\..\\evil.onnx",
          "C:evil.onnx", "evil\x00.onnx", ".", ".."]


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_a_manifest_name_climbing_out_is_refused_and_nothing_is_written(place, kind):
    tmp_path, models = place
    members = good_members()
    members["manifest.json"] = json.dumps(manifest(enc_name="../../evil.onnx")).encode()
    archive = tmp_path / "in" / f"evil.{kind}"
    if kind == "zip":
        make_zip(archive, members)
    else:
        make_tar(archive, members, "w:gz" if kind == "tar.gz" else "w")
    refuse_unchanged(tmp_path, models, archive, "not a plain file name")
    assert not (tmp_path / "sentinel" / "evil.onnx").exists()


def test_an_absolute_manifest_name_is_refused(place):
    tmp_path, models = place
    outside = tmp_path / "outside"
    outside.mkdir()
    members = good_members()
    members["manifest.json"] = json.dumps(manifest(enc_name=str(outside / "x.onnx"))).encode()
    archive = make_zip(tmp_path / "in" / "abs.vellum-models", members)
    refuse_unchanged(tmp_path, models, archive, "not a plain file name")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("name", CLIMBS)
def test_every_kind_of_unplain_name_is_refused_in_a_folder_too(tmp_path, name):
    src = tmp_path / "src"
    src.mkdir()
    for member, data in good_members().items():
        (src / member).write_bytes(data)
    (src / "manifest.json").write_text(json.dumps(manifest(dec_name=name)))
    report = import_models(src, tmp_path / "models")
    assert any("not a plain file name" in e for e in report.errors), report.errors
    assert not (tmp_path / "evil.onnx").exists() and not (tmp_path / "sub").exists()
    assert "decoder" not in report.installed.get("tiny-medsam", [])


def test_members_with_climbing_names_are_never_extracted_by_their_name(place):
    """Members named ../x or /abs are not what the manifest names: they are never read."""
    tmp_path, models = place
    members = good_members("pack/")
    members["../../escaped.onnx"] = ENC
    members["/tmp/vellum-escaped.onnx"] = ENC
    archive = make_tar(tmp_path / "in" / "names.tar", members)
    before = snapshot(tmp_path / "sentinel")
    done = vellum("models", "import", archive, models=models)
    assert done.returncode == 0, done.stderr
    assert "Installed tiny-medsam" in done.stdout
    after = snapshot(tmp_path / "sentinel")
    new = sorted(set(after) - set(before))
    assert all(p.startswith("models/tiny-medsam") for p in new), new
    assert not Path("/tmp/vellum-escaped.onnx").exists()
    assert not (tmp_path / "escaped.onnx").exists()


# -- links, devices, FIFOs ----------------------------------------------------------------


def _special(kind: bytes, name: str = "pack/tiny_medsam_encoder.onnx",
             link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 5
    return info


@pytest.mark.parametrize("kind, link, words", [
    (tarfile.SYMTYPE, "/etc/passwd", "symbolic link"),
    (tarfile.LNKTYPE, "pack/manifest.json", "hard link"),
    (tarfile.CHRTYPE, "", "character device"),
    (tarfile.BLKTYPE, "", "block device"),
    (tarfile.FIFOTYPE, "", "FIFO")])
def test_tar_links_devices_and_fifos_refuse_the_archive(place, kind, link, words):
    tmp_path, models = place
    members = good_members("pack/")
    archive = make_tar(tmp_path / "in" / "special.tar.gz", members, "w:gz",
                       special=[_special(kind, "pack/extra.onnx", link)])
    refuse_unchanged(tmp_path, models, archive, words, "nothing was installed")


@pytest.mark.parametrize("mode, words", [(0o120777, "symbolic link"),
                                         (0o010644, "FIFO"), (0o020644, "character device")])
def test_zip_members_with_link_or_device_mode_bits_refuse_the_archive(place, mode, words):
    tmp_path, models = place
    members = good_members()
    members["evil.onnx"] = b"/etc/passwd"
    archive = make_zip(tmp_path / "in" / "link.vellum-models", members, {"evil.onnx": mode})
    refuse_unchanged(tmp_path, models, archive, words, "nothing was installed")


# -- bombs --------------------------------------------------------------------------------

BOMB = 64 * 1024 * 1024  # zeros: a few hundred KB compressed


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_a_member_far_past_its_manifest_size_is_refused_before_it_is_written(place, kind):
    """The encoder member unpacks to 64 MiB where the manifest says ~3 KB. The import runs
    with RLIMIT_FSIZE at 1 MiB: had it written the bomb out, that write would fail (EFBIG)
    and the sentence would not be the cap's."""
    tmp_path, models = place
    members = good_members()
    members["tiny_medsam_encoder.onnx"] = ENC + bytes(BOMB)
    archive = tmp_path / "in" / f"bomb.{kind}"
    if kind == "zip":
        make_zip(archive, members)
    else:
        make_tar(archive, members, "w:gz")
    assert archive.stat().st_size < 2 * 1024 * 1024
    before = snapshot(tmp_path)
    done = vellum("models", "import", archive, models=models, limit_bytes=1024 * 1024)
    assert_refused(done, str(archive), "unpacks to more than", str(len(ENC)))
    assert snapshot(tmp_path) == before


def test_a_file_whose_manifest_gives_no_size_is_capped_by_the_default(tmp_path, monkeypatch):
    import app.inference.pack_import as pi

    monkeypatch.setattr(pi, "DEFAULT_FILE_CAP", 1000)
    raw = manifest()
    del raw["files"]["encoder"]["bytes"]
    members = good_members()
    members["manifest.json"] = json.dumps(raw).encode()
    archive = make_zip(tmp_path / "nosize.vellum-models", members)
    with pytest.raises(ModelError, match="gives no size") as err:
        import_models(archive, tmp_path / "models")
    assert str(archive) in str(err.value)
    assert [p.name for p in (tmp_path / "models").iterdir()] == []


# -- damaged archives and manifests ---------------------------------------------------------


@pytest.mark.parametrize("where", [0.3, 0.5, 0.8, "truncate"])
def test_a_bit_flipped_or_truncated_tar_gz_is_one_sentence(place, where):
    tmp_path, models = place
    archive = make_tar(tmp_path / "in" / "flip.tar.gz", good_members(), "w:gz")
    data = bytearray(archive.read_bytes())
    if where == "truncate":
        data = data[: len(data) // 2]
    else:
        data[int(len(data) * where)] ^= 0x55
    archive.write_bytes(bytes(data))
    refuse_unchanged(tmp_path, models, archive)


def test_a_manifest_nested_100000_deep_is_one_sentence(place):
    tmp_path, models = place
    deep = '{"manifest": 1, "id": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    members = good_members()
    members["manifest.json"] = deep.encode()
    archive = make_zip(tmp_path / "in" / "deep.vellum-models", members)
    refuse_unchanged(tmp_path, models, archive, "nests deeper")
    folder = tmp_path / "in" / "deep"
    folder.mkdir()
    (folder / "manifest.json").write_text(deep)
    (folder / "tiny_medsam_encoder.onnx").write_bytes(ENC)
    done = vellum("models", "import", folder / "manifest.json", models=models)
    assert_refused(done, str(folder / "manifest.json"), "nests deeper")


SHA = "0" * 64
WRONG_FILES = [
    "a string", 5, [1, 2, 3], {"encoder": 5}, {"encoder": [1]},
    {"encoder": {"name": 5, "sha256": SHA}},
    {"encoder": {"name": "e.onnx", "sha256": 12}},
    {"encoder": {"name": "e.onnx", "sha256": SHA, "bytes": "many"}},
    {"encoder": {"name": "e.onnx", "sha256": SHA, "bytes": -1}},
    {"encoder": {"name": "e.onnx", "sha256": SHA, "inputs": "image"}},
    {"encoder": {"name": "e.onnx", "sha256": SHA, "edit": ["symbolic-hw"]}},
]


@pytest.mark.parametrize("files", WRONG_FILES, ids=lambda f: json.dumps(f)[:40])
def test_manifest_files_of_the_wrong_json_types_are_one_sentence(place, files):
    tmp_path, models = place
    members = good_members()
    members["manifest.json"] = json.dumps(manifest(files=files)).encode()
    archive = make_zip(tmp_path / "in" / "types.vellum-models", members)
    refuse_unchanged(tmp_path, models, archive, "manifest")


@pytest.mark.parametrize("field, value", [("family", ["litemedsam"]), ("extends", {"a": 1}),
                                          ("id", 7), ("tracking", "fast"),
                                          ("input_size", "big")])
def test_other_manifest_fields_of_the_wrong_type_are_one_sentence(place, field, value):
    tmp_path, models = place
    members = good_members()
    members["manifest.json"] = json.dumps(manifest(**{field: value})).encode()
    archive = make_zip(tmp_path / "in" / "fields.vellum-models", members)
    refuse_unchanged(tmp_path, models, archive)


# -- what PATH is -------------------------------------------------------------------------


def test_a_fifo_given_as_the_pack_is_refused_without_blocking(place):
    tmp_path, models = place
    fifo = tmp_path / "in" / "pack.vellum-models"
    os.mkfifo(fifo)
    done = vellum("models", "import", fifo, models=models, timeout=60)
    assert_refused(done, str(fifo), "FIFO")


def test_dev_zero_given_as_the_pack_is_refused(place):
    _, models = place
    done = vellum("models", "import", "/dev/zero", models=models, timeout=60)
    assert_refused(done, "/dev/zero", "character device")


def test_a_fifo_inside_a_pack_folder_is_skipped_and_the_rest_installs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for member, data in good_members().items():
        (src / member).write_bytes(data)
    os.mkfifo(src / "stuck.onnx")
    done = vellum("models", "import", src, models=tmp_path / "models", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Installed tiny-medsam" in done.stdout and "complete" in done.stdout


# -- a model folder that cannot be written --------------------------------------------------


def test_a_models_folder_under_a_file_is_named_with_its_variable(tmp_path):
    """Simulated without privileges: the model folder's parent is a regular file."""
    blocker = tmp_path / "data"
    blocker.write_text("a file where a folder should be")
    archive = make_zip(tmp_path / "tiny.vellum-models", good_members())
    done = vellum("models", "import", archive, models=blocker / "models")
    assert_refused(done, str(blocker / "models"), "not writable", "VELLUM_MODELS_DIR")
    env = {k: v for k, v in os.environ.items() if k != "VELLUM_MODELS_DIR"}
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(blocker))
    done = subprocess.run([sys.executable, "-m", "app", "models", "import", str(archive)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert_refused(done, str(blocker / "vellum" / "models"), "not writable", "XDG_DATA_HOME")


def _read_only_mount_works(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    if not shutil.which("unshare"):
        return False
    done = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {probe} {probe} && "
                           f"mount -o remount,bind,ro {probe} {probe} && ! touch {probe}/x"],
                          capture_output=True, timeout=30)
    probe.rmdir()
    return done.returncode == 0


def test_a_read_only_home_names_the_folder_and_the_variable(tmp_path):
    """A real read-only file system (a read-only bind mount in a private mount namespace:
    chmod does not stop root), for `models import` and the demo build."""
    if not _read_only_mount_works(tmp_path):
        pytest.skip("no read-only bind mount here (needs unshare -m and mount)")
    home = tmp_path / "home"
    home.mkdir()
    archive = make_zip(tmp_path / "tiny.vellum-models", good_members())
    demo = ("from app.core.errors import VellumError\nfrom app.demo import build_demo\n"
            "try:\n    build_demo()\nexcept VellumError as exc:\n    print('said:', exc)\n")
    script = (f"mount --bind {home} {home} && mount -o remount,bind,ro {home} {home} && "
              f"{sys.executable} -m app models import {archive}; echo rc=$?; "
              f"{sys.executable} -c \"$DEMO\"")
    env = {k: v for k, v in os.environ.items() if k != "VELLUM_MODELS_DIR"}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"), DEMO=demo)
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("vellum: error:")]
    assert len(errors) == 1, done.stderr
    assert str(home / ".local" / "share" / "vellum" / "models") in errors[0]
    assert "not writable" in errors[0] and "XDG_DATA_HOME" in errors[0]
    assert "rc=1" in done.stdout
    (said,) = [ln for ln in done.stdout.splitlines() if ln.startswith("said:")]
    assert str(home / ".local" / "share" / "vellum") in said and "XDG_DATA_HOME" in said
    assert list(home.iterdir()) == []


def test_the_demo_build_names_a_folder_it_cannot_write(tmp_path, monkeypatch):
    """Simulated without privileges: XDG_DATA_HOME is a regular file."""
    from app.core.errors import VellumError
    from app.demo import build_demo

    blocker = tmp_path / "data"
    blocker.write_text("a file")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    with pytest.raises(VellumError) as err:
        build_demo()
    said = str(err.value)
    assert str(blocker / "vellum") in said and "XDG_DATA_HOME" in said and "\n" not in said


# -- positive controls --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_a_good_pack_archive_installs(tmp_path, kind):
    archive = tmp_path / f"tiny.{kind}"
    if kind == "zip":
        make_zip(archive, good_members("tiny/"))
    else:
        make_tar(archive, good_members("tiny/"), "w:gz")
    models = tmp_path / "models"
    done = vellum("models", "import", archive, models=models)
    assert done.returncode == 0, done.stderr
    assert "Installed tiny-medsam (decoder, encoder)" in done.stdout and "complete" in done.stdout
    installed = models / "tiny-medsam"
    assert (installed / "tiny_medsam_encoder.onnx").read_bytes() == ENC
    assert sorted(p.name for p in models.iterdir()) == ["tiny-medsam"], "staging is cleaned up"


def test_the_real_nanotrack_files_install_from_a_tar_gz(tmp_path):
    v2 = SHARED_MODELS / "nanotrack" / "v2"
    if not v2.is_dir():
        pytest.skip(f"{v2} is absent on this machine")
    archive = tmp_path / "nanotrack.vellum-models"
    with tarfile.open(archive, "w:gz") as t:
        t.add(v2, arcname="somewhere/v2")
    models = tmp_path / "models"
    done = vellum("models", "import", archive, models=models)
    assert done.returncode == 0, done.stderr
    assert "Installed nanotrack-v2 (backbone, head)" in done.stdout
    listed = json.loads(vellum("models", "list", "--json", models=models).stdout)
    assert [m["id"] for m in listed["models"]] == ["nanotrack-v2"]
    assert listed["models"][0]["complete"]
