"""A project written by the previous release (format 1, committed as a fixture) opens in the
current format with every annotation, track, segment and painted voxel in place."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np

from app.core.document import Document
from app.core.places import Place
from app.core.shapes import Box, Event, Polygon, Tag
from app.core.store import SCHEMA_VERSION

FIXTURE = Path(__file__).with_name("fixtures") / "v1_project"


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "old"
    shutil.copytree(FIXTURE, dst)
    return dst


def test_the_fixture_really_is_format_1():
    with sqlite3.connect(FIXTURE / "project.vellum") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_a_format_1_project_opens_with_everything_in_place(tmp_path):
    folder = _copy(tmp_path)
    with sqlite3.connect(folder / "project.vellum") as conn:
        old_rows = conn.execute("SELECT id, media_id, frame, plane, track_id, kind, shape FROM "
                                "annotations").fetchall()
    conn.close()
    with Document.open(folder) as doc:
        assert doc.store.meta() and SCHEMA_VERSION >= 2
        images = [m for m in doc.media() if m.kind.value == "image"]
        assert len(images) == 2
        # every annotation survives, with its shape
        every = {a.id: a for m in doc.media() for a in doc.annotations(m.id, all_frames=True)}
        assert set(every) == {r[0] for r in old_rows}
        assert len(doc.annotations(images[0].id)) == 9
        # video: keyframes by frame, an event and a tag on the whole video / a frame
        assert [a.id for a in doc.annotations("video1", 40) if a.track_id] == ["key40"]
        assert doc.annotations(Place("video1"))[0].shape == Event(10, 20)
        assert doc.annotations("video1", 5)[0].shape == Tag()
        # the second keyframe of one track on one frame is kept, detached from the track
        assert every["dupkey40"].track_id is None and every["dupkey40"].frame == 40
        track = doc.track("track1")
        assert [a.frame for a in doc.track_shapes(track)] == [0, 40, 99]
        # volume slices: patient-plane names became array axes
        axial = doc.annotations(Place("vol1", axis="k", index=7))
        assert [a.id for a in axial] == ["axial7"] and isinstance(axial[0].shape, Polygon)
        assert [a.shape for a in doc.annotations(Place("vol1", axis="i", index=30))] == [
            Box(1, 1, 4, 4)]
        vol = doc.media_item("vol1")
        assert vol.source is not None and vol.source.series_uid == "1.2.3"
        assert vol.source.modality == "CT" and vol.volume_shape == (20, 40, 70)
        # the label map's voxels, now in bricks, and the schema's segments now its own
        (lm,) = doc.labelmaps("vol1")
        assert [(s.value, s.name) for s in lm.segments] == [(1, "bone"), (2, "brain")]
        labels = doc.labelmap_volume(lm.id)
        expected = np.zeros((20, 40, 70), np.uint8)
        expected[3:7, 7:13, 16:51] = 1
        expected[4, 5, 6] = 2
        assert np.array_equal(labels, expected)
        assert doc.store.brick_keys(lm.id) == [(0, 0, 0), (0, 0, 1)]
        # the audit trail and the files still check out
        from app.core.validate import problems

        assert problems(doc, check_files=False) == []


def test_a_migrated_project_keeps_working_and_reopens(tmp_path):
    folder = _copy(tmp_path)
    with Document.open(folder) as doc:
        (lm,) = doc.labelmaps("vol1")
        from app.core.commands import ModifyLabelMap

        doc.execute(ModifyLabelMap(lm.id, (0, 0, 0), np.ones((1, 2, 2), bool), value=2))
    with Document.open(folder) as doc:
        assert doc.labelmap_region(lm.id, (0, 0, 0), (1, 2, 2)).tolist() == [[[2, 2], [2, 2]]]


def test_values_no_segment_names_get_segments_on_migration(tmp_path):
    """A format-1 label map holding values without segment records (format 1 allowed it)
    migrates into a project that validates: one named, coloured segment per value, no class."""
    import json
    import subprocess
    import sys

    folder = _copy(tmp_path)
    with sqlite3.connect(folder / "project.vellum") as conn:
        body = json.loads(conn.execute("SELECT body FROM label_schema").fetchone()[0])
        body["segments"] = [s for s in body["segments"] if s["value"] == 2]  # 1 unnamed
        conn.execute("UPDATE label_schema SET body = ?", (json.dumps(body),))
    conn.close()
    result = subprocess.run([sys.executable, "-m", "app", "validate", str(folder), "--skip-files"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    with Document.open(folder) as doc:
        (vol,) = [m for m in doc.media() if m.kind.value == "volume"]
        (info,) = doc.labelmaps(vol.id)
        by_value = {s.value: s for s in info.segments}
        assert set(by_value) >= {1, 2}
        assert by_value[2].name == "brain"
        assert by_value[1].name and by_value[1].class_id is None
        assert by_value[1].color != by_value[2].color
