"""Python's cyclic garbage collector runs on the UI thread only, in a process with a Qt window.

The collector runs on whichever thread happens to allocate when its counters fill up: often a
worker of the job pool. When it then frees a cycle holding a PySide object (a QObject made
without a parent, a signal connection to a bound method), PySide disconnects it inside Qt,
taking Qt's connection lock while it waits for Python's lock; the UI thread, holding Python's
lock, waits in Qt for the connection lock (building a menu, connecting a signal): a deadlock.
py-spy showed exactly that twice (``gc_collect_main`` -> ``QObject::disconnect`` on a worker,
``QObject::disconnect`` -> ``lockInternal`` on the UI thread).

:func:`install` turns automatic collection off and collects from a timer on the UI thread
instead, with the collector's own thresholds (generation 0 at 700 allocations, and so on), so
memory is reclaimed as before but never on a worker. Reference counting still frees almost
everything at once; only cycles wait for the next tick (:data:`TICK_MS`).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

TICK_MS = 250  # how often the UI thread looks at the collector's counters


class UiThreadCollector(QObject):
    """Collects on the UI thread when the counters say the collector would have (see the
    module doc). Made once per process, owned by the application object."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.collections = 0
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        """Collect the oldest generation whose count passed its threshold (if any); turn
        automatic collection back off if something turned it on."""
        if gc.isenabled():
            gc.disable()
        counts = gc.get_count()
        t0, t1, t2 = self.thresholds
        generation = -1
        if counts[0] > t0:
            generation = 0
            if counts[1] > t1:
                generation = 1
                if counts[2] > t2:
                    generation = 2
        if generation >= 0:
            gc.collect(generation)
            self.collections += 1


def install() -> UiThreadCollector | None:
    """Move cyclic collection to the UI thread (once per process; None without a Qt
    application)."""
    app = QCoreApplication.instance()
    if app is None:
        return None
    found = app.findChild(UiThreadCollector)
    gc.disable()  # (again: something may have turned it back on since)
    return found if found is not None else UiThreadCollector(app)
