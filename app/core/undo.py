"""The undo and redo stacks of an open document.

The stacks hold commands that have run (each keeps what it replaced, so its
:meth:`~app.core.commands.Command.inverse` is exact); the document runs them and moves them from
one stack to the other only once that run committed - a refused undo stays undoable.
"""

from __future__ import annotations

from app.core.commands import Command

UNDO_LIMIT = 1000


class UndoHistory:
    """The last ``limit`` executed commands, and those undone since (cleared by a new one)."""

    def __init__(self, limit: int = UNDO_LIMIT) -> None:
        self._limit = limit
        self._undo: list[Command] = []
        self._redo: list[Command] = []

    def done(self, command: Command) -> None:
        """``command`` was executed: it is the next to undo, and nothing is left to redo."""
        self._undo.append(command)
        del self._undo[:-self._limit]
        self._redo.clear()

    def undone(self) -> None:
        """The command on top of the undo stack was undone: it is the next to redo."""
        self._redo.append(self._undo.pop())

    def redone(self) -> None:
        """The command on top of the redo stack was redone: it is the next to undo."""
        self._undo.append(self._redo.pop())

    @property
    def undo_command(self) -> Command | None:
        """The command an undo would revert (None when there is none)."""
        return self._undo[-1] if self._undo else None

    @property
    def redo_command(self) -> Command | None:
        return self._redo[-1] if self._redo else None
