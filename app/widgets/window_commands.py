"""What the window's editing keys do beyond the tools: undo and redo that first show the item
an edit was made on, copy and paste, zoom to the selection, Ctrl+S, "mark done and go to
next" and CVAT's N. Composed by :class:`~app.widgets.main_window.MainWindow` as
``window.commands``; the menu table (:mod:`app.widgets.window_actions`) calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.errors import VellumError
from app.core.media import MediaStatus
from app.widgets.window_actions import history_frame, history_media

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow


class WindowCommands:
    """Commands of the main window (see the module doc). Of the window they use its editor
    state, canvas, media list and presenter, the previous place, the last drawing tool, and
    its ``message`` / ``error`` / ``show_media`` / ``step_media`` / ``set_tool`` /
    ``show_saved``."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window

    def mark_done_and_next(self) -> None:
        """Mark the current item done and go to the next one."""
        w = self.w
        doc, mid = w.state.doc, w.state.media_id
        if doc is None or mid is None:
            return
        item = doc.media_item(mid)
        if item.status is not MediaStatus.DONE and not w.media.set_status(
                MediaStatus.DONE, [item]):
            return
        before = w.state.media_id
        w.step_media(1)
        w.message(f"{item.name} is done." + ("" if w.state.media_id != before
                                             else " That was the last item."), 4000)

    def start_or_finish_shape(self) -> None:
        """N, as in CVAT: finish the shape being drawn; otherwise start drawing with the last
        drawing tool used."""
        w = self.w
        tool = w.canvas.tool
        if tool is not None and tool.busy and tool.finish_shape():
            return
        if tool is None or not tool.draws:
            w.set_tool(w.last_drawing_tool)
            tool = w.canvas.tool
        w.message(f"{tool.label}: {tool.tooltip}", 5000)

    # ------------------------------------------------------------------ history
    def undo(self) -> None:
        self._history("undo")

    def redo(self) -> None:
        self._history("redo")

    def _history(self, which: str) -> None:
        """Undo or redo; an edit made on another item first brings that item into view, so
        nothing changes out of sight (as CVAT and Slicer do)."""
        w = self.w
        doc = w.state.doc
        if doc is None:
            return
        if w.state.read_only:
            w.message(w.state.read_only, 6000)
            return
        if w.canvas.tool is not None and w.canvas.tool.busy:
            w.canvas.tool.cancel()
            return
        command = doc.undo_command if which == "undo" else doc.redo_command
        if command is None:
            w.message(f"Nothing to {which}.", 3000)
            return
        where = ""
        target = history_media(doc, command, w.state.media_id)
        if target is not None:
            w.show_media(target)
            where = f" (on {doc.media_item(target).name})"
        place = w.state.place
        frame = history_frame(doc, command, place.frame if place is not None else None) \
            if place is not None and place.frame is not None else None
        jump = getattr(w.presenter, "jump", None)
        if frame is not None and jump is not None:
            jump(frame)  # the video shows the frame the edit is on (also while it opens)
            where = f" (on {doc.media_item(place.media_id).name}, frame {frame})"
        label = command.label
        try:
            done = doc.undo() if which == "undo" else doc.redo()
        except (VellumError, ValueError) as exc:  # e.g. the class to drop is now in use
            w.error(f"Cannot {which} {label!r}: {exc}")
            return
        if done:
            w.message(f"{which.capitalize()}: {label}{where}", 4000)

    # ------------------------------------------------------------------ clipboard, view
    def copy_shapes(self) -> None:
        from app.tools import clipboard

        clipboard.copy(self.w.state)

    def paste_shapes(self) -> None:
        from app.tools import clipboard

        clipboard.paste(self.w.state)

    def repeat_previous(self) -> None:
        from app.tools import clipboard

        previous = self.w.previous_place
        if previous is None:
            self.w.message("No previous image in this session.", 4000)
            return
        clipboard.repeat_previous(self.w.state, previous)

    def select_all(self) -> None:
        state = self.w.state
        state.select(tuple(a.id for a in state.visible_annotations()))

    def show_all_objects(self) -> None:
        self.w.state.set(hidden=frozenset(), hidden_classes=frozenset())

    def zoom_to_selection(self) -> None:
        """Zoom onto the selected shapes (their joint bounding box)."""
        boxes = [a.shape.bbox() for a in self.w.state.selected_visible()
                 if sum(a.shape.bbox()[2:]) > 0]
        if not boxes:
            self.w.message("Select a shape to zoom to (click it, or Tab).", 3000)
            return
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[0] + b[2] for b in boxes)
        y1 = max(b[1] + b[3] for b in boxes)
        self.w.canvas.zoom_to(x0, y0, x1, y1)

    def save(self) -> None:
        """Ctrl+S: there is nothing to save, so say so, with the time of the last commit."""
        w = self.w
        doc = w.state.doc
        if doc is None:
            w.message("No project is open.", 4000)
            return
        if w.state.read_only:
            w.message("Nothing to save in this read-only window; the window editing the "
                      "project saves every edit as it is made.", 6000)
            return
        from app.widgets.status_bar import local_time

        last = doc.store.history(1)
        when = local_time(last[0]["time"]) if last else ""
        w.message("Saved — every edit is saved as you make it"
                  + (f" (the last one at {when})." if when else "."), 6000)
        w.show_saved()
