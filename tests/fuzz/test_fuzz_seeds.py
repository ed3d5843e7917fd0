"""The harness itself: every unmutated seed is accepted by its command through the fork server
(exit 0, no error line, the project validates), so a fuzz failure is the mutation's doing; and
a crash, a hang, a traceback, a thread that never ends, a runaway allocation and network use in
a child are each caught and classed."""

from __future__ import annotations

import shutil

import pytest

from fuzz_case_media import put, template
from fuzz_harness import Case

pytestmark = pytest.mark.slow


def _seed_cases(seeds, root):
    """(label, case) for each seed as it was made."""
    out = []

    def case(label, tmpl, argv_of):
        d = root / label
        d.mkdir()
        proj = template(seeds, tmpl, d) if tmpl else None
        argv, names = argv_of(d, proj)
        out.append((label, Case(argv, d, "unmutated seed", names, project=proj)))

    for suffix, path in seeds.images.items():
        case(f"add{suffix}", "add", lambda d, p, path=path: (
            ["add", str(p), str(put(d, path.name, path.read_bytes()))], [path.name]))
    for name, path in seeds.videos.items():
        case(f"add-{name}", "add", lambda d, p, path=path: (
            ["add", str(p), str(put(d, path.name, path.read_bytes()))], [path.name]))
        case(f"info-{name}", None, lambda d, p, path=path: (
            ["video", "info", "--json", str(put(d, path.name, path.read_bytes()))],
            [path.name]))
    for how, folder in seeds.dicom.items():
        def dicom(d, p, folder=folder):
            dst = d / "fuzz-input" / folder.name
            shutil.copytree(folder, dst)
            return (["add", str(p), str(dst)] if p else ["volume", "info", str(dst)]), [
                folder.name]
        case(f"add-dicom-{how}", "add", dicom)
        case(f"info-dicom-{how}", None, dicom)
    for suffix, path in seeds.nifti.items():
        case(f"add{suffix}", "add", lambda d, p, path=path: (
            ["add", str(p), str(put(d, path.name, path.read_bytes()))], [path.name]))
    for src in (seeds.coco, seeds.coco_handmade):
        case(f"coco-{src.stem}", "coco", lambda d, p, src=src: (
            ["import", "coco", str(p), str(put(d, src.name, src.read_bytes())), "--images",
             str(d / "media" / "images")], [src.name]))

    def mot(d, p):
        put(d, "labels.txt", seeds.mot.with_name("labels.txt").read_bytes())
        return ["import", "mot", str(p), str(put(d, "gt.txt", seeds.mot.read_bytes()))], [
            "gt.txt"]
    case("mot", "mot", mot)

    def labelmap(d, p):
        for f in seeds.labelmap.parent.iterdir():
            put(d, f.name, f.read_bytes())
        return ["import", "nifti", str(p), str(d / "fuzz-input" / seeds.labelmap.name)], [
            seeds.labelmap.name]
    case("labelmap", "labelmap", labelmap)
    for form in (seeds.pack, seeds.pack_zip, seeds.pack_tgz):
        def pack(d, p, form=form):
            dst = d / "fuzz-input" / form.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if form.is_dir() else shutil.copy)(form, dst)
            return ["models", "import", str(dst)], [form.name]
        case(f"models-{form.name}", None, pack)
    return out


def test_fuzz_seeds_are_accepted(fuzzer, fuzz_seeds, tmp_path):
    failures = []
    for label, case in _seed_cases(fuzz_seeds, tmp_path):
        case.family, case.seed = "seeds_are_accepted", fuzzer.seed
        case.watch, case.watch_skip = case.cwd, ("proj", "models", ".cache", ".home", ".tmp",
                                                 ".out-run", ".out-validate")
        bad, out = fuzzer.execute(case)
        if out.rc != 0:
            bad.append(("seed refused", f"exit {out.rc}"))
        noise = [ln for ln in out.stderr.splitlines()
                 if ln.strip() and not ln.startswith("note: ")]
        if noise:
            bad.append(("seed refused", "stderr: " + " | ".join(noise[:3])))
        if bad:
            failures.append(f"{label}: " + fuzzer.report(case, bad, out))
    assert not failures, "unmutated seeds must be accepted:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("what, expected", [
    ("segfault", "signal"), ("hang", "hang"), ("raise", "traceback"), ("thread", "hang"),
    ("memory", "traceback"), ("network", "network")])
def test_fuzz_harness_catches(fuzzer, tmp_path, what, expected):
    case = Case(["__fuzz_selftest__", what], tmp_path, f"self-test: {what}", ["x.png"],
                timeout=5.0)
    case.watch, case.watch_skip = tmp_path, (".cache", ".home", ".tmp", ".out-run", "models")
    bad, out = fuzzer.execute(case)
    assert expected in {c for c, _ in bad}, (bad, out.stderr[-2000:])
