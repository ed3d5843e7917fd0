"""``vellum track ... --box ... --box ...``: several objects tracked in one job, each exactly as
its own run would (issue 19's CLI contract): the JSON form with several boxes is
``{"tracks": [{"box": [x, y, w, h], "frames": [...]}, ...]}`` in the order of the boxes, each
``frames`` as the one-box form; in a project, one track per box."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import cli
from app.core.document import Document

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIP = SHARED / "data" / "video" / "track_patch.mp4"
BOXES = [(285.0, 137.0, 70.0, 70.0), (40.0, 40.0, 60.0, 50.0)]  # the patch; a corner of scene


def _clip() -> Path:
    if not CLIP.exists():
        pytest.skip(f"{CLIP} is absent on this machine")
    return CLIP


def _run(capsys, *argv: str) -> dict:
    assert cli.main(["track", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def _args(boxes) -> list[str]:
    out = []
    for b in boxes:
        out += ["--box", *map(str, b)]
    return out


def test_several_boxes_in_one_job_equal_separate_runs(capsys):
    clip = str(_clip())
    common = ["--model", "classical", "--start", "0", "--end", "24", "--json"]
    alone = [_run(capsys, clip, *common, *_args([b])) for b in BOXES]
    together = _run(capsys, clip, *common, *_args(BOXES))
    assert [t["box"] for t in together["tracks"]] == [list(b) for b in BOXES]
    for one, track in zip(alone, together["tracks"]):
        assert track["frames"] == one["frames"] and track["states"] == one["states"]
        assert len(track["frames"]) == 25
    assert "frames" not in together  # the one-box form is kept for one box only
    assert set(alone[0]) >= {"frames", "states", "lost_policy"}


def test_several_boxes_in_a_project_make_one_track_each(tmp_path, capsys):
    project = tmp_path / "p"
    assert cli.main(["new", str(project)]) == 0
    assert cli.main(["add", str(project), str(_clip())]) == 0
    capsys.readouterr()
    assert cli.main(["track", str(project), "--model", "classical", "--start", "0",
                     "--end", "10", *_args(BOXES), "--class", "thing"]) == 0
    said = capsys.readouterr().out
    assert said.count("Tracked track_patch.mp4 over") == 2
    with Document.open(project) as doc:
        (item,) = doc.media()
        tracks = doc.tracks(item.id)
        assert len(tracks) == 2
        firsts = sorted(a.shape.bbox() for t in tracks for a in doc.track_shapes(t)
                        if a.frame == 0)
        assert firsts == sorted(BOXES)


def test_the_frame_cache_size_follows_the_environment(monkeypatch):
    """``VELLUM_FRAME_CACHE_MB`` sets each open video's decoded-frame cache (issue 19: the
    cache was a fixed 1 GiB); a value that is no whole number from 16 is ignored."""
    from app.io.video import open_video
    from app.io.video.reader import DEFAULT_CACHE_BYTES

    clip = _clip()
    for value, expected in (("256", 256 << 20), ("", DEFAULT_CACHE_BYTES),
                            ("lots", DEFAULT_CACHE_BYTES), ("4", DEFAULT_CACHE_BYTES)):
        monkeypatch.setenv("VELLUM_FRAME_CACHE_MB", value)
        with open_video(clip) as reader:
            assert reader.cache_bytes == expected, value
    with open_video(clip, cache_bytes=64 << 20) as reader:  # an explicit cap wins
        assert reader.cache_bytes == 64 << 20
