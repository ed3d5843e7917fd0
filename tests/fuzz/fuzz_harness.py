"""Run one fuzz case and judge it.

A case is a command line (``vellum ...``) over a case folder holding a copy of a template
project and the mutated input. It runs in a child of the fork server (:mod:`fuzz_server`), or,
for the control cases, as a real ``python -m app`` subprocess, under the same timeout, memory
cap and environment. The verdict lists every broken promise:

- no signal, no hang (the timeout), no traceback, exit status 0 or 1;
- a failure says so in a sentence naming the file: a ``vellum: error:`` line (at most one), or
  the per-file ``skipped:`` / ``refused:`` lines of ``add`` and ``models import``;
- the project's content (every table but the audit trail) is unchanged when the command failed,
  and ``vellum validate`` passes afterwards;
- the input is never written to, and nothing is written outside the case's own places.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("fuzz_server.py")

TIMEOUT_S = float(os.environ.get("VELLUM_FUZZ_TIMEOUT", "30"))
MEM_BYTES = 4 << 30  # address space of one case
FSIZE_BYTES = 512 << 20  # largest file one case may write
#: Lines that carry a user-facing error sentence.
ERROR_PREFIXES = ("vellum: error: ", "skipped: ", "refused: ")
#: Exit statuses a command under test may end with (3: validate found problems).
OK_CODES = (0, 1, 3)
#: Thread pools of the numeric libraries kept to one thread: two cores are shared.
QUIET_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
             "QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass
class Outcome:
    rc: int | None
    signal: int | None
    timed_out: bool
    stdout: str
    stderr: str
    wall: float
    network: str = ""

    def tail(self, n: int = 6) -> str:
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return "\n".join(lines[-n:])

    def status(self) -> str:
        if self.timed_out:
            return "hang"
        if self.signal is not None:
            return f"signal {signal.Signals(self.signal).name}"
        return f"exit {self.rc}"


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return ""


def case_env(case_dir: Path) -> dict[str, str]:
    """Environment of a case: private cache, model folder, home and temp; nothing shared."""
    env = {"VELLUM_CACHE_DIR": str(case_dir / ".cache"),
           "VELLUM_MODELS_DIR": str(case_dir / "models"),
           "HOME": str(case_dir / ".home"), "XDG_DATA_HOME": str(case_dir / ".home" / "data"),
           "TMPDIR": str(case_dir / ".tmp"), "VELLUM_AUTHOR": "fuzz", **QUIET_ENV}
    for key in ("VELLUM_CACHE_DIR", "HOME", "TMPDIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


class ForkServer:
    """One fork server per pytest process (started lazily, stopped at exit)."""

    def __init__(self) -> None:
        env = dict(os.environ, **QUIET_ENV)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([sys.executable, str(SERVER)], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        hello = self.proc.stdout.readline()
        if not hello:
            raise RuntimeError("the fuzz fork server did not start")
        self.runs = 0

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], out: Path,
            timeout: float = TIMEOUT_S) -> Outcome:
        out.mkdir(parents=True, exist_ok=True)
        req = {"argv": argv, "cwd": str(cwd), "env": env, "timeout": timeout, "mem": MEM_BYTES,
               "fsize": FSIZE_BYTES, "out": str(out)}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fuzz fork server died")
        ans = json.loads(line)
        self.runs += 1
        return Outcome(ans["rc"], ans["signal"], ans["timed_out"], _read(out / "stdout"),
                       _read(out / "stderr"), ans["wall"], _read(out / "network"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _limits() -> None:
    os.setsid()
    for lim, value in ((resource.RLIMIT_AS, MEM_BYTES), (resource.RLIMIT_FSIZE, FSIZE_BYTES),
                       (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(lim, (value, value))


def run_subprocess(argv: list[str], cwd: Path, env: dict[str, str], out: Path,
                   timeout: float = TIMEOUT_S) -> Outcome:
    """The same case as a real ``python -m app`` (the control of the fork server)."""
    out.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ, **env)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    start = time.monotonic()
    with open(out / "stdout", "wb") as fo, open(out / "stderr", "wb") as fe:
        proc = subprocess.Popen([sys.executable, "-m", "app", *argv], cwd=cwd, env=full_env,
                                stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                                preexec_fn=_limits)
        try:
            proc.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    rc = proc.returncode
    return Outcome(None if timed_out or rc < 0 else rc,
                   -rc if rc < 0 and not timed_out else None, timed_out,
                   _read(out / "stdout"), _read(out / "stderr"), time.monotonic() - start)


# --- what a case must leave alone ---------------------------------------------------------

_SKIP_TABLES = {"history", "sqlite_sequence"}


def project_digest(project: Path) -> str:
    """SHA-256 of a project's content: schema and every row of every table but the audit
    trail, read from a private copy (the original is never opened)."""
    db = project / "project.vellum" if project.is_dir() else project
    with tempfile.TemporaryDirectory(prefix="fuzz-digest-") as tmp:
        copy = Path(tmp) / "p.vellum"
        shutil.copyfile(db, copy)
        wal = db.with_name(db.name + "-wal")
        if wal.is_file():
            shutil.copyfile(wal, Path(tmp) / "p.vellum-wal")
        h = hashlib.sha256()
        conn = sqlite3.connect(copy)
        try:
            h.update(str(conn.execute("PRAGMA user_version").fetchone()).encode())
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            for sql in conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"):
                h.update(repr(sql).encode())
            for t in tables:
                if t in _SKIP_TABLES:
                    continue
                cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')]
                order = ", ".join(f'"{c}"' for c in cols)
                h.update(f"\0{t}\0".encode())
                for row in conn.execute(f'SELECT * FROM "{t}" ORDER BY {order}'):
                    h.update(repr(row).encode("utf-8", "surrogatepass"))
        finally:
            conn.close()
        return h.hexdigest()


def tree_digest(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Name -> content hash (or kind) of everything under ``root``, links not followed,
    special files never opened; names in ``skip`` (top level) left out."""
    found: dict[str, str] = {}
    if not root.exists():
        return found
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirs[:] = [d for d in dirs if d not in skip]
            files = [f for f in files if f not in skip]
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    found[rel] = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                found[rel] = "link:" + os.readlink(p)
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = "dir"
                if os.path.islink(p):
                    continue
            else:
                found[rel] = f"special:{stat.S_IFMT(st.st_mode)}"
    return found


def name_forms(name: str) -> set[str]:
    """The ways a file name can reasonably appear in a message: as is, escaped (repr,
    backslashreplace), with replacement characters, or, for a very long one, its start."""
    forms = {name, repr(name)[1:-1]}
    raw = os.fsencode(name)
    forms.add(raw.decode("utf-8", "replace"))
    forms.add(raw.decode("utf-8", "backslashreplace"))
    forms.add(name.encode("utf-8", "backslashreplace").decode("utf-8"))
    forms.add(str(raw)[2:-1])
    forms.add(raw.decode("latin-1"))
    if "\n" in name:
        forms.add(name.split("\n")[0])
    if len(name) > 80:
        forms |= {f[:40] for f in list(forms)}
    return {f for f in forms if len(f) >= 3}  # "." or "x" would match any sentence


@dataclass
class Case:
    """One fuzz case, described for the report and the repro line."""

    argv: list[str]
    cwd: Path
    mutation: str  # what was done to the seed, in words
    names: list[str]  # file names an error sentence may name
    family: str = ""  # the test function
    index: int = 0
    seed: int = 0
    project: Path | None = None  # a project the command writes to (digest + validate)
    inputs: list[Path] = field(default_factory=list)  # must not be changed
    watch: Path | None = None  # folder in which nothing may change but ``watch_skip``
    watch_skip: tuple[str, ...] = ()
    allow_rc: tuple[int, ...] = (0, 1)
    timeout: float = TIMEOUT_S  # the hang detector (FIFO cases answer or hang quickly)
    #: ``add`` goes on past a file it skips: exit 1 with what it did add is not a change
    #: behind a failure when its "Added ..." line says so.
    partial_ok: bool = False

    def repro(self) -> str:
        return (f"VELLUM_FUZZ_SEED={self.seed} VELLUM_FUZZ_CASE={self.index} "
                f"python -m pytest tests/fuzz -k {self.family} -p no:xdist")


def judge(case: Case, out: Outcome, *, before: str | None, after: str | None,
          validate: Outcome | None) -> list[tuple[str, str]]:
    """Every broken promise of one case as (class, detail)."""
    bad: list[tuple[str, str]] = []
    if out.timed_out:
        bad.append(("hang", f"no answer within {case.timeout:.0f} s"))
    elif out.signal is not None:
        bad.append(("signal", f"killed by {signal.Signals(out.signal).name}"))
    if "Traceback (most recent call last)" in out.stderr + out.stdout:
        bad.append(("traceback", "a traceback was printed"))
    elif "a bug in Vellum" in out.stderr:  # the CLI's last guard caught what a reader let by
        bad.append(("traceback", "an unexpected exception reached the CLI's last guard"))
    if out.network:
        bad.append(("network", out.network.strip()))
    if not out.timed_out and out.signal is None:
        if out.rc not in case.allow_rc:
            bad.append(("exit status", f"exit status {out.rc}"))
        if out.rc != 0:
            lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
            errors = [i for i, ln in enumerate(lines) if ln.startswith(ERROR_PREFIXES)]
            n_main = sum(ln.startswith("vellum: error:") for ln in lines)
            if not errors:
                bad.append(("no sentence", "failed without a 'vellum: error:' (or 'skipped:'/"
                            "'refused:') line"))
            else:
                text = "\n".join(lines[errors[0]:])
                forms = set().union(*(name_forms(n) for n in case.names if n))
                if not any(f in text for f in forms):
                    bad.append(("no sentence", "the error does not name the file "
                                f"({', '.join(sorted(case.names)[:4])})"))
            if n_main > 1:
                bad.append(("no sentence", f"{n_main} 'vellum: error:' lines"))
    partial = case.partial_ok and re.search(r"^Added (?!nothing)", out.stdout, re.M)
    if before is not None and after is not None and out.rc != 0 and before != after and (
            not partial):
        bad.append(("changed project", "the command failed but the project's content changed"))
    if validate is not None:
        unexplained = unexplained_problems(case, out, validate)
        if validate.timed_out or validate.signal is not None or validate.rc not in (0, 3) or (
                "Traceback" in validate.stderr) or unexplained:
            shown = unexplained or (validate.stdout + validate.stderr).strip().splitlines()[-3:]
            bad.append(("validate fails", f"vellum validate: {validate.status()}: "
                        + " | ".join(shown)))
    return bad


def unexplained_problems(case: Case, out: Outcome, validate: Outcome) -> list[str]:
    """Problems ``validate`` lists that the command did not announce. By design a damaged
    medium (a cut PNG, a short NIfTI...) is added with a ``note:`` naming it and ``validate``
    then reports it (exit 3): such a problem is explained when the file it names is one the
    command's notes/warnings named. Anything else (or exit 3 without a listed problem) is not."""
    if validate.rc != 3:
        return []
    problems = [ln for ln in validate.stdout.splitlines() if ln.startswith("- ")]
    if not problems:
        return ["exit 3 without a listed problem"]
    noted = "\n".join(ln for ln in out.stderr.splitlines()
                      if ln.startswith(("note: ", "warning: ")))
    forms = set().union(*(name_forms(n) for n in case.names if n))
    return [p for p in problems
            if not any(f in p and f in noted for f in forms)]
