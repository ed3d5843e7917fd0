"""Keeps a widget subscribed to the editor state and to whichever document the state holds.

:class:`Watch` is the composed form: ``Watch(state, owner, on_state, on_changes)`` calls
``on_state(field)`` on every change of a state field and ``on_changes(changes)`` on every
command of the state's document (following the state to a new document), until
:meth:`Watch.stop` or until ``owner`` (a QObject) is destroyed, so a closed window never
receives a late event. The main window composes one. :class:`StateWatcher` is the same for
panels written as a mixin (they override ``on_state`` and ``on_changes`` and call
``self.watch(state)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from app.core.document import Change


def _unsubscriber(result: Any, source: Any, fn: Callable) -> Callable[[], None]:
    """Whatever ``subscribe`` returned, a function that cancels the subscription."""
    if callable(result):
        return result
    unsub = getattr(source, "unsubscribe", None)
    return (lambda: unsub(fn)) if unsub else (lambda: None)


def _drop(subs: dict[str, Any]) -> None:
    if subs.get("alive"):
        subs["alive"] = False
        subs["state"]()
        subs["doc"]()


class Watch:
    """Subscribes ``on_state`` and ``on_changes`` to ``state`` and its document while
    ``owner`` lives (see the module doc)."""

    def __init__(self, state: Any, owner: QObject, on_state: Callable[[str], Any],
                 on_changes: Callable[[list[Change]], Any]) -> None:
        self.state = state
        self._on_state = on_state
        self._on_changes = on_changes
        # A plain dict (not self) is captured by the destroyed handler: it outlives the owner.
        self._subs: dict[str, Any] = {"alive": True, "doc": lambda: None}
        self._subs["state"] = _unsubscriber(state.subscribe(self._state_event), state,
                                            self._state_event)
        self._watch_doc()
        owner.destroyed.connect(lambda *_, subs=self._subs: _drop(subs))

    def stop(self) -> None:
        """No more events (also done when the owner is destroyed)."""
        _drop(self._subs)

    def _watch_doc(self) -> None:
        self._subs["doc"]()
        doc = getattr(self.state, "doc", None)
        self._subs["doc"] = (_unsubscriber(doc.subscribe(self._doc_event), doc, self._doc_event)
                             if doc is not None else (lambda: None))

    def _state_event(self, field: str) -> None:
        if not self._subs["alive"]:
            return
        if field == "doc":
            self._watch_doc()
        self._on_state(field)

    def _doc_event(self, changes: list[Change]) -> None:
        if self._subs["alive"]:
            self._on_changes(changes)


class StateWatcher:
    """Mixin for panels (QWidgets) that show ``state`` (an EditorState) and its document:
    ``self.watch(state)`` subscribes the panel's ``on_state`` / ``on_changes`` (a
    :class:`Watch` owned by the panel)."""

    state: Any
    _watch: Watch

    def watch(self, state: Any) -> None:
        self.state = state
        self._watch = Watch(state, self,  # type: ignore[arg-type]  # mixed into a QWidget
                            lambda field: self.on_state(field),
                            lambda changes: self.on_changes(changes))

    def unwatch(self) -> None:
        self._watch.stop()

    def on_state(self, field: str) -> None:
        """A field of the editor state changed."""

    def on_changes(self, changes: list[Change]) -> None:
        """The document executed, undid or redid a command."""
