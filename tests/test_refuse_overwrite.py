"""``refuse_overwrite``: every way a target can be a protected file or lie in a protected folder
is refused in one sentence; unrelated targets pass."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.errors import VellumError
from app.io.atomic import refuse_overwrite


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    media = tmp_path / "media.png"
    media.write_bytes(b"png")
    series = tmp_path / "series"
    series.mkdir()
    (series / "1.dcm").write_bytes(b"dcm")
    return {"media": media, "series": series, "missing": tmp_path / "moved" / "gone.png"}


def _protected(files: dict[str, Path]) -> list[tuple[Path, str]]:
    return [(files["media"], "a media file of the project"),
            (files["series"], "a DICOM series of the project"),
            (files["missing"], "a media file of the project")]


def _targets(tmp_path: Path, files: dict[str, Path]) -> dict[str, Path]:
    hard = tmp_path / "hard.png"
    os.link(files["media"], hard)
    soft = tmp_path / "soft.json"
    soft.symlink_to(files["media"])
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(files["missing"])
    return {"the file": files["media"], "a hard link": hard, "a symlink": soft,
            "a dangling link to a missing media path": dangling,
            "the missing media path": files["missing"],
            "the series folder": files["series"],
            "a file in the series": files["series"] / "1.dcm",
            "a new file in the series": files["series"] / "out.json",
            "a dotted path": tmp_path / "series" / ".." / "media.png"}


def test_every_way_onto_a_protected_file_is_refused(tmp_path, files):
    for what, target in _targets(tmp_path, files).items():
        with pytest.raises(VellumError) as exc:
            refuse_overwrite(target, _protected(files))
        msg = str(exc.value)
        assert msg.startswith("Refusing to write") and msg.count(". ") == 0, (what, msg)


def test_unrelated_targets_pass(tmp_path, files):
    other = tmp_path / "other.png"
    other.write_bytes(b"png")  # same bytes elsewhere is not the same file
    for target in (tmp_path / "out.json", other, tmp_path / "seriesX" / "a.json"):
        refuse_overwrite(target, _protected(files))
