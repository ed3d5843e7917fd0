"""What the window's editing keys do beyond the tools: undo and redo that first show the item
an edit was made on, copy and paste, zoom to the selection, Ctrl+S, "mark done and go to
next" and CVAT's N. A mixin of :class:`~app.widgets.main_window.MainWindow` (it uses the
window's state, canvas, media list and status bar).
"""

from __future__ import annotations

from app.core.errors import VellumError
from app.core.media import MediaStatus
from app.widgets.window_actions import history_frame, history_media


class WindowCommands:
    """Commands of the main window (see the module doc)."""

    def mark_done_and_next(self) -> None:
        """Mark the current item done and go to the next one."""
        doc, mid = self.state.doc, self.state.media_id
        if doc is None or mid is None:
            return
        item = doc.media_item(mid)
        if item.status is not MediaStatus.DONE and not self.media.set_status(
                MediaStatus.DONE, [item]):
            return
        before = self.state.media_id
        self.step_media(1)
        self.message(f"{item.name} is done." + ("" if self.state.media_id != before
                                                 else " That was the last item."), 4000)

    def start_or_finish_shape(self) -> None:
        """N, as in CVAT: finish the shape being drawn; otherwise start drawing with the last
        drawing tool used."""
        tool = self.canvas.tool
        if tool is not None and tool.busy and tool.finish_shape():
            return
        if tool is None or not tool.draws:
            self.set_tool(self.last_drawing_tool)
            tool = self.canvas.tool
        self.message(f"{tool.label}: {tool.tooltip}", 5000)

    # ------------------------------------------------------------------ history
    def undo(self) -> None:
        self._history("undo")

    def redo(self) -> None:
        self._history("redo")

    def _history(self, which: str) -> None:
        """Undo or redo; an edit made on another item first brings that item into view, so
        nothing changes out of sight (as CVAT and Slicer do)."""
        doc = self.state.doc
        if doc is None:
            return
        if self.state.read_only:
            self.message(self.state.read_only, 6000)
            return
        if self.canvas.tool is not None and self.canvas.tool.busy:
            self.canvas.tool.cancel()
            return
        command = doc.undo_command if which == "undo" else doc.redo_command
        if command is None:
            self.message(f"Nothing to {which}.", 3000)
            return
        where = ""
        target = history_media(doc, command, self.state.media_id)
        if target is not None:
            self.show_media(target)
            where = f" (on {doc.media_item(target).name})"
        place = self.state.place
        frame = history_frame(doc, command, place.frame if place is not None else None) \
            if place is not None and place.frame is not None else None
        jump = getattr(self.presenter, "jump", None)
        if frame is not None and jump is not None:
            jump(frame)  # the video shows the frame the edit is on (also while it opens)
            where = f" (on {doc.media_item(place.media_id).name}, frame {frame})"
        label = command.label
        try:
            done = doc.undo() if which == "undo" else doc.redo()
        except (VellumError, ValueError) as exc:  # e.g. the class to drop is now in use
            self.error(f"Cannot {which} {label!r}: {exc}")
            return
        if done:
            self.message(f"{which.capitalize()}: {label}{where}", 4000)

    # ------------------------------------------------------------------ clipboard, view
    def copy_shapes(self) -> None:
        from app.tools import clipboard

        clipboard.copy(self.state)

    def paste_shapes(self) -> None:
        from app.tools import clipboard

        clipboard.paste(self.state)

    def repeat_previous(self) -> None:
        from app.tools import clipboard

        if self.previous_place is None:
            self.message("No previous image in this session.", 4000)
            return
        clipboard.repeat_previous(self.state, self.previous_place)

    def select_all(self) -> None:
        self.state.select(tuple(a.id for a in self.state.visible_annotations()))

    def show_all_objects(self) -> None:
        self.state.set(hidden=frozenset(), hidden_classes=frozenset())

    def zoom_to_selection(self) -> None:
        """Zoom onto the selected shapes (their joint bounding box)."""
        boxes = [a.shape.bbox() for a in self.state.selected_visible()
                 if sum(a.shape.bbox()[2:]) > 0]
        if not boxes:
            self.message("Select a shape to zoom to (click it, or Tab).", 3000)
            return
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[0] + b[2] for b in boxes)
        y1 = max(b[1] + b[3] for b in boxes)
        self.canvas.zoom_to(x0, y0, x1, y1)

    def save(self) -> None:
        """Ctrl+S: there is nothing to save, so say so, with the time of the last commit."""
        doc = self.state.doc
        if doc is None:
            self.message("No project is open.", 4000)
            return
        if self.state.read_only:
            self.message("Nothing to save in this read-only window; the window editing the "
                         "project saves every edit as it is made.", 6000)
            return
        from app.widgets.status_bar import local_time

        last = doc.store.history(1)
        when = local_time(last[0]["time"]) if last else ""
        self.message("Saved — every edit is saved as you make it"
                     + (f" (the last one at {when})." if when else "."), 6000)
        self._show_saved()
