"""A media file whose name is not valid UTF-8 (issue 14, item 6): added, stored so that it
reopens the same file, and shown, validated and exported without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import write_image

from app.core.document import Document

RAW = b"bad\xffname.png"  # 0xff never occurs in UTF-8


def vellum(*args: str | Path, strict: bool = False) -> subprocess.CompletedProcess:
    """Run the CLI; ``strict``: stdout/stderr refuse what is not UTF-8 (as under a UTF-8
    locale such as en_US.UTF-8)."""
    env = {**os.environ, **({"PYTHONIOENCODING": "utf-8:strict"} if strict else {})}
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env)


def assert_clean(result: subprocess.CompletedProcess, code: int = 0) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stdout + result.stderr


@pytest.fixture
def image(tmp_path) -> Path:
    if os.name != "posix":
        pytest.skip("names are bytes only on POSIX")
    folder = tmp_path / "img"
    folder.mkdir()
    try:
        return write_image(folder / os.fsdecode(RAW), 40, 30)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")


def test_non_utf8_file_name_is_added_and_reopens_the_same_file(image, tmp_path):
    proj = tmp_path / "proj"
    assert_clean(vellum("new", proj))
    added = vellum("add", proj, image.parent, strict=True)
    assert_clean(added)
    assert "Added 1 image" in added.stdout
    info = vellum("info", proj, strict=True)
    assert_clean(info)
    assert "Media     1: 1 image" in info.stdout
    assert_clean(vellum("validate", proj, strict=True))
    with Document.open(proj) as doc:  # this process did not add it: read from the store
        [item] = doc.media()
        assert os.fsencode(item.path).endswith(RAW)
        assert os.path.samefile(doc.media_path(item), image)
    again = vellum("add", proj, image.parent)
    assert_clean(again)
    assert "1 already in the project" in again.stdout


def test_non_utf8_file_name_exports_as_utf8_json(image, tmp_path):
    """COCO ``file_name`` keeps the name as the JSON escape ``\\udcff`` of Python's PEP 383
    form: the file is valid UTF-8, and a Python reader gets the name that opens the file."""
    proj = tmp_path / "proj"
    assert_clean(vellum("new", proj))
    assert_clean(vellum("add", proj, image.parent))
    out = tmp_path / "out.json"
    assert_clean(vellum("export", "coco", proj, out, strict=True))
    raw = out.read_bytes()
    data = json.loads(raw.decode("utf-8"))  # strict UTF-8
    assert b'"file_name":"bad\\udcffname.png"' in raw
    [entry] = data["images"]
    assert os.fsencode(entry["file_name"]) == RAW
    assert (image.parent / entry["file_name"]).is_file()


def test_missing_non_utf8_file_is_reported_by_name(image, tmp_path):
    proj = tmp_path / "proj"
    assert_clean(vellum("new", proj))
    assert_clean(vellum("add", proj, image.parent))
    image.rename(image.with_name("moved.png"))
    check = vellum("validate", proj, strict=True)
    assert_clean(check, 3)
    assert "bad\\udcffname.png is missing" in check.stdout
