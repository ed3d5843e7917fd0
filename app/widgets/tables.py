"""The read-only report table of the Models and Self-test dialogs."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QTreeWidget


def report_table(columns: Sequence[str], widths: Sequence[int]) -> QTreeWidget:
    """A flat table (no tree lines) of ``columns`` with their starting ``widths``: wrapped
    text, alternating row colours."""
    table = QTreeWidget()
    table.setColumnCount(len(columns))
    table.setHeaderLabels(list(columns))
    table.setRootIsDecorated(False)
    table.setWordWrap(True)
    table.setAlternatingRowColors(True)
    for col, width in enumerate(widths):
        table.setColumnWidth(col, width)
    return table
