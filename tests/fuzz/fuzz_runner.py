"""The loop of a fuzz test: make each case from its own seeded RNG, run it, judge it, and fail
once at the end with every broken case (seed, index, mutation, command, stderr tail, repro)."""

from __future__ import annotations

import json
import os
import random
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

from fuzz_harness import (Case, ForkServer, Outcome, case_env, judge, project_digest,
                          run_subprocess, tree_digest)

#: Top-level names in a case folder that a command may write to (the project, the model
#: folder, caches, the harness's own output); everything else must be left as it was.
WRITABLE = ("proj", "models", ".cache", ".home", ".tmp", ".out-run", ".out-validate",
            ".out-control")


#: Hangs after which a test stops running cases (it fails anyway; this bounds its time).
MAX_HANGS = 4
#: Outputs larger than this are deleted after a case (a zip bomb's partial unpacking).
BIG_OUTPUT = 64 << 20


def _drop_big_outputs(root: Path) -> None:
    for name in WRITABLE:
        for dirpath, _, files in os.walk(root / name):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    if os.lstat(p).st_size > BIG_OUTPUT:
                        os.unlink(p)
                except OSError:
                    pass


def _show_argv(argv: list[str], root: Path) -> str:
    shown = []
    for a in argv:
        a = a.replace(str(root) + os.sep, "")
        if len(a) > 80:
            a = a[:60] + f"...({len(a)} chars)"
        shown.append(shlex.quote(a.encode("utf-8", "backslashreplace").decode()))
    return "vellum " + " ".join(shown)


class Fuzzer:
    """Runs the cases of one test function against the fork server."""

    def __init__(self, seed: int, server: ForkServer, seeds, base: Path) -> None:
        self.seed = seed
        self.server = server
        self.seeds = seeds
        self.base = base
        only = os.environ.get("VELLUM_FUZZ_CASE")
        self.only = int(only) if only else None
        self.scale = float(os.environ.get("VELLUM_FUZZ_SCALE", "1"))
        self.dump = os.environ.get("VELLUM_FUZZ_DUMP")
        self.findings = os.environ.get("VELLUM_FUZZ_FINDINGS")
        self.log = os.environ.get("VELLUM_FUZZ_LOG")  # one JSON line per case, pass or fail
        self.ran = 0

    def rng(self, family: str, index: int) -> random.Random:
        return random.Random(f"{self.seed}/{family}/{index}")

    def make(self, family: str, index: int,
             maker: Callable[[random.Random, Path, object], Case], tag: str = "") -> Case:
        case_dir = self.base / f"{family}-{index:04d}{tag}"
        if case_dir.exists():
            shutil.rmtree(case_dir)
        case_dir.mkdir(parents=True)
        case = maker(self.rng(family, index), case_dir, self.seeds)
        case.family, case.index, case.seed = family, index, self.seed
        if case.watch is None:
            case.watch, case.watch_skip = case_dir, WRITABLE
        return case

    def execute(self, case: Case, control: bool = False) -> tuple[list[tuple[str, str]],
                                                                     Outcome]:
        """Run ``case`` once (through a real ``python -m app`` when ``control``) and judge it."""
        root = case.watch
        env = case_env(root)
        before = project_digest(case.project) if case.project else None
        watched = tree_digest(root, case.watch_skip)
        out_dir = root / (".out-control" if control else ".out-run")
        runner = run_subprocess if control else self.server.run
        out = runner(case.argv, case.cwd, env, out_dir, timeout=case.timeout)
        extra: list[tuple[str, str]] = []
        after = validate = None
        if case.project:
            try:
                after = project_digest(case.project)
            except Exception as exc:  # noqa: BLE001 - the project itself is what broke
                extra.append(("changed project", f"the project can no longer be read ({exc})"))
            validate = self.server.run(["validate", str(case.project)], case.cwd, env,
                                       root / ".out-validate", timeout=case.timeout)
        _drop_big_outputs(root)
        now = tree_digest(root, case.watch_skip)
        changed = sorted(k for k in watched if now.get(k) != watched[k])
        new = sorted(k for k in now if k not in watched)
        if changed:
            extra.append(("input changed", "changed or removed: " + ", ".join(changed[:5])))
        if new:
            extra.append(("wrote outside", "new files outside the project/model folder: "
                          + ", ".join(new[:5])))
        models = root / "models"
        if models.is_dir() and any(p.name.startswith(".incoming") for p in models.iterdir()):
            extra.append(("wrote outside", "an unpacked archive was left in the model folder"))
        bad = judge(case, out, before=before, after=after, validate=validate) + extra
        self.ran += 1
        if self.log:
            first = next((ln for ln in out.stderr.splitlines() if ln.strip()), "")
            with open(self.log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"family": case.family, "index": case.index,
                                    "status": out.status(), "wall": out.wall,
                                    "mutation": case.mutation, "stderr": first[:200],
                                    "broken": sorted({c for c, _ in bad})},
                                   ensure_ascii=True) + "\n")
        return bad, out

    def report(self, case: Case, bad: list[tuple[str, str]], out: Outcome) -> str:
        root = case.watch
        lines = [f"[{', '.join(sorted({c for c, _ in bad}))}] {case.family} case {case.index} "
                 f"(seed {case.seed}): {case.mutation}",
                 f"  $ {_show_argv(case.argv, root)}",
                 f"  -> {out.status()} in {out.wall:.1f} s"]
        lines += [f"  ! {c}: {d}" for c, d in bad]
        tail = out.tail(8)
        if tail:
            lines += ["  stderr: " + ln[:300] for ln in tail.splitlines()]
        lines.append(f"  repro: {case.repro()}")
        lines.append(f"  case folder: {root}")
        if self.dump:
            dest = Path(self.dump) / f"{case.seed}-{case.family}-{case.index:04d}"
            shutil.copytree(root, dest, symlinks=True, dirs_exist_ok=True,
                            ignore_dangling_symlinks=True,
                            ignore=lambda d, names: [n for n in names if _special(Path(d) / n)])
            lines.append(f"  dumped to: {dest}")
        if self.findings:
            with open(self.findings, "a", encoding="utf-8") as f:
                f.write(json.dumps({
                    "family": case.family, "index": case.index, "seed": case.seed,
                    "mutation": case.mutation, "argv": _show_argv(case.argv, root),
                    "status": out.status(), "classes": sorted({c for c, _ in bad}),
                    "details": [d for _, d in bad], "stderr_tail": out.tail(8),
                    "repro": case.repro()}, ensure_ascii=True) + "\n")
        return "\n".join(lines).encode("utf-8", "backslashreplace").decode("utf-8")

    def run(self, family: str, count: int,
            maker: Callable[[random.Random, Path, object], Case]) -> None:
        """Run ``count`` cases of ``family`` (one, with VELLUM_FUZZ_CASE); assert none broke a
        promise, listing every one that did."""
        n = max(1, round(count * self.scale))
        indices = [self.only] if self.only is not None else range(n)
        failures = []
        hangs = 0
        for index in indices:
            case = self.make(family, index, maker)
            bad, out = self.execute(case)
            if bad:
                failures.append(self.report(case, bad, out))
            else:
                shutil.rmtree(case.watch, ignore_errors=True)
            hangs += out.timed_out or any("validate: hang" in d for _, d in bad)
            if hangs >= MAX_HANGS:
                failures.append(f"(stopped after case {index}: {hangs} hangs; each costs its "
                                "timeout)")
                break
        assert not failures, (f"{len(failures)} of {len(indices)} {family} cases broke a promise "
                              f"(VELLUM_FUZZ_SEED={self.seed}):\n\n" + "\n\n".join(failures))


def _special(p: Path) -> bool:
    try:
        import stat

        mode = os.lstat(p).st_mode
        return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))
    except OSError:
        return True
