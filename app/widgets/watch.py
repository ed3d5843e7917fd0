"""Keeps a panel subscribed to the editor state and to whichever document the state holds.

Panels override ``on_state(field)`` and ``on_changes(changes)``; subscriptions are dropped when
the widget is destroyed, so a closed window never receives a late event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


class StateWatcher:
    """Mixin for QWidgets that show ``state`` (an EditorState) and its document."""

    def watch(self, state: Any) -> None:
        self.state = state
        # A plain dict (not self) is captured by the destroyed handler: it outlives the widget.
        self._subs: dict[str, Any] = {"alive": True, "doc": lambda: None}
        self._subs["state"] = _unsubscriber(state.subscribe(self._state_event), state,
                                            self._state_event)
        self._watch_doc()
        self.destroyed.connect(lambda *_, subs=self._subs: _drop(subs))  # type: ignore

    def unwatch(self) -> None:
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
        self.on_state(field)

    def _doc_event(self, changes: list[Change]) -> None:
        if self._subs["alive"]:
            self.on_changes(changes)

    def on_state(self, field: str) -> None:
        """A field of the editor state changed."""

    def on_changes(self, changes: list[Change]) -> None:
        """The document executed, undid or redid a command."""
