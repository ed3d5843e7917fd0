"""The frame index: built once by demuxing, cached by content, rebuilt when damaged; and the
import report built from it (edit lists, rotation, VFR, duplicated timestamps, damage)."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from test_video_decoder import _private_cache, ffmpeg_count, video_media  # noqa: F401

from app.core.errors import BadInputError, UnsupportedFormatError
from app.io.video import load_index, open_video
from app.io.video import build as build_module
from app.io.video.cachedir import cache_folder, video_index_folder


def _no_build(*args, **kwargs):
    raise AssertionError("the index was built again")


def test_index_is_cached_by_content_and_reused(video_media, monkeypatch, tmp_path):
    path = video_media["editlist"]
    first, fp = load_index(path)
    files = list(video_index_folder().glob("*.npz"))
    assert [f.stem for f in files] == [fp.split(":")[1]]
    assert not list(video_index_folder().glob(".*.tmp"))  # written atomically, no leftovers
    monkeypatch.setattr("app.io.video.store.build_index", _no_build)
    again, _ = load_index(path)
    assert np.array_equal(again.frame_pkt, first.frame_pkt)
    with open_video(path) as v:  # a reader opens from the cache too
        assert v.frame_count == first.frame_count
    copy = tmp_path / "moved.mp4"  # same content elsewhere: same index
    copy.write_bytes(path.read_bytes())
    assert load_index(copy)[0].frame_count == first.frame_count


def test_damaged_or_foreign_cache_file_is_rebuilt(video_media):
    path = video_media["bframes"]
    index, fp = load_index(path)
    store = video_index_folder() / f"{fp.split(':')[1]}.npz"
    for damage in (b"", b"not an index at all", store.read_bytes()[:200]):
        store.write_bytes(damage)
        rebuilt, _ = load_index(path)
        assert rebuilt.frame_count == index.frame_count == 48
    other, other_fp = load_index(video_media["vp9"])
    other_store = video_index_folder() / f"{other_fp.split(':')[1]}.npz"
    store.write_bytes(other_store.read_bytes())  # another video's index under this name
    assert load_index(path)[0].frame_count == 48 != other.frame_count


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VELLUM_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine"
    monkeypatch.delenv("VELLUM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and "darwin" not in os.sys.platform:
        assert cache_folder() == tmp_path / "xdg" / "vellum"


def test_a_changed_file_gets_a_new_index(video_media, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(video_media["bframes"].read_bytes())
    assert load_index(path)[0].frame_count == 48
    path.write_bytes(video_media["editlist"].read_bytes())
    assert load_index(path)[0].frame_count == ffmpeg_count(path)


def test_demuxing_alone_builds_a_clean_index(video_media, monkeypatch):
    """verify="needed" decodes only the first picture of a clean stream, while demuxing."""
    passes = []
    real = build_module._decode_pass

    def counting(path, pts, stop, first_only, *a, **k):
        passes.append((stop, first_only))
        return real(path, pts, stop, first_only, *a, **k)

    monkeypatch.setattr(build_module, "_decode_pass", counting)
    index, _ = load_index(video_media["bframes"], verify="needed")
    assert passes == [] and not index.verified and index.meta["pix_fmt"] == "yuv420p"
    passes.clear()
    index, _ = load_index(video_media["ts_cut"], verify="needed", use_cache=False)
    assert passes and passes[0][0] is not None  # the cut start was decoded to learn drops
    assert index.frame_count == ffmpeg_count(video_media["ts_cut"])


def test_report_of_an_edit_list_cut(video_media):
    with open_video(video_media["editlist"]) as v:
        r = v.report
        assert r.discarded_packets > 0 and r.frame_count == ffmpeg_count(video_media["editlist"])
        assert r.declared_frames == r.frame_count + r.discarded_packets
        assert any("edit list" in n for n in r.notes)
        assert r.b_frames and not r.is_vfr and r.start_time == 0.0
        text = r.text()
        assert f"{r.frame_count} frames" in text and "edit list" in text


def test_report_of_rotation_vfr_and_duplicates(video_media):
    with open_video(video_media["rotate90"]) as v:
        r = v.report
        assert (r.width, r.height, r.coded_width, r.coded_height) == (96, 160, 160, 96)
        assert r.rotation in (90, 270) and any("rotation" in n for n in r.notes)
    with open_video(video_media["vfr"]) as v:
        r = v.report
        assert r.is_vfr and r.min_interval_ms == 17 and r.max_interval_ms == 67
        assert "VARIABLE" in r.text()
    with open_video(video_media["duplicated"]) as v:
        r = v.report
        assert r.duplicated_timestamps == 1 and r.duplicated_frames == [10]
        assert r.frame_count == ffmpeg_count(video_media["duplicated"]) == 30
    with open_video(video_media["opengop_ts"]) as v:
        assert v.report.start_time == pytest.approx(11.4)
        assert v.timestamps[0] == 0.0


def test_truncated_files_open_with_a_report(video_media):
    for case in ("truncated_mp4", "truncated_mkv", "truncated_ts"):
        path = video_media[case]
        with open_video(path) as v:
            assert v.frame_count == ffmpeg_count(path) > 0, case
            v.frame(v.frame_count - 1)
    with open_video(video_media["truncated_mp4"]) as v:
        r = v.report
        assert r.verified and r.decode_errors
        assert all(video_media["truncated_mp4"].name not in e or e.endswith(".")
                   for e in r.decode_errors)
        assert any("could not be decoded" in e for e in r.decode_errors)


def test_damage_the_demuxer_misses_is_found_and_the_index_corrected(tmp_path, video_media):
    """A packet whose data is broken (the container looks fine): ffmpeg skips its picture.
    With the demux-only index the first decode that meets it rebuilds the index."""
    import av

    src = video_media["bframes"]
    with av.open(str(src)) as c:
        pk = [(p.pos, p.size, p.is_keyframe) for p in c.demux(c.streams.video[0]) if p.size]
    pos = next(p for i, (p, s, k) in enumerate(pk) if i > 20 and not k)
    data = bytearray(src.read_bytes())
    data[pos:pos + 4] = b"\x7f\xff\xff\xff"  # an impossible NAL unit length
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    want = ffmpeg_count(bad)
    assert want == 47
    with open_video(bad, verify="needed") as v:
        assert v.frame_count == 48  # demuxing cannot know
        for n, _ in v.frames():
            pass
        assert v.frame_count == want and v.index.verified
        assert any("rebuilt" in note for note in v.report.notes)
    with open_video(bad, verify="auto") as v:  # the cached, corrected index
        assert v.frame_count == want
    with open_video(tmp_path / "bad.mp4", verify="always") as v:
        assert v.frame_count == want and v.report.decode_errors


def test_unreadable_files_are_one_sentence(tmp_path, video_media):
    cases = {"empty.mp4": b"", "noise.mp4": os.urandom(5000),
             "head.mp4": video_media["bframes"].read_bytes()[:3000]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BadInputError, match=name) as err:
            open_video(tmp_path / name)
        assert str(err.value).endswith(".") and "\n" not in str(err.value)
    with pytest.raises(BadInputError, match="missing.mp4"):
        open_video(tmp_path / "missing.mp4")
    audio = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=0.2", str(audio)],
                   check=True)
    with pytest.raises(UnsupportedFormatError, match="tone.m4a has no video stream"):
        open_video(audio)
