"""``vellum self-test``: one step for an IT person to prove a workstation can run Vellum.

It makes its own samples (no file of the user's is read or written), opens each media kind
with Vellum's own readers (images, an H.264 video with B-frames, DICOM series uncompressed and
compressed, NIfTI), writes and re-reads each export format (COCO, MOT, NIfTI label maps), runs
a tiny built-in ONNX graph and each installed model once, checks the Qt platform plugin and
fonts, that the data and model folders are writable (naming the variable that moves them),
that ONNX Runtime's telemetry is off and that nothing opened a network socket meanwhile.

:func:`run_self_test` returns one :class:`Check` per line of the table: what was checked,
whether it passed, where it ran and how long it took. The CLI (``app.selftest.commands``) and
the window's Help ▸ Self-test (``app.widgets.self_test``) both show that list. Nothing here
imports Qt or a media library at module level.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.core.errors import VellumError

Progress = Callable[..., None]

#: Widths of the table's columns; with the gaps the table is 70 characters wide.
CHECK_WIDTH, RESULT_WIDTH, DEVICE_WIDTH, TIME_WIDTH = 34, 6, 18, 6


@dataclass
class Check:
    """One line of the self-test: ``check`` (what), ``ok``, ``device`` (CPU, the ONNX Runtime
    provider that ran a model, or ``-``), ``ms`` (wall time) and ``detail`` (a sentence: what
    was seen, or what is wrong and what to do)."""

    check: str
    ok: bool
    detail: str = ""
    device: str = "-"
    ms: int = 0

    @property
    def result(self) -> str:
        return "pass" if self.ok else "FAIL"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "result": self.result}


class Failed(VellumError):
    """A check's own failure: its message is the sentence shown (device optional)."""

    def __init__(self, message: str, device: str = "-") -> None:
        super().__init__(message)
        self.device = device


@dataclass
class Step:
    """A check to run: ``run(ctx)`` returns the detail sentence (or ``(detail, device)``),
    raises :class:`Failed` / :class:`VellumError` for a failure, or returns a list of
    :class:`Check` (one step may report several lines)."""

    name: str
    run: Callable[[Any], Any]
    device: str = "-"


class Context:
    """What the steps share: a private temporary folder, the samples made there, the sample
    project, whether ``quick``."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self._folder: Path | None = None
        self.samples: dict[str, Any] = {}
        self.doc: Any = None
        self.media: dict[str, Any] = {}  # kind or name -> MediaItem in the sample project

    @property
    def folder(self) -> Path:
        """The self-test's own temporary folder (made on first use; removed by close)."""
        if self._folder is None:
            try:
                self._folder = Path(tempfile.mkdtemp(prefix="vellum-self-test-"))
            except OSError as exc:
                where = tempfile.gettempdir()
                raise Failed(f"The temporary folder {where} is not writable "
                             f"({exc.strerror or exc}); set TMPDIR to a writable folder.") \
                    from None
        return self._folder

    def close(self) -> None:
        if self.doc is not None:
            try:
                self.doc.close()
            except Exception:  # noqa: BLE001 - closing a half-made sample project
                pass
            self.doc = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def _one_sentence(exc: BaseException) -> str:
    if isinstance(exc, VellumError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}"[:400]


def run_step(step: Step, ctx: Context) -> list[Check]:
    """Run one step; any exception becomes a failed :class:`Check` (never a traceback)."""
    start = time.perf_counter()
    device = step.device
    try:
        out = step.run(ctx)
    except Failed as exc:
        ok, detail, device = False, str(exc), exc.device
    except Exception as exc:  # noqa: BLE001 - every failure is a line of the table
        ok, detail = False, _one_sentence(exc)
    else:
        if isinstance(out, list):
            return out
        ok = True
        detail, device = out if isinstance(out, tuple) else (out, device)
    ms = int(round((time.perf_counter() - start) * 1000))
    return [Check(step.name, ok, str(detail or ""), device or "-", ms)]


def steps(quick: bool) -> list[Step]:
    """Every step, in the order of the table (the socket check comes last: it covers all)."""
    from app.selftest import media_checks, model_checks, system_checks

    return [*system_checks.first_steps(), *media_checks.steps(quick),
            *model_checks.steps(quick), *system_checks.last_steps()]


def run_self_test(quick: bool = False, progress: Progress | None = None,
                  cancelled: Callable[[], bool] | None = None) -> list[Check]:
    """Run every check (see the module doc); ``progress(done, total, name)`` before each.
    Returns the lines of the table; stops early (with the lines so far) when ``cancelled()``."""
    from app.selftest.netguard import NetworkGuard

    results: list[Check] = []
    with NetworkGuard() as guard:
        ctx = Context(quick)
        ctx.samples["guard"] = guard
        try:
            todo = steps(quick)
            for n, step in enumerate(todo):
                if cancelled is not None and cancelled():
                    break
                if progress:
                    progress(n, len(todo), step.name)
                results += run_step(step, ctx)
            if progress:
                progress(len(todo), len(todo), "")
        finally:
            ctx.close()
    return results


def all_passed(checks: list[Check]) -> bool:
    return bool(checks) and all(c.ok for c in checks)


def format_table(checks: list[Check], width: int = 80) -> list[str]:
    """The table (check, result, device, time in ms), then each failure's sentence wrapped to
    ``width`` columns, then a summary line."""
    def cut(text: str, n: int) -> str:
        return text if len(text) <= n else text[: n - 3] + "..."

    head = (f"{'check':<{CHECK_WIDTH}}  {'result':<{RESULT_WIDTH}}  {'device':<{DEVICE_WIDTH}}"
            f"  {'ms':>{TIME_WIDTH}}")
    lines = [head, "-" * len(head)]
    for c in checks:
        lines.append(f"{cut(c.check, CHECK_WIDTH):<{CHECK_WIDTH}}  {c.result:<{RESULT_WIDTH}}  "
                     f"{cut(c.device, DEVICE_WIDTH):<{DEVICE_WIDTH}}  {c.ms:>{TIME_WIDTH}}")
    failed = [c for c in checks if not c.ok]
    if failed:
        lines.append("")
        for c in failed:
            lines += textwrap.wrap(f"{c.check}: {c.detail}", width=width,
                                   subsequent_indent="    ", break_on_hyphens=False,
                                   break_long_words=False)  # a path stays whole
    lines.append("")
    total = sum(c.ms for c in checks) / 1000
    lines.append(f"All {len(checks)} checks passed ({total:.1f} s)." if not failed and checks
                 else f"{len(failed)} of {len(checks)} checks failed ({total:.1f} s).")
    return lines


__all__ = ["Check", "Failed", "Step", "Context", "run_self_test", "all_passed", "format_table"]
