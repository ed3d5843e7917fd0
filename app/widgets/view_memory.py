"""Where the user was, kept in the project so that reopening starts there, not at image 1.

Saved when the project is closed (another project opened, the window closed): the place on
the canvas, the zoom (screen px per image px) and the image point at the view's centre, and
the classes hidden or locked in the view; and, under ``"volumes"``, how each volume was left
(layout, window/level, crosshair, each pane's zoom: :mod:`app.widgets.volume.saved_view`),
given by any mode presenter with a ``view_memo()`` and kept for volumes not shown this time.
Not an edit: no undo, no audit entry (:meth:`Document.save_view_state`). A read-only window
saves nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.document import Document
from app.core.errors import VellumError
from app.core.media import MediaItem
from app.core.places import Place

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow


def remember(win: MainWindow) -> None:
    """Store the window's view of its document (quietly skipped when it cannot be written)."""
    doc, state, canvas = win.state.doc, win.state, win.canvas
    if doc is None or state.read_only:
        return
    view: dict[str, Any] = {"hidden_classes": sorted(state.hidden_classes),
                            "locked_classes": sorted(state.locked_classes)}
    if state.place is not None:
        view["place"] = state.place.to_json()
        if canvas.showing() == "image" and not canvas.auto_fitted():
            view["zoom"] = canvas.zoom()
            view["center"] = list(canvas.center())
    volumes = _volumes(win, doc)
    if volumes:
        view["volumes"] = volumes
    try:
        doc.save_view_state(view)
    except (VellumError, OSError):
        pass


def _volumes(win: MainWindow, doc: Document) -> dict[str, Any]:
    """How each volume was left: the project's stored ones, updated by the presenters'
    ``view_memo()``; items no longer in the project are dropped."""
    try:
        stored = doc.view_state().get("volumes")
    except (VellumError, OSError):
        stored = None
    out = dict(stored) if isinstance(stored, dict) else {}
    for presenter in win.presenters.values():
        memo = getattr(presenter, "view_memo", None)
        if callable(memo):
            out.update(memo())
    return {mid: v for mid, v in out.items() if doc.stored_media(mid) is not None}


def recall(win: MainWindow, doc: Document) -> dict[str, Any]:
    """The stored view of ``doc``; applies its hidden and locked classes at once."""
    view = doc.view_state()
    known = {c.id for c in doc.schema.classes}
    win.state.set(hidden_classes=frozenset(i for i in view.get("hidden_classes", ())
                                           if i in known),
                  locked_classes=frozenset(i for i in view.get("locked_classes", ())
                                           if i in known))
    return view


def start_item(doc: Document, view: dict[str, Any] | None) -> MediaItem | None:
    """The media item to show first: the one the user left, else the first one."""
    items = doc.media()
    if view and isinstance(view.get("place"), dict):
        try:
            place = Place.from_json(view["place"])
        except (KeyError, TypeError, ValueError):
            place = None
        if place is not None:
            item = doc.stored_media(place.media_id)
            if item is not None and not item.removed:
                return item
    return items[0] if items else None


def apply_pending(win: MainWindow) -> None:
    """Once the remembered item's picture is shown: its zoom and centre (then forgotten)."""
    view, win.pending_view = win.pending_view, None
    if not view or "zoom" not in view or win.state.place is None:
        return
    place = view.get("place") or {}
    if place.get("media_id") != win.state.media_id:
        return
    try:
        zoom = float(view["zoom"])
        cx, cy = (float(v) for v in view["center"])
    except (KeyError, TypeError, ValueError):
        return
    canvas = win.canvas
    canvas.set_view(zoom, canvas.width() / 2 - cx * zoom, canvas.height() / 2 - cy * zoom)
