"""The format registry: every label format Vellum reads or writes, as one table.

A format is one module with a module-level ``FORMAT = Format(...)``: its name (the word after
``vellum import`` / ``vellum export``), its title (the window's menu text), its file patterns,
what it holds (shapes, tracks, label maps), its typed options, and ``read`` and/or ``write``
with one signature each::

    read(doc, path, options, progress, cancelled, notes) -> Outcome   # Outcome.command set
    write(doc, out, options, progress, cancelled, notes) -> Outcome

``options`` maps each :class:`Option`'s ``name`` to its value (for ``write`` also
``overwrite``: replace existing files, given only by ``--overwrite`` or a confirmation in the
window); ``progress(done, total, what="")`` and ``cancelled() -> bool`` are always callables;
``notes`` collects sentences on what the format could not hold. ``read`` only reads ``doc``
(the window calls it on a worker thread with its own connection): it returns the one
undoable command, which the caller executes (:func:`apply`). ``path``/``out`` are passed as
the user gave them (a ``str`` on the command line), so sentences quote them unchanged.

``vellum import FORMAT`` / ``vellum export FORMAT`` (:mod:`app.cli_formats`) and the window's
File ▸ Import / Export submenus (:mod:`app.widgets.exchange`) are built from :func:`formats`.
Adding a format is one module plus one line in :data:`MODULES` (or, outside this package, a
module named in ``$VELLUM_FORMATS``). Format modules import nothing heavy at module level:
``vellum --help`` loads them all.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError

# One line per format, in the order the CLI and the menus list them.
MODULES: list[str] = [
    "app.io.formats.coco",
    "app.io.formats.nifti",
    "app.io.formats.mot",
    "app.io.formats.yolo",
    "app.io.formats.voc",
    "app.io.formats.cvat",
    "app.io.formats.labelme",
    "app.io.formats.dicom_seg",
]
ENV = "VELLUM_FORMATS"  # more format modules, comma-separated (plug-ins, the tests' example)

KINDS = ("bool", "str", "int", "choice", "path")
HOLDS = ("shapes", "tracks", "labelmaps")
TARGETS = ("file", "folder")
# names the command line already uses for something else
RESERVED = {"project", "file", "out", "overwrite", "format", "func", "command", "author",
            "debug", "demo", "version", "help"}

Progress = Callable[..., None]
Cancelled = Callable[[], bool]


@dataclass(frozen=True)
class Option:
    """One typed option of a format's read or write: ``--flag`` on the command line, a field
    of the window's options dialog (unless ``window`` is False).

    ``kind``: bool (a switch, default False), str, int, choice (one of ``choices``; their
    Python type is the value's type), path (a file, or a folder with ``folder=True``).
    ``help`` is the command line's help text, verbatim, and the window's explanation."""

    name: str
    kind: str
    help: str
    default: Any = None
    flag: str = ""  # default: "--" + name with "-" for "_"
    metavar: str | None = None  # default: argparse's (the name in capitals)
    choices: tuple[Any, ...] = ()
    label: str = ""  # the window's label; default from the name
    folder: bool = False  # path: a folder
    window: bool = True  # shown in the window's options dialog

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name!r}: kind must be one of {KINDS}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"option {self.name!r}: a choice needs choices")
        if not self.name.isidentifier() or self.name in RESERVED:
            raise ValueError(f"option {self.name!r}: not a usable name")

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def text(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def initial(self) -> Any:
        return False if self.kind == "bool" and self.default is None else self.default


@dataclass(frozen=True)
class Outcome:
    """What a read or write did. ``summary``: one sentence (the window's status bar);
    ``lines``: what ``vellum`` prints on stdout after the notes (default: the summary);
    ``warnings``: printed on stderr, shown in a message box by the window; ``command``: the
    one undoable step a read returns (the caller executes it)."""

    summary: str
    lines: tuple[str, ...] | None = None
    warnings: tuple[str, ...] = ()
    command: Any = None

    @property
    def printed(self) -> tuple[str, ...]:
        return self.lines if self.lines is not None else (self.summary,)


Reader = Callable[[Any, Any, dict[str, Any], Progress, Cancelled, list[str]], Outcome]
Writer = Callable[[Any, Any, dict[str, Any], Progress, Cancelled, list[str]], Outcome]


@dataclass(frozen=True)
class Format:
    """One format (see the module doc). ``read_target``/``write_target``: whether the path
    is a file or a folder (the window's dialog); ``read_metavar``/``write_metavar``: the
    command line's name for it; ``*_help``: the one line ``vellum import --help`` lists,
    ``*_description``: the paragraph of ``vellum import NAME --help`` (default: the help);
    ``overwrite_help``: the help of ``--overwrite``; ``cli_wrap``: argparse wraps the
    description (False: printed as written)."""

    name: str
    title: str
    patterns: tuple[str, ...]
    holds: frozenset[str]
    read: Reader | None = None
    write: Writer | None = None
    read_options: tuple[Option, ...] = ()
    write_options: tuple[Option, ...] = ()
    read_target: str = "file"
    write_target: str = "file"
    read_metavar: str = "FILE"
    write_metavar: str = "OUT"
    read_help: str = ""
    read_description: str = ""
    write_help: str = ""
    write_description: str = ""
    overwrite_help: str = "replace OUT if it exists; never the project or its media"
    cli_wrap: bool = True
    module: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"format name {self.name!r}: letters, digits, '-' and '_' only")
        if self.read is None and self.write is None:
            raise ValueError(f"format {self.name!r} neither reads nor writes")
        if not set(self.holds) <= set(HOLDS):
            raise ValueError(f"format {self.name!r}: holds must be among {HOLDS}")
        if {self.read_target, self.write_target} - set(TARGETS):
            raise ValueError(f"format {self.name!r}: a target is one of {TARGETS}")
        for options in (self.read_options, self.write_options):
            names = [o.name for o in options]
            if len(set(names)) != len(names):
                raise ValueError(f"format {self.name!r}: two options of one name")

    @property
    def suffix(self) -> str:
        """The extension a file of this format gets when the user typed none ('' if none)."""
        first = self.patterns[0] if self.patterns else ""
        return first[1:] if first.startswith("*.") else ""

    @property
    def filter(self) -> str:
        """A file dialog's filter: ``Title (*.a *.b)``."""
        return f"{self.title} ({' '.join(self.patterns) or '*'})"

    def defaults(self, write: bool) -> dict[str, Any]:
        """Every option at its default (for a write, ``overwrite`` False too)."""
        out = {o.name: o.initial for o in (self.write_options if write else self.read_options)}
        if write:
            out["overwrite"] = False
        return out

    def export_to(self, doc: Any, out: str | Path, **options: Any) -> tuple[Outcome, list[str]]:
        """Write ``doc`` to ``out`` with the default options overridden by ``options``, no
        progress shown (scripts, tests); the outcome and the notes."""
        notes: list[str] = []
        values = {**self.defaults(write=True), **options}
        return self.write(doc, Path(out), values, nothing, never, notes), notes

    def import_from(self, doc: Any, path: str | Path, **options: Any) -> list[str]:
        """Read ``path`` into ``doc`` (its one command executed, :func:`apply`) with the default
        options overridden by ``options``; the notes."""
        notes: list[str] = []
        values = {**self.defaults(write=False), **options}
        apply(doc, self.read(doc, Path(path), values, nothing, never, notes), path)
        return notes


class Confirm(BadInputError):
    """A read or write stopped before doing something the user should agree to first (a file
    imported before): ``str(exc)`` is the command line's sentence; the window asks
    ``question`` under ``title`` and, on yes, runs again with option ``option`` set True."""

    def __init__(self, message: str, path: str | Path | None, *, title: str, question: str,
                 option: str) -> None:
        super().__init__(message, path)
        self.title, self.question, self.option = title, question, option


def modules() -> list[str]:
    """The format modules: :data:`MODULES`, then those named in ``$VELLUM_FORMATS``."""
    extra = [m.strip() for m in os.environ.get(ENV, "").split(",") if m.strip()]
    return MODULES + [m for m in extra if m not in MODULES]


def _load(name: str) -> Format:
    module = importlib.import_module(name)
    fmt = getattr(module, "FORMAT", None)
    if not isinstance(fmt, Format):
        raise TypeError(f"{name} has no FORMAT = Format(...)")
    return fmt


def formats() -> dict[str, Format]:
    """Every format by name, in menu order. A module named in ``$VELLUM_FORMATS`` that cannot
    be loaded is skipped with one sentence on stderr (Vellum's own raise: that is a bug)."""
    out: dict[str, Format] = {}
    for name in modules():
        try:
            fmt = _load(name)
        except Exception as exc:  # noqa: BLE001 - a plug-in's problem must not stop vellum
            if name in MODULES:
                raise
            print(f"vellum: warning: ${ENV} names {name}, which cannot be loaded "
                  f"({type(exc).__name__}: {exc}); it is left out.", file=sys.stderr)
            continue
        if fmt.name in out:
            print(f"vellum: warning: {name} declares format {fmt.name!r}, which "
                  f"{out[fmt.name].module or 'another module'} declares already; it is left "
                  "out.", file=sys.stderr)
            continue
        out[fmt.name] = fmt if fmt.module else _with_module(fmt, name)
    return out


def _with_module(fmt: Format, module: str) -> Format:
    from dataclasses import replace

    return replace(fmt, module=module)


def readers() -> list[Format]:
    return [f for f in formats().values() if f.read is not None]


def writers() -> list[Format]:
    return [f for f in formats().values() if f.write is not None]


def get(name: str) -> Format:
    return formats()[name]


def apply(doc: Any, outcome: Outcome, path: str | Path) -> None:
    """Execute a read's command on ``doc``; a refused edit becomes one sentence naming
    ``path`` (the project is unchanged)."""
    if outcome.command is None:
        return
    try:
        doc.execute(outcome.command)
    except ValueError as exc:
        p = Path(path)
        raise BadInputError(f"{p}: {str(exc).rstrip('.')}.", p) from exc


def shapes_command(doc: Any, schema: Any, records: Any, label: str, path: str | Path) -> Any:
    """The one undoable command of a shapes import: the new ``schema`` (when it changed) and
    the ``records``; a record the document's rules refuse is one sentence naming ``path``."""
    from app.core.commands import Batch, Put, SetSchema

    try:
        steps = ([SetSchema(schema)] if schema != doc.schema else []) + [
            Put(tuple(records), label=label)]
        return Batch(tuple(steps), label=label)
    except ValueError as exc:
        p = Path(path)
        raise BadInputError(f"{p}: {str(exc).rstrip('.')}.", p) from exc


def staged_progress(out: Any, progress: Progress, cancelled: Cancelled) -> Progress:
    """A writer's progress callback that also stops it, with one sentence, when the user
    cancels before the last step (the staged output then removes what it wrote)."""
    from app.core.errors import VellumError

    def step(done: int, total: int, what: str = "") -> None:
        if done < total and cancelled():
            raise VellumError(f"Export to {out} was cancelled; nothing was written.", out)
        progress(done, total, what)

    return step


def nothing(*_args: Any, **_kwargs: Any) -> None:
    """A progress callback that shows nothing."""


def never() -> bool:
    """A ``cancelled`` that never is."""
    return False
