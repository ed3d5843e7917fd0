"""The `vellum` command, as a user scripts it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pycocotools.coco import COCO
from test_bad_input import vellum


def test_help_reads_well():
    result = vellum("--help")
    assert result.returncode == 0
    for cmd in ("new", "add", "import", "export", "validate", "info"):
        assert cmd in result.stdout
    assert "examples:" in result.stdout
    assert vellum("import", "coco", "--help").returncode == 0


def test_new_add_export_import_validate_info(tmp_path, shared_data):
    proj = tmp_path / "street"
    assert vellum("new", proj).returncode == 0
    images = shared_data / "images"
    result = vellum("add", proj, images)
    assert result.returncode == 0, result.stderr
    n_images = len([p for p in images.iterdir() if p.suffix.lower() in (".png", ".jpg")])
    assert f"Added {n_images} image" in result.stdout
    again = vellum("add", proj, images)
    assert f"{n_images} already in the project" in again.stdout

    out = tmp_path / "coco.json"
    result = vellum("export", "coco", proj, out)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert len(data["images"]) == n_images
    COCO(str(out))  # the reference loads it

    # a COCO file with a label, re-imported, lands on the same media (matched by content)
    data["categories"] = [{"id": 1, "name": "thing"}]
    data["annotations"] = [{"id": 1, "image_id": data["images"][0]["id"], "category_id": 1,
                            "bbox": [1, 2, 3, 4], "segmentation": [], "area": 12,
                            "iscrowd": 0}]
    labelled = tmp_path / "labelled.json"
    labelled.write_text(json.dumps(data))
    result = vellum("import", "coco", proj, labelled, "--images", images)
    assert result.returncode == 0, result.stderr
    assert "Imported 1 annotations, 0 new media, 1 new classes" in result.stdout

    result = vellum("validate", proj)
    assert result.returncode == 0 and "no problems found" in result.stdout
    info = vellum("info", proj, "--shapes")
    assert info.returncode == 0
    assert f"Media     {n_images}: {n_images} image" in info.stdout
    assert "1 box" in info.stdout


def test_validate_reports_missing_and_changed_media(tmp_path):
    from factories import project_with_every_shape

    doc, img_dir = project_with_every_shape(tmp_path)
    doc.close()
    (img_dir / "img1.png").rename(tmp_path / "img1.png")
    (img_dir / "img0.png").write_bytes((img_dir / "img0.png").read_bytes() + b"x")
    result = vellum("validate", tmp_path / "proj")
    assert result.returncode == 3
    assert "img1.png is missing" in result.stdout
    assert "img0.png has changed" in result.stdout
    moved = tmp_path / "moved"
    moved.mkdir()
    (tmp_path / "img1.png").rename(moved / "img1.png")
    result = vellum("relink", tmp_path / "proj", moved)
    assert "Relinked 1 media" in result.stdout
    assert "img1.png is missing" not in vellum("validate", tmp_path / "proj").stdout


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("vellum")
    assert exe.exists(), "pip install -e . provides the vellum console script"
    assert subprocess.run([str(exe), "--version"], capture_output=True).returncode == 0


def test_author_option_is_recorded(tmp_path):
    from app.core.document import Document

    assert vellum("--author", "Field Team 3", "new", tmp_path / "p").returncode == 0
    images = tmp_path / "imgs"
    images.mkdir()
    from factories import write_image

    write_image(images / "a.png", 8, 8)
    assert vellum("--author", "Field Team 3", "add", tmp_path / "p", images).returncode == 0
    with Document.open(tmp_path / "p") as doc:
        assert doc.store.history(1)[0]["author"] == "Field Team 3"
