"""The main window's dialogs and window-wide settings: new / open project, add media, the demo,
recent projects, the key sheet, brightness and contrast, theme, author name, preferences.
Composed by :class:`~app.widgets.main_window.MainWindow` as ``window.dialogs``; the menu table
(:mod:`app.widgets.window_actions`) and the welcome page call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QInputDialog

from app.core.identity import set_author
from app.widgets import dialogs, theme
from app.widgets.shortcuts import ShortcutSheet, sheet_sections

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow

RECENT_MAX = 10


class WindowDialogs:
    """Dialogs of the main window (see the module doc). The window is their parent; of it they
    use its settings, editor state, canvas, labels panel, jobs, menus (sections, the recent
    menu), tools and mode keys, and its ``create_project`` / ``open_project`` /
    ``add_paths`` / ``message`` / ``error``."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window

    # ------------------------------------------------------------------ projects and media
    def new_project_dialog(self) -> None:
        path = dialogs.ask_new_project(self.w)
        if path:
            self.w.create_project(path)

    def open_project_dialog(self) -> None:
        path = dialogs.ask_open_project(self.w)
        if path:
            self.w.open_project(path)

    def add_files_dialog(self) -> None:
        self.w.add_paths(dialogs.ask_media_files(self.w))

    def add_folder_dialog(self) -> None:
        self.w.add_paths(dialogs.ask_media_folder(self.w))

    def open_demo(self) -> None:
        from app.demo import build_demo, demo_folder

        w = self.w
        w.jobs.start("Building the demo project", lambda job: build_demo(demo_folder()),
                     on_done=w.open_project, on_error=lambda exc: w.error(str(exc)))

    # ------------------------------------------------------------------ recent projects
    def fill_recent_menu(self) -> None:
        menu, recent = self.w.recent_menu, self.recent_projects()
        menu.clear()
        for path in recent:
            menu.addAction(path, lambda p=path: self.w.open_project(p))
        menu.setEnabled(bool(recent))

    def recent_projects(self) -> list[str]:
        value = self.w.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def remember_recent(self, path: str) -> None:
        recent = [path] + [p for p in self.recent_projects() if p != path]
        self.w.settings.setValue("recent", recent[:RECENT_MAX])

    # ------------------------------------------------------------------ keys
    def shortcut_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """What the key sheet lists: every action, every class key, every tool's keys."""
        w = self.w
        doc = w.state.doc
        classes = doc.schema.classes if doc else ()
        sections = sheet_sections(w.sections, classes, [type(t) for t in w.tools.values()])
        if w.mode_keys:  # the keys the shown item's mode added (video: frames, tracks)
            item = doc.stored_media(w.state.media_id) if (doc and w.state.media_id) else None
            title = f"{item.kind.value.capitalize()} mode" if item else "This mode"
            sections.insert(1, (title, [(what, key) for key, what in w.mode_keys.items()]))
        if w.presenter is not None and getattr(w.presenter, "session", None) is not None:
            from app.widgets.volume.pane import SLICE_KEYS

            if SLICE_KEYS.scheme == "slicer":  # Edit > Preferences > Slice keys
                sections.insert(2 if w.mode_keys else 1, ("Slice keys (3D Slicer's)", [
                    ("Previous slice in the active pane", "Left, B"),
                    ("Next slice in the active pane", "Right"),
                    ("10 slices back / forward", "Shift+Left, Shift+Right")]))
        return sections

    def show_shortcuts(self) -> None:
        ShortcutSheet(self.shortcut_sections(), self.w).exec()

    def choose_class_key(self, key: str) -> None:
        if not self.w.labels.choose_hotkey(key):
            self.w.message(f"No class has the key {key}; give one in its Edit dialog.", 3000)

    # ------------------------------------------------------------------ settings
    def adjust_dialog(self) -> None:
        w = self.w
        dialogs.AdjustDialog(w.settings, w.canvas.set_display_adjust, w).show()

    def toggle_theme(self) -> None:
        app = QApplication.instance()
        name = "light" if theme.current_theme(app) == "dark" else "dark"
        theme.apply_theme(app, name)
        self.w.settings.setValue("theme", name)

    def about(self) -> None:
        dialogs.about(self.w)

    def preferences_dialog(self) -> None:
        """Edit ▸ Preferences… (saved for Qt-free code too: :mod:`app.io.preferences`)."""
        if dialogs.PreferencesDialog(self.w).exec():
            from app.io import preferences
            from app.widgets.volume.pane import set_slice_keys

            set_slice_keys(preferences.slice_keys())  # every pane, at once
            self.w.message("Preferences saved; the frame cache size applies to the next "
                           "video opened, the slice keys now.", 5000)

    def author_dialog(self) -> None:
        """Ask for the name the audit trail records (kept in QSettings)."""
        settings = self.w.settings
        name, ok = QInputDialog.getText(self.w, "Author name", "Name recorded with your edits "
                                        "(empty: your user name):", text=str(
                                            settings.value("author", "") or ""))
        if ok:
            settings.setValue("author", name.strip())
            set_author(name)
