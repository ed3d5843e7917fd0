"""``gc_paused``: the collector is off inside, back as it was after (nested, on error, and
when it was off to begin with), and an export leaves it running."""

from __future__ import annotations

import gc

import pytest

from app.io.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def _collector_on():
    """These tests start with automatic collection on (a window earlier in this process may
    have moved it to its UI thread: app/widgets/ui_gc.py), and leave it as they found it."""
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_nested_pauses_resume_once_the_last_ends():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_resumes_it():
    with pytest.raises(RuntimeError):
        with gc_paused():
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_export_leaves_the_collector_running(tmp_path):
    from factories import project_with_every_shape

    from app.io.coco import export_coco

    doc, _ = project_with_every_shape(tmp_path)
    with doc:
        export_coco(doc, tmp_path / "out.json")
    assert gc.isenabled()
