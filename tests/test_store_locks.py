"""A process that holds a project open never loses its SQLite locks on it (issue 14, item 1).

On POSIX, closing any descriptor of a file drops all of the process's locks on it. If the app
opened the project file by itself (a header check, a media scan of the project's folder) while
holding a connection, the next other process to close the project would checkpoint and delete
the live WAL, and every later edit would go into a deleted file: "Saved", yet gone after a
crash. These tests hold a project open, do what the window does, run a second process, edit
more, and check what a *new* process reads and where /proc/self/fd points.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from factories import image_item, make_schema, write_image

from app.core.annotations import Annotation
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.places import Place
from app.core.shapes import Box

DRIVER = Path(__file__).with_name("store_lock_driver.py")
PROC_FD = Path("/proc/self/fd")
needs_proc = pytest.mark.skipif(not PROC_FD.is_dir(), reason="needs Linux /proc/self/fd")
posix = pytest.mark.skipif(os.name != "posix", reason="POSIX lock semantics")


def vellum(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def stored_annotations(project: Path) -> int:
    """How many annotations a new process reads (``vellum info``)."""
    result = vellum("info", project)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("Labels"))
    return int(line.split()[1])


def project_files_open(targets: list[str], project: Path) -> list[str]:
    return [t for t in targets if t.startswith(str(project))]


def fd_targets() -> list[str]:
    out = []
    for fd in os.listdir(PROC_FD):
        try:
            out.append(os.readlink(PROC_FD / fd))
        except OSError:
            continue
    return out


@pytest.fixture
def project(tmp_path) -> Path:
    """A project with one image and the test classes; returns its project file."""
    doc = Document.create(tmp_path / "proj")
    (doc.folder / "images").mkdir()
    item = image_item(write_image(doc.folder / "images" / "a.png", 320, 240), doc)
    doc.execute(Put((item,)))
    doc.execute(SetSchema(make_schema()))
    path = doc.path
    doc.close()
    return path


def _box(doc: Document, n: int) -> Annotation:
    return Annotation(Place(doc.media()[0].id), Box(3.0 + n, 4.0, 10.0, 8.0),
                      doc.schema.classes[0].id)


def _assert_wal_alive(targets: list[str], db: Path) -> None:
    mine = project_files_open(targets, db)
    assert not [t for t in mine if t.endswith("(deleted)")], mine
    assert f"{db}-wal" in mine, mine  # writing into the live journal


# ------------------------------------------------------------------ in this process
@posix
@needs_proc
def test_second_open_in_the_same_process_keeps_the_wal(project):
    """Open the project twice in this process (as the window's export worker does), close the
    second, let another process open and close it: edits made after that are on disk."""
    doc = Document.open(project)
    try:
        doc.execute(Put((_box(doc, 0),)))
        Document.open(project).close()
        assert stored_annotations(project) == 1
        for n in range(1, 4):
            doc.execute(Put((_box(doc, n),)))
        _assert_wal_alive(fd_targets(), project)
        assert stored_annotations(project) == 4
    finally:
        doc.close()


@posix
@needs_proc
def test_adding_the_project_folder_keeps_the_wal(project):
    """Adding the project's own folder as media (the project file, its journal and lock lie
    in it) neither adds nor opens them."""
    from app.io.ingest import add_media

    doc = Document.open(project)
    try:
        doc.execute(Put((_box(doc, 0),)))
        write_image(doc.folder / "b.png", 64, 48, seed=3)
        report = add_media(doc, [doc.folder])
        assert [m.path for m in report.added] == ["b.png"], report
        assert stored_annotations(project) == 1
        doc.execute(Put((_box(doc, 1),)))
        _assert_wal_alive(fd_targets(), project)
        assert stored_annotations(project) == 2
    finally:
        doc.close()


@posix
@needs_proc
def test_reading_the_open_project_as_coco_keeps_the_wal(project):
    """A COCO import pointed at the project file itself (in the process that holds it) is
    refused without opening it."""
    from app.core.errors import VellumError
    from app.io.coco import plan_import

    doc = Document.open(project)
    try:
        doc.execute(Put((_box(doc, 0),)))
        with pytest.raises(VellumError) as refused:
            plan_import(doc, project, doc.folder)
        assert stored_annotations(project) == 1
        doc.execute(Put((_box(doc, 1),)))
        _assert_wal_alive(fd_targets(), project)
        assert stored_annotations(project) == 2
        assert "project's own file" in str(refused.value)
    finally:
        doc.close()


@posix
@needs_proc
def test_opening_a_project_many_times_shares_one_descriptor(project):
    """The header check holds one descriptor per project file, shared by every open store of
    this process, and closes it with the last one (no descriptor leak)."""
    def held() -> int:
        return sum(1 for t in fd_targets() if t == str(project))

    before = project_files_open(fd_targets(), project)
    docs = [Document.open(project)]
    try:
        one = held()
        docs += [Document.open(project) for _ in range(4)]
        assert held() == one + 4  # SQLite's own descriptor per connection, nothing more
    finally:
        for d in docs:
            d.close()
    assert project_files_open(fd_targets(), project) == before


# ------------------------------------------------------------------ a long-lived process, killed
def _run_driver(mode: str, project: Path, tmp_path: Path) -> tuple[list[str], str]:
    """Run the driver until it idles; returns its /proc/self/fd targets and its stderr. The
    driver is SIGKILLed at the end (no close, no checkpoint)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.Popen([sys.executable, str(DRIVER), mode, str(project),
                             str(tmp_path / "out.json"), str(tmp_path / "s.ini")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    fds: list[str] = []
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("exported"):
                # another process opens and closes the project while the driver holds it
                info = vellum("info", project)
                assert info.returncode == 0, info.stderr
                proc.stdin.write("go\n")
                proc.stdin.flush()
            elif line.startswith("fds "):
                fds = json.loads(line[4:])
            elif line.startswith("idle"):
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        err = proc.communicate(timeout=60)[1]
    assert "idle" in lines, (lines, err)
    assert not [ln for ln in lines if ln.startswith("error")], lines
    return fds, err


@posix
@needs_proc
def test_window_export_path_then_other_process_then_kill(project, tmp_path):
    """A Document held by a process, the window's own export code (a second connection on a
    worker thread), ``vellum info`` meanwhile, more edits, kill -9: all edits are on disk."""
    fds, err = _run_driver("doc", project, tmp_path)
    _assert_wal_alive(fds, project)
    assert stored_annotations(project) == 4, err
    assert json.loads((tmp_path / "out.json").read_text())["annotations"]
    check = vellum("validate", project)
    assert check.returncode == 0, check.stdout + check.stderr


@posix
@needs_proc
def test_real_window_ctrl_e_then_other_process_then_kill(project, tmp_path):
    """The real window: a box drawn, Ctrl+E, ``vellum info`` in a terminal, three more boxes
    drawn, kill -9: a new process reads all four boxes."""
    pytest.importorskip("PySide6")
    fds, err = _run_driver("window", project, tmp_path)
    _assert_wal_alive(fds, project)
    assert json.loads((tmp_path / "out.json").read_text())["annotations"], err
    assert stored_annotations(project) == 4, err
