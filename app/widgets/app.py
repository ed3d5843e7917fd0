"""Start the GUI: ``run_gui(project, demo)`` (the CLI's ``vellum`` and ``vellum --demo``).

Also runnable as ``python -m app.widgets.app [PROJECT] [--demo]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.widgets import theme
from app.widgets.labels import ensure_fonts


def make_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once) with high-DPI settings, names for QSettings, theme."""
    app = QApplication.instance()
    if app is None:
        # Fractional scale factors (125 %, 150 %) as they are, not rounded: crisp on every screen.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("Vellum")
    app.setOrganizationDomain("vellum.local")
    app.setApplicationName("Vellum")
    app.setApplicationDisplayName("Vellum")
    ensure_fonts()  # says which package to install when the machine has no fonts
    theme.apply_theme(app, str(QSettings().value("theme", "dark")))
    return app  # type: ignore[return-value]


def install_error_hook(log: Path | None = None) -> Path:
    """Route unexpected exceptions to a log file and a one-sentence message (never a traceback
    dialog); every committed edit is already on disk. Returns the log path."""
    import traceback

    from app.demo import user_data_folder

    log = log or user_data_folder() / "vellum.log"

    def hook(kind: type[BaseException], exc: BaseException, tb) -> None:  # noqa: ANN001
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as f:
                f.write("".join(traceback.format_exception(kind, exc, tb)) + "\n")
        except OSError:
            pass
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.warning(QApplication.activeWindow(), "Something went wrong",
                            f"{exc}\n\nYour saved work is safe (every edit is on disk). "
                            f"Details were written to {log}.")

    sys.excepthook = hook
    return log


def run_gui(project: str | None = None, demo: bool = False) -> int:
    """Open the main window (on ``project`` or the demo project) and run until it closes."""
    app = make_app()
    install_error_hook()
    from app.widgets.main_window import MainWindow

    win = MainWindow(None)
    win.show()
    from app.widgets.self_test import warn_unwritable_folders

    warn_unwritable_folders(win)  # a read-only home: say which folder and what moves it
    if demo:
        QTimer.singleShot(0, win.open_demo)
    elif project:
        QTimer.singleShot(0, lambda: win.open_project(Path(project)))
    return app.exec()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    demo = "--demo" in args
    rest = [a for a in args if not a.startswith("--")]
    return run_gui(rest[0] if rest else None, demo)


if __name__ == "__main__":
    sys.exit(main())
