"""The one exception family every layer raises for a user-facing problem.

A message is one sentence a user understands and names the file involved. The CLI prints it
and exits non-zero; the GUI shows it in place of the content that failed.
"""

from __future__ import annotations

from pathlib import Path


class VellumError(Exception):
    """Base of every error meant for the user; ``str(err)`` is the sentence to show."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = str(path) if path is not None else None


class BadInputError(VellumError):
    """A file exists but its content is wrong (corrupt, truncated, malformed)."""


class UnsupportedFormatError(VellumError):
    """A file is well-formed but of a kind Vellum does not read."""


class ModelError(VellumError):
    """A model file is missing, wrong (hash mismatch) or cannot run."""


class StoreError(VellumError):
    """The project file cannot be opened, read or written."""


class RefusedEdit(VellumError, ValueError):
    """A command that does not fit the document (a frame past the end of a video, a mask of
    the wrong size, a second shape of one track on one frame...). Nothing was changed. It is
    also a ``ValueError``, so code that guards edits with ``except ValueError`` still works."""
