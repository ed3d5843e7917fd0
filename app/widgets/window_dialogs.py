"""The main window's dialogs and window-wide settings: new / open project, add media, the demo,
recent projects, the key sheet, brightness and contrast, theme, author name. A mixin of
:class:`~app.widgets.main_window.MainWindow`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QInputDialog

from app.core.identity import set_author
from app.tools import TOOLS
from app.widgets import dialogs, theme
from app.widgets.shortcuts import ShortcutSheet, sheet_sections

RECENT_MAX = 10


class WindowDialogs:
    """Dialogs of the main window (see the module doc)."""

    def new_project_dialog(self) -> None:
        path = dialogs.ask_new_project(self)
        if path:
            self.create_project(path)

    def open_project_dialog(self) -> None:
        path = dialogs.ask_open_project(self)
        if path:
            self.open_project(path)

    def add_files_dialog(self) -> None:
        self.add_paths(dialogs.ask_media_files(self))

    def add_folder_dialog(self) -> None:
        self.add_paths(dialogs.ask_media_folder(self))

    def open_demo(self) -> None:
        from app.demo import build_demo, demo_folder

        self.jobs.start("Building the demo project", lambda job: build_demo(demo_folder()),
                        on_done=self.open_project, on_error=lambda exc: self.error(str(exc)))

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_projects():
            self.recent_menu.addAction(path, lambda p=path: self.open_project(p))
        self.recent_menu.setEnabled(bool(self.recent_projects()))

    def recent_projects(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember_recent(self, path: str) -> None:
        recent = [path] + [p for p in self.recent_projects() if p != path]
        self.settings.setValue("recent", recent[:RECENT_MAX])

    def shortcut_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """What the key sheet lists: every action, every class key, every tool's keys."""
        classes = self.state.doc.schema.classes if self.state.doc else ()
        sections = sheet_sections(self.sections, classes, TOOLS)
        if self.mode_keys:  # the keys the shown item's mode added (video: frames, tracks)
            item = self.state.doc.stored_media(self.state.media_id) if (
                self.state.doc and self.state.media_id) else None
            title = f"{item.kind.value.capitalize()} mode" if item else "This mode"
            sections.insert(1, (title, [(what, key) for key, what in self.mode_keys.items()]))
        return sections

    def show_shortcuts(self) -> None:
        ShortcutSheet(self.shortcut_sections(), self).exec()

    def adjust_dialog(self) -> None:
        dialogs.AdjustDialog(self.settings, self.canvas.set_display_adjust, self).show()

    def set_outlines_only(self, on: bool) -> None:
        """Show only the outlines of unselected shapes (display only, remembered)."""
        self.display.set_outlines_only(on)

    def toggle_theme(self) -> None:
        app = QApplication.instance()
        name = "light" if theme.current_theme(app) == "dark" else "dark"
        theme.apply_theme(app, name)
        self.settings.setValue("theme", name)

    def about(self) -> None:
        dialogs.about(self)

    def author_dialog(self) -> None:
        """Ask for the name the audit trail records (kept in QSettings)."""
        name, ok = QInputDialog.getText(self, "Author name", "Name recorded with your edits "
                                        "(empty: your user name):", text=str(
                                            self.settings.value("author", "") or ""))
        if ok:
            self.settings.setValue("author", name.strip())
            set_author(name)

    def choose_class_key(self, key: str) -> None:
        if not self.labels.choose_hotkey(key):
            self.message(f"No class has the key {key}; give one in its Edit dialog.", 3000)
