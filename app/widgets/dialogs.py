"""Small dialogs of the main window: project and media file pickers, display adjustment, about.

They only ask; the window acts on the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QFormLayout, QMessageBox, QSlider, QWidget

PROJECT_FILTER = "Vellum project (*.vellum)"
MEDIA_FILTER = ("Images, videos and volumes (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.jp2 "
                "*.mp4 *.mkv *.mov *.avi *.webm *.m4v *.nii *.nii.gz *.dcm);;All files (*)")


def ask_new_project(parent: QWidget) -> str | None:
    """The folder of a new project (as ``vellum new`` makes: a folder holding
    project.vellum); the user names it, a trailing '.vellum' is dropped."""
    path, _ = QFileDialog.getSaveFileName(parent, "New project (a folder of that name holds "
                                          "it)", str(Path.home()), "Project folder (*)")
    if not path:
        return None
    return path[: -len(".vellum")] if path.endswith(".vellum") else path


def ask_open_project(parent: QWidget) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open project", str(Path.home()),
                                          PROJECT_FILTER)
    return path or None


def ask_media_files(parent: QWidget) -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, "Add images or videos", str(Path.home()),
                                            MEDIA_FILTER)
    return list(paths)


def ask_media_folder(parent: QWidget) -> list[str]:
    path = QFileDialog.getExistingDirectory(parent, "Add folder", str(Path.home()))
    return [path] if path else []


class AdjustDialog(QDialog):
    """Display-only brightness and contrast sliders (-1..1), remembered in ``settings``."""

    def __init__(self, settings: QSettings, apply: Callable[[float, float], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Brightness and contrast")
        self.setMinimumWidth(360)
        self._settings, self._apply = settings, apply
        form = QFormLayout(self)
        self.sliders: list[QSlider] = []
        for name in ("Brightness", "Contrast"):
            s = QSlider(Qt.Horizontal)
            s.setRange(-100, 100)
            s.setValue(int(settings.value(f"adjust_{name}", 0)))
            s.setToolTip("Changes the display only, never the image file")
            s.valueChanged.connect(self._changed)
            form.addRow(name, s)
            self.sliders.append(s)

    def _changed(self) -> None:
        b, c = (s.value() for s in self.sliders)
        self._settings.setValue("adjust_Brightness", b)
        self._settings.setValue("adjust_Contrast", c)
        self._apply(b / 100, c / 100)


def about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About Vellum", "<b>Vellum</b><br>Offline annotation of images, "
                      "video and medical volumes.<br>Every edit is saved as you make it.")
