"""Progress for long jobs: one callback shape everywhere, a bar on a terminal.

Long work in ``app/core`` and ``app/io`` takes ``progress(done, total)`` (optionally a third
``what`` argument naming the item) and, where it can stop early, ``cancelled() -> bool``. The
CLI turns that callback into a tqdm bar on stderr when stderr is a terminal, and into nothing
when it is a pipe or a file (scripts read stdout; a bar would garble logs).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Progress = Callable[..., None]


@contextmanager
def terminal_progress(desc: str, unit: str = "it") -> Iterator[Progress]:
    """Yield a ``progress(done, total, what="")`` callback drawing a bar on a terminal."""
    if not sys.stderr.isatty():
        yield lambda *args, **kwargs: None
        return
    from tqdm import tqdm

    bar: Any = tqdm(desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True)

    def update(done: int, total: int | None = None, what: str = "") -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        if what:
            bar.set_postfix_str(str(what)[-40:], refresh=False)
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
