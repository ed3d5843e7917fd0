"""Small dialogs of the main window: project and media file pickers, display adjustment,
preferences, about.

They only ask; the window acts on the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QLabel, QMessageBox, QSlider, QSpinBox, QVBoxLayout, QWidget)

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


class PreferencesDialog(QDialog):
    """Edit ▸ Preferences…: the preferences Qt-free code reads too (:mod:`app.io.preferences`),
    saved when OK is pressed: the decoded-frame cache of each video, in MB (MiB), applied to
    the next video opened; ``$VELLUM_FRAME_CACHE_MB`` wins over it when set; and the keys
    that step a volume pane's slices (Vellum's, or 3D Slicer's: Left/Right and B too)."""

    SLICE_KEY_TITLES = {"vellum": "Vellum (Up/Down, F/D)",
                        "slicer": "3D Slicer (Left/Right, Up/Down, B/F)"}

    def __init__(self, parent: QWidget | None = None) -> None:
        import os

        from app.io import preferences
        from app.io.video.reader import CACHE_ENV, DEFAULT_CACHE_BYTES

        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(460)
        self.cache_mb = QSpinBox()
        self.cache_mb.setRange(preferences.MIN_CACHE_MB, preferences.MAX_CACHE_MB)
        self.cache_mb.setSingleStep(256)
        self.cache_mb.setSuffix(" MB")
        self.cache_mb.setValue(preferences.frame_cache_mb() or DEFAULT_CACHE_BYTES >> 20)
        self.cache_mb.setToolTip("Decoded frames each open video keeps in memory, so that "
                                 "stepping back and forth does not decode them again")
        note = ("Applies to the next video opened (the video shown now keeps its cache until "
                "it is opened again).")
        env = os.environ.get(CACHE_ENV, "").strip()
        if env:
            note += (f" ${CACHE_ENV} is set ({env}) and wins over this value while it is "
                     "set.")
        self.slice_keys = QComboBox()
        self.slice_keys.setObjectName("slice_keys")
        for scheme in preferences.SLICE_KEY_SCHEMES:
            self.slice_keys.addItem(self.SLICE_KEY_TITLES[scheme], scheme)
        self.slice_keys.setCurrentIndex(self.slice_keys.findData(preferences.slice_keys()))
        self.slice_keys.setToolTip(
            "Which keys step the slices of the active volume pane. 3D Slicer's add Left/Right "
            "(Shift: 10 slices) and B (back); B then no longer chooses the brush, and an "
            "arrow key still nudges a selected shape")
        self.note = QLabel(note)
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("errorBanner")
        self.error.setWordWrap(True)
        self.error.hide()
        form = QFormLayout()
        form.addRow("Video frame cache", self.cache_mb)
        form.addRow("Slice keys", self.slice_keys)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self._accept)
        box.rejected.connect(self.reject)
        self.buttons = box
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.note)
        lay.addWidget(self.error)
        lay.addWidget(box)

    def _accept(self) -> None:
        from app.core.errors import VellumError
        from app.io import preferences

        try:
            preferences.save(**{preferences.FRAME_CACHE_MB: int(self.cache_mb.value()),
                                preferences.SLICE_KEYS: self.slice_keys.currentData()})
        except VellumError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.accept()


def about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About Vellum", "<b>Vellum</b><br>Offline annotation of images, "
                      "video and medical volumes.<br>Every edit is saved as you make it.")
