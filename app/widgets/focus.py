"""Where the keyboard goes in the main window: to the canvas, whatever panel was clicked last.

Annotators click a media row, an object, a class, a checkbox, then go on pressing F, Space,
Delete, Escape. So every widget of the window that is not a text field hands the keyboard
straight back to the canvas when it receives it (clicks still work on it as usual), and text
fields (filters, attribute values, sizes) take keys only while being typed in: Tab never
lands in them, and Enter or Escape gives the keyboard back. Dialogs and popups are separate
windows and are left alone.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QLineEdit,
                               QPlainTextEdit, QTextEdit, QWidget)

TEXT_FIELDS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)


def is_text_field(w: QWidget | None) -> bool:
    """A widget keys are typed into (an editable combo box counts)."""
    if w is None:
        return False
    if isinstance(w, QComboBox):
        return w.isEditable()
    return isinstance(w, TEXT_FIELDS) or isinstance(w.parent(), QAbstractSpinBox)


class KeyboardHome(QObject):
    """Keeps ``canvas`` the keyboard's home inside ``window`` (see the module doc)."""

    def __init__(self, window: QWidget, canvas: QWidget) -> None:
        super().__init__(window)
        self.window, self.canvas = window, canvas
        QApplication.instance().focusChanged.connect(self._focus_changed)
        self.adopt(window)

    def home(self) -> None:
        """Give the keyboard back to the canvas (when it is on screen)."""
        if self.canvas.isVisible():
            self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def adopt(self, root: QWidget) -> None:
        """Text fields under ``root`` take the keyboard on a click only (never by Tab) and
        give it back on Enter or Escape. Fields made later are adopted when first focused."""
        for w in [root, *root.findChildren(QWidget)]:
            if is_text_field(w):
                self._adopt(w)

    def _adopt(self, w: QWidget) -> None:
        if w.property("vellum_adopted"):
            return
        w.setProperty("vellum_adopted", True)
        if w.focusPolicy() != Qt.FocusPolicy.NoFocus:
            w.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        w.installEventFilter(self)

    def _mine(self, w: QWidget | None) -> bool:
        try:
            return w is not None and w.window() is self.window
        except RuntimeError:  # a deleted widget
            return False

    def _focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        if now is None or now is self.canvas or not self._mine(now):
            return
        if is_text_field(now):
            self._adopt(now)
        elif self.canvas.isVisible():
            self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:  # noqa: N802
        if e.type() == QEvent.Type.KeyPress and e.key() in (
                Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            obj.event(e)  # the field takes its Enter first (a spin box commits its value)
            self.home()
            return True
        return False
