"""``vellum import FORMAT ...`` and ``vellum export FORMAT ...``, built from the format
registry (:mod:`app.io.formats`): one subcommand per format that reads or writes, with
``PROJECT`` and the format's ``FILE``/``OUT`` positional, its typed options as flags, and
``--overwrite`` on every export. One handler runs every import and one every export."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from app.io.formats import Format, Option, readers, writers

RAW = argparse.RawDescriptionHelpFormatter


def _add_option(parser: argparse.ArgumentParser, o: Option) -> None:
    kw: dict[str, Any] = {"dest": o.name, "help": o.help}
    if o.kind == "bool":
        kw["action"] = "store_true"
    else:
        kw["default"] = o.default
        if o.metavar is not None:
            kw["metavar"] = o.metavar
        if o.kind == "int":
            kw["type"] = int
        elif o.kind == "choice":
            kw["type"] = type(o.choices[0])
            kw["choices"] = o.choices
    parser.add_argument(o.cli_flag, **kw)


def add_format_commands(sub: Any) -> tuple[Any, Any]:
    """Add ``import`` and ``export`` to the top-level subparsers ``sub``; returns their own
    subparsers (other areas may still add to them)."""
    p = sub.add_parser("import", help="import labels from another format")
    importers = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for fmt in readers():
        _format_command(importers, fmt, fmt.read_help, fmt.read_description, "file",
                        fmt.read_metavar, fmt.read_options, run_import)
    p = sub.add_parser("export", help="export labels to another format")
    exporters = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for fmt in writers():
        q = _format_command(exporters, fmt, fmt.write_help, fmt.write_description, "out",
                            fmt.write_metavar, fmt.write_options, run_export)
        q.add_argument("--overwrite", action="store_true", help=fmt.overwrite_help)
    return importers, exporters


def _format_command(where: Any, fmt: Format, help: str, description: str, path: str,
                    metavar: str, options: tuple[Option, ...],
                    run: Callable[[Format, argparse.Namespace], int]) -> argparse.ArgumentParser:
    """``FORMAT PROJECT PATH [options]`` under ``where`` (importers or exporters), run by
    ``run(fmt, args)``; the path lands in ``args.<path>``."""
    help = help or f"{fmt.title}"
    kw: dict[str, Any] = {"help": help, "description": description or help}
    if not fmt.cli_wrap:
        kw["formatter_class"] = RAW
    q = where.add_parser(fmt.name, **kw)
    q.add_argument("project", metavar="PROJECT")
    q.add_argument(path, metavar=metavar)
    for o in options:
        _add_option(q, o)
    q.set_defaults(func=lambda args, f=fmt: run(f, args))
    return q


def _report(notes: list[str], outcome: Any) -> None:
    for line in outcome.warnings:
        print(f"warning: {line}", file=sys.stderr)
    for line in notes:  # every one: each names what the format could not hold
        print(f"note: {line}")
    for line in outcome.printed:
        print(line)


def run_import(fmt: Format, args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.io.formats import apply, never
    from app.progress import terminal_progress

    options = {o.name: getattr(args, o.name) for o in fmt.read_options}
    notes: list[str] = []
    with Document.open(args.project) as doc:
        with terminal_progress("Importing", unit="step") as progress:
            outcome = fmt.read(doc, args.file, options, progress, never, notes)
        apply(doc, outcome, args.file)
    _report(notes, outcome)
    return 0


def run_export(fmt: Format, args: argparse.Namespace) -> int:
    from app.core.document import Document
    from app.io.formats import never
    from app.progress import terminal_progress

    options = {o.name: getattr(args, o.name) for o in fmt.write_options}
    options["overwrite"] = args.overwrite
    notes: list[str] = []
    with Document.open(args.project) as doc:
        with terminal_progress("Exporting", unit="step") as progress:
            outcome = fmt.write(doc, args.out, options, progress, never, notes)
    _report(notes, outcome)
    return 0
