"""The ``vellum`` command. With no command it opens the annotation window; every headless
capability is a subcommand. Errors print one plain sentence and exit non-zero (``--debug``
shows the traceback too)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app import __version__
from app.cli_formats import add_format_commands
from app.cli_registry import CommandRegistry
from app.progress import terminal_progress
from app.core.errors import VellumError

EXIT_OK, EXIT_ERROR, EXIT_PROBLEMS = 0, 1, 3

# Modules that add their own subcommands (each has ``register(cli: CommandRegistry)``); every
# one of them is part of every build.
AREAS = ("app.io.video.commands", "app.io.volume.commands",
         "app.inference.commands", "app.inference.batch_commands",
         "app.inference.detect_commands", "app.selftest.commands",
         "app.io.review_commands",
         "app.io.compare_commands",
         "app.io.quality_commands")

DESCRIPTION = """\
Vellum: offline annotation of images, video and medical volumes.

Run 'vellum' alone to open the annotation window, 'vellum --demo' for the demo project.
A PROJECT is a folder holding project.vellum, or a *.vellum file. Every edit is saved as it
happens; there is no save command."""

EPILOG = """\
examples:
  vellum new ~/labels/street
  vellum add ~/labels/street ~/photos/*.jpg ~/video/drive.mp4
  vellum import coco ~/labels/street instances.json --images ~/photos
  vellum export coco ~/labels/street street_coco.json
  vellum validate ~/labels/street"""


def _open(path: str):
    from app.core.document import Document

    return Document.open(path)


def cmd_new(args: argparse.Namespace) -> int:
    from app.core.document import Document

    with Document.create(args.project, name=args.name) as doc:
        print(f"Created project {doc.path}")
    return EXIT_OK


def cmd_add(args: argparse.Namespace) -> int:
    from app.io.ingest import add_media

    with _open(args.project) as doc:
        with terminal_progress("Adding media", unit="file") as progress:
            report = add_media(doc, args.paths, progress=progress)
    for err in report.errors:
        print(f"skipped: {err}", file=sys.stderr)
    for note in report.notes:  # every one: each names a file (a damaged one must be named)
        print(f"note: {note}", file=sys.stderr)
    for m in report.added:
        if m.kind.value == "volume":
            print(f"  volume {m.name!r}: {m.width}x{m.height}x{m.frames}"
                  + (f" {m.source.modality}" if m.source and m.source.modality else ""))
    kinds = Counter(m.kind.value for m in report.added)
    summary = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in sorted(kinds.items()))
    print(f"Added {summary or 'nothing'}"
          + (f"; {len(report.duplicates)} already in the project" if report.duplicates else ""))
    if args.prepare:
        _prepare_videos(args.project, [m for m in report.added if m.kind.value == "video"])
    return EXIT_ERROR if report.errors else EXIT_OK


def _prepare_videos(project: str, items: list[Any]) -> None:
    """``vellum add --prepare``: build each added video's display proxy (as ``vellum video
    prepare``; resumable, Ctrl+C keeps the chunks made)."""
    from app.io.video.proxy import build_proxy

    with _open(project) as doc:
        paths = [(m.name, doc.media_path(m)) for m in items]
    for name, path in paths:
        with terminal_progress(f"Preparing {name}", unit="frame") as progress:
            info = build_proxy(path, progress=progress)
        print(f"  prepared {name}: {info.frame_count} frames at {info.width}x{info.height}, "
              f"{info.bytes / 1e6:.1f} MB")


def cmd_validate(args: argparse.Namespace) -> int:
    from app.core.validate import problems

    with _open(args.project) as doc:
        found = problems(doc, check_files=not args.skip_files)
        name = doc.path
    for p in found:
        print(f"- {p}")
    print(f"{name}: {'no problems found' if not found else f'{len(found)} problem(s)'}")
    return EXIT_PROBLEMS if found else EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from app.core.store import SCHEMA_VERSION

    with _open(args.project) as doc:
        media = doc.media()
        counts = doc.annotation_counts()
        meta = doc.store.meta()
        kinds = Counter(m.kind.value for m in media)
        status = Counter(m.status.value for m in media)
        shapes = Counter(a.kind for a in doc.iter_annotations()) if args.shapes else None
        print(f"Project   {meta.get('name')}  ({doc.path})")
        print(f"Created   {meta.get('created')}   format {SCHEMA_VERSION}")
        print(f"Media     {len(media)}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        print("Status    " + ", ".join(f"{n} {k}" for k, n in sorted(status.items())))
        segments = sum(len(lm.segments) for m in media for lm in doc.labelmaps(m.id))
        print(f"Labels    {sum(counts.values())} annotations, {len(doc.schema.classes)} classes, "
              f"{segments} segments, {sum(len(doc.tracks(m.id)) for m in media)} tracks")
        if shapes:
            print("Shapes    " + ", ".join(f"{n} {k}" for k, n in sorted(shapes.items())))
        for cls in doc.schema.classes:
            print(f"  class {cls.name!r} {cls.color}"
                  + (f" hotkey {cls.hotkey}" if cls.hotkey else ""))
        last = doc.store.history(1)
        if last:
            print(f"Last edit {last[0]['time']} by {last[0]['author']} ({last[0]['action']})")
    return EXIT_OK


def cmd_relink(args: argparse.Namespace) -> int:
    from app.io.ingest import relink

    with _open(args.project) as doc:
        found = relink(doc, args.folder)
    for item, path in found:
        print(f"{item.name} -> {path}")
    print(f"Relinked {len(found)} media item(s)")
    return EXIT_OK


def cmd_open(args: argparse.Namespace) -> int:
    from app.widgets.app import run_gui

    return run_gui(args.project, demo=False)


def _project_command(sub: Any, name: str, handler: Callable[[argparse.Namespace], int],
                     help: str, description: str | None = None) -> argparse.ArgumentParser:
    """``vellum NAME PROJECT ...``, run by ``handler``; the caller adds what follows PROJECT."""
    p = sub.add_parser(name, help=help, description=description)
    p.add_argument("project", metavar="PROJECT")
    p.set_defaults(func=handler)
    return p


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="vellum", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"vellum {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="open the bundled demo project (built on first use, offline)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--author", metavar="NAME", help="name recorded in the audit trail for "
                        "these edits (default: $VELLUM_AUTHOR, else your user name)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _project_command(sub, "new", cmd_new, "create an empty project", "Create an empty "
                         "project: a folder holding project.vellum, or the *.vellum file named.")
    p.add_argument("--name", help="display name (default: the folder name)")

    p = _project_command(sub, "add", cmd_add, "add images, videos, NIfTI files or DICOM folders",
                         "Add media. Folders are searched recursively; a folder of DICOM files "
                         "is one volume. Files already in the project are skipped.")
    p.add_argument("paths", metavar="PATH", nargs="+")
    p.add_argument("--prepare", action="store_true",
                   help="also prepare each added video for fast jumps (as 'vellum video "
                        "prepare': a frame-exact display proxy in the cache folder)")

    importers, exporters = add_format_commands(sub)  # from the format registry

    p = _project_command(sub, "validate", cmd_validate, "check a project's integrity",
                         "Check the database, every annotation, segmentation and media file; "
                         "list problems in plain words. Exit status 3 if any.")
    p.add_argument("--skip-files", action="store_true", help="do not check media files")

    p = _project_command(sub, "info", cmd_info, "summarise a project")
    p.add_argument("--shapes", action="store_true", help="count annotations by shape kind")

    p = _project_command(sub, "relink", cmd_relink, "find moved media files by content",
                         "Search FOLDER for media the project can no longer find, matching by "
                         "content fingerprint, and update their paths.")
    p.add_argument("folder", metavar="FOLDER")

    _project_command(sub, "open", cmd_open, "open a project in the annotation window")

    registry = CommandRegistry(sub, importers, exporters)
    for module in AREAS:
        importlib.import_module(module).register(registry)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # a file name that is not UTF-8 (PEP 383 surrogates) prints as \udcff, never a crash
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.author:
        from app.core.identity import set_author

        set_author(args.author)
    try:
        if args.command is None:
            from app.widgets.app import run_gui

            return run_gui(None, demo=args.demo)
        code = args.func(args)
        sys.stdout.flush()
        return code
    except VellumError as exc:
        if args.debug:
            raise
        print(f"vellum: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("vellum: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``vellum info P | head``): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # the last guard: a reader let through what it should name
        if args.debug:
            raise
        print(f"vellum: error: {unexpected(exc, args)}", file=sys.stderr)
        return EXIT_ERROR


BUG_NOTE = "this is a bug in Vellum (run again with --debug for the details)"


def unexpected(exc: BaseException, args: argparse.Namespace) -> str:
    """One sentence for an error no part of Vellum turned into one: what failed, on which
    of the command's files, and (for anything but a plain OS error) that it is our bug.
    The fuzz suite fails on these sentences too: each is a reader to fix."""
    files = [str(v) for k, v in sorted(vars(args).items()) if k not in ("func", "author")
             and isinstance(v, (str, Path)) and v and os.path.lexists(v)]
    files += [str(p) for k, v in sorted(vars(args).items()) if isinstance(v, list)
              for p in v if isinstance(p, (str, Path)) and os.path.lexists(p)]
    where = f" on {', '.join(files[:3])}" if files else ""
    if isinstance(exc, MemoryError):
        return f"not enough memory for '{args.command}'{where}."
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if exc.filename is not None else (files[0] if files else "a file")
        return f"cannot use {name} ({exc.strerror}) while running '{args.command}'."
    detail = " ".join(str(exc).split())[:200]
    return (f"unexpected {type(exc).__name__} while running '{args.command}'{where}"
            f"{f' ({detail})' if detail else ''}; {BUG_NOTE}.")


if __name__ == "__main__":
    sys.exit(main())
