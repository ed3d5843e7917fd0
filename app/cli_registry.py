"""How each area of the app adds its own ``vellum`` subcommands.

An area (video, volumes, models, ...) has a module with ``register(cli: CommandRegistry)``
that adds its commands; ``app.cli`` lists those modules in ``AREAS`` and calls each. A handler
takes the parsed ``argparse.Namespace`` and returns the exit status; it raises
:class:`~app.core.errors.VellumError` for a problem the user must read (the CLI prints its one
sentence). Register modules import nothing heavy at module level: ``vellum --help`` must stay
fast, so libraries are imported inside the handlers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]
FORMATTER = argparse.RawDescriptionHelpFormatter


class CommandRegistry:
    """The three places a subcommand can live: top level (``vellum video ...``), under
    ``vellum import FORMAT`` and under ``vellum export FORMAT``."""

    def __init__(self, top: Any, importers: Any, exporters: Any) -> None:
        self._top, self._importers, self._exporters = top, importers, exporters

    @staticmethod
    def _add(where: Any, name: str, handler: Handler | None, help: str,
             description: str | None, **kwargs: Any) -> argparse.ArgumentParser:
        parser = where.add_parser(name, help=help, description=description or help,
                                  formatter_class=FORMATTER, **kwargs)
        if handler is not None:
            parser.set_defaults(func=handler)
        return parser

    def command(self, name: str, handler: Handler | None, help: str,
                description: str | None = None, **kwargs: Any) -> argparse.ArgumentParser:
        """A top-level ``vellum NAME``; with ``handler=None``, give it sub-subcommands with
        ``Group(parser, dest)``."""
        return self._add(self._top, name, handler, help, description, **kwargs)

    def importer(self, name: str, handler: Handler, help: str,
                 description: str | None = None) -> argparse.ArgumentParser:
        """``vellum import NAME PROJECT ...``."""
        return self._add(self._importers, name, handler, help, description)

    def exporter(self, name: str, handler: Handler, help: str,
                 description: str | None = None) -> argparse.ArgumentParser:
        """``vellum export NAME PROJECT ...``."""
        return self._add(self._exporters, name, handler, help, description)


class Group:
    """Sub-subcommands of one command (``vellum video info``, ``vellum video frame``...)."""

    def __init__(self, parser: argparse.ArgumentParser, dest: str) -> None:
        self._sub = parser.add_subparsers(dest=dest, metavar="COMMAND", required=True)

    def add(self, name: str, handler: Handler, help: str, description: str | None = None,
            **kwargs: Any) -> argparse.ArgumentParser:
        return CommandRegistry._add(self._sub, name, handler, help, description, **kwargs)
