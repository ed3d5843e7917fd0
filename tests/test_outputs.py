"""One rule for every output (``app.io.outputs``): ``segment -o``, ``video frame -o``, ``video
frames``, ``volume convert``, ``export coco`` (with and without ``--with-images``), ``export
nifti`` and ``export mot`` never write onto a project file, its lock or journal, or a media file
of a project found beside or above the target, not even with ``--overwrite``; replace an
existing file only with ``--overwrite``; refuse a name whose extension does not fit; and on a
full disk print one sentence and leave nothing behind (no temporary file, no part of a
multi-file output)."""

from __future__ import annotations

import builtins
import errno
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ the project under test
@dataclass
class World:
    root: Path
    proj: Path
    image: Path  # an input image outside the project (segment)
    volume: Path  # an input NIfTI outside the project (volume convert)
    models: Path | None = None

    @property
    def db(self) -> Path:
        return self.proj / "project.vellum"

    @property
    def clip(self) -> Path:
        return self.proj / "clip.mkv"


def _write_clip(path: Path, frames: int = 12) -> None:
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for n in range(frames):
            img = np.full((48, 64, 3), n * 8, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def _write_nifti(path: Path) -> None:
    import nibabel as nib

    data = np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)
    nib.save(nib.Nifti1Image(data, np.diag([0.8, 0.8, 2.0, 1.0])), str(path))


def _image(path: Path, seed: int) -> None:
    rgb = np.random.default_rng(seed).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), rgb)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    """A project with an image beside it, an image named like a video frame and a NIfTI
    volume in a subfolder below it, a video with a box track, and a label map."""
    from app.core.annotations import Annotation, Track
    from app.core.commands import ModifyLabelMap, Put, SetSchema
    from app.core.document import Document
    from app.core.labelmap import LabelMapInfo, Mode, Segment
    from app.core.media import MediaKind
    from app.core.places import Place
    from app.core.schema import LabelClass, LabelSchema
    from app.core.shapes import Box
    from app.io.ingest import add_media

    root = tmp_path_factory.mktemp("outputs")
    proj = root / "proj"
    (proj / "sub").mkdir(parents=True)
    _image(proj / "photo.png", 1)
    _image(proj / "sub" / "000000.png", 2)
    _write_clip(proj / "clip.mkv")
    _write_nifti(proj / "sub" / "vol.nii.gz")
    with Document.create(proj) as doc:
        report = add_media(doc, [proj / "photo.png", proj / "sub" / "000000.png",
                                 proj / "clip.mkv", proj / "sub" / "vol.nii.gz"])
        assert not report.errors and len(report.added) == 4
        doc.execute(SetSchema(LabelSchema((LabelClass("car", "#ff0000"),))))
        car = doc.schema.class_by_name("car").id
        video = next(m for m in doc.media() if m.kind is MediaKind.VIDEO)
        track = Track(video.id, car)
        doc.execute(Put((track,
                         Annotation(Place(video.id, 0), Box(5, 5, 20, 10), car, track_id=track.id),
                         Annotation(Place(video.id, 6), Box(15, 9, 20, 10), car,
                                    track_id=track.id))))
        vol = next(m for m in doc.media() if m.kind is MediaKind.VOLUME)
        k, j, i = vol.volume_shape
        info = LabelMapInfo(vol.id, k, j, i, "uint8", name="Seg",
                            segments=(Segment(1, "car", "#f0f0f0", car),))
        doc.execute(Put((info,)))
        doc.execute(ModifyLabelMap(info.id, (1, 1, 1), np.ones((1, 2, 2), bool), Mode.ADD, 1))
    (root / "in").mkdir()
    _image(root / "in" / "input.png", 3)
    _write_nifti(root / "in" / "vol.nii.gz")
    return World(root, proj, root / "in" / "input.png", root / "in" / "vol.nii.gz")


@pytest.fixture(scope="module")
def models(world: World) -> Path:
    """A tiny SAM pack installed for ``vellum segment`` (built here, nothing downloaded)."""
    pytest.importorskip("onnx")
    from test_inference_tiny_models import sam_vit_pack

    from app.inference.pack_import import import_models

    root = world.root / "models"
    report = import_models(sam_vit_pack(world.root / "pack"), root)
    assert not report.errors
    return root


# ------------------------------------------------------------------ the commands
Args = Callable[[World, Path], list]
SINGLE: dict[str, tuple[str, Args]] = {  # one output file: its extension, the command
    "segment": (".png", lambda w, out: ["segment", w.image, "--model", "tiny-sam", "--box", 2, 2,
                                        20, 14, "-o", out]),
    "video frame": (".png", lambda w, out: ["video", "frame", w.clip, 3, "-o", out]),
    "volume convert": (".nii.gz", lambda w, out: ["volume", "convert", w.volume, out]),
    "export coco": (".json", lambda w, out: ["export", "coco", w.proj, out]),
    "export coco --with-images": (".json", lambda w, out: ["export", "coco", w.proj, out,
                                                          "--with-images"]),
    "export mot OUT.txt": (".txt", lambda w, out: ["export", "mot", w.proj, out]),
}
FOLDER: dict[str, tuple[str, Args]] = {  # a folder of outputs: its first file, the command
    "video frames": ("000000.png", lambda w, d: ["video", "frames", w.clip, d]),
    "export nifti": ("{volume}_Seg.nii.gz", lambda w, d: ["export", "nifti", w.proj, d,
                                                          "--with-volumes"]),
    "export mot": ("clip/gt/gt.txt", lambda w, d: ["export", "mot", w.proj, d]),
}


def _first(w: World, name: str) -> str:
    """The first file a folder output writes (the label map's is named after its volume)."""
    from app.core.document import Document
    from app.core.media import MediaKind
    from app.io.volume.project import safe_name

    first = FOLDER[name][0]
    if "{volume}" in first:
        with Document.open(w.proj) as doc:
            vol = next(m for m in doc.media() if m.kind is MediaKind.VOLUME)
            first = first.format(volume=safe_name(vol.name, "volume"))
    return first


def _env(request, name: str) -> dict[str, str]:
    env = dict(os.environ)
    if name == "segment":
        env["VELLUM_MODELS_DIR"] = str(request.getfixturevalue("models"))
    return env


def vellum(env: dict[str, str], *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=REPO, env=env)


def assert_one_sentence(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("vellum: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def tree(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (hidden ones too): a file's SHA-256, a link's target."""
    out = {}
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(folder))
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "folder"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _project_still_opens(w: World) -> None:
    from app.core.document import Document

    with Document.open(w.proj) as doc:
        assert len(doc.media()) == 4


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


# ------------------------------------------------------------------ never onto a project
@pytest.mark.parametrize("name", list(SINGLE))
def test_a_file_output_never_replaces_a_project_its_journal_lock_or_media(world, name,
                                                                          request):
    ext, args = SINGLE[name]
    env = _env(request, name)
    w = world
    links = w.root / f"links-{_slug(name)}"  # outside the project: found through the link
    links.mkdir()
    lock = w.db.with_name("project.vellum.lock")  # protected whether it exists or not
    for stem, to in (("project", w.db), ("wal", w.db.with_name("project.vellum-wal")),
                     ("lock", lock), ("media", w.proj / "sub" / "000000.png")):
        (links / f"{stem}{ext}").symlink_to(to)
    targets = [w.db, w.db.with_name("project.vellum-wal"), lock,
               w.db.with_name("project.vellum-wal") / f"x{ext}",  # a folder at the WAL path
               w.proj / "photo.png", w.proj / "sub" / "000000.png",  # media beside, below
               w.proj / "sub" / "vol.nii.gz", *sorted(links.iterdir())]
    before, outside = tree(w.proj), tree(links)
    for extra in ((), ("--overwrite",)):
        for target in targets:
            assert_one_sentence(vellum(env, *args(w, target), *extra), str(target))
            assert tree(w.proj) == before, (target, extra)
    assert tree(links) == outside
    _project_still_opens(w)


@pytest.mark.parametrize("name", list(FOLDER))
def test_a_folder_output_never_writes_onto_a_project_its_journal_lock_or_media(world, name,
                                                                               request):
    args = FOLDER[name][1]
    first = _first(world, name)
    env = _env(request, name)
    w = world
    lock = w.db.with_name("project.vellum.lock")
    folders = [w.db, lock, w.db.with_name("project.vellum-wal"),  # no folder at the WAL path
               w.db.with_name("project.vellum-shm")]
    for n, to in enumerate((w.db, w.db.with_name("project.vellum-wal"), lock,
                            w.proj / "photo.png", w.proj / "sub" / "vol.nii.gz")):
        d = w.root / f"into-{_slug(name)}-{n}"  # its first output is a link to `to`
        (d / first).parent.mkdir(parents=True)
        (d / first).symlink_to(to)
        folders.append(d)
    if name == "video frames":
        folders.append(w.proj / "sub")  # 000000.png there is a media file, below the project
    before = tree(w.proj)
    outside = {d: tree(d) for d in folders if d.is_dir()}
    for extra in ((), ("--overwrite",)):
        for d in folders:
            assert_one_sentence(vellum(env, *args(w, d), *extra))
            assert tree(w.proj) == before, (d, extra)
    assert {d: tree(d) for d in outside} == outside
    assert not w.db.with_name("project.vellum-wal").exists()
    _project_still_opens(w)


# ------------------------------------------------------------------ existing files
@pytest.mark.parametrize("name", list(SINGLE))
def test_an_existing_file_is_replaced_only_with_overwrite(world, name, request, tmp_path):
    ext, args = SINGLE[name]
    env = _env(request, name)
    out = tmp_path / f"out{ext}"
    out.write_bytes(b"precious")
    digest = hashlib.sha256(b"precious").hexdigest()
    assert_one_sentence(vellum(env, *args(world, out)), str(out), "--overwrite")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # nothing else written
    done = vellum(env, *args(world, out), "--overwrite")
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    if ext == ".png":
        assert data.startswith(b"\x89PNG")
    elif ext == ".nii.gz":
        assert data.startswith(b"\x1f\x8b")
    elif ext == ".json":
        assert json.loads(data)["images"]
    else:
        assert data.decode().splitlines()[0].startswith("1,")


@pytest.mark.parametrize("name", list(FOLDER))
def test_an_existing_file_in_an_output_folder_is_replaced_only_with_overwrite(world, name,
                                                                               request,
                                                                               tmp_path):
    args = FOLDER[name][1]
    first = _first(world, name)
    env = _env(request, name)
    d = tmp_path / "out"
    (d / first).parent.mkdir(parents=True)
    (d / first).write_bytes(b"precious")
    before = tree(d)
    assert_one_sentence(vellum(env, *args(world, d)), first.split("/")[-1], "--overwrite")
    assert tree(d) == before  # refused before anything was written
    done = vellum(env, *args(world, d), "--overwrite")
    assert done.returncode == 0, done.stderr
    assert (d / first).read_bytes() != b"precious" and len(tree(d)) > len(before)


@pytest.mark.parametrize("name, bad, good", [
    ("segment", "mask.jpg", "mask.PNG"),
    ("video frame", "frame.gif", "frame.JPEG"),
    ("volume convert", "vol.nii.zip", "vol.NII.GZ"),
    ("export coco", "coco.txt", "coco.JSON"),
    ("export coco --with-images", "coco", "coco.Json"),
])
def test_the_extension_must_fit_the_format(world, name, bad, good, request, tmp_path):
    _, args = SINGLE[name]
    env = _env(request, name)
    assert_one_sentence(vellum(env, *args(world, tmp_path / bad), "--overwrite"),
                        str(tmp_path / bad), "must end in")
    assert list(tmp_path.iterdir()) == []
    done = vellum(env, *args(world, tmp_path / good))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / good).is_file()


# ------------------------------------------------------------------ a full disk
@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB tmpfs, full; skipped where mounting is not permitted."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    if not shutil.which("mount"):
        pytest.skip("no mount command on this machine")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    assert shutil.disk_usage(folder).free == 0


def test_a_full_disk_gives_one_sentence_and_leaves_nothing(world, full_disk, request):
    w, mnt = world, full_disk
    old = {}
    for name, (ext, _) in SINGLE.items():  # an earlier output, replaced with --overwrite
        old[name] = mnt / f"old-{_slug(name)}{ext}"
        old[name].write_bytes(b"earlier output")
    _fill(mnt)
    before = tree(mnt)
    for name, (ext, args) in SINGLE.items():
        env = _env(request, name)
        out = mnt / f"new-{_slug(name)}{ext}"
        deeper = mnt / f"sub-{_slug(name)}" / f"new{ext}"  # its folder is not left behind
        for target, extra in ((out, ()), (old[name], ("--overwrite",)), (deeper, ())):
            line = assert_one_sentence(vellum(env, *args(w, target), *extra), "disk is full")
            assert str(target) in line, line
            assert tree(mnt) == before, (name, target)
    for name, (_, args) in FOLDER.items():
        d = mnt / f"dir-{_slug(name)}"
        line = assert_one_sentence(vellum(_env(request, name), *args(w, d)), "disk is full")
        assert str(d) in line, line
        assert tree(mnt) == before, name
    assert all(p.read_bytes() == b"earlier output" for p in old.values())


# ------------------------------------------------------------------ the same, in process
def _fail_writes_under(monkeypatch, folder: Path, after: int) -> None:
    """``os.fsync`` of a file under ``folder`` fails with ENOSPC from its ``after``-th call
    (what a full disk does to a write that was only buffered)."""
    real = os.fsync
    calls = [0]

    def fsync(fd: int) -> None:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if path.startswith(str(folder)) and os.path.isfile(path):
            calls[0] += 1
            if calls[0] >= after:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


MULTI = ["export coco --with-images", "export mot OUT.txt", *(f"{n}/" for n in FOLDER)]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
@pytest.mark.parametrize("name, after", [(n, 1) for n in [*SINGLE, *(f"{n}/" for n in FOLDER)]]
                         + [(n, 2) for n in MULTI])  # 2: the second file of several fails
def test_enospc_while_writing_leaves_no_file_and_no_temporary(world, name, after, request,
                                                              tmp_path, monkeypatch, capsys):
    from app.cli import main

    folder = name.endswith("/")
    ext, args = FOLDER[name[:-1]] if folder else SINGLE[name]
    if name == "segment":
        monkeypatch.setenv("VELLUM_MODELS_DIR", str(request.getfixturevalue("models")))
    out_root = tmp_path / "out"
    out_root.mkdir()
    target = out_root / "d" if folder else out_root / f"out{ext}"
    _fail_writes_under(monkeypatch, out_root, after)
    code = main([str(a) for a in args(world, target)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and err.startswith("vellum: error: "), err
    assert "disk is full" in err and str(target) in err
    assert list(out_root.iterdir()) == []  # no temporary file, no part of the output


# ------------------------------------------------------------------ the helper itself
def test_projects_are_read_without_open_and_damaged_ones_still_protect_themselves(
        world, tmp_path, monkeypatch):
    from app.core.errors import VellumError
    from app.io.outputs import prepare_output

    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "junk.vellum").write_bytes(b"not a database at all" * 10)
    with sqlite3.connect(folder / "foreign.vellum") as conn:  # SQLite, not a project
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    (folder / "a.png").symlink_to(folder / "junk.vellum")
    (folder / "b.png").symlink_to(folder / "foreign.vellum-wal")
    (folder / "c.png").symlink_to(world.proj / "photo.png")
    opened: list[str] = []
    real_open = builtins.open

    def spy(file, *a, **k):
        opened.append(str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", spy)
    listing = sorted(os.listdir(folder))
    assert prepare_output(folder / "sub" / "out.png", formats=(".png",)) == \
        folder / "sub" / "out.png"
    for bad in ("a.png", "b.png", "c.png"):
        with pytest.raises(VellumError, match="which no output may overwrite"):
            prepare_output(folder / bad, formats=(".png",), overwrite=True)
    with pytest.raises(VellumError, match="must end in .nii or .nii.gz"):
        prepare_output(folder / "x.nii.zip", formats=(".nii", ".nii.gz"))
    assert not [p for p in opened if ".vellum" in p], opened
    assert sorted(os.listdir(folder)) == listing  # no -wal or -shm left beside a project
    assert not world.db.with_name("project.vellum-wal").exists()


def test_the_library_export_the_window_uses_refuses_media_even_with_overwrite(world, tmp_path):
    from app.core.document import Document
    from app.core.errors import VellumError
    from app.io.coco import export_coco

    link = tmp_path / "coco.json"
    link.symlink_to(world.proj / "photo.png")
    before = tree(world.proj)
    with Document.open(world.proj) as doc:
        with pytest.raises(VellumError, match="media file"):
            export_coco(doc, link, overwrite=True)
    assert tree(world.proj) == before and link.is_symlink()
