"""Qt input -> tool input: mouse buttons, modifiers, key names and cursor shapes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

from app.tools.base import Button, KeyEvent, Mod

#: Tool cursor names -> Qt cursor shapes.
CURSORS = {"arrow": Qt.CursorShape.ArrowCursor, "cross": Qt.CursorShape.CrossCursor,
           "pointing": Qt.CursorShape.PointingHandCursor, "move": Qt.CursorShape.SizeAllCursor,
           "size_all": Qt.CursorShape.SizeAllCursor, "rotate": Qt.CursorShape.PointingHandCursor,
           "blank": Qt.CursorShape.BlankCursor, "open_hand": Qt.CursorShape.OpenHandCursor,
           "closed_hand": Qt.CursorShape.ClosedHandCursor}


def modifiers(m: Qt.KeyboardModifier) -> Mod:
    out = Mod.NONE
    if m & Qt.KeyboardModifier.ShiftModifier:
        out |= Mod.SHIFT
    if m & Qt.KeyboardModifier.ControlModifier:
        out |= Mod.CTRL
    if m & Qt.KeyboardModifier.AltModifier:
        out |= Mod.ALT
    if m & Qt.KeyboardModifier.MetaModifier:
        out |= Mod.META
    return out


def button(b: Qt.MouseButton) -> Button:
    return {Qt.MouseButton.LeftButton: Button.LEFT, Qt.MouseButton.RightButton: Button.RIGHT,
            Qt.MouseButton.MiddleButton: Button.MIDDLE}.get(b, Button.NONE)


def buttons(bs: Qt.MouseButton) -> Button:
    out = Button.NONE
    for q, b in ((Qt.MouseButton.LeftButton, Button.LEFT),
                 (Qt.MouseButton.RightButton, Button.RIGHT),
                 (Qt.MouseButton.MiddleButton, Button.MIDDLE)):
        if bs & q:
            out |= b
    return out


def key_event(e: QKeyEvent) -> KeyEvent:
    """Qt key event -> tool KeyEvent (key name without ``Key_``)."""
    try:
        name = Qt.Key(e.key()).name.removeprefix("Key_")
    except ValueError:
        name = e.text().upper() or str(e.key())
    return KeyEvent(name, modifiers(e.modifiers()), e.text())
