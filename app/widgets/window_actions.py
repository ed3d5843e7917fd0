"""The main window's menus and keys, as one table (:class:`app.widgets.menus.Entry`), and the
rule for which item an undo brings into view.

Every key of the window is here or in a tool's declaration; F1 lists them all and no two
actions share one (a test checks both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence

from app.core.commands import Command
from app.core.document import Document
from app.widgets import exchange
from app.widgets.icons import tool_icon
from app.widgets.menus import Entry, tool_tip
from app.widgets.sam_window import sam_entries

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow


def history_media(doc: Document, command: Command, current: str | None) -> str | None:
    """The media item whose labels undoing or redoing ``command`` changes, when that is one
    item other than ``current`` (the window shows it first); None to stay where we are
    (the edit is here, spans several items, or only changes media records or the schema)."""
    media = command.media_ids(doc)
    if current in media or len(media) != 1:
        return None
    target = media.pop()
    item = doc.stored_media(target)
    return target if item is not None and not item.removed else None


def history_frame(doc: Document, command: Command, frame: int | None) -> int | None:
    """The video frame to show before undoing or redoing ``command`` when the user is on
    ``frame`` (None: not on a video frame): the first frame the edit touches when it touches
    none on screen; None to stay (the edit is on this frame or on no frame)."""
    on = {f for f in command.frames() if f is not None}
    if not on or frame in on:
        return None
    return min(on)


def _self_test(w: MainWindow) -> None:
    from app.widgets.self_test import run_self_test_dialog

    run_self_test_dialog(w)


def entries(w: MainWindow) -> list[Entry]:
    """The window's menus, in order."""
    F, E, O, M, T, V, H = "&File", "&Edit", "&Objects", "&Media", "&Tools", "&View", "&Help"
    d, c = w.dialogs, w.commands
    out = [
        Entry(F, "&New project…", QKeySequence.StandardKey.New, d.new_project_dialog,
              "Create a project: a folder holding project.vellum", "Project"),
        Entry(F, "&Open project…", QKeySequence.StandardKey.Open, d.open_project_dialog,
              section="Project"),
        Entry(F, submenu="Open &recent"),
        Entry(F, "Open &demo project", None, d.open_demo),
        Entry(F, "Set a&uthor name…", None, d.author_dialog),
        Entry(F, separator=True),
        Entry(F, "&Save", QKeySequence.StandardKey.Save, c.save,
              "Every edit is saved as you make it; this says when the last one was",
              "Project"),
        Entry(F, "&Add images or videos…", "Ctrl+I", d.add_files_dialog, section="Project"),
        Entry(F, "Add &folder…", "Ctrl+Shift+I", d.add_folder_dialog, section="Project"),
        *exchange.menu_entries(w, F),  # Import ▸ / Export ▸ every format (Ctrl+E: COCO)
        Entry(F, separator=True),
        Entry(F, "&Close project", "Ctrl+W", w.close_project, section="Project"),
        Entry(F, "&Quit", QKeySequence.StandardKey.Quit, w.close, section="Project"),

        Entry(E, "&Undo", "Ctrl+Z", c.undo, "Undo (an edit on another image shows it first)",
              "Edit", "undo"),
        Entry(E, "&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], c.redo, section="Edit", name="redo"),
        Entry(E, "&Copy shapes", "Ctrl+C", c.copy_shapes, section="Edit"),
        Entry(E, "&Paste shapes", "Ctrl+V", c.paste_shapes,
              "Paste onto this image (cut to it; refused where drawing is)", "Edit"),
        Entry(E, "Paste shapes from pre&vious image", "Ctrl+Shift+V", c.repeat_previous,
              section="Edit"),
        Entry(E, "Select &all shapes", "Ctrl+A", c.select_all, section="Edit"),
        Entry(E, action=w.objects.actions_["delete"], section="Edit"),
        Entry(E, separator=True),
        Entry(E, "Pre&ferences…", None, d.preferences_dialog,
              "The video frame cache size (applies to the next video opened)",
              name="preferences"),

        *[Entry(O, action=w.objects.actions_[k], section="Objects")
          for k in ("visibility", "lock", "forward", "backward")],
        Entry(O, "Show all hidden objects", "Shift+H", c.show_all_objects,
              section="Objects"),
        Entry(O, "Start / finish a &shape", "N", c.start_or_finish_shape,
              "N as in CVAT: finish the shape being drawn, or start drawing", "Objects"),
        Entry(O, separator=True),
        Entry(O, "New &class…", "Ctrl+Shift+N", w.labels.add_class, section="Objects"),
        Entry(O, "&Edit active class…", "Ctrl+Shift+E", w.labels.edit_class,
              section="Objects"),

        Entry(M, "&Next image (next frame on video)", ["F"], lambda: w.step_media(1),
              section="Navigation"),
        Entry(M, "&Previous image (previous frame on video)", ["D"],
              lambda: w.step_media(-1), section="Navigation"),
        Entry(M, "Next &item", ["PgDown"], lambda: w.step_item(1), section="Navigation"),
        Entry(M, "Previous i&tem", ["PgUp"], lambda: w.step_item(-1), section="Navigation"),
        Entry(M, "&First image", "Home", lambda: w.jump_media(0), section="Navigation"),
        Entry(M, "&Last image", "End", lambda: w.jump_media(-1), section="Navigation"),
        Entry(M, "Mark &done and go to next", ["Ctrl+Return", "Ctrl+Enter"],
              lambda: w.review.accept_and_next() if w.review.active()
              else c.mark_done_and_next(),
              "In review mode (View ▸ Review queue): accept the selected object and go to the "
              "next unreviewed one", "Navigation"),
        Entry(M, separator=True),
        *[Entry(M, action=a, section="Navigation") for a in w.media.status_actions],
    ]
    for name, tool in w.tools.items():
        key = tool.shortcut or None
        out.append(Entry(T, tool.label, key, lambda n=name: w.set_tool(n),
                         tool_tip(tool.label, key, tool.tooltip), "Tools", f"tool_{name}",
                         checkable=True, icon=tool_icon(name, tool.label), group="tools"))
    out += sam_entries(w)  # Tools ▸ Models…, Propagate…, Track box… (segment anything)
    out += [
        Entry(V, "&Fit image to window", "Ctrl+0", w.canvas.fit, section="View"),
        Entry(V, "&Actual size (100%)", "Ctrl+1", w.canvas.zoom_1to1, section="View"),
        Entry(V, "&Zoom to selection", "Z", c.zoom_to_selection, section="View"),
        Entry(V, "Image &brightness and contrast…", "Ctrl+B", d.adjust_dialog,
              section="View"),
        Entry(V, "&Outlines only", "Ctrl+Shift+O", None,
              "Hide the fills of masks, polygons and boxes (the fill opacity slider in the "
              "status bar sets how strong they are)", "View", "outlines", checkable=True),
        Entry(V, "Toggle &dark / light theme", "Ctrl+Shift+T", d.toggle_theme,
              section="View"),
        Entry(V, "Focus media &filter", "Ctrl+F", w.media.search.setFocus, section="View"),
        Entry(V, separator=True),
        *[Entry(V, action=dock.toggleViewAction()) for dock in w.docks],
        Entry(H, "&Keyboard shortcuts", ["F1", "?"], d.show_shortcuts, section="Help"),
        Entry(H, "&Self-test…", None, lambda: _self_test(w),
              "Check that this machine can run Vellum: media, exports, models, Qt, folders, "
              "no network (as 'vellum self-test')", name="self_test"),
        Entry(H, "&About Vellum", None, d.about),
    ]
    # Class keys 1-9 (no menu: the Labels panel shows them; the key sheet names each class).
    out += [Entry("", f"Class {k}", k, lambda k=k: d.choose_class_key(k), name=f"class_{k}")
            for k in "123456789"]
    return out
