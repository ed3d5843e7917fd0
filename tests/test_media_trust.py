"""Damaged, huge, lying and special media files: `add` notes or refuses each in one sentence,
`validate` reports what is on disk now, the window marks damaged images, and no library message
(OpenCV, libpng, libtiff, OpenJPEG) and no traceback ever shows, nothing ever hangs.

The CLI runs in a subprocess, as a user runs it; FIFOs are made with ``os.mkfifo`` (POSIX)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.commands import Put
from app.core.document import Document
from app.core.geometry import VideoGeometry
from app.core.media import MediaItem, MediaKind

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"
SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
fifo_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")


def vellum(*args: str | Path, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the CLI; a hang fails the test through ``TimeoutExpired``."""
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def err_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.strip()]


def new_project(path: Path) -> Path:
    assert vellum("new", path).returncode == 0
    return path


def encoded(ext: str, h: int = 150, w: int = 200, seed: int = 0) -> bytes:
    """A noise picture encoded by OpenCV (no metadata chunks, several IDATs for PNG)."""
    img = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def image_data_start(data: bytes) -> int:
    """Where a PNG's first IDAT chunk, or a JPEG's first scan data, begins: a file cut at or
    after this offset still has its whole header (its size is known)."""
    if data[:4] == b"\x89PNG":
        return data.index(b"IDAT") - 4
    pos = 2
    while data[pos + 1] != 0xDA:
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return pos + 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]


def cut_offsets(data: bytes) -> list[int]:
    """12 offsets: inside the signature and headers, at the start of the image data, inside
    it, and in the last bytes (end marker, IEND chunk)."""
    n, start = len(data), image_data_start(data)
    offsets = sorted({3, 8, 20, 33, start - 1, start + 10, n // 4, n // 2, 3 * n // 4,
                      n - 100, n - 6, n - 2})
    assert len(offsets) == 12 and 0 < offsets[0] and offsets[-1] < n
    return offsets


def sources() -> dict[str, bytes]:
    """Good PNG and JPEG files: the shared photos (when present) and generated ones."""
    found = {"noise.png": encoded(".png"), "noise.jpg": encoded(".jpg")}
    for name in ("astronaut.png", "rocket.jpg", "coins.png", "hubble_deep_field.jpg"):
        if (SHARED_IMAGES / name).is_file():
            found[name] = (SHARED_IMAGES / name).read_bytes()
    return found


def write_cuts(folder: Path, name: str, data: bytes) -> tuple[list[Path], list[Path]]:
    """``data`` cut at 12 offsets into ``folder``/data and ``folder``/head: (cut inside the
    image data, cut inside the headers)."""
    data_cut, head_cut = [], []
    stem, ext = name.rsplit(".", 1)
    for at in cut_offsets(data):
        whole_header = at >= image_data_start(data)
        path = folder / ("data" if whole_header else "head") / f"{stem}_{at:07d}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[:at])
        (data_cut if whole_header else head_cut).append(path)
    return data_cut, head_cut


@pytest.mark.parametrize("name", ["noise.png", "noise.jpg", "astronaut.png", "rocket.jpg",
                                  "coins.png", "hubble_deep_field.jpg"])
def test_add_notes_every_cut_image_and_validate_reports_each(tmp_path, name):
    """One file cut at 12 offsets. Cut inside the image data: added (exit 0) with a note
    naming each file, and `validate` lists each. Cut inside the header (the size is unknown):
    noted, or refused in one sentence. Never a traceback, never a library message."""
    data = sources().get(name)
    if data is None:
        pytest.skip(f"{SHARED_IMAGES / name} is absent on this machine")
    data_cut, head_cut = write_cuts(tmp_path, name, data)
    proj = new_project(tmp_path / "p")

    result = vellum("add", proj, tmp_path / "data")
    assert result.returncode == 0, result.stderr
    lines = err_lines(result)
    assert len(lines) == len(data_cut), result.stderr
    for path in data_cut:
        (line,) = [ln for ln in lines if f"{path} " in ln]
        assert line.startswith(f"note: {path} is a truncated "), line
    assert f"Added {len(data_cut)} image" in result.stdout

    result = vellum("add", proj, tmp_path / "head")
    assert result.returncode in (0, 1)
    lines = err_lines(result)
    assert "Traceback" not in result.stderr and len(lines) == len(head_cut), result.stderr
    for path in head_cut:
        (line,) = [ln for ln in lines if f"{path} " in ln]
        assert line.startswith((f"note: {path} is a truncated ", f"skipped: {path} is a "
                                                                 "truncated ")), line
    added = [p for p in head_cut if f"note: {p} " in result.stderr]

    result = vellum("validate", proj)
    assert result.returncode == 3
    problems = [ln for ln in result.stdout.splitlines() if ln.startswith("- ")]
    assert len(problems) == len(data_cut) + len(added), result.stdout
    for path in data_cut + added:
        assert any(f"/{path.name} is a truncated " in p for p in problems), path.name


def test_validate_checks_the_file_as_it_is_now(tmp_path):
    """Files whole when added and cut short afterwards (even by 2 bytes, inside IEND) are
    reported by `validate` as truncated, by name."""
    proj = new_project(tmp_path / "p")
    files = {}
    for ext in (".png", ".jpg", ".bmp"):
        files[ext] = tmp_path / f"whole{ext}"
        files[ext].write_bytes(encoded(ext))
    assert vellum("add", proj, *files.values()).returncode == 0
    result = vellum("validate", proj)
    assert result.returncode == 0, result.stdout
    for ext, keep in ((".png", -2), (".jpg", -2), (".bmp", -100)):
        files[ext].write_bytes(files[ext].read_bytes()[:keep])
    result = vellum("validate", proj)
    assert result.returncode == 3
    for ext, path in files.items():
        kind = {".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP"}[ext]
        assert f"/{path.name} is a truncated {kind}" in result.stdout, result.stdout


def test_the_window_marks_damaged_images(qtbot, tmp_path):
    """Opened in the window, each damaged image is marked in the media list (red mark, the
    sentence in its tooltip); the whole one shows its thumbnail. Screenshot:
    /tmp/damaged_image.png."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QSettings, Qt

    from app.io.ingest import add_media
    from app.widgets.main_window import MainWindow
    from app.widgets.media_list import ErrorRole

    png, jpg = encoded(".png", seed=1), encoded(".jpg", seed=2)
    files = {"a_cut_in_iend.png": png[:-2], "b_cut_in_data.png": png[:len(png) // 2],
             "c_cut_in_data.jpg": jpg[:len(jpg) * 2 // 3], "d_whole.png": encoded(".png")}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with Document.create(tmp_path / "p") as doc:
        report = add_media(doc, [tmp_path / n for n in files])
        assert len(report.added) == 4 and not report.errors
    win = MainWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    win.resize(1200, 700)
    win.show()
    assert win.open_project(tmp_path / "p")
    model = win.media.model
    rows = {model.data(model.index(r), Qt.DisplayRole): model.index(r)
            for r in range(model.rowCount())}
    damaged = [rows[n] for n in files if n != "d_whole.png"]
    qtbot.waitUntil(lambda: all(model.data(ix, ErrorRole) for ix in damaged)
                    and model.thumbnail_count() >= 1, timeout=20000)
    for name in files:
        tip = model.data(rows[name], Qt.ToolTipRole)
        if name == "d_whole.png":
            assert model.data(rows[name], ErrorRole) is None and "⚠" not in tip
        else:
            assert f"{name} is a truncated" in model.data(rows[name], ErrorRole)
            assert "⚠ " in tip and "truncated" in tip
    qtbot.wait(100)
    win.grab().save("/tmp/damaged_image.png")
    win.close()


def huge_tiff(path: Path) -> Path:
    """A valid 6x4 TIFF whose ImageWidth and ImageLength tags say 100000 (as LONGs)."""
    data = bytearray(encoded(".tiff", 4, 6))
    assert data[:2] == b"II"
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd:ifd + 2])
    for n in range(count):
        at = ifd + 2 + 12 * n
        if struct.unpack("<H", data[at:at + 2])[0] in (256, 257):
            data[at + 2:at + 12] = struct.pack("<HII", 4, 1, 100000)
    path.write_bytes(bytes(data))
    return path


def test_huge_and_undecodable_images_are_refused_in_one_sentence_each(tmp_path):
    """A TIFF claiming 100000x100000 pixels, and TIFF/WebP/JPEG 2000 files cut short: one
    `skipped:` sentence each naming the file, and nothing else on stderr (no OpenCV or
    OpenJPEG log line, no traceback)."""
    tiff = huge_tiff(tmp_path / "huge.tif")
    cut = []
    for ext in (".tif", ".webp", ".jp2"):
        data = encoded(ext)
        cut.append(tmp_path / f"cut{ext}")
        cut[-1].write_bytes(data[:len(data) // 2])
    proj = new_project(tmp_path / "p")
    result = vellum("add", proj, tiff, *cut)
    assert result.returncode == 1
    lines = err_lines(result)
    assert len(lines) == 4, result.stderr
    assert lines[0].startswith(f"skipped: {tiff} claims 100000x100000 pixels"), lines[0]
    for path, line in zip(cut, lines[1:]):
        assert line.startswith(f"skipped: {path} is "), line
    assert "Added nothing" in result.stdout


def png_with_size(data: bytes, w: int, h: int) -> bytes:
    """``data`` (a PNG) with its IHDR patched to say ``w`` x ``h``, CRC recomputed."""
    out = bytearray(data)
    out[16:24] = struct.pack(">II", w, h)
    out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])))
    return bytes(out)


@pytest.fixture(scope="module")
def models_env(tmp_path_factory) -> dict[str, str]:
    from app.inference.pack_import import import_models

    if not (SHARED_MODELS / "litemedsam").is_dir():
        pytest.skip(f"{SHARED_MODELS / 'litemedsam'} is absent on this machine")
    root = tmp_path_factory.mktemp("trust") / "models"
    assert import_models(SHARED_MODELS / "litemedsam", root).errors == []
    return {**os.environ, "VELLUM_MODELS_DIR": str(root)}


def test_segment_project_on_an_image_whose_header_lies(tmp_path, models_env):
    """`segment PROJECT` on an image replaced since it was added (other size; IHDR patched to
    another size; IHDR true but its data damaged): exactly one `vellum: error:` line naming
    the file, no libpng message above it."""
    good = encoded(".png", 48, 64)
    damaged_data = bytearray(good)
    at = good.index(b"IDAT") + 40
    damaged_data[at:at + 20] = bytes(20)
    cases = {"replaced": (encoded(".png", 60, 80), "is 80x60 pixels, but it was 64x48"),
             "ihdr_lies": (png_with_size(good, 128, 96), "is 128x96 pixels, but it was 64x48"),
             "huge_ihdr": (png_with_size(good, 100000, 100000), "claims 100000x100000"),
             "data_damaged": (bytes(damaged_data), "is damaged")}
    for name, (data, words) in cases.items():
        image = tmp_path / f"{name}.png"
        image.write_bytes(good)
        proj = new_project(tmp_path / f"p_{name}")
        assert vellum("add", proj, image).returncode == 0
        image.write_bytes(data)
        result = vellum("segment", proj, "--model", "litemedsam", "--box", 5, 5, 20, 20,
                        env=models_env, timeout=120)
        assert result.returncode == 1, (name, result.stdout)
        lines = err_lines(result)
        assert len(lines) == 1, (name, result.stderr)
        assert lines[0].startswith(f"vellum: error: {tmp_path}/") and f"{name}.png" in lines[0]
        assert words in lines[0], (name, lines[0])


@fifo_only
def test_fifos_and_devices_are_never_opened(tmp_path):
    """A FIFO or /dev/zero given to `add` or `import coco`: one sentence. A FIFO inside a
    folder being added: skipped with a note, the rest added. A media file replaced by a FIFO:
    `validate` reports it. Nothing blocks."""
    proj = new_project(tmp_path / "p")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        result = vellum("add", proj, path, timeout=30)
        assert result.returncode == 1
        (line,) = err_lines(result)
        assert line.startswith(f"skipped: {path} is a ") and "not a regular file" in line, line

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "good.png").write_bytes(encoded(".png"))
    os.mkfifo(folder / "waiting.jpg")
    result = vellum("add", proj, folder, timeout=30)
    assert result.returncode == 0, result.stderr
    (line,) = err_lines(result)
    assert line.startswith(f"note: {folder / 'waiting.jpg'} is a named pipe"), line
    assert "Added 1 image" in result.stdout

    (folder / "good.png").unlink()
    os.mkfifo(folder / "good.png")
    result = vellum("validate", proj, timeout=30)
    assert result.returncode == 3
    assert f"{folder.name}/good.png is not a regular file" in result.stdout, result.stdout

    json_fifo = tmp_path / "labels.json"
    os.mkfifo(json_fifo)
    for path in (json_fifo, Path("/dev/zero")):
        result = vellum("import", "coco", proj, path, "--images", folder, timeout=30)
        assert result.returncode == 1
        (line,) = err_lines(result)
        assert line.startswith(f"vellum: error: {path} is a ") and "regular file" in line

    coco = tmp_path / "c.json"
    coco.write_text(json.dumps({"images": [{"id": 1, "file_name": "waiting.jpg", "width": 5,
                                            "height": 5}], "annotations": [],
                                "categories": []}))
    result = vellum("import", "coco", proj, coco, "--images", folder, timeout=30)
    assert result.returncode == 1
    (line,) = err_lines(result)
    assert line.startswith("vellum: error: ") and "waiting.jpg" in line, line


def video_project(path: Path) -> Path:
    """A project holding one 40-frame video item (the file itself is not needed to import
    MOT lines)."""
    with Document.create(path) as doc:
        doc.execute(Put((MediaItem(kind=MediaKind.VIDEO, path="cam.mp4", fingerprint="f",
                                   size_bytes=1, width=0, height=0,
                                   video=VideoGeometry(40, 320, 240, avg_fps=25.0)),)))
    return path


def test_mot_import_refuses_binary_labels_and_fifos(tmp_path):
    """A binary labels.txt beside gt.txt, a FIFO as labels.txt or as gt.txt, /dev/zero as the
    file: one sentence naming it, the project unchanged."""
    proj = video_project(tmp_path / "p")
    seq = tmp_path / "seq"
    seq.mkdir()
    gt = seq / "gt.txt"
    gt.write_text("1,1,10,10,20,20,1,1,1\n2,1,12,10,20,20,1,1,1\n")
    labels = seq / "labels.txt"
    labels.write_bytes(bytes(range(256)) * 8)
    result = vellum("import", "mot", proj, gt, timeout=30)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = err_lines(result)
    assert line.startswith(f"vellum: error: {labels} is not") and "text" in line, line

    labels.unlink()
    if hasattr(os, "mkfifo"):
        os.mkfifo(labels)
        result = vellum("import", "mot", proj, gt, timeout=30)
        (line,) = err_lines(result)
        assert line.startswith(f"vellum: error: {labels} is a named pipe"), line
        labels.unlink()
        fifo_gt = tmp_path / "fifo_gt.txt"
        os.mkfifo(fifo_gt)
        result = vellum("import", "mot", proj, fifo_gt, timeout=30)
        (line,) = err_lines(result)
        assert line.startswith(f"vellum: error: {fifo_gt} is a named pipe"), line
    result = vellum("import", "mot", proj, "/dev/zero", timeout=30)
    (line,) = err_lines(result)
    assert line.startswith("vellum: error: /dev/zero is a character device"), line

    with Document.open(proj) as doc:
        assert not any(doc.annotation_counts().values())
    result = vellum("import", "mot", proj, gt, timeout=30)
    assert result.returncode == 0, result.stderr
