"""Special files where a command reads (FIFOs, /dev/zero, folders, dangling and looping links),
and the control: a few cases run as a real ``python -m app`` as well, which must answer as the
fork server's child did (see tests/fuzz/README.md)."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from fuzz_case_dicom import add_dicom
from fuzz_case_labels import import_coco, import_mot, import_nifti
from fuzz_case_media import add_image, add_nifti, add_video, video_info
from fuzz_case_models import models_import
from fuzz_case_special import special
from fuzz_harness import ERROR_PREFIXES, Case

pytestmark = pytest.mark.slow

CONTROL_MAKERS = (("add_png", add_image(".png")), ("add_jpeg", add_image(".jpg")),
                  ("add_mp4", add_video(("clip.mp4",))), ("add_dicom", add_dicom),
                  ("add_nifti", add_nifti), ("import_coco", import_coco),
                  ("import_mot", import_mot), ("import_nifti", import_nifti),
                  ("models_import", models_import), ("video_info", video_info))


def test_fuzz_special_files(fuzzer):
    fuzzer.run("special_files", 45, special)


def _copy_case(case: Case, folder: Path) -> Case:
    """The same case in a copy of its folder (same bytes: archives hold times, so building it
    twice would not do; a name of the same length: messages may shorten what follows a
    path)."""
    shutil.copytree(case.watch, folder, symlinks=True)
    moved = lambda p: Path(str(p).replace(str(case.watch), str(folder)))  # noqa: E731
    return dataclasses.replace(case, argv=[a.replace(str(case.watch), str(folder))
                                           for a in case.argv],
                               cwd=moved(case.cwd), watch=folder,
                               project=moved(case.project) if case.project else None)


def _signature(out, root) -> tuple:
    """What must agree between the fork server and a real interpreter: how it ended and the
    error lines (paths of the case folder left out)."""
    lines = [re.sub(re.escape(str(root)) + r"[^ ]*", "<case>", ln)
             for ln in out.stderr.splitlines() if ln.startswith(ERROR_PREFIXES)]
    return out.status(), "Traceback" in out.stderr, tuple(lines)


def test_fuzz_control_real_interpreter(fuzzer):
    """Ten cases drawn like the others, each built twice from the same seed: once through the
    fork server, once through ``python -m app``; both judged, and their answers compared."""
    only = fuzzer.only
    indices = [only] if only is not None else range(max(1, round(10 * fuzzer.scale)))
    failures = []
    for index in indices:
        family, maker = CONTROL_MAKERS[index % len(CONTROL_MAKERS)]
        name = f"control_{family}"
        a = fuzzer.make(name, index, maker, tag="-fork")
        b = _copy_case(a, a.watch.with_name(a.watch.name.replace("-fork", "-exec")))
        for case in (a, b):
            case.family = "control_real_interpreter"
            case.mutation = f"{family}: {case.mutation}"
        bad_a, out_a = fuzzer.execute(a)
        bad_b, out_b = fuzzer.execute(b, control=True)
        sig_a, sig_b = _signature(out_a, a.watch), _signature(out_b, b.watch)
        if sig_a != sig_b:
            bad_b.append(("harness mismatch", f"fork server: {sig_a}; python -m app: {sig_b}"))
        if bad_a:
            failures.append(fuzzer.report(a, bad_a, out_a))
        if bad_b:
            failures.append("(python -m app) " + fuzzer.report(b, bad_b, out_b))
        if not bad_a and not bad_b:
            shutil.rmtree(a.watch, ignore_errors=True)
            shutil.rmtree(b.watch, ignore_errors=True)
    assert not failures, (f"{len(failures)} control runs broke a promise "
                          f"(VELLUM_FUZZ_SEED={fuzzer.seed}):\n\n" + "\n\n".join(failures))
